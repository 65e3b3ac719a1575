//! What several test modules need: the programs, `safe-exit run` started the usual ways,
//! signals seen pending, and cleaning up after a failed test.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use safe_exit_tests::{
    block_all_signals, command, parent_of, pending_signals, pidfd_open, pidfd_wait, Child,
    Finished, Pinned, WATCHDOG,
};

/// The `safe-exit` program.
pub(crate) const SAFE_EXIT: &str = env!("CARGO_BIN_EXE_safe-exit");

/// `safe-exit run ARGS...` (stdio piped, in a process group of its own, every signal at its
/// default and none blocked), started.
pub(crate) fn run(args: &[&str]) -> Child {
    Child::from_command(run_command(args))
}

/// `safe-exit run ARGS...` as [`run`] prepares it, not started.
pub(crate) fn run_command(args: &[&str]) -> std::process::Command {
    let mut cmd = command(SAFE_EXIT);
    cmd.arg("run").args(args);
    cmd
}

/// `safe-exit run ARGS...` started with every signal blocked. The wrapper hands that mask on
/// to COMMAND, and COMMAND's shell to what it starts: none of them acts on a signal, each
/// records in `/proc/PID/status` the signals it was sent ([`wait_pending`]), and only
/// SIGKILL ends them.
pub(crate) fn run_blocked(args: &[&str]) -> Child {
    let mut cmd = run_command(args);
    block_all_signals(&mut cmd);
    Child::from_command(cmd)
}

/// Whether `sig` is pending for `pid`.
pub(crate) fn is_pending(pid: i32, sig: i32) -> bool {
    pending_signals(pid) & (1 << (sig - 1)) != 0
}

/// Waits (watchdog) until `sig` is pending for the process `pid`, which blocks it. The
/// kernel offers no notification for that, so this looks every millisecond.
#[track_caller]
pub(crate) fn wait_pending(pid: i32, sig: i32) {
    let deadline = Instant::now() + WATCHDOG;
    while !is_pending(pid, sig) {
        assert!(
            Instant::now() < deadline,
            "signal {sig} did not reach pid {pid}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The lines of `stderr`, for messages that must be exactly one line.
pub(crate) fn lines(stderr: &str) -> Vec<&str> {
    stderr.lines().collect()
}

/// A fresh directory, removed when dropped.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(what: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "safe-exit-run-{what}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits (watchdog) until `cond` holds, looking every millisecond: for states of other
/// processes that the kernel sends no notification about.
#[track_caller]
pub(crate) fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WATCHDOG;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {WATCHDOG:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `CLOCK_BOOTTIME` in clock ticks, as `/proc/PID/stat` counts start times.
fn boot_ticks() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, into a local; sysconf only reads.
    let hz = unsafe {
        libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts);
        libc::sysconf(libc::_SC_CLK_TCK)
    };
    (ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64) / (1_000_000_000 / hz as u64)
}

/// Waits (watchdog) until the clock tick in which `pid` started is over: from then on a
/// signal is known, by start time, to have reached it after it started.
#[track_caller]
pub(crate) fn wait_start_tick_over(pid: i32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_ascii_whitespace()
        .nth(19)
        .and_then(|f| f.parse().ok())
        .expect("starttime");
    wait_until("the start tick to be over", || boot_ticks() > start);
}

/// Kills (SIGKILL) every process below a child when dropped, if the child is still running
/// then: a test that fails has the harness kill the wrapper (or `unshare` above it), which
/// cannot then stop what it started. After a passing test the child has ended: nothing is
/// done. (See also [`finish_within`], for a child that does not end.)
pub(crate) struct KillTreeOnDrop {
    pid: i32,
    /// Pins the child, so that its pid is its own while it runs.
    pidfd: OwnedFd,
}

impl KillTreeOnDrop {
    /// For `pid`, a child of this test that has not been waited for.
    pub(crate) fn new(pid: i32) -> KillTreeOnDrop {
        KillTreeOnDrop {
            pid,
            pidfd: pidfd_open(pid).expect("pidfd_open on our child"),
        }
    }

    /// Whether the child has ended.
    fn ended(&self) -> bool {
        pidfd_wait(self.pidfd.as_fd(), Duration::ZERO)
    }

    /// SIGKILL to every process below the child (which must still run: its pid is then its
    /// own), each pinned and its parent checked again before.
    fn kill_below(&self) {
        let mut parents = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                if let Some(ppid) = parent_of(pid) {
                    parents.push((pid, ppid));
                }
            }
        }
        let mut below = vec![self.pid];
        let mut i = 0;
        while i < below.len() {
            let parent = below[i];
            below.extend(
                parents
                    .iter()
                    .filter(|(_, pp)| *pp == parent)
                    .map(|(p, _)| *p),
            );
            i += 1;
        }
        for (pid, ppid) in parents {
            if !below[1..].contains(&pid) {
                continue;
            }
            if let Ok(pinned) = Pinned::new(pid) {
                if parent_of(pid) == Some(ppid) {
                    pinned.signal(libc::SIGKILL);
                }
                // Dropping it sends SIGKILL once more (or ESRCH): harmless either way. A pid
                // whose parent changed in between is let go unsignalled.
                std::mem::forget(pinned);
            }
        }
    }
}

impl Drop for KillTreeOnDrop {
    fn drop(&mut self) {
        if !self.ended() {
            self.kill_below();
        }
    }
}

/// `child.finish_within(limit)`, except that a child still running at the limit has
/// everything below it killed first (once the harness has killed a wrapper, nothing stops
/// what it started), and the test fails with what it printed.
#[track_caller]
pub(crate) fn finish_within(child: Child, limit: Duration) -> Finished {
    let tree = KillTreeOnDrop::new(child.pid());
    if !pidfd_wait(tree.pidfd.as_fd(), limit) {
        tree.kill_below();
        let done = child.finish_within(Duration::from_secs(5));
        panic!("it did not end within {limit:?} (everything below it was killed)\n{done}");
    }
    child.finish()
}

/// [`finish_within`] the harness's watchdog.
#[track_caller]
pub(crate) fn finish(child: Child) -> Finished {
    finish_within(child, WATCHDOG)
}
