//! Windows services: the service control manager's dispatcher, handler and status reports
//! around the core's shutdown. (To be written: for now the service runs as a program.)

/// What the core does for a service: `stop(control)` when the manager asks the service to
/// stop (on the manager's thread: it does not wait), `finish()` after the service's main
/// function returned (runs the hooks), `budget()` what a stop may still take under the policy.
#[allow(dead_code)] // placeholder until the service code is written
pub(crate) struct ServiceCore {
    pub(crate) stop: fn(u32),
    pub(crate) finish: fn(),
    pub(crate) budget: fn() -> Option<std::time::Duration>,
}

/// Runs `service_main` as the service `name`.
pub(crate) fn run_service(
    _name: &str,
    service_main: Box<dyn FnOnce() -> i32 + Send>,
    _core: ServiceCore,
) -> std::io::Result<i32> {
    Ok(service_main())
}
