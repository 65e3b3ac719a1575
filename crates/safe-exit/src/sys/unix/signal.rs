//! Exit-hook primitives on unix: the signal handler and the watcher thread. The `atexit`
//! entries and the ways to end the process are in `exit.rs`.
//!
//! A leaf: nothing here calls above `sys`. [`install`] takes the two functions the core wants
//! called (by the watcher thread, and at a normal exit) and keeps them as plain function
//! pointers.
//!
//! **The handler** does only async-signal-safe work: `getpid`, atomics, one wake-up of the
//! watcher (a futex wake on Linux, a `write(2)` to a non-blocking pipe elsewhere), and, when it
//! must end the process, `sigaction`, `pthread_sigmask`, `raise` and `_exit`. It saves and
//! restores `errno`. Only the first signal wakes the watcher, so a storm costs one wake-up; the
//! watcher thread wakes and hands that signal to the core.
//!
//! **The watcher** blocks the handled signals while it waits and while the core works on what
//! it handed over, so that the kernel gives them to the other threads: in a storm it would
//! otherwise pick the watcher as soon as the thread taking the storm is preempted by it, and
//! the watcher would spend its time in our handler instead of starting the hooks. Before a
//! hook runs on it, [`unmask_for_hooks`] gives it the program's usual mask back (a child that a
//! hook starts must not inherit blocked termination signals).
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
//! itself it gets a watcher of its own (and, outside Linux, a pipe of its own; the inherited
//! descriptors are left alone: they are not the child's to close).

use std::cell::Cell;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8};

use super::exit::{
    at_exit, current_thread, die_by_signal, register_final, FINAL_REGISTERED, REGISTER_FINAL,
};
use crate::stages::{self, Stage};
use crate::{ConfigFlag, ExitReason, Signal};

/// What the watcher thread reports to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A termination request: the first termination signal that our handler received.
    Reason(ExitReason),
    /// [`wake`] was called.
    Wake,
}

/// The process whose watcher answers the doorbell. In any other process (a child forked without
/// exec, before it sets itself up) the handler acts as described in the module docs.
static OWNER_PID: AtomicI32 = AtomicI32::new(0);
/// What the watcher is woken for: [`RING_SIGNAL`], [`RING_WAKE`] (bits). On Linux also the
/// futex the watcher sleeps on.
static DOORBELL: AtomicU32 = AtomicU32::new(0);
/// The handler received the first termination signal ([`RECEIVED`] says which).
const RING_SIGNAL: u32 = 1;
/// [`wake`] was called.
const RING_WAKE: u32 = 2;
/// Outside Linux: the write end of the wake-up pipe (non-blocking), or -1.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Bit `n`: the watcher blocks signal `n` (see the module docs).
static WATCHER_BLOCKS: AtomicU64 = AtomicU64::new(0);
/// The first termination signal received, or 0.
static FIRST_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The signal the handler hands to the watcher (set just before it rings), or 0.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
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

    let doorbell = Doorbell::new()?;
    let blocked = handled_signals(flags)
        .into_iter()
        .filter(|&sig| active & bit(sig) != 0)
        .fold(0, |set, sig| set | bit(sig));
    WATCHER.store(0, Ordering::Release);
    FIRST_SIGNAL.store(0, Ordering::Release);
    RECEIVED.store(0, Ordering::Release);
    DOORBELL.store(0, Ordering::Release);
    WATCHER_BLOCKS.store(blocked, Ordering::Release);
    // On failure the doorbell is dropped with the closure (outside Linux: the pipe closed).
    std::thread::Builder::new()
        .name("safe-exit".into())
        .spawn(move || watch(doorbell))?;
    MODE.store(NORMAL, Ordering::Release);
    ACTIVE.store(active, Ordering::Release);
    // Published last: a handler that sees our pid also sees the doorbell.
    OWNER_PID.store(pid, Ordering::Release);

    for (sig, default_before) in sigs {
        if default_before {
            install_plain(sig)?;
            PLAIN.fetch_or(bit(sig), Ordering::AcqRel);
        } else {
            // SAFETY: `on_signal` is async-signal-safe (see its docs), and `sig` is not one
            // of the signals that signal-hook-registry forbids.
            unsafe {
                signal_hook_registry::register(sig, move || {
                    on_signal(sig);
                })
            }?;
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
#[cfg(not(any(target_os = "linux", target_os = "android")))]
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
extern "C" fn plain_handler(sig: libc::c_int, _: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let saved = errno();
    if on_signal(sig) {
        shield_watcher(ctx);
    }
    set_errno(saved);
}

/// A repeated signal (a storm, say) that lands on the watcher while it runs the hooks with the
/// program's mask: the watcher blocks the handled signals again from the handler's return on,
/// by adding them to the mask the kernel restores then, so that the rest of the storm goes to
/// the other threads instead of interrupting the hooks for every signal. The next hook gets
/// the usual mask back ([`unmask_for_hooks`]). Linux only (elsewhere nothing changes).
fn shield_watcher(ctx: *mut libc::c_void) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // Atomics and `gettid` only: no thread-local here (in a library loaded with `dlopen`
        // the first access from a thread may allocate). While the watcher blocks the signals
        // none can be on it, and the system call is skipped.
        if WATCHER_MASKED.load(Ordering::Acquire)
            || ctx.is_null()
            || current_thread() != WATCHER.load(Ordering::Acquire)
        {
            return;
        }
        WATCHER_MASKED.store(true, Ordering::Release);
        let blocked = WATCHER_BLOCKS.load(Ordering::Acquire);
        let uc = ctx.cast::<libc::ucontext_t>();
        for sig in 1..64 {
            if blocked & bit(sig) != 0 {
                // SAFETY: `ctx` is the ucontext the kernel passed to this SA_SIGINFO handler;
                // the mask in it is restored when the handler returns. sigaddset is
                // async-signal-safe.
                unsafe { libc::sigaddset(&mut (*uc).uc_sigmask, sig) };
            }
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = ctx;
}

/// The signal action. Async-signal-safe: `getpid`, atomics, a futex wake or `write`,
/// `sigaction`, and to end the process `pthread_sigmask`/`raise`/`_exit`. No allocation, no
/// lock, no panic. True for a repeat that it let pass (see [`shield_watcher`]).
fn on_signal(sig: i32) -> bool {
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
        return false;
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
                return true;
            }
            stages::stamp(Stage::Handler);
            RECEIVED.store(sig, Ordering::Release);
            ring(RING_SIGNAL);
            false
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
    ring(RING_WAKE);
    true
}

/// Sets `bits` in the doorbell and wakes the watcher. Async-signal-safe: an atomic and one
/// system call (`futex` or `write`), whose failure changes nothing for the caller.
fn ring(bits: u32) {
    DOORBELL.fetch_or(bits, Ordering::AcqRel);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    futex(libc::FUTEX_WAKE, 1);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let byte = 1u8;
        // SAFETY: a one-byte write from a local to our non-blocking pipe.
        unsafe {
            libc::write(
                WAKE_FD.load(Ordering::Acquire),
                (&byte as *const u8).cast(),
                1,
            )
        };
    }
}

/// `futex(2)` on the doorbell, private to this process, without timeout: `FUTEX_WAKE` (`val`:
/// how many to wake) or `FUTEX_WAIT` (`val`: the value it must still hold to sleep).
/// Async-signal-safe; an error (EAGAIN, EINTR) only makes the caller look at the doorbell.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn futex(op: i32, val: u32) {
    // SAFETY: a futex operation on a static word of this process; the timeout pointer is null
    // (ignored by FUTEX_WAKE) and nothing is written through a pointer.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            DOORBELL.as_ptr(),
            op | libc::FUTEX_PRIVATE_FLAG,
            val,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// What the watcher sleeps on: the doorbell's futex on Linux; elsewhere the read end of the
/// wake-up pipe (the write end is published in [`WAKE_FD`]).
struct Doorbell {
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    read_fd: i32,
}

/// Only when the watcher could not be started: its pipe is closed.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Drop for Doorbell {
    fn drop(&mut self) {
        let write_fd = WAKE_FD.swap(-1, Ordering::AcqRel);
        // SAFETY: both ends were created by `Doorbell::new` and nothing else has them.
        unsafe {
            libc::close(self.read_fd);
            libc::close(write_fd);
        }
    }
}

impl Doorbell {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn new() -> io::Result<Doorbell> {
        Ok(Doorbell {})
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn new() -> io::Result<Doorbell> {
        let (read_fd, write_fd) = wake_pipe()?;
        WAKE_FD.store(write_fd, Ordering::Release);
        Ok(Doorbell { read_fd })
    }

    /// Sleeps until the doorbell rings; returns and clears what it rang for. (Never returns to
    /// a watcher's caller: the watcher runs as long as the process.)
    fn wait(&self) -> u32 {
        loop {
            let bits = DOORBELL.swap(0, Ordering::AcqRel);
            if bits != 0 {
                return bits;
            }
            // Returns at once if the doorbell is no longer 0, and on a signal (EINTR).
            #[cfg(any(target_os = "linux", target_os = "android"))]
            futex(libc::FUTEX_WAIT, 0);
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            {
                let mut buf = [0u8; 64];
                // SAFETY: reading into a local buffer from our pipe; an error (EINTR) only
                // makes us look at the doorbell again.
                unsafe { libc::read(self.read_fd, buf.as_mut_ptr().cast(), buf.len()) };
            }
        }
    }
}

/// The watcher thread of this process, if it has one: its id, or 0 while it has not yet run
/// (then it has run no hook either, and answers the doorbell as soon as it is scheduled).
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

thread_local! {
    /// Whether the calling thread is the watcher (read outside signal handlers only).
    static IS_WATCHER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the watcher may block the handled signals now (true is always safe: the next
/// [`unmask_for_hooks`] unblocks them, blocked or not). Only the watcher and a handler running
/// on it write it.
static WATCHER_MASKED: AtomicBool = AtomicBool::new(false);

/// The watcher thread: sleeps until the doorbell rings, and hands the first signal our handler
/// received (once) and each wake-up to the core, with the handled signals blocked (see the
/// module docs).
fn watch(doorbell: Doorbell) {
    WATCHER.store(current_thread(), Ordering::Release);
    IS_WATCHER.set(true);
    ask_for_short_slice();
    warm_up();
    mask_watcher(true);
    let mut handed = false;
    loop {
        let bits = doorbell.wait();
        let woke = stages::now();
        let event = ON_EVENT.load(Ordering::Acquire);
        if event.is_null() {
            continue;
        }
        // SAFETY: ON_EVENT only ever holds a `fn(Event)` (stored by `install`).
        let event = unsafe { std::mem::transmute::<*mut (), fn(Event)>(event) };
        let sig = RECEIVED.load(Ordering::Acquire);
        if bits & RING_SIGNAL != 0 && !handed && sig != 0 {
            handed = true;
            stages::stamp_at(Stage::Watcher, woke);
            event(Event::Reason(ExitReason::Signal(Signal::from_platform(
                sig,
            ))));
            mask_watcher(true);
        }
        if bits & RING_WAKE != 0 {
            event(Event::Wake);
            mask_watcher(true);
        }
    }
}

/// Blocks (or unblocks) the handled signals on the calling thread, the watcher, and records it.
/// The record is set before unblocking and after blocking: a signal handled in between
/// ([`shield_watcher`]) may leave it true while the signals are unblocked, never false while
/// they are blocked.
fn mask_watcher(block: bool) {
    if !block {
        WATCHER_MASKED.store(false, Ordering::SeqCst);
    }
    // SAFETY: an all-zero sigset_t is valid to pass to sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid sigset and valid signal numbers.
    unsafe { libc::sigemptyset(&mut set) };
    let blocked = WATCHER_BLOCKS.load(Ordering::Acquire);
    for sig in 1..64 {
        if blocked & bit(sig) != 0 {
            // SAFETY: as above.
            unsafe { libc::sigaddset(&mut set, sig) };
        }
    }
    let how = if block {
        libc::SIG_BLOCK
    } else {
        libc::SIG_UNBLOCK
    };
    // SAFETY: a valid sigset; changes only the calling thread's mask.
    unsafe { libc::pthread_sigmask(how, &set, std::ptr::null_mut()) };
    if block {
        WATCHER_MASKED.store(true, Ordering::SeqCst);
    }
}

/// Before a hook runs on the calling thread: if it is the watcher, it gets the program's usual
/// signal mask back (a child the hook starts inherits it). Cheap on any other thread.
pub(crate) fn unmask_for_hooks() {
    let on_watcher = IS_WATCHER.try_with(Cell::get).unwrap_or(false);
    if on_watcher && WATCHER_MASKED.load(Ordering::Acquire) {
        mask_watcher(false);
    }
}

/// Faults in, before any signal, memory the watcher's path to the first hook touches for the
/// first time: stack pages of its own and a fresh page of its thread's heap arena. Each page
/// first touched after the signal costs a page fault on that path (microseconds in a virtual
/// machine). 40 KiB, resident from then on. (Populating the code around the core's entry point
/// too was measured: no gain beyond noise for 150 KiB more.)
fn warm_up() {
    // Stack: the core's path and a hook's first frames.
    let mut stack = [0u8; 32 * 1024];
    std::hint::black_box(&mut stack);
    // Heap: allocated and written, then freed; malloc keeps the pages for the next ones.
    let heap = std::hint::black_box(vec![1u8; 8 * 1024]);
    drop(heap);
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
