//! A parent that owns its children (`safe_exit::own`), for the tests in `tests/process/own.rs`.
//!
//! `owner [--children N] [--stubborn K] [--timeout-ms T] [--group] [--disown]
//!  [--own-in-hook] [--end term|return|exit|request|notify]`
//!
//! Starts N `kill_target` children (the program next to this one; the last K of them ignore
//! SIGTERM), each in a process group of its own with one grandchild with `--group`, and owns
//! each with a T ms deadline (default 300) and group mode as asked. It prints `child PID`
//! for each (and `grandchild PID`), `disowned PID` for the first with `--disown` (its handle
//! is unregistered), then `ready PID`.
//!
//! One hook is registered before the children are owned; it runs after they are stopped and
//! prints `hook` and then, for each child, `status PID <how>` from the parent's own
//! `Child::try_wait` (`signal N`, `code N`, or `running`), and `grandchild PID gone` or
//! `grandchild PID alive`. With `--own-in-hook` a second hook (which runs first) starts and
//! owns one more child and prints `late PID`; it must be stopped before the first hook.
//!
//! How the process ends (`--end`): `term` (default) waits for a signal; `return`, `exit`
//! (`std::process::exit(3)`) and `request` (`request_shutdown(4)`) wait for a line on stdin
//! first; `notify` sets a notify policy, waits for the shutdown request, prints `draining`
//! and returns from `main`.
//!
//! `owner --bad` tries what must be refused, printing `bad WHAT KIND` for each, then
//! `ready PID`, and exits 0 when stdin closes.
//!
//! `owner --recycle group|plain` (as PID 1 of a PID namespace, as root) owns a `sleep` (in
//! group mode, leading its own group; `plain`: with `pidfd_open` refused, so safe-exit can
//! only poll), kills and reaps it, and has its pid handed to a new `kill_target --report 15`
//! (leading a group of its own too): `recycled PID`, then `ready`, and returns from `main`.
//! The new process must not be signalled: it would print `got 15 ...`.
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
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::{CommandExt as _, ExitStatusExt};
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use safe_exit::{KillOptions, ShutdownPolicy};
    use safe_exit_tests::child::{block_on_stdin, pause_forever, say};

    /// A child and its grandchild (group mode).
    type Owned = (Child, Option<i32>);

    #[derive(Default)]
    struct Args {
        children: usize,
        stubborn: usize,
        timeout_ms: u64,
        group: bool,
        disown: bool,
        own_in_hook: bool,
        end: String,
        bad: bool,
    }

    fn parse() -> Args {
        let mut a = Args {
            children: 3,
            timeout_ms: 300,
            end: "term".into(),
            ..Args::default()
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .unwrap_or_else(|| panic!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--children" => a.children = value().parse().expect("--children N"),
                "--stubborn" => a.stubborn = value().parse().expect("--stubborn K"),
                "--timeout-ms" => a.timeout_ms = value().parse().expect("--timeout-ms T"),
                "--end" => a.end = value(),
                "--group" => a.group = true,
                "--disown" => a.disown = true,
                "--own-in-hook" => a.own_in_hook = true,
                "--bad" => a.bad = true,
                other => panic!("unknown option {other}"),
            }
        }
        a
    }

    /// Starts a `kill_target` and waits until it is set up; returns it and its grandchild.
    fn start(stubborn: bool, group: bool) -> (Child, Option<i32>) {
        let me = std::env::current_exe().expect("current_exe");
        let mut cmd = Command::new(me.with_file_name("kill_target"));
        if stubborn {
            cmd.args(["--ignore", "15"]);
        }
        if group {
            cmd.process_group(0);
            cmd.args(["--children", "1"]);
            if stubborn {
                cmd.args(["--child-ignore", "15"]);
            }
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn kill_target");
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut grandchild = None;
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).expect("read") == 0 {
                panic!("kill_target ended before it was ready");
            }
            if let Some(pid) = line.trim().strip_prefix("child ") {
                grandchild = Some(pid.parse().expect("child PID"));
            }
            if line.starts_with("ready ") {
                break;
            }
        }
        (child, grandchild)
    }

    fn status(child: &mut Child) -> String {
        match child.try_wait() {
            Ok(Some(s)) => match (s.signal(), s.code()) {
                (Some(sig), _) => format!("signal {sig}"),
                (None, Some(code)) => format!("code {code}"),
                _ => "unknown".into(),
            },
            Ok(None) => "running".into(),
            Err(e) => format!("error {e}"),
        }
    }

    fn gone(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat.contains(") Z "),
        }
    }

    pub(super) fn main() {
        let mut args = std::env::args().skip(1);
        if args.next().as_deref() == Some("--recycle") {
            return recycle(args.next().as_deref() == Some("group"));
        }
        let a = parse();
        if a.bad {
            return bad();
        }
        let opts = KillOptions::new()
            .timeout(Duration::from_millis(a.timeout_ms))
            .group(a.group);
        let children: Arc<Mutex<Vec<Owned>>> = Arc::default();
        let seen = Arc::clone(&children);
        safe_exit::register(move || {
            say("hook");
            for (child, grandchild) in seen.lock().unwrap().iter_mut() {
                say(&format!("status {} {}", child.id(), status(child)));
                if let Some(g) = grandchild {
                    let how = if gone(*g) { "gone" } else { "alive" };
                    say(&format!("grandchild {g} {how}"));
                }
            }
        });
        if a.own_in_hook {
            let late = Arc::clone(&children);
            let late_opts = opts.clone();
            safe_exit::register(move || {
                let (child, grandchild) = start(false, false);
                safe_exit::own(child.id(), &late_opts).expect("own in a hook");
                say(&format!("late {}", child.id()));
                late.lock().unwrap().push((child, grandchild));
            });
        }
        for i in 0..a.children {
            let stubborn = i >= a.children - a.stubborn.min(a.children);
            let (child, grandchild) = start(stubborn, a.group);
            let handle = safe_exit::own(child.id(), &opts).expect("own");
            say(&format!("child {}", child.id()));
            if let Some(g) = grandchild {
                say(&format!("grandchild {g}"));
            }
            if a.disown && i == 0 {
                assert!(handle.unregister(), "disowned");
                say(&format!("disowned {}", child.id()));
            }
            children.lock().unwrap().push((child, grandchild));
        }
        if a.end == "notify" {
            safe_exit::set_shutdown_policy(ShutdownPolicy::notify()).expect("policy");
        }
        say(&format!("ready {}", std::process::id()));
        match a.end.as_str() {
            "term" => pause_forever(),
            "return" => {
                block_on_stdin();
            }
            "exit" => {
                block_on_stdin();
                std::process::exit(3);
            }
            "request" => {
                block_on_stdin();
                safe_exit::request_shutdown(4);
            }
            "notify" => {
                safe_exit::wait_for_shutdown();
                say("draining");
            }
            other => panic!("unknown ending {other}"),
        }
    }

    /// Everything `own` must refuse; nothing may be signalled (a signal to this process would
    /// end it before `ready`).
    fn bad() {
        let report = |what: &str, r: Result<safe_exit::Handle, safe_exit::KillError>| match r {
            Ok(_) => say(&format!("bad {what} accepted")),
            Err(e) => say(&format!("bad {what} {}", e.kind())),
        };
        let opts = KillOptions::new();
        report("zero", safe_exit::own(0, &opts));
        report("max", safe_exit::own(u32::MAX, &opts));
        report("self", safe_exit::own(std::process::id(), &opts));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            pause_forever();
        });
        let tid = rx.recv().unwrap() as u32;
        report("thread", safe_exit::own(tid, &opts));
        report("signal", safe_exit::own(1, &opts.clone().signal(0)));
        report(
            "stop",
            safe_exit::own(1, &opts.clone().signal(libc::SIGSTOP)),
        );
        report("own-group", safe_exit::own(1, &opts.clone().group(true)));
        // A child that has exited (a zombie), and one that has been reaped.
        let mut zombie = Command::new("true").spawn().expect("spawn true");
        let pidfd_gone = || {
            // Wait for its exit without reaping it.
            // SAFETY: waitid on our own child with WNOWAIT fills a zeroed siginfo.
            unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(
                    libc::P_PID,
                    zombie.id() as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            }
        };
        assert_eq!(pidfd_gone(), 0);
        report("zombie", safe_exit::own(zombie.id(), &opts));
        let status = zombie.wait().expect("wait");
        say(&format!("zombie status {}", status.code().unwrap_or(-1)));
        report("reaped", safe_exit::own(zombie.id(), &opts));
        say(&format!("ready {}", std::process::id()));
        block_on_stdin();
    }

    /// `--recycle`: see the module docs.
    fn recycle(group: bool) {
        if !group {
            safe_exit_tests::child::deny_syscalls(&[(libc::SYS_pidfd_open, libc::ENOSYS)]);
        }
        let mut first = Command::new("sleep");
        first.arg("1000");
        if group {
            first.process_group(0);
        }
        let mut first = first.spawn().expect("spawn sleep");
        let pid = first.id();
        safe_exit::own(
            pid,
            &KillOptions::new()
                .timeout(Duration::from_millis(300))
                .group(group),
        )
        .expect("own");
        first.kill().expect("kill");
        first.wait().expect("reap");
        if !group {
            // Without pidfds a process is known by its pid and its start time, which `/proc`
            // gives in clock ticks (10 ms): the new process must start in a later tick. (A
            // real recycle takes a whole wrap of the pid space.)
            std::thread::sleep(Duration::from_millis(30));
        }
        // The next pid handed out in this namespace is `pid` again.
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
            .expect("write ns_last_pid");
        let me = std::env::current_exe().expect("current_exe");
        let mut second = Command::new(me.with_file_name("kill_target"));
        second.args(["--report", "15"]).process_group(0);
        let mut second = second
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn kill_target");
        assert_eq!(second.id(), pid, "the pid was not handed out again");
        let mut out = BufReader::new(second.stdout.take().expect("piped"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        assert!(line.starts_with("ready"), "{line}");
        // Its later lines (`got 15 ...` if it is signalled) go to our stdout.
        std::thread::spawn(move || {
            for line in out.lines() {
                say(&line.unwrap_or_default());
            }
        });
        say(&format!("recycled {pid}"));
        say("ready");
        // Returning ends this process: the owned (and long gone) child is stopped first.
        std::mem::forget(second);
    }
}
