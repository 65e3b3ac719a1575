//! A service with hooks at logoff and shutdown: `win_session_service NAME LOG`.
//!
//! Configures safe-exit with every console event (`DEFAULT`: logoff and shutdown included,
//! so it has the hidden window) in exit mode, registers a hook that logs
//! `hook ran {exit_reason:?}`, and calls `run_service(NAME, ...)`, whose main function logs
//! `ready pid=PID` and waits for shutdown. Every line goes to the file `LOG` (appended and
//! flushed line by line: a service's stdout goes nowhere) and to stdout.

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
    use std::process::ExitCode;

    use safe_exit_wintests::child::{log, open_log, park_forever, say};

    pub(crate) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().collect();
        let [_, name, path] = &args[..] else {
            say("usage: win_session_service NAME LOG");
            return ExitCode::from(2);
        };
        if let Err(e) = open_log(path) {
            say(&format!("cannot open the log {path}: {e}"));
            return ExitCode::from(2);
        }
        if let Err(e) = safe_exit::config(safe_exit::DEFAULT_CONFIG) {
            log(&format!("config failed: {e}"));
            return ExitCode::from(2);
        }
        safe_exit::register(|| log(&format!("hook ran {:?}", safe_exit::exit_reason())));
        let result = safe_exit::run_service(name, || {
            // The hidden window comes a moment after `config`: the test sends it messages.
            if !safe_exit_wintests::child::wait_for_own_window("safe_exit_session") {
                log("no hidden window within 10 s");
            }
            log(&format!("ready pid={}", std::process::id()));
            // Exit mode (the default policy): a stop runs the hooks and ends the process.
            let _ = safe_exit::wait_for_shutdown();
            park_forever()
        });
        log(&format!("run_service returned {result:?}"));
        ExitCode::from(2)
    }
}
