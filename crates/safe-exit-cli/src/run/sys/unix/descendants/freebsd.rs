//! FreeBSD: the wrapper is a reaper (`procctl(PROC_REAP_ACQUIRE)`), and the kernel signals
//! all its descendants at once (`procctl(PROC_REAP_KILL)`): no pids are handled here, so
//! none can be recycled. It cannot leave out the members of COMMAND's group that already had
//! a termination signal: they get the stop signal once more.
//!
//! Compiled for FreeBSD in CI, not run there: the tests run on Linux.

/// `struct procctl_reaper_kill` of `<sys/procctl.h>` (not in libc).
#[repr(C)]
struct ReaperKill {
    /// In: the signal.
    rk_sig: libc::c_int,
    /// In: `REAPER_KILL_*` flags; 0 for every descendant.
    rk_flags: libc::c_uint,
    /// In: the subtree, with `REAPER_KILL_SUBTREE`.
    rk_subtree: libc::pid_t,
    /// Out: how many were signalled.
    rk_killed: libc::c_uint,
    /// Out: the first pid that could not be.
    rk_fpid: libc::pid_t,
    /// Reserved.
    rk_pad: [libc::c_uint; 15],
}

/// The wrapper's descendants, through the reaper's kernel interface.
pub(in super::super) struct Descendants {
    /// The stop signal has gone to them.
    asked: bool,
}

/// `procctl(PROC_REAP_KILL)`: `sig` to every descendant of this reaper; how many got it.
fn reap_kill(sig: i32) -> usize {
    let mut rk = ReaperKill {
        rk_sig: sig,
        rk_flags: 0,
        rk_subtree: 0,
        rk_killed: 0,
        rk_fpid: 0,
        rk_pad: [0; 15],
    };
    // SAFETY: procctl on our own pid with a valid, initialised `procctl_reaper_kill`.
    unsafe {
        libc::procctl(
            libc::P_PID,
            libc::getpid() as libc::id_t,
            libc::PROC_REAP_KILL,
            (&mut rk as *mut ReaperKill).cast(),
        );
    }
    rk.rk_killed as usize
}

/// `procctl(PROC_REAP_ACQUIRE)`: orphaned descendants become ours to reap. Init already is
/// a reaper (EBUSY then), which is as good.
pub(in super::super) fn become_subreaper() {
    // SAFETY: procctl on our own pid; this command takes no data.
    unsafe {
        libc::procctl(
            libc::P_PID,
            libc::getpid() as libc::id_t,
            libc::PROC_REAP_ACQUIRE,
            std::ptr::null_mut(),
        );
    }
}

impl Descendants {
    /// Every descendant gets the stop signal from `ask`, also those that had it with their
    /// group (the kernel interface cannot leave them out).
    pub(in super::super) fn group_signalled(&mut self, _pgid: i32) {}

    /// For the process `me` (the wrapper, a reaper).
    pub(in super::super) fn new(_me: i32) -> Descendants {
        Descendants { asked: false }
    }

    /// The stop signal `sig`, then SIGCONT, to every descendant, once.
    pub(in super::super) fn ask(&mut self, sig: i32) -> usize {
        if std::mem::replace(&mut self.asked, true) {
            return 0;
        }
        let n = reap_kill(sig);
        if sig != libc::SIGKILL {
            reap_kill(libc::SIGCONT);
        }
        n
    }

    /// `sig` to every descendant.
    pub(in super::super) fn forward(&mut self, sig: i32) {
        reap_kill(sig);
    }

    /// SIGKILL to every descendant.
    pub(in super::super) fn kill(&mut self) -> usize {
        reap_kill(libc::SIGKILL)
    }
}
