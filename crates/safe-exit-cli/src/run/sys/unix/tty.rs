//! The controlling terminal, when stdin is it: who has its foreground (`tcgetpgrp`), and
//! handing the foreground over (`tcsetpgrp`), as a shell does for its jobs.
//!
//! stdin, as tini and shells decide: a script's background job has stdin redirected from
//! `/dev/null`, so a wrapper started that way never takes the terminal from the script,
//! though the script's terminal is still its controlling terminal.

/// Whether the wrapper has no controlling terminal: opening `/dev/tty` fails with `ENXIO`.
/// (Any other failure, such as no `/dev/tty` at all, cannot tell: then `false`.)
pub(super) fn none_controlling() -> bool {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;
    // SAFETY: open with a NUL-terminated path; the descriptor, if any, is closed at once.
    unsafe {
        let fd = libc::open(c"/dev/tty".as_ptr(), flags);
        if fd >= 0 {
            libc::close(fd);
            return false;
        }
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO)
}

/// stdin, which is the wrapper's controlling terminal.
pub(super) struct Terminal(());

impl Terminal {
    /// `Some` when stdin is the wrapper's controlling terminal.
    pub(super) fn of_stdin() -> Option<Terminal> {
        // SAFETY: tcgetpgrp only reads; ENOTTY when stdin is not our controlling terminal.
        let fg = unsafe { libc::tcgetpgrp(libc::STDIN_FILENO) };
        (fg > 0).then_some(Terminal(()))
    }

    /// `tcgetpgrp`: the process group in the foreground.
    pub(super) fn foreground(&self) -> Option<i32> {
        // SAFETY: as in `of_stdin`.
        let fg = unsafe { libc::tcgetpgrp(libc::STDIN_FILENO) };
        (fg > 0).then_some(fg)
    }

    /// `tcsetpgrp`: puts the process group `pgid` in the foreground. The wrapper blocks
    /// SIGTTOU, so this works from the background too, as it does for a shell. A failure (the
    /// terminal was hung up) leaves things as they are: nothing better can be done.
    pub(super) fn give(&self, pgid: i32) {
        // SAFETY: tcsetpgrp on stdin with a positive group id; nothing is written to memory.
        unsafe { libc::tcsetpgrp(libc::STDIN_FILENO, pgid) };
    }
}
