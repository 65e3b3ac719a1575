//! A safe_kill caller that ignores Ctrl-C: `killer_ignoring TARGET HOW`.
//!
//! `HOW` is `null-handler` (it calls `SetConsoleCtrlHandler(NULL, TRUE)` itself; start it
//! with `CREATE_NEW_CONSOLE`) or `group` (it was started with `CREATE_NEW_PROCESS_GROUP`,
//! which makes Windows start it ignoring Ctrl-C, and `DETACHED_PROCESS`: it configures
//! `AUTO_CREATE_CONSOLE` for a console of its own). It configures safe-exit, registers a hook
//! that prints `killer hook ran {exit_reason:?}`, and prints the result of
//! `safe_kill_with(TARGET, SIGTERM, 5 s)` as `outcome X` or `error X` and how long that took
//! as `took MS`. Then it stops ignoring Ctrl-C (`SetConsoleCtrlHandler(NULL, FALSE)`), prints
//! `ready`, and blocks: the test then sends Ctrl-C to its console, and its hook must run.

#[cfg(windows)]
fn main() {
    imp::main()
}

#[cfg(not(windows))]
fn main() {
    eprintln!("this test program runs on Windows only");
    std::process::exit(2);
}

#[cfg(windows)]
mod imp {
    use std::time::{Duration, Instant};

    use safe_exit::{ConfigFlag, KillOptions};
    use safe_exit_wintests::child::{park_forever, say};
    use windows_sys::Win32::Foundation::{FALSE, TRUE};
    use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;

    pub(crate) fn main() {
        let args: Vec<String> = std::env::args().collect();
        let target: u32 = args[1].parse().expect("a pid");
        let mut flags = safe_exit::DEFAULT_CONFIG;
        match args[2].as_str() {
            "null-handler" => {
                // SAFETY: a null handler with TRUE only sets the process's ignore flag.
                assert_ne!(unsafe { SetConsoleCtrlHandler(None, TRUE) }, 0);
            }
            "group" => flags |= ConfigFlag::AUTO_CREATE_CONSOLE,
            other => panic!("unknown mode {other}"),
        }
        safe_exit::config(flags).expect("config");
        safe_exit::register(|| say(&format!("killer hook ran {:?}", safe_exit::exit_reason())));
        let opts = KillOptions::new()
            .signal(15)
            .timeout(Duration::from_secs(5));
        let start = Instant::now();
        let result = safe_exit::safe_kill_with(target, &opts);
        let took = start.elapsed();
        match result {
            Ok(outcome) => say(&format!("outcome {outcome:?}")),
            Err(e) => say(&format!("error {e}")),
        }
        say(&format!("took {}", took.as_millis()));
        // Ctrl-C reaches the handlers again: the next one is a real one, for us.
        // SAFETY: as above.
        assert_ne!(unsafe { SetConsoleCtrlHandler(None, FALSE) }, 0);
        say("ready");
        park_forever()
    }
}
