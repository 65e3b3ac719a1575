//! The few Linux calls the benchmarks share: the clock, pidfds, and waiting on a descriptor.

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
