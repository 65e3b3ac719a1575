//! Calls `safe_kill` with pids that must be refused, beside a sentinel process that records
//! every signal it is sent. Run it in its own session, or as PID 1 of its own PID namespace,
//! so that a broken validation (`kill(0)`, `kill(-1)`) could reach nothing else.
//!
//! `kill_validate [--from-member] [--group] [--signal N] PID...` where a PID may also be
//! `self` (this process), `sentinel` (the sentinel's pid) or `group` (our process group's
//! id). With `--from-member` the work is done by a forked child, a member of the group that
//! this process leads (and the parent exits with the child's status). Prints `result PID: ok OUTCOME` or
//! `result PID: err VARIANT: MESSAGE` per pid, then `sentinel clean` or
//! `sentinel pending SIG...` (the signals the sentinel received, kept pending because it
//! blocks them all), then `done`.
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
    use std::time::Duration;

    use safe_exit::{safe_kill, safe_kill_all, KillOptions};
    use safe_exit_tests::child::say;

    pub(super) fn main() {
        let mut opts = KillOptions::new().timeout(Duration::from_millis(100));
        let mut custom = false;
        let mut specs = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--from-member" => from_member(),
                "--group" => {
                    opts = opts.group(true);
                    custom = true;
                }
                "--signal" => {
                    opts = opts.signal(
                        args.next()
                            .and_then(|s| s.parse().ok())
                            .expect("--signal N"),
                    );
                    custom = true;
                }
                _ => specs.push(arg),
            }
        }

        let (ready_r, ready_w) = pipe();
        let (end_r, end_w) = pipe();
        // SAFETY: single-threaded so far; the child runs only the code below.
        let sentinel = unsafe { libc::fork() };
        assert!(sentinel >= 0, "fork");
        if sentinel == 0 {
            // SAFETY: blocking every signal that can be blocked, then a pipe handshake.
            unsafe {
                let mut all: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut all);
                libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
                libc::close(end_w);
                libc::write(ready_w, b"x".as_ptr().cast(), 1);
                let mut byte = 0u8;
                libc::read(end_r, (&mut byte as *mut u8).cast(), 1);
                let mut pending: libc::sigset_t = std::mem::zeroed();
                libc::sigpending(&mut pending);
                let got: Vec<String> = (1..=libc::SIGRTMAX())
                    .filter(|&s| libc::sigismember(&pending, s) == 1)
                    .map(|s| s.to_string())
                    .collect();
                if got.is_empty() {
                    say("sentinel clean");
                } else {
                    say(&format!("sentinel pending {}", got.join(" ")));
                }
                libc::_exit(0);
            }
        }
        let mut byte = 0u8;
        // SAFETY: reading one byte into a valid buffer.
        unsafe { libc::read(ready_r, (&mut byte as *mut u8).cast(), 1) };

        let pids: Vec<u32> = specs
            .iter()
            .map(|s| match s.as_str() {
                "self" => std::process::id(),
                "sentinel" => sentinel as u32,
                // SAFETY: getpgrp has no preconditions.
                "group" => (unsafe { libc::getpgrp() }) as u32,
                n => n.parse().unwrap_or_else(|_| panic!("not a pid: {n}")),
            })
            .collect();
        say("ready");
        let results = if pids.len() == 1 && !custom {
            vec![safe_kill(pids[0])]
        } else {
            safe_kill_all(&pids, &opts)
        };
        for (pid, r) in pids.iter().zip(results) {
            match r {
                Ok(outcome) => say(&format!("result {pid}: ok {outcome}")),
                Err(e) => {
                    let variant = format!("{e:?}");
                    let variant = variant
                        .split([' ', '(', '{'])
                        .next()
                        .unwrap_or("")
                        .to_owned();
                    say(&format!("result {pid}: err {variant}: {e}"));
                }
            }
        }
        // SAFETY: closing our end of the pipe wakes the sentinel; then reap it (our child).
        unsafe {
            libc::close(end_w);
            libc::waitpid(sentinel, std::ptr::null_mut(), 0);
        }
        say("done");
    }

    /// Forks; the parent waits for the child and exits with its status, the child returns.
    fn from_member() {
        // SAFETY: single-threaded so far.
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork");
        if child == 0 {
            return;
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        std::process::exit(code);
    }

    fn pipe() -> (i32, i32) {
        let mut fds = [0; 2];
        // SAFETY: a valid array of two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        (fds[0], fds[1])
    }
}
