//! The wrapper's signals: every signal it acts on is blocked and taken, one at a time, by the
//! loop (`sigtimedwait`; on macOS, which lacks it, kqueue's `EVFILT_SIGNAL` wakes the loop
//! and `sigwait` takes the pending signal). No handler runs, so nothing happens in signal
//! context, and the grace deadline is the wait's timeout.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

/// The signals the wrapper never takes: SIGKILL and SIGSTOP (which cannot be), and the signals
/// of a crash, which must keep their default action in the wrapper itself (a blocked SIGSEGV
/// from a fault kills anyway, but a `kill -SEGV` would be passed on as if the wrapper had
/// crashed on purpose).
const NEVER: [i32; 9] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGABRT,
];

/// The highest signal number here.
#[cfg(target_os = "linux")]
fn max_signal() -> i32 {
    libc::SIGRTMAX()
}

/// The highest signal number here: `SIGRTMAX` of `<sys/signal.h>` (not in libc for FreeBSD).
#[cfg(target_os = "freebsd")]
fn max_signal() -> i32 {
    126
}

/// The highest signal number here: `NSIG - 1`.
#[cfg(target_os = "macos")]
fn max_signal() -> i32 {
    31
}

/// What the child gets back before `exec`: the signal state the wrapper was started with.
#[derive(Clone, Copy)]
pub(super) struct Inherited {
    /// The signal mask the wrapper was started with.
    pub(super) mask: libc::sigset_t,
    /// SIGCHLD was ignored when the wrapper started (the wrapper sets it to its default, which
    /// waiting for children needs; the child gets it ignored again).
    pub(super) chld_ignored: bool,
}

/// The signals the wrapper takes (blocked since [`Signals::take`]).
pub(super) struct Signals {
    /// The signals taken: blocked, waited for.
    set: libc::sigset_t,
    /// What the child gets back.
    inherited: Inherited,
    /// The kqueue that wakes the loop when one of them arrives.
    #[cfg(target_os = "macos")]
    kqueue: std::os::fd::OwnedFd,
}

/// An empty signal set.
fn empty_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        set.assume_init()
    }
}

/// The set holding `sig` alone.
fn set_of(sig: i32) -> libc::sigset_t {
    let mut set = empty_set();
    // SAFETY: an initialised set; an invalid number only makes sigaddset fail.
    unsafe { libc::sigaddset(&mut set, sig) };
    set
}

/// Whether `sig` is in `set`.
fn contains(set: &libc::sigset_t, sig: i32) -> bool {
    // SAFETY: an initialised set.
    unsafe { libc::sigismember(set, sig) == 1 }
}

impl Signals {
    /// Blocks every signal the wrapper acts on, and remembers the mask it was started with.
    /// Must run before the child is started (so that no SIGCHLD or termination signal is
    /// missed) and while the process has one thread.
    ///
    /// A signal that was ignored at the start (`nohup`, a script's background job) is left
    /// ignored and is not taken, except SIGCHLD, which is set to its default action.
    pub(super) fn take() -> io::Result<Signals> {
        let mut set = empty_set();
        let mut chld_ignored = false;
        for sig in 1..=max_signal() {
            if NEVER.contains(&sig) {
                continue;
            }
            let mut old = MaybeUninit::<libc::sigaction>::uninit();
            // SAFETY: a null new action only reads the current one into `old`.
            if unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) } != 0 {
                continue; // not a signal here (such as the C library's own real-time ones)
            }
            // SAFETY: sigaction succeeded, so it filled `old`.
            let old = unsafe { old.assume_init() };
            if old.sa_sigaction == libc::SIG_IGN {
                if sig != libc::SIGCHLD {
                    continue;
                }
                chld_ignored = true;
                // SAFETY: the default action for SIGCHLD, so that children become zombies
                // that waitpid can report; no handler is involved.
                unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
            }
            // SAFETY: an initialised set; a number sigaddset refuses is simply left out.
            unsafe { libc::sigaddset(&mut set, sig) };
        }
        let mut mask = empty_set();
        // SAFETY: both sets are initialised; the wrapper has one thread, so this is its mask.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut mask) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Signals {
            set,
            inherited: Inherited { mask, chld_ignored },
            #[cfg(target_os = "macos")]
            kqueue: kqueue::watch(&set)?,
        })
    }

    /// What the child gets back before `exec`.
    pub(super) fn inherited(&self) -> Inherited {
        self.inherited
    }

    /// Whether the wrapper takes `sig` (it was not ignored at the start).
    pub(super) fn takes(&self, sig: i32) -> bool {
        contains(&self.set, sig)
    }

    /// Waits up to `timeout` (`None`: without limit) for one of the signals and takes it;
    /// `None` when the time is up (or the wait was interrupted: the caller looks at the
    /// clock, never at this, to decide whether a deadline has passed).
    pub(super) fn wait(&self, timeout: Option<Duration>) -> Option<i32> {
        #[cfg(not(target_os = "macos"))]
        let sig = timed_wait(&self.set, timeout);
        #[cfg(target_os = "macos")]
        let sig = kqueue::wait(&self.kqueue, &self.set, timeout);
        sig
    }

    /// Takes `sig` if it is pending, without waiting; whether it was.
    pub(super) fn take_pending(&self, sig: i32) -> bool {
        #[cfg(not(target_os = "macos"))]
        let taken = timed_wait(&set_of(sig), Some(Duration::ZERO));
        #[cfg(target_os = "macos")]
        let taken = kqueue::take_pending(&set_of(sig));
        taken.is_some()
    }

    /// Lets the pending job-control signal `sig` (TSTP, TTIN or TTOU, sent to the wrapper's
    /// own group) take its default action, which stops the wrapper until SIGCONT, then blocks
    /// it again. The kernel drops it instead when the wrapper's group is orphaned (nothing
    /// could resume it): then this returns at once.
    pub(super) fn stop_by(&self, sig: i32) {
        let one = set_of(sig);
        // SAFETY: a valid set; the wrapper has one thread. Unblocking delivers the pending
        // signal (no handler: its default action, stop); blocking it again restores the mask.
        unsafe {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
            libc::pthread_sigmask(libc::SIG_BLOCK, &one, std::ptr::null_mut());
        }
    }
}

/// `sigtimedwait`: one signal of `set`, waiting up to `timeout` (`None`: without limit).
#[cfg(not(target_os = "macos"))]
fn timed_wait(set: &libc::sigset_t, timeout: Option<Duration>) -> Option<i32> {
    let ts = timeout.map(|t| libc::timespec {
        // At most a day per wait: the caller waits again, and the field cannot overflow.
        tv_sec: t.as_secs().min(86_400) as _,
        tv_nsec: t.subsec_nanos() as _,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: a valid set, a null siginfo (not wanted) and a valid or null timeout.
    let sig = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), ts_ptr) };
    // -1: EAGAIN (time is up) or EINTR (stopped and continued).
    (sig > 0).then_some(sig)
}

/// macOS: kqueue's `EVFILT_SIGNAL` records every attempt to deliver a signal, blocked or
/// not; the signal itself stays pending (blocked) until `sigwait` takes it.
#[cfg(target_os = "macos")]
mod kqueue {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use super::{contains, max_signal, set_of};

    /// A kqueue that reports each signal of `set`.
    pub(super) fn watch(set: &libc::sigset_t) -> io::Result<OwnedFd> {
        // SAFETY: kqueue takes no arguments and returns a new descriptor or -1.
        let fd = unsafe { libc::kqueue() };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the descriptor was just created, and nothing else owns it.
        let kq = unsafe { OwnedFd::from_raw_fd(fd) };
        for sig in 1..=max_signal() {
            if !contains(set, sig) {
                continue;
            }
            let change = libc::kevent {
                ident: sig as libc::uintptr_t,
                filter: libc::EVFILT_SIGNAL,
                flags: libc::EV_ADD,
                fflags: 0,
                data: 0,
                udata: std::ptr::null_mut(),
            };
            // SAFETY: one valid change, no event list.
            let rc = unsafe {
                libc::kevent(
                    kq.as_raw_fd(),
                    &change,
                    1,
                    std::ptr::null_mut(),
                    0,
                    std::ptr::null(),
                )
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(kq)
    }

    /// Takes one pending signal of `set`, if there is one.
    pub(super) fn take_pending(set: &libc::sigset_t) -> Option<i32> {
        let mut pending = super::empty_set();
        // SAFETY: sigpending fills an initialised set.
        unsafe { libc::sigpending(&mut pending) };
        let sig = (1..=max_signal()).find(|&s| contains(set, s) && contains(&pending, s))?;
        let mut taken = 0;
        // SAFETY: `sig` is pending and blocked, so sigwait returns at once with it.
        unsafe { libc::sigwait(&set_of(sig), &mut taken) };
        Some(sig)
    }

    /// A pending signal of `set`, waiting up to `timeout` for one to arrive.
    pub(super) fn wait(
        kq: &OwnedFd,
        set: &libc::sigset_t,
        timeout: Option<Duration>,
    ) -> Option<i32> {
        if let Some(sig) = take_pending(set) {
            return Some(sig);
        }
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(86_400) as _,
            tv_nsec: t.subsec_nanos() as _,
        });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        let mut event = std::mem::MaybeUninit::<libc::kevent>::uninit();
        // SAFETY: an empty change list, room for one event, a valid or null timeout.
        let n = unsafe {
            libc::kevent(
                kq.as_raw_fd(),
                std::ptr::null(),
                0,
                event.as_mut_ptr(),
                1,
                ts_ptr,
            )
        };
        if n <= 0 {
            return None;
        }
        take_pending(set)
    }
}
