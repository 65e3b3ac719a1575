//! Make processes end safely.
//!
//! - **Exit hooks** that run exactly once however the process ends: returning from `main`,
//!   [`std::process::exit`], SIGINT, SIGTERM, SIGQUIT or SIGHUP; on Windows Ctrl-C,
//!   Ctrl-Break and the console close, logoff and shutdown events.
//! - **[`safe_kill`]**: ask another process to end, wait for it up to a deadline, force it,
//!   and report what happened.
//!
//! ```no_run
//! let _hook = safe_exit::register(|| {
//!     // Flush buffers, remove the pid file, close the database...
//!     println!("cleaning up because of {:?}", safe_exit::exit_reason());
//! });
//! // Whether `main` returns, `std::process::exit(3)` is called, or SIGINT, SIGTERM, SIGQUIT
//! // or SIGHUP arrives, the hook runs exactly once. After a signal the process then ends by
//! // that same signal, so a shell or supervisor sees what happened.
//! ```
//!
//! To choose the signals, call [`config`] before the first [`register`]:
//!
//! ```no_run
//! use safe_exit::ConfigFlag;
//! // SIGINT, SIGTERM and SIGHUP run the hooks; SIGQUIT keeps its default action (core dump).
//! safe_exit::config(ConfigFlag::SIGHUP)?;
//! safe_exit::register(|| println!("bye"));
//! # Ok::<(), safe_exit::Error>(())
//! ```
//!
//! # How it works
//!
//! Nothing happens until the first [`register`] or [`config`]: no thread, no signal handler,
//! no allocation (only one inert `atexit` entry, registered when the program is loaded; see
//! below). Then, once per process:
//!
//! - A handler is installed for SIGINT, SIGTERM and the signals chosen by [`ConfigFlag`]:
//!   with a plain `sigaction` where the signal had its default action, or through
//!   [`signal-hook-registry`](https://docs.rs/signal-hook-registry) (the registry that
//!   `signal-hook` and `tokio` use too) where another handler was there first, so that it is
//!   chained, not replaced.
//! - The handler does only async-signal-safe work: it records the first signal in an atomic
//!   and wakes the watcher thread (a futex wake on Linux, one byte written to a pipe
//!   elsewhere). Later signals wake nothing.
//! - One watcher thread, named `safe-exit`, sleeps until then. It wakes, runs the hooks
//!   (newest first) on this ordinary thread, then ends the process by the same signal: it
//!   restores the default action, unblocks the signal and raises it again. While it waits,
//!   the watcher blocks the handled signals, so that the kernel gives them to the program's
//!   threads; each hook starts with the program's usual mask (a child it starts inherits
//!   that). In a storm of repeated signals one that lands on the watcher during a hook makes
//!   it block them again until the next hook starts, so that the storm does not interrupt the
//!   hook for every signal. The watcher asks the scheduler for a short time slice (Linux
//!   6.12+), so that it is not kept waiting behind busy threads.
//! - An `atexit` function runs the hooks when the process exits normally, on a fresh thread
//!   (the exiting thread's thread-locals are already destroyed at that point), while the
//!   exiting thread waits. A second `atexit` entry, registered when the program is loaded and
//!   inert until needed, ends the process by a signal *after* `exit` has done its work (the
//!   program's other `atexit` functions, C's stdio) when the ending calls for one.
//!
//! All of this process's state (configuration, policy, hooks, phase, shutdown request) is one
//! value behind one lock, with the pid of the process that made it. A child forked without
//! `exec` finds its parent's value, leaves it alone (never locked, never dropped) and makes its
//! own.
//!
//! A small state machine decides which trigger runs the hooks: the first one wins, later ones
//! never start them again and never cut them short. If `main` returns while a signal-started
//! run is in progress, the exiting thread waits for it to finish, and the process then ends by
//! the signal. Hooks may call [`register`], [`Handle::unregister`] and [`config`]; a hook
//! registered while the hooks run is run too, in its turn. Once the hooks are done, a
//! termination signal ends the process at once (it is ending anyway), so nothing slow later
//! in `exit` can make it ignore SIGTERM.
//!
//! ## Edge cases, each tested in a real process
//!
//! - **A handler installed after ours owns its signal** (`ctrlc`, a raw `sigaction`, Python's
//!   `signal.signal`): ours is no longer called and the hooks do not start on that signal;
//!   they still run at exit. One installed later through `signal-hook-registry` does not take
//!   the signal over: the hooks run and the process ends by the signal, which may be before
//!   that handler has run.
//! - **fork without exec**: the child inherits nothing that acts. Its parent's hooks never run
//!   there and are never dropped there (their destructors would act on the parent's files).
//!   A termination signal takes its default action there, unless a handler installed by the
//!   child (or before ours) handles it. [`register`], [`config`], [`set_shutdown_policy`] and
//!   [`request_shutdown`] in the child start a fresh state of its own; they never deadlock on
//!   a lock that a thread of the parent held at the moment of `fork`, and never close a
//!   descriptor the child did not open.
//! - **A hook that calls [`std::process::exit`]** (or C's `exit`) neither aborts nor hangs the
//!   process, and the remaining hooks still run. When the hooks were started by a signal (or a
//!   request) and no other thread is exiting, the process then exits with the hook's code. At
//!   a normal exit another thread is already exiting, so Rust parks the hook's thread for
//!   good: safe-exit notices (from `/proc` on Linux: the thread waits in `pause()` under
//!   `std::process::exit`; a hook that merely waits in `pause()` is not mistaken for it), runs
//!   the remaining hooks elsewhere, and the process exits with the status `main` chose (or,
//!   after a signal-started run, by the signal). A child forked inside a hook that returns
//!   from the hook exits with status 0; it never runs its parent's hooks.
//!   [`request_shutdown`] from inside a hook (exit mode) does not return either: the remaining
//!   hooks run and the process ends with its code.
//! - **Ending never waits on a lock someone else holds**: flushing stdout before the process
//!   ends by a signal is given 100 ms (the test checks that the process ends within 5 s); a
//!   thread blocked writing to a full pipe while holding stdout's lock cannot keep the process
//!   alive, nor can a hook blocked that way defeat the
//!   [hook deadline](ShutdownPolicy::hook_deadline).
//! - **Any [`Duration`]** is accepted: a grace period, hook deadline or
//!   [`wait_for_shutdown_timeout`] too long to represent means "no deadline". The grace period
//!   and hook deadline in force are the ones set last, even after the shutdown started.
//!
//! # Graceful shutdown (services)
//!
//! A service should not stop mid-request. With [`ShutdownPolicy::notify`], a termination
//! signal only *requests* shutdown: every waiter wakes ([`shutdown_requested`],
//! [`wait_for_shutdown`], [`wait_for_shutdown_timeout`], or the runtime-agnostic
//! [`shutdown_signal`] future), the program stops accepting work, finishes what is in flight
//! and returns from `main`; the hooks then run, and the process ends by the signal (or with
//! `main`'s exit code: [`ShutdownPolicy::exit_by_signal`]). A grace period bounds the drain, a
//! hook deadline bounds the hooks, and a repeated signal can force the exit (opt-in). The
//! program can ask for the same path itself with [`request_shutdown`].
//!
//! ```no_run
//! use std::time::Duration;
//! use safe_exit::ShutdownPolicy;
//!
//! safe_exit::set_shutdown_policy(
//!     ShutdownPolicy::notify().grace_period(Duration::from_secs(20)),
//! )?;
//! safe_exit::register(|| println!("flushed"));
//! # fn accept_and_serve_one() {}
//! while !safe_exit::shutdown_requested() {
//!     accept_and_serve_one();
//! }
//! // Return from main: the hook runs, the process ends by SIGTERM.
//! # Ok::<(), safe_exit::Error>(())
//! ```
//!
//! The repository's examples `http_service` (tokio + hyper) and `worker` (threads) do this for
//! real.
//!
//! ## Running under Kubernetes, systemd and Docker
//!
//! All three send SIGTERM, wait, then send SIGKILL, which no program can handle:
//!
//! | supervisor | stop signal | time before SIGKILL | set it with |
//! |---|---|---|---|
//! | Kubernetes | SIGTERM (after the `preStop` hook) | 30 s, from the start of termination, the hook included | `terminationGracePeriodSeconds` |
//! | systemd | SIGTERM (`KillSignal=`) | 90 s | `TimeoutStopSec=` (extended by `EXTEND_TIMEOUT_USEC=`, below) |
//! | `docker stop` | SIGTERM, or the image's `STOPSIGNAL` | 10 s | `docker stop -t`, `stop_grace_period` (compose) |
//!
//! - Set the grace period plus the hook deadline **below** the supervisor's limit, so that
//!   the hooks finish before SIGKILL: the grace period counts from the signal.
//! - **Kubernetes** removes a terminating pod from its Services' endpoints asynchronously:
//!   load balancers and other nodes keep sending it requests for a few seconds after SIGTERM.
//!   [`ShutdownPolicy::pre_drain_delay`] keeps serving through that: [`shutdown_phase`] is
//!   [`ShutdownPhase::Announced`] at once (fail the readiness probe from then on), and the
//!   drain starts after the delay. It replaces the usual `preStop: sleep 5`. For
//!   `terminationGracePeriodSeconds: 40`:
//!
//!   ```no_run
//!   # use std::time::Duration;
//!   safe_exit::set_shutdown_policy(
//!       safe_exit::ShutdownPolicy::notify()
//!           .pre_drain_delay(Duration::from_secs(5)) // readiness period × failure threshold, and some
//!           .grace_period(Duration::from_secs(30))   // from SIGTERM, the 5 s included
//!           .hook_deadline(Duration::from_secs(5)),  // 35 s < 40 s
//!   )?;
//!   # Ok::<(), safe_exit::Error>(())
//!   ```
//! - **systemd**: for `Type=notify`, call [`notify_ready`] once the service is ready. When
//!   shutdown starts, safe-exit then sends `STOPPING=1` and `EXTEND_TIMEOUT_USEC=` with what
//!   the policy still allows (grace period + hook deadline + 1 s), so a drain that is on
//!   schedule is not SIGKILLed at `TimeoutStopSec=`; with no grace period or no hook deadline
//!   nothing is extended and `TimeoutStopSec=` stands. With `KillMode=control-group` (the
//!   default) every process of the service gets SIGTERM at once; `KillMode=mixed` lets the
//!   main process stop its children itself (see [`own`] and [`safe_kill_all`]).
//! - **Docker**: `docker stop` waits 10 s: keep grace + hooks below it, or raise it
//!   (`docker stop -t 40`, compose's `stop_grace_period: 40s`).
//! - **Windows services**: [`run_service`] answers the service control manager's STOP,
//!   PRESHUTDOWN and SHUTDOWN through the same policy.
//! - Ending by SIGTERM (the default) is what supervisors expect: systemd counts a service
//!   killed by SIGTERM as cleanly stopped, Kubernetes and Docker only record it. Use
//!   `exit_by_signal(false)` if your supervisor wants exit code 0.
//! - **PID 1**: in a container without an init (`docker run` without `--init`), your program
//!   is PID 1, which the kernel protects from signals it has no handler for. safe-exit
//!   installs handlers, so SIGTERM works; after the hooks it ends with `_exit(128 + signal)`
//!   because PID 1 cannot be killed by its own signal. A PID 1 also inherits orphaned
//!   processes and should reap them: use `--init` (tini) if your program starts children.
//! - A shell form `CMD my-service` runs your program under `/bin/sh -c`, which does not
//!   forward SIGTERM: use the exec form `CMD ["my-service"]`.
//!
//! # Limitations
//!
//! - **Other threads keep running while the hooks run.** A hook that closes a resource must
//!   expect other threads to still use it.
//! - Hooks run at *normal* exit through `atexit`: returning from `main` and
//!   [`std::process::exit`] both qualify; [`std::process::abort`], `_exit`, a panic with
//!   `panic = "abort"`, a crash (SIGSEGV) and SIGKILL do not, and cannot.
//! - A hook that panics is reported on stderr and the remaining hooks still run, unless the
//!   program is built with `panic = "abort"`.
//! - Without `/proc` mounted, a hook that calls [`std::process::exit`] at a normal exit is not
//!   noticed: its thread stays parked by Rust and the exit waits for it like for any stuck
//!   hook (the [hook deadline](ShutdownPolicy::hook_deadline) bounds it). Other systems do not
//!   park such a thread.
//! - A child that a hook forks inherits Rust's record of which thread is exiting: if that child
//!   calls [`std::process::exit`] (rather than `exec` or `_exit`), Rust parks it for good.
//! - A hook registered after the hooks have run (from a C `atexit` function that runs later,
//!   say) never runs.
//! - At a normal exit that the hook deadline cuts short, the status is 1: the code `main`
//!   chose is not known at that point.
//! - A signal ignored when the handlers are installed (`nohup`, `trap '' HUP`, a background job)
//!   stays ignored: the program was told not to react to it.
//! - Hooks belong to the process that registered them: a child created by `fork` without
//!   `exec` does not run them (see above). The state it inherited stays allocated in the
//!   child (a few hundred bytes): it is never dropped there on purpose.
//! - A process running as PID 1 in a container ignores signals whose action is the default;
//!   after the hooks such a process ends with `_exit(128 + signal)`, the status a shell reports
//!   for "killed by signal".
//! - In notify mode a forced exit (grace period or hook deadline expired, or a repeated signal
//!   with [`ShutdownPolicy::force_on_repeat`]) ends the process without unwinding the other
//!   threads, as any forced exit must.
//!
//! # Portability
//!
//! - **Linux, macOS and the other unix systems** share one implementation (above). safe_kill
//!   waits on pidfds on Linux and kqueue on macOS and the BSDs. The process tests run on Linux
//!   only; for macOS and FreeBSD, CI only compiles and lints the code.
//! - **Windows**: a console control handler takes Ctrl-C (reported as `Signal(2)`),
//!   Ctrl-Break (`Signal(21)`, SIGBREAK, with [`ConfigFlag::SIGBREAK`]) and the close, logoff
//!   and shutdown events ([`ExitReason::ConsoleEvent`], by [`ConfigFlag`]). Windows runs the
//!   handler on a thread of its own, and the hooks run right there. After a handled event the
//!   process ends with `STATUS_CONTROL_C_EXIT` (0xC000013A), as Windows' own default handler
//!   would; a parent sees that status. Caveats:
//!   - For close, logoff and shutdown Windows gives the process a fixed time (about 5 s for a
//!     closing console window, 5–20 s at logoff and shutdown) and then ends it whatever it is
//!     doing: keep such hooks short. The handler keeps its thread until the hooks are done,
//!     so they are not cut short earlier.
//!   - Logoff and shutdown come as console events only to processes that never loaded
//!     `user32` (safe-exit loads it); the others get `WM_QUERYENDSESSION`/`WM_ENDSESSION`,
//!     which a hidden window of safe-exit's answers, created a moment after [`config`]: the
//!     hooks run once either way. A process that is a service ([`run_service`]) ignores a
//!     logoff, which Windows sends it whenever any user logs off.
//!   - `std::process::exit` on Windows calls `ExitProcess` directly and skips the C runtime's
//!     exit handlers, so the hooks run when `main` returns but **not** on
//!     `std::process::exit`; return an `ExitCode` from `main`, or call
//!     [`request_shutdown`] with the code.
//!   - SIGTERM exists on Windows only for a process that raises it itself: no other process
//!     can send it.
//!   - [`ConfigFlag::AUTO_CREATE_CONSOLE`] and safe_kill's visit to another process's console
//!     change the process's console, which makes Windows forget console handlers registered
//!     by other code with `SetConsoleCtrlHandler`; safe-exit registers its own again.
//! - Other platforms compile; there [`config`] and [`try_register`] return
//!   [`Error::Install`], and hooks registered with [`register`] never run.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod command;
mod config;
mod ending;
mod kill;
mod own;
mod pid;
mod shutdown;
mod signal;
mod stages;
mod state;
mod sys;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The README's examples, compiled as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

pub use command::CommandExt;
pub use config::{ConfigFlag, CONFIG_CTRL_ALL, DEFAULT_CONFIG};
pub use kill::{safe_kill, safe_kill_all, safe_kill_with, KillError, KillOptions, KillOutcome};
#[doc(hidden)]
pub use own::binding as __binding;
pub use own::own;
pub use pid::Pid;
pub use shutdown::{ShutdownPhase, ShutdownPolicy, ShutdownSignal};
pub use signal::Signal;
/// The benchmark's stage timestamps (feature `stage-timestamps`; not part of the API).
#[cfg(feature = "stage-timestamps")]
#[doc(hidden)]
pub use stages::read as __stage_timestamps;

/// Why the process is ending, as seen by the hooks through [`exit_reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitReason {
    /// `main` returned or [`std::process::exit`] was called.
    Exit,
    /// A termination signal arrived (e.g. [`Signal::TERM`]). After the hooks the process ends
    /// by this same signal.
    Signal(Signal),
    /// The program called [`request_shutdown`] with this exit code.
    Requested(i32),
    /// Windows: a console event that is not a signal, `CTRL_CLOSE_EVENT` (2),
    /// `CTRL_LOGOFF_EVENT` (5) or `CTRL_SHUTDOWN_EVENT` (6). Ctrl-C and Ctrl-Break are reported
    /// as `Signal(Signal::INT)` and `Signal(Signal::BREAK)`, as the C runtime names them.
    ConsoleEvent(u32),
    /// Windows, under [`run_service`]: the service control manager asked the service to stop,
    /// with `SERVICE_CONTROL_STOP` (1), `SERVICE_CONTROL_SHUTDOWN` (5) or
    /// `SERVICE_CONTROL_PRESHUTDOWN` (15).
    ServiceControl(u32),
}

/// Errors from [`config`] and [`try_register`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`config`] was called with flags different from those already in force. The signals are
    /// chosen once per process, before the first [`register`] (which installs
    /// [`ConfigFlag::DEFAULT`] if [`config`] was not called).
    #[error(
        "safe-exit is already configured with {current:?}, so {requested:?} cannot be applied; \
         call config() once, before the first register()"
    )]
    AlreadyConfigured {
        /// The flags in force.
        current: ConfigFlag,
        /// The flags asked for.
        requested: ConfigFlag,
    },
    /// The signal handlers or the watcher thread could not be installed; the OS error is the
    /// `source()`.
    #[error("safe-exit could not install its signal handlers")]
    Install(#[source] std::io::Error),
}

/// A registered hook, or an owned child ([`own`]), to remove it with [`Handle::unregister`].
///
/// Dropping a `Handle` does **not** remove the hook or disown the child:
/// `safe_exit::register(f);` on its own is the common use.
#[derive(Debug)]
pub struct Handle {
    id: u64,
    /// The process that registered the hook: a handle that crossed a `fork` removes nothing.
    pid: u32,
}

impl Handle {
    /// Removes the hook, or disowns the child: it will not be stopped when this process ends.
    /// Returns `true` if it was still registered, `false` if it already ran (or is running;
    /// for a child: it is being or was stopped), or was registered in a parent process before
    /// a `fork`.
    pub fn unregister(self) -> bool {
        self.pid == sys::imp::process_id() && ending::unregister(self.id)
    }
}

/// Registers `hook` to run exactly once when the process ends, and installs
/// [`ConfigFlag::DEFAULT`] if [`config`] was not called.
///
/// Hooks run newest first (LIFO, like `atexit`), on an ordinary thread, never in a signal
/// handler. See the [crate docs](crate) for when they run and when they cannot.
///
/// # Errors
///
/// None are returned: if safe-exit cannot set itself up (a thread cannot be started, or the
/// platform is unsupported), the problem is reported once on stderr, and the hooks cannot
/// run. Use [`try_register`] to handle that case yourself.
///
/// # Example
///
/// ```no_run
/// let handle = safe_exit::register(|| println!("cleanup"));
/// // Changed our mind:
/// assert!(handle.unregister());
/// ```
pub fn register<F: FnOnce() + Send + 'static>(hook: F) -> Handle {
    register_named(std::any::type_name::<F>(), hook)
}

/// Like [`register`], with a name that reports about the hook use (a panic, an expired
/// [hook deadline](ShutdownPolicy::hook_deadline)). [`register`] names a hook by its closure
/// type, such as `my_service::main::{{closure}}`.
pub fn register_named<F: FnOnce() + Send + 'static>(
    name: impl Into<Cow<'static, str>>,
    hook: F,
) -> Handle {
    let handle = Handle {
        id: ending::register(hook_of(name.into(), hook)),
        pid: sys::imp::process_id(),
    };
    install_default_or_warn();
    handle
}

/// Installs [`ConfigFlag::DEFAULT`] unless something is configured; a failure is reported
/// once on stderr.
fn install_default_or_warn() {
    if let Err(e) = ending::install(ConfigFlag::DEFAULT, false) {
        // Once per process image. Not a `Once`: one left half-run by a thread of the parent
        // at the moment of `fork` would block a forked child for good.
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::AcqRel) {
            sys::imp::report(&format!(
                "{}; exit hooks cannot run",
                ending::with_causes(&e)
            ));
        }
    }
}

fn hook_of<F: FnOnce() + Send + 'static>(name: Cow<'static, str>, hook: F) -> state::Hook {
    state::Hook {
        name,
        run: Box::new(hook),
    }
}

/// Like [`register`], but returns the error if the signal handlers cannot be installed.
///
/// # Errors
///
/// [`Error::Install`] if a handler or the watcher thread cannot be set up. The hook is not
/// registered then.
pub fn try_register<F: FnOnce() + Send + 'static>(hook: F) -> Result<Handle, Error> {
    try_register_named(std::any::type_name::<F>(), hook)
}

/// Like [`register_named`], but returns the error if the signal handlers cannot be installed.
///
/// # Errors
///
/// As [`try_register`].
pub fn try_register_named<F: FnOnce() + Send + 'static>(
    name: impl Into<Cow<'static, str>>,
    hook: F,
) -> Result<Handle, Error> {
    ending::install(ConfigFlag::DEFAULT, false)?;
    Ok(Handle {
        id: ending::register(hook_of(name.into(), hook)),
        pid: sys::imp::process_id(),
    })
}

/// Chooses which signals and console events run the hooks; call it before the first
/// [`register`]. SIGINT and SIGTERM are always handled.
///
/// Calling it again with the same flags is harmless (also from inside a hook).
///
/// # Errors
///
/// - [`Error::AlreadyConfigured`] if a different configuration is already in force, including
///   the [`ConfigFlag::DEFAULT`] that [`register`] installs when `config` was not called first.
/// - [`Error::Install`] if a handler or the watcher thread cannot be set up.
///
/// # Example
///
/// ```no_run
/// use safe_exit::{config, ConfigFlag};
/// // Leave SIGQUIT and SIGHUP to their default actions.
/// config(ConfigFlag::empty())?;
/// # Ok::<(), safe_exit::Error>(())
/// ```
pub fn config(flags: ConfigFlag) -> Result<(), Error> {
    ending::install(flags, true)
}

/// Why the process is ending, once the hooks have been triggered; `None` before that.
///
/// Meant for hooks: a hook can, for example, skip a slow flush when the process is being
/// interrupted from the keyboard.
///
/// ```no_run
/// use safe_exit::{ExitReason, Signal};
/// safe_exit::register(|| match safe_exit::exit_reason() {
///     Some(ExitReason::Signal(Signal::INT)) => eprintln!("interrupted: skipping the slow flush"),
///     Some(ExitReason::Signal(sig)) => eprintln!("stopping on signal {sig}"),
///     _ => eprintln!("stopping"),
/// });
/// ```
pub fn exit_reason() -> Option<ExitReason> {
    ending::exit_reason()
}

/// Chooses what a termination signal does in this process: run the hooks and end at once
/// ([`ShutdownPolicy::exit`], the default), or ask the program to drain and return from `main`
/// ([`ShutdownPolicy::notify`]). Installs [`ConfigFlag::DEFAULT`] if [`config`] was not called, so
/// call [`config`] first to choose other signals. It may be called again to change the policy.
///
/// # Errors
///
/// [`Error::Install`] if the signal handlers cannot be set up.
///
/// # Example
///
/// ```no_run
/// use std::time::Duration;
/// use safe_exit::{set_shutdown_policy, wait_for_shutdown, ShutdownPolicy};
///
/// set_shutdown_policy(ShutdownPolicy::notify().grace_period(Duration::from_secs(20)))?;
/// safe_exit::register(|| println!("hooks run after main returns"));
/// let reason = wait_for_shutdown(); // SIGTERM, SIGINT, ... or request_shutdown()
/// println!("draining because of {reason:?}");
/// // ... stop accepting, finish in-flight work ...
/// # Ok::<(), safe_exit::Error>(())
/// ```
pub fn set_shutdown_policy(policy: ShutdownPolicy) -> Result<(), Error> {
    ending::set_policy(policy);
    ending::install(ConfigFlag::DEFAULT, false)
}

/// Whether shutdown has been requested (by a signal, a console event or
/// [`request_shutdown`]). Cheap enough to check between units of work. False during a
/// [pre-drain delay](ShutdownPolicy::pre_drain_delay): the program keeps serving then.
pub fn shutdown_requested() -> bool {
    ending::requested().is_some()
}

/// Where the process is in its shutdown: [`Running`](ShutdownPhase::Running),
/// [`Announced`](ShutdownPhase::Announced) (a SIGTERM arrived, the
/// [pre-drain delay](ShutdownPolicy::pre_drain_delay) runs),
/// [`Draining`](ShutdownPhase::Draining) (the waiters are awake), or
/// [`Ending`](ShutdownPhase::Ending) (the exit hooks run). A readiness probe should fail from
/// `Announced` on.
///
/// ```no_run
/// use safe_exit::{shutdown_phase, ShutdownPhase};
///
/// // GET /ready
/// let status = if shutdown_phase() == ShutdownPhase::Running { 200 } else { 503 };
/// # let _ = status;
/// ```
pub fn shutdown_phase() -> ShutdownPhase {
    ending::phase()
}

/// Runs `service_main` as the Windows service `name` (the name it was installed under,
/// `sc create NAME binPath= ...`), and returns its exit code once the service has stopped.
/// Call it first thing in `main`, and return from `main` after it.
///
/// `service_main` is the service: it runs until shutdown is requested (wait for it with
/// [`wait_for_shutdown`] or [`shutdown_signal`]), drains, and returns the exit code. The
/// service control manager's STOP, PRESHUTDOWN and SHUTDOWN request the shutdown
/// ([`ExitReason::ServiceControl`]) as SIGTERM does, through the same [`ShutdownPolicy`]: in
/// notify mode the waiters wake and the grace period runs; in exit mode the hooks run at once
/// and the process ends. Meanwhile the service reports `SERVICE_STOP_PENDING` every second
/// with a new checkpoint and a wait hint of what the policy still allows (the rest of the
/// grace period and the hook deadline). When `service_main` returns, the exit hooks run and
/// the service reports `SERVICE_STOPPED` with the code (0, or `ERROR_SERVICE_SPECIFIC_ERROR`
/// with the code as the service-specific code); a process ended by the grace period or the
/// hook deadline reports `SERVICE_STOPPED` before it ends.
///
/// Started outside the service control manager (from a console, for debugging), and on every
/// other platform, it runs `service_main` as an ordinary program and returns its code (under
/// systemd, see [`notify_ready`]).
///
/// # Errors
///
/// Windows: when the service control manager refuses the service (an invalid `name`, or its
/// handler cannot be registered).
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     safe_exit::set_shutdown_policy(
///         safe_exit::ShutdownPolicy::notify()
///             .grace_period(std::time::Duration::from_secs(20))
///             .hook_deadline(std::time::Duration::from_secs(5)),
///     )
///     .expect("signal handling");
///     let code = safe_exit::run_service("my-service", || {
///         // ... start serving ...
///         safe_exit::wait_for_shutdown();
///         // ... drain ...
///         0
///     });
///     std::process::ExitCode::from(code.map_or(1, |c| c as u8))
/// }
/// ```
pub fn run_service<F>(name: &str, service_main: F) -> std::io::Result<i32>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    ending::run_service(name, Box::new(service_main))
}

/// Tells systemd that the service is ready (`READY=1` to `$NOTIFY_SOCKET`, for
/// `Type=notify` units). `Ok(false)` when `$NOTIFY_SOCKET` is not set (not run by systemd as
/// a notify service; always on Windows), `Ok(true)` once sent.
///
/// From then on, when shutdown starts, safe-exit also sends `STOPPING=1` and an
/// `EXTEND_TIMEOUT_USEC=` that covers what the [`ShutdownPolicy`] still allows (the grace
/// period, counted from the request, then the hook deadline, and a second's margin), so that
/// `TimeoutStopSec` does not SIGKILL a cleanup that is on schedule; with no grace period or no
/// hook deadline the time is unbounded and nothing is extended. (A process systemd started
/// itself, `$SYSTEMD_EXEC_PID`, is told so without calling this.)
///
/// # Errors
///
/// When `$NOTIFY_SOCKET` names no socket this process can send to (not a path or `@name`,
/// gone, no permission), or the manager's queue is full.
///
/// ```no_run
/// safe_exit::set_shutdown_policy(
///     safe_exit::ShutdownPolicy::notify()
///         .grace_period(std::time::Duration::from_secs(20))
///         .hook_deadline(std::time::Duration::from_secs(5)),
/// )?;
/// // ... bind sockets, load configuration ...
/// safe_exit::notify_ready()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn notify_ready() -> std::io::Result<bool> {
    ending::notify_ready()
}

/// Blocks until shutdown is requested and returns what requested it.
///
/// In exit mode this returns too, while the hooks run, just before the process ends.
pub fn wait_for_shutdown() -> ExitReason {
    match ending::wait(None) {
        Some(reason) => reason,
        None => unreachable!("a wait without a deadline only returns with a reason"),
    }
}

/// Blocks until shutdown is requested or `timeout` passes; `None` on timeout.
pub fn wait_for_shutdown_timeout(timeout: Duration) -> Option<ExitReason> {
    ending::wait(Some(timeout))
}

/// A future that completes with the reason when shutdown is requested. Runtime-agnostic: it
/// works under tokio, async-std or a plain executor such as `pollster`.
///
/// ```no_run
/// // With tokio, for example in `tokio::select!` beside the accept loop.
/// async fn serve_until_shutdown() {
///     let reason = safe_exit::shutdown_signal().await;
///     println!("shutting down: {reason:?}");
/// }
/// # let _ = serve_until_shutdown;
/// ```
pub fn shutdown_signal() -> ShutdownSignal {
    ShutdownSignal::new()
}

/// Requests shutdown from the program itself (a worker thread hit a fatal error, an admin
/// endpoint asked to stop), through the same path as a termination signal:
///
/// - in notify mode it wakes the waiters and starts the grace period, and returns; the
///   hooks run when `main` returns (or when the grace period expires, and the process then
///   ends with `code`);
/// - in exit mode it runs the hooks on the calling thread and ends the process with `code`
///   (`_exit`, after the hooks); it does not return.
///
/// Only the first request (or signal) counts; later ones return at once.
pub fn request_shutdown(code: i32) {
    ending::request_shutdown(code)
}

/// Ends the process by the signal `sig`, as if it had arrived with no handler, so that a parent
/// (a shell, a supervisor) sees "killed by `sig`". The exit hooks are **not** run: this is
/// for a program that did its own cleanup after catching a signal (with `tokio::signal`, say)
/// and now wants to end the way an unhandled signal would.
///
/// Unix: restores the default action, unblocks `sig` and raises it (glibc manual, "Handlers
/// That Terminate the Process"); if that does not end the process (PID 1 of a PID namespace,
/// or a signal whose default action is not to terminate), `_exit(128 + sig)`, the status a
/// shell reports for "killed by signal". Windows: `ExitProcess(STATUS_CONTROL_C_EXIT)`, what an
/// unhandled Ctrl-C does. Rust's stdout buffer is flushed first.
///
/// ```no_run
/// // ... a SIGINT was caught and handled by the program itself ...
/// safe_exit::end_by_signal(safe_exit::Signal::INT); // the shell sees the command interrupted
/// ```
pub fn end_by_signal(sig: Signal) -> ! {
    ending::end_now(ExitReason::Signal(sig))
}
