//! `hooks-bench`: how fast an exit hook starts after a termination signal, with safe-exit and
//! with the alternatives, in one run with the contenders interleaved (round-robin, and the
//! order rotated every iteration, so that the machine's noise hits them alike).
//!
//! # Contenders
//!
//! Each runs in a fresh victim process (this same program run as `victim <contender>`, see
//! [`victim`](self)) whose main thread is blocked in `read(2)` on stdin:
//!
//! - **safe-exit**: `safe_exit::register(hook)`, default configuration (SIGINT, SIGTERM,
//!   SIGQUIT, SIGHUP). The hook runs on the library's watcher thread, woken through a futex by
//!   the signal handler; the library then ends the process by the same signal.
//! - **ctrlc** 3 with feature `termination` (SIGINT, SIGTERM, SIGHUP; not SIGQUIT):
//!   `ctrlc::set_handler(hook)`. The hook runs on ctrlc's thread, woken through a semaphore by
//!   its signal handler, and ends the process with `exit(130)`.
//! - **signal-hook** 0.4: `signal_hook::iterator::Signals::new([INT, TERM, QUIT, HUP])` and a
//!   thread running `for sig in signals.forever() { hook }`, woken through a socket by the
//!   handler; the hook ends the process with `emulate_default_handler(sig)`.
//! - **tokio::signal**: a current-thread runtime on a thread of its own (the main thread is
//!   the victim's), `select!` over `signal(kind).recv()` for the four signals; the hook ends
//!   the process by the same signal.
//! - **reference: handler only**: the "hook" is the signal handler itself (`sigaction`), which
//!   stamps, reports with `write(2)` and ends the process by the signal: what a program gets
//!   that does its cleanup inside the handler (and may do only async-signal-safe things there).
//! - **reference**: no handler at all: every signal blocked in the main thread before any
//!   other thread exists, and one thread in `sigwaitinfo`, which the kernel wakes directly.
//!   The practical limit for any design that runs hooks on an ordinary thread.
//!
//! # Measurements
//!
//! 1. **signal → first hook**: once every thread of the victim sleeps (`/proc`), the driver
//!    reads `CLOCK_MONOTONIC` just before `kill()`; the hook reads it first thing and reports
//!    it. SIGINT, SIGTERM, SIGQUIT and SIGHUP.
//! 2. **storms** of 1 000 and 100 000 SIGTERMs sent back to back: from just before the first
//!    `kill()` to the first hook; and how many times the hook ran before the process ended.
//! 3. **signal → process gone**, as a supervisor sees it: from just before `kill()` to the
//!    victim's pidfd becoming readable (same processes as 1).
//! 4. **overhead** of the set-up in a fresh process: its time, the threads it adds
//!    (`/proc/self/task`), the resident memory it adds (`VmRSS`), and the size safe-exit adds to
//!    a minimal release binary (`size-bare` against `size-hooks`).
//!
//! `--candidate PATH` adds a fifth contender: safe-exit as built into another build of this
//! benchmark (`PATH` is its `hooks-bench` or `bench` program), to measure a change to the library
//! beside the current one in the same run. `--busy` keeps one CPU busy all along (a process
//! spinning at normal priority, this program run as `spin`): the storms' tails on a busy
//! machine.
//!
//! safe-exit's victims also report the library's stage timestamps (feature
//! `stage-timestamps`): when the handler ran, when the watcher woke, when the core called the
//! first hook; the report shows their medians beside the hook's own time.
//!
//! `safe_kill` has its own benchmark, [`kill`](crate::kill).

mod victim;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::report::{fmt_ratio, fmt_us, stats, Csv, Table};
use crate::sys::{close, now_ns, pidfd_open, pidfd_send, wait_asleep, wait_readable};

/// The default number of samples per contender and signal of measurement 1 (and 3).
pub const DEFAULT_RUNS: usize = 200;

/// A victim that has not ended this long after the signal is killed and reported as hung.
const WATCHDOG_MS: i32 = 10_000;

/// The storm sizes.
const STORMS: [usize; 2] = [1_000, 100_000];

const SIGNALS: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT, libc::SIGHUP];

/// Runs a victim if this process was started as one (see [`victim`](self)): call it first
/// thing in `main`. Returns at once otherwise.
pub fn victim_main_if_asked() {
    victim::main_if_asked();
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Contender {
    SafeExit,
    /// safe-exit in the program given with `--candidate`.
    Candidate,
    Ctrlc,
    SignalHook,
    Tokio,
    HandlerOnly,
    Reference,
}

impl Contender {
    /// The contenders that run in this program (the candidate runs in another).
    const ALL: [Contender; 6] = [
        Contender::SafeExit,
        Contender::Ctrlc,
        Contender::SignalHook,
        Contender::Tokio,
        Contender::HandlerOnly,
        Contender::Reference,
    ];

    fn arg(self) -> &'static str {
        match self {
            Contender::SafeExit | Contender::Candidate => "safe-exit",
            Contender::Ctrlc => "ctrlc",
            Contender::SignalHook => "signal-hook",
            Contender::Tokio => "tokio",
            Contender::HandlerOnly => "handler-only",
            Contender::Reference => "reference",
        }
    }

    fn from_arg(arg: &str) -> Option<Contender> {
        Contender::ALL.into_iter().find(|c| c.arg() == arg)
    }

    fn label(self) -> &'static str {
        match self {
            Contender::SafeExit => "safe-exit",
            Contender::Candidate => "safe-exit, candidate build",
            Contender::Ctrlc => "ctrlc (termination)",
            Contender::SignalHook => "signal-hook iterator",
            Contender::Tokio => "tokio::signal",
            Contender::HandlerOnly => "reference: handler only",
            Contender::Reference => "reference: sigwaitinfo thread",
        }
    }

    fn handles(self, sig: i32) -> bool {
        self != Contender::Ctrlc || sig != libc::SIGQUIT
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGKILL => "SIGKILL".into(),
        _ => format!("signal {sig}"),
    }
}

/// How a victim ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ended {
    Signal(i32),
    Code(i32),
    /// Still there after [`WATCHDOG_MS`]; killed.
    Hung,
}

impl Ended {
    fn describe(self) -> String {
        match self {
            Ended::Signal(sig) => signal_name(sig),
            Ended::Code(code) => format!("exit {code}"),
            Ended::Hung => "hung (killed)".into(),
        }
    }
}

/// What one victim process showed.
struct Outcome {
    /// From just before the first `kill()` to the first hook's own timestamp.
    first_hook_ns: Option<u64>,
    /// From just before `kill()` to the pidfd being readable (single signals only).
    gone_ns: Option<u64>,
    hook_runs: usize,
    ended: Ended,
    /// safe-exit's stage timestamps, from just before the first `kill()`: the handler, the
    /// watcher woken, the hook runner, the hook.
    stages: Option<[u64; 4]>,
}

/// Starts a victim of `contender`, sends it `count` × `sig` back to back, and waits for it to
/// end.
fn sample(exe: &Path, contender: Contender, sig: i32, count: usize) -> Outcome {
    let mut child = Command::new(exe)
        .args(["victim", contender.arg()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start a victim process");
    let stdin = child.stdin.take();
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    assert_eq!(
        line,
        "ready\n",
        "the {} victim did not start",
        contender.arg()
    );
    let pid = child.id() as i32;
    let pidfd = pidfd_open(pid);
    // Every thread of the victim asleep in its wait, as the main thread's is after "ready".
    assert!(
        wait_asleep(&[pid], WATCHDOG_MS),
        "the {} victim did not go to sleep",
        contender.arg()
    );

    let t0 = now_ns();
    for _ in 0..count {
        // SAFETY: kill(2) on our own child, which cannot be reaped (and its pid reused) before
        // we wait for it below.
        unsafe { libc::kill(pid, sig) };
    }
    let gone = wait_readable(pidfd, WATCHDOG_MS);
    let t1 = now_ns();
    if !gone {
        pidfd_send(pidfd, libc::SIGKILL);
        wait_readable(pidfd, -1);
    }
    close(pidfd);
    drop(stdin);

    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    let status = child.wait().expect("wait for a victim");
    let stamps: Vec<u64> = rest
        .lines()
        .filter_map(|l| l.strip_prefix("hook "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    let first_hook = stamps.iter().min().copied();
    let stages = rest
        .lines()
        .find_map(|l| l.strip_prefix("stages "))
        .and_then(|l| {
            let v: Vec<u64> = l.split(' ').filter_map(|x| x.parse().ok()).collect();
            let (&[h, w, r], Some(hook)) = (v.as_slice(), first_hook) else {
                return None;
            };
            let at = |t: u64| t.saturating_sub(t0);
            (h > 0 && w > 0 && r > 0).then_some([at(h), at(w), at(r), at(hook)])
        });
    Outcome {
        stages,
        first_hook_ns: first_hook.map(|t| t.saturating_sub(t0)),
        gone_ns: (gone && count == 1).then_some(t1 - t0),
        hook_runs: stamps.len(),
        ended: match (gone, status.signal(), status.code()) {
            (false, _, _) => Ended::Hung,
            (true, Some(sig), _) => Ended::Signal(sig),
            (true, None, code) => Ended::Code(code.unwrap_or(-1)),
        },
    }
}

/// One measurement: which scenario, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Scenario {
    FirstHook(i32),
    Storm(usize),
    Gone(i32),
}

impl Samples {
    fn push(&mut self, us: Option<u64>, o: &Outcome) {
        self.us.push(us.map(|ns| ns as f64 / 1e3));
        self.hook_runs.push(o.hook_runs);
        self.ended.push(o.ended);
        self.stages.extend(o.stages);
        if let (Some(hook), Some(gone)) = (o.first_hook_ns, o.gone_ns) {
            self.hook_to_gone
                .push(gone.saturating_sub(hook) as f64 / 1e3);
        }
    }

    /// The samples that have a value.
    fn values(&self) -> Vec<f64> {
        self.us.iter().flatten().copied().collect()
    }
}

impl Scenario {
    fn title(self) -> String {
        match self {
            Scenario::FirstHook(_) => "signal → first hook starts".into(),
            Scenario::Storm(n) => format!("storm of {} SIGTERM: first kill → first hook", group(n)),
            Scenario::Gone(_) => "signal → process gone (pidfd readable)".into(),
        }
    }

    fn signal(self) -> i32 {
        match self {
            Scenario::FirstHook(sig) | Scenario::Gone(sig) => sig,
            Scenario::Storm(_) => libc::SIGTERM,
        }
    }

    /// Display order: measurement, then the signals in the order of [`SIGNALS`].
    fn order(self) -> (u8, usize) {
        let at = |sig| SIGNALS.iter().position(|&s| s == sig).unwrap_or(0);
        match self {
            Scenario::FirstHook(sig) => (0, at(sig)),
            Scenario::Storm(n) => (1, n),
            Scenario::Gone(sig) => (2, at(sig)),
        }
    }

    fn csv_name(self) -> String {
        match self {
            Scenario::FirstHook(_) => "first_hook".into(),
            Scenario::Storm(n) => format!("storm_{n}_first_hook"),
            Scenario::Gone(_) => "gone".into(),
        }
    }
}

/// `100000` → `100 000`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The samples of one scenario and contender.
#[derive(Default)]
struct Samples {
    /// Microseconds; `None` where the victim never reported (its hook did not run, or it hung).
    us: Vec<Option<f64>>,
    hook_runs: Vec<usize>,
    ended: Vec<Ended>,
    /// safe-exit's stage timestamps (see [`Outcome::stages`]).
    stages: Vec<[u64; 4]>,
    /// Single signals: from the first hook to the process gone, µs.
    hook_to_gone: Vec<f64>,
}

/// Overhead of one contender's set-up in a fresh process.
#[derive(Default)]
struct Overhead {
    us: Vec<f64>,
    threads: Vec<f64>,
    rss_kb: Vec<f64>,
}

/// Runs every measurement: `runs` samples per contender and signal for single signals,
/// `runs / 4` (at least 5) per storm size, `runs / 2` (at least 5) for the overhead; prints the
/// report and writes `hooks.md` and `hooks.csv`.
pub fn run(runs: usize) {
    let runs = runs.max(1);
    let storm_runs = (runs / 4).max(5);
    let overhead_runs = (runs / 2).max(5);
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let candidate = candidate();
    let contenders: Vec<Contender> = match candidate {
        Some(_) => [Contender::SafeExit, Contender::Candidate]
            .into_iter()
            .chain(Contender::ALL[1..].iter().copied())
            .collect(),
        None => Contender::ALL.to_vec(),
    };
    let exe_of = |c: Contender| match (c, &candidate) {
        (Contender::Candidate, Some(path)) => path.clone(),
        _ => exe.clone(),
    };
    let mut results: BTreeMap<(Scenario, Contender), Samples> = BTreeMap::new();
    let mut overhead: BTreeMap<Contender, Overhead> = BTreeMap::new();
    let started = now_ns();
    // `--busy`: one process spinning at normal priority all along keeps one CPU busy.
    let busy = std::env::args().any(|a| a == "--busy").then(|| {
        Command::new(&exe)
            .arg("spin")
            .spawn()
            .expect("cannot start the spinning process")
    });
    let load_before = load_average();

    for i in 0..runs.max(storm_runs).max(overhead_runs) {
        if i % 10 == 0 {
            eprintln!(
                "hooks-bench: iteration {i} of {} ({:.0} s)",
                runs.max(storm_runs).max(overhead_runs),
                (now_ns() - started) as f64 / 1e9
            );
        }
        let mut order = contenders.clone();
        order.rotate_left(i % contenders.len());
        if i < runs {
            for sig in SIGNALS {
                for &c in order.iter().filter(|c| c.handles(sig)) {
                    let o = sample(&exe_of(c), c, sig, 1);
                    results
                        .entry((Scenario::FirstHook(sig), c))
                        .or_default()
                        .push(o.first_hook_ns, &o);
                    results
                        .entry((Scenario::Gone(sig), c))
                        .or_default()
                        .push(o.gone_ns, &o);
                }
            }
        }
        if i < storm_runs {
            for n in STORMS {
                for &c in &order {
                    let o = sample(&exe_of(c), c, libc::SIGTERM, n);
                    results
                        .entry((Scenario::Storm(n), c))
                        .or_default()
                        .push(o.first_hook_ns, &o);
                }
            }
        }
        if i < overhead_runs {
            for &c in &order {
                let (us, threads, rss_kb) = measure_overhead(&exe_of(c), c);
                let o = overhead.entry(c).or_default();
                o.us.push(us);
                o.threads.push(threads);
                o.rss_kb.push(rss_kb);
            }
        }
    }
    let load = format!("{load_before} before, {} after", load_average());
    let busy = busy.map(|mut spinner| {
        let _ = spinner.kill();
        let _ = spinner.wait();
    });
    let sizes = binary_sizes();
    let elapsed = (now_ns() - started) as f64 / 1e9;

    let mut csv = Csv::new(&[
        "measurement",
        "signal",
        "contender",
        "run",
        "value",
        "unit",
        "hook_runs",
        "ended",
    ]);
    for ((scenario, c), s) in &results {
        for (run, ((us, runs), ended)) in s.us.iter().zip(&s.hook_runs).zip(&s.ended).enumerate() {
            csv.row(&[
                scenario.csv_name(),
                signal_name(scenario.signal()),
                c.arg().into(),
                run.to_string(),
                us.map(|v| format!("{v:.3}")).unwrap_or_default(),
                "us".into(),
                runs.to_string(),
                ended.describe(),
            ]);
        }
    }
    for (c, o) in &overhead {
        for run in 0..o.us.len() {
            for (name, value, unit) in [
                ("setup_time", o.us[run], "us"),
                ("threads_added", o.threads[run], "threads"),
                ("vmrss_added", o.rss_kb[run], "kB"),
            ] {
                csv.row(&[
                    name.into(),
                    String::new(),
                    c.arg().into(),
                    run.to_string(),
                    format!("{value}"),
                    unit.into(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }

    let markdown = render(
        &results,
        &overhead,
        sizes,
        (runs, storm_runs, overhead_runs),
        elapsed,
        &format!(
            "{load}{}",
            if busy.is_some() {
                "; **one CPU kept busy** all along by a spinning process (`--busy`)"
            } else {
                ""
            }
        ),
    );
    print!("{markdown}");
    crate::report::save("hooks", &markdown, &csv);
}

/// The program given with `--candidate PATH`, if any.
///
/// # Panics
///
/// If `PATH` is missing or not a file.
fn candidate() -> Option<PathBuf> {
    let mut args = std::env::args().skip_while(|a| a != "--candidate");
    args.next()?;
    let path = PathBuf::from(args.next().expect("--candidate takes a path"));
    assert!(
        path.is_file(),
        "--candidate {}: no such program",
        path.display()
    );
    Some(path)
}

/// Starts `victim-overhead <contender>` and returns (set-up µs, threads added, VmRSS kB added).
fn measure_overhead(exe: &Path, contender: Contender) -> (f64, f64, f64) {
    let out = Command::new(exe)
        .args(["victim-overhead", contender.arg()])
        .stdin(Stdio::null())
        .output()
        .expect("cannot start a victim process");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .strip_prefix("overhead ")
        .unwrap_or_else(|| panic!("unexpected overhead report {text:?}"))
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    assert_eq!(v.len(), 5, "unexpected overhead report {text:?}");
    (v[0] / 1e3, v[2] - v[1], v[4] - v[3])
}

/// Builds `size-bare` and `size-hooks` in release mode (through the cargo that ran us, if any)
/// and returns their sizes in bytes, or why it could not.
fn binary_sizes() -> Result<(u64, u64), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--message-format=json",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            "--bin",
            "size-bare",
            "--bin",
            "size-hooks",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo ({e})"))?;
    if !out.status.success() {
        return Err("cargo could not build size-bare and size-hooks".into());
    }
    let json = String::from_utf8_lossy(&out.stdout);
    let path_of = |bin: &str| -> Result<PathBuf, String> {
        json.lines()
            .filter(|l| l.contains(&format!("\"name\":\"{bin}\"")))
            .find_map(|l| {
                let at = l.find("\"executable\":\"")? + "\"executable\":\"".len();
                Some(PathBuf::from(&l[at..at + l[at..].find('"')?]))
            })
            .ok_or_else(|| format!("cargo did not report where {bin} is"))
    };
    let size = |bin: &str| -> Result<u64, String> {
        let path = path_of(bin)?;
        std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| format!("{bin}: {e}"))
    };
    Ok((size("size-bare")?, size("size-hooks")?))
}

/// How many times the hook ran, over the samples: "once (all 100)" or "once: 98, 2 times: 2".
fn describe_runs(runs: &[usize]) -> String {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for r in runs {
        *counts.entry(*r).or_default() += 1;
    }
    let times = |n: usize| match n {
        0 => "never".to_string(),
        1 => "once".to_string(),
        n => format!("{n} times"),
    };
    if counts.len() == 1 {
        let (n, _) = counts.first_key_value().expect("one entry");
        return format!("{} (all {})", times(*n), runs.len());
    }
    counts
        .iter()
        .map(|(n, k)| format!("{}: {k}", times(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the processes ended, over the samples: "SIGTERM" or "SIGTERM: 99, exit 130: 1".
fn describe_ended(ended: &[Ended]) -> String {
    let mut counts: BTreeMap<Ended, usize> = BTreeMap::new();
    for e in ended {
        *counts.entry(*e).or_default() += 1;
    }
    if counts.len() == 1 {
        return counts.keys().next().expect("one entry").describe();
    }
    counts
        .iter()
        .map(|(e, k)| format!("{}: {k}", e.describe()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn median(xs: &[f64]) -> Option<f64> {
    stats(xs).map(|(m, _)| m)
}

/// The report; `counts` are the processes per single signal, per storm size and for the
/// overhead.
fn render(
    results: &BTreeMap<(Scenario, Contender), Samples>,
    overhead: &BTreeMap<Contender, Overhead>,
    sizes: Result<(u64, u64), String>,
    (runs, storm_runs, overhead_runs): (usize, usize, usize),
    elapsed_s: f64,
    load: &str,
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "### Exit hooks: signal → hook, storms, signal → process gone\n"
    );
    let mut table = Table::new(&[
        "measurement",
        "signal",
        "contender",
        ">median",
        ">p95",
        ">median vs reference",
        "hook ran",
        "process ended by",
    ]);
    let mut last_title = String::new();
    let mut last_signal = 0;
    let scenarios: Vec<Scenario> = {
        let mut v: Vec<Scenario> = results.keys().map(|(s, _)| *s).collect();
        v.sort_by_key(|s| s.order());
        v.dedup();
        v
    };
    for scenario in scenarios {
        let reference = results
            .get(&(scenario, Contender::Reference))
            .and_then(|s| median(&s.values()));
        let contenders = results
            .keys()
            .filter(|(s, _)| *s == scenario)
            .map(|(_, c)| *c);
        let mut contenders: Vec<Contender> = contenders.collect();
        if !contenders.contains(&Contender::Ctrlc) && scenario.signal() == libc::SIGQUIT {
            contenders.push(Contender::Ctrlc);
            contenders.sort();
        }
        for c in contenders {
            let title = scenario.title();
            let sig = scenario.signal();
            let mut row = vec![
                if title != last_title {
                    title.clone()
                } else {
                    String::new()
                },
                if title != last_title || sig != last_signal {
                    signal_name(sig)
                } else {
                    String::new()
                },
                c.label().into(),
            ];
            last_title = title;
            last_signal = sig;
            match results.get(&(scenario, c)) {
                None => row.extend(["n/a (not handled)".to_string()]),
                Some(s) => {
                    let values = s.values();
                    let (m, p95) = match stats(&values) {
                        Some((m, p95)) => (fmt_us(m), fmt_us(p95)),
                        None => ("none".into(), "none".into()),
                    };
                    let ratio = match (median(&values), reference) {
                        (Some(m), Some(r)) if r > 0.0 => fmt_ratio(m / r),
                        _ => String::new(),
                    };
                    let same = matches!(scenario, Scenario::Gone(_));
                    row.extend([
                        m,
                        p95,
                        ratio,
                        if same {
                            "(as above)".into()
                        } else {
                            describe_runs(&s.hook_runs)
                        },
                        if same {
                            "(as above)".into()
                        } else {
                            describe_ended(&s.ended)
                        },
                    ]);
                }
            }
            table.row(row);
        }
    }
    md.push_str(&table.markdown());

    md.push_str(&stage_table(results));

    let _ = writeln!(
        md,
        "\n### Targets (this run; medians unless a p95 is named)\n"
    );
    for who in [Contender::SafeExit, Contender::Candidate] {
        if results.keys().any(|(_, c)| *c == who) {
            md.push_str(&targets(results, who));
        }
    }

    let _ = writeln!(md, "\n### Overhead of the set-up, in a fresh process\n");
    let mut table = Table::new(&[
        "contender",
        ">set-up time, median",
        ">p95",
        ">threads added",
        ">VmRSS added, median",
    ]);
    for (c, o) in overhead {
        let (m, p95) = stats(&o.us).unwrap_or_default();
        table.row(vec![
            c.label().into(),
            fmt_us(m),
            fmt_us(p95),
            format!("{}", median(&o.threads).unwrap_or_default()),
            format!("{} kB", median(&o.rss_kb).unwrap_or_default()),
        ]);
    }
    md.push_str(&table.markdown());
    match sizes {
        Ok((bare, hooks)) => {
            let _ = writeln!(
                md,
                "\nBinary size (release, a `println!` program without and with one \
                 `safe_exit::register`): {} → {} bytes, **+{:.0} KiB**.",
                bare,
                hooks,
                (hooks as f64 - bare as f64) / 1024.0
            );
        }
        Err(why) => {
            let _ = writeln!(md, "\nBinary size: not measured ({why}).");
        }
    }

    let _ = writeln!(
        md,
        "\n{runs} processes per contender and signal for single signals, {storm_runs} per storm \
         size, {overhead_runs} for the overhead; contenders interleaved round-robin. {}; load \
         average (1 min) {load}; {elapsed_s:.0} s. Other work on the machine inflates the p95s \
         and can shift the medians: compare the contenders within one run.",
        machine()
    );
    md.push_str(CONTENDERS);
    md
}

/// Where the time goes: safe-exit's stage timestamps (medians of the per-process differences),
/// and, for every contender, the time from the first hook to the process gone.
fn stage_table(results: &BTreeMap<(Scenario, Contender), Samples>) -> String {
    let mut md = String::from(
        "\n### Where the time goes: safe-exit's stages (medians, µs)\n\nEach from just before \
         `kill()`: the signal handler runs (the kernel has woken the thread it runs on); the \
         watcher thread is awake (the handler woke it); the core has recorded the request and \
         calls the first hook; the hook has read the clock. Last, for every contender: from \
         the first hook to the process gone.\n\n",
    );
    let mut table = Table::new(&[
        "measurement",
        "contender",
        ">handler",
        ">watcher awake",
        ">core calls hook",
        ">hook",
        ">first hook → process gone",
    ]);
    for ((scenario, c), s) in results {
        if matches!(scenario, Scenario::Gone(_)) {
            continue;
        }
        let gone = results
            .get(&(Scenario::Gone(scenario.signal()), *c))
            .filter(|_| matches!(scenario, Scenario::FirstHook(_)))
            .and_then(|g| median(&g.hook_to_gone))
            .map(fmt_us)
            .unwrap_or_default();
        let mut row = vec![
            format!("{} {}", scenario.title(), signal_name(scenario.signal())),
            c.label().into(),
        ];
        if s.stages.is_empty() {
            if gone.is_empty() {
                continue;
            }
            row.extend(["", "", "", ""].map(String::from));
        } else {
            let at = |i: usize| {
                let d: Vec<f64> = s.stages.iter().map(|t| t[i] as f64 / 1e3).collect();
                median(&d).map(fmt_us).unwrap_or_default()
            };
            row.extend([at(0), at(1), at(2), at(3)]);
        }
        row.push(gone);
        table.row(row);
    }
    md.push_str(&table.markdown());
    md
}

const CONTENDERS: &str = "
How it was measured: each sample is a fresh victim process (core dumps off) whose main thread \
is blocked in `read(2)` on stdin, a pipe the driver keeps open: the usual state of a service or \
a command waiting for input. The victim sets up its contender and prints `ready`; once every \
thread of it sleeps (`/proc`), the driver reads `CLOCK_MONOTONIC` and calls `kill()` (a storm: \
that many `kill()`s back to back), then waits on the victim's pidfd. The first thing each hook \
does is read `CLOCK_MONOTONIC`; it then reports that time, and how many times it has run, on \
stdout. \"Process gone\" uses the same processes: from before `kill()` to the pidfd becoming \
readable, hooks and exit included.

- **safe-exit**: `safe_exit::register(hook)` (default configuration: SIGINT, SIGTERM, SIGQUIT, \
SIGHUP). The hook runs on the library's watcher thread; the library then ends the process by \
the signal.
- **ctrlc (termination)**: ctrlc 3 with feature `termination` (SIGINT, SIGTERM, SIGHUP; it \
cannot handle SIGQUIT): `ctrlc::set_handler(hook)`; the hook runs on ctrlc's thread and calls \
`exit(130)`.
- **signal-hook iterator**: signal-hook 0.4, `iterator::Signals::new([SIGINT, SIGTERM, SIGQUIT, \
SIGHUP])` and a thread looping over `signals.forever()`; the hook ends the process with \
`low_level::emulate_default_handler(sig)`.
- **tokio::signal**: tokio 1, a current-thread runtime on a thread of its own, `select!` over \
`signal(kind).recv()` for SIGINT, SIGTERM, SIGQUIT, SIGHUP; the hook ends the process by the \
signal (default action, unblock, `raise`).
- **reference: handler only**: the cleanup done in the signal handler itself (`sigaction`, \
`SA_RESTART`): it stamps, reports with `write(2)` and ends the process by the signal. Only \
async-signal-safe work is allowed there, which is why hooks run elsewhere.
- **reference: sigwaitinfo thread**: no handler; all signals blocked in the main thread before \
any other thread exists, and one thread in `sigwaitinfo`, which the kernel wakes directly; \
after the hook: default action, unblock, `raise`. The practical limit for running hooks on an \
ordinary thread.
";

/// The targets of the design for `who` (safe-exit or the candidate build), checked against this
/// run: medians, and the p95s for storms.
fn targets(results: &BTreeMap<(Scenario, Contender), Samples>, who: Contender) -> String {
    let m = |s: Scenario, c: Contender| results.get(&(s, c)).and_then(|x| median(&x.values()));
    let verdict = |ok: bool| if ok { "**met**" } else { "**missed**" };
    let mut out = String::new();

    let mut ratio_ok = true;
    let mut ratios = Vec::new();
    let mut ahead_ok = true;
    let mut ahead = Vec::new();
    for sig in SIGNALS {
        let s = Scenario::FirstHook(sig);
        let (Some(ours), Some(reference)) = (m(s, who), m(s, Contender::Reference)) else {
            continue;
        };
        ratio_ok &= ours <= 1.5 * reference;
        ratios.push(format!(
            "{} {}",
            signal_name(sig),
            fmt_ratio(ours / reference)
        ));
        let others: Vec<String> = [Contender::Ctrlc, Contender::SignalHook, Contender::Tokio]
            .into_iter()
            .filter_map(|c| m(s, c))
            .map(|t| {
                ahead_ok &= ours < t;
                fmt_us(t)
            })
            .collect();
        ahead.push(format!(
            "{} {} vs {}",
            signal_name(sig),
            fmt_us(ours),
            others.join(" / ")
        ));
    }
    let _ = writeln!(
        out,
        "- {}: signal → first hook ≤ 1.5× the reference: {} ({}).",
        who.label(),
        verdict(ratio_ok),
        ratios.join(", ")
    );
    let _ = writeln!(
        out,
        "- {}: signal → first hook ahead of ctrlc, signal-hook and tokio::signal: {} ({}).",
        who.label(),
        verdict(ahead_ok),
        ahead.join("; ")
    );
    let p95 = |s: Scenario, c: Contender| {
        results
            .get(&(s, c))
            .and_then(|x| stats(&x.values()))
            .map(|(_, p)| p)
    };
    for n in STORMS {
        let s = Scenario::Storm(n);
        let (Some(ours), Some(reference)) = (p95(s, who), p95(s, Contender::Reference)) else {
            continue;
        };
        let runs = &results[&(s, who)].hook_runs;
        let once = runs.iter().filter(|&&r| r == 1).count();
        let _ = writeln!(
            out,
            "- {}: storm of {}: p95 of the first hook ≤ 3× the reference's p95: {} ({}: {} vs \
             {}); hook ran exactly once: {} ({once} of {} processes).",
            who.label(),
            group(n),
            verdict(ours <= 3.0 * reference),
            fmt_ratio(ours / reference),
            fmt_us(ours),
            fmt_us(reference),
            verdict(once == runs.len()),
            runs.len()
        );
    }
    let mut gone_ok = true;
    let mut gone = Vec::new();
    for sig in SIGNALS {
        let s = Scenario::Gone(sig);
        let (Some(ours), Some(reference), Some(tokio)) = (
            m(s, who),
            m(s, Contender::Reference),
            m(s, Contender::Tokio),
        ) else {
            continue;
        };
        gone_ok &= ours <= 1.1 * reference && ours < tokio;
        gone.push(format!(
            "{} {} ({}; tokio::signal {})",
            signal_name(sig),
            fmt_us(ours),
            fmt_ratio(ours / reference),
            fmt_us(tokio)
        ));
    }
    let _ = writeln!(
        out,
        "- {}: signal → process gone ≤ 1.1× the reference and ahead of tokio::signal: {} ({}).",
        who.label(),
        verdict(gone_ok),
        gone.join("; ")
    );
    out
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// CPUs, kernel and CPU model, for the report.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    // SAFETY: an all-zero utsname is a valid buffer for uname to fill.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid utsname to fill; the strings it holds are NUL-terminated.
    let kernel = unsafe {
        libc::uname(&mut uts);
        std::ffi::CStr::from_ptr(uts.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("Machine: {cpus} CPUs ({model}), Linux {kernel}")
}
