//! How a process ends on unix: the `atexit` entries (the core's normal-exit function, and the
//! last entry that ends the process after `exit` has done its work), the bounded alarm for the
//! last steps, ending by a signal, and finding a thread parked for good in `exit`.

use std::sync::atomic::Ordering;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::time::Duration;

use super::signal::ON_EXIT;
use crate::{ExitReason, Signal};

/// How [`final_exit`] ends the process (see [`encode`]), or 0 for not at all.
static LATE_END: AtomicI64 = AtomicI64::new(0);
/// Whether [`final_exit`] is registered with `atexit`.
pub(super) static FINAL_REGISTERED: AtomicBool = AtomicBool::new(false);
/// How the `SIGALRM` of [`arm_ending_alarm`] ends the process (see [`encode`]).
static ALARM_END: AtomicI64 = AtomicI64::new(0);

/// Registered with `atexit` by [`install`]: the core's normal-exit function.
pub(super) extern "C" fn at_exit() {
    let f = ON_EXIT.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: ON_EXIT only ever holds a `fn()` (stored by `install`).
        let f = unsafe { std::mem::transmute::<*mut (), fn()>(f) };
        f();
    }
}

/// Registers [`final_exit`] at load time, before the program's own `atexit` functions, so that
/// it runs after them (`atexit` functions run newest first).
#[used]
#[cfg_attr(
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "illumos",
        target_os = "solaris"
    ),
    link_section = ".init_array"
)]
#[cfg_attr(apple, link_section = "__DATA,__mod_init_func")]
pub(super) static REGISTER_FINAL: extern "C" fn() = register_final;

pub(super) extern "C" fn register_final() {
    if !FINAL_REGISTERED.swap(true, Ordering::AcqRel) {
        // SAFETY: `final_exit` is a plain `extern "C" fn()` that lives as long as the program.
        if unsafe { libc::atexit(final_exit) } != 0 {
            FINAL_REGISTERED.store(false, Ordering::Release);
        }
    }
}

/// The last `atexit` function: ends the process the way [`end_after_exit`] asked, once the
/// other `atexit` functions have run, after flushing C's stdio (which `exit` would do next).
extern "C" fn final_exit() {
    let how = LATE_END.load(Ordering::Acquire);
    if how != 0 {
        // SAFETY: fflush(NULL) flushes every C stream; nothing else is running C stdio code on
        // this thread.
        unsafe { libc::fflush(std::ptr::null_mut()) };
        end_now(decode(how));
    }
}

/// Encodes how to end, for the atomics read by [`final_exit`] and the alarm handler.
fn encode(reason: ExitReason) -> i64 {
    match reason {
        ExitReason::Signal(sig) => (1 << 32) | i64::from(sig.as_raw() as u32),
        ExitReason::Requested(code) => (2 << 32) | i64::from(code as u32),
        // Hooks that overran their deadline at a normal exit: the exit code `main` chose is
        // not known here, so report failure.
        _ => (2 << 32) | 1,
    }
}

fn decode(how: i64) -> ExitReason {
    let low = (how & 0xffff_ffff) as u32 as i32;
    match how >> 32 {
        1 => ExitReason::Signal(Signal::from_platform(low)),
        _ => ExitReason::Requested(low),
    }
}

/// Asks for the process to end the way `reason` says once `exit` has done its work (the
/// program's other `atexit` functions, C's stdio). False if that cannot be arranged here.
pub(crate) fn end_after_exit(reason: ExitReason) -> bool {
    LATE_END.store(encode(reason), Ordering::Release);
    FINAL_REGISTERED.load(Ordering::Acquire)
}

/// If the process has not ended `after` from now, a `SIGALRM` ends it the way `reason` says.
/// For the last steps of an ending that may block on something another thread holds (stdout's
/// lock, a full pipe). The process is ending, so `SIGALRM`'s own handler no longer matters.
pub(crate) fn arm_ending_alarm(reason: ExitReason, after: Duration) {
    ALARM_END.store(encode(reason), Ordering::Release);
    // SAFETY: a zeroed sigaction/itimerval/sigset are valid; the handler lives for the
    // program; every pointer is to a local.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = alarm_handler as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGALRM);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        let mut t: libc::itimerval = std::mem::zeroed();
        t.it_value.tv_sec = after.as_secs().min(i32::MAX as u64) as _;
        t.it_value.tv_usec = after.subsec_micros().max(1) as _;
        libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut());
    }
}

extern "C" fn alarm_handler(_: libc::c_int) {
    end_now(decode(ALARM_END.load(Ordering::Acquire)));
}

/// Ends the process now, the way `reason` says: by the signal (see [`die_by_signal`]), or
/// `_exit` with the code. Async-signal-safe.
pub(crate) fn end_now(reason: ExitReason) -> ! {
    match reason {
        ExitReason::Signal(sig) => die_by_signal(sig.as_raw()),
        ExitReason::Requested(code) => {
            // SAFETY: _exit has no preconditions.
            unsafe { libc::_exit(code) }
        }
        _ => {
            // SAFETY: as above.
            unsafe { libc::_exit(1) }
        }
    }
}

/// Ends the process by `sig`: default action, unblock, re-raise (glibc manual, "Handlers That
/// Terminate the Process"). If that does not end it (PID 1 in a PID namespace ignores signals
/// whose action is the default), `_exit(128 + sig)`, the status a shell would report.
/// Async-signal-safe.
pub(crate) fn die_by_signal(sig: i32) -> ! {
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
        libc::_exit(128u8.wrapping_add(sig as u8) as i32)
    }
}

/// An id for the calling thread: its kernel thread id on Linux, else its `pthread_t`.
pub(crate) fn current_thread() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::syscall(libc::SYS_gettid) as u64 }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: pthread_self has no preconditions.
        unsafe { libc::pthread_self() as usize as u64 }
    }
}

/// Whether the thread `thread` (of this process) is parked for good inside
/// `std::process::exit`: on Linux, Rust lets one thread exit and parks any other thread that
/// calls `exit` meanwhile (in `pause()` or `thread::park()`, depending on the Rust version).
/// Read from `/proc/self/task/TID/syscall`: the thread must be blocked in a system call, with
/// a return address into `std::process::exit` on its stack just above (`exit` never returns,
/// so such an address is only there while the thread is inside it). A hook that merely waits
/// (in `pause()`, on a lock) is not taken for one that exited. False where this cannot be
/// known (no `/proc`; other systems, where Rust parks no thread).
pub(crate) fn parked_in_exit(thread: u64) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let Ok(text) = std::fs::read_to_string(format!("/proc/self/task/{thread}/syscall")) else {
            return false;
        };
        // "NR ARG1 .. ARG6 SP PC" while blocked in a system call; "running", or "-1 SP PC"
        // otherwise.
        let fields: Vec<&str> = text.split_whitespace().collect();
        let blocked = fields.len() >= 9 && fields[0].parse::<i64>().is_ok_and(|nr| nr >= 0);
        let Some(sp) = fields
            .get(7)
            .filter(|_| blocked)
            .and_then(|f| f.strip_prefix("0x"))
            .and_then(|h| usize::from_str_radix(h, 16).ok())
        else {
            return false;
        };
        let exit = std::process::exit as fn(i32) -> ! as usize;
        let word = std::mem::size_of::<usize>();
        (0..128).any(|i| {
            // SAFETY: `sp` is the stack pointer of a thread of this process that is blocked in
            // a system call, deep in a call chain (its thread start, our hook runner, a hook,
            // `exit`, the wait): the kilobyte above it is its own stack frames (and above the
            // top of a thread's stack lies its thread control block), mapped and not written
            // while it is blocked. Reads are volatile and of plain words.
            let w = unsafe { std::ptr::read_volatile((sp + i * word) as *const usize) };
            w > exit && w - exit < 0x800
        })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = thread;
        false
    }
}

/// Ends the process with `exit(code)` from C directly: for a child forked without exec, which
/// must not go through Rust's `std::process::exit` (it inherited Rust's record of which thread
/// of its parent was exiting, and would park for good).
pub(crate) fn exit_forked_child(code: i32) -> ! {
    // SAFETY: exit has no preconditions; the child has one thread.
    unsafe { libc::exit(code) }
}
