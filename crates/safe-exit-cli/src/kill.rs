//! `safe-kill` and `safe-exit kill`: ask processes to end, wait, force them after a deadline,
//! report what happened.
//!
//! A thin command line over [`safe_exit::safe_kill_all`]: it parses, calls the library once
//! for all the pids, and prints one line per pid. The two names take the same options and
//! print the same lines; only the name in the help's examples and before an error differs.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser};
use safe_exit::{safe_kill_all, KillError, KillOptions, KillOutcome};

use crate::{json, parse};

/// The text after the options in `--help`, with the command's name (`safe-kill` or
/// `safe-exit kill`) in the examples.
pub(crate) fn after_help(name: &str) -> String {
    format!(
        "\
Examples:
  {name} 1234                 SIGTERM, wait up to 4s, then SIGKILL
  {name} -t 500ms 1234 1235   both at once, one shared 500 ms deadline
  {name} -s INT -t 10s 1234   ask with SIGINT, give it 10 seconds
  {name} --no-force 1234      never SIGKILL; exit 1 if it is still running
  {name} --group 1234         the process group that 1234 leads (a worker and its children)
  {name} --json 1234          {{\"pid\":1234,\"outcome\":\"exited\"}} for scripts

Every pid is checked before any is signalled: a bad pid, signal or duration signals
nothing. Pid 0, pids that would be negative as a pid_t (such as 4294967295 = -1),
thread ids (Linux) and {name}'s own pid are refused. On Linux each process is pinned
with a pidfd, so a recycled pid is never signalled; its exit is reported by the kernel,
not polled. A duration too long to be a deadline means none: wait until it exits.

On Windows, TERM posts WM_CLOSE to the process's windows (or sends Ctrl-C to its console
if it has none), INT sends Ctrl-C, BREAK Ctrl-Break, and the deadline ends in
TerminateProcess; --group is not supported there.

Exit status:
  0  every process ended (exited, killed, or was not running)
  1  some process is still running (only with --no-force)
  2  bad input, or an error for some pid (for example permission denied)"
    )
}

/// Ask processes to end with a signal, wait for them up to a deadline, then force them
/// with SIGKILL, and report what happened to each.
#[derive(Parser, Debug)]
#[command(name = "safe-kill", version, after_help = after_help("safe-kill"))]
pub(crate) struct SafeKill {
    #[command(flatten)]
    pub(crate) args: KillArgs,
}

/// The options of `safe-kill` and `safe-exit kill`.
#[derive(Args, Debug)]
pub(crate) struct KillArgs {
    /// The polite signal: a name (TERM, SIGTERM, int, HUP) or a number (15).
    #[arg(short, long, value_name = "SIGNAL", default_value = "TERM", value_parser = parse::parse_signal)]
    signal: i32,

    /// How long each process may take to end after the signal: 500ms, 4s, 1.5s, 2m. One
    /// deadline is shared by all the pids.
    #[arg(short, long, value_name = "DURATION", default_value = "4s", value_parser = parse::parse_duration)]
    timeout: Duration,

    /// Do not send SIGKILL at the deadline; report the process as still running (exit 1).
    #[arg(long)]
    no_force: bool,

    /// Signal the process group that each PID leads, and wait for all its members.
    #[arg(long)]
    group: bool,

    /// Print one JSON object per pid on stdout instead of text.
    #[arg(long)]
    json: bool,

    /// The processes to end.
    #[arg(value_name = "PID", required = true, allow_hyphen_values = true, value_parser = parse::parse_pid)]
    pids: Vec<u32>,
}

/// Ends the processes and reports; `name` (`safe-kill`, `safe-exit`) starts each error line.
pub(crate) fn main(args: &KillArgs, name: &str) -> ExitCode {
    let opts = KillOptions::new()
        .signal(args.signal)
        .timeout(args.timeout)
        .force_kill(!args.no_force)
        .group(args.group);
    let results = safe_kill_all(&args.pids, &opts);
    report(args, &results, name)
}

fn report(cli: &KillArgs, results: &[Result<KillOutcome, KillError>], name: &str) -> ExitCode {
    let mut still_running = false;
    let mut failed = false;
    let mut invalid_signal_said = false;
    let deadline = parse::humane(cli.timeout);
    for (&pid, result) in cli.pids.iter().zip(results) {
        if cli.json {
            println!("{}", json::line(pid, result));
        }
        match result {
            Ok(outcome) => {
                still_running |= *outcome == KillOutcome::StillRunning;
                if !cli.json {
                    let what = match outcome {
                        KillOutcome::Exited => {
                            format!("exited after {}", parse::signal_name(cli.signal))
                        }
                        KillOutcome::Killed => format!(
                            "killed with SIGKILL: still running {deadline} after {}",
                            parse::signal_name(cli.signal)
                        ),
                        KillOutcome::StillRunning => format!(
                            "still running {deadline} after {} (not forced: --no-force)",
                            parse::signal_name(cli.signal)
                        ),
                        KillOutcome::NotRunning => "not running".to_owned(),
                    };
                    let whose = if cli.group { " (process group)" } else { "" };
                    println!("{pid}{whose}: {what}");
                }
            }
            Err(e) => {
                failed = true;
                match e {
                    // Nothing happened to it; the reason is on the line of the rejected pid.
                    KillError::NotAttempted { .. } => {}
                    // The same for every pid: say it once.
                    KillError::InvalidSignal { .. } if invalid_signal_said => {}
                    // With --json the error is in the pid's object on stdout, and only there.
                    _ if cli.json => {}
                    _ => {
                        invalid_signal_said |= matches!(e, KillError::InvalidSignal { .. });
                        crate::message::say(&format!("{name}: {}", json::with_causes(e)));
                    }
                }
            }
        }
    }
    if failed {
        ExitCode::from(2)
    } else if still_running {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::one_line;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        SafeKill::command().debug_assert();
    }

    #[test]
    fn clap_errors_become_one_line() {
        let e = SafeKill::try_parse_from(["safe-kill"]).unwrap_err();
        let line = one_line(&e.render().to_string(), "safe-kill --help");
        assert!(!line.contains('\n') && line.contains("<PID>"), "{line}");
        let e = SafeKill::try_parse_from(["safe-kill", "-s", "FOO", "1"]).unwrap_err();
        let line = one_line(&e.render().to_string(), "safe-kill --help");
        assert!(line.starts_with("invalid value 'FOO'"), "{line}");
    }

    #[test]
    fn options_map_to_the_library() {
        let cli =
            SafeKill::try_parse_from(["safe-kill", "-s", "int", "-t", "1.5s", "--no-force", "7"])
                .unwrap()
                .args;
        assert_eq!(
            (cli.signal, cli.timeout, cli.no_force),
            (2, Duration::from_millis(1500), true)
        );
        assert_eq!(cli.pids, [7]);
        let cli = SafeKill::try_parse_from(["safe-kill", "7", "8"])
            .unwrap()
            .args;
        assert_eq!(
            (cli.signal, cli.timeout, cli.no_force, cli.group),
            (15, Duration::from_secs(4), false, false)
        );
    }

    #[test]
    fn the_examples_carry_the_name() {
        assert!(after_help("safe-kill").contains("  safe-kill -t 500ms 1234 1235"));
        let text = after_help("safe-exit kill");
        assert!(text.contains("  safe-exit kill --json 1234"), "{text}");
        assert!(text.contains("safe-exit kill's own pid"), "{text}");
    }
}
