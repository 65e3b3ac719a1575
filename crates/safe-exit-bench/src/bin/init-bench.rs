//! `init-bench`: `safe-exit run` beside tini, dumb-init and catatonit. See
//! `safe_exit_bench::init`. `--runs N` (default 40), `--safe-exit PATH` (default: the
//! `safe-exit` built beside this program), `--out DIR` (default `target/bench`).

#[cfg(target_os = "linux")]
fn main() {
    use safe_exit_bench::init;
    // The child under each wrapper is this same program, run again with `init-bench-child ...`.
    init::child_main_if_asked();
    init::run(safe_exit_bench::usize_arg("--runs").unwrap_or(init::DEFAULT_RUNS));
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("init-bench relies on pidfds, which only Linux has");
}
