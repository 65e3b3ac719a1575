//! Starting COMMAND: a process group of its own, the foreground of the terminal if the
//! wrapper has it, and the signal state the wrapper was started with.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use super::signals::Inherited;

/// Starts `command` (program and arguments, not empty) as a child in a process group of its
/// own, which gets the terminal's foreground if `foreground`; stdin, stdout, stderr and every
/// other inherited descriptor are passed on as they are. Returns its pid once it has
/// `exec`ed; an error if it could not (`NotFound`: no such program).
pub(super) fn spawn(
    command: &[OsString],
    inherited: Inherited,
    foreground: bool,
) -> io::Result<i32> {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]).process_group(0);
    // SAFETY: between fork and exec the closure only makes async-signal-safe calls
    // (sigfillset, pthread_sigmask, tcsetpgrp, getpid, signal) on values it owns (`inherited`
    // is copied in; the full set is a local); it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            // std has already put the child in its own group (`process_group`) and emptied its
            // signal mask: block everything again, so that taking the terminal from the
            // background does not stop it with SIGTTOU.
            let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigfillset(all.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), std::ptr::null_mut());
            if foreground {
                // A failure (no longer a terminal) only means no foreground: not an error.
                libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid());
            }
            if inherited.chld_ignored {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            }
            // The mask the wrapper was started with. (std has reset SIGPIPE, which Rust
            // ignores, to its default; the other ignored signals were never touched.)
            libc::pthread_sigmask(libc::SIG_SETMASK, &inherited.mask, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // The wrapper reaps it (waitpid(-1)); the `Child` is only dropped, which waits for nothing.
    Ok(child.id() as i32)
}
