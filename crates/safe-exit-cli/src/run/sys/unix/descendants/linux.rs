//! Linux: the wrapper's descendants are the processes in `/proc` whose parent chain leads to
//! it; each is signalled through a pidfd opened after the walk and checked against the start
//! time the walk saw, so never a recycled pid.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A process seen in one walk of `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Proc {
    pid: i32,
    /// Its process group.
    pgid: i32,
    /// When it started (clock ticks after boot): with the pid, its identity.
    start: u64,
}

/// The wrapper's descendants, and what each has been sent.
pub(in super::super) struct Descendants {
    /// The wrapper's pid.
    me: i32,
    /// The process group that was last sent the stop signal as a whole, and the clock tick
    /// (as `/proc/PID/stat` counts them) just before: its members that started in an
    /// earlier tick had it.
    group_signalled: Option<(i32, u64)>,
    /// Those already sent the stop signal, by identity: each gets it once.
    asked: HashSet<(i32, u64)>,
    /// Those already sent SIGKILL, by identity.
    killed: HashSet<(i32, u64)>,
    /// Whether pidfds may be used; false after `ENOSYS` (before Linux 5.3) or `EPERM` (a
    /// seccomp filter): then `kill`, right after checking the start time again.
    pidfds: bool,
}

/// The fields of `/proc/PID/stat` the walk needs: parent, process group, state, start time.
/// The state is the main thread's: a process whose main thread has exited
/// (`pthread_exit`) while others run shows `Z`; it is reported as running (`R`) then, from
/// its thread count.
fn stat(pid: i32) -> Option<(i32, i32, char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Fields 3 (state), 4 (ppid), 5 (pgrp), 20 (num_threads), 22 (starttime), counted from
    // 1 with pid and comm: here from 0 after comm.
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let pgid = fields.get(2)?.parse().ok()?;
    let threads: u64 = fields.get(17)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    let state = if state == 'Z' && threads > 1 {
        'R'
    } else {
        state
    };
    Some((ppid, pgid, state, start))
}

/// Every live (not zombie) descendant of `me` in one walk of `/proc`; `None` when `/proc`
/// cannot tell (not mounted, or mounted for another PID namespace than ours: its pids would
/// not be ours to signal).
fn walk(me: i32) -> Option<Vec<Proc>> {
    let own = std::fs::read_link("/proc/self").ok()?;
    if own.to_str()?.parse::<i32>().ok()? != me {
        return None;
    }
    let mut children: HashMap<i32, Vec<(Proc, bool)>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        // Gone since the directory was read: skipped.
        if let Some((ppid, pgid, state, start)) = stat(pid) {
            let live = !matches!(state, 'Z' | 'X' | 'x');
            children
                .entry(ppid)
                .or_default()
                .push((Proc { pid, pgid, start }, live));
        }
    }
    // Breadth first from `me`. The walk is not one instant: a pid met twice is taken once.
    let mut found = Vec::new();
    let mut seen = HashSet::from([me]);
    let mut next = vec![me];
    while let Some(parent) = next.pop() {
        for &(p, live) in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(p.pid) {
                next.push(p.pid);
                if live {
                    found.push(p);
                }
            }
        }
    }
    Some(found)
}

/// The clock that `/proc/PID/stat` counts start times in: `CLOCK_BOOTTIME`, in clock ticks
/// (`sysconf(_SC_CLK_TCK)`, 100 a second), rounded down as the kernel rounds start times. In
/// a time namespace both are shifted alike.
fn boot_ticks() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, into a local; sysconf only reads.
    let hz = unsafe {
        libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts);
        libc::sysconf(libc::_SC_CLK_TCK)
    };
    let hz = u128::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100);
    let ns = u128::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000
        + u128::try_from(ts.tv_nsec).unwrap_or(0);
    u64::try_from(ns * hz / 1_000_000_000).unwrap_or(u64::MAX)
}

/// `pidfd_open(2)`.
fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `pidfd_send_signal(2)`: `sig` to the process `pidfd` pins.
fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> bool {
    // SAFETY: a valid pidfd, a null siginfo and no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    rc == 0
}

impl Descendants {
    /// For the process `me` (the wrapper).
    pub(in super::super) fn new(me: i32) -> Descendants {
        Descendants {
            me,
            group_signalled: None,
            asked: HashSet::new(),
            killed: HashSet::new(),
            pidfds: true,
        }
    }

    /// Sends `sig` to `p` if the pid still names the process the walk saw.
    fn send(&mut self, p: Proc, sig: i32) -> bool {
        if self.pidfds {
            match pidfd_open(p.pid) {
                // Pinned now: if the start time still matches, the pidfd is that process.
                Ok(fd) => {
                    return stat(p.pid).map(|s| s.3) == Some(p.start) && pidfd_send_signal(&fd, sig)
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    self.pidfds = false;
                }
                // ESRCH: it has exited (and was reaped) since the walk.
                Err(_) => return false,
            }
        }
        // Without pidfds the pid and its start time, checked right before kill: a pid
        // recycled in between (microseconds) is the one case this cannot rule out.
        // SAFETY: kill on a positive pid (a walk never yields 0 or a negative pid).
        stat(p.pid).map(|s| s.3) == Some(p.start) && unsafe { libc::kill(p.pid, sig) } == 0
    }

    /// Notes that the stop signal is about to go to the process group `pgid` as a whole: its
    /// members as of now are not sent it again by [`Descendants::ask`].
    ///
    /// By start time, at the clock's resolution (10 ms): a member that started in an earlier
    /// tick had it; one that started in the same tick may get it twice, one started later
    /// gets it from `ask`. (A snapshot of the group's members would be exact, but costs a
    /// walk of `/proc` while COMMAND is ending.)
    pub(in super::super) fn group_signalled(&mut self, pgid: i32) {
        self.group_signalled = Some((pgid, boot_ticks()));
    }

    /// Sends `sig`, then SIGCONT (a stopped process cannot act on it), to each descendant that
    /// has not had the stop signal yet (see [`Descendants::group_signalled`]). How many got
    /// it.
    pub(in super::super) fn ask(&mut self, sig: i32) -> usize {
        let mut sent = 0;
        for p in walk(self.me).unwrap_or_default() {
            let had_it = self
                .group_signalled
                .is_some_and(|(pgid, tick)| p.pgid == pgid && p.start < tick);
            if had_it || !self.asked.insert((p.pid, p.start)) {
                continue;
            }
            if self.send(p, sig) {
                sent += 1;
                if sig != libc::SIGKILL {
                    self.send(p, libc::SIGCONT);
                }
            }
        }
        sent
    }

    /// Sends `sig` to every descendant (a signal passed on once COMMAND has exited).
    pub(in super::super) fn forward(&mut self, sig: i32) {
        for p in walk(self.me).unwrap_or_default() {
            self.send(p, sig);
        }
    }

    /// SIGKILL to each descendant not killed yet; how many.
    pub(in super::super) fn kill(&mut self) -> usize {
        let mut sent = 0;
        for p in walk(self.me).unwrap_or_default() {
            if self.killed.insert((p.pid, p.start)) && self.send(p, libc::SIGKILL) {
                sent += 1;
            }
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our own stat line parses (a command name with spaces and parentheses would too: the
    /// fields are taken after the last `)`), and a walk from pid 1 of the test's namespace
    /// finds the test process itself, alive.
    #[test]
    fn the_walk_finds_this_process_under_its_ancestors() {
        let me = std::process::id() as i32;
        let (ppid, _, state, start) = stat(me).expect("our own /proc/PID/stat");
        assert!(ppid > 0 && state != 'Z' && start > 0);
        let under_parent = walk_from(ppid);
        assert!(under_parent.iter().any(|p| p.pid == me), "{under_parent:?}");
    }

    /// A walk from `root` (a process other than ours: `walk` refuses a `/proc` whose `self` is
    /// not `me`, so this one skips that check).
    fn walk_from(root: i32) -> Vec<Proc> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                if let Some((ppid, pgid, _, start)) = stat(pid) {
                    all.push((ppid, Proc { pid, pgid, start }));
                }
            }
        }
        all.into_iter()
            .filter(|(ppid, _)| *ppid == root)
            .map(|(_, p)| p)
            .collect()
    }

    /// Start times and the clock agree: this process started no later than now, and a
    /// process started now is not in an earlier tick than now.
    #[test]
    fn start_times_and_the_clock_count_alike() {
        let before = boot_ticks();
        let child = std::process::Command::new("sleep")
            .arg("1")
            .spawn()
            .unwrap();
        let (_, _, _, start) = stat(child.id() as i32).unwrap();
        let after = boot_ticks();
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            before <= start && start <= after,
            "{before} {start} {after}"
        );
        let (_, _, _, mine) = stat(std::process::id() as i32).unwrap();
        assert!(mine <= before);
    }

    #[test]
    fn a_proc_of_another_namespace_is_refused() {
        assert!(walk(std::process::id() as i32).is_some());
        assert!(walk(std::process::id() as i32 + 1).is_none());
    }
}
