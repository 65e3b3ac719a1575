//! Calls `safe_kill` with pids that must be refused, beside a sentinel process that records
//! every signal it is sent. Run it in its own session, or as PID 1 of its own PID namespace,
//! so that a broken validation (`kill(0)`, `kill(-1)`) could reach nothing else.
//!
//! `kill_validate [--no-pidfd] [--from-member] [--group] [--signal N] [--timeout MS|max]
//! [--no-force] PID...` where a PID may also be `self` (this process), `sentinel` (the
//! sentinel's pid), `group` (our process group's id) or `thread` (the thread id of a thread
//! of this process, started for the purpose). With `--from-member` the work is done by a
//! forked child, a member of the group that this process leads (and the parent exits with
//! the child's status). With `--from-orphaned-member` the work is done by a member of a group
//! whose leader has exited and been reaped: this process forks the leader, which starts a new
//! process group and forks the member into it, then exits; this process reaps it (the member,
//! orphaned, comes to this process, a child subreaper) and exits with the member's status.
//! `--no-pidfd` (first, before the other options) installs a seccomp
//! filter that makes `pidfd_open` and `pidfd_send_signal` fail with `ENOSYS`, as on a kernel
//! before 5.3, so that safe_kill takes its `kill` + polling fallback, and prints
//! `pidfd unavailable` once that is checked. `--timeout max` is `Duration::MAX` (default:
//! 100 ms). Prints `result PID: ok OUTCOME` or `result PID: err VARIANT: MESSAGE` per pid,
//! then `survived` (this process is still alive after the calls), then `sentinel clean` or
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
                "--no-pidfd" => no_pidfd(),
                "--from-member" => from_member(),
                "--from-orphaned-member" => from_orphaned_member(),
                "--timeout" => {
                    let t = args.next().expect("--timeout MS|max");
                    opts = opts.timeout(if t == "max" {
                        Duration::MAX
                    } else {
                        Duration::from_millis(t.parse().expect("--timeout MS|max"))
                    });
                    custom = true;
                }
                "--no-force" => {
                    opts = opts.force_kill(false);
                    custom = true;
                }
                "--group" => {
                    opts = opts.group(true);
                    custom = true;
                }
                "--signal" => {
                    opts = opts.signal(
                        args.next()
                            .and_then(|s| s.parse::<i32>().ok())
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

        // Only now (after the fork) may this process have a second thread.
        let thread = specs.iter().any(|s| s == "thread").then(own_thread);

        let pids: Vec<u32> = specs
            .iter()
            .map(|s| match s.as_str() {
                "self" => std::process::id(),
                "sentinel" => sentinel as u32,
                // SAFETY: getpgrp has no preconditions.
                "group" => (unsafe { libc::getpgrp() }) as u32,
                "thread" => thread.expect("started above") as u32,
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
        say("survived");
        // SAFETY: closing our end of the pipe wakes the sentinel; then reap it (our child).
        unsafe {
            libc::close(end_w);
            libc::waitpid(sentinel, std::ptr::null_mut(), 0);
        }
        say("done");
    }

    /// Starts a thread that blocks forever and returns its thread id (`gettid`), which is not
    /// this process's pid.
    fn own_thread() -> i32 {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions and cannot fail.
            tx.send(unsafe { libc::gettid() }).expect("main is waiting");
            loop {
                std::thread::park();
            }
        });
        let tid = rx.recv().expect("the thread reports its id");
        assert_ne!(tid as u32, std::process::id());
        tid
    }

    /// Makes `pidfd_open` and `pidfd_send_signal` fail with `ENOSYS` for this process and its
    /// future children and threads (a seccomp filter, as a sandbox or a kernel before 5.3
    /// would), checks it, and prints `pidfd unavailable`. Must run while single-threaded.
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    ))]
    fn no_pidfd() {
        safe_exit_tests::child::deny_syscalls(&[
            (libc::SYS_pidfd_open, libc::ENOSYS),
            (libc::SYS_pidfd_send_signal, libc::ENOSYS),
        ]);
        // SAFETY: pidfd_open on our own pid; a descriptor it might return is closed at exit.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
        let e = std::io::Error::last_os_error();
        assert!(
            fd < 0 && e.raw_os_error() == Some(libc::ENOSYS),
            "pidfd_open still works: {fd}, {e}"
        );
        say("pidfd unavailable");
    }

    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )))]
    fn no_pidfd() {
        panic!("--no-pidfd: add this architecture's AUDIT_ARCH value");
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

    /// Forks a leader that starts a new process group, forks a member into it and exits. This
    /// process reaps the leader, then lets the member go on, waits for it (a child
    /// subreaper, it inherits the orphan) and exits with its status; the member returns.
    fn from_orphaned_member() {
        let (go_r, go_w) = pipe();
        // SAFETY: prctl with plain integers; then fork while single-threaded.
        let leader = unsafe {
            assert_eq!(libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
            libc::fork()
        };
        assert!(leader >= 0, "fork");
        if leader == 0 {
            // SAFETY: setpgid on ourselves, fork while single-threaded, _exit.
            unsafe {
                assert_eq!(libc::setpgid(0, 0), 0, "setpgid");
                let member = libc::fork();
                assert!(member >= 0, "fork");
                if member != 0 {
                    libc::_exit(0);
                }
            }
            // The member: wait until the leader is reaped.
            let mut byte = 0u8;
            // SAFETY: reading one byte into a valid buffer; closing our pipe ends.
            unsafe {
                libc::close(go_w);
                assert_eq!(libc::read(go_r, (&mut byte as *mut u8).cast(), 1), 1);
                libc::close(go_r);
            }
            return;
        }
        let mut status = 0;
        // SAFETY: reaping the leader (our child); waking the member; then waiting for it (ours
        // now: it was orphaned when the leader exited, and we are a subreaper).
        let code = unsafe {
            assert_eq!(libc::waitpid(leader, &mut status, 0), leader);
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            libc::write(go_w, b"x".as_ptr().cast(), 1);
            assert!(
                libc::waitpid(-1, &mut status, 0) > 0,
                "no member to wait for"
            );
            if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            }
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
