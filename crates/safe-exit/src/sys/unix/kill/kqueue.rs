//! kqueue (macOS, iOS, the BSDs): an `EVFILT_PROC`/`NOTE_EXIT` registration, made when the
//! process is opened, in a kqueue of its own per target. Waiting is one `kevent` on a kqueue
//! that watches those kqueues. Signals go through `kill`. Also, on Apple systems, the members
//! of a process group (`proc_listpids`).

// The kevent field types differ between the BSDs, hence casts that are no-ops on some.
#![allow(clippy::unnecessary_cast)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use super::{errno, passed, timespec_until};
use crate::pid::Pid;

fn new_kqueue() -> io::Result<OwnedFd> {
    // SAFETY: kqueue() returns a new descriptor or -1.
    let kq = unsafe { libc::kqueue() };
    if kq < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    let kq = unsafe { OwnedFd::from_raw_fd(kq) };
    // SAFETY: fcntl on a descriptor we own. (kqueues are not inherited by fork, but an
    // exec without fork would keep it.)
    unsafe { libc::fcntl(kq.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(kq)
}

fn event(ident: usize, filter: i32, flags: u32, fflags: u32) -> libc::kevent {
    // SAFETY: kevent is a plain C struct; all zeroes is a valid value.
    let mut ev: libc::kevent = unsafe { std::mem::zeroed() };
    ev.ident = ident as _;
    ev.filter = filter as _;
    ev.flags = flags as _;
    ev.fflags = fflags as _;
    ev
}

/// A kqueue with `EVFILT_PROC`/`NOTE_EXIT` registered for `pid`, and whether the process
/// had already exited (`ESRCH` for a process that `kill(pid, 0)` just found: a zombie).
/// `None` if the registration is refused (then the caller polls).
pub(super) fn open(pid: Pid) -> io::Result<Option<(OwnedFd, bool)>> {
    let kq = new_kqueue()?;
    let ev = event(
        pid.as_raw() as usize,
        libc::EVFILT_PROC as i32,
        (libc::EV_ADD | libc::EV_ONESHOT) as u32,
        libc::NOTE_EXIT as u32,
    );
    // SAFETY: one valid change, no event list, no timeout.
    let rc = unsafe {
        libc::kevent(
            kq.as_raw_fd(),
            &ev,
            1,
            std::ptr::null_mut(),
            0,
            std::ptr::null(),
        )
    };
    if rc >= 0 {
        return Ok(Some((kq, false)));
    }
    match errno() {
        libc::ESRCH => Ok(Some((kq, true))),
        libc::EPERM | libc::EACCES => Ok(None),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Whether the exit was reported on this target's kqueue (without blocking).
pub(super) fn fired(kq: &OwnedFd) -> io::Result<bool> {
    let mut out = event(0, 0, 0, 0);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: no changes, room for one event, a zero timeout.
    let rc = unsafe { libc::kevent(kq.as_raw_fd(), std::ptr::null(), 0, &mut out, 1, &zero) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(rc > 0)
}

/// Waits until one of the targets' kqueues has an event, or `deadline` (`None`: no
/// timeout): a kqueue that watches the others for readability.
pub(super) fn wait(kqs: &[&OwnedFd], deadline: Option<Instant>) -> io::Result<()> {
    let outer = new_kqueue()?;
    let changes: Vec<libc::kevent> = kqs
        .iter()
        .map(|kq| {
            event(
                kq.as_raw_fd() as usize,
                libc::EVFILT_READ as i32,
                libc::EV_ADD as u32,
                0,
            )
        })
        .collect();
    // SAFETY: a valid array of `changes.len()` changes, no event list, no timeout.
    let rc = unsafe {
        libc::kevent(
            outer.as_raw_fd(),
            changes.as_ptr(),
            changes.len() as _,
            std::ptr::null_mut(),
            0,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    loop {
        let ts = timespec_until(deadline);
        let timeout = ts.as_ref().map_or(std::ptr::null(), |ts| ts as *const _);
        let mut out = event(0, 0, 0, 0);
        // SAFETY: no changes, room for one event, a timeout that lives across the call
        // (or null: none).
        let rc =
            unsafe { libc::kevent(outer.as_raw_fd(), std::ptr::null(), 0, &mut out, 1, timeout) };
        if rc >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        if passed(deadline) {
            return Ok(());
        }
    }
}

/// `proc_listpids(PROC_PGRP_ONLY, pgid)`: the processes in the group.
#[cfg(apple)]
pub(super) fn group_members(pgid: i32) -> io::Result<Vec<Pid>> {
    /// From `<sys/proc_info.h>`; not in `libc`.
    const PROC_PGRP_ONLY: u32 = 2;
    // Room for the group and some that join meanwhile.
    let mut pids = vec![0 as libc::pid_t; 256];
    loop {
        let bytes = (pids.len() * std::mem::size_of::<libc::pid_t>()) as libc::c_int;
        // SAFETY: the buffer holds `bytes` bytes of pid_t.
        let n = unsafe {
            libc::proc_listpids(PROC_PGRP_ONLY, pgid as u32, pids.as_mut_ptr().cast(), bytes)
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let count = n as usize / std::mem::size_of::<libc::pid_t>();
        if count < pids.len() {
            pids.truncate(count);
            return Ok(pids.into_iter().filter_map(Pid::new).collect());
        }
        let more = pids.len() * 4;
        pids.resize(more, 0);
    }
}
