//! A Windows service built on `safe_exit::run_service`: `win_service NAME LOG POLICY CODE`.
//!
//! A service's stdout goes nowhere, so every line goes to the file `LOG` (appended and
//! flushed line by line) as well as to stdout (for a run from a console). It registers a hook
//! that logs `hook ran {exit_reason:?}` (with `slow` in `POLICY`, it then waits until the
//! file `LOG.release` exists, at most 30 s, and logs `hook done`), and calls
//! `run_service(NAME, ...)`, whose main function logs `ready`, waits for shutdown, logs
//! `shutdown {reason:?}` and returns `CODE` (logging `main returns CODE`). Once `run_service`
//! returns it logs `run_service returned {result:?}` and ends with the code. By `POLICY`:
//!
//! - `notify`, `notify-slow`: notify mode, grace period and hook deadline 20 s each;
//! - `exit`: exit mode (the hooks run at the stop, then the process ends), hook deadline 20 s,
//!   and a main function that never returns after the request;
//! - `exit-request`: exit mode, and a main function that calls `request_shutdown(CODE)` at
//!   once: the hooks run and the process ends with `exit(CODE)`;
//! - `grace`: notify mode with a 1 s grace period, and a main function that never returns
//!   after the request: the grace period runs out, the hooks run and the process ends;
//! - `return`: the main function returns `CODE` at once (run from a console: no service).

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
    use std::time::Duration;

    use safe_exit::ShutdownPolicy;
    use safe_exit_wintests::child::{log, open_log, park_forever, say};

    pub(crate) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().collect();
        let [_, name, path, policy, code] = &args[..] else {
            say("usage: win_service NAME LOG POLICY CODE");
            return ExitCode::from(2);
        };
        if let Err(e) = open_log(path) {
            say(&format!("cannot open the log {path}: {e}"));
            return ExitCode::from(2);
        }
        let code: i32 = code.parse().unwrap_or(2);
        let policy = policy.clone();
        let deadline = Duration::from_secs(20);
        let set = match policy.as_str() {
            "notify" | "notify-slow" | "return" => safe_exit::set_shutdown_policy(
                ShutdownPolicy::notify()
                    .grace_period(deadline)
                    .hook_deadline(deadline),
            ),
            "exit" | "exit-request" => {
                safe_exit::set_shutdown_policy(ShutdownPolicy::exit().hook_deadline(deadline))
            }
            "grace" => safe_exit::set_shutdown_policy(
                ShutdownPolicy::notify()
                    .grace_period(Duration::from_secs(1))
                    .hook_deadline(deadline),
            ),
            other => {
                log(&format!("unknown policy {other}"));
                return ExitCode::from(2);
            }
        };
        if let Err(e) = set {
            log(&format!("set_shutdown_policy failed: {e}"));
            return ExitCode::from(2);
        }
        let release = policy
            .contains("slow")
            .then(|| std::path::PathBuf::from(format!("{path}.release")));
        safe_exit::register(move || {
            log(&format!("hook ran {:?}", safe_exit::exit_reason()));
            if let Some(release) = &release {
                // Until the test lets it finish (or 30 s, so that it never hangs).
                let limit = std::time::Instant::now() + Duration::from_secs(30);
                while !release.exists() && std::time::Instant::now() < limit {
                    std::thread::sleep(Duration::from_millis(20));
                }
                log("hook done");
            }
        });
        let result = safe_exit::run_service(name, move || {
            log("ready");
            if policy == "return" {
                log(&format!("main returns {code}"));
                return code;
            }
            if policy == "exit-request" {
                // Exit mode: the hooks run and the process ends with the code, from here.
                safe_exit::request_shutdown(code);
                park_forever();
            }
            let reason = safe_exit::wait_for_shutdown();
            log(&format!("shutdown {reason:?}"));
            if policy == "exit" || policy == "grace" {
                // The process ends without this function returning.
                park_forever();
            }
            log(&format!("main returns {code}"));
            code
        });
        log(&format!("run_service returned {result:?}"));
        ExitCode::from(result.map_or(1, |c| c as u8))
    }
}
