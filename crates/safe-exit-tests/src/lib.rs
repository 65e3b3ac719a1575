//! Test harness for safe-exit's process-level tests on Linux: the one integration-test binary
//! (`tests/process/`), the CLI's tests, and the child programs in `src/bin/`.
//!
//! Every scenario runs in a real child process (the programs in `src/bin/`), gets real signals,
//! and is observed through its stdout lines and its exit status. Nothing here sleeps to
//! synchronise: a child prints `ready` when it is set up, and every wait has a deadline (the
//! watchdog), after which the test fails with everything the child printed so far. A child that
//! is still running when its [`Child`] is dropped is killed, so a failing test never leaves
//! processes behind.
//!
//! [`Child`], [`Finished`], [`bin!`] and the pidfd calls come from `safe-exit-harness`, which
//! the Windows tests share; what is here is Linux only: processes that are not our children,
//! `/proc`, sessions, PID namespaces, signal masks, seccomp.
#![cfg(target_os = "linux")]

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

pub use safe_exit_harness::{
    bin, cannot_run, command, command_with, pidfd_open, pidfd_send_signal, pidfd_wait, with_causes,
    Child, Finished, WATCHDOG,
};

/// Child-side helpers, for the programs in `src/bin/`.
pub mod child {
    pub use safe_exit_harness::child::{block_on_stdin, say};

    /// Makes each system call `nr` of `rules` fail with its `errno` for the calling thread and
    /// the threads and children it starts from now on (a seccomp filter, as a sandbox, an old
    /// kernel or a limit would). Other architectures' calls are left alone. Panics where
    /// seccomp filters cannot be installed.
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    ))]
    pub fn deny_syscalls(rules: &[(libc::c_long, i32)]) {
        use libc::{sock_filter, sock_fprog};
        /// The `AUDIT_ARCH_*` value of this architecture (`<linux/audit.h>`; not in `libc`).
        #[cfg(target_arch = "x86_64")]
        const AUDIT_ARCH: u32 = 0xC000_003E;
        #[cfg(target_arch = "aarch64")]
        const AUDIT_ARCH: u32 = 0xC000_00B7;
        #[cfg(target_arch = "riscv64")]
        const AUDIT_ARCH: u32 = 0xC000_00F3;
        const fn stmt(code: u32, k: u32) -> sock_filter {
            sock_filter {
                code: code as u16,
                jt: 0,
                jf: 0,
                k,
            }
        }
        const fn jeq(k: u32, jt: u8, jf: u8) -> sock_filter {
            sock_filter {
                code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
                jt,
                jf,
                k,
            }
        }
        let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
        let ret = libc::BPF_RET | libc::BPF_K;
        let mut filter = vec![
            stmt(load, std::mem::offset_of!(libc::seccomp_data, arch) as u32),
            jeq(AUDIT_ARCH, 1, 0),
            stmt(ret, libc::SECCOMP_RET_ALLOW),
            stmt(load, std::mem::offset_of!(libc::seccomp_data, nr) as u32),
        ];
        for &(nr, errno) in rules {
            // Equal: the next instruction (fail with errno); else skip it.
            filter.push(jeq(nr as u32, 0, 1));
            filter.push(stmt(
                ret,
                libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
            ));
        }
        filter.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
        let prog = sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_mut_ptr(),
        };
        // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers; then seccomp with a valid filter
        // program that lives across the call (the kernel copies it).
        unsafe {
            assert_eq!(
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
                0,
                "PR_SET_NO_NEW_PRIVS: {}",
                std::io::Error::last_os_error()
            );
            assert_eq!(
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &prog as *const sock_fprog,
                ),
                0,
                "seccomp: {}",
                std::io::Error::last_os_error()
            );
        }
    }

    /// Blocks in `pause(2)` until a signal handler runs, forever.
    pub fn pause_forever() -> ! {
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Processes that are not the test's own children, `/proc`, sessions, namespaces, signal masks:
// for the safe_kill tests (`tests/process/kill_*.rs`), the fork tests and the CLI's tests.
// ---------------------------------------------------------------------------------------------

/// Whether the process `pid` has exited (or no longer exists), judged through a pidfd, so a
/// zombie counts as exited and nothing is reaped.
pub fn is_gone(pid: i32) -> bool {
    match pidfd_open(pid) {
        Ok(fd) => pidfd_wait(fd.as_fd(), Duration::ZERO),
        Err(_) => true,
    }
}

/// Whether the process `pid` is still running `limit` from now: a bounded check that it does
/// *not* end, which returns at once if it does. Nothing is reaped.
#[track_caller]
pub fn still_running_after(pid: i32, limit: Duration) -> bool {
    let fd = pidfd_open(pid).unwrap_or_else(|e| panic!("pidfd_open({pid}): {e}"));
    !pidfd_wait(fd.as_fd(), limit)
}

/// Waits (watchdog: [`WATCHDOG`]) until the process `pid` has exited, without reaping it.
#[track_caller]
pub fn wait_gone(pid: i32) {
    let Ok(fd) = pidfd_open(pid) else { return };
    assert!(
        pidfd_wait(fd.as_fd(), WATCHDOG),
        "pid {pid} did not exit within {WATCHDOG:?}"
    );
}

/// A process that is not the test's own child (a child's child, orphaned once its parent is
/// gone), pinned by a pidfd opened while it is known to run: it is signalled through that, so
/// never a recycled pid, and killed (SIGKILL) when this is dropped, so that a failing test
/// leaves none behind.
pub struct Pinned {
    pid: i32,
    pidfd: OwnedFd,
}

impl Pinned {
    /// Pins `pid`; an error if it no longer exists.
    pub fn new(pid: i32) -> std::io::Result<Pinned> {
        Ok(Pinned {
            pid,
            pidfd: pidfd_open(pid)?,
        })
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends it `sig`.
    #[track_caller]
    pub fn signal(&self, sig: i32) {
        if let Err(e) = pidfd_send_signal(self.pidfd.as_fd(), sig) {
            panic!("pidfd_send_signal({sig}) to {}: {e}", self.pid);
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // Already gone (the usual case): ESRCH, ignored.
        let _ = pidfd_send_signal(self.pidfd.as_fd(), libc::SIGKILL);
    }
}

/// Processes that are not the test's own children ([`Pinned`]), killed with SIGKILL when this
/// is dropped.
pub struct KillOnDrop {
    /// Held for their `Drop`.
    _pinned: Vec<Pinned>,
}

impl KillOnDrop {
    /// Pins `pids` (which must be running now) to be killed on drop.
    #[track_caller]
    pub fn new(pids: &[i32]) -> KillOnDrop {
        KillOnDrop {
            _pinned: pids
                .iter()
                .map(|&pid| Pinned::new(pid).unwrap_or_else(|e| panic!("pidfd_open({pid}): {e}")))
                .collect(),
        }
    }
}

/// The fields of `/proc/PID/stat` after the command name (the state is the first), if the
/// process exists.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// The parent pid of `pid` (`/proc/PID/stat`), if it exists.
pub fn parent_of(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// Waits (watchdog: [`WATCHDOG`]) until the process `pid` is stopped (state `T` in
/// `/proc/PID/stat`), e.g. after SIGSTOP. The kernel offers no notification for another
/// process stopping, so this looks every millisecond.
#[track_caller]
pub fn wait_stopped(pid: i32) {
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let fields = stat_fields(pid).unwrap_or_default();
        if fields.first().map(String::as_str) == Some("T") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} did not stop: {fields:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A [`command`] whose process starts a new session (`setsid`) instead of a new process
/// group: a broken `kill(0, ..)` in it reaches only its own session's processes.
pub fn command_in_new_session(path: &str) -> Command {
    command_with(path, || {
        // SAFETY: setsid is async-signal-safe.
        if unsafe { libc::setsid() } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })
}

/// A command that runs `path args...` as PID 1 of a new PID namespace with its own `/proc`
/// (`unshare --pid --fork --mount-proc`), in a new session: a broken `kill(-1, ..)` there
/// reaches only that namespace. `None` where namespaces cannot be created (see
/// [`safe_exit_harness::cannot_run`]: under CI that is a failure).
pub fn command_in_pid_namespace(path: &str, args: &[&str]) -> Option<Command> {
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        other => {
            safe_exit_harness::cannot_run(&format!(
                "cannot create a PID namespace here (unshare --pid --fork: {other:?})"
            ));
            return None;
        }
    }
    let mut cmd = command_in_new_session("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", path])
        .args(args);
    Some(cmd)
}

/// The signals pending for the process `pid` (the `SigPnd` and `ShdPnd` masks of
/// `/proc/PID/status`; bit `n - 1` is signal `n`). Signals that a process blocks stay
/// pending, so a process spawned with [`block_all_signals`] records every signal sent to it.
pub fn pending_signals(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .fold(0, |a, b| a | b)
}

/// Makes `cmd`'s process start with every signal blocked (the mask survives `exec`), so that
/// [`pending_signals`] shows what it was sent. SIGKILL and SIGSTOP cannot be blocked.
pub fn block_all_signals(cmd: &mut Command) {
    // SAFETY: sigfillset and sigprocmask are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
            Ok(())
        });
    }
}

/// `cmd.output()` with the harness's deadline: a command still running after [`WATCHDOG`] is
/// killed (its whole process group when it leads one) and the test fails, instead of hanging.
/// The error is the spawn's (or the wait's).
#[track_caller]
pub fn output_within(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(out) => out,
        Err(_) => {
            // SAFETY: kill has no memory preconditions; the child is not reaped yet (its
            // waiter is still blocked), so `pid` is still its pid.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
            panic!("{cmd:?} was still running after {WATCHDOG:?}");
        }
    }
}
