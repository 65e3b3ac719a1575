//! Child program for the graceful-shutdown tests: `shutdown SCENARIO [OPTIONS]`.

use std::process::ExitCode;
use std::time::Duration;

use safe_exit::{register, register_named, ExitReason, ShutdownPolicy};
use safe_exit_tests::child::{block_on_stdin, say};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((scenario, opts)) = args.split_first() else {
        eprintln!("usage: shutdown SCENARIO [OPTIONS]");
        std::process::exit(64);
    };
    let policy = policy_from(opts);
    safe_exit::set_shutdown_policy(policy).expect("set_shutdown_policy");
    match scenario.as_str() {
        "notify" => return notify(opts),
        "no-hooks" => no_hooks(),
        "future" => future(),
        "request" => request(opts),
        "stuck-hook" => stuck_hook(),
        "late-deadline" => late_deadline(),
        "wait-max" => wait_max(),
        "phases" => return phases(),
        other => {
            eprintln!("unknown scenario {other}");
            std::process::exit(64);
        }
    }
    ExitCode::SUCCESS
}

fn ms(v: &str) -> Duration {
    Duration::from_millis(v.parse().expect("milliseconds"))
}

/// `--notify`, `--grace MS`, `--force`, `--hook-deadline MS`, `--keep-code`, `--pre-drain MS`
/// (`--ready` is read by the scenario).
fn policy_from(opts: &[String]) -> ShutdownPolicy {
    let mut p = ShutdownPolicy::exit();
    let mut it = opts.iter();
    while let Some(opt) = it.next() {
        p = match opt.as_str() {
            "--notify" => ShutdownPolicy::notify(),
            "--grace" => p.grace_period(ms(it.next().expect("--grace MS"))),
            "--force" => p.force_on_repeat(true),
            "--hook-deadline" => p.hook_deadline(ms(it.next().expect("--hook-deadline MS"))),
            "--keep-code" => p.exit_by_signal(false),
            "--never-return" | "--ready" => p,
            "--pre-drain" => p.pre_drain_delay(ms(it.next().expect("--pre-drain MS"))),
            other => panic!("unknown option {other}"),
        };
    }
    p
}

fn hook_line() {
    say(&format!(
        "hook {:?}",
        safe_exit::exit_reason().expect("a reason during the hooks")
    ));
}

/// Waits for the request, reports it, then returns from `main` when stdin says `return` or
/// `return CODE` (with that exit code; never, with `--never-return`).
fn notify(opts: &[String]) -> ExitCode {
    register(hook_line);
    // Nothing was requested yet: a short wait times out.
    say(&format!(
        "before: {:?}",
        safe_exit::wait_for_shutdown_timeout(Duration::from_millis(1))
    ));
    say(&format!(
        "requested before: {}",
        safe_exit::shutdown_requested()
    ));
    say("ready");
    let reason = safe_exit::wait_for_shutdown();
    say(&format!("requested {reason:?}"));
    say(&format!(
        "requested after: {}",
        safe_exit::shutdown_requested()
    ));
    say(&format!(
        "exit_reason while draining: {:?}",
        safe_exit::exit_reason()
    ));
    if opts.iter().any(|o| o == "--never-return") {
        // A service stuck draining: only the grace period ends it.
        loop {
            std::thread::park();
        }
    }
    while let Some(line) = block_on_stdin() {
        if let Some(code) = line.strip_prefix("return") {
            say("main returning");
            return ExitCode::from(code.trim().parse::<u8>().unwrap_or(0));
        }
    }
    ExitCode::SUCCESS
}

/// Two tasks await `shutdown_signal()` under `pollster` (no runtime), one on another thread.
fn future() {
    register(hook_line);
    let other = std::thread::spawn(|| {
        let reason = pollster::block_on(safe_exit::shutdown_signal());
        say(&format!("thread future: {reason:?}"));
    });
    say("ready");
    let reason = pollster::block_on(safe_exit::shutdown_signal());
    say(&format!("main future: {reason:?}"));
    other.join().unwrap();
    // A future made after the request completes at once.
    let again = pollster::block_on(safe_exit::shutdown_signal());
    say(&format!("late future: {again:?}"));
}

/// A worker thread requests shutdown with code 3 when stdin says `fail`; main waits for the
/// request like for a signal.
/// A worker thread requests shutdown with code 3. Main then exits with that code itself, or
/// with `--never-return` never returns (only the grace period ends the process).
fn request(opts: &[String]) {
    register(hook_line);
    let worker = std::thread::spawn(|| {
        while let Some(line) = block_on_stdin() {
            if line == "fail" {
                say("worker: fatal error, requesting shutdown");
                safe_exit::request_shutdown(3);
                say("worker: request_shutdown returned");
                return;
            }
        }
    });
    say("ready");
    let reason = safe_exit::wait_for_shutdown();
    say(&format!("requested {reason:?}"));
    worker.join().unwrap();
    if opts.iter().any(|o| o == "--never-return") {
        loop {
            std::thread::park();
        }
    }
    if let ExitReason::Requested(code) = reason {
        std::process::exit(code);
    }
}

/// A hook that never finishes (named, so the deadline report can name it), and a quick one
/// registered before it (so it would run after it).
fn register_stuck_hooks() {
    register(|| say("hook quick (runs last)"));
    register_named("stuck flush", || {
        say("hook stuck: started");
        loop {
            std::thread::park();
        }
    });
}

/// The stuck hooks; main returns when stdin closes.
fn stuck_hook() {
    register_stuck_hooks();
    say("ready");
    while block_on_stdin().is_some() {}
}

/// Notify mode without a hook deadline; once shutdown is requested, `main` sets one (300 ms)
/// and returns: the stuck hook must be cut short by the deadline set late.
fn late_deadline() {
    register_stuck_hooks();
    say("ready");
    let reason = safe_exit::wait_for_shutdown();
    say(&format!("requested {reason:?}"));
    safe_exit::set_shutdown_policy(
        ShutdownPolicy::notify().hook_deadline(Duration::from_millis(300)),
    )
    .expect("set_shutdown_policy");
    say("main returning");
}

/// A wait whose timeout cannot be represented as a deadline: no deadline, and no panic.
fn wait_max() {
    say("ready");
    let reason = safe_exit::wait_for_shutdown_timeout(Duration::MAX);
    say(&format!("woke {reason:?}"));
}

/// Notify mode with no hook at all: main returns after the request.
fn no_hooks() {
    say("ready");
    let reason = safe_exit::wait_for_shutdown();
    say(&format!("requested {reason:?}"));
}

/// The phases of a shutdown, as the program sees them: `phase` on stdin prints
/// `phase PHASE requested BOOL`, `request` calls `request_shutdown(0)`, `return` returns from
/// `main`. A thread waits for the shutdown and prints `woken REASON phase PHASE`; the hook
/// prints `hook phase PHASE`. With `--ready` (in the options) it first calls `notify_ready`
/// and prints `notify_ready RESULT`.
fn phases() -> ExitCode {
    if std::env::args().any(|a| a == "--ready") {
        match safe_exit::notify_ready() {
            Ok(sent) => say(&format!("notify_ready Ok({sent})")),
            Err(e) => say(&format!("notify_ready Err({e})")),
        }
    }
    register(|| say(&format!("hook phase {:?}", safe_exit::shutdown_phase())));
    std::thread::spawn(|| {
        let reason = safe_exit::wait_for_shutdown();
        say(&format!(
            "woken {reason:?} phase {:?}",
            safe_exit::shutdown_phase()
        ));
    });
    say("ready");
    while let Some(line) = block_on_stdin() {
        match line.as_str() {
            "phase" => say(&format!(
                "phase {:?} requested {}",
                safe_exit::shutdown_phase(),
                safe_exit::shutdown_requested()
            )),
            "request" => safe_exit::request_shutdown(0),
            "return" => return ExitCode::SUCCESS,
            _ => {}
        }
    }
    ExitCode::SUCCESS
}
