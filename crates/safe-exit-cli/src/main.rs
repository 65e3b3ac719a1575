//! `safe-kill`: ask processes to end, wait, force them after a deadline, report what happened.
//!
//! A thin command line over [`safe_exit::safe_kill_all`]: it parses, calls the library once
//! for all the pids, and prints one line per pid. See `safe-kill --help`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use safe_exit::{safe_kill_all, KillError, KillOptions, KillOutcome};

mod json;
mod parse;

const AFTER_HELP: &str = "\
Examples:
  safe-kill 1234                 SIGTERM, wait up to 4s, then SIGKILL
  safe-kill -t 500ms 1234 1235   both at once, one shared 500 ms deadline
  safe-kill -s INT -t 10s 1234   ask with SIGINT, give it 10 seconds
  safe-kill --no-force 1234      never SIGKILL; exit 1 if it is still running
  safe-kill --group 1234         the process group that 1234 leads (a worker and its children)
  safe-kill --json 1234          {\"pid\":1234,\"outcome\":\"exited\"} for scripts

Every pid is checked before any is signalled: a bad pid, signal or duration signals
nothing. Pid 0, pids that would be negative as a pid_t (such as 4294967295 = -1),
thread ids (Linux) and safe-kill's own pid are refused. On Linux each process is pinned
with a pidfd, so a recycled pid is never signalled; its exit is reported by the kernel,
not polled. A duration too long to be a deadline means none: wait until it exits.

On Windows, TERM posts WM_CLOSE to the process's windows (or sends Ctrl-C to its console
if it has none), INT sends Ctrl-C, BREAK Ctrl-Break, and the deadline ends in
TerminateProcess; --group is not supported there.

Exit status:
  0  every process ended (exited, killed, or was not running)
  1  some process is still running (only with --no-force)
  2  bad input, or an error for some pid (for example permission denied)";

/// Ask processes to end with a signal, wait for them up to a deadline, then force them
/// with SIGKILL, and report what happened to each.
#[derive(Parser, Debug)]
#[command(name = "safe-kill", version, after_help = AFTER_HELP)]
struct Cli {
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("safe-kill: {}", one_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let opts = KillOptions::new()
        .signal(cli.signal)
        .timeout(cli.timeout)
        .force_kill(!cli.no_force)
        .group(cli.group);
    let results = safe_kill_all(&cli.pids, &opts);
    report(&cli, &results)
}

/// Clap's message on one line: its first line, plus the next one when the first only
/// introduces it ("the following required arguments were not provided:").
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match (first.ends_with(':'), lines.next()) {
        (true, Some(next)) => format!("{first} {next}; see safe-kill --help"),
        _ => format!("{first}; see safe-kill --help"),
    }
}

fn report(cli: &Cli, results: &[Result<KillOutcome, KillError>]) -> ExitCode {
    let mut still_running = false;
    let mut failed = false;
    let mut invalid_signal_said = false;
    let deadline = humane(cli.timeout);
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
                        eprintln!("safe-kill: {}", json::with_causes(e));
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

/// `500ms`, `4s`, `1.5s`, `2m`.
fn humane(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(humane(Duration::from_millis(500)), "500ms");
        assert_eq!(humane(Duration::from_secs(4)), "4s");
        assert_eq!(humane(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humane(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn clap_errors_become_one_line() {
        let e = Cli::try_parse_from(["safe-kill"]).unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(!line.contains('\n') && line.contains("<PID>"), "{line}");
        let e = Cli::try_parse_from(["safe-kill", "-s", "FOO", "1"]).unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(line.starts_with("invalid value 'FOO'"), "{line}");
    }

    #[test]
    fn options_map_to_the_library() {
        let cli = Cli::try_parse_from(["safe-kill", "-s", "int", "-t", "1.5s", "--no-force", "7"])
            .unwrap();
        assert_eq!(
            (cli.signal, cli.timeout, cli.no_force),
            (2, Duration::from_millis(1500), true)
        );
        assert_eq!(cli.pids, [7]);
        let cli = Cli::try_parse_from(["safe-kill", "7", "8"]).unwrap();
        assert_eq!(
            (cli.signal, cli.timeout, cli.no_force, cli.group),
            (15, Duration::from_secs(4), false, false)
        );
    }
}
