//! A console program in notify mode: `win_notify BY_SIGNAL`.
//!
//! It configures `DEFAULT_CONFIG`, sets `ShutdownPolicy::notify().exit_by_signal(BY_SIGNAL)`
//! (`true` or `false`), registers a hook that prints `hook ran {exit_reason:?}`, and prints
//! `ready`. Then it waits for the shutdown request (a console event), prints
//! `requested {reason:?}`, and returns from `main` with exit code 7: the hooks run at that
//! exit, and the process must end with one status, the policy's (`STATUS_CONTROL_C_EXIT` by
//! the event, or 7 with `exit_by_signal(false)`), every time.

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

    use safe_exit::ShutdownPolicy;
    use safe_exit_wintests::child::say;

    pub(crate) fn main() -> ExitCode {
        let by_signal = std::env::args().nth(1).as_deref() != Some("false");
        if let Err(e) = safe_exit::config(safe_exit::DEFAULT_CONFIG) {
            say(&format!("config failed: {e}"));
            return ExitCode::from(2);
        }
        let policy = ShutdownPolicy::notify().exit_by_signal(by_signal);
        if let Err(e) = safe_exit::set_shutdown_policy(policy) {
            say(&format!("set_shutdown_policy failed: {e}"));
            return ExitCode::from(2);
        }
        safe_exit::register(|| say(&format!("hook ran {:?}", safe_exit::exit_reason())));
        say("ready");
        let reason = safe_exit::wait_for_shutdown();
        say(&format!("requested {reason:?}"));
        ExitCode::from(7)
    }
}
