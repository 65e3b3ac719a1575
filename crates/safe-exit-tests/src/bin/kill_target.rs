//! A process for `safe_kill` to end, with configurable reactions to signals.
//!
//! `kill_target [--ignore SIG]... [--exit-on SIG]... [--report SIG]... [--children N]
//!  [--child-ignore SIG]... [--child-exit-on SIG]... [--reaped-leader] [--zombie] [--thread]`
//!
//! Signals are numbers. `--ignore` sets SIG_IGN. `--exit-on` and `--report` block the signal
//! and wait for it with `sigwaitinfo`, printing `got SIG pid PID`; `--exit-on` then exits 0,
//! `--report` goes on. Every other signal keeps its default action.
//!
//! `--children N` first forks N children in the same process group, set up with the
//! `--child-*` options, and prints `child PID` for each once it is set up. With
//! `--reaped-leader` the N children belong to another process group instead, whose leader is
//! gone: this process forks a leader, which starts a new process group (`setpgid(0, 0)`),
//! forks the N children into it and exits; this process reaps it (`waitpid`), so its pid now
//! names only the group, and prints `child PID` for each child and `leader PID`.
//!
//! `--zombie` forks a child that exits at once, waits until it has exited without reaping it,
//! and prints `zombie PID`. `--thread` starts a second thread once the process is set up (it
//! inherits the blocked signals, so the main thread still receives them) and prints `thread
//! TID`, its thread id. Then the process prints `ready PID`.
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
    use safe_exit_tests::child::{pause_forever, say};

    #[derive(Default)]
    struct Setup {
        ignore: Vec<i32>,
        exit_on: Vec<i32>,
        report: Vec<i32>,
    }

    pub(super) fn main() {
        let mut me = Setup::default();
        let mut kids = Setup::default();
        let mut children = 0;
        let mut zombie = false;
        let mut thread = false;
        let mut reaped_leader = false;
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            if flag == "--zombie" {
                zombie = true;
                continue;
            }
            if flag == "--reaped-leader" {
                reaped_leader = true;
                continue;
            }
            if flag == "--thread" {
                thread = true;
                continue;
            }
            let value = args
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value"));
            let number = || {
                value
                    .parse::<i32>()
                    .unwrap_or_else(|_| panic!("{flag} {value}"))
            };
            match flag.as_str() {
                "--ignore" => me.ignore.push(number()),
                "--exit-on" => me.exit_on.push(number()),
                "--report" => me.report.push(number()),
                "--child-ignore" => kids.ignore.push(number()),
                "--child-exit-on" => kids.exit_on.push(number()),
                "--children" => children = number(),
                other => panic!("unknown option {other}"),
            }
        }

        let pids = if reaped_leader {
            fork_group_without_leader(children, &kids)
        } else {
            fork_children(children, &kids)
        };
        for pid in pids.children {
            say(&format!("child {pid}"));
        }
        if let Some(leader) = pids.leader {
            say(&format!("leader {leader}"));
        }
        if zombie {
            // SAFETY: single-threaded; the child only exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: _exit has no preconditions.
                unsafe { libc::_exit(7) };
            }
            // SAFETY: waitid on our own child with WNOWAIT: waits for its exit without reaping.
            let rc = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            assert_eq!(rc, 0, "waitid");
            say(&format!("zombie {pid}"));
        }
        setup(&me);
        if thread {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions and cannot fail.
                tx.send(unsafe { libc::gettid() }).expect("main is waiting");
                loop {
                    std::thread::park();
                }
            });
            let tid = rx.recv().expect("the thread reports its id");
            say(&format!("thread {tid}"));
        }
        say(&format!("ready {}", std::process::id()));
        serve(&me)
    }

    /// The children started, and with `--reaped-leader` the pid of their group's leader
    /// (exited and reaped).
    struct Forked {
        children: Vec<i32>,
        leader: Option<i32>,
    }

    /// Forks `n` children in this process's group, set up with `kids`; returns once each is
    /// set up.
    fn fork_children(n: i32, kids: &Setup) -> Forked {
        let mut children = Vec::new();
        for _ in 0..n {
            let mut fds = [0; 2];
            // SAFETY: a valid array of two ints.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            // SAFETY: this program is single-threaded, so the child may run Rust code.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                setup(kids);
                // SAFETY: writing one byte from a valid buffer to our pipe.
                unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
                serve(kids);
            }
            let mut byte = 0u8;
            // SAFETY: reading one byte into a valid buffer; then closing our pipe ends.
            unsafe {
                libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                libc::close(fds[0]);
                libc::close(fds[1]);
            }
            children.push(pid);
        }
        Forked {
            children,
            leader: None,
        }
    }

    /// `--reaped-leader`: forks a leader that starts a new process group, forks `n` children
    /// into it (set up with `kids`), sends their pids back through a pipe and exits; then
    /// reaps it. The children live on in the group whose leader is gone.
    fn fork_group_without_leader(n: i32, kids: &Setup) -> Forked {
        let mut fds = [0; 2];
        // SAFETY: a valid array of two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: this program is single-threaded, so the child may run Rust code.
        let leader = unsafe { libc::fork() };
        assert!(leader >= 0, "fork failed");
        if leader == 0 {
            // SAFETY: setpgid on ourselves; then writing our children's pids (each set up
            // once `fork_children` returns) from a valid buffer, and _exit, which runs
            // nothing of the parent's.
            unsafe {
                assert_eq!(libc::setpgid(0, 0), 0, "setpgid");
                let pids = fork_children(n, kids).children;
                let bytes = std::slice::from_raw_parts(
                    pids.as_ptr().cast::<u8>(),
                    std::mem::size_of_val(pids.as_slice()),
                );
                let written = libc::write(fds[1], bytes.as_ptr().cast(), bytes.len());
                libc::_exit(if written == bytes.len() as isize {
                    0
                } else {
                    1
                });
            }
        }
        // A fixed number of bytes, not "until end of file": the children hold the pipe too.
        let mut pids = vec![0i32; n as usize];
        let want = std::mem::size_of_val(pids.as_slice());
        let mut got = 0;
        while got < want {
            // SAFETY: reading into the rest of a valid buffer of `want` bytes.
            let r = unsafe {
                libc::read(
                    fds[0],
                    pids.as_mut_ptr().cast::<u8>().add(got).cast(),
                    want - got,
                )
            };
            assert!(r > 0, "the leader did not report its children");
            got += r as usize;
        }
        let mut status = 0;
        // SAFETY: reaping our own child; then closing our pipe ends.
        unsafe {
            assert_eq!(libc::waitpid(leader, &mut status, 0), leader, "waitpid");
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the leader failed: {status:#x}"
        );
        Forked {
            children: pids,
            leader: Some(leader),
        }
    }

    fn set_of(sigs: &[i32]) -> libc::sigset_t {
        // SAFETY: sigemptyset/sigaddset on a local sigset_t.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in sigs {
                libc::sigaddset(&mut set, s);
            }
            set
        }
    }

    fn setup(s: &Setup) {
        for &sig in &s.ignore {
            // SAFETY: setting a signal to SIG_IGN.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
        let waited: Vec<i32> = s.exit_on.iter().chain(&s.report).copied().collect();
        let set = set_of(&waited);
        // SAFETY: blocking signals in this single-threaded process.
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    }

    fn serve(s: &Setup) -> ! {
        let waited: Vec<i32> = s.exit_on.iter().chain(&s.report).copied().collect();
        if waited.is_empty() {
            pause_forever();
        }
        let set = set_of(&waited);
        loop {
            // SAFETY: waiting for one of the blocked signals in `set`.
            let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
            if sig < 0 {
                continue;
            }
            say(&format!("got {sig} pid {}", std::process::id()));
            if s.exit_on.contains(&sig) {
                std::process::exit(0);
            }
        }
    }
}
