//! Exit hooks on unix: `sigaction` through `signal-hook-registry`, a self-pipe that wakes one
//! watcher thread, and `atexit`.
//!
//! The handler does only async-signal-safe work: `getpid`, one atomic compare-and-swap and one
//! `write(2)` to a non-blocking pipe (`signal-hook-registry` saves and restores `errno` around
//! it). Only the first signal writes, so a storm of signals costs one write; the watcher thread
//! wakes, reads which signal came first, and hands it to the platform-free registry, which runs
//! the hooks on that ordinary thread and then calls [`terminate`].

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
/// The first termination signal seen, or 0.
static FIRST_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Bit `n` set: our action for signal `n` is registered (registrations survive `fork`).
static REGISTERED: AtomicU64 = AtomicU64::new(0);

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
    if let Err(e) = std::thread::Builder::new()
        .name("safe-exit".into())
        .spawn(move || watch(read_fd))
    {
        // SAFETY: both fds were just created and nothing else has them yet.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
        READ_FD.store(-1, Ordering::Release);
        return Err(e);
    }
    FIRST_SIGNAL.store(0, Ordering::Release);
    WAKE_FD.store(write_fd, Ordering::Release);
    // Published last: a handler that sees our pid also sees the pipe.
    OWNER_PID.store(pid, Ordering::Release);

    for sig in handled_signals(flags) {
        let bit = 1u64 << sig;
        if REGISTERED.load(Ordering::Acquire) & bit != 0 || ignored(sig)? {
            // Already ours (inherited over fork), or ignored when we came to it (`nohup`,
            // background jobs): an ignored signal stays ignored.
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

/// Whether `sig`'s current disposition is "ignore".
fn ignored(sig: i32) -> io::Result<bool> {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action only queries.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid signal number and out-pointer.
    if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old.sa_sigaction == libc::SIG_IGN)
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
    if (!first || shutdown::STARTED.load(Ordering::Acquire))
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

/// The watcher thread: sleeps in `read(2)` until the handler writes, then hands the first
/// signal to the registry (which, in exit mode, never returns).
fn watch(fd: i32) {
    let mut buf = [0u8; 16];
    loop {
        // SAFETY: reading into a local buffer from our pipe.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            let sig = FIRST_SIGNAL.load(Ordering::Acquire);
            if sig != 0 {
                crate::registry::on_termination(ExitReason::Signal(sig));
            }
        } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

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
