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

use safe_exit_wintests::{bin, is_wine, program, Child, DETACHED_PROCESS};

use crate::service::{field, sc, Service, RUNNING};
use crate::session::alone;

/// The desktop that Wine's service control manager starts services on.
const SERVICE_DESKTOP: &str = "__wineservice_winstation\\Default";

#[test]
fn a_service_keeps_running_at_a_logoff_and_its_stop_runs_the_hooks_once() {
    if !is_wine() {
        // The services' desktop named here is Wine's; on Windows it is session 0's.
        return;
    }
    // Holds the services' lock (one service test at a time) until the end.
    let service = Service::create("session", bin!("win_session_service"), &[]);
    // Wine's StartServiceCtrlDispatcherW connects to the pipe of whichever service is being
    // started: a program of another test that calls it outside a service (service.rs's
    // `started_from_a_console_it_runs_as_a_program`) could take this service's place. So the
    // start waits until no other process of this test binary runs.
    alone(|| Some(sc(&["start", &service.name])));
    let ready = service.wait_for_prefix("ready pid=");
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
        field(&sc(&["query", &service.name]), "STATE"),
        RUNNING,
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
