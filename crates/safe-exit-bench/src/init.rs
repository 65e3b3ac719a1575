//! `init-bench`: `safe-exit run` beside the container inits tini, dumb-init and catatonit, in
//! one run on one machine, each contender the same number of times, interleaved (round-robin,
//! the order rotated every iteration), with medians, 95th percentiles and ratios to the best.
//!
//! # Contenders
//!
//! - **safe-exit**: `safe-exit run --grace 1s -- COMMAND`, the binary built beside this one
//!   (`cargo build --release -p safe-exit-cli`: dynamically linked with glibc), or
//!   `--safe-exit PATH`.
//! - **safe-exit static**: the same, built as a static binary (`--target
//!   x86_64-unknown-linux-musl`), as a container image would hold it, with
//!   `--safe-exit-static PATH`. `scripts/bench-init` builds both and passes it. (The other
//!   three are small C programs; catatonit's Debian package is static. A dynamically linked
//!   Rust program pays the loader's start-up, about half a millisecond here, at every start.)
//! - **tini**: `tini -s -- COMMAND` (`-s`: a child subreaper when not PID 1, as safe-exit is).
//! - **dumb-init**: `dumb-init COMMAND` (its default: the child in a session of its own, signals
//!   to its group).
//! - **catatonit**: `catatonit -- COMMAND`.
//!
//! The three are the Debian packages `tini`, `dumb-init` and `catatonit`. When one is missing
//! the benchmark installs them with `apt-get` (as root, non-interactively, each step within a
//! time limit); if that cannot be done it says so loudly and measures the contenders it has.
//!
//! # Measurements
//!
//! The child is this same program run again as `init-bench-child MODE READY EVENTS` (`READY`
//! and `EVENTS` are inherited pipe descriptors). It installs its handlers, then writes its pid
//! to `READY`: the driver waits for that, never for a fixed time.
//!
//! 1. **start overhead**: from just before the spawn of `WRAPPER /bin/true` to its reaping,
//!    minus the median of the same for a bare `true` measured in the same rounds.
//! 2. **signal → child's handler**, SIGUSR1 and SIGTERM (in that order, to the same
//!    processes): once the wrapper and the child both sleep (`/proc`), the driver reads
//!    `CLOCK_MONOTONIC` just before it signals the wrapper; the child's handler reads it first
//!    thing and writes it to `EVENTS`. The measurement ends when the handler runs, not when a
//!    process ends.
//! 3. **TERM → wrapper gone**: the child's SIGTERM handler exits at once (after writing its
//!    stamp); from just before the signal to the wrapper's pidfd becoming readable (same
//!    processes as the SIGTERM row of 2).
//! 4. **stop time of a child that ignores TERM**: from just before TERM to the wrapper's
//!    pidfd becoming readable, bounded by 3 s; a wrapper still there then is reported as not
//!    stopping (a supervisor's SIGKILL would end it), and it and its child are killed.
//!
//! Run with `scripts/bench-init` (or `cargo run --release -p safe-exit-bench --bin init-bench`
//! for the dynamic build alone); `--runs N` sets the
//! samples of 1 to 3 per contender (default 40), measurement 4 takes N/8 (at least 3), each
//! up to 3 s per contender.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

use crate::report::{fmt_ratio, fmt_us, stats, Csv, Table};
use crate::sys::{close, now_ns, pidfd_open, pidfd_send, wait_asleep, wait_readable};

/// The default number of samples per contender of measurements 1 to 3.
pub const DEFAULT_RUNS: usize = 40;

/// safe-exit's grace period in measurement 4.
const GRACE: &str = "1s";

/// How long a wrapper may take to stop a child that ignores TERM before it counts as not
/// stopping.
const STUBBORN_LIMIT_MS: i32 = 3_000;

/// A child that has not said ready, or a stamp not written, this long after is an error.
const WATCHDOG_MS: i32 = 10_000;

/// How long each `apt-get` step may take.
const APT_LIMIT_MS: i32 = 300_000;

/// The first argument that makes this program the benchmark's child.
const CHILD_ARG: &str = "init-bench-child";

/// The packages (and programs) of the other contenders.
const PACKAGES: [&str; 3] = ["tini", "dumb-init", "catatonit"];

/// One wrapper: its name, program and the arguments before the command.
struct Contender {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

impl Contender {
    fn command(&self, what: &Path) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .arg(what)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }
}

// ---------------------------------------------------------------------------------------------
// The child.

/// The `EVENTS` descriptor, for the signal handler.
static EVENTS: AtomicI32 = AtomicI32::new(-1);

/// The child's handler: stamp first, write the stamp, and on SIGTERM exit at once.
extern "C" fn on_signal(sig: libc::c_int) {
    let stamp = now_ns();
    let fd = EVENTS.load(Ordering::Relaxed);
    // SAFETY: clock_gettime, write and _exit are async-signal-safe; an 8-byte buffer we own.
    unsafe {
        libc::write(fd, (&stamp as *const u64).cast(), 8);
        if sig == libc::SIGTERM {
            libc::_exit(0);
        }
    }
}

/// Runs the benchmark's child if this process was started as one: call it first thing in
/// `main`. Returns at once otherwise.
///
/// # Panics
///
/// If the child's arguments are malformed.
pub fn child_main_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(CHILD_ARG) || args.len() != 5 {
        return;
    }
    let ignore = args[2] == "ignore";
    let ready: i32 = args[3].parse().expect("READY descriptor");
    let events: i32 = args[4].parse().expect("EVENTS descriptor");
    EVENTS.store(events, Ordering::Relaxed);
    // SAFETY: plain libc calls on values we own; the handler is async-signal-safe.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(libc::SIGUSR1, &act, std::ptr::null_mut());
        if ignore {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        } else {
            libc::sigaction(libc::SIGTERM, &act, std::ptr::null_mut());
        }
        let pid = libc::getpid();
        libc::write(ready, (&pid as *const i32).cast(), 4);
        loop {
            libc::pause();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The driver's tools.

/// A pipe whose write end (only) is inherited by the processes started next.
struct Pipe {
    read: i32,
    write: i32,
}

impl Pipe {
    fn new() -> Pipe {
        let mut fds = [0; 2];
        // SAFETY: a valid array of two ints; then clearing FD_CLOEXEC on our own descriptor.
        unsafe {
            assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0, "pipe2");
            libc::fcntl(fds[1], libc::F_SETFD, 0);
        }
        Pipe {
            read: fds[0],
            write: fds[1],
        }
    }

    /// `N` bytes written at once (pipe writes this small are atomic), or `None` if nothing
    /// comes within `timeout_ms` (or the writers are gone).
    fn read<const N: usize>(&self, timeout_ms: i32) -> Option<[u8; N]> {
        if !wait_readable(self.read, timeout_ms) {
            return None;
        }
        let mut buf = [0u8; N];
        // SAFETY: reading into a valid buffer of N bytes.
        let n = unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), N) };
        (n == N as isize).then_some(buf)
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        close(self.read);
        if self.write >= 0 {
            close(self.write);
        }
    }
}

/// A wrapper running the benchmark's child, which has said ready.
struct Wrapped {
    wrapper: Child,
    pidfd: i32,
    child_pid: i32,
    events: Pipe,
}

impl Wrapped {
    /// Starts `contender` over the child in `mode` (`handler` or `ignore`) and waits for the
    /// child to say ready.
    fn start(exe: &Path, contender: &Contender, mode: &str) -> Wrapped {
        let mut ready = Pipe::new();
        let mut events = Pipe::new();
        let wrapper = contender
            .command(exe)
            .args([
                CHILD_ARG,
                mode,
                &ready.write.to_string(),
                &events.write.to_string(),
            ])
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", contender.name));
        for pipe in [&mut ready, &mut events] {
            close(pipe.write);
            pipe.write = -1;
        }
        let pidfd = pidfd_open(wrapper.id() as i32);
        let child_pid = match ready.read::<4>(WATCHDOG_MS) {
            Some(bytes) => i32::from_ne_bytes(bytes),
            None => panic!("the child under {} did not say ready", contender.name),
        };
        Wrapped {
            wrapper,
            pidfd,
            child_pid,
            events,
        }
    }

    /// Waits until the wrapper and the child are both asleep (see [`wait_asleep`]).
    fn settle(&self) {
        let pids = [self.wrapper.id() as i32, self.child_pid];
        assert!(
            wait_asleep(&pids, WATCHDOG_MS),
            "the wrapper or its child did not go to sleep"
        );
    }

    /// Sends `sig` to the wrapper once it and the child sleep; the time from just before it to
    /// the child handler's stamp.
    fn signal_to_handler(&self, sig: i32) -> u64 {
        self.settle();
        let t0 = now_ns();
        pidfd_send(self.pidfd, sig);
        let stamp = self.events.read::<8>(WATCHDOG_MS).map(u64::from_ne_bytes);
        stamp.expect("the child's handler did not run") - t0
    }

    /// Sends TERM to the wrapper once it and the child sleep; the time just before it, and the
    /// time until the wrapper is gone, if within `limit_ms`.
    fn term_to_gone(&self, limit_ms: i32) -> (u64, Option<u64>) {
        self.settle();
        let t0 = now_ns();
        pidfd_send(self.pidfd, libc::SIGTERM);
        let gone = wait_readable(self.pidfd, limit_ms);
        let t1 = now_ns();
        (t0, gone.then_some(t1 - t0))
    }

    /// Ends what is left (the child first, then the wrapper) and reaps the wrapper.
    fn finish(mut self) {
        if !wait_readable(self.pidfd, 0) {
            // SAFETY: kill(2) on the child, still held by its wrapper, which is still there.
            unsafe { libc::kill(self.child_pid, libc::SIGKILL) };
            if !wait_readable(self.pidfd, WATCHDOG_MS) {
                pidfd_send(self.pidfd, libc::SIGKILL);
            }
        }
        let _ = self.wrapper.wait();
        close(self.pidfd);
    }
}

/// Runs `cmd` (stdout discarded, stderr shown) for up to `limit_ms`, then kills it; true if it
/// exited with status 0 in time.
fn run_limited(cmd: &mut Command, limit_ms: i32) -> bool {
    let Ok(mut child) = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn() else {
        return false;
    };
    let pidfd = pidfd_open(child.id() as i32);
    let done = wait_readable(pidfd, limit_ms);
    if !done {
        eprintln!(
            "init-bench: {cmd:?} took more than {} s; killed",
            limit_ms / 1000
        );
        pidfd_send(pidfd, libc::SIGKILL);
    }
    close(pidfd);
    let status = child.wait();
    done && status.is_ok_and(|s| s.success())
}

/// `program` on `PATH` (or in `/usr/sbin`, `/usr/bin`, `/sbin`, `/bin`).
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Finds the other contenders, installing the missing ones with apt-get if it can; loudly
/// reports those it could not get.
fn other_contenders() -> (Vec<Contender>, Vec<&'static str>) {
    let missing: Vec<&str> = PACKAGES.into_iter().filter(|p| find(p).is_none()).collect();
    if !missing.is_empty() {
        install(&missing);
    }
    let mut found = Vec::new();
    let mut absent = Vec::new();
    for name in PACKAGES {
        let Some(program) = find(name) else {
            absent.push(name);
            continue;
        };
        let args: &[&str] = match name {
            "tini" => &["-s", "--"],
            "dumb-init" => &[],
            _ => &["--"],
        };
        found.push(Contender {
            name,
            program,
            args: args.iter().map(|a| a.to_string()).collect(),
        });
    }
    if !absent.is_empty() {
        let banner = "!".repeat(78);
        eprintln!(
            "{banner}\ninit-bench: NOT MEASURED: {} (install the Debian package{} `{}` as \
             root); measuring the others\n{banner}",
            absent.join(", "),
            if absent.len() > 1 { "s" } else { "" },
            absent.join(" "),
        );
    }
    (found, absent)
}

/// `apt-get install` of `packages`, as root, non-interactively, each step time-limited; an
/// `apt-get update` first only if the install fails without one.
fn install(packages: &[&str]) {
    // SAFETY: geteuid takes nothing and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "init-bench: {} missing, and not root: cannot install",
            packages.join(", ")
        );
        return;
    }
    if find("apt-get").is_none() {
        eprintln!(
            "init-bench: {} missing, and no apt-get",
            packages.join(", ")
        );
        return;
    }
    eprintln!("init-bench: installing {} with apt-get", packages.join(" "));
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-y", "-q", "-o", "Dpkg::Use-Pty=0"])
            .args(args);
        run_limited(&mut cmd, APT_LIMIT_MS)
    };
    let mut install_args = vec!["install", "--no-install-recommends"];
    install_args.extend_from_slice(packages);
    if !apt(&install_args) && apt(&["update"]) {
        apt(&install_args);
    }
}

/// The first line of `program --version` (stdout or stderr), for the report.
fn version(program: &Path) -> String {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    let Ok(out) = out else {
        return "?".into();
    };
    let text = [out.stdout, out.stderr].concat();
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or("?")
        .trim()
        .to_string()
}

/// The value after `name` on the command line, if given.
fn path_arg(name: &str) -> Option<PathBuf> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next().map(PathBuf::from)
}

/// The safe-exit program: `--safe-exit PATH`, else the one built beside this benchmark.
fn safe_exit_program() -> PathBuf {
    if let Some(path) = path_arg("--safe-exit") {
        return path;
    }
    let exe = std::env::current_exe().expect("this program's path");
    let beside = exe.with_file_name("safe-exit");
    assert!(
        beside.is_file(),
        "no {}: build it first with `cargo build --release -p safe-exit-cli`, or pass \
         --safe-exit PATH",
        beside.display()
    );
    beside
}

// ---------------------------------------------------------------------------------------------
// The run.

/// Samples per contender, in µs; `None` for a wrapper that did not stop within the limit.
type Samples = Vec<Vec<Option<f64>>>;

/// Runs the four measurements (see the module docs), `runs` times each for 1 to 3, prints the
/// table and writes `init.md` and `init.csv`.
pub fn run(runs: usize) {
    let exe = std::env::current_exe().expect("this program's path");
    let run_args = ["run", "--grace", GRACE, "--"].map(String::from).to_vec();
    let mut contenders = Vec::new();
    if let Some(program) = path_arg("--safe-exit-static") {
        assert!(program.is_file(), "no {}", program.display());
        contenders.push(Contender {
            name: "safe-exit static",
            program,
            args: run_args.clone(),
        });
    }
    contenders.push(Contender {
        name: "safe-exit",
        program: safe_exit_program(),
        args: run_args,
    });
    let (others, absent) = other_contenders();
    contenders.extend(others);
    let n = contenders.len();
    let true_path = find("true").expect("a `true` program");
    let stubborn_runs = (runs / 8).max(3);

    let mut bare = Vec::new();
    let mut start: Samples = vec![Vec::new(); n];
    let mut usr1: Samples = vec![Vec::new(); n];
    let mut term: Samples = vec![Vec::new(); n];
    let mut gone: Samples = vec![Vec::new(); n];
    let mut stubborn: Samples = vec![Vec::new(); n];
    let us = |ns: u64| ns as f64 / 1000.0;

    eprintln!(
        "init-bench: {runs} rounds of measurements 1 to 3, {stubborn_runs} of measurement 4 \
         (up to {} s per contender each)",
        STUBBORN_LIMIT_MS / 1000
    );
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..runs {
        order.rotate_left(1);
        // 1. Start overhead (bare `true` first in every round, then each wrapper).
        let t0 = now_ns();
        let ok = Command::new(&true_path).status().is_ok_and(|s| s.success());
        assert!(ok, "`true` failed");
        bare.push(us(now_ns() - t0));
        for &c in &order {
            let mut cmd = contenders[c].command(&true_path);
            let t0 = now_ns();
            let status = cmd.status().expect("start a wrapper");
            start[c].push(Some(us(now_ns() - t0)));
            assert!(
                status.success(),
                "{} /bin/true: {status:?} (signal {:?})",
                contenders[c].name,
                status.signal()
            );
        }
        // 2 and 3. USR1 → handler; TERM → handler and → wrapper gone.
        for &c in &order {
            let w = Wrapped::start(&exe, &contenders[c], "handler");
            usr1[c].push(Some(us(w.signal_to_handler(libc::SIGUSR1))));
            let (t0, t) = w.term_to_gone(WATCHDOG_MS);
            let stamp = w.events.read::<8>(WATCHDOG_MS).map(u64::from_ne_bytes);
            let stamp = stamp.expect("the child's SIGTERM handler did not run");
            term[c].push(Some(us(stamp - t0)));
            gone[c].push(t.map(us));
            w.finish();
        }
        // 4. A child that ignores TERM.
        if i < stubborn_runs {
            for &c in &order {
                let w = Wrapped::start(&exe, &contenders[c], "ignore");
                stubborn[c].push(w.term_to_gone(STUBBORN_LIMIT_MS).1.map(us));
                w.finish();
            }
        }
    }

    // Start overhead: each sample minus the median of bare `true`.
    let (bare_median, bare_p95) = stats(&bare).expect("samples of bare true");
    for xs in &mut start {
        for x in xs.iter_mut().flatten() {
            *x -= bare_median;
        }
    }

    let names: Vec<&str> = contenders.iter().map(|c| c.name).collect();
    let mut table = Table::new(&[
        "measurement",
        "contender",
        ">median",
        ">p95",
        ">median vs best",
    ]);
    let mut csv = Csv::new(&["measurement", "contender", "run", "us"]);
    let limit_s = STUBBORN_LIMIT_MS / 1000;
    let rows = [
        ("start overhead: wrapper + `true` minus bare `true`", &start),
        ("SIGUSR1 → child's handler", &usr1),
        ("SIGTERM → child's handler", &term),
        ("SIGTERM → wrapper gone (child exits at once)", &gone),
        ("child ignoring SIGTERM: SIGTERM → wrapper gone", &stubborn),
    ];
    for (label, samples) in rows {
        push(&mut table, &mut csv, label, &names, samples, limit_s);
    }
    table.row(vec![
        "(bare `true`, subtracted above)".into(),
        "none".into(),
        fmt_us(bare_median),
        fmt_us(bare_p95),
        String::new(),
    ]);

    let versions: Vec<String> = contenders
        .iter()
        .map(|c| format!("{} ({})", c.name, version(&c.program)))
        .collect();
    let mut markdown = table.markdown();
    markdown.push_str(&format!(
        "\n{runs} samples per contender of each measurement ({stubborn_runs} of the \
         SIGTERM-ignoring child), interleaved in one run. safe-exit runs with --grace {GRACE}; \
         tini with -s (a subreaper, as safe-exit is). Versions: {}.\n",
        versions.join(", ")
    ));
    if !absent.is_empty() {
        markdown.push_str(&format!(
            "\n**NOT MEASURED: {}** (not installed, and could not be installed).\n",
            absent.join(", ")
        ));
    }
    print!("{markdown}");
    crate::report::save("init", &markdown, &csv);
}

/// Adds one measurement's rows and raw samples. Ratios compare medians with the best
/// contender's; a contender that did not stop within `limit_s` in some sample is reported so.
fn push(
    table: &mut Table,
    csv: &mut Csv,
    label: &str,
    names: &[&str],
    samples: &Samples,
    limit_s: i32,
) {
    for (name, xs) in names.iter().zip(samples) {
        for (run, x) in xs.iter().enumerate() {
            let x = x.map_or("timeout".into(), |x| format!("{x:.3}"));
            csv.row(&[label, name, &run.to_string(), &x]);
        }
    }
    let complete: Vec<Option<(f64, f64)>> = samples
        .iter()
        .map(|xs| xs.iter().copied().collect::<Option<Vec<f64>>>())
        .map(|xs| xs.and_then(|xs| stats(&xs)))
        .collect();
    let best = complete
        .iter()
        .flatten()
        .map(|(median, _)| *median)
        .fold(f64::INFINITY, f64::min)
        .max(0.1);
    for ((name, xs), stat) in names.iter().zip(samples).zip(&complete) {
        let cells = match stat {
            Some((median, p95)) => vec![fmt_us(*median), fmt_us(*p95), fmt_ratio(median / best)],
            None => {
                let stuck = xs.iter().filter(|x| x.is_none()).count();
                vec![
                    format!(
                        "did not stop within {limit_s} s ({stuck} of {}; the supervisor's \
                         SIGKILL would)",
                        xs.len()
                    ),
                    String::new(),
                    String::new(),
                ]
            }
        };
        let mut row = vec![label.to_string(), name.to_string()];
        row.extend(cells);
        table.row(row);
    }
}
