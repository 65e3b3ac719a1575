//! [`own`]: children that are stopped, politely and under a deadline, before the hooks run.

use crate::kill::Owned;
use crate::{ending, install_default_or_warn, sys, Handle, KillError, KillOptions, Pid};

/// Owns the process `pid`: when this process ends, `pid` is stopped first, the way
/// [`safe_kill_all`](crate::safe_kill_all) stops a process, and only then do the other hooks
/// run.
///
/// The commonest mess a stopped program leaves is its children: workers, shells, servers
/// that keep running (holding ports, files, GPUs) after the parent is gone. `own` makes them
/// part of the parent's own ending:
///
/// - **Now**, `pid` and `opts` are checked as `safe_kill` checks them, and the process is
///   opened, which pins it (Linux: a pidfd; macOS/BSD: a kqueue registration; Windows: a
///   process handle): a pid recycled later is never signalled. (Linux without pidfds knows
///   the process by its pid and start time, to the clock tick of 10 ms; in group mode, a
///   group whose leader has been reaped is known by identity from Linux 6.9, before that by
///   the leader's pid and start time.) Nothing is signalled. The
///   [`ConfigFlag::DEFAULT`](crate::ConfigFlag::DEFAULT) handlers are installed if nothing
///   was configured yet, as [`register`](crate::register) does.
/// - **When this process ends** by any path that runs hooks (a handled signal, `main`
///   returning, `exit`, [`request_shutdown`](crate::request_shutdown), notify mode after the
///   drain), every owned process still running gets its polite signal (its process group
///   with [`KillOptions::group`]) and SIGCONT, all at once; each is awaited until its
///   [`timeout`](KillOptions::timeout), counted from that same moment (so children owned
///   with the same options share one deadline: three children and 300 ms take about
///   300 ms, not 900); one still running then gets SIGKILL (unless
///   [`force_kill(false)`](KillOptions::force_kill)) and is awaited until it is gone. Then
///   the hooks run, newest first: children may still be writing to what the hooks close.
///   A process owned by a hook while the hooks run is stopped before the next hook.
/// - A child that had to be forced, or could not be stopped, is reported with one line on
///   stderr. The time spent counts toward the
///   [hook deadline](crate::ShutdownPolicy::hook_deadline).
///
/// **It never reaps.** The caller's own [`Child::wait`](std::process::Child::wait) (or
/// Python's `Popen.wait()`) still gets the child's real exit status, also from inside a
/// hook: a child ended by SIGTERM reports signal 15.
///
/// **[`Handle::unregister`] disowns**: that child is left alone and outlives this process.
/// It returns `false` if the child was already stopped (the ending has begun).
///
/// **Deadlines.** The ending waits for the owned children as long as their options say:
/// with [`Duration::MAX`](std::time::Duration::MAX) (no deadline) and a child that never
/// ends, this process never ends either, unless a
/// [hook deadline](crate::ShutdownPolicy::hook_deadline) or a repeated signal
/// ([`force_on_repeat`](crate::ShutdownPolicy::force_on_repeat)) ends it. Such a forced
/// ending ends this process as it is: children still being stopped then are not forced.
///
/// **What it does not cover**: endings that run no hooks (this process killed with SIGKILL,
/// an abort, a crash) or that cut them short (above). For those, start the child with
/// [`CommandExt::die_with_parent`](crate::CommandExt::die_with_parent) too: then it is
/// stopped politely when hooks can run, and killed when they cannot. A process forked
/// without exec does not inherit what its parent owns; one that calls `exec` leaves it
/// behind (the new program knows nothing of it).
///
/// ```no_run
/// use std::process::Command;
/// use std::time::Duration;
/// use safe_exit::KillOptions;
///
/// let worker = Command::new("my-worker").spawn()?;
/// // On SIGTERM, Ctrl-C or a normal exit: SIGTERM to the worker, 2 s, then SIGKILL; then
/// // the hooks.
/// safe_exit::own(worker.id(), &KillOptions::new().timeout(Duration::from_secs(2)))?;
/// safe_exit::register(|| println!("the worker is gone; now close the database"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Before anything is registered or signalled:
///
/// - the errors `safe_kill` finds before signalling: [`KillError::InvalidPid`] (0, a pid
///   negative as a `pid_t`), [`KillError::SelfTarget`] (this process),
///   [`KillError::OwnThread`] (a thread of this process), [`KillError::NotAProcess`] (a
///   thread of another process), [`KillError::InvalidSignal`], and in group mode
///   [`KillError::NotGroupLeader`] and [`KillError::OwnGroup`];
/// - [`KillError::NotRunning`]: the process has already exited (or never existed): there is
///   nothing to own, and nothing was kept;
/// - [`KillError::PermissionDenied`]: this process may not signal it (another user's
///   process), so it could not be stopped later either (checked with signal 0 on unix; on
///   Windows opening it needs the right to terminate it);
/// - [`KillError::Unsupported`] where `safe_kill` is, and [`KillError::Io`] if the process
///   cannot be opened (for example, out of file descriptors).
pub fn own(pid: u32, opts: &KillOptions) -> Result<Handle, KillError> {
    let child = Owned::open(Pid::try_from(pid)?, opts)?;
    install_default_or_warn();
    Ok(Handle {
        id: ending::own(child),
        pid: sys::imp::process_id(),
    })
}

/// For a language binding whose runtime handles the signals and runs its own exit functions
/// (the Python package): not part of the Rust API.
#[doc(hidden)]
pub mod binding {
    use super::*;

    /// [`own`] without installing safe-exit's signal handlers (the binding's runtime has its
    /// own); the binding calls [`stop_owned`] at the start of its exit functions.
    pub fn own_without_handlers(pid: u32, opts: &KillOptions) -> Result<Handle, KillError> {
        let child = Owned::open(Pid::try_from(pid)?, opts)?;
        Ok(Handle {
            id: ending::own(child),
            pid: sys::imp::process_id(),
        })
    }

    /// Disowns every child owned in this process with the pid `pid`: true if there was one
    /// still to stop.
    pub fn disown(pid: u32) -> bool {
        ending::disown_pid(pid)
    }

    /// The parent's half of [`CommandExt::die_with_parent`](crate::CommandExt::die_with_parent)
    /// for a runtime that starts its processes itself (Python's `subprocess`): the error now
    /// where it cannot be had. On Windows this is all there is.
    pub fn prepare_die_with_parent() -> std::io::Result<()> {
        sys::imp::prepare_for_spawn()
    }

    /// The child's half, between fork and exec, after [`prepare_die_with_parent`] in the
    /// parent: async-signal-safe (system calls only).
    #[cfg(unix)]
    pub fn die_with_parent_in_child() -> std::io::Result<()> {
        sys::imp::register_in_child()
    }

    /// Stops the owned children now, as the ending does before the hooks (and says on stderr
    /// which had to be forced or could not be stopped).
    pub fn stop_owned() {
        ending::stop_owned_now();
    }
}
