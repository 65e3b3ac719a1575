//! The few Linux calls the benchmarks share: the clock, pidfds, waiting on a descriptor, and
//! waiting for processes to sleep.

use std::io;

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds: the clock that the driver and its victims
/// share, read through the vDSO (no system call).
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill in.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `pidfd_open(pid, 0)`.
///
/// # Panics
///
/// If the kernel refuses (no pidfds before Linux 5.3, or no such process).
pub(crate) fn pidfd_open(pid: i32) -> i32 {
    // SAFETY: pidfd_open(pid, 0) takes no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    assert!(fd >= 0, "pidfd_open: {}", io::Error::last_os_error());
    fd
}

/// `pidfd_send_signal(fd, sig, NULL, 0)`.
pub(crate) fn pidfd_send(fd: i32, sig: i32) {
    // SAFETY: a pidfd, a null siginfo, no flags.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// `poll` on one descriptor for readability, up to `timeout_ms` (-1: forever); true if
/// readable (for a pidfd: the process has ended).
pub(crate) fn wait_readable(fd: i32, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return n > 0;
        }
    }
}

/// Closes a descriptor this crate opened.
pub(crate) fn close(fd: i32) {
    // SAFETY: closing a descriptor we own and no longer use.
    unsafe { libc::close(fd) };
}

/// Waits until every thread of each process in `pids` sleeps (`S` in `/proc/PID/task/*/stat`),
/// checking every 20 µs, at most `timeout_ms`; false if that did not happen (or a process is
/// gone). A process that has just written what the driver waits for ("ready", a stamp) is often
/// still runnable, on its way back to its wait, when the driver wakes: a signal sent then
/// measures that remaining way too, by chance, and a wrapper or child preempted by the driver
/// pays it more often than another. Measurements start from asleep processes instead.
pub(crate) fn wait_asleep(pids: &[i32], timeout_ms: i32) -> bool {
    let deadline = now_ns() + timeout_ms.max(0) as u64 * 1_000_000;
    loop {
        let asleep = pids.iter().all(|&pid| {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                return false;
            };
            let mut any = false;
            let all = tasks.flatten().all(|task| {
                any = true;
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                // The state follows the command name, which may hold spaces and parentheses.
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('S'))
            });
            any && all
        });
        if asleep {
            return true;
        }
        if now_ns() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_micros(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_sleeping_process_is_seen_asleep() {
        let mut child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("start sleep");
        let asleep = wait_asleep(&[child.id() as i32], 10_000);
        let _ = child.kill();
        let _ = child.wait();
        assert!(asleep, "`sleep 30` was not seen asleep within 10 s");
    }

    #[test]
    fn a_running_process_is_not_seen_asleep() {
        // This test's own thread is running while it looks; other test threads may be too.
        let started = now_ns();
        assert!(!wait_asleep(&[std::process::id() as i32], 100));
        assert!(
            now_ns() - started >= 100_000_000,
            "gave up before the timeout"
        );
    }

    #[test]
    fn a_process_that_is_gone_is_not_seen_asleep() {
        let mut child = Command::new("true").spawn().expect("start true");
        let pid = child.id() as i32;
        child.wait().expect("reap true");
        // Reaped: its pid names no process (a reuse within the test is out of reach).
        assert!(!wait_asleep(&[pid], 100));
    }
}
