//! Child program for the exit-hook tests: `hooks SCENARIO [OPTIONS]`.
//!
//! Every scenario registers its hooks, prints `ready`, and then waits for the test to act
//! (a signal, a line on stdin, or stdin closing). Hooks report on stdout, one line each.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use safe_exit::{config, register, ConfigFlag, DEFAULT_CONFIG};
use safe_exit_tests::child::{block_on_stdin, pause_forever, say};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["basic", opts @ ..] => basic(opts),
        ["order", then] => order(then),
        ["slow-gated"] => slow_gated(),
        ["slow-return"] => slow_return(),
        ["reenter", then] => reenter(then),
        ["fork"] => fork(),
        ["busy"] => busy(),
        ["chain"] => chain(),
        ["nothing-before-register"] => nothing_before_register(),
        ["mask"] => mask(),
        ["shield"] => shield(),
        _ => {
            eprintln!("usage: hooks SCENARIO [OPTIONS] (got {args:?})");
            std::process::exit(64);
        }
    }
}

/// How a hook prints the reason: `hook Signal(15)`, `hook Exit`.
fn reason() -> String {
    match safe_exit::exit_reason() {
        Some(r) => format!("{r:?}"),
        None => "none".into(),
    }
}

/// `basic [--config empty|default|sighup] [--then return|exit3]`: one hook; main answers
/// `ping` lines with `pong` and, when stdin closes, returns or calls `exit(3)`.
fn basic(opts: &[&str]) {
    let mut then_exit = false;
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        match (*opt, it.next().copied()) {
            ("--config", Some("empty")) => config(ConfigFlag::empty()).unwrap(),
            ("--config", Some("default")) => config(DEFAULT_CONFIG).unwrap(),
            ("--config", Some("sighup")) => config(ConfigFlag::SIGHUP).unwrap(),
            ("--then", Some("return")) => then_exit = false,
            ("--then", Some("exit3")) => then_exit = true,
            other => panic!("bad option {other:?}"),
        }
    }
    register(|| say(&format!("hook {}", reason())));
    say("ready");
    while let Some(line) = block_on_stdin() {
        if line == "ping" {
            say("pong");
        }
    }
    if then_exit {
        std::process::exit(3);
    }
}

/// LIFO, unregister and a panicking hook: registers first, second (then unregistered), third,
/// a panicking one, fourth. Expected run: fourth, (panic), third, first.
fn order(then: &str) {
    register(|| say("hook first"));
    let second = register(|| say("hook second"));
    register(|| say("hook third"));
    register(|| panic!("deliberate panic in a hook"));
    register(|| say("hook fourth"));
    say(&format!("unregister second: {}", second.unregister()));
    say("ready");
    block_on_stdin();
    if then == "exit3" {
        std::process::exit(3);
    }
}

/// A hook that announces itself, then waits for a `go` line on stdin before finishing: the
/// test storms the process with signals in between. Main sleeps in `pause`.
fn slow_gated() {
    register(|| {
        say(&format!("hook start {}", reason()));
        let go = block_on_stdin();
        say(&format!("hook end (stdin said {go:?})"));
    });
    say("ready");
    pause_forever();
}

/// Two hooks, each printing the signal mask of the thread it runs on at its start
/// (`hook mask <hex SigBlk>`); main prints the watcher thread's mask before `ready`
/// (`watcher mask <hex>`), once that thread is up.
fn mask() {
    for _ in 0..2 {
        register(|| say(&format!("hook mask {}", sig_blk("/proc/thread-self"))));
    }
    // The watcher is the thread named `safe-exit`; wait until it is there and asleep.
    let limit = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let watcher = loop {
        let found = std::fs::read_dir("/proc/self/task").ok().and_then(|dir| {
            dir.flatten().map(|e| e.path()).find(|t| {
                std::fs::read_to_string(t.join("comm")).is_ok_and(|c| c.trim() == "safe-exit")
                    && std::fs::read_to_string(t.join("stat")).is_ok_and(|s| {
                        s.rsplit(')')
                            .next()
                            .is_some_and(|r| r.trim_start().starts_with('S'))
                    })
            })
        });
        if let Some(t) = found {
            break t;
        }
        assert!(std::time::Instant::now() < limit, "no watcher thread");
        std::thread::yield_now();
    };
    say(&format!(
        "watcher mask {}",
        sig_blk(&watcher.display().to_string())
    ));
    say("ready");
    pause_forever();
}

/// The `SigBlk` mask of the thread `task` (a `/proc` task directory), in hex.
fn sig_blk(task: &str) -> String {
    let status = std::fs::read_to_string(format!("{task}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A hook that prints its thread id (`hook tid N`) and mask (`hook mask M`), waits for a line
/// on stdin, and prints its mask again (`hook mask-after M`): the test sends a signal to that
/// very thread meanwhile.
fn shield() {
    register(|| {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        say(&format!("hook tid {tid}"));
        say(&format!("hook mask {}", sig_blk("/proc/thread-self")));
        let _ = block_on_stdin();
        say(&format!("hook mask-after {}", sig_blk("/proc/thread-self")));
    });
    say("ready");
    pause_forever();
}

/// A slow hook; main returns from `main` when a `return` line arrives, which the test sends
/// while the signal-triggered hook is running.
fn slow_return() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    /// Set by an `atexit` function registered after safe-exit's own, which `exit` therefore
    /// calls first: the exiting thread is inside `exit`, on its way to safe-exit's.
    static EXITING: AtomicBool = AtomicBool::new(false);
    extern "C" fn exiting() {
        EXITING.store(true, Ordering::SeqCst);
    }
    register(|| {
        say(&format!("hook start {}", reason()));
        // A handshake, not a guess: wait until main has returned and `exit` is running.
        let limit = Instant::now() + Duration::from_secs(20);
        while !EXITING.load(Ordering::SeqCst) && Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(1));
        }
        say(&format!(
            "hook sees exit: {}",
            EXITING.load(Ordering::SeqCst)
        ));
        // An `exit` that did not wait for this hook would end the process meanwhile.
        std::thread::sleep(Duration::from_millis(200));
        say("hook end");
    });
    // SAFETY: `exiting` is a plain extern "C" fn that lives as long as the program.
    unsafe { libc::atexit(exiting) };
    say("ready");
    while let Some(line) = block_on_stdin() {
        if line == "return" {
            say("main returning");
            return;
        }
    }
}

/// A hook that calls `register` and `config` (must not deadlock); the hook it registers runs
/// too, after it.
fn reenter(then: &str) {
    register(|| {
        say("hook outer start");
        register(|| say("hook inner"));
        say(&format!(
            "config same: {:?}",
            config(DEFAULT_CONFIG).is_ok()
        ));
        let other = config(ConfigFlag::empty());
        say(&format!(
            "config other: {}",
            if other.is_err() { "error" } else { "ok" }
        ));
        say("hook outer end");
    });
    say("ready");
    block_on_stdin();
    if then == "exit3" {
        std::process::exit(3);
    }
}

/// Forks without exec. The child reports `gc-ready PID` and pauses; the parent reports how
/// the child ended, then waits for stdin to close. With `CHILD_REGISTERS` set in the
/// environment, the child registers a hook of its own after the fork.
fn fork() {
    register(|| say("hook parent"));
    let own_hook = std::env::var_os("CHILD_REGISTERS").is_some();
    say("ready");
    // SAFETY: the child only calls async-signal-safe functions (write, pause) unless
    // CHILD_REGISTERS is set, in which case it also calls `register`: the only other thread
    // (the watcher) holds no lock while it sleeps in read(2).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        if own_hook {
            register(|| say("hook child"));
        }
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        let msg = format!("gc-ready {me}\n");
        // SAFETY: write to stdout from a buffer we own.
        unsafe { libc::write(1, msg.as_ptr().cast(), msg.len()) };
        pause_forever();
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFSIGNALED(status) {
        say(&format!("gc-ended signal {}", libc::WTERMSIG(status)));
    } else {
        say(&format!("gc-ended exit {}", libc::WEXITSTATUS(status)));
    }
    block_on_stdin();
}

/// Busy threads on every core and a main thread blocked in `read(2)`: the hook must not wait
/// for any of them.
fn busy() {
    register(|| say(&format!("hook {}", reason())));
    let spin = Arc::new(AtomicBool::new(true));
    for _ in 0..4 {
        let spin = Arc::clone(&spin);
        std::thread::spawn(move || {
            let mut n = 0u64;
            while spin.load(Ordering::Relaxed) {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        });
    }
    say("ready");
    block_on_stdin();
}

static PREV_SIGTERM_RAN: AtomicBool = AtomicBool::new(false);

extern "C" fn prev_sigterm(_sig: libc::c_int) {
    PREV_SIGTERM_RAN.store(true, Ordering::SeqCst);
    let msg = b"prev handler ran\n";
    // SAFETY: write(2) is async-signal-safe.
    unsafe { libc::write(1, msg.as_ptr().cast(), msg.len()) };
}

/// Handlers installed before safe-exit: a raw `sigaction` for SIGTERM and a `signal-hook`
/// flag for SIGINT. Both must still work once safe-exit is set up.
fn chain() {
    // SAFETY: installing a handler that only stores an atomic and calls write(2).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = prev_sigterm as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut()), 0);
    }
    let sigint_flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(libc::SIGINT, Arc::clone(&sigint_flag)).unwrap();
    register(move || {
        say(&format!(
            "hook {} prev-sigterm={} sigint-flag={}",
            reason(),
            PREV_SIGTERM_RAN.load(Ordering::SeqCst),
            sigint_flag.load(Ordering::SeqCst)
        ));
    });
    say("ready");
    block_on_stdin();
}

/// Threads and the SIGTERM disposition before and after the first `register`.
fn nothing_before_register() {
    let report = |when: &str| {
        let threads = std::fs::read_dir("/proc/self/task")
            .map(|d| d.count())
            .unwrap_or(0);
        // SAFETY: querying the current action into a zeroed struct.
        let handler = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGTERM, std::ptr::null(), &mut old);
            old.sa_sigaction
        };
        let disposition = match handler {
            libc::SIG_DFL => "default",
            libc::SIG_IGN => "ignored",
            _ => "handler",
        };
        say(&format!("{when}: threads={threads} sigterm={disposition}"));
    };
    report("before");
    let _ = safe_exit::shutdown_requested();
    let _ = safe_exit::exit_reason();
    report("after queries");
    register(|| say("hook"));
    report("after register");
    say("ready");
    block_on_stdin();
}
