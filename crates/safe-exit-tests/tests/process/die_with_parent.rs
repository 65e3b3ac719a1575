//! `CommandExt::die_with_parent` (issue 13): a child dies with the process that started it,
//! however that process ends (SIGKILL, a normal exit), through the guardian process
//! `safe-exit-guard`; not with the thread that started it; a process forked without exec
//! gets its children tied to itself. The parent is `src/bin/parent.rs`, driven by lines on
//! its stdin.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use safe_exit_tests::{
    bin, command, is_gone, parent_of, still_running_after, wait_gone, Child, KillOnDrop, Pinned,
    WATCHDOG,
};

use crate::common::BOUND;

/// The guardian's process name (`/proc/PID/comm`).
const GUARD: &str = "safe-exit-guard";

/// Starts `parent ARGS...`.
fn parent(args: &[&str]) -> Child {
    Child::spawn(bin!("parent"), args)
}

/// Sends `line` to the parent and collects the pids it reports (`child PID`) until its
/// `ready`.
fn run(parent: &mut Child, line: &str) -> Vec<i32> {
    parent.send_line(line);
    let mut pids = Vec::new();
    loop {
        let answer = parent.expect_line("");
        if answer == "ready" {
            return pids;
        }
        match answer.strip_prefix("child ") {
            Some(pid) => pids.push(pid.parse().expect("a pid")),
            None => panic!("{line}: unexpected answer {answer:?}"),
        }
    }
}

/// Sends `line` to the parent, expecting one answer starting with `prefix` and then `ready`;
/// returns that answer's rest.
fn run_one(parent: &mut Child, line: &str, prefix: &str) -> String {
    parent.send_line(line);
    let answer = parent.expect_line("");
    let rest = answer
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{line}: expected {prefix:?}, got {answer:?}"))
        .to_owned();
    assert_eq!(parent.expect_line(""), "ready", "after {answer:?}");
    rest
}

/// The guardian that holds a pidfd of process `pid` (in `/proc/G/fdinfo`, `Pid: PID`): the
/// one that guards `pid`'s children. Fails if there is more than one, or none within the
/// watchdog: the guardian receives a child's registration (which carries the pidfd) on its
/// own time, so it may not hold it yet when the child is reported.
#[track_caller]
fn guardian_of(pid: i32) -> i32 {
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let found = guardians_of(pid);
        if found.len() == 1 || Instant::now() >= deadline {
            assert_eq!(found.len(), 1, "guardians of {pid}: {found:?}");
            return found[0];
        }
        assert!(found.is_empty(), "guardians of {pid}: {found:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every running `safe-exit-guard` that holds a pidfd of process `pid`.
fn guardians_of(pid: i32) -> Vec<i32> {
    let wanted = format!("Pid:\t{pid}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(g) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{g}/comm")).unwrap_or_default();
        if comm.trim_end() != GUARD {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{g}/fdinfo")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_to_string(fd.path())
                .unwrap_or_default()
                .lines()
                .any(|l| l == wanted)
        });
        if holds {
            found.push(g);
        }
    }
    found
}

/// What the guardian's descriptors refer to: `(fd, readlink)`, sorted.
fn descriptors(pid: i32) -> Vec<(i32, String)> {
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the guardian's /proc/PID/fd")
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

/// Waits (watchdog) until every process of `pids` has exited; returns how long that took.
#[track_caller]
fn wait_all_gone(pids: &[i32]) -> Duration {
    let started = Instant::now();
    for &pid in pids {
        wait_gone(pid);
    }
    started.elapsed()
}

/// SIGKILL to the parent: its children are gone at once, and the guardian, with nothing left
/// to guard and no parent left, exits too. The guardian is not the parent's child.
#[test]
fn children_die_when_the_parent_is_killed() {
    let mut p = parent(&[]);
    let children = run(&mut p, "spawn 3");
    assert_eq!(children.len(), 3);
    let _guard = KillOnDrop::new(&children);
    let g = guardian_of(p.pid());
    assert_ne!(
        parent_of(g),
        Some(p.pid()),
        "the guardian is the parent's child"
    );
    for &c in &children {
        assert!(!is_gone(c), "child {c} is not running");
    }
    p.signal(libc::SIGKILL);
    let took = wait_all_gone(&children);
    assert!(took < BOUND, "the children took {took:?} to die");
    wait_gone(g);
    p.finish().assert_signalled(libc::SIGKILL);
}

/// A child started from a thread that then exits lives on while the parent lives (the trap
/// of PR_SET_PDEATHSIG, which fires when the spawning *thread* exits), and dies with it.
#[test]
fn a_child_spawned_from_an_exited_thread_lives_while_the_parent_lives() {
    let mut p = parent(&[]);
    let children = run(&mut p, "thread-spawn");
    let _guard = KillOnDrop::new(&children);
    assert!(
        still_running_after(children[0], Duration::from_millis(500)),
        "the child died with the thread that started it"
    );
    p.signal(libc::SIGKILL);
    wait_all_gone(&children);
    p.finish().assert_signalled(libc::SIGKILL);
}

/// A parent that returns from `main`: its children are killed too.
#[test]
fn children_die_when_the_parent_exits_normally() {
    let mut p = parent(&[]);
    let children = run(&mut p, "spawn 2");
    let _guard = KillOnDrop::new(&children);
    p.close_stdin();
    p.finish().assert_code(0);
    let took = wait_all_gone(&children);
    assert!(took < BOUND, "the children took {took:?} to die");
}

/// A process forked without exec shares its parent's guardian, and its children are tied to
/// itself: they outlive the original parent while it lives, and die with it.
#[test]
fn a_child_of_a_forked_process_dies_with_that_process_not_its_parent() {
    let mut p = parent(&[]);
    let parents_children = run(&mut p, "spawn 1");
    let _guard = KillOnDrop::new(&parents_children);
    p.send_line("fork");
    let forked: i32 = p.expect_value("forked ");
    let forked = Pinned::new(forked).expect("the forked process runs");
    let child: i32 = p.expect_value("forked-child ");
    let _child_guard = KillOnDrop::new(&[child]);
    p.ready();
    assert_eq!(guardian_of(forked.pid()), guardian_of(p.pid()));

    p.signal(libc::SIGKILL);
    wait_all_gone(&parents_children);
    p.finish().assert_signalled(libc::SIGKILL);
    assert!(
        still_running_after(child, Duration::from_millis(300)),
        "the forked process's child died with the original parent"
    );

    forked.signal(libc::SIGKILL);
    let took = wait_all_gone(&[child]);
    assert!(took < BOUND, "the child took {took:?} to die");
}

/// The guardian holds none of its parent's descriptors (only `/dev/null`, its socket and
/// pidfds), runs in `/`, and does not keep the parent's stdout open: whoever reads it sees
/// its end as soon as the parent exits, while the guardian still runs (a process forked
/// without exec holds the other end of its socket). Once that process is gone too, the
/// guardian exits.
#[test]
fn the_guardian_holds_nothing_of_its_parent() {
    let mut cmd = command(bin!("parent"));
    cmd.stderr(Stdio::inherit());
    let mut p = cmd.spawn().expect("spawn parent");
    let _kill_parent = KillOnDrop::new(&[p.id() as i32]);
    let mut stdin = p.stdin.take().expect("stdin");
    let stdout = p.stdout.take().expect("stdout");
    // Each line, then None at the end of stdout.
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
    let next = || {
        lines
            .recv_timeout(WATCHDOG)
            .expect("the parent said nothing")
    };
    let mut send = |line: &str| {
        use std::io::Write;
        writeln!(stdin, "{line}").expect("write to the parent");
    };

    send("spawn 1");
    let child: i32 = next()
        .and_then(|l| l.strip_prefix("child ").map(str::to_owned))
        .expect("child PID")
        .parse()
        .unwrap();
    let _kill_child = KillOnDrop::new(&[child]);
    assert_eq!(next().as_deref(), Some("ready"));
    send("hold");
    let holder: i32 = next()
        .and_then(|l| l.strip_prefix("holder ").map(str::to_owned))
        .expect("holder PID")
        .parse()
        .unwrap();
    let holder = Pinned::new(holder).expect("the holder runs");
    assert_eq!(next().as_deref(), Some("ready"));

    let g = guardian_of(p.id() as i32);
    let fds = descriptors(g);
    for (fd, target) in &fds {
        let expected = match fd {
            0..=2 => target == "/dev/null",
            3 => target.starts_with("socket:"),
            // Its reserve descriptor, a copy of /dev/null; and pidfds.
            _ => target == "/dev/null" || target.contains("pidfd"),
        };
        assert!(expected, "guardian {g}: fd {fd} is {target}: {fds:?}");
    }
    let reserve = fds.iter().filter(|(fd, t)| *fd > 3 && t == "/dev/null");
    assert_eq!(reserve.count(), 1, "guardian {g}: {fds:?}");
    let cwd = std::fs::read_link(format!("/proc/{g}/cwd")).expect("the guardian's cwd");
    assert_eq!(cwd.to_str(), Some("/"));

    send("exit");
    let started = Instant::now();
    loop {
        match lines.recv_timeout(WATCHDOG) {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(_) => panic!("the parent's stdout did not end within {WATCHDOG:?}"),
        }
    }
    assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());
    assert!(p.wait().expect("wait").success());
    wait_gone(child);
    assert!(
        !is_gone(g),
        "the guardian exited while a process holds its socket"
    );

    holder.signal(libc::SIGKILL);
    wait_gone(g);
}

/// SIGINT to the parent's process group (a Ctrl-C in a terminal), and SIGINT, SIGTERM,
/// SIGHUP and SIGQUIT to the guardian itself, do not stop the guardian: it kills the
/// children (in process groups of their own, which the Ctrl-C does not reach) once the parent
/// is gone.
#[test]
fn the_guardian_survives_a_ctrl_c_and_termination_signals() {
    let mut p = parent(&[]);
    let children = run(&mut p, "spawn-group 2");
    let _guard = KillOnDrop::new(&children);
    let g = guardian_of(p.pid());
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: kill(2) on a positive pid: the guardian, which is running (it holds a pidfd
        // of the running parent, so it cannot have exited).
        assert_eq!(unsafe { libc::kill(g, sig) }, 0);
    }
    // The parent leads its process group (see `command`).
    // SAFETY: kill(2) on a negative pid: the parent's process group, which it leads.
    assert_eq!(unsafe { libc::kill(-p.pid(), libc::SIGINT) }, 0);
    p.finish().assert_signalled(libc::SIGINT);
    let took = wait_all_gone(&children);
    assert!(took < BOUND, "the children took {took:?} to die");
    wait_gone(g);
}

/// The guardian killed: a command configured before fails to spawn (`BrokenPipe`: never an
/// unguarded child in silence); the next `die_with_parent` starts a new guardian, which
/// guards both the new command and the old one.
#[test]
fn a_killed_guardian_is_replaced_by_the_next_die_with_parent() {
    let mut p = parent(&[]);
    let first = run(&mut p, "spawn 1");
    let _first_guard = KillOnDrop::new(&first);
    run(&mut p, "configure");
    let old = guardian_of(p.pid());
    let old_pidfd = Pinned::new(old).expect("the guardian runs");
    old_pidfd.signal(libc::SIGKILL);
    wait_gone(old);

    let error = run_one(&mut p, "spawn-configured", "error ");
    assert_eq!(error, format!("BrokenPipe {}", libc::EPIPE));

    let second = run(&mut p, "spawn 1");
    let _second_guard = KillOnDrop::new(&second);
    let new = guardian_of(p.pid());
    assert_ne!(new, old);
    let third = run(&mut p, "spawn-configured");
    let _third_guard = KillOnDrop::new(&third);

    p.signal(libc::SIGKILL);
    let took = wait_all_gone(&[second[0], third[0]]);
    assert!(took < BOUND, "the children took {took:?} to die");
    wait_gone(new);
}

/// 200 children started by 8 threads at once (the first calls race to start the guardian):
/// all of them die with the parent.
#[test]
fn many_children_from_many_threads_all_die_with_the_parent() {
    let mut p = parent(&[]);
    let children = run(&mut p, "threads 8 25");
    assert_eq!(children.len(), 200);
    let _guard = KillOnDrop::new(&children);
    p.signal(libc::SIGKILL);
    let took = wait_all_gone(&children);
    assert!(took < BOUND, "the children took {took:?} to die");
    p.finish().assert_signalled(libc::SIGKILL);
}

/// Children that exit by themselves are forgotten: the guardian closes their pidfds (and
/// their parent's) and holds only its own five descriptors again.
#[test]
fn children_that_exit_are_forgotten() {
    let mut p = parent(&[]);
    let alive = run(&mut p, "spawn 1");
    let _guard = KillOnDrop::new(&alive);
    let g = guardian_of(p.pid());
    run(&mut p, "spawn-true 50");
    // The kernel tells no one when another process closes a descriptor: look every
    // millisecond, up to the watchdog. Left: stdio, the socket, the reserve, and the live
    // child's pair.
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let fds = descriptors(g);
        if fds.len() == 7 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "guardian {g} still holds {fds:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    p.signal(libc::SIGKILL);
    wait_all_gone(&alive);
}

/// What the guardian may hold of its own at most, in every sense below (the parent of the
/// memory tests held 256 MiB when it started it).
const SMALL_KB: u64 = 16 << 10;

/// A process's memory (`/proc/PID/smaps_rollup`, `/proc/PID/status`), in kB.
#[derive(Debug)]
struct Memory {
    /// Resident, all told (`Rss`): its code, shared with the parent, included.
    rss: u64,
    /// Anonymous memory mapped, shared with the parent (copy-on-write) or not (`Anonymous`).
    anonymous: u64,
    /// Memory no other process maps (`Private_Clean` + `Private_Dirty`).
    private: u64,
    /// Page tables (`VmPTE`).
    page_tables: u64,
}

/// The memory of process `pid`.
#[track_caller]
fn memory_of(pid: i32) -> Memory {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/smaps_rollup: {e}"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    let kb = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} for {pid}:\n{text}"))
    };
    Memory {
        rss: kb(&rollup, "Rss"),
        anonymous: kb(&rollup, "Anonymous"),
        private: kb(&rollup, "Private_Clean") + kb(&rollup, "Private_Dirty"),
        page_tables: kb(&status, "VmPTE"),
    }
}

/// The parent `p` allocates 256 MiB and writes every page, starts its guardian with `start`
/// (a parent command that spawns one child), then writes every page again (so the guardian
/// would be left with each original page alone) and frees it: the guardian, which let go of
/// the parent's memory when it started, holds almost nothing. It still guards: the child
/// dies with the parent.
#[track_caller]
fn the_guardian_lets_go_of_the_memory(mut p: Child, start: &str) {
    run(&mut p, "grow 256");
    let children = run(&mut p, start);
    let _guard = KillOnDrop::new(&children);
    let g = guardian_of(p.pid());
    run(&mut p, "shrink");
    let memory = memory_of(g);
    let Memory {
        rss,
        anonymous,
        private,
        page_tables,
    } = memory;
    assert!(
        rss < SMALL_KB && anonymous < SMALL_KB && private < SMALL_KB && page_tables < SMALL_KB,
        "guardian {g} holds {memory:?} (kB)"
    );
    p.signal(libc::SIGKILL);
    let took = wait_all_gone(&children);
    assert!(took < BOUND, "the children took {took:?} to die");
    p.finish().assert_signalled(libc::SIGKILL);
    wait_gone(g);
}

/// A guardian started from the main thread of a parent that held 256 MiB (on its heap and in
/// a mapping of its own) keeps none of it.
#[test]
fn the_guardian_lets_go_of_the_parents_memory() {
    the_guardian_lets_go_of_the_memory(parent(&[]), "spawn 1");
}

/// The same, from a thread that then exits: the guardian runs on that thread's stack, with
/// its thread-local storage.
#[test]
fn the_guardian_started_from_a_thread_lets_go_of_the_parents_memory() {
    the_guardian_lets_go_of_the_memory(parent(&[]), "thread-spawn");
}

/// The same with the address space laid out without randomisation (`setarch -R`, as under a
/// debugger): the heap then grows from the end of the program's `.bss`, in one mapping, of
/// which the guardian keeps the `.bss` only.
#[test]
fn the_guardian_lets_go_of_a_heap_that_follows_the_programs_data() {
    /// `cmd`, started without address randomisation.
    fn not_randomised(mut cmd: Command) -> Command {
        // SAFETY: personality is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }
    // A seccomp profile (a container's) may refuse the personality.
    if let Err(e) = not_randomised(Command::new("true")).status() {
        safe_exit_tests::cannot_run(&format!("cannot turn address randomisation off: {e}"));
        return;
    }
    let mut p = Child::from_command(not_randomised(command(bin!("parent"))));
    run(&mut p, "grow 1");
    // The case at hand: the heap starts where a mapping of the program's file ends (with
    // glibc; the kernel puts the heap of a static PIE program, such as a musl one, elsewhere).
    #[cfg(target_env = "gnu")]
    {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", p.pid())).expect("maps");
        let lines: Vec<&str> = maps.lines().collect();
        let heap = lines
            .iter()
            .position(|l| l.ends_with("[heap]"))
            .unwrap_or_else(|| panic!("no heap:\n{maps}"));
        let start = |l: &str| l.split('-').next().map(str::to_owned);
        let end = |l: &str| l.split(['-', ' ']).nth(1).map(str::to_owned);
        assert!(
            heap > 0 && lines[heap - 1].contains('/') && end(lines[heap - 1]) == start(lines[heap]),
            "the heap does not follow the program's data:\n{maps}"
        );
    }
    the_guardian_lets_go_of_the_memory(p, "spawn 1");
}

/// Without pidfds (Linux before 5.3; here a seccomp filter): the spawn fails with
/// `Unsupported` and the reason is on stderr, never a child left unguarded in silence.
#[test]
fn without_pidfds_the_spawn_fails_as_unsupported() {
    let mut p = parent(&["--deny-pidfd"]);
    let error = run_one(&mut p, "spawn 1", "error ");
    assert_eq!(error, format!("Unsupported {}", libc::ENOSYS));
    p.close_stdin();
    let done = p.finish();
    done.assert_code(0);
    assert!(
        done.stderr.contains("die_with_parent needs pidfds"),
        "{done}"
    );
}

/// std's `exec` without a fork: there is no parent to die with, so it fails (`EINVAL`).
#[test]
fn exec_in_place_is_refused() {
    let mut p = parent(&[]);
    let error = run_one(&mut p, "exec-in-place", "error ");
    assert_eq!(error, format!("InvalidInput {}", libc::EINVAL));
    p.close_stdin();
    p.finish().assert_code(0);
}

/// Sends `line` to the parent and collects, until its `ready`, the pids it reports (`child
/// PID`) and the error numbers of the spawns that failed (`error KIND ERRNO`).
fn run_mixed(parent: &mut Child, line: &str) -> (Vec<i32>, Vec<i32>) {
    parent.send_line(line);
    let (mut pids, mut errors) = (Vec::new(), Vec::new());
    loop {
        let answer = parent.expect_line("");
        if answer == "ready" {
            return (pids, errors);
        }
        if let Some(pid) = answer.strip_prefix("child ") {
            pids.push(pid.parse().expect("a pid"));
        } else if let Some(error) = answer.strip_prefix("error ") {
            let errno = error.rsplit(' ').next().and_then(|e| e.parse().ok());
            errors.push(errno.unwrap_or_else(|| panic!("{line}: bad error {answer:?}")));
        } else {
            panic!("{line}: unexpected answer {answer:?}");
        }
    }
}

/// A guardian out of descriptors (it inherited a limit of 16 that it cannot raise: room for
/// a handful of children) takes on no more children, and says so: the spawns it refuses fail
/// (`EMFILE`) instead of starting children that nothing guards. Every child that did start
/// dies with the parent.
#[test]
fn a_child_the_guardian_has_no_room_for_fails_to_spawn() {
    let mut p = parent(&[]);
    run(&mut p, "limit-fds 16");
    let (children, errors) = run_mixed(&mut p, "spawn 10");
    let _guard = KillOnDrop::new(&children);
    assert!(!children.is_empty(), "no child started: {errors:?}");
    p.signal(libc::SIGKILL);
    let took = wait_all_gone(&children);
    assert!(took < BOUND, "the children took {took:?} to die");
    p.finish().assert_signalled(libc::SIGKILL);
    assert!(
        !errors.is_empty(),
        "all {} spawns succeeded past the guardian's descriptor limit",
        children.len()
    );
    assert!(
        errors.iter().all(|&e| e == libc::EMFILE),
        "errors {errors:?}"
    );
}

/// A process forked without exec that closes the guardian's socket it inherited (a daemon's
/// descriptor hygiene) and gets a socket of its own on that number: its `die_with_parent`
/// does not send the registration to its own socket, but to a guardian (a new one), and its
/// child dies with it.
#[test]
fn a_socket_of_the_programs_on_the_guardians_number_is_left_alone() {
    let mut p = parent(&[]);
    let first = run(&mut p, "spawn 1");
    let _first_guard = KillOnDrop::new(&first);
    p.send_line("fork-reuse");
    let forked: i32 = p.expect_value("forked ");
    let forked = Pinned::new(forked).expect("the forked process runs");
    let child: i32 = p.expect_value("forked-child ");
    let _child_guard = KillOnDrop::new(&[child]);
    let received: usize = p.expect_value("peer-received ");
    p.ready();
    assert_eq!(received, 0, "the program's own socket got the registration");
    assert!(!is_gone(first[0]), "the parent's child died");

    forked.signal(libc::SIGKILL);
    let took = wait_all_gone(&[child]);
    assert!(took < BOUND, "the child took {took:?} to die");
    p.signal(libc::SIGKILL);
    wait_all_gone(&first);
}

/// A parent that closes the pidfds of safe-exit's it holds and gets a regular file on those
/// numbers (which polls readable, as the pidfd of a process that has exited does): a command
/// configured before fails to spawn (`EBADF`) rather than trust the file; the next
/// `die_with_parent` starts a new guardian, its child is not killed at once, the command
/// configured before spawns again, and both children die with the parent.
#[test]
fn a_file_on_a_pidfds_number_does_not_kill_the_child() {
    let mut p = parent(&[]);
    let first = run(&mut p, "spawn 1");
    let _first_guard = KillOnDrop::new(&first);
    run(&mut p, "configure");
    let reused: usize = run_one(&mut p, "reuse-pidfds", "reused ")
        .parse()
        .expect("a count");
    assert!(reused >= 1, "the parent holds no pidfd");
    let error = run_one(&mut p, "spawn-configured", "error ");
    assert!(error.ends_with(&format!(" {}", libc::EBADF)), "{error}");

    let second = run(&mut p, "spawn 1");
    let _second_guard = KillOnDrop::new(&second);
    let third = run(&mut p, "spawn-configured");
    let _third_guard = KillOnDrop::new(&third);
    assert!(
        still_running_after(second[0], Duration::from_millis(300)),
        "the child was killed at once"
    );
    assert!(
        !is_gone(third[0]),
        "the configured command's child was killed"
    );
    p.signal(libc::SIGKILL);
    let took = wait_all_gone(&[first[0], second[0], third[0]]);
    assert!(took < BOUND, "the children took {took:?} to die");
    p.finish().assert_signalled(libc::SIGKILL);
}

/// The children of `parent` (`/proc/PID/stat`) that hold the socket `socket` (a
/// `socket:[INODE]` link).
fn holders_of(parent: i32, socket: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if parent_of(pid) != Some(parent) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == socket))
        {
            found.push(pid);
        }
    }
    found
}

/// A process forked without exec by another thread while the first `die_with_parent` starts
/// the guardian holds the guardian's end of its socket for as long as it lives. The guardian
/// killed, its death is still noticed: the next `die_with_parent` starts a new one, and the
/// child dies with the parent.
#[test]
fn a_dead_guardian_is_noticed_while_a_fork_holds_its_socket() {
    /// How many times the parent starts again when no forked process caught the socket.
    const ATTEMPTS: usize = 10;
    for attempt in 1..=ATTEMPTS {
        let mut p = parent(&[]);
        p.send_line("storm-spawn");
        let first: i32 = p.expect_value("child ");
        let _first_guard = KillOnDrop::new(&[first]);
        let workers: usize = p.expect_value("workers ");
        p.ready();
        let g = guardian_of(p.pid());
        let socket = std::fs::read_link(format!("/proc/{g}/fd/3")).expect("the guardian's socket");
        let socket = socket.to_string_lossy().into_owned();
        assert!(socket.starts_with("socket:"), "{socket}");
        if holders_of(p.pid(), &socket).is_empty() {
            eprintln!("attempt {attempt}: none of {workers} forked processes holds {socket}");
            assert!(
                attempt < ATTEMPTS,
                "no forked process caught the guardian's socket"
            );
            continue;
        }
        let old = Pinned::new(g).expect("the guardian runs");
        old.signal(libc::SIGKILL);
        wait_gone(g);

        let second = run(&mut p, "spawn 1");
        let _second_guard = KillOnDrop::new(&second);
        let new = guardian_of(p.pid());
        assert_ne!(new, g);
        p.signal(libc::SIGKILL);
        let took = wait_all_gone(&second);
        assert!(took < BOUND, "the child took {took:?} to die");
        p.finish().assert_signalled(libc::SIGKILL);
        return;
    }
}
