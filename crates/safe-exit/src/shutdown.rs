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
    pub(crate) pre_drain: Option<Duration>,
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
            pre_drain: None,
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

    /// Notify mode only: on SIGTERM, announce the shutdown at once but keep serving for
    /// `delay` before the waiters wake. During the delay [`shutdown_phase`](crate::shutdown_phase)
    /// is [`ShutdownPhase::Announced`] (a readiness probe should fail from then on, so that
    /// load balancers stop sending new work), while [`shutdown_requested`](crate::shutdown_requested)
    /// is still false and [`wait_for_shutdown`](crate::wait_for_shutdown) and
    /// [`shutdown_signal`](crate::shutdown_signal) still wait; after it they wake
    /// ([`ShutdownPhase::Draining`]).
    ///
    /// This is the "fail readiness, keep serving a moment, then drain" that Kubernetes needs:
    /// endpoints are removed from load balancers asynchronously, seconds after the pod is told
    /// to stop, and requests keep arriving meanwhile. Only SIGTERM (what supervisors send) is
    /// delayed: SIGINT (a person at a terminal), other signals and console events, and
    /// [`request_shutdown`](crate::request_shutdown) drain at once, and `request_shutdown`
    /// during the delay ends it. A second signal during the delay does not (it is a repeat:
    /// with [`force_on_repeat`](Self::force_on_repeat) it ends the process at once).
    ///
    /// The [grace period](Self::grace_period) counts from the signal, the delay included: keep
    /// it longer than the delay plus the time the drain needs. Exit mode has no drain, and
    /// ignores the delay.
    pub const fn pre_drain_delay(mut self, delay: Duration) -> Self {
        self.pre_drain = Some(delay);
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

/// Where the process is in its shutdown: see [`shutdown_phase`](crate::shutdown_phase).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownPhase {
    /// No shutdown has been requested.
    Running,
    /// A SIGTERM arrived and the [pre-drain delay](ShutdownPolicy::pre_drain_delay) runs:
    /// fail readiness, keep serving; nothing else has been told yet.
    Announced,
    /// Shutdown was requested: the waiters are awake, the program drains and returns from
    /// `main` (notify mode).
    Draining,
    /// The exit hooks run, or have run: the process is ending.
    Ending,
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
