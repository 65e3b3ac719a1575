//! pidfds (Linux 5.3+, Android): `pidfd_open` pins the process; `pidfd_send_signal` signals
//! exactly that process even if its pid is recycled; the pidfd polls readable once the
//! process has exited, zombie or reaped. Waiting is one `ppoll` over all the pidfds.
//!
//! Where the kernel has no pidfds (`ENOSYS`, before 5.3) or a seccomp filter refuses them,
//! the first `pidfd_open` says so and this process polls from then on (`poll.rs`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::procfs::{group_members, stat};
use super::{errno, passed, timespec_until};
use crate::pid::Pid;

/// `PIDFD_SIGNAL_PROCESS_GROUP` (Linux 6.9): signal the process group that the pidfd's
/// process leads. Not in `libc` yet.
const PIDFD_SIGNAL_PROCESS_GROUP: libc::c_uint = 1 << 2;

/// Set once `pidfd_open` reported `ENOSYS` (or was refused by a seccomp filter): from
/// then on, this process tracks targets by polling.
static NO_PIDFD: AtomicBool = AtomicBool::new(false);
/// Set once the kernel refused `PIDFD_SIGNAL_PROCESS_GROUP` (before 6.9).
static NO_GROUP_FLAG: AtomicBool = AtomicBool::new(false);

/// `pidfd_open`: `Some(Some(fd))`, `Some(None)` when there is no such process, `None`
/// when pidfds are not available here.
pub(super) fn open(pid: Pid) -> io::Result<Option<Option<OwnedFd>>> {
    if NO_PIDFD.load(Ordering::Relaxed) {
        return Ok(None);
    }
    // SAFETY: pidfd_open(pid, flags) returns a new file descriptor or -1 with errno; pid
    // is positive and flags 0.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd >= 0 {
        // SAFETY: the kernel just returned this descriptor; nothing else owns it. It is
        // created close-on-exec.
        return Ok(Some(Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })));
    }
    match errno() {
        libc::ESRCH => Ok(Some(None)),
        // The pid is a thread that does not lead its thread group (EINVAL; ENOENT on
        // recent kernels): pidfd_open opens only processes. Thread ids are refused before
        // this (`validate`), so the process checked there has exited meanwhile and its
        // pid now names a thread: there is no such process any more.
        libc::EINVAL | libc::ENOENT => Ok(Some(None)),
        // ENOSYS: kernel before 5.3. EPERM: a seccomp filter that does not know the
        // call (pidfd_open itself never fails with EPERM).
        libc::ENOSYS | libc::EPERM => {
            NO_PIDFD.store(true, Ordering::Relaxed);
            Ok(None)
        }
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// `pidfd_send_signal`, to the process or (`group`) to the process group it leads.
pub(super) fn send(fd: &OwnedFd, pid: Pid, sig: i32, group: bool) -> io::Result<()> {
    if group && NO_GROUP_FLAG.load(Ordering::Relaxed) {
        return kill_group(fd, pid, sig);
    }
    let flags = if group { PIDFD_SIGNAL_PROCESS_GROUP } else { 0 };
    // SAFETY: pidfd_send_signal with a valid pidfd, a null siginfo (the kernel fills in
    // what kill() would) and known flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            flags,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if group && e.raw_os_error() == Some(libc::EINVAL) {
        NO_GROUP_FLAG.store(true, Ordering::Relaxed);
        return kill_group(fd, pid, sig);
    }
    Err(e)
}

/// Whether the process group that the pidfd's process led (by identity, not by number: also
/// after the leader was reaped and its number handed out again) still has a member: signal 0
/// with `PIDFD_SIGNAL_PROCESS_GROUP`. `None` where the kernel cannot tell (before 6.9).
pub(super) fn group_alive(fd: &OwnedFd) -> Option<bool> {
    if NO_GROUP_FLAG.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: pidfd_send_signal with a valid pidfd, signal 0 (no signal, only the checks), a
    // null siginfo and a known flag.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            PIDFD_SIGNAL_PROCESS_GROUP,
        )
    };
    if rc == 0 {
        return Some(true);
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => Some(false),
        // A member we may not signal: the group lives.
        Some(libc::EPERM) => Some(true),
        _ => None,
    }
}

/// Before Linux 6.9: `kill(-pgid)`, if the leader has not exited. While the leader is
/// running or a zombie, its pid (and so its group id) cannot be recycled.
fn kill_group(fd: &OwnedFd, pid: Pid, sig: i32) -> io::Result<()> {
    if readable(fd)? {
        // The leader has exited and may be reaped any moment, after which its number
        // (the group id) is no longer pinned: signal the members one by one through
        // pidfds instead.
        return signal_members(pid, sig);
    }
    // SAFETY: plain kill(2) to a negative pid: a process group. pid is positive and
    // never 1 in group mode, so this is never kill(0) or kill(-1).
    if unsafe { libc::kill(-pid.as_raw(), sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// [`super::send_group`] through pidfds: `None` when pidfds are not available here.
pub(super) fn send_members(pgid: Pid, sig: i32) -> Option<io::Result<()>> {
    if NO_PIDFD.load(Ordering::Relaxed) {
        return None;
    }
    Some(signal_members(pgid, sig))
}

/// Sends `sig` to each live member of the group `pgid` through its own pidfd, checked
/// after the open (which pins the process) to be still running and still in the group.
/// As `kill(-pgid)`: `Ok` if any member got it or none is left; otherwise the error
/// (`EPERM`: they all belong to others). A member that exits meanwhile is skipped.
fn signal_members(pgid: Pid, sig: i32) -> io::Result<()> {
    let mut sent = false;
    let mut failed = None;
    for member in group_members(pgid.as_raw())? {
        let Some(Some(fd)) = open(member)? else {
            continue;
        };
        if readable(&fd)? || stat(member.as_raw()).map(|s| s.pgrp) != Some(pgid.as_raw()) {
            continue;
        }
        match send(&fd, member, sig, false) {
            Ok(()) => sent = true,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        Some(e) if !sent => Err(e),
        _ => Ok(()),
    }
}

/// Whether a pidfd polls readable now: its process has exited.
pub(super) fn readable(fd: &OwnedFd) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(rc > 0 && pfd.revents & (libc::POLLIN | libc::POLLHUP) != 0)
}

/// `ppoll` on all the pidfds until one is readable or `deadline` (`None`: no timeout).
pub(super) fn wait(fds: &[&OwnedFd], deadline: Option<Instant>) -> io::Result<()> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let ts = timespec_until(deadline);
        let timeout = ts.as_ref().map_or(std::ptr::null(), |ts| ts as *const _);
        // SAFETY: `pfds` is a valid array of `pfds.len()` pollfds; `ts` (which `timeout`
        // points to, or null: no timeout) lives across the call; a null sigmask keeps the
        // caller's.
        let rc = unsafe {
            libc::ppoll(
                pfds.as_mut_ptr(),
                pfds.len() as libc::nfds_t,
                timeout,
                std::ptr::null(),
            )
        };
        if rc >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        if passed(deadline) {
            return Ok(());
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::super::Target;
    use crate::pid::Pid;

    /// The pidfd pins the target: once it has exited and its pid is given to a new process,
    /// signalling through the old handle reaches nothing. Runs itself again as PID 1 of a new
    /// PID namespace, where `ns_last_pid` can hand the same pid to the next process.
    #[test]
    fn a_recycled_pid_is_never_signalled() {
        use std::os::unix::process::CommandExt;
        use std::process::Command;

        const INNER: &str = "SAFE_EXIT_PID_REUSE_INNER";
        const NAME: &str = "sys::unix::kill::pidfd::tests::a_recycled_pid_is_never_signalled";
        if std::env::var_os(INNER).is_none() {
            let probe = Command::new("unshare")
                .args(["--pid", "--fork", "--mount-proc", "true"])
                .output();
            match probe {
                Ok(out) if out.status.success() => {}
                other if std::env::var_os("CI").is_some() => {
                    panic!("cannot create a PID namespace: {other:?}")
                }
                other => {
                    eprintln!("skipped: cannot create a PID namespace here ({other:?})");
                    return;
                }
            }
            let exe = std::env::current_exe().unwrap();
            let out = Command::new("unshare")
                .args(["--pid", "--fork", "--mount-proc"])
                .arg(exe)
                .args(["--exact", NAME, "--nocapture", "--test-threads", "1"])
                .env(INNER, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{text}\n{err}");
            assert!(text.contains("pid reuse checked"), "{text}\n{err}");
            return;
        }

        // PID 1 of a fresh namespace: pids here are small and predictable.
        let spawn_blocked = || {
            let mut cmd = Command::new("sleep");
            cmd.arg("1000");
            // SAFETY: sigfillset and sigprocmask are async-signal-safe. A blocked SIGTERM
            // stays pending, where /proc shows it.
            unsafe {
                cmd.pre_exec(|| {
                    let mut all: libc::sigset_t = std::mem::zeroed();
                    libc::sigfillset(&mut all);
                    libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
                    Ok(())
                });
            }
            cmd.spawn().unwrap()
        };
        let mut first = spawn_blocked();
        let pid = Pid::new(first.id() as i32).unwrap();
        let target = Target::open(pid).unwrap().expect("just started");
        first.kill().unwrap();
        first.wait().unwrap(); // reaped: the pid is free
        std::fs::write(
            "/proc/sys/kernel/ns_last_pid",
            (pid.as_raw() - 1).to_string(),
        )
        .unwrap();
        let mut second = spawn_blocked();
        assert_eq!(second.id() as i32, pid.as_raw(), "the pid was not recycled");

        assert!(target.has_exited().unwrap());
        target.send(libc::SIGTERM, false).unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        for mask in ["SigPnd:", "ShdPnd:"] {
            let line = status.lines().find(|l| l.starts_with(mask)).unwrap();
            assert!(
                line.ends_with("0000000000000000"),
                "the new process got a signal: {line}"
            );
        }
        second.kill().unwrap();
        second.wait().unwrap();
        println!("pid reuse checked");
    }
}
