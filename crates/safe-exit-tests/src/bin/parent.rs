//! A parent whose children are started with `CommandExt::die_with_parent`, for
//! `tests/process/die_with_parent.rs`.
//!
//! `parent [--deny-pidfd]` reads commands from stdin, one a line, and answers each with its
//! lines and then `ready`. When stdin closes (or on `exit`) it returns from `main`: a normal
//! exit. `--deny-pidfd` first makes `pidfd_open` fail with `ENOSYS` (a seccomp filter), as on
//! a kernel before 5.3.
//!
//! Every child is `sleep 1000` (or `true`) with stdin, stdout and stderr on `/dev/null`, so
//! that no child holds this process's pipes. A child started is reported as `child PID`; a
//! spawn that fails as `error KIND ERRNO` (the `io::ErrorKind` and the OS error number).
//!
//! - `spawn N`: starts N children from this thread.
//! - `spawn-group N`: the same, each child in a process group of its own.
//! - `threads T N`: T threads start N children each, all at once; the threads are joined
//!   before the children are reported.
//! - `thread-spawn`: a thread starts one child and exits; it is joined before the child is
//!   reported.
//! - `configure`: configures a command (`die_with_parent`) and keeps it, not spawned;
//!   `spawn-configured` spawns it (again).
//! - `spawn-true N`: starts N children that exit at once (`true`) and waits for each.
//! - `exec-in-place`: `exec` (std's, without a fork) of a command configured with
//!   `die_with_parent`: it must fail; prints its error.
//! - `fork`: forks without exec; the forked process starts one child with `die_with_parent`,
//!   reports `forked PID` and `forked-child PID` (or `error ...`), puts its stdin, stdout and
//!   stderr on `/dev/null` and waits for signals. This process waits until it has reported.
//! - `hold`: forks without exec a process that only holds what it inherited (so the
//!   guardian's socket stays open), with its stdin, stdout and stderr on `/dev/null`, and
//!   reports `holder PID`.
//! - `grow MIB`: allocates MIB MiB and writes every page of it: half in 64 KiB blocks (from
//!   the heap), half in one block (a mapping of its own), and holds it.
//! - `shrink`: writes every page of what `grow` allocated again (so that each page shared
//!   with a process forked since is copied: that process keeps the original alone) and
//!   frees it.
//! - `limit-fds N`: sets this process's descriptor limit, soft and hard, to N (a guardian
//!   started from then on inherits it, and cannot raise it).
//! - `fork-reuse`: forks without exec (as `fork`); the forked process first closes every
//!   socket it inherited (the guardian's among them, as a daemon's descriptor hygiene would)
//!   and puts one end of a new socket pair of its own on the lowest of those numbers, then
//!   starts one child with `die_with_parent`; it reports `forked PID`, `forked-child PID` (or
//!   `error ...`) and `peer-received N`: the bytes that the other end of its own pair got.
//! - `reuse-pidfds`: closes every pidfd this process holds and puts a regular file (this
//!   program's) on each of those numbers; reports `reused N`, how many.
//! - `storm-spawn`: a thread forks, every 200 µs, long-lived processes without exec (which
//!   run no code of the program's: they put their stdio on `/dev/null`, keep every other
//!   descriptor, and wait until this process is gone), while this thread configures a
//!   command with the first `die_with_parent` (which starts the guardian); then the forking
//!   stops and the command is spawned. Reports the child and `workers N`.
//! - `exit`: returns from `main`.
//!
//! Linux only; elsewhere it only says so.

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
    use std::io;
    use std::os::unix::process::CommandExt as _;
    use std::process::{Command, Stdio};

    use safe_exit::CommandExt as _;
    use safe_exit_tests::child::{block_on_stdin, pause_forever, say};

    pub(super) fn main() {
        if std::env::args().nth(1).as_deref() == Some("--deny-pidfd") {
            deny_pidfd();
        }
        let mut configured: Option<Command> = None;
        let mut held: Vec<Vec<u8>> = Vec::new();
        while let Some(line) = block_on_stdin() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let number = |i: usize| -> usize {
                words
                    .get(i)
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("bad command {line:?}"))
            };
            match words.first().copied() {
                Some("spawn") => (0..number(1)).for_each(|_| report(spawn_sleep(false))),
                Some("spawn-group") => (0..number(1)).for_each(|_| report(spawn_sleep(true))),
                Some("threads") => threads(number(1), number(2)),
                Some("thread-spawn") => {
                    let result = std::thread::spawn(|| spawn_sleep(false))
                        .join()
                        .expect("the thread panicked");
                    report(result);
                }
                Some("configure") => {
                    let mut cmd = sleep_command(false);
                    cmd.die_with_parent();
                    configured = Some(cmd);
                }
                Some("spawn-configured") => {
                    let cmd = configured.as_mut().expect("configure first");
                    report(cmd.spawn().map(|c| c.id()));
                }
                Some("spawn-true") => spawn_true(number(1)),
                Some("exec-in-place") => {
                    let mut cmd = Command::new("true");
                    cmd.die_with_parent();
                    report(Err(cmd.exec()));
                }
                Some("fork") => fork_and_spawn(),
                Some("hold") => hold(),
                Some("grow") => grow(&mut held, number(1)),
                Some("shrink") => shrink(&mut held),
                Some("limit-fds") => limit_fds(number(1)),
                Some("fork-reuse") => fork_and_reuse(),
                Some("reuse-pidfds") => reuse_pidfds(),
                Some("storm-spawn") => storm_spawn(),
                Some("exit") => return,
                _ => panic!("unknown command {line:?}"),
            }
            say("ready");
        }
    }

    /// `sleep 1000` with its stdio on `/dev/null`, in a process group of its own if `group`.
    fn sleep_command(group: bool) -> Command {
        let mut cmd = Command::new("sleep");
        cmd.arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if group {
            cmd.process_group(0);
        }
        cmd
    }

    /// Starts `sleep 1000` with `die_with_parent`; its pid. The child is never waited for:
    /// it is killed with this process.
    fn spawn_sleep(group: bool) -> io::Result<u32> {
        sleep_command(group)
            .die_with_parent()
            .spawn()
            .map(|child| child.id())
    }

    /// Prints `child PID` or `error KIND ERRNO`.
    fn report(result: io::Result<u32>) {
        match result {
            Ok(pid) => say(&format!("child {pid}")),
            Err(e) => say(&format!(
                "error {:?} {}",
                e.kind(),
                e.raw_os_error().unwrap_or(-1)
            )),
        }
    }

    /// `threads` threads start `each` children at once; then each is reported.
    fn threads(threads: usize, each: usize) {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..each).map(|_| spawn_sleep(false)).collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for result in handle.join().expect("a thread panicked") {
                report(result);
            }
        }
    }

    /// Starts `n` children that exit at once, one after the other, and waits for each.
    fn spawn_true(n: usize) {
        for _ in 0..n {
            let status = Command::new("true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .die_with_parent()
                .status()
                .expect("spawn true");
            assert!(status.success(), "{status:?}");
        }
    }

    /// Forks without exec (this process has one thread here); the forked process starts a
    /// child with `die_with_parent`, reports it and waits. Returns once it has reported.
    fn fork_and_spawn() {
        let mut pipe = [0; 2];
        // SAFETY: pipe writes two descriptors into `pipe`.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        // SAFETY: this process has a single thread (the command threads are joined), so the
        // forked process may do anything.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: getpid has no preconditions.
            say(&format!("forked {}", unsafe { libc::getpid() }));
            match spawn_sleep(false) {
                Ok(child) => say(&format!("forked-child {child}")),
                Err(e) => say(&format!(
                    "error {:?} {}",
                    e.kind(),
                    e.raw_os_error().unwrap_or(-1)
                )),
            }
            detach_stdio();
            // SAFETY: writing one byte from a static to our end of the pipe, then closing it.
            unsafe {
                libc::write(pipe[1], b"x".as_ptr().cast(), 1);
                libc::close(pipe[1]);
            }
            pause_forever();
        }
        // SAFETY: closing our copy of the write end; reading one byte into a local.
        unsafe {
            libc::close(pipe[1]);
            let mut byte = 0u8;
            libc::read(pipe[0], (&mut byte as *mut u8).cast(), 1);
            libc::close(pipe[0]);
        }
    }

    /// Forks without exec a process that holds what it inherited and waits; reports it.
    fn hold() {
        // SAFETY: single thread here, as in `fork_and_spawn`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            detach_stdio();
            pause_forever();
        }
        say(&format!("holder {pid}"));
    }

    /// Allocates `mib` MiB into `held`, every byte written: half in 64 KiB blocks, half in
    /// one.
    fn grow(held: &mut Vec<Vec<u8>>, mib: usize) {
        let half = mib << 19;
        let small = 64 << 10;
        held.extend((0..half / small).map(|_| vec![1u8; small]));
        held.push(vec![1u8; half]);
        std::hint::black_box(&held);
    }

    /// Writes every byte of `held` again, then frees it.
    fn shrink(held: &mut Vec<Vec<u8>>) {
        for block in held.iter_mut() {
            block.fill(2);
            // Not a store before a free that the optimiser may drop.
            std::hint::black_box(&block[..]);
        }
        *held = Vec::new();
    }

    /// Sets the descriptor limit, soft and hard, to `n`.
    fn limit_fds(n: usize) {
        let limit = libc::rlimit {
            rlim_cur: n as libc::rlim_t,
            rlim_max: n as libc::rlim_t,
        };
        // SAFETY: setrlimit reads a valid rlimit.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
    }

    /// The descriptors of this process whose `/proc/self/fd` link satisfies `what`, sorted.
    fn descriptors_where(what: impl Fn(&str) -> bool) -> Vec<i32> {
        let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .flatten()
            .filter_map(|e| {
                let fd = e.file_name().to_str()?.parse().ok()?;
                let target = std::fs::read_link(e.path()).ok()?;
                what(&target.to_string_lossy()).then_some(fd)
            })
            .collect();
        fds.sort_unstable();
        fds
    }

    /// Moves `fd` to `target` (closing what `target` was) and closes `fd`.
    fn move_fd(fd: i32, target: i32) {
        if fd == target {
            return;
        }
        // SAFETY: dup2 and close of descriptors of this process.
        unsafe {
            assert_eq!(libc::dup2(fd, target), target, "dup2");
            libc::close(fd);
        }
    }

    /// Forks without exec; the forked process closes the sockets it inherited, puts a socket
    /// pair of its own in the place of the first, and starts a child with `die_with_parent`
    /// (see the module's docs). Returns once it has reported.
    fn fork_and_reuse() {
        let mut pipe = [0; 2];
        // SAFETY: pipe writes two descriptors into `pipe`.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        // SAFETY: this process has a single thread here (see `fork_and_spawn`).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: getpid has no preconditions.
            say(&format!("forked {}", unsafe { libc::getpid() }));
            let sockets = descriptors_where(|t| t.starts_with("socket:"));
            assert!(!sockets.is_empty(), "no socket inherited");
            for &fd in &sockets {
                // SAFETY: closing descriptors of this process that it will not use.
                unsafe { libc::close(fd) };
            }
            let mut pair = [-1; 2];
            // SAFETY: socketpair writes two descriptors into `pair`.
            let rc =
                unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr()) };
            assert_eq!(rc, 0, "socketpair: {}", io::Error::last_os_error());
            move_fd(pair[0], sockets[0]);
            let peer = pair[1];
            match spawn_sleep(false) {
                Ok(child) => say(&format!("forked-child {child}")),
                Err(e) => say(&format!(
                    "error {:?} {}",
                    e.kind(),
                    e.raw_os_error().unwrap_or(-1)
                )),
            }
            let mut buf = [0u8; 64];
            // SAFETY: a non-blocking receive into a local buffer.
            let n =
                unsafe { libc::recv(peer, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            say(&format!("peer-received {}", n.max(0)));
            detach_stdio();
            // SAFETY: writing one byte from a static to our end of the pipe, then closing it.
            unsafe {
                libc::write(pipe[1], b"x".as_ptr().cast(), 1);
                libc::close(pipe[1]);
            }
            pause_forever();
        }
        // SAFETY: closing our copy of the write end; reading one byte into a local.
        unsafe {
            libc::close(pipe[1]);
            let mut byte = 0u8;
            libc::read(pipe[0], (&mut byte as *mut u8).cast(), 1);
            libc::close(pipe[0]);
        }
    }

    /// Closes every pidfd of this process and puts this program's file on each number.
    fn reuse_pidfds() {
        let pidfds = descriptors_where(|t| t.contains("pidfd"));
        let exe = std::env::current_exe().expect("current_exe");
        for &fd in &pidfds {
            let file = std::fs::File::open(&exe).expect("open this program");
            move_fd(std::os::fd::IntoRawFd::into_raw_fd(file), fd);
        }
        say(&format!("reused {}", pidfds.len()));
    }

    /// A thread forks long-lived processes without exec every 200 µs while this one
    /// configures a command with the first `die_with_parent`, which starts the guardian; then
    /// the command is spawned (see the module's docs).
    fn storm_spawn() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        /// The most processes the storm forks.
        const MAX_WORKERS: usize = 2000;
        let mut pipe = [0; 2];
        // SAFETY: pipe2 writes two descriptors into `pipe`.
        let rc = unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
        // SAFETY: open of a NUL-terminated path.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        assert!(null >= 0, "open /dev/null");
        // The read end, the write end and /dev/null stay open for this process's life (the
        // workers end when the write end is closed: when this process is gone).
        let [read_end, write_end] = pipe;
        let stop = Arc::new(AtomicBool::new(false));
        let forked = Arc::new(AtomicUsize::new(0));
        let storm = {
            let (stop, forked) = (stop.clone(), forked.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && forked.load(Ordering::Relaxed) < MAX_WORKERS
                {
                    // SAFETY: the forked process makes system calls only (this process has
                    // other threads).
                    let pid = unsafe { libc::fork() };
                    if pid == 0 {
                        worker(read_end, write_end, null);
                    }
                    if pid > 0 {
                        forked.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            })
        };
        while forked.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        // The first `die_with_parent` starts the guardian, during the storm. The spawn waits
        // until the storm is over: a process forked during std's `spawn` would hold the
        // channel through which `spawn` learns that its child has executed, and `spawn`
        // would wait for ever.
        let mut cmd = sleep_command(false);
        cmd.die_with_parent();
        stop.store(true, Ordering::Relaxed);
        storm.join().expect("the storm thread panicked");
        report(cmd.spawn().map(|child| child.id()));
        say(&format!("workers {}", forked.load(Ordering::Relaxed)));
    }

    /// A process forked by the storm: system calls only. Closes its copy of `write_end`,
    /// puts its stdio on `null`, keeps every other descriptor (the guardian's socket among
    /// them, if it caught it), and waits until `read_end` reports its end (every copy of
    /// `write_end` is closed: this process's parent is gone).
    fn worker(read_end: i32, write_end: i32, null: i32) -> ! {
        // SAFETY: close, dup2, read and _exit on descriptors of this process and a local.
        unsafe {
            libc::close(write_end);
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            let mut byte = 0u8;
            while libc::read(read_end, (&mut byte as *mut u8).cast(), 1) != 0 {
                if *libc::__errno_location() != libc::EINTR {
                    break;
                }
            }
            libc::_exit(0)
        }
    }

    /// Puts stdin, stdout and stderr on `/dev/null`, so that this process no longer holds the
    /// test's pipes.
    fn detach_stdio() {
        // SAFETY: open of a NUL-terminated path, dup2 onto the standard descriptors.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            assert!(null > 2, "open /dev/null");
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            libc::close(null);
        }
    }

    /// Makes `pidfd_open` fail with `ENOSYS` from now on.
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    ))]
    fn deny_pidfd() {
        safe_exit_tests::child::deny_syscalls(&[(libc::SYS_pidfd_open, libc::ENOSYS)]);
    }

    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )))]
    fn deny_pidfd() {
        panic!("--deny-pidfd: no seccomp filter for this architecture");
    }
}
