//! Zombies and reaping (issue 3, point 4): an exited, unreaped target counts as `Exited` at
//! once, and safe_kill never reaps, so a caller's own child keeps its exit status.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use safe_exit::{safe_kill, KillOutcome};
use safe_exit_tests::{bin, wait_gone, Child, KillOnDrop, WATCHDOG};

/// Our own child that has exited but that we have not reaped: `Exited` at once (not after
/// the 4 s deadline), and its exit code is still ours to collect.
#[test]
fn our_own_zombie_child_is_exited_at_once_and_not_reaped() {
    let mut child = Child::spawn(bin!("kill_target"), &["--exit-on", "10"]);
    child.ready();
    child.signal(libc::SIGUSR1); // it exits with code 0 by itself
    wait_gone(child.pid());
    let started = Instant::now();
    assert_eq!(safe_kill(child.pid() as u32).unwrap(), KillOutcome::Exited);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited for the deadline"
    );
    // Not reaped by safe_kill: we still get its real exit status.
    child.finish().assert_code(0);
}

/// A zombie that is someone else's child (its parent does not reap it): `Exited` at once.
#[test]
fn another_process_zombie_child_is_exited() {
    let mut parent = Child::spawn(bin!("kill_target"), &["--zombie"]);
    let zombie: u32 = parent.expect_value("zombie ");
    parent.ready();
    let started = Instant::now();
    assert_eq!(safe_kill(zombie).unwrap(), KillOutcome::Exited);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited for the deadline"
    );
    // Still a zombie: safe_kill did not (and could not) reap it.
    let stat = std::fs::read_to_string(format!("/proc/{zombie}/stat")).unwrap();
    assert!(stat.contains(") Z "), "not a zombie any more: {stat}");
}

/// A `std::process::Child` of the caller: after safe_kill its `wait()` reports SIGTERM
/// (psutil reaps it, and `Popen.wait()` then reports 0).
#[test]
fn a_killed_child_still_reports_sigterm_to_its_parent() {
    let mut child = Command::new(bin!("kill_target"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _guard = KillOnDrop::new(&[child.id() as i32]);
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    // The read has the harness's deadline: a child that never says ready fails the test.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut out, &mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(WATCHDOG).expect("the child said nothing");
    assert!(line.starts_with("ready"), "{line}");
    assert_eq!(safe_kill(child.id()).unwrap(), KillOutcome::Exited);
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

/// The same after SIGKILL: the parent sees signal 9.
#[test]
fn a_forced_child_still_reports_sigkill_to_its_parent() {
    let mut child = Child::spawn(bin!("kill_target"), &["--ignore", "15"]);
    child.ready();
    let opts = safe_exit::KillOptions::new().timeout(Duration::from_millis(50));
    assert_eq!(
        safe_exit::safe_kill_with(child.pid() as u32, &opts).unwrap(),
        KillOutcome::Killed
    );
    child.finish().assert_signalled(libc::SIGKILL);
}
