//! What Linux tells about a pid beyond pidfds: whether it is a thread rather than a process
//! (`tgkill(tgid, tid, 0)`, and `/proc/PID/status`), its state and process group
//! (`/proc/PID/stat`), and the members of a process group (a scan of `/proc`).

use std::io;

use super::errno;
use crate::kill::ThreadOwner;
use crate::pid::Pid;

/// `tgkill(tgid, tid, 0)`, which signals nothing: `Some(true)` if `tid` is a thread of
/// the thread group `tgid` (for `tgid == tid`: `tid` is a process), `Some(false)` if not
/// (or if there is no such thread), `None` if the call is not available (a seccomp
/// filter). The kernel checks the thread's actual group, so the answer for a live thread
/// cannot be stale while that thread lives.
pub(super) fn in_thread_group(tgid: i32, tid: i32) -> Option<bool> {
    // SAFETY: tgkill with signal 0 only checks that the thread exists in that thread
    // group (and the permission to signal it); both ids are positive.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, 0) };
    if rc == 0 {
        return Some(true);
    }
    match errno() {
        // It exists, in that group, but belongs to someone else.
        libc::EPERM => Some(true),
        libc::ESRCH => Some(false),
        _ => None,
    }
}

/// The `Tgid:` line of `/proc/PID/status` (also readable for a thread id, though thread
/// ids are not listed in `/proc`): the pid of the process the thread belongs to.
fn status_tgid(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// See [`super::thread_owner`].
///
/// Our own threads: `tgkill(getpid(), pid, 0)`. Race-free for as long as the thread
/// lives: the kernel answers from the thread's actual thread group. (Once it has ended
/// its id may go to another process, which is then no longer ours; the fallback path
/// checks again right before each `kill`, see [`super::poll::exited`].)
///
/// Another process's thread: `tgkill(pid, pid, 0)` fails (`ESRCH`) for a thread that
/// does not lead its thread group, while `kill(pid, 0)` accepts any thread id; its
/// process is then the `Tgid` of `/proc/PID/status`. Without `tgkill` (a seccomp filter),
/// `/proc` alone decides.
pub(super) fn thread_owner(pid: Pid) -> Option<ThreadOwner> {
    // SAFETY: getpid has no preconditions and cannot fail.
    let me = unsafe { libc::getpid() };
    let pid = pid.as_raw();
    if pid == me {
        return None; // the process itself, not one of its threads
    }
    let ours = match in_thread_group(me, pid) {
        Some(ours) => ours,
        None => status_tgid(pid) == Some(me),
    };
    if ours {
        return Some(ThreadOwner::Caller);
    }
    let leads = match in_thread_group(pid, pid) {
        Some(leads) => leads,
        // Unknown without tgkill: /proc decides, and a pid it does not show is not a
        // thread we know of.
        None => status_tgid(pid).map_or(true, |tgid| tgid == pid),
    };
    if leads {
        return None;
    }
    // Not a process: a thread of another process, or nothing at all.
    // SAFETY: signal 0 only checks existence (for any thread id); pid is positive.
    if unsafe { libc::kill(pid, 0) } != 0 && errno() == libc::ESRCH {
        return None;
    }
    match status_tgid(pid) {
        // Recycled meanwhile as a process of its own.
        Some(tgid) if tgid == pid => None,
        Some(tgid) if tgid == me => Some(ThreadOwner::Caller),
        tgid => Some(ThreadOwner::Other(tgid.map(|t| t as u32))),
    }
}

/// The fields of `/proc/PID/stat` that we need.
pub(super) struct Stat {
    pub(super) state: char,
    pub(super) pgrp: i32,
    /// When the process started, in clock ticks after boot: with the pid, its identity (a
    /// recycled pid has a later start).
    pub(super) start: u64,
}

/// Reads `/proc/PID/stat`; `None` if the process is gone (or `/proc` is missing).
pub(super) fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so
    // start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    // Field 22, `starttime`: 17 fields after `pgrp` (field 5).
    let start = fields.nth(16)?.parse().ok()?;
    Some(Stat { state, pgrp, start })
}

/// Every process in `/proc` whose process group is `pgid`.
pub(super) fn group_members(pgid: i32) -> io::Result<Vec<Pid>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let (Some(stat), Some(pid)) = (stat(pid), Pid::new(pid)) {
            if stat.pgrp == pgid {
                found.push(pid);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::super::poll;
    use super::*;

    /// Our own pid is a process; one of our threads is ours; a thread id that does not exist
    /// is nothing.
    #[test]
    fn thread_ids_are_told_apart_from_processes() {
        let me = Pid::new(std::process::id() as i32).unwrap();
        assert!(thread_owner(me).is_none());
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = stopped.recv();
        });
        let tid = Pid::new(rx.recv().unwrap()).unwrap();
        assert!(matches!(thread_owner(tid), Some(ThreadOwner::Caller)));
        // The fallback's liveness check: a thread id is not a live process.
        assert!(poll::exited(tid));
        assert!(!poll::exited(me));
        drop(stop);
        thread.join().unwrap();
    }
}
