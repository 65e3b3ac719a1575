//! Graceful shutdown: what a termination request does (exit or notify), and the future that
//! waits for the request. The request itself lives in the process state (`state.rs`).
//! Platform-free.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::{state, ExitReason};

/// What a termination signal (or [`request_shutdown`](crate::request_shutdown)) does; set it
/// with [`set_shutdown_policy`](crate::set_shutdown_policy).
///
/// - [`ShutdownPolicy::exit`] (the default): run the exit hooks at once, then end the process
///   by the signal.
/// - [`ShutdownPolicy::notify`]: mark "shutdown requested" and wake every waiter
///   ([`wait_for_shutdown`](crate::wait_for_shutdown),
///   [`shutdown_signal`](crate::shutdown_signal)), and let the program drain and return from
///   `main`; the hooks run at that exit. With a [grace period](Self::grace_period), the hooks
///   run and the process ends anyway if `main` has not returned in time.
///
/// ```no_run
/// use std::time::Duration;
/// use safe_exit::ShutdownPolicy;
///
/// // Kubernetes sends SIGKILL 30 s after SIGTERM: finish within 25 s, hooks within 4 s.
/// safe_exit::set_shutdown_policy(
///     ShutdownPolicy::notify()
///         .grace_period(Duration::from_secs(25))
///         .hook_deadline(Duration::from_secs(4))
///         .force_on_repeat(true),
/// )?;
/// # Ok::<(), safe_exit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownPolicy {
    pub(crate) notify: bool,
    pub(crate) grace: Option<Duration>,
    pub(crate) force_on_repeat: bool,
    pub(crate) hook_deadline: Option<Duration>,
    pub(crate) exit_by_signal: bool,
}

impl Default for ShutdownPolicy {
    fn default() -> Self {
        Self::exit()
    }
}

impl ShutdownPolicy {
    /// Exit mode, the default: a termination signal runs the hooks at once, then the process
    /// ends by that signal.
    pub const fn exit() -> Self {
        ShutdownPolicy {
            notify: false,
            grace: None,
            force_on_repeat: false,
            hook_deadline: None,
            exit_by_signal: true,
        }
    }

    /// Notify mode: a termination signal only requests shutdown; the program drains and
    /// returns from `main`, and the hooks run at that exit. No grace period unless one is set.
    pub const fn notify() -> Self {
        ShutdownPolicy {
            notify: true,
            ..Self::exit()
        }
    }

    /// Notify mode only: if `main` has not returned this long after the request, run the hooks
    /// and end the process as exit mode would (by the signal). Set it below the supervisor's
    /// own limit (Kubernetes' `terminationGracePeriodSeconds`, systemd's `TimeoutStopSec`,
    /// `docker stop -t`), leaving room for the hooks.
    pub const fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// With `true`, a termination signal that arrives after shutdown was requested (a second
    /// Ctrl-C, say), during the grace period or while the hooks run, ends the process at once
    /// by that signal, without waiting for the hooks. Off by default: supervisors and terminals
    /// often deliver the same signal twice, and that must not cut cleanup short.
    pub const fn force_on_repeat(mut self, force: bool) -> Self {
        self.force_on_repeat = force;
        self
    }

    /// If the hooks have not all finished this long after they started, end the process
    /// anyway; stderr names the hook that was still running. The process then ends by the
    /// signal that started the shutdown, with the code given to
    /// [`request_shutdown`](crate::request_shutdown), or with status 1 at a normal exit.
    pub const fn hook_deadline(mut self, deadline: Duration) -> Self {
        self.hook_deadline = Some(deadline);
        self
    }

    /// Notify mode only: whether a process whose shutdown was requested by a signal ends by
    /// that signal after `main` returns and the hooks run (`true`, the default), or with the
    /// exit code `main` chose (`false`). Ending by the signal is what shells expect of an
    /// interrupted program (a script loop stops on a child killed by SIGINT); an exit code is
    /// what some supervisors count as success.
    pub const fn exit_by_signal(mut self, by_signal: bool) -> Self {
        self.exit_by_signal = by_signal;
        self
    }
}

/// A future that completes when shutdown is requested, with the reason. Made by
/// [`shutdown_signal`](crate::shutdown_signal).
///
/// It works with any executor (tokio, async-std, `pollster`, `futures::executor`): it
/// registers the task's [`Waker`](std::task::Waker) and is woken by whichever thread requests the shutdown.
/// It may be polled again after it completed, and then completes again at once.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct ShutdownSignal {
    slot: Option<u64>,
}

impl ShutdownSignal {
    pub(crate) fn new() -> Self {
        ShutdownSignal { slot: None }
    }
}

impl Future for ShutdownSignal {
    type Output = ExitReason;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ExitReason> {
        let mut st = state::process().lock();
        if let Some(reason) = st.requested() {
            return Poll::Ready(reason);
        }
        self.slot = Some(st.add_waker(self.slot, cx.waker()));
        Poll::Pending
    }
}

impl Drop for ShutdownSignal {
    fn drop(&mut self) {
        if let (Some(id), Some(p)) = (self.slot, state::existing()) {
            p.lock().remove_waker(id);
        }
    }
}
