//! Child program for the edge-case tests (`tests/process/edges_*.rs`): `edges SCENARIO [VARIANT]`.
//!
//! Every scenario sets itself up, prints `ready` (on stderr when its stdout is a pipe that the
//! test never reads), and then waits for the test to act: a signal, a line on stdin, or stdin
//! closing. Hooks report on stdout, one line each. Forked children and signal handlers report
//! with `write(2)`, never through Rust's stdout and its lock.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use safe_exit::{
    config, register, register_named, request_shutdown, set_shutdown_policy, ConfigFlag,
    ShutdownPolicy, DEFAULT_CONFIG,
};
use safe_exit_tests::child::{block_on_stdin, pause_forever, say};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["fork-plain", mode] => fork_plain(mode),
        ["fork-drop"] => fork_drop(),
        ["fork-fds", variant] => fork_fds(variant),
        ["fork-worker"] => fork_worker(),
        ["fork-storm"] => fork_storm(),
        ["hook-exit", then] => hook_exit(then),
        ["hook-exit-race"] => hook_exit_race(),
        ["request-in-hook"] => request_in_hook(),
        ["tls", then] => tls(then),
        ["own-handler", kind] => own_handler(kind),
        ["slow-atexit"] => slow_atexit(),
        ["notify-atexit"] => notify_atexit(),
        ["request-cstdio"] => request_cstdio(),
        ["stdout-blocked"] => stdout_blocked(),
        ["stuck-println"] => stuck_println(),
        ["max-durations", which] => max_durations(which),
        ["late-grace"] => late_grace(),
        ["hook-c-exit"] => hook_c_exit(),
        ["hook-pause"] => hook_pause(),
        ["hook-fork-return"] => hook_fork_return(),
        ["child-config"] => child_config(),
        ["no-threads-at-exit"] => no_threads_at_exit(),
        _ => {
            eprintln!("usage: edges SCENARIO [VARIANT] (got {args:?})");
            std::process::exit(64);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// How a hook prints the reason: `hook Signal(15)`, `hook Exit`.
fn reason() -> String {
    match safe_exit::exit_reason() {
        Some(r) => format!("{r:?}"),
        None => "none".into(),
    }
}

/// This process's pid, asked of the kernel at the time of the call (not cached).
fn pid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// Writes all of `bytes` to `fd` with `write(2)`: no lock, no allocation, errno preserved, so
/// it may be called from a signal handler.
fn write_fd(fd: i32, bytes: &[u8]) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: reading the calling thread's errno.
    let saved = unsafe { *errno };
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: write(2) from a buffer we borrow, of its length.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n > 0 {
            rest = &rest[n as usize..];
            continue;
        }
        // SAFETY: reading the calling thread's errno.
        if n == 0 || unsafe { *errno } != libc::EINTR {
            break;
        }
    }
    // SAFETY: restoring the calling thread's errno.
    unsafe { *errno = saved };
}

/// One line on stdout through `write(2)`, bypassing Rust's stdout and its lock.
fn raw(line: &str) {
    write_fd(1, format!("{line}\n").as_bytes());
}

/// `ok`, or `failed: ERROR`.
fn outcome<E: std::fmt::Debug>(r: Result<(), E>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("failed: {e:?}"),
    }
}

/// Forks without exec. In the child, arranges for SIGKILL if this process dies first (a failing
/// test kills it), so that no forked child outlives a test.
fn fork() -> libc::pid_t {
    let parent = pid();
    // SAFETY: fork(2) itself has no preconditions. This process may have other threads: the
    // child calls what its scenario tests (safe-exit's set-up, which must cope with locks
    // held at the fork), `malloc` (which glibc makes safe after fork) and `write(2)`.
    let child = unsafe { libc::fork() };
    if child < 0 {
        panic!("fork: {}", std::io::Error::last_os_error());
    }
    if child == 0 {
        // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid take no pointers; _exit has no
        // preconditions.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(99);
            }
        }
    }
    child
}

/// `exit N` or `signal N`, from a `waitpid` status.
fn describe(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("exit {}", libc::WEXITSTATUS(status))
    }
}

/// Reaps our child `child` and describes how it ended.
fn reap(child: libc::pid_t) -> String {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child, into a local.
        let r = unsafe { libc::waitpid(child, &mut status, 0) };
        if r == child {
            return describe(status);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return format!("waitpid failed: {e}");
        }
    }
}

/// Whether our child `child` ends within `limit` (it is not reaped).
fn ends_within(child: libc::pid_t, limit: Duration) -> bool {
    let pidfd = safe_exit_tests::pidfd_open(child).expect("pidfd_open on our own child");
    let mut pfd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&pidfd),
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        if rc > 0 {
            return true;
        }
        if rc == 0 || left.is_zero() {
            return false;
        }
    }
}

/// This process's open descriptors and what they refer to (`/proc/self/fd`), without the
/// directory descriptor used to list them.
fn open_fds() -> Vec<(i32, String)> {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory is closed now: its descriptor no longer resolves.
    fds.into_iter()
        .filter_map(|fd| {
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
            Some((fd, target.display().to_string()))
        })
        .collect()
}

/// Waits (up to 2 s) until no other thread of this process is runnable: each has run until it
/// blocks or ends (a thread safe-exit just started, say). Only `/proc` can tell, so this looks
/// every millisecond.
fn settle() {
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() };
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        let runnable = tasks
            .filter_map(|t| t.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&tid| tid != me)
            .any(|tid| {
                let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
                    .unwrap_or_default();
                let state = stat
                    .rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().next());
                state == Some("R")
            });
        if !runnable {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether a `go` line arrived (see [`stdin_dispatcher`]).
static GATE: Mutex<bool> = Mutex::new(false);
static GATE_OPENED: Condvar = Condvar::new();

/// Blocks until [`open_gate`].
fn wait_gate() {
    let mut open = GATE.lock().unwrap();
    while !*open {
        open = GATE_OPENED.wait(open).unwrap();
    }
}

fn open_gate() {
    *GATE.lock().unwrap() = true;
    GATE_OPENED.notify_all();
}

/// Starts a thread that reads stdin: a `go` line opens the gate ([`wait_gate`]); a `main`
/// line sends on the returned channel (which disconnects when stdin closes).
fn stdin_dispatcher(main: &'static str) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Some(line) = block_on_stdin() {
            if line == "go" {
                open_gate();
            } else if line == main {
                let _ = tx.send(());
            }
        }
    });
    rx
}

// ---------------------------------------------------------------------------------------------
// Fork without exec
// ---------------------------------------------------------------------------------------------

/// The parent registers `hook parent PID`, forks, and reports `child ended ...`; then waits
/// for stdin to close. The child (`forked PID`) registers nothing and, by `mode`: returns from
/// `main` (`return`), calls `exit(0)` (`exit`), calls `config(empty)` (`config`) or
/// `set_shutdown_policy(notify)` (`policy`) and returns, or calls `request_shutdown(5)`
/// (`request`).
fn fork_plain(mode: &str) {
    register(|| say(&format!("hook parent {}", pid())));
    say("ready");
    let child = fork();
    if child == 0 {
        raw(&format!("forked {}", pid()));
        match mode {
            "return" => {}
            "exit" => std::process::exit(0),
            "config" => raw(&format!(
                "child config {}",
                outcome(config(ConfigFlag::empty()))
            )),
            "policy" => raw(&format!(
                "child policy {}",
                outcome(set_shutdown_policy(ShutdownPolicy::notify()))
            )),
            "request" => {
                request_shutdown(5);
                raw("child: request_shutdown returned");
            }
            other => panic!("unknown mode {other}"),
        }
        // Back to `main`, which returns: a normal exit with status 0.
        return;
    }
    say(&format!("child ended {}", reap(child)));
    block_on_stdin();
}

/// Reports where it is dropped.
struct DropReport;

impl Drop for DropReport {
    fn drop(&mut self) {
        raw(&format!("dropped in {}", pid()));
    }
}

/// The parent's hook owns a value that reports where it is dropped. The child (`forked PID`)
/// registers a hook of its own (`hook child PID`) and calls `exit(0)`.
fn fork_drop() {
    let owned = DropReport;
    register(move || {
        let _owned = &owned;
        say(&format!("hook parent {}", pid()));
    });
    say("ready");
    let child = fork();
    if child == 0 {
        raw(&format!("forked {}", pid()));
        register(|| say(&format!("hook child {}", pid())));
        raw("child registered");
        std::process::exit(0);
    }
    say(&format!("child ended {}", reap(child)));
    block_on_stdin();
}

/// The child (`forked PID`) lists its descriptors (`before FD TARGET`), sets safe-exit up
/// (`register`; `config`: `config(DEFAULT_CONFIG)` twice; `policy`:
/// `set_shutdown_policy(notify)`; `reuse`: first closes every inherited descriptor above 2 and
/// opens `/dev/null` on each of those numbers, as a daemon opening its own files would, then
/// `register`), lists them again (`after FD TARGET`) and `_exit(0)`s.
fn fork_fds(variant: &str) {
    register(|| say("hook parent"));
    say("ready");
    let child = fork();
    if child == 0 {
        raw(&format!("forked {}", pid()));
        if variant == "reuse" {
            let inherited: Vec<i32> = open_fds()
                .into_iter()
                .map(|(fd, _)| fd)
                .filter(|&fd| fd > 2)
                .collect();
            for &fd in &inherited {
                // SAFETY: this process closes descriptors it inherited and no longer wants.
                unsafe { libc::close(fd) };
            }
            for &fd in &inherited {
                // SAFETY: open a path from a C string literal; dup2/close on descriptors we own.
                unsafe {
                    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
                    if null >= 0 && null != fd {
                        libc::dup2(null, fd);
                        libc::close(null);
                    }
                }
            }
        }
        for (fd, target) in open_fds() {
            raw(&format!("before {fd} {target}"));
        }
        match variant {
            "register" | "reuse" => {
                register(|| {});
            }
            "config" => {
                raw(&format!("child config {}", outcome(config(DEFAULT_CONFIG))));
                raw(&format!("child config {}", outcome(config(DEFAULT_CONFIG))));
            }
            "policy" => raw(&format!(
                "child policy {}",
                outcome(set_shutdown_policy(ShutdownPolicy::notify()))
            )),
            other => panic!("unknown variant {other}"),
        }
        for (fd, target) in open_fds() {
            raw(&format!("after {fd} {target}"));
        }
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(0) };
    }
    say(&format!("child ended {}", reap(child)));
    block_on_stdin();
}

/// The parent registers a hook and forks a worker that installs its own SIGTERM handler
/// through signal-hook, reports `worker PID`, and loops until the flag is set; it then reports
/// `drained` and `_exit(0)`s. The parent reports `worker ended ...`, then waits for stdin to
/// close.
fn fork_worker() {
    register(|| say(&format!("hook parent {}", pid())));
    say("ready");
    let child = fork();
    if child == 0 {
        let stop = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(libc::SIGTERM, Arc::clone(&stop)).expect("signal-hook");
        raw(&format!("worker {}", pid()));
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        raw("drained");
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(0) };
    }
    say(&format!("worker ended {}", reap(child)));
    block_on_stdin();
}

/// The parent registers, then a thread calls `register` + `unregister`,
/// `set_shutdown_policy` and `config` in a tight loop while the main thread forks 60 children
/// one after another; each calls `register` and `exit(0)`. A child that has not ended 2 s
/// after its fork is killed and counted as hung. Reports `forked N`, `hung N`, `failed N`.
fn fork_storm() {
    register(|| {});
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                register(|| {}).unregister();
                let _ = set_shutdown_policy(ShutdownPolicy::exit());
                let _ = config(DEFAULT_CONFIG);
            }
        })
    };
    say("ready");
    let overall = Instant::now() + Duration::from_secs(10);
    let (mut forked, mut hung, mut failed) = (0, 0, 0);
    while forked < 60 && Instant::now() < overall {
        let child = fork();
        if child == 0 {
            register(|| {});
            std::process::exit(0);
        }
        forked += 1;
        if ends_within(child, Duration::from_secs(2)) {
            let how = reap(child);
            if how != "exit 0" {
                failed += 1;
                say(&format!("child {forked} ended {how}"));
            }
        } else {
            // SAFETY: kill(2) on our own child, not yet reaped, so the pid is still its own.
            unsafe { libc::kill(child, libc::SIGKILL) };
            reap(child);
            hung += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().expect("churn thread");
    say(&format!("forked {forked}"));
    say(&format!("hung {hung}"));
    say(&format!("failed {failed}"));
}

// ---------------------------------------------------------------------------------------------
// Hooks that end the process themselves
// ---------------------------------------------------------------------------------------------

/// Hooks A (`hook A`) then B (`hook B`, then `exit(7)`); B runs first. Main waits for stdin
/// to close, then returns (`return`) or calls `exit(0)` (`exit0`).
fn hook_exit(then: &str) {
    register(|| say("hook A"));
    register(|| {
        say("hook B");
        std::process::exit(7);
    });
    say("ready");
    block_on_stdin();
    say("main ending");
    if then == "exit0" {
        std::process::exit(0);
    }
}

extern "C" fn in_exit_marker() {
    write_fd(1, b"main in exit\n");
}

/// Hooks A and B; B reports `hook B start`, waits for a `go` line, then calls `exit(7)`. Main
/// waits for an `exit` line, reports `main exiting` and calls `exit(0)`; a C `atexit` handler
/// registered just before (so it runs first inside `exit`) reports `main in exit`: from then
/// on main is inside `exit`. One thread reads stdin for both main and B (whichever of them
/// read it, it could take the other's line).
fn hook_exit_race() {
    register(|| say("hook A"));
    register(|| {
        say("hook B start");
        wait_gate();
        say("hook B exits");
        std::process::exit(7);
    });
    let exiting = stdin_dispatcher("exit");
    say("ready");
    // An `exit` line, or stdin closed.
    let _ = exiting.recv();
    // SAFETY: registering a plain `extern "C" fn()` that lives as long as the program.
    assert_eq!(unsafe { libc::atexit(in_exit_marker) }, 0);
    say("main exiting");
    std::process::exit(0);
}

/// Exit mode. Hooks A and B; B reports `hook B`, calls `request_shutdown(3)`, then reports
/// `returned` (it must not). Main returns when stdin closes.
fn request_in_hook() {
    register(|| say("hook A"));
    register(|| {
        say("hook B");
        request_shutdown(3);
        say("returned");
    });
    say("ready");
    block_on_stdin();
}

thread_local! {
    /// Used by `main` first, then by a hook.
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// First used inside a hook.
    static LATE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// `main` uses a thread-local with a destructor; one hook uses it too (`hook tls ok`), another
/// uses a thread-local for the first time (`hook late tls ok`). Main returns (`return`) or
/// calls `exit(0)` (`exit0`) when stdin closes.
fn tls(then: &str) {
    LOG.with(|l| l.borrow_mut().push("main".into()));
    register(|| {
        LOG.with(|l| l.borrow_mut().push("hook".into()));
        say("hook tls ok");
    });
    register(|| {
        LATE.with(|l| l.borrow_mut().push("hook".into()));
        say("hook late tls ok");
    });
    say("ready");
    block_on_stdin();
    if then == "exit0" {
        std::process::exit(0);
    }
}

// ---------------------------------------------------------------------------------------------
// Signal handlers installed after safe-exit's
// ---------------------------------------------------------------------------------------------

static OWN_HANDLER_RAN: AtomicBool = AtomicBool::new(false);

extern "C" fn own_sigterm(_sig: libc::c_int) {
    OWN_HANDLER_RAN.store(true, Ordering::SeqCst);
    write_fd(1, b"own handler\n");
}

/// Registers a hook, then installs the program's own handler: a raw `sigaction` for SIGTERM
/// that reports `own handler` (`sigaction`), a `ctrlc` handler for SIGINT that reports
/// `ctrlc handler` (`ctrlc`), or a SIGTERM action through `signal-hook` (and so
/// `signal-hook-registry`) that reports `signal-hook handler` (`signal-hook`). Main answers
/// `ping` with `pong` and returns when stdin closes.
fn own_handler(kind: &str) {
    register(|| say(&format!("hook {}", reason())));
    match kind {
        // SAFETY: installing a handler that only stores an atomic and calls write(2).
        "sigaction" => unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = own_sigterm as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut()), 0);
        },
        "ctrlc" => ctrlc::set_handler(|| say("ctrlc handler")).expect("ctrlc::set_handler"),
        // SAFETY: the action only calls write(2), which is async-signal-safe.
        "signal-hook" => unsafe {
            signal_hook::low_level::register(libc::SIGTERM, || {
                write_fd(1, b"signal-hook handler\n");
            })
            .expect("signal_hook::low_level::register");
        },
        other => panic!("unknown handler kind {other}"),
    }
    say("ready");
    while let Some(line) = block_on_stdin() {
        if line == "ping" {
            say("pong");
        }
    }
    say("main returning");
}

// ---------------------------------------------------------------------------------------------
// The end of the process
// ---------------------------------------------------------------------------------------------

extern "C" fn slow_atexit_handler() {
    write_fd(1, b"slow atexit\n");
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

/// A C `atexit` handler registered before safe-exit reports `slow atexit` and then blocks
/// forever; a hook reports `hook REASON`. Main returns when stdin closes.
fn slow_atexit() {
    // SAFETY: registering a plain `extern "C" fn()` that lives as long as the program.
    assert_eq!(unsafe { libc::atexit(slow_atexit_handler) }, 0);
    register(|| say(&format!("hook {}", reason())));
    say("ready");
    block_on_stdin();
}

extern "C" fn older_atexit() {
    write_fd(1, b"older atexit ran\n");
}

/// A C `atexit` handler registered before safe-exit (`older atexit ran`); notify mode; a hook.
/// After the request (`requested REASON`) main writes `c stdio line` with `printf`, left in C
/// stdio's buffer (stdout is a pipe), and returns.
fn notify_atexit() {
    // SAFETY: registering a plain `extern "C" fn()` that lives as long as the program.
    assert_eq!(unsafe { libc::atexit(older_atexit) }, 0);
    set_shutdown_policy(ShutdownPolicy::notify()).expect("set_shutdown_policy");
    register(|| say(&format!("hook {}", reason())));
    say("ready");
    let why = safe_exit::wait_for_shutdown();
    say(&format!("requested {why:?}"));
    // SAFETY: printf with a NUL-terminated format that has no conversions.
    unsafe { libc::printf(c"c stdio line\n".as_ptr()) };
}

/// Exit mode; a hook. When stdin closes, main writes `c stdio line` with `printf`, left in C
/// stdio's buffer, and calls `request_shutdown(3)`.
fn request_cstdio() {
    register(|| say(&format!("hook {}", reason())));
    say("ready");
    block_on_stdin();
    // SAFETY: printf with a NUL-terminated format that has no conversions.
    unsafe { libc::printf(c"c stdio line\n".as_ptr()) };
    request_shutdown(3);
    say("request_shutdown returned");
}

/// 64 bytes with the newline: a pipe fills to its last byte.
fn filler() -> String {
    "x".repeat(63)
}

/// A hook writes `hook ran` to stderr with write(2); `ready` goes to stderr; then the main
/// thread prints to stdout forever (a pipe nobody reads: it blocks holding stdout's lock).
fn stdout_blocked() {
    register(|| write_fd(2, b"hook ran\n"));
    eprintln!("ready");
    let line = filler();
    loop {
        println!("{line}");
    }
}

/// Exit mode with a 300 ms hook deadline; the hook prints to stdout forever (a pipe nobody
/// reads). `ready` goes to stderr; main waits on stdin, which the test keeps open.
fn stuck_println() {
    set_shutdown_policy(ShutdownPolicy::exit().hook_deadline(Duration::from_millis(300)))
        .expect("set_shutdown_policy");
    register_named("stuck println", || {
        let line = filler();
        loop {
            println!("{line}");
        }
    });
    eprintln!("ready");
    while block_on_stdin().is_some() {}
    pause_forever();
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

/// `deadline`: exit mode with `hook_deadline(Duration::MAX)`; `grace`: notify mode with
/// `grace_period(Duration::MAX)`. The hook lets the other threads settle, reports
/// `hook start REASON`, waits for a `go` line, then reports `hook end REASON`. A thread reports `requested REASON`. Main returns
/// (`main returning`) on a `return` line or when stdin closes.
fn max_durations(which: &str) {
    let policy = match which {
        "deadline" => ShutdownPolicy::exit().hook_deadline(Duration::MAX),
        "grace" => ShutdownPolicy::notify().grace_period(Duration::MAX),
        other => panic!("unknown variant {other}"),
    };
    set_shutdown_policy(policy).expect("set_shutdown_policy");
    register(|| {
        // Let the threads that the hooks' start set going (a hook-deadline timer) run first.
        settle();
        say(&format!("hook start {}", reason()));
        wait_gate();
        say(&format!("hook end {}", reason()));
    });
    std::thread::spawn(|| {
        let why = safe_exit::wait_for_shutdown();
        say(&format!("requested {why:?}"));
    });
    let returning = stdin_dispatcher("return");
    say("ready");
    // A `return` line, or stdin closed (the reader is gone).
    let _ = returning.recv();
    say("main returning");
}

/// Notify mode without a grace period; a hook. After the request (`requested REASON`) main sets
/// a 200 ms grace period (`grace set`) and never returns.
fn late_grace() {
    set_shutdown_policy(ShutdownPolicy::notify()).expect("set_shutdown_policy");
    register(|| say(&format!("hook {}", reason())));
    say("ready");
    let why = safe_exit::wait_for_shutdown();
    say(&format!("requested {why:?}"));
    set_shutdown_policy(ShutdownPolicy::notify().grace_period(Duration::from_millis(200)))
        .expect("set_shutdown_policy");
    say("grace set");
    while block_on_stdin().is_some() {}
    pause_forever();
}

// ---------------------------------------------------------------------------------------------
// Found by attacking the first version of the fixes
// ---------------------------------------------------------------------------------------------

/// Hooks A (`hook A`) then B (`hook B`, then C's `exit(9)`, not Rust's); B runs first. Main
/// returns when stdin closes (the test may send SIGTERM instead).
fn hook_c_exit() {
    register(|| say("hook A"));
    register(|| {
        say("hook B");
        // SAFETY: exit has no preconditions.
        unsafe { libc::exit(9) };
    });
    say("ready");
    block_on_stdin();
}

static USR1: AtomicBool = AtomicBool::new(false);

extern "C" fn on_usr1(_: libc::c_int) {
    USR1.store(true, Ordering::SeqCst);
}

/// Hooks A (`hook A`) then B, which reports `hook B waiting TID` (its thread) and waits in
/// `pause()` for SIGUSR1 (as a hook waiting for a signal does), then reports `hook B woke`.
/// Main returns when stdin closes.
fn hook_pause() {
    // SAFETY: a handler that only stores an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    register(|| say("hook A"));
    register(|| {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        say(&format!("hook B waiting {tid}"));
        while !USR1.load(Ordering::SeqCst) {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
        say("hook B woke");
    });
    say("ready");
    block_on_stdin();
}

/// Hooks A (`hook A PID`) then B, which forks: the child reports `forked PID` and returns from
/// the hook (into safe-exit's loop, in a process whose hooks these are not); the parent's B
/// reports `child ended ...`. Main returns when stdin closes (the test may send SIGTERM
/// instead).
fn hook_fork_return() {
    register(|| raw(&format!("hook A {}", pid())));
    register(|| {
        let child = fork();
        if child == 0 {
            raw(&format!("forked {}", pid()));
            return;
        }
        raw(&format!("child ended {}", reap(child)));
    });
    say(&format!("ready {}", pid()));
    block_on_stdin();
}

/// The parent is configured with SIGHUP and registers `hook parent`. The forked child calls
/// `config(empty)` (SIGINT and SIGTERM only; SIGHUP keeps its default action), registers
/// `hook child`, reports `forked PID` (or `config failed`) and pauses. The parent reports
/// `child ended ...`, then waits for stdin to close.
fn child_config() {
    config(DEFAULT_CONFIG).expect("config");
    register(|| say("hook parent"));
    say("ready");
    let child = fork();
    if child == 0 {
        if let Err(e) = config(ConfigFlag::empty()) {
            raw(&format!("config failed: {e}"));
            // SAFETY: _exit has no preconditions.
            unsafe { libc::_exit(1) };
        }
        register(|| raw("hook child"));
        raw(&format!("forked {}", pid()));
        pause_forever();
    }
    say(&format!("child ended {}", reap(child)));
    block_on_stdin();
}

/// Hooks A (`hook A`) then B (`hook B`, then `exit(7)`). When stdin closes, main makes every
/// new thread fail to start (a seccomp filter on `clone3` and `clone`, as a limit on threads
/// or a sandbox would), reports `no threads`, and returns: the hooks must run without a thread
/// of their own.
fn no_threads_at_exit() {
    register(|| say("hook A"));
    register(|| {
        say("hook B");
        std::process::exit(7);
    });
    say("ready");
    block_on_stdin();
    no_new_threads();
    let refused = std::thread::Builder::new().spawn(|| {}).is_err();
    say(&format!("no threads {refused}"));
}

/// A seccomp filter for the calling thread: `clone3` fails with ENOSYS (so libc falls back to
/// `clone`), and `clone` with EAGAIN.
fn no_new_threads() {
    safe_exit_tests::child::deny_syscalls(&[
        (libc::SYS_clone3, libc::ENOSYS),
        (libc::SYS_clone, libc::EAGAIN),
    ]);
}
