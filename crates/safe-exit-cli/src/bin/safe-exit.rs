//! `safe-exit`: `safe-exit run` runs a command as its init and stop wrapper (a container's
//! PID 1, or a wrapper anywhere); `safe-exit kill` is `safe-kill`. See `safe-exit --help`.

fn main() -> std::process::ExitCode {
    safe_exit_cli::safe_exit_main()
}
