//! `run_service` under the service control manager (Wine's `services.exe`, driven with
//! `sc.exe`): a stop runs the hooks once with `ServiceControl(1)`, the service reports
//! `SERVICE_STOP_PENDING` with checkpoints and a wait hint while it stops and
//! `SERVICE_STOPPED` with the exit code, also when the process ends without the main
//! function returning (exit mode, an expired grace period). Started from a console, it runs
//! the main function as an ordinary program.
//!
//! A service's stdout goes nowhere: the `win_service` program logs to a file, which the tests
//! read. Each test installs a service of its own and deletes it when done, also on failure.
//!
//! Wine's service control manager refuses `SERVICE_CONTROL_SHUTDOWN` and
//! `SERVICE_CONTROL_PRESHUTDOWN` from `ControlService` (as Windows does: only the system
//! sends them at shutdown), so only STOP is tested here.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use safe_exit_wintests::{bin, Child, DETACHED_PROCESS, WATCHDOG};

/// `ERROR_SERVICE_SPECIFIC_ERROR`: the exit code of a service whose code is its own.
const ERROR_SERVICE_SPECIFIC_ERROR: u32 = 1066;
/// `SERVICE_STOPPED`, `SERVICE_STOP_PENDING`, `SERVICE_RUNNING`.
pub(crate) const STOPPED: u32 = 1;
const STOP_PENDING: u32 = 3;
pub(crate) const RUNNING: u32 = 4;

/// Runs `sc.exe` with `args` (watchdog), and returns its output lines.
#[track_caller]
pub(crate) fn sc(args: &[&str]) -> Vec<String> {
    let done = Child::spawn("sc.exe", args, DETACHED_PROCESS).finish();
    assert_eq!(done.code(), 0, "sc {args:?} failed\n{done}");
    done.stdout
}

/// A field of `sc query`'s (or `sc stop`'s) output, such as `STATE : 4  RUNNING` or
/// `WAIT_HINT : 0x7530`: its first number.
#[track_caller]
pub(crate) fn field(lines: &[String], name: &str) -> u32 {
    let value = lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(key, _)| key.trim() == name)
        .and_then(|(_, value)| value.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {name} in sc's output:\n{}", lines.join("\n")));
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => value.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("{name} is not a number in:\n{}", lines.join("\n")))
}

/// A service installed for one test, with its log file: stopped (if it still runs) and
/// deleted when dropped, also when the test fails.
pub(crate) struct Service {
    pub(crate) name: String,
    log: PathBuf,
    /// One service test at a time (see `services_exclusive`); released last, after the
    /// service is deleted (fields drop after `Drop::drop`).
    _exclusive: std::sync::MutexGuard<'static, ()>,
}

impl Service {
    /// Installs `win_service` as a service of its own, named after `tag`, with `policy` and
    /// the exit code `code`.
    #[track_caller]
    fn install(tag: &str, policy: &str, code: i32) -> Service {
        let code = code.to_string();
        Service::create(tag, bin!("win_service"), &[policy, &code])
    }

    /// Installs the test program at `program` (`bin!`) as a service named after `tag`, run
    /// as `program NAME LOG ARGS...`. Holds the services' lock (`services_exclusive`) until it
    /// is dropped.
    #[track_caller]
    pub(crate) fn create(tag: &str, program: &str, args: &[&str]) -> Service {
        let name = format!("safe-exit-test-{}-{tag}", std::process::id());
        let log = std::env::temp_dir().join(format!("{name}.log"));
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_file(release(&log));
        let exe = std::path::absolute(program).expect("the program's path");
        let mut command = format!("\"{}\" {name} \"{}\"", exe.display(), log.display());
        for arg in args {
            command.push(' ');
            command.push_str(arg);
        }
        let service = Service {
            name,
            log,
            _exclusive: safe_exit_wintests::services_exclusive(),
        };
        sc(&["create", &service.name, "binPath=", &command]);
        service
    }

    /// `sc start`, then waits (watchdog) for the service's `ready`.
    #[track_caller]
    fn start(&self) {
        sc(&["start", &self.name]);
        self.wait_for("ready");
    }

    /// `sc stop`: the status the stop left.
    #[track_caller]
    fn stop(&self) -> Vec<String> {
        sc(&["stop", &self.name])
    }

    /// `sc query`.
    #[track_caller]
    fn query(&self) -> Vec<String> {
        sc(&["query", &self.name])
    }

    /// Waits (watchdog) until `sc query` shows `SERVICE_STOPPED`, and returns that output.
    #[track_caller]
    pub(crate) fn wait_stopped(&self) -> Vec<String> {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let status = self.query();
            if field(&status, "STATE") == STOPPED {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not stop\n{}\n--- log ---\n{}",
                status.join("\n"),
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The lines of the service's log so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits (watchdog) for the line `line` in the log.
    #[track_caller]
    fn wait_for(&self, line: &str) {
        self.wait_until(line, |l| l == line);
    }

    /// Waits (watchdog) for a line of the log that starts with `prefix`, and returns it.
    #[track_caller]
    pub(crate) fn wait_for_prefix(&self, prefix: &str) -> String {
        self.wait_until(prefix, |l| l.starts_with(prefix))
    }

    /// Waits (watchdog) for a line of the log for which `found` holds, and returns it.
    #[track_caller]
    fn wait_until(&self, what: &str, found: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| found(l)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what:?} in the service's log: watchdog expired\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that `line` is in the log exactly once.
    #[track_caller]
    fn assert_once(&self, line: &str) {
        let lines = self.lines();
        let n = lines.iter().filter(|l| *l == line).count();
        assert_eq!(n, 1, "expected {line:?} once in\n{}", lines.join("\n"));
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // A hook held by the test goes on; then the service stops (Wine kills one that a
        // second stop finds running) and goes. Not `sc`: no panic here.
        let _ = std::fs::write(release(&self.log), b"");
        for args in [
            ["stop", &self.name],
            ["stop", &self.name],
            ["delete", &self.name],
        ] {
            let _ = Command::new("sc.exe").args(args).output();
        }
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_file(release(&self.log));
    }
}

/// The file that lets a `slow` hook finish.
fn release(log: &std::path::Path) -> PathBuf {
    let mut path = log.as_os_str().to_owned();
    path.push(".release");
    PathBuf::from(path)
}

#[test]
fn stop_runs_the_hooks_once_and_reports_the_exit_code() {
    let service = Service::install("stop", "notify", 7);
    service.start();
    assert_eq!(field(&service.query(), "STATE"), RUNNING);
    service.stop();
    let status = service.wait_stopped();
    assert_eq!(
        field(&status, "WIN32_EXIT_CODE"),
        ERROR_SERVICE_SPECIFIC_ERROR
    );
    assert_eq!(field(&status, "SERVICE_EXIT_CODE"), 7);
    service.wait_for("run_service returned Ok(7)");
    service.assert_once("shutdown ServiceControl(1)");
    service.assert_once("main returns 7");
    service.assert_once("hook ran Some(ServiceControl(1))");
    let lines = service.lines();
    let at = |line: &str| lines.iter().position(|l| l == line);
    assert!(
        at("main returns 7") < at("hook ran Some(ServiceControl(1))"),
        "the hooks ran before the main function returned:\n{}",
        lines.join("\n")
    );
}

#[test]
fn a_service_whose_main_returns_zero_reports_no_error() {
    let service = Service::install("zero", "notify", 0);
    service.start();
    service.stop();
    let status = service.wait_stopped();
    assert_eq!(field(&status, "WIN32_EXIT_CODE"), 0);
    assert_eq!(field(&status, "SERVICE_EXIT_CODE"), 0);
    service.wait_for("run_service returned Ok(0)");
    service.assert_once("hook ran Some(ServiceControl(1))");
}

#[test]
fn stop_pending_is_reported_with_checkpoints_and_a_wait_hint_while_the_hooks_run() {
    let service = Service::install("pending", "notify-slow", 3);
    service.start();
    // The handler reports STOP_PENDING before `sc stop` returns: checkpoint 1, and a wait hint
    // of what the policy still allows (up to 20 s of grace period, 20 s for the hooks, 1 s of
    // margin; the main function may have returned already, leaving the hooks' part).
    let status = service.stop();
    assert_eq!(
        field(&status, "STATE"),
        STOP_PENDING,
        "{}",
        status.join("\n")
    );
    assert_eq!(field(&status, "CHECKPOINT"), 1, "{}", status.join("\n"));
    let hint = field(&status, "WAIT_HINT");
    assert!((1..=41_000).contains(&hint), "{}", status.join("\n"));
    // The hook holds the stop: the status thread reports every second, with the next
    // checkpoint and what the hook deadline leaves.
    service.wait_for("hook ran Some(ServiceControl(1))");
    let deadline = Instant::now() + WATCHDOG;
    let status = loop {
        let status = service.query();
        assert_eq!(
            field(&status, "STATE"),
            STOP_PENDING,
            "{}",
            status.join("\n")
        );
        if field(&status, "CHECKPOINT") >= 2 {
            break status;
        }
        assert!(Instant::now() < deadline, "{}", status.join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    };
    let hint = field(&status, "WAIT_HINT");
    assert!((1..=21_000).contains(&hint), "{}", status.join("\n"));
    std::fs::write(release(&service.log), b"").expect("release the hook");
    let status = service.wait_stopped();
    assert_eq!(
        field(&status, "WIN32_EXIT_CODE"),
        ERROR_SERVICE_SPECIFIC_ERROR
    );
    assert_eq!(field(&status, "SERVICE_EXIT_CODE"), 3);
    assert_eq!(field(&status, "CHECKPOINT"), 0);
    assert_eq!(field(&status, "WAIT_HINT"), 0);
    service.wait_for("run_service returned Ok(3)");
    service.assert_once("hook done");
}

#[test]
fn exit_mode_reports_stopped_before_the_process_ends() {
    let service = Service::install("exit", "exit", 7);
    service.start();
    service.stop();
    let status = service.wait_stopped();
    // The stop was asked for: the process ends with 0, and reports it.
    assert_eq!(field(&status, "WIN32_EXIT_CODE"), 0);
    assert_eq!(field(&status, "SERVICE_EXIT_CODE"), 0);
    service.wait_for("hook ran Some(ServiceControl(1))");
    service.assert_once("hook ran Some(ServiceControl(1))");
    let lines = service.lines();
    assert!(
        !lines.iter().any(|l| l.starts_with("run_service returned")),
        "{}",
        lines.join("\n")
    );
}

/// Exit mode, the service asks for its own end with `request_shutdown(5)`: the hooks run and
/// the process ends with `exit(5)`, reporting `SERVICE_STOPPED` with that code first.
#[test]
fn request_shutdown_in_exit_mode_reports_stopped_with_its_code() {
    let service = Service::install("exitreq", "exit-request", 5);
    service.start();
    let status = service.wait_stopped();
    assert_eq!(field(&status, "WIN32_EXIT_CODE"), 1066);
    assert_eq!(field(&status, "SERVICE_EXIT_CODE"), 5);
    service.wait_for("hook ran Some(Requested(5))");
    service.assert_once("hook ran Some(Requested(5))");
}

#[test]
fn an_expired_grace_period_reports_stopped_before_the_process_ends() {
    let service = Service::install("grace", "grace", 7);
    service.start();
    service.stop();
    let status = service.wait_stopped();
    assert_eq!(field(&status, "WIN32_EXIT_CODE"), 0);
    assert_eq!(field(&status, "SERVICE_EXIT_CODE"), 0);
    service.wait_for("hook ran Some(ServiceControl(1))");
    service.assert_once("shutdown ServiceControl(1)");
    service.assert_once("hook ran Some(ServiceControl(1))");
    let lines = service.lines();
    assert!(
        !lines.iter().any(|l| l.starts_with("main returns")),
        "{}",
        lines.join("\n")
    );
}

#[test]
fn started_from_a_console_it_runs_as_a_program() {
    let _exclusive = safe_exit_wintests::services_exclusive();
    // Not under the service control manager: StartServiceCtrlDispatcherW fails with 1063
    // (under Wine that can take about 10 s) and the main function runs as a program.
    let log = std::env::temp_dir().join(format!("safe-exit-console-{}.log", std::process::id()));
    let log_arg = log.to_string_lossy().into_owned();
    let child = Child::spawn(
        bin!("win_service"),
        &["not-installed", &log_arg, "return", "7"],
        DETACHED_PROCESS,
    );
    let done = child.finish();
    let _ = std::fs::remove_file(&log);
    done.assert_once("ready");
    done.assert_once("run_service returned Ok(7)");
    // The hooks run at the program's normal exit.
    done.assert_once("hook ran Some(Exit)");
    assert!(
        done.position("run_service returned Ok(7)") < done.position("hook ran Some(Exit)"),
        "{done}"
    );
    done.assert_code(7);
}
