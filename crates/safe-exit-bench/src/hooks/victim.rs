//! The victim processes of hooks-bench: the benchmark's own program, run again as
//! `victim <contender>` or `victim-overhead <contender>`.
//!
//! `victim <contender>` sets up the contender's hook, prints `ready`, and then blocks its main
//! thread in `read(2)` on stdin (a pipe from the driver that stays open), which is what the main
//! thread of a service or a command waiting for input does. The driver signals it once every
//! thread of it sleeps. The first thing each hook does is read `CLOCK_MONOTONIC`;
//! it then writes `hook <ns> <how many times the hook has run>` to stdout, and ends the process
//! as its crate would have it end. safe-exit's hook also writes the library's stage timestamps
//! (feature `stage-timestamps`): `stages <handler> <watcher woke> <runner>` (ns).
//!
//! `victim-overhead <contender>` measures the contender's set-up in a fresh process and prints
//! `overhead <ns> <threads before> <threads after> <VmRSS kB before> <VmRSS kB after>`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::Contender;
use crate::sys::now_ns;

/// The signals every contender is asked to handle (ctrlc cannot handle SIGQUIT).
const SIGNALS: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT, libc::SIGHUP];

/// How many times the hook has started in this process.
static HOOK_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Runs a victim if the command line asks for one (`victim <contender>` or
/// `victim-overhead <contender>`), and then never returns; returns at once otherwise.
pub(super) fn main_if_asked() {
    if std::env::args().nth(1).as_deref() == Some("spin") {
        // `--busy`: a process that keeps one CPU busy until it is killed.
        loop {
            std::hint::black_box(now_ns());
        }
    }
    let args: Vec<String> = std::env::args().skip(1).take(2).collect();
    let [mode, contender] = args.as_slice() else {
        return;
    };
    let overhead = match mode.as_str() {
        "victim" => false,
        "victim-overhead" => true,
        _ => return,
    };
    let Some(contender) = Contender::from_arg(contender) else {
        panic!("unknown contender {contender:?}");
    };
    no_core_dumps();
    if overhead {
        measure_set_up(contender)
    } else {
        serve(contender)
    }
}

/// SIGQUIT's default action dumps core: keep that slow, machine-dependent step (and the files)
/// out of the measurements. Every contender that ends by SIGQUIT is affected alike.
fn no_core_dumps() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) };
}

fn serve(contender: Contender) -> ! {
    set_up(contender);
    write_all(b"ready\n");
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into a local buffer. Signal handlers installed with SA_RESTART
        // restart the read; others make it fail with EINTR, and we read again.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
        {
            // The driver went away without signalling: leave without running any hook.
            // SAFETY: _exit has no preconditions.
            unsafe { libc::_exit(0) }
        }
    }
}

/// The contender's set-up, as its documentation shows it, with a hook that reports itself.
fn set_up(contender: Contender) {
    match contender {
        Contender::SafeExit | Contender::Candidate => {
            // The library runs the hook on its watcher thread, then ends the process by the
            // same signal.
            safe_exit::register(|| {
                hook_started(now_ns());
                // The library's own stamps of the moments before the hook.
                let [handler, woke, runner] = safe_exit::__stage_timestamps();
                let line = format!("stages {handler} {woke} {runner}\n");
                write_all(line.as_bytes());
            });
        }
        Contender::Ctrlc => {
            // ctrlc calls this on its own thread for every signal; it cannot tell which signal
            // came, so the process ends with the status a shell gives an interrupted command.
            ctrlc::set_handler(|| {
                hook_started(now_ns());
                std::process::exit(130);
            })
            .expect("ctrlc::set_handler");
        }
        Contender::SignalHook => {
            let mut signals =
                signal_hook::iterator::Signals::new(SIGNALS).expect("signal_hook Signals::new");
            std::thread::spawn(move || {
                // The usual `for sig in signals.forever()`; the hook ends the process.
                if let Some(sig) = signals.forever().next() {
                    hook_started(now_ns());
                    // Ends the process by the same signal, as safe-exit does.
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                    std::process::exit(128 + sig);
                }
            });
        }
        Contender::Tokio => {
            // The streams are registered on the runtime's thread: `ready` waits for that, or
            // an early signal would take its default action.
            let (registered, wait) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                runtime.block_on(async {
                    use tokio::signal::unix::{signal, SignalKind};
                    let kind = |sig| signal(SignalKind::from_raw(sig)).expect("tokio signal");
                    let (mut int, mut term) = (kind(libc::SIGINT), kind(libc::SIGTERM));
                    let (mut quit, mut hup) = (kind(libc::SIGQUIT), kind(libc::SIGHUP));
                    let _ = registered.send(());
                    let sig = tokio::select! {
                        _ = int.recv() => libc::SIGINT,
                        _ = term.recv() => libc::SIGTERM,
                        _ = quit.recv() => libc::SIGQUIT,
                        _ = hup.recv() => libc::SIGHUP,
                    };
                    hook_started(now_ns());
                    die_by_signal(sig);
                })
            });
            wait.recv().expect("tokio's signal streams");
        }
        Contender::HandlerOnly => {
            // SAFETY: a handler that only makes async-signal-safe calls, for four signals.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = in_handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
                libc::sigemptyset(&mut act.sa_mask);
                for sig in SIGNALS {
                    libc::sigaddset(&mut act.sa_mask, sig);
                }
                act.sa_flags = libc::SA_RESTART;
                for sig in SIGNALS {
                    libc::sigaction(sig, &act, std::ptr::null_mut());
                }
            }
        }
        Contender::Reference => {
            let mut all = empty_set();
            let mut wanted = empty_set();
            // SAFETY: valid sigsets owned here; blocking every signal in this (the only)
            // thread before any other thread exists, so that every thread inherits the mask.
            unsafe {
                libc::sigfillset(&mut all);
                for sig in SIGNALS {
                    libc::sigaddset(&mut wanted, sig);
                }
                libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
            }
            std::thread::spawn(move || loop {
                // SAFETY: a valid set; a null siginfo is allowed.
                let sig = unsafe { libc::sigwaitinfo(&wanted, std::ptr::null_mut()) };
                if sig > 0 {
                    hook_started(now_ns());
                    die_by_signal(sig);
                }
            });
        }
    }
}

/// The handler-only contender's handler: the first signal stamps, reports (formatted by hand
/// into a stack buffer: no allocation in a handler) and ends the process by that signal.
extern "C" fn in_handler(sig: libc::c_int) {
    let t = now_ns();
    if HOOK_RUNS.fetch_add(1, Ordering::SeqCst) != 0 {
        return;
    }
    let mut buf = [0u8; 48];
    let mut len = 0;
    for &b in b"hook " {
        buf[len] = b;
        len += 1;
    }
    let mut digits = [0u8; 20];
    let (mut n, mut d) = (t, 0);
    loop {
        digits[d] = b'0' + (n % 10) as u8;
        d += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        buf[len] = digits[d];
        len += 1;
    }
    for &b in b" 1\n" {
        buf[len] = b;
        len += 1;
    }
    write_all(&buf[..len]);
    die_by_signal(sig);
}

fn empty_set() -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is a valid value to pass to sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid sigset to initialise.
    unsafe { libc::sigemptyset(&mut set) };
    set
}

/// Default action, unblock, raise: the process ends by `sig` (as safe-exit's own ending does).
fn die_by_signal(sig: i32) -> ! {
    let mut set = empty_set();
    // SAFETY: valid signal number and sigset; `_exit` ends the process if `raise` did not.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
        libc::_exit(128 + sig)
    }
}

/// The hook's report, after its timestamp `t` was taken.
fn hook_started(t: u64) {
    let runs = HOOK_RUNS.fetch_add(1, Ordering::SeqCst) + 1;
    write_all(format!("hook {t} {runs}\n").as_bytes());
}

/// `write(2)` to stdout, bypassing Rust's buffered stdout (a process that ends by a signal
/// would lose what that buffer holds, and the hooks of two contenders run on threads).
fn write_all(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing from a valid slice.
        let n = unsafe { libc::write(1, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

fn measure_set_up(contender: Contender) -> ! {
    // Warm up: the first reads of /proc allocate and fault in pages the later ones reuse.
    let _ = (threads(), vm_rss_kb());
    let (threads_before, rss_before) = (threads(), vm_rss_kb());
    let t0 = now_ns();
    set_up(contender);
    let t1 = now_ns();
    // Let the new threads start and touch their stacks before looking again.
    std::thread::sleep(Duration::from_millis(20));
    let (threads_after, rss_after) = (threads(), vm_rss_kb());
    write_all(
        format!(
            "overhead {} {threads_before} {threads_after} {rss_before} {rss_after}\n",
            t1 - t0
        )
        .as_bytes(),
    );
    // Leave without running the hooks at exit.
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(0) }
}

/// The number of threads in this process (`/proc/self/task`).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(Iterator::count)
        .unwrap_or(0)
}

/// `VmRSS` from `/proc/self/status`, in kB.
fn vm_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
