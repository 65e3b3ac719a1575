//! `kill-bench`: `safe_kill` beside a raw pidfd loop and a sleep-poll loop. See
//! `safe_exit_bench::kill`. `--runs N` (default 300), `--out DIR` (default `target/bench`).

#[cfg(target_os = "linux")]
fn main() {
    use safe_exit_bench::kill;
    kill::run(safe_exit_bench::usize_arg("--runs").unwrap_or(kill::DEFAULT_RUNS));
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("kill-bench measures against pidfd_send_signal, which only Linux has");
}
