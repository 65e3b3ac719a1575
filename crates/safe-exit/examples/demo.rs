//! The safe-exit demo: `cargo run --example demo`.
//!
//! Starts two worker processes (this same program, with a hidden `--worker` argument), each of
//! which registers a cleanup hook, and ends them with `safe_kill`:
//!
//! 1. a worker whose cleanup is quick: SIGTERM runs its hook, it ends by SIGTERM;
//! 2. a worker whose cleanup hangs: after the deadline `safe_kill` forces it with SIGKILL.
//!
//! The demo prints what each worker said and how it ended, as a supervisor sees it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use safe_exit::{KillOptions, KillOutcome};

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("--worker") => worker(false),
        Some("--stuck-worker") => worker(true),
        _ => demo(),
    }
}

/// A worker: registers a cleanup hook, says it is ready, and works until it is told to stop.
fn worker(stuck: bool) {
    safe_exit::register(move || {
        println!(
            "cleanup hook started ({:?})",
            safe_exit::exit_reason().unwrap()
        );
        if stuck {
            println!("cleanup hook is stuck (waiting on a dead network peer, say)");
            loop {
                std::thread::park();
            }
        }
        println!("cleanup hook: flushed 3 buffered records, removed the pid file");
    });
    println!("ready: working");
    loop {
        std::thread::park();
    }
}

fn demo() {
    println!("safe-exit demo\n");

    println!(
        "1. A worker with a cleanup hook, stopped with safe_kill (SIGTERM, then force after 2 s)"
    );
    run(&["--worker"], Duration::from_secs(2));

    println!(
        "\n2. A worker whose cleanup hangs, stopped with safe_kill (SIGTERM, then force after 1 s)"
    );
    run(&["--stuck-worker"], Duration::from_secs(1));
}

fn run(args: &[&str], deadline: Duration) {
    let exe = std::env::current_exe().expect("the demo's own path");
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start a worker");
    let pid = child.id();
    let lines = echo_worker_output(&mut child);
    // Wait for the worker's `ready` line: its hook is registered.
    for line in lines.iter() {
        if line.starts_with("ready") {
            break;
        }
    }
    println!("   worker {pid} is running; calling safe_kill({pid})");

    let started = Instant::now();
    let outcome = safe_exit::safe_kill_with(pid, &KillOptions::new().timeout(deadline));
    let took = started.elapsed();
    match outcome {
        Ok(outcome) => {
            let what = match outcome {
                KillOutcome::Exited => "it ended by itself after the polite signal",
                KillOutcome::Killed => "it missed the deadline and was forced",
                _ => "unexpected",
            };
            println!("   safe_kill returned {outcome:?} after {took:.1?}: {what}");
        }
        Err(e) => println!("   safe_kill failed: {e}"),
    }
    // safe_kill never reaps: the exit status is still ours to collect.
    let status = child.wait().expect("wait for the worker");
    // Let the echo thread print the worker's last lines.
    for _ in lines.iter() {}
    println!(
        "   the worker's exit status, as a supervisor sees it: {}",
        describe(status)
    );
}

/// Prints the worker's stdout with a prefix; returns its lines as they come.
fn echo_worker_output(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("   worker | {line}");
            let _ = tx.send(line);
        }
    });
    rx
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                2 => " (SIGINT)",
                9 => " (SIGKILL)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("killed by signal {sig}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => format!("{status}"),
    }
}
