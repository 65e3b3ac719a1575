//! A blocking (no async) worker pool that shuts down gracefully:
//! `cargo run --example worker [JOB_MS]`.
//!
//! Worker threads take jobs until shutdown is requested; on SIGTERM (or Ctrl-C) they finish
//! the job in hand, take no new one, `main` joins them and returns, the exit hook runs, and
//! the process ends by the signal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use safe_exit::ShutdownPolicy;

static NEXT_JOB: AtomicU64 = AtomicU64::new(1);

fn main() -> Result<(), safe_exit::Error> {
    safe_exit::set_shutdown_policy(ShutdownPolicy::notify().grace_period(Duration::from_secs(10)))?;
    safe_exit::register_named("flush results", || println!("exit hook: results flushed"));

    let job_time = Duration::from_millis(
        std::env::args()
            .nth(1)
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(500),
    );
    let workers: Vec<_> = (1..=2)
        .map(|w| {
            std::thread::spawn(move || {
                while !safe_exit::shutdown_requested() {
                    let job = NEXT_JOB.fetch_add(1, Ordering::Relaxed);
                    println!("worker {w}: job {job} started");
                    std::thread::sleep(job_time); // the work
                    println!("worker {w}: job {job} finished");
                }
            })
        })
        .collect();
    println!(
        "ready: {} workers, pid {}",
        workers.len(),
        std::process::id()
    );

    let reason = safe_exit::wait_for_shutdown();
    println!("shutdown requested ({reason:?}): finishing the jobs in hand");
    for worker in workers {
        let _ = worker.join();
    }
    println!("all workers stopped");
    Ok(())
}
