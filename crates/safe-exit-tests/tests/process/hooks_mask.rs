//! The watcher thread blocks the handled signals while it waits (a storm then goes to the other
//! threads), and gives the hooks the program's usual mask back: a child a hook starts must not
//! inherit blocked termination signals.

use safe_exit_tests::{bin, Child};

/// The bits of SIGHUP, SIGINT, SIGQUIT and SIGTERM in a `SigBlk` mask.
const HANDLED: u64 = (1 << (libc::SIGHUP - 1))
    | (1 << (libc::SIGINT - 1))
    | (1 << (libc::SIGQUIT - 1))
    | (1 << (libc::SIGTERM - 1));

fn mask_of(line: &str, prefix: &str) -> u64 {
    let hex = line
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"));
    u64::from_str_radix(hex.trim(), 16).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[test]
fn the_watcher_blocks_the_handled_signals_and_the_hooks_get_the_usual_mask() {
    let mut child = Child::spawn(bin!("hooks"), &["mask"]);
    let watcher = child.expect_line("watcher mask ");
    assert_eq!(
        mask_of(&watcher, "watcher mask ") & HANDLED,
        HANDLED,
        "the waiting watcher does not block SIGHUP, SIGINT, SIGQUIT, SIGTERM: {watcher}"
    );
    child.ready();
    child.signal(libc::SIGTERM);
    let out = child.finish();
    let hooks = out.starting_with("hook mask ");
    assert_eq!(hooks.len(), 2, "{out}");
    for line in hooks {
        assert_eq!(
            mask_of(line, "hook mask ") & HANDLED,
            0,
            "a hook ran with termination signals blocked: {line}\n{out}"
        );
    }
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn a_repeat_that_lands_on_the_watcher_during_a_hook_blocks_the_signals_there() {
    let mut child = Child::spawn(bin!("hooks"), &["shield"]);
    child.ready();
    child.signal(libc::SIGTERM);
    let tid: i32 = child.expect_value("hook tid ");
    let before = child.expect_line("hook mask ");
    assert_eq!(mask_of(&before, "hook mask ") & HANDLED, 0, "{before}");
    // A repeat delivered to the watcher itself (a storm does that once the thread taking it
    // is preempted): its handler runs before the hook's read returns.
    // SAFETY: tgkill on a thread of our child, which runs a hook and cannot exit before the
    // `go` line below.
    let sent = unsafe { libc::syscall(libc::SYS_tgkill, child.pid(), tid, libc::SIGTERM) };
    assert_eq!(sent, 0, "tgkill: {}", std::io::Error::last_os_error());
    child.send_line("go");
    let after = child.expect_line("hook mask-after ");
    assert_eq!(
        mask_of(&after, "hook mask-after ") & HANDLED,
        HANDLED,
        "the watcher still takes every repeat: {after}"
    );
    let out = child.finish();
    assert_eq!(out.starting_with("hook tid").len(), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);
}
