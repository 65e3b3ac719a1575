//! A child forked without exec starts with safe-exit fresh: it never runs, drops or closes
//! what its parent set up, its own signal handlers work, and setting itself up never
//! deadlocks on a lock another thread of the parent held at the fork.

use std::collections::BTreeMap;

use safe_exit_tests::{bin, parent_of, Child, Finished, Pinned};

/// A process forked by the child program. It is pinned ([`Pinned`]): signalled through a
/// pidfd, so never a recycled pid, and killed (SIGKILL) when the test ends, so that a failing
/// test never leaves it behind. (The child program also makes it die with its parent:
/// `PR_SET_PDEATHSIG`.)
struct Grandchild {
    pid: i32,
    /// `None` if it had already ended and been reaped: it needs no guard then.
    pinned: Option<Pinned>,
}

impl Grandchild {
    /// From the next line `PREFIXPID` that `parent` prints.
    #[track_caller]
    fn expect(parent: &mut Child, prefix: &str) -> Grandchild {
        let pid = parent.expect_value(prefix);
        // Pin it, then check that it is still `parent`'s child (not a recycled pid).
        let pinned = Pinned::new(pid)
            .ok()
            .filter(|_| parent_of(pid) == Some(parent.pid()));
        Grandchild { pid, pinned }
    }

    /// Sends `sig` through the pidfd.
    #[track_caller]
    fn signal(&self, sig: i32) {
        self.pinned
            .as_ref()
            .unwrap_or_else(|| panic!("pid {} is gone: cannot signal it", self.pid))
            .signal(sig);
    }
}

/// Runs `edges fork-plain MODE`: the parent's output, its pid, the forked child's pid, and how
/// the forked child ended (`child ended ...`).
fn fork_plain(mode: &str) -> (Finished, i32, i32, String) {
    let mut child = Child::spawn(bin!("edges"), &["fork-plain", mode]);
    let parent = child.pid();
    child.ready();
    let forked = Grandchild::expect(&mut child, "forked ");
    let ended = child.expect_line("child ended ");
    child.close_stdin();
    let out = child.finish();
    (out, parent, forked.pid, ended)
}

/// The parent's hook ran exactly once, in the parent (its pid), at the parent's end (after it
/// reaped the forked child), and never in the forked child; the parent exited with 0.
#[track_caller]
fn assert_parent_hook_only_in_parent(out: &Finished, parent: i32, forked: i32) {
    out.assert_code(0);
    assert_eq!(
        out.count(&format!("hook parent {forked}")),
        0,
        "the forked child ({forked}) ran its parent's hook\n{out}"
    );
    assert_eq!(
        out.starting_with("hook"),
        [format!("hook parent {parent}")],
        "the parent's hook runs once, in the parent ({parent})\n{out}"
    );
    let ended = out
        .stdout
        .iter()
        .position(|l| l.starts_with("child ended "))
        .expect("child ended");
    assert!(
        out.position(&format!("hook parent {parent}")) > ended,
        "the parent's hook runs at the parent's own end\n{out}"
    );
}

#[test]
fn a_forked_child_returning_from_main_never_runs_the_parents_hooks() {
    let (out, parent, forked, ended) = fork_plain("return");
    assert_eq!(ended, "child ended exit 0", "{out}");
    assert_parent_hook_only_in_parent(&out, parent, forked);
}

#[test]
fn a_forked_child_calling_exit_never_runs_the_parents_hooks() {
    let (out, parent, forked, ended) = fork_plain("exit");
    assert_eq!(ended, "child ended exit 0", "{out}");
    assert_parent_hook_only_in_parent(&out, parent, forked);
}

#[test]
fn a_forked_child_may_call_config_and_never_runs_the_parents_hooks() {
    let (out, parent, forked, ended) = fork_plain("config");
    assert_eq!(
        out.count("child config ok"),
        1,
        "config in a forked child starts fresh: any flags are accepted\n{out}"
    );
    assert_eq!(ended, "child ended exit 0", "{out}");
    assert_parent_hook_only_in_parent(&out, parent, forked);
}

#[test]
fn a_forked_child_may_set_a_shutdown_policy_and_never_runs_the_parents_hooks() {
    let (out, parent, forked, ended) = fork_plain("policy");
    assert_eq!(out.count("child policy ok"), 1, "{out}");
    assert_eq!(ended, "child ended exit 0", "{out}");
    assert_parent_hook_only_in_parent(&out, parent, forked);
}

#[test]
fn a_forked_child_requesting_shutdown_ends_with_its_code_without_the_parents_hooks() {
    let (out, parent, forked, ended) = fork_plain("request");
    assert_eq!(
        out.count("child: request_shutdown returned"),
        0,
        "exit mode: request_shutdown does not return\n{out}"
    );
    assert_eq!(
        ended, "child ended exit 5",
        "the forked child ends with the code it asked for\n{out}"
    );
    assert_parent_hook_only_in_parent(&out, parent, forked);
}

#[test]
fn a_forked_childs_first_register_never_drops_the_parents_hooks() {
    let mut child = Child::spawn(bin!("edges"), &["fork-drop"]);
    let parent = child.pid();
    child.ready();
    let guard = Grandchild::expect(&mut child, "forked ");
    let ended = child.expect_line("child ended ");
    child.close_stdin();
    let out = child.finish();
    let forked = guard.pid;
    assert_eq!(
        out.count(&format!("dropped in {forked}")),
        0,
        "the forked child dropped (ran the destructors of) its parent's hooks\n{out}"
    );
    assert_eq!(ended, "child ended exit 0", "{out}");
    assert_eq!(
        out.count(&format!("hook child {forked}")),
        1,
        "the forked child's own hook runs once, in the child\n{out}"
    );
    assert_parent_hook_once_in_parent(&out, parent, forked);
}

/// As [`assert_parent_hook_only_in_parent`], with the forked child's own hook allowed.
#[track_caller]
fn assert_parent_hook_once_in_parent(out: &Finished, parent: i32, forked: i32) {
    out.assert_code(0);
    let parents: Vec<_> = out
        .starting_with("hook")
        .into_iter()
        .filter(|l| l.starts_with("hook parent"))
        .collect();
    assert_eq!(
        parents,
        [format!("hook parent {parent}")],
        "the parent's hook runs once, in the parent ({parent}), never in {forked}\n{out}"
    );
}

/// Runs `edges fork-fds VARIANT` and checks that every descriptor the forked child had before
/// setting safe-exit up is still open afterwards, on the same file.
fn assert_forked_child_keeps_its_descriptors(variant: &str) {
    let mut child = Child::spawn(bin!("edges"), &["fork-fds", variant]);
    child.ready();
    let _forked = Grandchild::expect(&mut child, "forked ");
    let ended = child.expect_line("child ended ");
    child.close_stdin();
    let out = child.finish();
    assert_eq!(ended, "child ended exit 0", "{variant}\n{out}");
    let list = |prefix: &str| -> BTreeMap<i32, String> {
        out.stdout
            .iter()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|l| {
                let (fd, target) = l.split_once(' ')?;
                Some((fd.parse().ok()?, target.to_owned()))
            })
            .collect()
    };
    let (before, after) = (list("before "), list("after "));
    assert!(before.contains_key(&1), "no descriptor list\n{out}");
    let lost: Vec<String> = before
        .iter()
        .filter(|(fd, target)| after.get(fd) != Some(target))
        .map(|(fd, target)| match after.get(fd) {
            Some(now) => format!("fd {fd} was {target}, is now {now}"),
            None => format!("fd {fd} ({target}) was closed"),
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{variant}: the forked child lost descriptors it had before setting safe-exit up: \
         {lost:?}\n{out}"
    );
    if variant == "config" {
        assert_eq!(out.count("child config ok"), 2, "{out}");
    }
    if variant == "policy" {
        assert_eq!(out.count("child policy ok"), 1, "{out}");
    }
}

#[test]
fn a_forked_child_setting_safe_exit_up_keeps_every_descriptor_it_had() {
    for variant in ["register", "config", "policy"] {
        assert_forked_child_keeps_its_descriptors(variant);
    }
}

#[test]
fn a_forked_child_setting_safe_exit_up_never_closes_files_it_opened_on_inherited_numbers() {
    assert_forked_child_keeps_its_descriptors("reuse");
}

#[test]
fn a_forked_worker_with_its_own_signal_hook_handler_drains_and_exits_zero_on_sigterm() {
    let mut child = Child::spawn(bin!("edges"), &["fork-worker"]);
    let parent = child.pid();
    child.ready();
    let worker = Grandchild::expect(&mut child, "worker ");
    worker.signal(libc::SIGTERM);
    let ended = child.expect_line("worker ended ");
    child.close_stdin();
    let out = child.finish();
    assert_eq!(
        out.count("drained"),
        1,
        "the worker's own SIGTERM handler must run, not its parent's safe-exit\n{out}"
    );
    assert_eq!(ended, "worker ended exit 0", "{out}");
    out.assert_code(0);
    assert_eq!(
        out.starting_with("hook"),
        [format!("hook parent {parent}")],
        "{out}"
    );
}

#[test]
fn register_in_a_forked_child_never_deadlocks_whatever_another_parent_thread_held() {
    let mut child = Child::spawn(bin!("edges"), &["fork-storm"]);
    child.ready();
    let out = child.finish();
    assert_eq!(
        out.count("hung 0"),
        1,
        "forked children hung in register (each was killed 2 s after its fork; no new fork \
         after 10 s)\n{out}"
    );
    assert_eq!(out.count("forked 60"), 1, "{out}");
    assert_eq!(
        out.count("failed 0"),
        1,
        "forked children ended badly\n{out}"
    );
    out.assert_code(0);
}

/// Runs `edges hook-fork-return`, ended by `how` (`return`: stdin closes; `signal`: SIGTERM):
/// hook B forks and its child returns from the hook.
fn hook_fork_return(how: &str) -> (Finished, i32, i32) {
    let mut child = Child::spawn(bin!("edges"), &["hook-fork-return"]);
    let parent = child.pid();
    child.ready();
    if how == "signal" {
        child.signal(libc::SIGTERM);
    } else {
        child.close_stdin();
    }
    let forked = Grandchild::expect(&mut child, "forked ");
    let out = child.finish();
    (out, parent, forked.pid)
}

#[track_caller]
fn assert_only_the_parent_ran_hook_a(out: &Finished, parent: i32, forked: i32) {
    assert_eq!(
        out.starting_with("hook"),
        [format!("hook A {parent}")],
        "hook A runs once, in the parent, never in the child forked by hook B ({forked})\n{out}"
    );
    assert_eq!(
        out.count("child ended exit 0"),
        1,
        "the child returning from the hook ends with 0\n{out}"
    );
}

#[test]
fn a_child_forked_in_a_hook_that_returns_from_it_never_runs_the_other_hooks() {
    let (out, parent, forked) = hook_fork_return("return");
    assert_only_the_parent_ran_hook_a(&out, parent, forked);
    out.assert_code(0);
}

#[test]
fn a_child_forked_in_a_signal_started_hook_never_runs_the_other_hooks_nor_dies_by_the_signal() {
    let (out, parent, forked) = hook_fork_return("signal");
    assert_only_the_parent_ran_hook_a(&out, parent, forked);
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn a_forked_child_configured_without_sighup_takes_its_default_action() {
    let mut child = Child::spawn(bin!("edges"), &["child-config"]);
    child.ready();
    let forked = Grandchild::expect(&mut child, "forked ");
    // SIGHUP was the parent's; the child's own configuration leaves it to its default action.
    forked.signal(libc::SIGHUP);
    let ended = child.expect_line("child ended ");
    child.close_stdin();
    let out = child.finish();
    assert_eq!(ended, "child ended signal 1", "{out}");
    assert_eq!(
        out.count("hook child"),
        0,
        "SIGHUP is not the child's\n{out}"
    );
    assert_eq!(out.count("hook parent"), 1, "{out}");
    out.assert_code(0);
}
