//! When COMMAND exits while processes it started still run, in its group or detached from it
//! (`setsid`, a double fork), `safe-exit run` stops them as it stops COMMAND (stop signal,
//! grace period, SIGKILL) and only then exits, with COMMAND's status. It is their subreaper:
//! orphans become its children.

use std::time::{Duration, Instant};

use safe_exit_tests::{is_gone, parent_of, Child, KillOnDrop};

use safe_exit_tests::still_running_after;

use crate::common::{
    finish, finish_within, is_pending, lines, run, run_blocked, wait_pending, wait_start_tick_over,
    wait_until, KillTreeOnDrop, TempDir,
};

/// COMMAND: a shell that starts `sleep` in a session of its own (`away`) and another in its
/// own group (`member`), says so and `ready`, and exits 3 once its stdin closes.
const LEAVES_TWO: &str = "setsid sleep 1000 & echo away $!; sleep 1000 & echo member $!; \
                          echo ready; read x; exit 3";

/// Reads the `away` and `member` pids and the `ready` line of a wrapper over
/// [`LEAVES_TWO`], and waits until both run `sleep` (dash sets a background job's signals up
/// after forking it: making it ignore INT then would discard an INT already pending); both
/// are pinned, to be killed if the test fails.
fn two_left(wrapper: &mut Child) -> (i32, i32, KillOnDrop) {
    let away = wrapper.expect_value("away ");
    let member = wrapper.expect_value("member ");
    wrapper.ready();
    let guard = KillOnDrop::new(&[away, member]);
    for pid in [away, member] {
        wait_until("sleep to run", || {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
        });
    }
    (away, member, guard)
}

/// Processes that ignore the stop signal (here: block every signal) get it, then SIGKILL
/// once the grace period is over; the wrapper then exits with COMMAND's status, 3, and says
/// on stderr what it killed.
#[test]
fn leftovers_get_the_stop_signal_then_sigkill_and_the_status_is_the_commands() {
    let mut wrapper = run_blocked(&["--grace", "1s", "--", "sh", "-c", LEAVES_TWO]);
    let _tree = KillTreeOnDrop::new(wrapper.pid());
    let (away, member, _guard) = two_left(&mut wrapper);
    // SAFETY: getsid only reads.
    let session = unsafe { libc::getsid(away) };
    assert_eq!(session, away, "away leads a session of its own");
    let exited = Instant::now();
    wrapper.close_stdin();
    for pid in [away, member] {
        wait_pending(pid, libc::SIGTERM);
        wait_pending(pid, libc::SIGCONT);
    }
    let done = finish(wrapper);
    let took = exited.elapsed();
    done.assert_code(3);
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert_eq!(
        lines(&done.stderr),
        ["safe-exit: 2 process(es) left by sh still running 1s after SIGTERM: killed with SIGKILL"],
        "{done}"
    );
    assert!(is_gone(away) && is_gone(member));
}

/// Processes that end on the stop signal end the wrapper at once (not after the 30 s grace
/// period), with COMMAND's status and nothing on stderr.
#[test]
fn polite_leftovers_end_the_wrapper_at_once() {
    let mut wrapper = run(&["--grace", "30s", "--", "sh", "-c", LEAVES_TWO]);
    let _tree = KillTreeOnDrop::new(wrapper.pid());
    let (away, member, _guard) = two_left(&mut wrapper);
    wrapper.close_stdin();
    let done = finish_within(wrapper, Duration::from_secs(10));
    done.assert_code(3);
    assert_eq!(done.stderr, "", "{done}");
    assert!(is_gone(away) && is_gone(member));
}

/// What COMMAND leaves gets `--stop-signal`, not TERM.
#[test]
fn leftovers_get_the_stop_signal_given() {
    let mut wrapper = run_blocked(&[
        "--stop-signal",
        "INT",
        "--grace",
        "200ms",
        "--",
        "sh",
        "-c",
        LEAVES_TWO,
    ]);
    let _tree = KillTreeOnDrop::new(wrapper.pid());
    let (away, member, _guard) = two_left(&mut wrapper);
    wrapper.close_stdin();
    for pid in [away, member] {
        wait_pending(pid, libc::SIGINT);
        assert!(!is_pending(pid, libc::SIGTERM));
    }
    finish(wrapper).assert_code(3);
}

/// A daemon (double fork: its parent exits at once) is reparented to the wrapper, its
/// subreaper, not to init; when COMMAND exits it is stopped too.
#[test]
fn a_double_forked_daemon_is_the_wrappers_to_stop() {
    let mut wrapper = run(&[
        "--",
        "sh",
        "-c",
        "(setsid sleep 1000 & echo daemon $!); echo ready; read x; exit 0",
    ]);
    let _tree = KillTreeOnDrop::new(wrapper.pid());
    let daemon = wrapper.expect_value("daemon ");
    let _guard = KillOnDrop::new(&[daemon]);
    wrapper.ready();
    // The subshell that started it has exited (the `ready` line comes after it).
    assert_eq!(
        parent_of(daemon),
        Some(wrapper.pid()),
        "not reparented to the wrapper"
    );
    wrapper.close_stdin();
    finish(wrapper).assert_code(0);
    assert!(is_gone(daemon));
}

/// Orphans that exit are reaped at once: no zombie is left while COMMAND runs (COMMAND looks
/// in `/proc` until each orphan's entry is gone; a zombie keeps it).
#[test]
fn orphans_are_reaped_while_the_command_runs() {
    let done = run(&["--", "sh", "-c", REAPS_ORPHANS]).finish();
    done.assert_code(0);
    assert_eq!(done.starting_with("reaped ").len(), 3, "{done}");
}

/// A shell script that makes three orphans which exit at once (`sh -c 'true & echo $!'`:
/// the command substitution returns once `true` has exited, since it holds the pipe), waits
/// until `/proc` no longer shows each (at once, normally; it looks every 2 ms and gives up
/// with status 9 after 5000 looks, so that a failure ends it too), and says `reaped PID`. Its
/// parent is printed first.
pub(crate) const REAPS_ORPHANS: &str = "echo parent $PPID; \
    for i in 1 2 3; do \
      o=$(sh -c 'true & echo $!'); n=0; \
      while [ -e /proc/$o ]; do \
        n=$((n + 1)); [ $n -lt 5000 ] || exit 9; sleep 0.002; \
      done; \
      echo reaped $o; \
    done";

/// A shell's background job ignores INT: after an INT to the group has ended COMMAND, the
/// job still gets the stop signal, TERM (it never had it), and ends: the wrapper does not
/// wait for the grace period.
#[test]
fn a_group_member_that_ignored_int_still_gets_term() {
    let mut wrapper = run(&[
        "--grace",
        "30s",
        "--",
        "sh",
        "-c",
        "sleep 1000 & echo member $!; echo ready; wait",
    ]);
    let _tree = KillTreeOnDrop::new(wrapper.pid());
    let member = wrapper.expect_value("member ");
    let _guard = KillOnDrop::new(&[member]);
    wrapper.ready();
    wrapper.signal(libc::SIGINT);
    let done = finish_within(wrapper, Duration::from_secs(10));
    done.assert_code(130);
    assert!(is_gone(member));
}

/// A member of COMMAND's group that cleans up when TERM comes (here: until the test lets it
/// finish, through a FIFO) outlives COMMAND, which ends at once: the wrapper waits for it
/// without sending it TERM again (its trap runs once, its FIFO is not interrupted), and exits
/// as soon as it has finished, with COMMAND's status. What the member started (its `sleep`)
/// is stopped too.
#[test]
fn a_member_cleaning_up_after_term_is_waited_for() {
    let dir = TempDir::new("fifo");
    let fifo = dir.0.join("go");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    // The `sleep` is started before the trap is set: a child forked after it runs the
    // shell's handler until it execs, and a TERM that came just then would be lost.
    let member = format!(
        "sh -c 'sleep 1000 & trap \"echo cleaning; read x < {}; echo cleaned; exit 0\" TERM; \
         echo member $$; wait'",
        fifo.display()
    );
    let mut wrapper = run(&[
        "--grace",
        "30s",
        "--",
        "sh",
        "-c",
        &format!("{member} & wait"),
    ]);
    let _tree = KillTreeOnDrop::new(wrapper.pid());
    let pid = wrapper.expect_value("member ");
    let _guard = KillOnDrop::new(&[pid]);
    // Known by start time to have been in the group when TERM went to it.
    wait_start_tick_over(pid);
    wrapper.signal(libc::SIGTERM);
    wrapper.expect_line("cleaning");
    assert!(still_running_after(
        wrapper.pid(),
        Duration::from_millis(300)
    ));
    std::fs::write(&fifo, "go\n").expect("write to the FIFO");
    let done = finish_within(wrapper, Duration::from_secs(10));
    done.assert_code(143);
    done.assert_once("cleaning");
    done.assert_once("cleaned");
    assert_eq!(done.stderr, "", "{done}");
}

/// A leftover whose main thread has exited while another thread runs (`pthread_exit`: its
/// `/proc` state is `Z`, yet it runs) is still a leftover: it gets the stop signal, ends, and
/// the wrapper exits with COMMAND's status instead of waiting for it for ever. (The program is
/// Python calling `pthread_exit` from its main thread through ctypes.)
#[test]
fn a_leftover_whose_main_thread_exited_is_still_stopped() {
    const HALF_DEAD: &str = "import ctypes, threading, time\n\
                             threading.Thread(target=lambda: time.sleep(3600)).start()\n\
                             print('ready', flush=True)\n\
                             ctypes.CDLL(None).pthread_exit(None)\n";
    let script = format!(
        "python3 -c \"{HALF_DEAD}\" & echo left $!; read x; \
         while [ \"$(cut -d' ' -f3 /proc/$!/stat)\" != Z ]; do sleep 0.01; done; exit 6"
    );
    let mut wrapper = run(&["--grace", "30s", "--", "sh", "-c", &script]);
    let _tree = KillTreeOnDrop::new(wrapper.pid());
    let left: i32 = wrapper.expect_value("left ");
    let _guard = KillOnDrop::new(&[left]);
    wrapper.ready();
    wrapper.close_stdin();
    // Far within the 30 s grace period: the TERM reached it.
    let done = finish(wrapper);
    done.assert_code(6);
    assert!(is_gone(left), "the half-dead leftover still runs");
}
