//! Thread ids are not processes. On Linux a thread id (`gettid`) comes from the pid number
//! space and `kill(tid)` signals the thread's whole process: safe_kill of one of the caller's
//! own threads would end the caller. Refused, like the caller's own pid, on every path: with
//! pidfds and with the `kill` + polling fallback (`--no-pidfd`: a seccomp filter makes
//! `pidfd_open` fail with `ENOSYS`, as on kernels before 5.3), one pid or a batch, group mode
//! too. A thread of another process is refused as well ("a thread of process N, not a
//! process"), and that process is not signalled.
//!
//! Each case runs in `kill_validate`, in its own session, beside a sentinel that records any
//! signal it receives; the caller prints `survived` if it is still alive after the calls.

use safe_exit_tests::{bin, Child, Finished};

use crate::common::kill_validate_in_session;

/// The two ways to run the caller: with pidfds, and without.
const PATHS: [&[&str]; 2] = [&[], &["--no-pidfd"]];

/// Runs `kill_validate PATH... ARGS...` in its own session; it must survive, print its results,
/// and the sentinel must be clean.
fn validate(path: &[&str], args: &[&str]) -> Finished {
    let mut child = kill_validate_in_session(&[path, args].concat());
    child.ready();
    let done = child.finish();
    done.assert_code(0);
    assert_eq!(
        done.count("survived"),
        1,
        "the caller did not survive:\n{done}"
    );
    assert_eq!(done.count("sentinel clean"), 1, "{done}");
    assert_eq!(done.count("done"), 1, "{done}");
    if !path.is_empty() {
        assert_eq!(done.count("pidfd unavailable"), 1, "{done}");
    }
    done
}

/// The result lines, in order, without their `result PID: ` prefix.
fn results(done: &Finished) -> Vec<&str> {
    done.stdout
        .iter()
        .filter_map(|l| l.strip_prefix("result "))
        .map(|l| l.split_once(": ").expect("result PID: ...").1)
        .collect()
}

#[test]
fn our_own_thread_is_refused_with_pidfds() {
    let done = validate(PATHS[0], &["thread"]);
    let r = results(&done);
    assert_eq!(r.len(), 1, "{done}");
    assert!(
        r[0].starts_with("err OwnThread: refusing to signal pid ")
            && r[0].contains("that is a thread of this process"),
        "{done}"
    );
}

/// Before the fix, `kill(tid, SIGTERM)` ended the caller here.
#[test]
fn our_own_thread_is_refused_without_pidfds() {
    let done = validate(PATHS[1], &["thread"]);
    let r = results(&done);
    assert_eq!(r.len(), 1, "{done}");
    assert!(r[0].starts_with("err OwnThread: "), "{done}");
}

/// In a batch (safe_kill_all: nothing else is signalled either) and in group mode.
#[test]
fn our_own_thread_is_refused_in_a_batch_and_in_group_mode() {
    for path in PATHS {
        let done = validate(path, &["thread", "sentinel"]);
        let r = results(&done);
        assert!(r[0].starts_with("err OwnThread: "), "{done}");
        assert!(r[1].starts_with("err NotAttempted: "), "{done}");

        let done = validate(path, &["--group", "thread"]);
        assert!(results(&done)[0].starts_with("err OwnThread: "), "{done}");
    }
}

/// A thread of another process: refused with "a thread of process N, not a process", and
/// that process gets nothing (it would report SIGTERM and SIGCONT if they arrived), on both
/// paths, alone, in a batch and in group mode. (kill(2) would signal the whole process;
/// before the fix the pidfd path failed with an obscure EINVAL from pidfd_open, and the
/// fallback path signalled the process.)
#[test]
fn a_thread_of_another_process_is_not_a_process() {
    let mut target = Child::spawn(
        bin!("kill_target"),
        &["--report", "15", "--report", "18", "--thread"],
    );
    let tid: String = target.expect_value("thread ");
    target.ready();
    let pid = target.pid();
    assert_ne!(tid, pid.to_string());
    for path in PATHS {
        for args in [&[&tid[..]][..], &["--group", &tid], &[&tid, "sentinel"]] {
            let done = validate(path, args);
            let r = results(&done);
            assert!(
                r[0].starts_with(&format!(
                    "err NotAProcess: refusing to signal pid {tid}: it is a thread of process \
                     {pid}, not a process"
                )),
                "{path:?} {args:?}:\n{done}"
            );
            assert!(r[0].contains(&format!("pass {pid} to end")), "{done}");
            if args.len() == 2 && args[1] == "sentinel" {
                assert!(r[1].starts_with("err NotAttempted: "), "{done}");
            }
        }
    }
    assert!(target.is_running());
    target.signal(libc::SIGKILL);
    let done = target.finish();
    assert!(
        done.starting_with("got").is_empty(),
        "the thread's process was signalled: {done}"
    );
}

/// The same target's own pid is still a process: the check does not refuse real processes.
#[test]
fn a_process_with_threads_is_still_a_process() {
    for path in PATHS {
        let mut target = Child::spawn(bin!("kill_target"), &["--exit-on", "15", "--thread"]);
        target.expect_line("thread ");
        target.ready();
        let pid = target.pid().to_string();
        let done = validate(path, &[&pid]);
        assert_eq!(results(&done), ["ok exited"], "{path:?}:\n{done}");
        target.finish().assert_code(0);
    }
}
