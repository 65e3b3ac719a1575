//! Drops root privileges (to the user `nobody`, 65534) and calls `safe_kill` on the pid given
//! as the only argument, a process of another user. Prints `result: ok OUTCOME` or
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
        match safe_kill(pid) {
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
