//! The code behind the `safe-exit` and `safe-kill` commands. Not an API: the binaries call
//! [`safe_exit_main`] and [`safe_kill_main`], and nothing else here is public.
//!
//! - `safe-kill` and `safe-exit kill` (the module `kill`): a thin command line over
//!   [`safe_exit::safe_kill_all`], the same options and output under both names.
//! - `safe-exit run` (the module `run`): runs a command as its init and stop wrapper. It
//!   forwards the signals it gets to the command's process group, reaps every zombie (as PID 1,
//!   and elsewhere as a child subreaper), gives the group a grace period after a termination
//!   signal and then SIGKILL, stops whatever the command leaves behind the same way, and
//!   exits with the command's status. See `run`'s module docs for how it works.
//!
//! Durations and signals are read the same way by both (the module `parse`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod json;
mod kill;
mod message;
mod parse;
mod run;
mod usage;

/// `safe-kill`: ask processes to end, wait, force them after a deadline, report what happened.
pub fn safe_kill_main() -> ExitCode {
    match usage::parse::<kill::SafeKill>("safe-kill", "safe-kill --help") {
        Ok(cli) => kill::main(&cli.args, "safe-kill"),
        Err(code) => code,
    }
}

/// `safe-exit`: its subcommands `run` and `kill`.
pub fn safe_exit_main() -> ExitCode {
    // The help named in a one-line usage error: the subcommand's, when one was given.
    let hint = match std::env::args_os().nth(1) {
        Some(sub) if sub == "run" => "safe-exit run --help",
        Some(sub) if sub == "kill" => "safe-exit kill --help",
        _ => "safe-exit --help",
    };
    match usage::parse::<SafeExit>("safe-exit", hint) {
        Ok(SafeExit {
            command: Command::Kill(args),
        }) => kill::main(&args, "safe-exit"),
        Ok(SafeExit {
            command: Command::Run(args),
        }) => run::main(args),
        Err(code) => code,
    }
}

/// Make processes end safely: run a command as its init and stop wrapper (`run`), or ask
/// processes to end and force them after a deadline (`kill`).
#[derive(Parser, Debug)]
#[command(
    name = "safe-exit",
    version,
    subcommand_required = true,
    arg_required_else_help = false,
    subcommand_value_name = "SUBCOMMAND"
)]
struct SafeExit {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run COMMAND as its init and stop wrapper: forward signals to it, reap zombies, and on a
    /// termination signal give it a grace period, then SIGKILL; exit with its status.
    #[command(
        after_help = run::AFTER_HELP,
        override_usage = "safe-exit run [--grace DURATION] [--stop-signal SIGNAL] [--no-group] \
                          [--] COMMAND [ARGS]..."
    )]
    Run(run::RunArgs),
    /// Ask processes to end with a signal, wait for them up to a deadline, then force them
    /// with SIGKILL, and report what happened to each (what `safe-kill` does).
    #[command(after_help = kill::after_help("safe-exit kill"))]
    Kill(kill::KillArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        SafeExit::command().debug_assert();
    }
}
