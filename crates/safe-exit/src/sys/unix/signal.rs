//! Exit hooks on unix: `sigaction` through `signal-hook-registry`, a self-pipe that wakes one
//! watcher thread, and `atexit`; on Linux, signalfds that wake the watcher sooner.
//!
//! The handler does only async-signal-safe work: `getpid`, one atomic compare-and-swap and one
//! `write(2)` to a non-blocking pipe (`signal-hook-registry` saves and restores `errno` around
//! it). Only the first signal writes, so a storm of signals costs one write; the watcher thread
//! wakes, reads which signal came first, and hands it to the platform-free registry, which runs
//! the hooks on that ordinary thread and then calls [`terminate`].
//!
//! On Linux the watcher also polls one signalfd for each handled signal that had no handler
//! before ours (the usual case). The kernel wakes signalfd pollers as it queues the signal, at the
//! same moment as it wakes the thread that will run the handler, so the watcher need not wait
//! for that thread to be scheduled, run the handler and wake it through the pipe: one wake-up
//! instead of two, as a thread in `sigwaitinfo` gets. The watcher only polls the signalfds, it
//! never reads them: the signal stays pending and the handlers still run. Whichever of the
//! watcher and the handler sees the signal first claims it (one compare-and-swap), so the hooks
//! run once, and the handler does not count the claimed delivery as a repeat. A signal that had
//! a handler before ours gets no signalfd: the hooks never start before a handler installed
//! earlier has run. The watcher also asks for a short scheduler time slice, so that during a
//! storm of signals it preempts the threads that send or handle them instead of waiting
//! milliseconds for a CPU.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Once;

use crate::{shutdown, ConfigFlag, ExitReason};

/// The process that installed the handlers. A child forked without exec has another pid: its
/// handler takes the signal's default action instead of waking a watcher it does not have.
static OWNER_PID: AtomicI32 = AtomicI32::new(0);
/// Write end of the wake-up pipe (non-blocking), or -1.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Read end of the wake-up pipe, or -1 (kept to close it in a forked child that sets up anew).
static READ_FD: AtomicI32 = AtomicI32::new(-1);
/// The first termination signal seen, or 0; with [`CLAIMED_BY_WATCHER`] while the watcher has
/// claimed it from its signalfd and no handler has received it yet.
static FIRST_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Flag in [`FIRST_SIGNAL`]: the watcher saw the signal pending and started the shutdown; its
/// delivery to the handler is not a repeat (it clears the flag).
const CLAIMED_BY_WATCHER: i32 = 1 << 8;
/// Bit `n` set: our action for signal `n` is registered (registrations survive `fork`).
static REGISTERED: AtomicU64 = AtomicU64::new(0);
/// The watcher's signalfds, or -1 (kept to close them in a forked child that sets up anew).
static SIGNAL_FDS: [AtomicI32; 4] = [const { AtomicI32::new(-1) }; 4];

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

/// Sets up the watcher, the handlers for `flags` and the exit hook, for the calling process.
pub(crate) fn install(flags: ConfigFlag) -> io::Result<()> {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };

    // A fresh wake-up pipe and watcher for this process. In a child forked without exec the
    // inherited pipe is the parent's and no watcher reads it here: close our copies.
    let (read_fd, write_fd) = wake_pipe()?;
    for old in [
        READ_FD.swap(read_fd, Ordering::AcqRel),
        WAKE_FD.load(Ordering::Acquire),
    ] {
        if old >= 0 {
            // SAFETY: these fds were created by an earlier `install` and only we use them.
            unsafe { libc::close(old) };
        }
    }
    // The signals we will handle: those already ours (inherited over fork), and those not
    // ignored when we come to them (`nohup`, background jobs): an ignored signal stays ignored.
    // Those that nothing handled before us (their action is the default) may start the hooks
    // from a signalfd, before the handlers run: no handler installed earlier is then skipped
    // or overtaken.
    let mut sigs = Vec::new();
    let mut unhandled_before = Vec::new();
    for sig in handled_signals(flags) {
        if REGISTERED.load(Ordering::Acquire) & (1u64 << sig) != 0 {
            sigs.push(sig);
            continue;
        }
        let action = action(sig)?;
        if action != libc::SIG_IGN {
            sigs.push(sig);
        }
        if action == libc::SIG_DFL {
            unhandled_before.push(sig);
        }
    }
    let signal_fds = signal_fds(&unhandled_before);
    for (slot, fd) in SIGNAL_FDS
        .iter()
        .zip(signal_fds.iter().map(|&(fd, _)| fd).chain([-1; 4]))
    {
        let old = slot.swap(fd, Ordering::AcqRel);
        if old >= 0 {
            // SAFETY: a signalfd created by an earlier `install` (in our parent, before fork).
            unsafe { libc::close(old) };
        }
    }
    FIRST_SIGNAL.store(0, Ordering::Release);
    if let Err(e) = std::thread::Builder::new()
        .name("safe-exit".into())
        .spawn(move || watch(read_fd, signal_fds))
    {
        // SAFETY: these fds were just created and nothing else has them yet.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
        READ_FD.store(-1, Ordering::Release);
        for slot in &SIGNAL_FDS {
            let fd = slot.swap(-1, Ordering::AcqRel);
            if fd >= 0 {
                // SAFETY: as above.
                unsafe { libc::close(fd) };
            }
        }
        return Err(e);
    }
    WAKE_FD.store(write_fd, Ordering::Release);
    // Published last: a handler that sees our pid also sees the pipe.
    OWNER_PID.store(pid, Ordering::Release);

    for sig in sigs {
        let bit = 1u64 << sig;
        if REGISTERED.load(Ordering::Acquire) & bit != 0 {
            continue;
        }
        // SAFETY: `on_signal` is async-signal-safe (see its docs), and `sig` is not one of the
        // signals that signal-hook-registry forbids.
        unsafe { signal_hook_registry::register(sig, move || on_signal(sig)) }?;
        REGISTERED.fetch_or(bit, Ordering::AcqRel);
    }

    // `atexit` registrations survive fork, so once per process image is enough.
    static AT_EXIT: Once = Once::new();
    let mut result = Ok(());
    AT_EXIT.call_once(|| {
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that lives as long as the program.
        if unsafe { libc::atexit(at_exit) } != 0 {
            result = Err(io::Error::other("atexit refused to register the exit hook"));
        }
    });
    result
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

/// Linux: a close-on-exec signalfd for each of `sigs` that the calling thread does not block,
/// as (fd, signal). A signal blocked here is likely taken by the program itself with
/// `sigwait` or a signalfd of its own (it blocked it before starting its threads): leave it
/// to the handler, which then never runs. Best effort: a signal without a signalfd is still
/// handled through the pipe.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn signal_fds(sigs: &[i32]) -> Vec<(i32, i32)> {
    // SAFETY: an all-zero sigset_t is a valid out-parameter; a null new set only queries.
    let mut blocked: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut blocked) };
    let mut fds = Vec::new();
    for &sig in sigs {
        // SAFETY: a valid sigset and signal number.
        if unsafe { libc::sigismember(&blocked, sig) } == 1 {
            continue;
        }
        // SAFETY: an all-zero sigset_t is valid to pass to sigemptyset.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid sigset, valid signal; signalfd(-1, ...) creates a new descriptor.
        let fd = unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
        };
        if fd >= 0 {
            fds.push((fd, sig));
        }
    }
    fds
}

/// Elsewhere the watcher waits on the pipe alone.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn signal_fds(_: &[i32]) -> Vec<(i32, i32)> {
    Vec::new()
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

/// The signal action. Async-signal-safe: `getpid`, atomics, `write`, and in a forked child
/// `sigaction`/`pthread_sigmask`/`raise`/`_exit`. No allocation, no lock, no panic.
fn on_signal(sig: i32) {
    // SAFETY: getpid is async-signal-safe.
    if unsafe { libc::getpid() } != OWNER_PID.load(Ordering::Acquire) {
        // A child forked without exec (or a signal before set-up finished): no watcher runs
        // here, so take the default action rather than become unkillable.
        die_by_signal(sig);
    }
    let first = FIRST_SIGNAL
        .compare_exchange(0, sig, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok();
    // The delivery of the signal that the watcher claimed from its signalfd: the watcher is
    // already running the shutdown for it, and it is not a repeat.
    let claimed = !first
        && FIRST_SIGNAL
            .compare_exchange(
                sig | CLAIMED_BY_WATCHER,
                sig,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok();
    if !claimed
        && (!first || shutdown::STARTED.load(Ordering::Acquire))
        && shutdown::FORCE_ON_REPEAT.load(Ordering::Acquire)
    {
        // Opt-in: a termination signal after the shutdown started ends the process now.
        die_by_signal(sig);
    }
    if first {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the fd is our non-blocking pipe. Nothing useful
        // can be done about an error here (the pipe is empty, so it cannot be full).
        unsafe {
            libc::write(
                WAKE_FD.load(Ordering::Acquire),
                (&byte as *const u8).cast(),
                1,
            )
        };
    }
}

/// The watcher thread: sleeps in `poll(2)` on the pipe, which the handler writes, and on the
/// signalfds (Linux), which the kernel makes readable as it queues a handled signal; then hands
/// the first signal to the registry (which, in exit mode, never returns).
fn watch(pipe: i32, signal_fds: Vec<(i32, i32)>) {
    ask_for_short_slice();
    let mut fds: Vec<libc::pollfd> = std::iter::once(pipe)
        .chain(signal_fds.iter().map(|&(fd, _)| fd))
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut buf = [0u8; 16];
    loop {
        if FIRST_SIGNAL.load(Ordering::Acquire) != 0 {
            // Handed over already: a signal that stays pending (blocked in every thread) must
            // not make poll return at once forever.
            fds.truncate(1);
        }
        // SAFETY: a valid array of pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[0].revents != 0 {
            // SAFETY: reading into a local buffer from our pipe.
            let n = unsafe { libc::read(pipe, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                return;
            }
            let sig = FIRST_SIGNAL.load(Ordering::Acquire) & !CLAIMED_BY_WATCHER;
            if n > 0 && sig != 0 {
                crate::registry::on_termination(ExitReason::Signal(sig));
            }
            continue;
        }
        // A handled signal is pending and no handler has run yet: claim it (unless a handler
        // got there in the meantime: it then writes the pipe).
        for (p, &(_, sig)) in fds[1..].iter().zip(&signal_fds) {
            if p.revents & libc::POLLIN != 0
                && FIRST_SIGNAL
                    .compare_exchange(
                        0,
                        sig | CLAIMED_BY_WATCHER,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok()
            {
                crate::registry::on_termination(ExitReason::Signal(sig));
                break;
            }
        }
    }
}

/// Linux 6.12 and later: asks the scheduler for the shortest time slice (100 µs) for the calling
/// thread, keeping its policy and nice value. Under EEVDF a thread whose slice is shorter than
/// the running thread's may preempt it when it wakes, instead of waiting for that slice (3 ms and
/// more) to run out: the watcher then starts the hooks at once even when every CPU is busy, for
/// example running a storm of signal handlers. No privilege is needed and the thread's share of
/// CPU time is unchanged; older kernels ignore the request, and a failure (a seccomp filter)
/// leaves the default slice.
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

extern "C" fn at_exit() {
    crate::registry::on_normal_exit();
}

/// Ends the process the way `reason` says.
pub(crate) fn terminate(reason: ExitReason) -> ! {
    let code = match reason {
        ExitReason::Signal(sig) => die_by_signal(sig),
        ExitReason::Requested(code) => code,
        // Hooks that overran their deadline at a normal exit: the exit code `main` chose is not
        // known here, so report failure.
        _ => 1,
    };
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Ends the process by `sig`: default action, unblock, re-raise (glibc manual, "Handlers That
/// Terminate the Process"). If that does not end it (PID 1 in a PID namespace ignores signals
/// whose action is the default), `_exit(128 + sig)`, the status a shell would report.
/// Async-signal-safe.
fn die_by_signal(sig: i32) -> ! {
    // SAFETY: all calls are async-signal-safe, take valid pointers to locals, and a valid signal
    // number; their failure leaves only the `_exit` below, which always ends the process.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut dfl.sa_mask);
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
        libc::_exit(128 + sig)
    }
}
