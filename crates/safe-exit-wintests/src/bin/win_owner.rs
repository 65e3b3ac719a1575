//! A parent that owns its children with `safe_exit::own`: `win_owner SETUP END`.
//!
//! `SETUP` says which children it starts (each from this crate's programs, beside this one),
//! all owned with SIGTERM and a shared 300 ms deadline:
//!
//! - `window`: `polite`, a `windowed` program (no console; `WM_CLOSE` ends it, exit code 0),
//!   and `stubborn`, a `windowed ignore-close` (only `TerminateProcess` ends it, exit code 1);
//! - `console`: `polite`, a `win_hooks wait DEFAULT` on a new console of its own (Ctrl-C ends
//!   it, `STATUS_CONTROL_C_EXIT`), and `stubborn`, a `stubborn` on a new console of its own
//!   (it ignores every console event);
//! - `disown`: `owned` and `disowned`, two `windowed` programs; both are owned, then the second
//!   is disowned with `Handle::unregister` (which prints `unregister true|false`);
//! - `bad`: no child is owned. It prints `error KIND WHAT: MESSAGE` (`KIND` is the
//!   `KillError::kind`, `WHAT` one of the words below) for `own(0)` (`zero`),
//!   `own(its own pid)` (`self`), `own(PID)` of a child that has already exited (`exited`;
//!   waited for, its handle still open: the pid is not reused), and, for a live `windowed`
//!   child (`witness`), with group mode (`group`) and with signal 0 (`signal`); or
//!   `owned WHAT` if one of them was accepted (then it is disowned at once). The witness is
//!   left running.
//!
//! A child's stdout is a pipe to this program: its `ready` line is awaited (the lines before
//! it are printed as `NAME LINE`), and its later lines are kept, not printed at once: while
//! safe-exit visits a child's console to send it Ctrl-C, this whole process's standard
//! handles are that console's, and a line printed by another thread meanwhile would land
//! there (under Wine 8 it can even crash the Wine server). For each child it prints
//! `pid NAME PID`, then, once all are owned, registers a hook (after owning them: hooks run
//! newest first, so only the owning itself puts the children before it), which prints
//! `hook ran {exit_reason:?}` and `hook stopped after MS ms` (the time since the ending
//! began), then for each child, through this program's own `Child` (which `own` must not
//! have reaped): once its output has closed, the lines it printed (`NAME LINE`) and
//! `hook NAME exit CODE` (hexadecimal); or `hook NAME running`. Then it prints `ready` and
//! ends by `END`:
//!
//! - `return`: returns from `main` with exit code 7;
//! - `request`: calls `request_shutdown(5)`;
//! - `park`: blocks until the process is ended from outside (a console event).
//!
//! `win_owner exit` exits at once with code 0 (the child that has exited, for `bad`).

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
    use std::sync::mpsc::{self, Receiver};
    use std::sync::{Mutex, PoisonError};
    use std::time::{Duration, Instant};

    use safe_exit::{KillError, KillOptions};
    use safe_exit_wintests::child::{park_forever, say};
    use safe_exit_wintests::{CREATE_NEW_CONSOLE, DETACHED_PROCESS};

    /// The polite request's deadline, shared by every owned child.
    const TIMEOUT: Duration = Duration::from_millis(300);
    /// How long the hook waits for the output of a child that has ended to close.
    const OUTPUT_CLOSES: Duration = Duration::from_secs(10);

    /// When the ending began (just before `main` returns or `request_shutdown`).
    static ENDING: Mutex<Option<Instant>> = Mutex::new(None);

    /// A child of this program.
    struct Kid {
        /// What this program calls it in its lines.
        name: &'static str,
        /// The child itself, never waited for before the hook (except `exited`).
        child: std::process::Child,
        /// Its stdout lines after `ready`, all of them once its stdout has closed.
        output: Receiver<Vec<String>>,
    }

    /// Starts this crate's program `program` with `args` and creation `flags`, waits for its
    /// `ready` line, and prints `pid NAME PID`; its later lines are kept for the hook.
    fn start(name: &'static str, program: &str, args: &[&str], flags: u32) -> Kid {
        let exe = std::env::current_exe().expect("our own path");
        let path = exe.with_file_name(format!("{program}.exe"));
        let mut child = Command::new(&path)
            .args(args)
            .creation_flags(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line == "ready" => break,
                Some(Ok(line)) => say(&format!("{name} {line}")),
                other => panic!("{name} ended before it said ready: {other:?}"),
            }
        }
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(lines.map_while(Result::ok).collect());
        });
        say(&format!("pid {name} {}", child.id()));
        Kid {
            name,
            child,
            output,
        }
    }

    /// Owns `kid` with SIGTERM and [`TIMEOUT`].
    fn own(kid: &Kid) -> safe_exit::Handle {
        let opts = KillOptions::new().timeout(TIMEOUT);
        safe_exit::own(kid.child.id(), &opts).unwrap_or_else(|e| panic!("own({}): {}", kid.name, e))
    }

    /// Owns every one of `kids` for good (their handles, only good for disowning, are let go).
    fn own_all(kids: &[Kid]) {
        for kid in kids {
            let _ = own(kid);
        }
    }

    /// The hook: how the process ends, and each child's state seen through its own `Child`.
    fn report(mut kids: Vec<Kid>) {
        say(&format!("hook ran {:?}", safe_exit::exit_reason()));
        let began = *ENDING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(began) = began {
            say(&format!(
                "hook stopped after {} ms",
                began.elapsed().as_millis()
            ));
        }
        for kid in &mut kids {
            match kid.child.try_wait() {
                Ok(Some(status)) => {
                    match kid.output.recv_timeout(OUTPUT_CLOSES) {
                        Ok(lines) => {
                            for line in lines {
                                say(&format!("{} {line}", kid.name));
                            }
                        }
                        Err(_) => say(&format!("hook {} output still open", kid.name)),
                    }
                    let code = status.code().unwrap_or(-1) as u32;
                    say(&format!("hook {} exit {code:#x}", kid.name));
                }
                Ok(None) => say(&format!("hook {} running", kid.name)),
                Err(e) => say(&format!("hook {} error {e}", kid.name)),
            }
        }
    }

    /// `own` where it must refuse: prints `error KIND WHAT: MESSAGE`, or `owned WHAT` if it
    /// accepted (and disowns it at once).
    fn refused(what: &str, result: Result<safe_exit::Handle, KillError>) {
        match result {
            Err(e) => say(&format!("error {} {what}: {e}", e.kind())),
            Ok(handle) => {
                say(&format!("owned {what}"));
                handle.unregister();
            }
        }
    }

    /// `bad`: refused requests; the children are returned to stay alive until the end.
    fn bad() -> Vec<Kid> {
        let opts = KillOptions::new().timeout(TIMEOUT);
        refused("zero", safe_exit::own(0, &opts));
        refused("self", safe_exit::own(std::process::id(), &opts));
        let mut exited = start_exiting();
        exited.child.wait().expect("wait for it");
        refused("exited", safe_exit::own(exited.child.id(), &opts));
        let witness = start("witness", "windowed", &[], DETACHED_PROCESS);
        let pid = witness.child.id();
        refused("group", safe_exit::own(pid, &opts.clone().group(true)));
        refused("signal", safe_exit::own(pid, &opts.clone().signal(0)));
        // A signal number that Windows knows but cannot send to another process.
        refused("unsendable", safe_exit::own(pid, &opts.signal(3)));
        vec![exited, witness]
    }

    /// A copy of this program that exits at once.
    fn start_exiting() -> Kid {
        let exe = std::env::current_exe().expect("our own path");
        let child = Command::new(exe)
            .arg("exit")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a copy of ourselves");
        say(&format!("pid exited {}", child.id()));
        let (tx, output) = mpsc::channel();
        let _ = tx.send(Vec::new());
        Kid {
            name: "exited",
            child,
            output,
        }
    }

    pub(crate) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().collect();
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        let kids = match arg(1) {
            "exit" => return ExitCode::SUCCESS,
            "window" => {
                let kids = vec![
                    start("polite", "windowed", &[], DETACHED_PROCESS),
                    start("stubborn", "windowed", &["ignore-close"], DETACHED_PROCESS),
                ];
                own_all(&kids);
                kids
            }
            "console" => {
                let kids = vec![
                    start(
                        "polite",
                        "win_hooks",
                        &["wait", "DEFAULT"],
                        CREATE_NEW_CONSOLE,
                    ),
                    start("stubborn", "stubborn", &[], CREATE_NEW_CONSOLE),
                ];
                own_all(&kids);
                kids
            }
            "disown" => {
                let kids = vec![
                    start("owned", "windowed", &[], DETACHED_PROCESS),
                    start("disowned", "windowed", &[], DETACHED_PROCESS),
                ];
                own_all(&kids[..1]);
                let handle = own(&kids[1]);
                say(&format!("unregister {}", handle.unregister()));
                kids
            }
            "unaskable" => {
                // Neither a window nor a console of its own: nothing but the force reaches
                // it.
                let kids = vec![start("unaskable", "stubborn", &[], DETACHED_PROCESS)];
                own_all(&kids);
                kids
            }
            "bad" => bad(),
            setup => panic!("unknown setup {setup}"),
        };
        safe_exit::register(move || report(kids));
        say("ready");
        let began =
            || *ENDING.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        match arg(2) {
            "return" => {
                began();
                ExitCode::from(7)
            }
            "request" => {
                began();
                safe_exit::request_shutdown(5);
                say("request_shutdown returned");
                ExitCode::from(1)
            }
            "park" => park_forever(),
            end => panic!("unknown end {end}"),
        }
    }
}
