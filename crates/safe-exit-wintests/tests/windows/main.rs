//! safe-exit's process-level tests on Windows, as one test binary (one link, and one Wine
//! process to start, not one per file), run under Wine by `scripts/test-windows` and on real
//! Windows alike. Each module is one subject; a test shows as `module::name`.
//!
//! The tests run as threads of this one process (`cargo test`), not each in a process of its
//! own. The one state of this process that tests change is its console: safe_kill, called
//! here, visits the target's console for a moment. The tests that call it run alone
//! ([`serial`](safe_exit_wintests::serial)): every other test's process starts, and its
//! `SKIPPED under Wine` line, wait until such a visit is over.
#![cfg(windows)]

mod cli;
mod console_flags;
mod die_with_parent;
mod hooks_close;
mod hooks_ctrl_break;
mod hooks_ctrl_c;
mod hooks_exit;
mod kill_all;
mod kill_bad_input;
mod kill_caller;
mod kill_caller_ignoring;
mod kill_console;
mod kill_force;
mod kill_window;
mod notify_close;
mod own;
mod service;
mod session;
mod session_service;
