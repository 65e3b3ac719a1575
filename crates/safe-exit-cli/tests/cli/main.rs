//! The commands `safe-kill`, `safe-exit kill` and `safe-exit run`, run for real against real
//! processes with real signals, as one test binary (one link, not one per file). Each module
//! is one subject; nextest shows a test as `cli module::name`.
//!
//! Every wait has a watchdog (the harness's), every child says when it is ready, and nothing
//! sleeps to synchronise. No test changes the state of the test process itself (signal
//! handlers, its mask, being a subreaper): that happens in the programs under test.
#![cfg(target_os = "linux")]

mod common;

mod kill;
mod run_leftovers;
mod run_pid1;
mod run_signals;
mod run_status;
mod run_tty;
