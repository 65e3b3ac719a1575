//! Polling, where the OS offers no notification for the exit of a process that is not our
//! child: on unix systems without pidfds or kqueues, on Linux without pidfds (`ENOSYS`, or a
//! seccomp filter), and on macOS/BSD when the kqueue registration is refused. `kill(pid, 0)`
//! (plus, on Linux, `/proc` for zombies and recycled thread ids) checked every 1 ms, backing
//! off to 20 ms. This is the only place where we wait by sleeping.

use std::io;
use std::time::{Duration, Instant};

#[cfg(any(target_os = "linux", target_os = "android"))]
use super::procfs;
use super::{errno, time_left, Target};
use crate::pid::Pid;

/// Without a notification handle: the process has exited if it no longer exists, or (on
/// Linux) if it is a zombie, or if its pid no longer leads a thread group: then the number
/// now names a thread of some process (perhaps ours), so the process that was opened has
/// exited and its pid was recycled. [`Target::send`] checks this right before each `kill`,
/// which would otherwise signal that thread's whole process.
pub(super) fn exited(pid: Pid) -> bool {
    // SAFETY: signal 0 only checks existence; pid is positive.
    if unsafe { libc::kill(pid.as_raw(), 0) } != 0 && errno() == libc::ESRCH {
        return true;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        if procfs::in_thread_group(pid.as_raw(), pid.as_raw()) == Some(false) {
            return true;
        }
        if let Some(stat) = procfs::stat(pid.as_raw()) {
            return matches!(stat.state, 'Z' | 'X');
        }
    }
    false
}

/// [`super::wait_any`] when at least one of `targets` has no notification handle: checks
/// them all every 1 ms, backing off to 20 ms, until one has exited or `deadline` (`None`:
/// no deadline).
pub(super) fn wait(targets: &[&Target], deadline: Option<Instant>) -> io::Result<()> {
    let mut pause = Duration::from_millis(1);
    loop {
        for t in targets {
            if t.has_exited()? {
                return Ok(());
            }
        }
        let left = time_left(deadline);
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
