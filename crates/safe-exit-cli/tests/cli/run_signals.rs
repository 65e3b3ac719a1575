//! `safe-exit run` passes the signals it gets on to COMMAND's process group (`--no-group`:
//! to COMMAND alone); TERM, INT and QUIT (as `--stop-signal` if given) start the grace
//! period, then SIGKILL; the wrapper exits as soon as everything is gone.
//!
//! Most of these start the wrapper with every signal blocked: COMMAND (a shell) and the
//! `sleep` it starts in its group inherit that mask, so neither acts on a signal and each
//! records what it was sent (see `common::run_blocked`).

use std::time::{Duration, Instant};

use safe_exit_tests::{is_gone, still_running_after, Child, KillOnDrop};

use crate::common::{
    finish, finish_within, is_pending, lines, run, run_blocked, wait_pending, KillTreeOnDrop,
};

/// COMMAND: a shell that starts a member of its group (a background job: the member says
/// `member PID` once it is set up, since dash makes a background job ignore INT and QUIT
/// after forking it, which would discard one already pending), says `ready PID` (its own),
/// and waits.
const WITH_MEMBER: &str = "sh -c 'echo member $$; exec sleep 1000' & echo ready $$; wait";

/// Starts a blocked wrapper (`run_blocked`) over [`WITH_MEMBER`]; the wrapper, COMMAND's pid,
/// its group member's pid, and what kills all of them if the test fails.
fn blocked_with_member(options: &[&str]) -> (Child, i32, i32, KillOnDrop) {
    let mut args = options.to_vec();
    args.extend(["--", "sh", "-c", WITH_MEMBER]);
    let mut wrapper = run_blocked(&args);
    // The two lines come in either order.
    let (mut command, mut member) = (None, None);
    while command.is_none() || member.is_none() {
        let line = wrapper.expect_line("");
        if let Some(pid) = line.strip_prefix("member ") {
            member = pid.parse().ok();
        } else if let Some(pid) = line.strip_prefix("ready ") {
            command = pid.parse().ok();
        }
    }
    let (command, member) = (command.unwrap(), member.unwrap());
    (
        wrapper,
        command,
        member,
        KillOnDrop::new(&[command, member]),
    )
}

/// HUP, USR1, USR2, WINCH, ALRM, a real-time signal and CONT reach COMMAND and its group
/// member; none of them starts a grace period (the wrapper is still there well after it
/// would have ended); TERM then does, and at its end SIGKILL ends everything: status 137,
/// one line on stderr.
#[test]
fn signals_go_to_the_group_and_only_termination_starts_the_grace_period() {
    let (wrapper, command, member, _guard) = blocked_with_member(&["--grace", "300ms"]);
    for sig in [
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGALRM,
        libc::SIGRTMIN() + 2,
        libc::SIGCONT,
    ] {
        wrapper.signal(sig);
        wait_pending(command, sig);
        wait_pending(member, sig);
    }
    assert!(!is_pending(command, libc::SIGTERM));
    // Three grace periods: no deadline was started.
    assert!(still_running_after(
        wrapper.pid(),
        Duration::from_millis(900)
    ));

    let sent = Instant::now();
    wrapper.signal(libc::SIGTERM);
    wait_pending(command, libc::SIGTERM);
    wait_pending(member, libc::SIGTERM);
    let done = finish(wrapper);
    let took = sent.elapsed();
    done.assert_code(137);
    assert!(took >= Duration::from_millis(300), "SIGKILL after {took:?}");
    let err = lines(&done.stderr);
    assert_eq!(
        err,
        ["safe-exit: sh still running 300ms after SIGTERM: killed it and what it started with SIGKILL"],
        "{done}"
    );
    assert!(is_gone(member), "the group member survived");
}

/// `--stop-signal` turns TERM, INT and QUIT into that signal (followed by SIGCONT), for
/// COMMAND's whole group; the grace period then runs as for TERM.
#[test]
fn stop_signal_translates_term_int_and_quit() {
    for received in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT] {
        let (wrapper, command, member, _guard) =
            blocked_with_member(&["--stop-signal", "USR2", "--grace", "200ms"]);
        wrapper.signal(received);
        for pid in [command, member] {
            wait_pending(pid, libc::SIGUSR2);
            wait_pending(pid, libc::SIGCONT);
            assert!(
                !is_pending(pid, received),
                "signal {received} was passed on"
            );
        }
        let done = finish(wrapper);
        done.assert_code(137);
        assert!(
            done.stderr.contains("still running 200ms after SIGUSR2"),
            "{done}"
        );
    }
}

/// `--no-group`: signals go to COMMAND alone, never to the rest of its group; at the end of
/// the grace period SIGKILL still goes to all of it.
#[test]
fn no_group_signals_the_command_alone() {
    let (wrapper, command, member, _guard) =
        blocked_with_member(&["--no-group", "--grace", "300ms"]);
    for sig in [libc::SIGHUP, libc::SIGUSR1, libc::SIGTERM] {
        wrapper.signal(sig);
        wait_pending(command, sig);
        // One kill(2) to COMMAND, which has it: the member would have it by now.
        assert!(!is_pending(member, sig), "signal {sig} reached the member");
    }
    let done = finish(wrapper);
    done.assert_code(137);
    assert!(is_gone(member), "the group member survived the deadline");
}

/// A COMMAND that ends on the termination signal ends the wrapper at once, with its status,
/// never after the grace period (30 s here). The same for INT and QUIT.
#[test]
fn the_wrapper_exits_as_soon_as_the_command_has_ended() {
    for (sig, status) in [
        (libc::SIGTERM, 143),
        (libc::SIGINT, 130),
        (libc::SIGQUIT, 131),
    ] {
        let mut wrapper = run(&[
            "--grace",
            "30s",
            "--",
            "sh",
            "-c",
            "sleep 1000 & echo ready; wait",
        ]);
        let _tree = KillTreeOnDrop::new(wrapper.pid());
        wrapper.ready();
        let sent = Instant::now();
        wrapper.signal(sig);
        let done = finish_within(wrapper, Duration::from_secs(10));
        done.assert_code(status);
        assert!(sent.elapsed() < Duration::from_secs(10));
        assert_eq!(done.stderr, "", "{done}");
    }
}

/// A COMMAND that ignores TERM gets SIGKILL when the grace period is over, and not before;
/// the wrapper then exits at once with 137.
#[test]
fn a_command_that_ignores_term_is_killed_after_the_grace_period() {
    let mut wrapper = run(&[
        "--grace",
        "300ms",
        "--",
        "sh",
        "-c",
        "trap '' TERM; echo ready; exec sleep 1000",
    ]);
    let _tree = KillTreeOnDrop::new(wrapper.pid());
    wrapper.ready();
    let sent = Instant::now();
    wrapper.signal(libc::SIGTERM);
    assert!(still_running_after(
        wrapper.pid(),
        Duration::from_millis(200)
    ));
    let done = finish(wrapper);
    let took = sent.elapsed();
    done.assert_code(137);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        lines(&done.stderr),
        ["safe-exit: sh still running 300ms after SIGTERM: killed it and what it started with SIGKILL"]
    );
}

/// A second termination signal is passed on too, but does not move the deadline.
#[test]
fn a_second_termination_signal_keeps_the_first_deadline() {
    let (wrapper, command, member, _guard) = blocked_with_member(&["--grace", "400ms"]);
    let sent = Instant::now();
    wrapper.signal(libc::SIGTERM);
    wait_pending(command, libc::SIGTERM);
    wrapper.signal(libc::SIGINT);
    wait_pending(command, libc::SIGINT);
    wait_pending(member, libc::SIGINT);
    let done = finish(wrapper);
    let took = sent.elapsed();
    done.assert_code(137);
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(
        done.stderr.contains("400ms after SIGTERM"),
        "the first signal started the grace period: {done}"
    );
}
