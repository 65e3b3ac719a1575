//! A parent that owns a pool of worker processes: `cargo run --example process_pool`.
//!
//! The parent starts three workers (this same program, with a hidden `--worker` argument) and
//! owns them with [`safe_exit::own`]: when the parent ends (Ctrl-C, SIGTERM, or after 1.5 s
//! on its own, as if asked to), every worker gets SIGTERM at the same moment and has one
//! shared second to finish. Two workers finish the job in hand and exit; the third is stuck
//! in a job that never ends and is forced with SIGKILL at the deadline. Only then does the
//! parent's own exit hook run: it sees every worker gone, with its real exit status (the
//! parent's `Child::wait`, since safe-exit never reaps), and closes the job queue last.

use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(unix)]
use std::os::unix::process::ExitStatusExt;

use safe_exit::{KillOptions, ShutdownPolicy};

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--worker") => {
            let n: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
            worker(n, args.next().as_deref() == Some("--stuck"));
        }
        _ => parent(),
    }
}

fn parent() {
    let exe = std::env::current_exe().expect("this program's path");
    let workers: Arc<Mutex<Vec<Child>>> = Arc::default();
    let seen = Arc::clone(&workers);
    // Registered first: it runs after the owned workers have been stopped.
    safe_exit::register(move || {
        for w in seen.lock().unwrap().iter_mut() {
            let status = w.wait().expect("wait for a worker");
            println!(
                "parent hook: worker {} is gone ({})",
                w.id(),
                describe(status)
            );
        }
        println!("parent hook: every worker is gone; closing the job queue (runs last)");
    });
    let opts = KillOptions::new().timeout(Duration::from_secs(1));
    for n in 1..=3 {
        let mut cmd = Command::new(&exe);
        cmd.args(["--worker", &n.to_string()]);
        if n == 3 {
            cmd.arg("--stuck");
        }
        let child = cmd.spawn().expect("start a worker");
        safe_exit::own(child.id(), &opts).expect("own the worker");
        workers.lock().unwrap().push(child);
    }
    println!("parent: 3 workers started and owned; press Ctrl-C, or wait 1.5 s");
    if safe_exit::wait_for_shutdown_timeout(Duration::from_millis(1500)).is_none() {
        println!("parent: shutting down, as a supervisor's SIGTERM would");
        safe_exit::request_shutdown(0);
    }
}

/// A worker: takes 200 ms jobs until shutdown is requested, then finishes the job in hand. The
/// stuck one's second job never ends.
fn worker(n: u32, stuck: bool) {
    safe_exit::set_shutdown_policy(ShutdownPolicy::notify()).expect("notify mode");
    let mut job = 0;
    while !safe_exit::shutdown_requested() {
        job += 1;
        if stuck && job == 2 {
            println!("worker {n}: job {job} is stuck (a dead network peer, say)");
            std::thread::sleep(Duration::from_secs(3600));
        }
        std::thread::sleep(Duration::from_millis(200));
        println!("worker {n}: job {job} done");
    }
    println!("worker {n}: asked to stop; finished the job in hand, exiting");
}

fn describe(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    if let Some(sig) = status.signal() {
        return match sig {
            15 => "ended by SIGTERM, after finishing its job".into(),
            9 => "forced with SIGKILL at the deadline".into(),
            _ => format!("ended by signal {sig}"),
        };
    }
    format!("{status}")
}
