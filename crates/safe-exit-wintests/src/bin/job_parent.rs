//! A parent whose children should (or should not) die with it: `job_parent ROLE ...`.
//!
//! - `job_parent parent SETUP END`: starts its children and prints their pids, one line each,
//!   then `ready`. `SETUP` is
//!   - `dwp`: an `early` child before anything else; then `middle`, a `job_parent middle`
//!     configured with `die_with_parent` (which itself starts a `grandchild`); a `breakaway`
//!     child with the creation flag `CREATE_BREAKAWAY_FROM_JOB`; and a `plain` child,
//!     configured with nothing;
//!   - `none`: only a `plain` child, and no `die_with_parent` at all.
//!
//!   A child that cannot be started is reported as `NAME error ...` instead of `NAME PID`.
//!   Then, by `END`: `park` blocks until the process is ended from outside; `return` waits
//!   for a line on stdin (or its end) and returns from `main` with exit code 3.
//! - `job_parent middle`: calls `die_with_parent` itself (so it enters a job of its own inside
//!   its parent's), starts a `grandchild`, prints `grandchild PID` (or `grandchild error ...`)
//!   and blocks.
//! - `job_parent child`: blocks until it is ended from outside.
//!
//! Children get no stdin and no stdout or stderr, except `middle`: its stdout is a pipe to
//! its parent (for the grandchild's pid), its stderr is its parent's (for safe-exit's report
//! should its own `die_with_parent` fail). They still inherit this process's inheritable handles, such as the
//! test's pipes: a test ends the survivors before it waits for this parent's output to close.

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    imp::main()
}

#[cfg(not(windows))]
fn main() {
    eprintln!("this test program runs on Windows only");
    std::process::exit(2);
}

#[cfg(windows)]
mod imp {
    use std::io::{BufRead, BufReader};
    use std::os::windows::process::CommandExt as _;
    use std::process::{Command, ExitCode, Stdio};

    use safe_exit::CommandExt as _;
    use safe_exit_wintests::child::{park_forever, say};
    use windows_sys::Win32::System::Threading::CREATE_BREAKAWAY_FROM_JOB;

    /// A copy of this program in `role`, with no standard handles.
    fn command(role: &str) -> Command {
        let mut cmd = Command::new(std::env::current_exe().expect("our own path"));
        cmd.arg(role)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// Starts `cmd` and prints `NAME PID`, or `NAME error ...`. The child is never waited
    /// for (its handle closes with this process).
    fn start(name: &str, cmd: &mut Command) -> Option<std::process::Child> {
        match cmd.spawn() {
            Ok(child) => {
                say(&format!("{name} {}", child.id()));
                Some(child)
            }
            Err(e) => {
                say(&format!("{name} error {e}"));
                None
            }
        }
    }

    /// `middle`: starts the middle process and relays the grandchild's pid line.
    fn start_middle() -> Option<std::process::Child> {
        let mut cmd = command("middle");
        // Its stderr is ours: a report of a failed `die_with_parent` there reaches the test.
        cmd.die_with_parent()
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut middle = start("middle", &mut cmd)?;
        let mut line = String::new();
        let out = middle.stdout.take().expect("piped");
        match BufReader::new(out).read_line(&mut line) {
            Ok(n) if n > 0 => say(line.trim_end()),
            _ => say("grandchild error the middle process printed nothing"),
        }
        Some(middle)
    }

    fn parent(setup: &str, end: &str) -> ExitCode {
        let _children = match setup {
            "dwp" => vec![
                start("early", &mut command("child")),
                start_middle(),
                start(
                    "breakaway",
                    command("child").creation_flags(CREATE_BREAKAWAY_FROM_JOB),
                ),
                start("plain", &mut command("child")),
            ],
            "none" => vec![start("plain", &mut command("child"))],
            _ => panic!("unknown setup {setup}"),
        };
        say("ready");
        match end {
            "park" => park_forever(),
            "return" => {
                let _ = std::io::stdin().read_line(&mut String::new());
                ExitCode::from(3)
            }
            _ => panic!("unknown end {end}"),
        }
    }

    pub(crate) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().collect();
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        match arg(1) {
            "parent" => parent(arg(2), arg(3)),
            "middle" => {
                let mut cmd = command("child");
                cmd.die_with_parent();
                let _grandchild = start("grandchild", &mut cmd);
                park_forever()
            }
            "child" => park_forever(),
            role => panic!("unknown role {role}"),
        }
    }
}
