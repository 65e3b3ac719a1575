//! Usage errors: the command line is read before anything happens, and a mistake is one line
//! on stderr and exit status 2.

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line as `P`. `--help` and `--version` print and exit 0 (`Err(0)`); any
/// other error prints one line, `NAME: what is wrong; see HINT`, and exits 2.
pub(crate) fn parse<P: Parser>(name: &str, hint: &str) -> Result<P, ExitCode> {
    P::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        crate::message::say(&format!(
            "{name}: {}",
            one_line(&e.render().to_string(), hint)
        ));
        ExitCode::from(2)
    })
}

/// Clap's message on one line: its first line, plus the next one when the first only
/// introduces it ("the following required arguments were not provided:").
pub(crate) fn one_line(rendered: &str, hint: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match (first.ends_with(':'), lines.next()) {
        (true, Some(next)) => format!("{first} {next}; see {hint}"),
        _ => format!("{first}; see {hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_and_its_continuation_become_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  \
                        <PID>...\n\nUsage: safe-kill <PID>...\n";
        assert_eq!(
            one_line(rendered, "safe-kill --help"),
            "the following required arguments were not provided: <PID>...; see safe-kill --help"
        );
        assert_eq!(
            one_line(
                "error: unexpected argument '--x' found\n\n  tip: ...\n",
                "h"
            ),
            "unexpected argument '--x' found; see h"
        );
        assert_eq!(one_line("", "h"), "invalid arguments; see h");
    }
}
