//! Bad pids and requests are refused with clear errors before anything is sent; a process
//! that cannot be asked (no window, no console) is left alone.

use safe_exit::{safe_kill, safe_kill_all, safe_kill_with, KillError, KillOptions, KillOutcome};
use safe_exit_wintests::{bin, serial, Child, CREATE_NEW_CONSOLE, DETACHED_PROCESS};

#[test]
fn pid_zero_and_our_own_pid_are_refused() {
    let e = safe_kill(0).unwrap_err();
    assert!(matches!(e, KillError::InvalidPid { pid: 0, .. }), "{e}");
    let me = std::process::id();
    let e = safe_kill(me).unwrap_err();
    assert!(matches!(e, KillError::SelfTarget { .. }), "{e}");
    assert!(e.to_string().contains(&me.to_string()), "{e}");
}

#[test]
fn a_pid_that_does_not_exist_is_not_running() {
    // Windows process ids are multiples of 4 far below this.
    assert_eq!(safe_kill(0x7fff_fff0).unwrap(), KillOutcome::NotRunning);
}

#[test]
fn signals_without_a_windows_equivalent_and_group_mode_are_refused() {
    serial(|| {
        let mut child = Child::spawn(bin!("stubborn"), &[], CREATE_NEW_CONSOLE);
        child.ready();
        for sig in [0, 3, 4, 18, 19, 23] {
            let e = safe_kill_with(child.pid(), &KillOptions::new().signal(sig)).unwrap_err();
            assert!(
                matches!(e, KillError::InvalidSignal { signal, .. } if signal == sig),
                "{sig}: {e}"
            );
        }
        let e = safe_kill_with(child.pid(), &KillOptions::new().group(true)).unwrap_err();
        assert!(matches!(e, KillError::Unsupported { .. }), "{e}");
        assert!(child.is_running(), "nothing was sent");
        let r = safe_kill_all(&[child.pid(), 0], &KillOptions::new());
        assert!(matches!(r[0], Err(KillError::NotAttempted { .. })), "{r:?}");
        assert!(child.is_running(), "nothing was sent");
    });
}

#[test]
fn a_process_without_window_or_console_cannot_be_asked_and_is_left_alone() {
    serial(|| {
        let mut child = Child::spawn(bin!("stubborn"), &[], DETACHED_PROCESS);
        child.ready();
        let e = safe_kill(child.pid()).unwrap_err();
        match &e {
            KillError::CannotAsk { pid, reason, .. } => {
                assert_eq!(*pid, child.pid());
                assert!(reason.contains("SIGKILL"), "{e}");
            }
            _ => panic!("expected CannotAsk, got {e:?}"),
        }
        assert!(child.is_running());
        let kill = KillOptions::new().signal(9);
        assert_eq!(
            safe_kill_with(child.pid(), &kill).unwrap(),
            KillOutcome::Exited
        );
        child.finish().assert_code(1);
    });
}
