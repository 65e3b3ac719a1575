//! safe_kill on unix: the handle on one process ([`Target`]), waiting for many at once
//! ([`wait_any`]), and process groups.
//!
//! How a process is tracked, best first:
//!
//! - **pidfd** (Linux 5.3+, Android): `pidfd_open` pins the process; `pidfd_send_signal`
//!   signals exactly that process even if its pid is recycled; the pidfd polls readable once
//!   the process has exited, zombie or reaped. Waiting is one `ppoll` over all the pidfds.
//!   See `pidfd.rs`; what Linux tells through `/proc` (and `tgkill`) is in `procfs.rs`.
//! - **kqueue** (macOS, iOS, the BSDs): an `EVFILT_PROC`/`NOTE_EXIT` registration, made when
//!   the process is opened, in a kqueue of its own per target. Waiting is one `kevent` on a
//!   kqueue that watches those kqueues. Signals go through `kill`. See `kqueue.rs`.
//! - **polling** (other unix systems, and Linux without pidfds, `ENOSYS`): `kill(pid, 0)`
//!   (plus the `Z` state in `/proc/PID/stat` on Linux, for zombies) checked every 1 ms,
//!   backing off to 20 ms. This is the only place where we wait by sleeping, because there
//!   the OS offers no notification for a process that is not our child. See `poll.rs`.
//!
//! Nothing here reaps: no `wait`/`waitpid`/`waitid` is ever called, so a caller's own child
//! keeps its exit status for the caller.
//!
//! Which of these a [`Target`] uses is its `Track`, whose variants exist only on the
//! platforms where they can occur: every `match` on it names each variant, with no catch-all.

#[cfg(kqueue)]
mod kqueue;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod pidfd;
mod poll;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod procfs;

use std::cell::Cell;
use std::io;
#[cfg(any(target_os = "linux", target_os = "android", kqueue))]
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::kill::ThreadOwner;
use crate::pid::Pid;

/// When the process `pid` started (clock ticks after boot), where `/proc` tells it (Linux):
/// with the pid, its identity. `None` if it does not exist or this cannot be known.
pub(crate) fn process_start(pid: Pid) -> Option<u64> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return procfs::stat(pid.as_raw()).map(|s| s.start);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        None
    }
}

/// Every signal that names one can be sent here.
pub(crate) fn cannot_send(_sig: i32) -> Option<&'static str> {
    None
}

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

/// How a [`Target`] learns of its process's exit. A variant exists only where it can occur,
/// so each `match` names them all (no catch-all arm, nothing unreachable on any platform).
enum Track {
    /// A pidfd (`pidfd.rs`), which also signals the process.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Pidfd(OwnedFd),
    /// A kqueue with `NOTE_EXIT` registered for the process (`kqueue.rs`).
    #[cfg(kqueue)]
    Kqueue(OwnedFd),
    /// Nothing to be notified by: polling (`poll.rs`). The only kind on other unix systems;
    /// on Linux once pidfds turned out to be missing, on macOS/BSD when the kqueue
    /// registration is refused. With the process's start time where `/proc` tells it
    /// (Linux): a pid that now names a process with another start time was recycled, and
    /// the process that was opened has exited.
    Poll(Option<u64>),
}

impl Target {
    /// Opens `pid`: `Ok(None)` if no such process exists. A zombie opens fine (and
    /// [`Target::has_exited`] is then true).
    pub(crate) fn open(pid: Pid) -> io::Result<Option<Target>> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(opened) = pidfd::open(pid)? {
            return Ok(opened.map(|fd| Target {
                pid,
                track: Track::Pidfd(fd),
                exited: false.into(),
            }));
        }
        // No pidfds: check that the process exists. EPERM means it exists but belongs to
        // someone else; that shows when it is signalled.
        // SAFETY: signal 0 only checks existence and permission; pid is positive.
        if unsafe { libc::kill(pid.as_raw(), 0) } != 0 && errno() == libc::ESRCH {
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
            track: Track::Poll(process_start(pid)),
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
            Track::Pidfd(fd) => pidfd::readable(fd)?,
            #[cfg(kqueue)]
            Track::Kqueue(kq) => kqueue::fired(kq)?,
            Track::Poll(start) => poll::exited(self.pid) || self.recycled(*start),
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
            Track::Pidfd(fd) => pidfd::send(fd, self.pid, sig, group),
            #[cfg(kqueue)]
            Track::Kqueue(_) => self.kill(sig, group),
            Track::Poll(_) => self.kill(sig, group),
        };
        match rc {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Whether this process may signal it: signal 0, which only checks.
    /// [`io::ErrorKind::PermissionDenied`] if not.
    pub(crate) fn may_signal(&self) -> io::Result<()> {
        self.send(0, false)
    }

    /// Whether the process group this process led still has a member, judged by identity
    /// (a pidfd, Linux 6.9 and later): also after the process was reaped and its number
    /// handed out again. `None` where that cannot be known.
    pub(crate) fn group_alive(&self) -> Option<bool> {
        match &self.track {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Track::Pidfd(fd) => pidfd::group_alive(fd),
            #[cfg(kqueue)]
            Track::Kqueue(_) => None,
            Track::Poll(_) => None,
        }
    }

    /// Whether the pid now names another process than the one that started at `start`.
    fn recycled(&self, start: Option<u64>) -> bool {
        start.is_some_and(|s| process_start(self.pid).is_some_and(|now| now != s))
    }

    /// [`Target::send`] without a pidfd: `kill(2)` by number.
    fn kill(&self, sig: i32, group: bool) -> io::Result<()> {
        // Never `kill` a pid whose process we know has exited: once it is reaped, the number
        // may be recycled.
        if self.has_exited()? {
            let recycled = match &self.track {
                Track::Poll(start) => self.recycled(*start),
                _ => false,
            };
            if !group || recycled {
                return Ok(());
            }
        }
        let target = if group {
            -self.pid.as_raw()
        } else {
            self.pid.as_raw()
        };
        // SAFETY: plain kill(2). `target` is never 0 or -1: pid is positive, and group mode
        // refuses pid 1 before getting here.
        if unsafe { libc::kill(target, sig) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
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
                Track::Poll(_) => None,
            })
            .collect();
        if let Some(fds) = fds {
            return pidfd::wait(&fds, deadline);
        }
    }
    #[cfg(kqueue)]
    {
        let kqs: Option<Vec<&OwnedFd>> = targets
            .iter()
            .map(|t| match &t.track {
                Track::Kqueue(kq) => Some(kq),
                Track::Poll(_) => None,
            })
            .collect();
        if let Some(kqs) = kqs {
            return kqueue::wait(&kqs, deadline);
        }
    }
    // Polling: no notification is available for at least one target.
    poll::wait(targets, deadline)
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
        procfs::thread_owner(pid)
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
    let pgid = unsafe { libc::getpgid(pid.as_raw()) };
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
    if pgid.as_raw() == 1 {
        return Err(no_group_one());
    }
    // SAFETY: signal 0 only checks existence and permission. -pgid is a process group: pgid
    // is positive and not 1, so this is never kill(0) or kill(-1).
    if unsafe { libc::kill(-pgid.as_raw(), 0) } == 0 {
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
    if pgid.as_raw() == 1 {
        return Err(no_group_one());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(sent) = pidfd::send_members(pgid, sig) {
        return sent;
    }
    // SAFETY: plain kill(2) to a process group: pgid is positive and not 1, so this is never
    // kill(0) or kill(-1).
    if unsafe { libc::kill(-pgid.as_raw(), sig) } == 0 || errno() == libc::ESRCH {
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
        procfs::group_members(pgid.as_raw())
    }
    #[cfg(apple)]
    {
        kqueue::group_members(pgid.as_raw())
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
        tv_sec: left.as_secs().min(i32::MAX as u64) as _,
        tv_nsec: left.subsec_nanos() as _,
    })
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
        assert_eq!(far.tv_sec, i32::MAX.into());
        assert!(far.tv_nsec >= 0 && far.tv_nsec < 1_000_000_000);
        let soon = timespec_until(Some(now + Duration::from_millis(1500))).unwrap();
        assert!(soon.tv_sec == 1 || soon.tv_sec == 0, "{}", soon.tv_sec);
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
}
