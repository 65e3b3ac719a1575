//! The processes COMMAND started, found and signalled per platform: every one of them on
//! Linux (a walk of `/proc`, pidfds) and FreeBSD (the reaper's `procctl`); none on macOS.
//! Each gives `Descendants` (`ask`: the stop signal once each, `forward`, `kill`) and
//! `become_subreaper`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(super) use linux::Descendants;

/// `PR_SET_CHILD_SUBREAPER`: orphaned descendants become ours to reap (as PID 1 they are
/// anyway). It cannot fail on Linux 3.4 and later; if it does, orphans go to init and only
/// the walk of `/proc` still finds them while their ancestors live.
#[cfg(target_os = "linux")]
pub(super) fn become_subreaper() {
    // SAFETY: prctl with an integer argument; nothing is read or written in memory.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

#[cfg(target_os = "freebsd")]
mod freebsd;
#[cfg(target_os = "freebsd")]
pub(super) use freebsd::{become_subreaper, Descendants};

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub(super) use macos::{become_subreaper, Descendants};
