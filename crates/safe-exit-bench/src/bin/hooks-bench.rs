//! `hooks-bench`: exit hooks beside `ctrlc`, `signal-hook` and a bare `sigwaitinfo` thread. See
//! `safe_exit_bench::hooks`. `--runs N` (default 200), `--out DIR` (default `target/bench`),
//! `--candidate PATH`, `--busy`.

#[cfg(target_os = "linux")]
fn main() {
    use safe_exit_bench::hooks;
    // The victims are this same program, run again with `victim ...`.
    hooks::victim_main_if_asked();
    hooks::run(safe_exit_bench::usize_arg("--runs").unwrap_or(hooks::DEFAULT_RUNS));
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("hooks-bench relies on pidfds and /proc, which only Linux has");
}
