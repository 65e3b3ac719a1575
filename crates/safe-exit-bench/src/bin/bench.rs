//! `bench`: every benchmark of this crate in one run, `hooks-bench` then `kill-bench`.
//! `--runs N` is passed to both (defaults: 200 and 300), `--out DIR` too.

#[cfg(target_os = "linux")]
fn main() {
    use safe_exit_bench::{hooks, kill, usize_arg};
    // The exit-hook victims are this same program, run again with `victim ...`.
    hooks::victim_main_if_asked();
    let runs = usize_arg("--runs");
    hooks::run(runs.unwrap_or(hooks::DEFAULT_RUNS));
    println!();
    kill::run(runs.unwrap_or(kill::DEFAULT_RUNS));
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the benchmarks rely on pidfds and /proc, which only Linux has");
}
