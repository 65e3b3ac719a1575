//! `safe-kill`: ask processes to end, wait, force them after a deadline, report what happened.
//! The same as `safe-exit kill`; see `safe-kill --help`.

fn main() -> std::process::ExitCode {
    safe_exit_cli::safe_kill_main()
}
