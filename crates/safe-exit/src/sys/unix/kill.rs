//! safe_kill on unix: the handle on one process ([`Target`]), waiting for many at once
//! ([`wait_any`]), and process groups.
//!
//! How a process is tracked, best first:
//!
//! - **pidfd** (Linux 5.3+, Android): `pidfd_open` pins the process; `pidfd_send_signal`
//!   signals exactly that process even if its pid is recycled; the pidfd polls readable once
//!   the process has exited, zombie or reaped. Waiting is one `ppoll` over all the pidfds.
//! - **kqueue** (macOS, iOS, the BSDs): an `EVFILT_PROC`/`NOTE_EXIT` registration, made when
//!   the process is opened, in a kqueue of its own per target. Waiting is one `kevent` on a
//!   kqueue that watches those kqueues. Signals go through `kill`.
//! - **polling** (other unix systems, and Linux without pidfds, `ENOSYS`): `kill(pid, 0)`
//!   (plus the `Z` state in `/proc/PID/stat` on Linux, for zombies) checked every 1 ms,
//!   backing off to 20 ms. This is the only place where we wait by sleeping, because there
//!   the OS offers no notification for a process that is not our child.
//!
//! Nothing here reaps: no `wait`/`waitpid`/`waitid` is ever called, so a caller's own child
//! keeps its exit status for the caller.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::kill::{Pid, ThreadOwner};

pub(crate) const SIGTERM: i32 = libc::SIGTERM;
pub(crate) const SIGKILL: i32 = libc::SIGKILL;
pub(crate) const SIGCONT: i32 = libc::SIGCONT;
pub(crate) const SIGSTOP: i32 = libc::SIGSTOP;

/// Names of the calls, for error messages.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const OPEN_CALL: &str = "pidfd_open";
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const OPEN_CALL: &str = "kill(pid, 0)";
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const SEND_CALL: &str = "pidfd_send_signal";
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const SEND_CALL: &str = "kill";
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const WAIT_CALL: &str = "poll on a pidfd";
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const WAIT_CALL: &str = "kevent";

/// The highest signal number: `SIGRTMAX` on Linux; elsewhere 31, the last classic signal
/// (real-time signals are not offered there).
pub(crate) fn max_signal() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        libc::SIGRTMAX()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        31
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A handle on one process, opened by [`Target::open`].
pub(crate) struct Target {
    pid: Pid,
    track: Track,
    /// Set once the process is known to have exited (a kqueue reports the exit only once).
    exited: Cell<bool>,
}

enum Track {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Pidfd(OwnedFd),
    #[cfg(kqueue)]
    Kqueue(OwnedFd),
    Poll,
}

impl Target {
    /// Opens `pid`: `Ok(None)` if no such process exists. A zombie opens fine (and
    /// [`Target::has_exited`] is then true).
    pub(crate) fn open(pid: Pid) -> io::Result<Option<Target>> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(opened) = linux::open(pid)? {
            return Ok(opened.map(|fd| Target {
                pid,
                track: Track::Pidfd(fd),
                exited: false.into(),
            }));
        }
        // No pidfds: check that the process exists. EPERM means it exists but belongs to
        // someone else; that shows when it is signalled.
        // SAFETY: signal 0 only checks existence and permission; pid is positive.
        if unsafe { libc::kill(pid.get(), 0) } != 0 && errno() == libc::ESRCH {
            return Ok(None);
        }
        #[cfg(kqueue)]
        if let Some((kq, exited)) = kqueue::open(pid)? {
            return Ok(Some(Target {
                pid,
                track: Track::Kqueue(kq),
                exited: exited.into(),
            }));
        }
        Ok(Some(Target {
            pid,
            track: Track::Poll,
            exited: false.into(),
        }))
    }

    /// Whether the process has exited (it may still be a zombie), without blocking.
    pub(crate) fn has_exited(&self) -> io::Result<bool> {
        if self.exited.get() {
            return Ok(true);
        }
        let exited = match &self.track {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Track::Pidfd(fd) => linux::readable(fd)?,
            #[cfg(kqueue)]
            Track::Kqueue(kq) => kqueue::fired(kq)?,
            Track::Poll => poll_exited(self.pid),
        };
        self.exited.set(exited);
        Ok(exited)
    }

    /// Sends `sig` to the process, or with `group` to the process group it leads.
    ///
    /// `Ok` also when there is nothing left to signal (`ESRCH`: it has exited). `EPERM`
    /// comes back as [`io::ErrorKind::PermissionDenied`].
    pub(crate) fn send(&self, sig: i32, group: bool) -> io::Result<()> {
        let rc = match &self.track {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Track::Pidfd(fd) => linux::send(fd, self.pid, sig, group),
            #[allow(unreachable_patterns)] // only Pidfd on Linux without the fallback
            _ => {
                // Never `kill` a pid whose process we know has exited: once it is reaped,
                // the number may be recycled.
                if self.has_exited()? && !group {
                    return Ok(());
                }
                let target = if group {
                    -self.pid.get()
                } else {
                    self.pid.get()
                };
                // SAFETY: plain kill(2). `target` is never 0 or -1: pid is positive, and
                // group mode refuses pid 1 before getting here.
                if unsafe { libc::kill(target, sig) } == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            }
        };
        match rc {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }
}

/// Waits until at least one of `targets` has exited, or `deadline` (`None`: no deadline).
/// Returns early on nothing else, except a signal handler interrupting the wait (the caller
/// loops anyway).
pub(crate) fn wait_any(targets: &[&Target], deadline: Option<Instant>) -> io::Result<()> {
    for t in targets {
        if t.exited.get() {
            return Ok(());
        }
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let fds: Option<Vec<&OwnedFd>> = targets
            .iter()
            .map(|t| match &t.track {
                Track::Pidfd(fd) => Some(fd),
                Track::Poll => None,
            })
            .collect();
        if let Some(fds) = fds {
            return linux::wait(&fds, deadline);
        }
    }
    #[cfg(kqueue)]
    {
        let kqs: Option<Vec<&OwnedFd>> = targets
            .iter()
            .map(|t| match &t.track {
                Track::Kqueue(kq) => Some(kq),
                Track::Poll => None,
            })
            .collect();
        if let Some(kqs) = kqs {
            return kqueue::wait(&kqs, deadline);
        }
    }
    // Polling: no notification is available for at least one target.
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

/// Without a notification handle: the process has exited if it no longer exists, or (on
/// Linux) if it is a zombie, or if its pid no longer leads a thread group: then the number
/// now names a thread of some process (perhaps ours), so the process that was opened has
/// exited and its pid was recycled. [`Target::send`] checks this right before each `kill`,
/// which would otherwise signal that thread's whole process.
fn poll_exited(pid: Pid) -> bool {
    // SAFETY: signal 0 only checks existence; pid is positive.
    if unsafe { libc::kill(pid.get(), 0) } != 0 && errno() == libc::ESRCH {
        return true;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        if linux::in_thread_group(pid.get(), pid.get()) == Some(false) {
            return true;
        }
        if let Some(stat) = linux::stat(pid.get()) {
            return matches!(stat.state, 'Z' | 'X');
        }
    }
    false
}

/// Whether `pid` is the id of a thread that does not lead its thread group, rather than the
/// pid of a process, and whose process it is. `None` for a process (or no such pid).
///
/// Only Linux has such ids: thread ids come from the pid number space, and `kill` given one
/// signals the thread's whole process. Elsewhere thread ids are not pids (the BSDs number
/// threads apart, macOS has no kernel-visible thread ids in that space) and `kill` refuses
/// them: `None`.
pub(crate) fn thread_owner(pid: Pid) -> Option<ThreadOwner> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        linux::thread_owner(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        None
    }
}

/// `getpgid`: the process group of `pid`, `None` if there is no such process.
pub(crate) fn process_group(pid: Pid) -> io::Result<Option<i32>> {
    // SAFETY: getpgid takes any pid and returns -1 with errno on failure.
    let pgid = unsafe { libc::getpgid(pid.get()) };
    if pgid >= 0 {
        Ok(Some(pgid))
    } else if errno() == libc::ESRCH {
        Ok(None)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether the process group `pgid` exists (has a member, perhaps a zombie): `kill(-pgid, 0)`,
/// which signals nothing. A group whose members all belong to others (`EPERM`) exists too.
pub(crate) fn group_exists(pgid: Pid) -> io::Result<bool> {
    if pgid.get() == 1 {
        return Err(no_group_one());
    }
    // SAFETY: signal 0 only checks existence and permission. -pgid is a process group: pgid
    // is positive and not 1, so this is never kill(0) or kill(-1).
    if unsafe { libc::kill(-pgid.get(), 0) } == 0 {
        return Ok(true);
    }
    match errno() {
        libc::EPERM => Ok(true),
        libc::ESRCH => Ok(false),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Sends `sig` to the process group `pgid` when there is no handle on its leader (it has
/// exited and been reaped), so nothing pins the group's id: on Linux with pidfds, to each
/// live member through its own pidfd, so that a group id recycled meanwhile is never
/// signalled (a member that joins after the listing is found by the next look at the group,
/// and gets SIGKILL at the deadline); elsewhere `kill(-pgid)`. `Ok` when no member is left.
pub(crate) fn send_group(pgid: Pid, sig: i32) -> io::Result<()> {
    if pgid.get() == 1 {
        return Err(no_group_one());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(sent) = linux::send_members(pgid, sig) {
        return sent;
    }
    // SAFETY: plain kill(2) to a process group: pgid is positive and not 1, so this is never
    // kill(0) or kill(-1).
    if unsafe { libc::kill(-pgid.get(), sig) } == 0 || errno() == libc::ESRCH {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Group 1 is never addressed: `kill(-1)` means every process (validation refuses it first).
fn no_group_one() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the process group of pid 1 cannot be addressed",
    )
}

/// `getpgrp`: the caller's own process group.
pub(crate) fn own_process_group() -> i32 {
    // SAFETY: getpgrp has no preconditions and cannot fail.
    unsafe { libc::getpgrp() }
}

/// The processes in the process group `pgid` (on Linux from `/proc`, on macOS from
/// `proc_listpids`); zombies included. [`io::ErrorKind::Unsupported`] elsewhere.
pub(crate) fn group_members(pgid: Pid) -> io::Result<Vec<Pid>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        linux::group_members(pgid.get())
    }
    #[cfg(apple)]
    {
        kqueue::group_members(pgid.get())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", apple)))]
    {
        let _ = pgid;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "listing a process group",
        ))
    }
}

/// The time left until `deadline`, zero once it has passed; [`Duration::MAX`] without a
/// deadline.
fn time_left(deadline: Option<Instant>) -> Duration {
    match deadline {
        Some(d) => d.saturating_duration_since(Instant::now()),
        None => Duration::MAX,
    }
}

/// Whether `deadline` has passed (never, without one).
#[cfg(any(target_os = "linux", target_os = "android", kqueue))]
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// The time left until `deadline` as a `timespec` for `ppoll`/`kevent`, zero once it has
/// passed; `None` (wait without a timeout) when there is no deadline. Saturates, never
/// wraps: a time left too long for every `time_t` becomes `i32::MAX` seconds (68 years,
/// after which the caller simply waits again), never a negative timeout, nor a zero one
/// that would spin.
#[cfg(any(target_os = "linux", target_os = "android", kqueue))]
fn timespec_until(deadline: Option<Instant>) -> Option<libc::timespec> {
    let left = deadline?.saturating_duration_since(Instant::now());
    Some(libc::timespec {
        tv_sec: left.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: left.subsec_nanos() as _,
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

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
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.get(), 0) };
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
        if unsafe { libc::kill(-pid.get(), sig) } == 0 {
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
        for member in group_members(pgid.get())? {
            let Some(Some(fd)) = open(member)? else {
                continue;
            };
            if readable(&fd)? || stat(member.get()).map(|s| s.pgrp) != Some(pgid.get()) {
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

    /// `tgkill(tgid, tid, 0)`, which signals nothing: `Some(true)` if `tid` is a thread of
    /// the thread group `tgid` (for `tgid == tid`: `tid` is a process), `Some(false)` if not
    /// (or if there is no such thread), `None` if the call is not available (a seccomp
    /// filter). The kernel checks the thread's actual group, so the answer for a live thread
    /// cannot be stale while that thread lives.
    pub(super) fn in_thread_group(tgid: i32, tid: i32) -> Option<bool> {
        // SAFETY: tgkill with signal 0 only checks that the thread exists in that thread
        // group (and the permission to signal it); both ids are positive.
        let rc = unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, 0) };
        if rc == 0 {
            return Some(true);
        }
        match errno() {
            // It exists, in that group, but belongs to someone else.
            libc::EPERM => Some(true),
            libc::ESRCH => Some(false),
            _ => None,
        }
    }

    /// The `Tgid:` line of `/proc/PID/status` (also readable for a thread id, though thread
    /// ids are not listed in `/proc`): the pid of the process the thread belongs to.
    fn status_tgid(pid: i32) -> Option<i32> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("Tgid:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// See [`super::thread_owner`].
    ///
    /// Our own threads: `tgkill(getpid(), pid, 0)`. Race-free for as long as the thread
    /// lives: the kernel answers from the thread's actual thread group. (Once it has ended
    /// its id may go to another process, which is then no longer ours; the fallback path
    /// checks again right before each `kill`, see [`super::poll_exited`].)
    ///
    /// Another process's thread: `tgkill(pid, pid, 0)` fails (`ESRCH`) for a thread that
    /// does not lead its thread group, while `kill(pid, 0)` accepts any thread id; its
    /// process is then the `Tgid` of `/proc/PID/status`. Without `tgkill` (a seccomp filter),
    /// `/proc` alone decides.
    pub(super) fn thread_owner(pid: Pid) -> Option<ThreadOwner> {
        // SAFETY: getpid has no preconditions and cannot fail.
        let me = unsafe { libc::getpid() };
        let pid = pid.get();
        if pid == me {
            return None; // the process itself, not one of its threads
        }
        let ours = match in_thread_group(me, pid) {
            Some(ours) => ours,
            None => status_tgid(pid) == Some(me),
        };
        if ours {
            return Some(ThreadOwner::Caller);
        }
        let leads = match in_thread_group(pid, pid) {
            Some(leads) => leads,
            // Unknown without tgkill: /proc decides, and a pid it does not show is not a
            // thread we know of.
            None => status_tgid(pid).map_or(true, |tgid| tgid == pid),
        };
        if leads {
            return None;
        }
        // Not a process: a thread of another process, or nothing at all.
        // SAFETY: signal 0 only checks existence (for any thread id); pid is positive.
        if unsafe { libc::kill(pid, 0) } != 0 && errno() == libc::ESRCH {
            return None;
        }
        match status_tgid(pid) {
            // Recycled meanwhile as a process of its own.
            Some(tgid) if tgid == pid => None,
            Some(tgid) if tgid == me => Some(ThreadOwner::Caller),
            tgid => Some(ThreadOwner::Other(tgid.map(|t| t as u32))),
        }
    }

    /// The fields of `/proc/PID/stat` that we need.
    pub(super) struct Stat {
        pub(super) state: char,
        pub(super) pgrp: i32,
    }

    /// Reads `/proc/PID/stat`; `None` if the process is gone (or `/proc` is missing).
    pub(super) fn stat(pid: i32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so
        // start after the last ')'.
        let rest = &text[text.rfind(')')? + 1..];
        let mut fields = rest.split_ascii_whitespace();
        let state = fields.next()?.chars().next()?;
        let _ppid = fields.next()?;
        let pgrp = fields.next()?.parse().ok()?;
        Some(Stat { state, pgrp })
    }

    /// Every process in `/proc` whose process group is `pgid`.
    pub(super) fn group_members(pgid: i32) -> io::Result<Vec<Pid>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc")? {
            let Ok(entry) = entry else { continue };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if let (Some(stat), Some(pid)) = (stat(pid), Pid::new(pid)) {
                if stat.pgrp == pgid {
                    found.push(pid);
                }
            }
        }
        Ok(found)
    }
}

#[cfg(kqueue)]
// The kevent field types differ between the BSDs, hence casts that are no-ops on some.
#[allow(clippy::unnecessary_cast)]
mod kqueue {
    use super::*;

    fn new_kqueue() -> io::Result<OwnedFd> {
        // SAFETY: kqueue() returns a new descriptor or -1.
        let kq = unsafe { libc::kqueue() };
        if kq < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor; nothing else owns it.
        let kq = unsafe { OwnedFd::from_raw_fd(kq) };
        // SAFETY: fcntl on a descriptor we own. (kqueues are not inherited by fork, but an
        // exec without fork would keep it.)
        unsafe { libc::fcntl(kq.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        Ok(kq)
    }

    fn event(ident: usize, filter: i32, flags: u32, fflags: u32) -> libc::kevent {
        // SAFETY: kevent is a plain C struct; all zeroes is a valid value.
        let mut ev: libc::kevent = unsafe { std::mem::zeroed() };
        ev.ident = ident as _;
        ev.filter = filter as _;
        ev.flags = flags as _;
        ev.fflags = fflags as _;
        ev
    }

    /// A kqueue with `EVFILT_PROC`/`NOTE_EXIT` registered for `pid`, and whether the process
    /// had already exited (`ESRCH` for a process that `kill(pid, 0)` just found: a zombie).
    /// `None` if the registration is refused (then the caller polls).
    pub(super) fn open(pid: Pid) -> io::Result<Option<(OwnedFd, bool)>> {
        let kq = new_kqueue()?;
        let ev = event(
            pid.get() as usize,
            libc::EVFILT_PROC as i32,
            (libc::EV_ADD | libc::EV_ONESHOT) as u32,
            libc::NOTE_EXIT as u32,
        );
        // SAFETY: one valid change, no event list, no timeout.
        let rc = unsafe {
            libc::kevent(
                kq.as_raw_fd(),
                &ev,
                1,
                std::ptr::null_mut(),
                0,
                std::ptr::null(),
            )
        };
        if rc >= 0 {
            return Ok(Some((kq, false)));
        }
        match errno() {
            libc::ESRCH => Ok(Some((kq, true))),
            libc::EPERM | libc::EACCES => Ok(None),
            e => Err(io::Error::from_raw_os_error(e)),
        }
    }

    /// Whether the exit was reported on this target's kqueue (without blocking).
    pub(super) fn fired(kq: &OwnedFd) -> io::Result<bool> {
        let mut out = event(0, 0, 0, 0);
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: no changes, room for one event, a zero timeout.
        let rc = unsafe { libc::kevent(kq.as_raw_fd(), std::ptr::null(), 0, &mut out, 1, &zero) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(rc > 0)
    }

    /// Waits until one of the targets' kqueues has an event, or `deadline` (`None`: no
    /// timeout): a kqueue that watches the others for readability.
    pub(super) fn wait(kqs: &[&OwnedFd], deadline: Option<Instant>) -> io::Result<()> {
        let outer = new_kqueue()?;
        let changes: Vec<libc::kevent> = kqs
            .iter()
            .map(|kq| {
                event(
                    kq.as_raw_fd() as usize,
                    libc::EVFILT_READ as i32,
                    libc::EV_ADD as u32,
                    0,
                )
            })
            .collect();
        // SAFETY: a valid array of `changes.len()` changes, no event list, no timeout.
        let rc = unsafe {
            libc::kevent(
                outer.as_raw_fd(),
                changes.as_ptr(),
                changes.len() as _,
                std::ptr::null_mut(),
                0,
                std::ptr::null(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let ts = timespec_until(deadline);
            let timeout = ts.as_ref().map_or(std::ptr::null(), |ts| ts as *const _);
            let mut out = event(0, 0, 0, 0);
            // SAFETY: no changes, room for one event, a timeout that lives across the call
            // (or null: none).
            let rc = unsafe {
                libc::kevent(outer.as_raw_fd(), std::ptr::null(), 0, &mut out, 1, timeout)
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

    /// `proc_listpids(PROC_PGRP_ONLY, pgid)`: the processes in the group.
    #[cfg(apple)]
    pub(super) fn group_members(pgid: i32) -> io::Result<Vec<Pid>> {
        /// From `<sys/proc_info.h>`; not in `libc`.
        const PROC_PGRP_ONLY: u32 = 2;
        // Room for the group and some that join meanwhile.
        let mut pids = vec![0 as libc::pid_t; 256];
        loop {
            let bytes = (pids.len() * std::mem::size_of::<libc::pid_t>()) as libc::c_int;
            // SAFETY: the buffer holds `bytes` bytes of pid_t.
            let n = unsafe {
                libc::proc_listpids(PROC_PGRP_ONLY, pgid as u32, pids.as_mut_ptr().cast(), bytes)
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let count = n as usize / std::mem::size_of::<libc::pid_t>();
            if count < pids.len() {
                pids.truncate(count);
                return Ok(pids.into_iter().filter_map(Pid::new).collect());
            }
            let more = pids.len() * 4;
            pids.resize(more, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_range() {
        assert!(max_signal() >= 31);
    }

    /// Timeouts handed to `ppoll`/`kevent` saturate instead of wrapping; no deadline is no
    /// timeout at all (a null pointer), never zero.
    #[cfg(any(target_os = "linux", target_os = "android", kqueue))]
    #[test]
    fn timeouts_saturate() {
        assert!(timespec_until(None).is_none());
        let now = Instant::now();
        let past = timespec_until(Some(now)).unwrap();
        assert_eq!((past.tv_sec, past.tv_nsec), (0, 0));
        let far = now.checked_add(Duration::from_secs(1 << 40)).unwrap();
        let far = timespec_until(Some(far)).unwrap();
        assert_eq!(far.tv_sec, i32::MAX as libc::time_t);
        assert!(far.tv_nsec >= 0 && far.tv_nsec < 1_000_000_000);
        let soon = timespec_until(Some(now + Duration::from_millis(1500))).unwrap();
        assert!(soon.tv_sec == 1 || soon.tv_sec == 0, "{}", soon.tv_sec);
    }

    /// Our own pid is a process; one of our threads is ours; a thread id that does not exist
    /// is nothing.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn thread_ids_are_told_apart_from_processes() {
        let me = Pid::new(std::process::id() as i32).unwrap();
        assert!(thread_owner(me).is_none());
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = stopped.recv();
        });
        let tid = Pid::new(rx.recv().unwrap()).unwrap();
        assert!(matches!(thread_owner(tid), Some(ThreadOwner::Caller)));
        // The fallback's liveness check: a thread id is not a live process.
        assert!(poll_exited(tid));
        assert!(!poll_exited(me));
        drop(stop);
        thread.join().unwrap();
    }

    #[test]
    fn own_process_is_running_and_in_its_group() {
        let me = Pid::new(std::process::id() as i32).unwrap();
        let t = Target::open(me).unwrap().expect("we exist");
        assert!(!t.has_exited().unwrap());
        let pgid = process_group(me).unwrap().unwrap();
        assert_eq!(pgid, own_process_group());
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert!(group_members(Pid::new(pgid).unwrap())
            .unwrap()
            .contains(&me));
    }
    /// The pidfd pins the target: once it has exited and its pid is given to a new process,
    /// signalling through the old handle reaches nothing. Runs itself again as PID 1 of a new
    /// PID namespace, where `ns_last_pid` can hand the same pid to the next process.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_recycled_pid_is_never_signalled() {
        use std::os::unix::process::CommandExt;
        use std::process::Command;

        const INNER: &str = "SAFE_EXIT_PID_REUSE_INNER";
        const NAME: &str = "sys::unix::kill::tests::a_recycled_pid_is_never_signalled";
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
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid.get() - 1).to_string()).unwrap();
        let mut second = spawn_blocked();
        assert_eq!(second.id() as i32, pid.get(), "the pid was not recycled");

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
