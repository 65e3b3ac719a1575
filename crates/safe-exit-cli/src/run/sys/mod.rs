//! The wrapper, per platform: `unix` where it is implemented (Linux, FreeBSD, macOS),
//! `unsupported` elsewhere (Windows among them). Both give `run`: the exit status.

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "macos"))]
mod unix;
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "macos"))]
pub(super) use unix::run;

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "macos")))]
mod unsupported;
#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "macos")))]
pub(super) use unsupported::run;
