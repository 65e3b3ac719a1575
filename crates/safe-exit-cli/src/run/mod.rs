//! `safe-exit run`: run a command as its init and stop wrapper.
//!
//! # How it works
//!
//! The wrapper blocks every signal it acts on, starts COMMAND in a process group of its own
//! (giving that group the terminal when the wrapper has it; with no controlling terminal at
//! all, as in a container without `-t`, in a session of its own, as dumb-init does: nothing
//! else changes for COMMAND, and on Linux it leaves the wrapper's scheduling autogroup, so
//! that signals passed on reach it sooner), and then runs one loop: it waits
//! for the next signal with `sigtimedwait` (kqueue on macOS), whose timeout is the grace
//! deadline when one runs, so nothing is polled. On each SIGCHLD it reaps with
//! `waitpid(-1, WNOHANG)` until nothing more is ready. Every other signal is passed on: to
//! COMMAND's process group (`--no-group`: to COMMAND alone) while COMMAND runs, to whatever
//! it left behind once it has exited.
//!
//! - TERM, INT and QUIT are termination signals: passed on as they are, or as
//!   `--stop-signal`, followed by SIGCONT (a stopped process cannot act on them); the first
//!   starts the grace period. At its end everything still running gets SIGKILL.
//! - The wrapper is a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`, FreeBSD
//!   `PROC_REAP_ACQUIRE`), or PID 1: every process COMMAND starts, however it detaches
//!   (double fork, `setsid`), stays its descendant, and `waitpid(-1)` failing with `ECHILD`
//!   means exactly that COMMAND and everything it started are gone. Then it exits, at once.
//! - When COMMAND exits and descendants still run, each gets the stop signal (TERM unless
//!   `--stop-signal`) and SIGCONT, the grace period starts (or goes on, if one runs), then
//!   SIGKILL. No process gets the stop signal twice: the members of COMMAND's group that had
//!   it with the group (those started before it was sent, judged by start time to the clock
//!   tick, 10 ms) are left to end; those started since, or outside the group, get it. (A
//!   shell's background job that ignored an INT does get TERM: a different signal.) On Linux the descendants are found by walking `/proc` (every process whose parent
//!   chain leads to the wrapper) and signalled through pidfds, checked against the start time
//!   seen in the walk, so never a recycled pid; never pid 0 or -1.
//! - COMMAND's group is signalled with `kill(-pgid)` only while COMMAND has not been reaped:
//!   until then its pid, which is the group's id, cannot be reused.
//! - The child gets the signal mask and the ignored signals that the wrapper was started with
//!   (as if the wrapper were not there) before `exec`; SIGPIPE is reset to its default, as
//!   for every program started from Rust.
//! - Terminal: when stdin is the wrapper's controlling terminal and the wrapper is in its
//!   foreground, COMMAND's group gets the foreground (`tcsetpgrp` in the child before `exec`),
//!   so Ctrl-C, Ctrl-\ and Ctrl-Z reach it directly, as under a shell. When a job-control
//!   signal (TSTP, TTIN, TTOU) stops COMMAND, the wrapper takes the terminal back and stops
//!   its own process group with the same signal, so the shell sees the job stopped; on
//!   SIGCONT (`fg`, `bg`) it gives COMMAND's group the terminal back if it has it and resumes
//!   it. Where nothing can resume the wrapper (it leads its session, as PID 1 in
//!   `docker run -it` does), COMMAND is resumed at once: Ctrl-Z does nothing, as it does for a
//!   program without job control.
//!
//! # Limitations
//!
//! - Signals ignored when the wrapper starts (`nohup`, background jobs of scripts) stay
//!   ignored: they are not passed on. SIGPIPE is never passed on (Rust ignores it in the
//!   wrapper), nor are the signals of a crash (SEGV, BUS, ILL, FPE, TRAP, SYS, ABRT), which
//!   keep their default action so that a crashing wrapper does crash.
//! - After SIGKILL, a process that forked at that very moment could escape one walk of
//!   `/proc`; the wrapper then looks again every 100 ms until everything is gone (only after
//!   SIGKILL, never during the grace period).
//! - Descendants are found through `/proc`, which must be this PID namespace's (as in every
//!   container). Without it, what COMMAND leaves is still reaped and waited for, but cannot
//!   be signalled: the wrapper exits when it has ended by itself.
//! - A process blocked in the kernel (state D) ends only when its I/O returns; the wrapper
//!   waits for it. So it does for a leftover it may not signal (a setuid program started
//!   under a wrapper that is not root): it cannot stop it, and waits for it to end.
//! - The wrapper's few messages (COMMAND could not be started; what the deadline killed) go
//!   to stderr only if it takes them within 100 ms: a full pipe that nobody reads, or a
//!   closed one, never blocks or crashes the wrapper; the message is lost.
//! - If the wrapper itself is killed with SIGKILL, outside a PID namespace COMMAND is left
//!   running (as PID 1, the kernel ends the namespace).
//!
//! # Portability
//!
//! Linux is the target: everything above. FreeBSD: a reaper (`procctl`), descendants stopped
//! with `PROC_REAP_KILL` (every descendant, also those COMMAND's group already asked). macOS
//! has no subreaper: orphans go to launchd, so the wrapper cannot find, wait for or stop
//! descendants that leave COMMAND (it stops COMMAND's group at the deadline while COMMAND
//! runs). Other platforms, Windows among them: `run` says it is not supported and exits 2.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use safe_exit::Signal;

use crate::parse;

mod sys;

/// The grace period when `--grace` is not given: below the 10 s that `docker stop` and
/// `podman stop` wait before their own SIGKILL, so that safe-exit's SIGKILL comes first and
/// the container still ends with COMMAND's status, with 2 s to spare for the kill and the exit.
const DEFAULT_GRACE: &str = "8s";

/// The text after the options in `safe-exit run --help`.
pub(crate) const AFTER_HELP: &str = "\
COMMAND runs as safe-exit's child in a process group of its own (and a session of its own
when safe-exit has no controlling terminal); stdin, stdout and stderr pass through untouched
(safe-exit writes nothing on stdout).

  - Signals safe-exit receives (HUP INT QUIT TERM USR1 USR2 WINCH CONT ALRM ..., real-time
    ones too) go to COMMAND's process group (--no-group: to COMMAND alone).
  - TERM, INT and QUIT end it: passed on (as --stop-signal if given), then the group has
    --grace to end, then SIGKILL for what is left. HUP and the others are only passed on.
  - When COMMAND exits while processes it started still run (in its group, or detached with
    setsid or a double fork), they get the stop signal (TERM unless --stop-signal), the
    grace period, then SIGKILL, and safe-exit exits with COMMAND's status.
  - Every zombie is reaped: as PID 1 (a container's init) and elsewhere as a child
    subreaper (Linux), so nothing COMMAND starts can escape being waited for and stopped.
  - safe-exit exits as soon as COMMAND and everything it started are gone, never sleeping
    out the grace period.
  - In a terminal COMMAND's group is in the foreground: Ctrl-C and Ctrl-Z reach it as under
    a shell; when it stops, safe-exit stops too and fg resumes both.

The default grace, 8s, is below the 10 s that docker stop waits before its own SIGKILL, so
the container still ends with COMMAND's status. Under Kubernetes keep --grace below
terminationGracePeriodSeconds (30 s by default) minus the time of any preStop hook.

Examples:
  ENTRYPOINT [\"safe-exit\", \"run\", \"--\"]             in a Dockerfile: the container's init
  safe-exit run -- ./server --port 8080                Ctrl-C or TERM: 8s, then SIGKILL
  safe-exit run --grace 300ms -- ./integration-tests   nothing it starts outlives it
  safe-exit run --grace 30s --stop-signal QUIT -- nginx -g 'daemon off;'
                                                       QUIT is nginx's graceful stop

Exit status:
  N      COMMAND exited with status N
  128+N  COMMAND was ended by signal N (143: SIGTERM, 137: SIGKILL at the deadline)
  126    COMMAND could not be executed (not executable, permission denied)
  127    COMMAND was not found
  2      usage error: one line on stderr, nothing started

Linux: all of the above. FreeBSD: the same, but the group gets the stop signal again when
COMMAND exits. macOS has no subreaper: what leaves COMMAND's group is not waited for or
stopped. Not supported elsewhere (Windows).";

/// The options of `safe-exit run`.
#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// How long COMMAND (and what it started) may take to end after the stop signal, before
    /// SIGKILL: 300ms, 8s, 1.5s, 2m.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_GRACE, value_parser = parse::parse_duration)]
    grace: Duration,

    /// Send SIGNAL instead of each termination signal received (TERM, INT, QUIT), and to the
    /// processes left when COMMAND exits [default: each as received; TERM to those left]
    #[arg(long, value_name = "SIGNAL", value_parser = parse_stop_signal)]
    stop_signal: Option<Signal>,

    /// Pass signals to COMMAND alone instead of its process group (it still leads a group of
    /// its own, which the terminal's Ctrl-C reaches).
    #[arg(long)]
    no_group: bool,

    /// The program to run and its arguments; everything from COMMAND on is passed to it as it
    /// is (write `--` first when COMMAND starts with `-`).
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        num_args = 1..,
        value_parser = clap::value_parser!(OsString)
    )]
    command: Vec<OsString>,
}

/// What the wrapper is asked to do, read from [`RunArgs`]. (Where `run` is not implemented,
/// only the program's name is read.)
#[derive(Debug)]
#[cfg_attr(
    not(any(target_os = "linux", target_os = "freebsd", target_os = "macos")),
    allow(dead_code)
)]
pub(crate) struct Config {
    /// How long after the stop signal until SIGKILL.
    pub(crate) grace: Duration,
    /// What TERM, INT and QUIT become, if not themselves; what leftovers get (else TERM).
    pub(crate) stop_signal: Option<Signal>,
    /// Signals go to COMMAND's process group (else to COMMAND alone).
    pub(crate) group: bool,
    /// The program and its arguments: never empty.
    pub(crate) command: Vec<OsString>,
}

/// `--stop-signal`: a signal as `safe-kill -s` reads it, that can ask a process to end (not
/// 0, STOP, TSTP, TTIN, TTOU or CONT).
fn parse_stop_signal(text: &str) -> Result<Signal, String> {
    let number = parse::parse_signal(text)?;
    Signal::try_from(number).map_err(|e| e.to_string())
}

/// Runs `safe-exit run` and returns its exit status.
pub(crate) fn main(args: RunArgs) -> ExitCode {
    let config = Config {
        grace: args.grace,
        stop_signal: args.stop_signal,
        group: !args.no_group,
        command: args.command,
    };
    ExitCode::from(sys::run(&config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::one_line;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, String> {
        let all = std::iter::once("run").chain(args.iter().copied());
        Cli::try_parse_from(all)
            .map(|c| c.args)
            .map_err(|e| one_line(&e.render().to_string(), "safe-exit run --help"))
    }

    #[test]
    fn the_command_and_its_options_are_its_own() {
        let a = parse(&["--grace", "300ms", "sleep", "--grace", "5", "-x"]).unwrap();
        assert_eq!(a.grace, Duration::from_millis(300));
        assert_eq!(a.command, ["sleep", "--grace", "5", "-x"]);
        let a = parse(&["--", "-weird", "--no-group"]).unwrap();
        assert_eq!(a.command, ["-weird", "--no-group"]);
        assert!(!a.no_group);
        let a = parse(&["--no-group", "--stop-signal", "sigint", "--", "x"]).unwrap();
        assert!(a.no_group);
        assert_eq!(a.stop_signal, Some(Signal::INT));
    }

    #[test]
    fn defaults() {
        let a = parse(&["x"]).unwrap();
        assert_eq!(a.grace, Duration::from_secs(8));
        assert_eq!(a.stop_signal, None);
        assert!(!a.no_group);
    }

    #[test]
    fn usage_errors_are_one_line() {
        for (args, says) in [
            (&[][..], "<COMMAND>"),
            (&["--"][..], "<COMMAND>"),
            (&["--grace", "5parsecs", "x"][..], "unknown unit"),
            (&["--stop-signal", "FOO", "x"][..], "expected a signal name"),
            (
                &["--stop-signal", "STOP", "x"][..],
                "SIGSTOP stops a process",
            ),
            (&["--stop-signal", "0", "x"][..], "0 is not a signal"),
            (&["--frobnicate", "x"][..], "--frobnicate"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(!e.contains('\n') && e.contains(says), "{args:?}: {e}");
        }
    }
}
