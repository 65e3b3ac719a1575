//! safe-exit's process-level tests on Linux, as one test binary (one link, not one per file):
//! every scenario runs in a real child process (the programs in `src/bin/`) and gets real
//! signals. Each module is one subject; nextest shows a test as `process module::name`.
//!
//! The tests are meant to run under cargo-nextest (`scripts/test`), which runs each test in a
//! process of its own. None depends on that: no test changes the state of the test process
//! itself (signal handlers, the signal mask, the environment, rlimits, the umask, being a
//! subreaper); that is done in the child programs, or in a child before `exec`.
#![cfg(target_os = "linux")]

mod common;

mod die_with_parent;
mod edges_ending;
mod edges_exit;
mod edges_fork;
mod edges_handlers;
mod edges_policy;
mod hooks_busy;
mod hooks_exit;
mod hooks_fork;
mod hooks_mask;
mod hooks_order;
mod hooks_pid1;
mod hooks_signals;
mod hooks_storm;
mod kill_all;
mod kill_basic;
mod kill_deadline;
mod kill_group;
mod kill_permission;
mod kill_threads;
mod kill_validate;
mod kill_zombie;
mod own;
mod shutdown_examples;
mod shutdown_notify;
mod shutdown_phases;
mod shutdown_request;
mod shutdown_systemd;
