//! `kill-bench`: measures `safe_kill` in one run beside two references, prints a Markdown
//! table and writes it, with the raw samples as CSV, to `target/bench/kill.md` and `kill.csv`.
//!
//! - **raw pidfd**: `pidfd_open`, `pidfd_send_signal`, `poll`: the floor on Linux.
//! - **sleep-poll 10 ms**: what psutil-style code does: `kill`, then check every 10 ms
//!   (`waitpid(WNOHANG)`, as psutil does for its own children) until the deadline, `SIGKILL`,
//!   and check again.
//!
//! Scenarios:
//!
//! 1. **exit → return**: a target that exits on SIGTERM records the `CLOCK_MONOTONIC` time
//!    just before `_exit` in shared memory; the time from there to the call's return.
//! 2. **one target ignoring SIGTERM**, 200 ms deadline: the whole call, and its excess over
//!    the deadline.
//! 3. **100 targets at once** (50 ignore SIGTERM, 50 exit on it), one 300 ms deadline: until
//!    all are gone, and the excess over the deadline.
//!
//! Targets are forked children of the benchmark (fork without exec; the benchmark is
//! single-threaded). Run with `cargo run --release -p safe-exit-bench --bin kill-bench`; `--runs N`
//! sets the number of runs of scenario 1 (default 300; scenarios 2 and 3 use N/30 and N/60, at
//! least 5).

use std::time::Duration;

use safe_exit::{safe_kill_all, safe_kill_with, KillOptions, KillOutcome};

use crate::report::{fmt_ratio, fmt_us, stats, Csv, Table};
use crate::sys::{now_ns, pidfd_open, pidfd_send};

/// The default number of runs of scenario 1.
pub const DEFAULT_RUNS: usize = 300;

const MAX_TARGETS: usize = 100;
const POLL: Duration = Duration::from_millis(10);

/// Shared memory where targets record when they exit.
struct Stamps(*mut u64);

impl Stamps {
    fn new() -> Stamps {
        // SAFETY: an anonymous shared mapping, page-aligned, of MAX_TARGETS u64s.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAX_TARGETS * 8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap");
        Stamps(p.cast())
    }

    fn get(&self, i: usize) -> u64 {
        assert!(i < MAX_TARGETS);
        // SAFETY: in bounds of the mapping; a volatile read of what a child wrote.
        unsafe { self.0.add(i).read_volatile() }
    }
}

/// Forks targets: `ignoring` ignore SIGTERM, the others record the time and exit on it.
/// Returns their pids once all are set up.
fn spawn(stamps: &Stamps, exiting: usize, ignoring: usize) -> Vec<i32> {
    let mut fds = [0; 2];
    // SAFETY: a valid array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let mut pids = Vec::new();
    for i in 0..exiting + ignoring {
        let ignore = i >= exiting;
        // SAFETY: the benchmark is single-threaded; the child uses only libc below.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // SAFETY: in the child: set up the signal, say ready, wait, record, exit.
            unsafe { target(fds[1], ignore, stamps.0.add(i)) }
        }
        pids.push(pid);
    }
    let mut buf = vec![0u8; pids.len()];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reading into the rest of a valid buffer.
        let n = unsafe { libc::read(fds[0], buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        assert!(n > 0, "targets did not start");
        got += n as usize;
    }
    // SAFETY: closing our pipe ends.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    pids
}

/// The target's code, in the forked child.
///
/// # Safety
///
/// Only in a freshly forked child; `stamp` points into the shared mapping.
unsafe fn target(ready: i32, ignore: bool, stamp: *mut u64) -> ! {
    // SAFETY: plain libc calls on values we own, as the function's contract says.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if ignore {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        } else {
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        libc::write(ready, b"x".as_ptr().cast(), 1);
        if ignore {
            loop {
                libc::pause();
            }
        }
        while libc::sigwaitinfo(&set, std::ptr::null_mut()) != libc::SIGTERM {}
        stamp.write_volatile(now_ns());
        libc::_exit(0)
    }
}

fn reap(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: reaping our own child; harmless if already reaped.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}

/// Polls the pidfds until all are readable or `until_ns`; returns which are.
fn poll_all(fds: &[i32], until_ns: Option<u64>) -> Vec<bool> {
    let mut done = vec![false; fds.len()];
    loop {
        let mut pfds: Vec<libc::pollfd> = fds
            .iter()
            .zip(&done)
            .filter(|(_, d)| !**d)
            .map(|(&fd, _)| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        if pfds.is_empty() {
            return done;
        }
        let timeout = match until_ns {
            None => -1,
            Some(t) => {
                let left = t.saturating_sub(now_ns());
                if left == 0 {
                    return done;
                }
                left.div_ceil(1_000_000) as i32
            }
        };
        // SAFETY: a valid array of pollfds.
        unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
        for p in pfds.iter().filter(|p| p.revents != 0) {
            let i = fds.iter().position(|&fd| fd == p.fd).unwrap();
            done[i] = true;
        }
    }
}

/// The reference: pidfds, one poll over all, SIGKILL the survivors, poll again.
fn raw_pidfd(pids: &[i32], deadline: Duration) {
    let fds: Vec<i32> = pids.iter().map(|&p| pidfd_open(p)).collect();
    for &fd in &fds {
        pidfd_send(fd, libc::SIGTERM);
    }
    let done = poll_all(&fds, Some(now_ns() + deadline.as_nanos() as u64));
    let survivors: Vec<i32> = fds
        .iter()
        .zip(&done)
        .filter(|(_, d)| !**d)
        .map(|(&f, _)| f)
        .collect();
    for &fd in &survivors {
        pidfd_send(fd, libc::SIGKILL);
    }
    poll_all(&survivors, None);
    for fd in fds {
        // SAFETY: closing our pidfd.
        unsafe { libc::close(fd) };
    }
}

/// psutil-style: kill, then check every 10 ms (waitpid WNOHANG) until the deadline,
/// SIGKILL, check every 10 ms again. Reaps (as psutil does for its children).
fn sleep_poll(pids: &[i32], deadline: Duration) {
    for &pid in pids {
        // SAFETY: kill(2) on our own live child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let mut alive: Vec<i32> = pids.to_vec();
    let until = now_ns() + deadline.as_nanos() as u64;
    let check = |alive: &mut Vec<i32>| {
        // SAFETY: waitpid(WNOHANG) on our own children.
        alive.retain(
            |&pid| unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) } != pid,
        );
    };
    loop {
        check(&mut alive);
        if alive.is_empty() || now_ns() >= until {
            break;
        }
        std::thread::sleep(POLL);
    }
    for &pid in &alive {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    loop {
        check(&mut alive);
        if alive.is_empty() {
            break;
        }
        std::thread::sleep(POLL);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Method {
    SafeKill,
    RawPidfd,
    SleepPoll,
}

const METHODS: [(Method, &str); 3] = [
    (Method::SafeKill, "safe_kill"),
    (Method::RawPidfd, "raw pidfd_send_signal + poll"),
    (Method::SleepPoll, "sleep-poll 10 ms (psutil-like)"),
];

fn end(method: Method, pids: &[i32], deadline: Duration) {
    match method {
        Method::SafeKill => {
            let opts = KillOptions::new().timeout(deadline);
            let pids: Vec<u32> = pids.iter().map(|&p| p as u32).collect();
            let results = if pids.len() == 1 {
                vec![safe_kill_with(pids[0], &opts)]
            } else {
                safe_kill_all(&pids, &opts)
            };
            for r in results {
                assert!(
                    matches!(r, Ok(KillOutcome::Exited | KillOutcome::Killed)),
                    "{r:?}"
                );
            }
        }
        Method::RawPidfd => raw_pidfd(pids, deadline),
        Method::SleepPoll => sleep_poll(pids, deadline),
    }
}

/// Runs the three scenarios, `runs` times for the first (see the module docs), prints the
/// table and writes `kill.md` and `kill.csv`.
pub fn run(runs: usize) {
    let stamps = Stamps::new();
    let mut table = Table::new(&[
        "scenario",
        "method",
        ">median",
        ">p95",
        ">median vs raw pidfd",
    ]);
    let mut csv = Csv::new(&["scenario", "method", "run", "us"]);

    // 1. Exit → return. Methods interleaved so that machine noise hits them alike.
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for i in 0..runs {
        for (m, (method, _)) in METHODS.iter().enumerate() {
            if *method == Method::SleepPoll && i % 5 != 0 {
                continue; // 10 ms each: fewer runs
            }
            let pids = spawn(&stamps, 1, 0);
            end(*method, &pids, Duration::from_secs(4));
            let returned = now_ns();
            samples[m].push((returned - stamps.get(0)) as f64 / 1000.0);
            reap(&pids);
        }
    }
    push(
        &mut table,
        &mut csv,
        "exit → return (1 target)",
        samples,
        0.0,
    );

    // 2. One target ignoring SIGTERM, 200 ms deadline; 3. 100 targets, 50 ignoring, one
    // 300 ms deadline. Both until every target is gone; the excess over the deadline counts.
    let deadline_scenarios = [
        (
            "1 target ignoring SIGTERM, 200 ms deadline: total",
            200,
            0,
            1,
            (runs / 30).max(5),
        ),
        (
            "100 targets (50 ignore SIGTERM), 300 ms deadline: total",
            300,
            50,
            50,
            (runs / 60).max(5),
        ),
    ];
    for (label, deadline_ms, polite, stubborn, n) in deadline_scenarios {
        let deadline = Duration::from_millis(deadline_ms);
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); 3];
        for _ in 0..n {
            for (m, (method, _)) in METHODS.iter().enumerate() {
                let pids = spawn(&stamps, polite, stubborn);
                let t0 = now_ns();
                end(*method, &pids, deadline);
                samples[m].push((now_ns() - t0) as f64 / 1000.0);
                reap(&pids);
            }
        }
        push(
            &mut table,
            &mut csv,
            label,
            samples,
            deadline_ms as f64 * 1000.0,
        );
    }

    let markdown = format!(
        "{}\nFor the deadline scenarios, \"over\" is the time beyond the deadline itself, and the \
         ratio compares that excess. {runs} runs of scenario 1 ({} for sleep-poll), {} of \
         scenario 2, {} of scenario 3.\n",
        table.markdown(),
        runs.div_ceil(5),
        (runs / 30).max(5),
        (runs / 60).max(5)
    );
    print!("{markdown}");
    crate::report::save("kill", &markdown, &csv);
}

/// Adds a scenario's rows and raw samples; with a deadline (µs), also rows for the excess over
/// it.
fn push(
    table: &mut Table,
    csv: &mut Csv,
    scenario: &'static str,
    samples: Vec<Vec<f64>>,
    deadline: f64,
) {
    for ((_, method), xs) in METHODS.iter().zip(&samples) {
        for (run, x) in xs.iter().enumerate() {
            csv.row(&[scenario, method, &run.to_string(), &format!("{x:.3}")]);
        }
    }
    let stats: Vec<(f64, f64)> = samples
        .iter()
        .map(|xs| stats(xs).expect("every method has samples"))
        .collect();
    let (raw, _) = stats[1];
    let mut add = |scenario: &str, method: &str, median: f64, p95: f64, ratio: f64| {
        table.row(vec![
            scenario.into(),
            method.into(),
            fmt_us(median),
            fmt_us(p95),
            fmt_ratio(ratio),
        ]);
    };
    for ((_, method), (median, p95)) in METHODS.iter().zip(&stats) {
        add(scenario, method, *median, *p95, median / raw);
    }
    if deadline > 0.0 {
        let over = |x: f64| (x - deadline).max(0.0);
        let raw_over = over(raw).max(1.0);
        for ((_, method), (median, p95)) in METHODS.iter().zip(&stats) {
            add(
                "  … over the deadline",
                method,
                over(*median),
                over(*p95),
                over(*median) / raw_over,
            );
        }
    }
}
