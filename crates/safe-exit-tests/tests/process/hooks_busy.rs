//! Busy threads and a main thread blocked in a system call do not keep the hook from running.

use std::time::{Duration, Instant};

use safe_exit_tests::{bin, Child};

#[test]
fn busy_threads_and_a_blocked_main_do_not_delay_the_hook() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut child = Child::spawn(bin!("hooks"), &["busy"]);
        child.ready();
        child.signal(sig);
        let signalled = Instant::now();
        child.expect_line(&format!("hook Signal({sig})"));
        // Microseconds when all is well; the bound only has to fail hooks held back by the
        // busy threads or the blocked main thread for seconds, on a loaded two-core machine.
        let took = signalled.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "the hook started {took:?} after the signal"
        );
        let out = child.finish();
        out.assert_signalled(sig);
        assert_eq!(out.count(&format!("hook Signal({sig})")), 1, "{out}");
    }
}
