//! Drops root privileges (to the user `nobody`, 65534) and calls `safe_kill` on the pid given
//! as the first argument, a process of another user (with a second argument `own`:
//! `safe_exit::own` instead). Prints `result: ok OUTCOME` (`result: ok owned`) or
//! `result: err VARIANT: MESSAGE`.
//!
//! Linux only (the tests use pidfds and `/proc`); elsewhere it only says so.

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("this test program needs Linux");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use safe_exit::safe_kill;
    use safe_exit_tests::child::say;

    pub(super) fn main() {
        let pid: u32 = std::env::args()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("a pid");
        // SAFETY: plain credential changes in a single-threaded process; group first.
        unsafe {
            assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "setgroups");
            assert_eq!(libc::setgid(65534), 0, "setgid");
            assert_eq!(libc::setuid(65534), 0, "setuid");
        }
        say("ready");
        let result = if std::env::args().nth(2).as_deref() == Some("own") {
            safe_exit::own(pid, &safe_exit::KillOptions::new()).map(|_| "owned".to_owned())
        } else {
            safe_kill(pid).map(|outcome| outcome.to_string())
        };
        match result {
            Ok(outcome) => say(&format!("result: ok {outcome}")),
            Err(e) => {
                let variant = format!("{e:?}");
                say(&format!(
                    "result: err {}: {e}",
                    variant.split([' ', '{']).next().unwrap_or("")
                ))
            }
        }
    }
}
