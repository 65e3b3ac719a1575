//! A service ignores a logoff: Windows sends services `CTRL_LOGOFF_EVENT` (and, with user32
//! loaded, `WM_ENDSESSION` with `ENDSESSION_LOGOFF` to their windows) whenever any user logs
//! off. The service keeps running; its stop, from the manager, runs the hooks once.
//!
//! Wine sends no logoff at all (no `CTRL_LOGOFF_EVENT`; `wineboot --end-session` sends
//! `WM_ENDSESSION` with lParam 0, and only to the windows of its own desktop, not to those of
//! services, which run on a window station of their own). So the message is sent here by
//! `end_session`, run on the services' desktop (`on_desktop`) to find the service's hidden
//! window, as Windows would send it. The console event cannot be produced: the decision
//! the console handler shares with the window is unit-tested in the library
//! (`sys::windows::signal`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use safe_exit_wintests::{bin, is_wine, program, Child, DETACHED_PROCESS, WATCHDOG};

use crate::session::alone;

/// The desktop that Wine's service control manager starts services on.
const SERVICE_DESKTOP: &str = "__wineservice_winstation\\Default";

/// Runs `sc.exe` with `args` (watchdog), and returns its output lines.
#[track_caller]
fn sc(args: &[&str]) -> Vec<String> {
    let done = Child::spawn("sc.exe", args, DETACHED_PROCESS).finish();
    assert_eq!(done.code(), 0, "sc {args:?} failed\n{done}");
    done.stdout
}

/// The state number in `sc query`'s output (`STATE : 4  RUNNING`).
#[track_caller]
fn state(lines: &[String]) -> u32 {
    lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(key, _)| key.trim() == "STATE")
        .and_then(|(_, value)| value.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no STATE in sc's output:\n{}", lines.join("\n")))
}

/// A service installed for the test, stopped and deleted when dropped (also on failure).
struct Service {
    name: String,
    log: PathBuf,
}

impl Service {
    #[track_caller]
    fn install() -> Service {
        let name = format!("safe-exit-session-{}", std::process::id());
        let log = std::env::temp_dir().join(format!("{name}.log"));
        let _ = std::fs::remove_file(&log);
        let exe = std::path::absolute(bin!("win_session_service")).expect("the program's path");
        let command = format!("\"{}\" {name} \"{}\"", exe.display(), log.display());
        let service = Service { name, log };
        sc(&["create", &service.name, "binPath=", &command]);
        service
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits (watchdog) for a log line starting with `prefix`, and returns it.
    #[track_caller]
    fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.starts_with(prefix)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {prefix:?} in the service's log: watchdog expired\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (watchdog) until `sc query` shows `SERVICE_STOPPED`.
    #[track_caller]
    fn wait_stopped(&self) {
        let deadline = Instant::now() + WATCHDOG;
        while state(&sc(&["query", &self.name])) != 1 {
            assert!(
                Instant::now() < deadline,
                "the service did not stop\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // Not `sc`: no panic here. (Wine kills a service that a second stop finds running.)
        for args in [
            ["stop", &self.name],
            ["stop", &self.name],
            ["delete", &self.name],
        ] {
            let _ = Command::new("sc.exe").args(args).output();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

#[test]
fn a_service_keeps_running_at_a_logoff_and_its_stop_runs_the_hooks_once() {
    let _exclusive = safe_exit_wintests::services_exclusive();
    if !is_wine() {
        // The services' desktop named here is Wine's; on Windows it is session 0's.
        return;
    }
    let service = Service::install();
    // Wine's StartServiceCtrlDispatcherW connects to the pipe of whichever service is being
    // started: a program of another test that calls it outside a service (service.rs's
    // `started_from_a_console_it_runs_as_a_program`) could take this service's place. So the
    // start waits until no other process of this test binary runs.
    alone(|| Some(sc(&["start", &service.name])));
    let ready = service.wait_for("ready pid=");
    let pid = ready.trim_start_matches("ready pid=").to_owned();
    let sent = Child::spawn(
        &program("on_desktop"),
        &[SERVICE_DESKTOP, &program("end_session"), &pid, "logoff"],
        DETACHED_PROCESS,
    )
    .finish();
    assert_eq!(sent.code(), 0, "end_session failed\n{sent}");
    // The session may end, and WM_ENDSESSION returns: a logoff is not the service's ending.
    assert_eq!(sent.stdout, ["query 1", "end returned"], "\n{sent}");
    assert_eq!(
        state(&sc(&["query", &service.name])),
        4,
        "the service is not running after a logoff\n{}",
        service.lines().join("\n")
    );
    assert!(
        !service.lines().iter().any(|l| l.starts_with("hook ran")),
        "a hook ran at the logoff\n{}",
        service.lines().join("\n")
    );
    sc(&["stop", &service.name]);
    service.wait_stopped();
    let lines = service.lines();
    let hooks: Vec<_> = lines.iter().filter(|l| l.starts_with("hook ran")).collect();
    assert_eq!(
        hooks,
        ["hook ran Some(ServiceControl(1))"],
        "\n{}",
        lines.join("\n")
    );
}
