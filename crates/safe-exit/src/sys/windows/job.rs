//! `die_with_parent` on Windows: this process puts itself into a job object that kills every
//! process in it when its last handle is closed, and holds that handle alone.
//!
//! # Why the whole process, not one child
//!
//! Windows ends a group of processes together through a job object created with
//! `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`: when the last handle to the job is closed, every
//! process still in it is terminated. The handle belongs to this process, so Windows closes it
//! when this process ends in any way at all: `main` returning, `ExitProcess`,
//! `TerminateProcess` (Task Manager, `taskkill /F`, safe_kill's SIGKILL), a crash. Nothing of
//! ours has to run for it, which is what `die_with_parent` promises.
//!
//! The child would have to be put into the job as it is created, before it can start a child
//! of its own (a process is in its parent's jobs from its creation; one added later leaves out
//! whatever it started meanwhile). Std's `Command` offers no way to do that on stable Rust:
//! there is no hook between `CreateProcessW` and the child's first instruction (it does not
//! create the child suspended) and no way to add a `PROC_THREAD_ATTRIBUTE_JOB_LIST`. So,
//! as Chromium, VS Code and many launchers do, this process puts **itself** into the job: a
//! process is created in every job of its parent, so every process this one starts from then
//! on is in the job from its first instruction, and so are the processes those start.
//!
//! # What that means
//!
//! - From the first call to `die_with_parent` on, **every** child this process starts (and
//!   every process those start) dies with this process, not only the commands configured
//!   with `die_with_parent`: the job is one per process, set up by the first call
//!   (thread-safe) and never undone. Configuring the command is only what triggers it; the
//!   command itself is not changed.
//! - A child started with the creation flag `CREATE_BREAKAWAY_FROM_JOB`
//!   (`std::os::windows::process::CommandExt::creation_flags`) is exempt: the job allows
//!   breakaway (`JOB_OBJECT_LIMIT_BREAKAWAY_OK`), so such a child is not in it and outlives
//!   this process. (Without that limit the flag would make `spawn` fail with "Access is
//!   denied".) Jobs this process was already in (a service manager's, a CI runner's) keep
//!   their own rules for it.
//! - Children started before the first call are not affected: a process's jobs are fixed when
//!   it is created. (A child that another thread starts *while* the first call runs may or may
//!   not be in the job; one started after the call returns always is.)
//! - The handle belongs to the process, not to a thread: a child started from a short-lived
//!   thread does not die with that thread.
//! - This process is in the job too. When it ends, Windows closes the handle after its exit
//!   code is set, so that code is unchanged; the processes left in the job are terminated as
//!   `TerminateProcess` does (their exit hooks do not run: nothing runs in a terminated
//!   process). To stop children politely first, `own` them: their stop runs with this
//!   process's hooks, before it ends.
//! - The handle is not inheritable and never closed, and the job has no name: no other
//!   process holds it, and the job lives exactly as long as this process.
//!
//! Jobs nest since Windows 8: a process already in a job (as under many service managers,
//! CI runners and terminals) still enters ours, and a child that calls `die_with_parent`
//! itself enters a job of its own inside its parent's, whose children then die with it (and
//! with its parent). On Windows 7 and older a process already in a job cannot enter another:
//! `AssignProcessToJobObject` fails ("Access is denied"), and so does the setup.
//!
//! # When it cannot be set up
//!
//! Then no child can be made to die with this process, and that must not pass in silence.
//! Std's Windows `Command` has no pre-spawn hook either, so `die_with_parent` cannot hand the
//! error to `spawn`; the only ways to make `spawn` fail are to poison the command (an
//! impossible combination of creation flags, a NUL in an argument or variable), which
//! replaces what the caller set and makes `spawn` fail with a message about something else
//! entirely ("The parameter is incorrect", "nul byte found in provided data"): a false lead,
//! not a report. So the failure is reported once per process on stderr, with the system's
//! error and what it means (`safe-exit: die_with_parent: process PID could not enter a
//! kill-on-close job object (ERROR); the children it starts will NOT die with it`), the
//! command is left as it was (its child starts, and does not die with this process), and the
//! error is kept: [`try_die_with_parent`] returns it on every call, for an API that hands it
//! to the caller. The setup is not retried: what made it fail does not go away.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::process::Command;
use std::sync::OnceLock;

use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_BREAKAWAY_OK,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

/// The job this process is in (its only handle, held until the process ends: a static is
/// never dropped), or why it could not be set up. Set once, by the first call.
static JOB: OnceLock<Result<OwnedHandle, io::Error>> = OnceLock::new();

/// Arranges for the child of `cmd`, and every other child this process starts from now on, to
/// die with this process (see the module docs). If that cannot be set up, says so on stderr,
/// once per process, and leaves `cmd` as it was.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    // The error was reported when it happened (see `job`). `cmd` is not changed either way:
    // what makes the child die with this process is the job this process is in.
    let _ = cmd;
    let _ = prepare_for_spawn();
}

/// What [`die_with_parent`] does, for a runtime that starts its processes itself (the Python
/// package): returns the error (the same one on every call) if this process could not be put
/// into the job.
pub(crate) fn prepare_for_spawn() -> io::Result<()> {
    match job() {
        Ok(_) => Ok(()),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("this process could not enter a kill-on-close job object: {e}"),
        )),
    }
}

/// The job, set up by the first call (concurrent first calls wait for it); a failure is
/// reported on stderr then, once.
fn job() -> &'static Result<OwnedHandle, io::Error> {
    JOB.get_or_init(|| {
        let job = enter_new_job();
        if let Err(e) = &job {
            super::report(&format!(
                "safe-exit: die_with_parent: process {} could not enter a kill-on-close job \
                 object ({e}); the children it starts will NOT die with it",
                std::process::id()
            ));
        }
        job
    })
}

/// Creates a job that kills its processes when its last handle closes and lets a child
/// created with `CREATE_BREAKAWAY_FROM_JOB` leave it, and puts this process into it.
fn enter_new_job() -> io::Result<OwnedHandle> {
    // SAFETY: no security attributes (the handle is not inheritable) and no name; the result
    // is checked for null before it is owned.
    let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new handle that nothing else owns; `job` closes it if we fail below.
    let job = unsafe { OwnedHandle::from_raw_handle(raw) };

    let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
    limits.BasicLimitInformation.LimitFlags =
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
    // SAFETY: a valid job handle, and a structure of the type and size that this information
    // class takes, which outlives the call.
    let set = unsafe {
        SetInformationJobObject(
            job.as_raw_handle(),
            JobObjectExtendedLimitInformation,
            std::ptr::from_ref(&limits).cast(),
            size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if set == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a valid job handle, and the pseudo handle of this process (all access rights).
    if unsafe { AssignProcessToJobObject(job.as_raw_handle(), GetCurrentProcess()) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(job)
}
