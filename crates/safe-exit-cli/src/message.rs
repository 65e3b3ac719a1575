//! Messages on stderr that can neither panic nor hang the command: `eprintln!` panics when
//! stderr is a closed pipe (Rust ignores SIGPIPE, so the write fails with EPIPE), and a full
//! pipe that nobody reads would block `safe-exit run` for good while what it must reap and stop
//! waits. A message is dropped instead: when stderr cannot take it within a moment, or the
//! write fails.

use std::io::Write;

/// How long a message may wait for stderr to take it.
#[cfg(unix)]
const PATIENCE_MS: i32 = 100;

/// Writes `line` and a newline to stderr, if it can be done now; never panics.
pub(crate) fn say(line: &str) {
    if !stderr_takes_it() {
        return;
    }
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Whether stderr can take a short message within [`PATIENCE_MS`] (`poll` for `POLLOUT`; a
/// pipe has room for a page then). O_NONBLOCK is not an option: the descriptor is shared with
/// the command that was started.
#[cfg(unix)]
fn stderr_takes_it() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDERR_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd, a local.
    let n = unsafe { libc::poll(&mut fd, 1, PATIENCE_MS) };
    n == 1 && fd.revents & libc::POLLOUT != 0
}

/// Elsewhere the write is only kept from panicking.
#[cfg(not(unix))]
fn stderr_takes_it() -> bool {
    true
}
