//! Benchmarks of safe-exit beside the alternatives and the kernel's own limits, run by the
//! binaries of this crate:
//!
//! - `kill-bench` ([`kill`]): `safe_kill` against a raw `pidfd_send_signal` + `poll` loop and
//!   a psutil-like sleep-poll loop.
//! - `hooks-bench` ([`hooks`]): exit hooks (signal → first hook, signal storms, signal →
//!   process gone, set-up overhead) against `ctrlc`, `signal-hook` and a bare `sigwaitinfo`
//!   thread.
//! - `bench`: both, one after the other.
//! - `init-bench` ([`init`]): `safe-exit run` beside the container inits tini, dumb-init and
//!   catatonit (not part of `bench`): start overhead, signal → child's handler, TERM →
//!   wrapper gone, and the stop time of a child that ignores TERM.
//!
//! Every benchmark interleaves its contenders (round-robin per iteration), prints Markdown
//! tables and writes them, with the raw numbers as CSV, under `target/bench/`. The measurements
//! rely on pidfds, `/proc` and `CLOCK_MONOTONIC`, so they run on Linux only; elsewhere the
//! binaries say so and exit.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod report;

#[cfg(target_os = "linux")]
pub mod hooks;
#[cfg(target_os = "linux")]
pub mod init;
#[cfg(target_os = "linux")]
pub mod kill;
#[cfg(target_os = "linux")]
mod sys;

/// The number after `name` on the command line (`--runs 50`), if given.
///
/// # Panics
///
/// If the value after `name` is missing or not a number.
pub fn usize_arg(name: &str) -> Option<usize> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    let value = args.next().unwrap_or_default();
    match value.parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name} takes a number, got {value:?}"),
    }
}
