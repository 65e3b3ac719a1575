//! Exit-hook primitives on unix: the signal handler and the watcher thread. The `atexit`
//! entries and the ways to end the process are in `exit.rs`.
//!
//! A leaf: nothing here calls above `sys`. [`install`] takes the two functions the core wants
//! called (by the watcher thread, and at a normal exit) and keeps them as plain function
//! pointers.
//!
//! **The handler** does only async-signal-safe work: `getpid`, atomics, one `write(2)` to a
//! non-blocking pipe, and, when it must end the process, `sigaction`, `pthread_sigmask`,
//! `raise` and `_exit`. It saves and restores `errno`. Only the first signal writes, so a storm
//! costs one write; the watcher thread wakes and hands that signal to the core.
//!
//! **Which handler is ours.** A signal whose action was the default when we came to it gets
//! our handler through a plain `sigaction` (nothing to chain to); one that already had a
//! handler gets an action in `signal-hook-registry`, which calls the earlier handler first.
//! Either way a handler installed later (`ctrlc`, a raw `sigaction`, an interpreter) replaces
//! ours in the kernel and owns the signal: ours is not called, and nothing else of ours looks
//! at the signal. One installed later through `signal-hook-registry` chains to ours, and both
//! run.
//!
//! **fork.** A child forked without exec inherits the handler but not the watcher. There the
//! handler takes the signal's default action if it is still the process's handler for it (the
//! child must never become unkillable), and does nothing if the child or its parent has put
//! another handler over it (that handler owns the signal). Once the child sets safe-exit up
//! itself it gets a watcher and a pipe of its own; the inherited descriptors are left alone
//! (they are not the child's to close).

use std::io;
use std::sync::atomic::Ordering;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicU8};

use super::exit::{
    at_exit, current_thread, die_by_signal, register_final, FINAL_REGISTERED, REGISTER_FINAL,
};
use crate::{ConfigFlag, ExitReason, Signal};

/// What the watcher thread reports to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A termination request: the first termination signal that our handler received.
    Reason(ExitReason),
    /// [`wake`] was called.
    Wake,
}

/// The process whose watcher reads the pipe. In any other process (a child forked without
/// exec, before it sets itself up) the handler acts as described in the module docs.
static OWNER_PID: AtomicI32 = AtomicI32::new(0);
/// Write end of the wake-up pipe (non-blocking), or -1.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The first termination signal received, or 0.
static FIRST_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// What the handler does with a signal: see [`NORMAL`], [`STARTED`], [`ENDING`].
static MODE: AtomicU8 = AtomicU8::new(NORMAL);
/// Nothing has started: the first signal wakes the watcher.
const NORMAL: u8 = 0;
/// Shutdown was requested or the hooks run: a signal is a repeat.
const STARTED: u8 = 1;
/// The hooks are done and the process is ending: a signal takes its default action.
const ENDING: u8 = 2;
/// A repeated signal ends the process at once.
static FORCE_ON_REPEAT: AtomicBool = AtomicBool::new(false);
/// Bit `n`: our handler is installed for signal `n` (installations survive `fork`).
static INSTALLED: AtomicU64 = AtomicU64::new(0);
/// Bit `n`: our handler for signal `n` was installed with a plain `sigaction`.
static PLAIN: AtomicU64 = AtomicU64::new(0);
/// Bit `n`: signal `n` is one the owner's configuration handles. An installed handler for
/// another signal (inherited over `fork` from a parent configured otherwise) is not ours to
/// act on.
static ACTIVE: AtomicU64 = AtomicU64::new(0);
/// The core's functions: the watcher's and the normal exit's.
static ON_EVENT: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
pub(super) static ON_EXIT: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
/// The watcher thread's id ([`current_thread`]) in the owner process.
static WATCHER: AtomicU64 = AtomicU64::new(0);
/// Whether [`at_exit`] is registered with `atexit` (registrations survive `fork`).
static AT_EXIT_REGISTERED: AtomicBool = AtomicBool::new(false);

/// The signals that `flags` selects here: SIGINT and SIGTERM always, SIGQUIT and SIGHUP by
/// flag. The Windows-only flags mean nothing on unix.
pub(crate) fn handled_signals(flags: ConfigFlag) -> Vec<i32> {
    let mut sigs = vec![libc::SIGINT, libc::SIGTERM];
    if flags.contains(ConfigFlag::SIGQUIT) {
        sigs.push(libc::SIGQUIT);
    }
    if flags.contains(ConfigFlag::SIGHUP) {
        sigs.push(libc::SIGHUP);
    }
    sigs
}

/// Sets up, for the calling process: a watcher thread that calls `on_event`, the handlers for
/// the signals of `flags`, and `on_exit` at a normal exit. Called once per process (again in a
/// child forked without exec). On error nothing of this process's is left half set up (an
/// inherited pipe or handler is never touched).
pub(crate) fn install(flags: ConfigFlag, on_event: fn(Event), on_exit: fn()) -> io::Result<()> {
    ON_EVENT.store(on_event as *mut (), Ordering::Release);
    ON_EXIT.store(on_exit as *mut (), Ordering::Release);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };

    // The signals to handle: those already ours (installed before a fork), and those not
    // ignored when we come to them (`nohup`, background jobs): an ignored signal stays ignored.
    let mut sigs = Vec::new();
    let mut active = 0;
    for sig in handled_signals(flags) {
        if INSTALLED.load(Ordering::Acquire) & bit(sig) != 0 {
            active |= bit(sig);
            continue;
        }
        let action = action(sig)?;
        if action != libc::SIG_IGN {
            sigs.push((sig, action == libc::SIG_DFL));
            active |= bit(sig);
        }
    }

    let (read_fd, write_fd) = wake_pipe()?;
    WATCHER.store(0, Ordering::Release);
    if let Err(e) = std::thread::Builder::new()
        .name("safe-exit".into())
        .spawn(move || watch(read_fd))
    {
        // SAFETY: both descriptors were just created here and nothing else has them.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
        return Err(e);
    }
    FIRST_SIGNAL.store(0, Ordering::Release);
    MODE.store(NORMAL, Ordering::Release);
    ACTIVE.store(active, Ordering::Release);
    WAKE_FD.store(write_fd, Ordering::Release);
    // Published last: a handler that sees our pid also sees the pipe.
    OWNER_PID.store(pid, Ordering::Release);

    for (sig, default_before) in sigs {
        if default_before {
            install_plain(sig)?;
            PLAIN.fetch_or(bit(sig), Ordering::AcqRel);
        } else {
            // SAFETY: `on_signal` is async-signal-safe (see its docs), and `sig` is not one
            // of the signals that signal-hook-registry forbids.
            unsafe { signal_hook_registry::register(sig, move || on_signal(sig)) }?;
        }
        INSTALLED.fetch_or(bit(sig), Ordering::AcqRel);
    }

    if !AT_EXIT_REGISTERED.swap(true, Ordering::AcqRel) {
        // The entry that ends the process after everything else at exit is normally
        // registered at load time (`REGISTER_FINAL`); if that did not happen, now is the
        // next best time.
        std::hint::black_box(&REGISTER_FINAL);
        if !FINAL_REGISTERED.load(Ordering::Acquire) {
            register_final();
        }
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that lives as long as the program.
        if unsafe { libc::atexit(at_exit) } != 0 {
            return Err(io::Error::other("atexit refused to register the exit hook"));
        }
    }
    Ok(())
}

fn bit(sig: i32) -> u64 {
    1u64.checked_shl(sig as u32).unwrap_or(0)
}

/// `sig`'s current action: `SIG_DFL`, `SIG_IGN` or a handler.
fn action(sig: i32) -> io::Result<libc::sighandler_t> {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action only queries.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid signal number and out-pointer.
    if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old.sa_sigaction)
}

/// Makes [`plain_handler`] the action for `sig`.
fn install_plain(sig: i32) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid; the fields set below make it a proper SA_SIGINFO
    // action whose handler lives for the whole program.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = plain_handler as *const () as libc::sighandler_t;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: `sa.sa_mask` is a valid sigset; `sig` is a valid signal number.
    let rc = unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec pipe whose write end never blocks: returns (read, write).
fn wake_pipe() -> io::Result<(i32, i32)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for (fd, flags) in [(fds[0], 0), (fds[1], libc::O_NONBLOCK)] {
        // SAFETY: fcntl on descriptors we own.
        let ok = unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0
                && libc::fcntl(fd, libc::F_SETFL, flags) == 0
        };
        if !ok {
            let e = io::Error::last_os_error();
            // SAFETY: closing the descriptors we just created.
            unsafe {
                libc::close(fds[0]);
                libc::close(fds[1]);
            }
            return Err(e);
        }
    }
    Ok((fds[0], fds[1]))
}

/// The handler installed with a plain `sigaction`.
extern "C" fn plain_handler(sig: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let saved = errno();
    on_signal(sig);
    set_errno(saved);
}

/// The signal action. Async-signal-safe: `getpid`, atomics, `write`, `sigaction`, and to end
/// the process `pthread_sigmask`/`raise`/`_exit`. No allocation, no lock, no panic.
fn on_signal(sig: i32) {
    // SAFETY: getpid is async-signal-safe.
    if unsafe { libc::getpid() } != OWNER_PID.load(Ordering::Acquire)
        || ACTIVE.load(Ordering::Acquire) & bit(sig) == 0
    {
        // No watcher of ours runs here (a child forked without exec), or this process's
        // configuration does not handle this signal (a handler inherited from a parent
        // configured otherwise). If ours is still the process's handler for this signal,
        // nothing else handles it: take the default action rather than make the process
        // unkillable. Otherwise a handler installed after ours (which called us) owns it.
        let ours_on_top = PLAIN.load(Ordering::Acquire) & bit(sig) != 0
            && action(sig).is_ok_and(|a| a == plain_handler as *const () as libc::sighandler_t);
        if ours_on_top {
            die_by_signal(sig);
        }
        return;
    }
    match MODE.load(Ordering::Acquire) {
        // The hooks are done: nothing is left to protect, so the signal ends the process at
        // once, as it would without safe-exit.
        ENDING => die_by_signal(sig),
        mode => {
            let first = FIRST_SIGNAL
                .compare_exchange(0, sig, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok();
            if !first || mode == STARTED {
                // A repeat: shutdown was already requested or the hooks run.
                if FORCE_ON_REPEAT.load(Ordering::Acquire) {
                    die_by_signal(sig);
                }
                return;
            }
            let byte = 1u8;
            // SAFETY: write(2) is async-signal-safe; the fd is our non-blocking pipe. Nothing
            // useful can be done about an error here (the pipe holds at most a few bytes).
            unsafe {
                libc::write(
                    WAKE_FD.load(Ordering::Acquire),
                    (&byte as *const u8).cast(),
                    1,
                )
            };
        }
    }
}

/// Wakes the watcher, which calls the core with [`Event::Wake`]. False if this process has no
/// watcher.
pub(crate) fn wake() -> bool {
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } != OWNER_PID.load(Ordering::Acquire) {
        return false;
    }
    let byte = 2u8;
    // SAFETY: a one-byte write from a local to our non-blocking pipe.
    let n = unsafe {
        libc::write(
            WAKE_FD.load(Ordering::Acquire),
            (&byte as *const u8).cast(),
            1,
        )
    };
    n == 1
}

/// The watcher thread of this process, if it has one: its id, or 0 while it has not yet run
/// (then it has run no hook either, and reads the pipe as soon as it is scheduled).
pub(crate) fn watcher_thread() -> Option<u64> {
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } != OWNER_PID.load(Ordering::Acquire) {
        return None;
    }
    Some(WATCHER.load(Ordering::Acquire))
}

/// From now on a termination signal is a repeat (shutdown was requested, or the hooks run).
pub(crate) fn set_started() {
    let _ = MODE.compare_exchange(NORMAL, STARTED, Ordering::AcqRel, Ordering::Relaxed);
}

/// From now on a termination signal ends the process at once (the hooks are done).
pub(crate) fn set_ending() {
    MODE.store(ENDING, Ordering::Release);
}

/// Whether a repeated termination signal ends the process at once.
pub(crate) fn set_force_on_repeat(force: bool) {
    FORCE_ON_REPEAT.store(force, Ordering::Release);
}

/// The watcher thread: sleeps in `read(2)` on the pipe, which the handler and [`wake`] write,
/// and hands the first signal (once) and each wake-up to the core.
fn watch(pipe: i32) {
    WATCHER.store(current_thread(), Ordering::Release);
    ask_for_short_slice();
    let mut handed = false;
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into a local buffer from our pipe.
        let n = unsafe { libc::read(pipe, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if n == 0 {
            return;
        }
        let got = &buf[..n as usize];
        let event = ON_EVENT.load(Ordering::Acquire);
        if event.is_null() {
            continue;
        }
        // SAFETY: ON_EVENT only ever holds a `fn(Event)` (stored by `install`).
        let event = unsafe { std::mem::transmute::<*mut (), fn(Event)>(event) };
        if !handed && got.contains(&1) {
            handed = true;
            let sig = FIRST_SIGNAL.load(Ordering::Acquire);
            if sig != 0 {
                event(Event::Reason(ExitReason::Signal(Signal::from_platform(
                    sig,
                ))));
            }
        }
        if got.contains(&2) {
            event(Event::Wake);
        }
    }
}

/// Linux 6.12 and later: asks the scheduler for the shortest time slice (100 µs) for the
/// calling thread, keeping its policy and nice value. Under EEVDF a thread whose slice is
/// shorter than the running thread's may preempt it when it wakes, instead of waiting for that
/// slice (3 ms and more) to run out: the watcher then starts the hooks at once even when every
/// CPU is busy, for example running a storm of signal handlers. No privilege is needed and the
/// thread's share of CPU time is unchanged; older kernels ignore the request, and a failure (a
/// seccomp filter) leaves the default slice.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn ask_for_short_slice() {
    /// `struct sched_attr`, version 0 (Linux 3.14).
    #[repr(C)]
    #[derive(Default)]
    struct SchedAttr {
        size: u32,
        sched_policy: u32,
        sched_flags: u64,
        sched_nice: i32,
        sched_priority: u32,
        sched_runtime: u64,
        sched_deadline: u64,
        sched_period: u64,
    }
    const SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;
    let mut attr = SchedAttr::default();
    // SAFETY: sched_getattr(0, attr, size, 0) fills a struct of that size for the calling
    // thread.
    if unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, SIZE, 0) } != 0
        || attr.sched_policy != libc::SCHED_OTHER as u32
    {
        // Real-time, batch or idle threads keep what they were given.
        return;
    }
    attr.size = SIZE;
    attr.sched_runtime = 100_000;
    // SAFETY: sched_setattr(0, attr, 0) on the calling thread with the attributes just read.
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) };
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn ask_for_short_slice() {}

/// Writes one line to stderr with `write(2)` itself: no lock (another thread may hold
/// stderr's while blocked on a full pipe), never a panic.
pub(crate) fn report(msg: &str) {
    let mut line = Vec::with_capacity(msg.len() + 1);
    line.extend_from_slice(msg.as_bytes());
    line.push(b'\n');
    let mut rest = &line[..];
    while !rest.is_empty() {
        // SAFETY: writing from a live buffer of `rest.len()` bytes.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n > 0 {
            rest = &rest[n as usize..];
        } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            return;
        }
    }
}

#[cfg(any(target_os = "illumos", target_os = "solaris"))]
use libc::___errno as errno_location;
#[cfg(any(target_os = "android", target_os = "netbsd", target_os = "openbsd"))]
use libc::__errno as errno_location;
#[cfg(any(target_os = "linux", target_os = "emscripten", target_os = "hurd"))]
use libc::__errno_location as errno_location;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "visionos",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
use libc::__error as errno_location;

pub(super) fn errno() -> i32 {
    // SAFETY: the thread's errno location is always valid.
    unsafe { *errno_location() }
}

fn set_errno(value: i32) {
    // SAFETY: as above.
    unsafe { *errno_location() = value };
}
