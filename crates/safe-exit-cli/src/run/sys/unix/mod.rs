//! The init loop on unix: one thread, every signal it acts on blocked and taken in turn (see
//! the `run` module's docs for the behaviour).

mod descendants;
mod signals;
mod spawn;
mod tty;

use std::io;
use std::time::{Duration, Instant};

use safe_exit::Signal;

use super::super::Config;
use crate::message::say;
use crate::parse;
use descendants::Descendants;
use signals::Signals;
use tty::Terminal;

/// After SIGKILL, how long the loop waits for a SIGCHLD before it looks for descendants
/// again: a process that forked just as its parent was killed may have escaped one walk, and
/// its birth sends the wrapper nothing. Only after SIGKILL; the grace period is not polled.
const RECHECK: Duration = Duration::from_millis(100);

/// The wrapper's exit status when COMMAND was ended by signal `sig`: 128 + `sig`, as shells
/// report it (at most 255: FreeBSD's real-time signals go beyond 127).
fn status_for_signal(sig: i32) -> u8 {
    u8::try_from(128 + sig.clamp(0, 127)).unwrap_or(u8::MAX)
}

/// Runs COMMAND under the wrapper; its exit status (or 126, 127 if it could not be started).
pub(crate) fn run(config: &Config) -> u8 {
    let signals = match Signals::take() {
        Ok(signals) => signals,
        Err(e) => {
            say(&format!(
                "safe-exit: cannot block the signals it forwards: {e}"
            ));
            return 126;
        }
    };
    descendants::become_subreaper();
    let terminal = Terminal::of_stdin();
    // SAFETY: getpid and getpgrp have no preconditions and cannot fail.
    let (me, my_group) = unsafe { (libc::getpid(), libc::getpgrp()) };
    let foreground = terminal
        .as_ref()
        .is_some_and(|t| t.foreground() == Some(my_group));
    let no_terminal = terminal.is_none() && tty::none_controlling();
    let child = match spawn::spawn(
        &config.command,
        signals.inherited(),
        foreground,
        no_terminal,
    ) {
        Ok(pid) => pid,
        Err(e) => {
            // The child may have taken the terminal before its exec failed.
            if let (true, Some(t)) = (foreground, &terminal) {
                t.give(my_group);
            }
            say(&format!(
                "safe-exit: cannot run {:?}: {e}",
                config.command[0]
            ));
            return if e.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            };
        }
    };
    let status = Supervisor {
        config,
        signals,
        terminal,
        descendants: Descendants::new(me),
        my_group,
        child,
        status: None,
        deadline: None,
        stopped_by: None,
        forced: false,
    }
    .run();
    // Everything is gone: end now. Nothing is buffered (messages are written as they come, the
    // terminal is back with our group), and the wrapper's own teardown would only delay the
    // moment its supervisor sees it gone.
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(i32::from(status)) }
}

/// The wrapper's state once COMMAND runs.
struct Supervisor<'a> {
    config: &'a Config,
    signals: Signals,
    /// stdin, when it is the controlling terminal.
    terminal: Option<Terminal>,
    /// What COMMAND started.
    descendants: Descendants,
    /// The wrapper's own process group.
    my_group: i32,
    /// COMMAND's pid, and the id of its process group. Both are pinned while `status` is
    /// `None`: an unreaped child's pid is never reused, nor, then, the group id it created.
    child: i32,
    /// COMMAND's exit status, once it has been reaped.
    status: Option<u8>,
    /// When SIGKILL is due (set by the first termination signal, or when COMMAND exits
    /// leaving descendants, whichever is first).
    deadline: Option<Instant>,
    /// The signal that started the grace period, for the message at its end.
    stopped_by: Option<i32>,
    /// The grace period is over: SIGKILL has been sent, and goes to anything found since.
    forced: bool,
}

impl Supervisor<'_> {
    /// The loop: returns COMMAND's status once it and everything it started are gone.
    fn run(mut self) -> u8 {
        loop {
            let now = Instant::now();
            if !self.forced && self.deadline.is_some_and(|d| now >= d) {
                self.force();
            }
            let timeout = if self.forced {
                Some(RECHECK)
            } else {
                self.deadline.map(|d| d.saturating_duration_since(now))
            };
            match self.signals.wait(timeout) {
                Some(libc::SIGCHLD) | None => {
                    if let Some(status) = self.reap() {
                        return status;
                    }
                }
                Some(libc::SIGCONT) => self.resume_child(),
                Some(sig) => self.on_signal(sig),
            }
        }
    }

    /// Reaps every child that has ended (`waitpid(-1, WNOHANG)` until none), notes COMMAND's
    /// status and stops, and acts on them. `Some(status)` when nothing is left.
    fn reap(&mut self) -> Option<u8> {
        let mut exited = false;
        let mut stopped = None;
        let gone = loop {
            let mut st = 0;
            // SAFETY: waitpid writes the status into a local.
            let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG | libc::WUNTRACED) };
            if pid == self.child && self.status.is_none() {
                if libc::WIFSTOPPED(st) {
                    stopped = Some(libc::WSTOPSIG(st));
                } else if libc::WIFEXITED(st) {
                    self.status = Some(libc::WEXITSTATUS(st) as u8);
                    exited = true;
                } else if libc::WIFSIGNALED(st) {
                    self.status = Some(status_for_signal(libc::WTERMSIG(st)));
                    exited = true;
                }
            } else if pid == 0 {
                break false; // children left, none ended
            } else if pid < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::ECHILD) => break true,
                    _ => break false,
                }
            }
            // Otherwise an orphan was reaped (or stopped: nothing to do).
        };
        if exited {
            // The terminal was COMMAND's: take it back, as a shell does when its job ends.
            if let Some(t) = &self.terminal {
                if t.foreground() == Some(self.child) {
                    t.give(self.my_group);
                }
            }
        } else if let Some(sig) = stopped {
            self.child_stopped(sig);
        }
        if gone {
            // COMMAND is a child until it is reaped, so its status is known here. (Were it
            // not, no SIGCHLD could ever come: end rather than hang.)
            return Some(self.status.unwrap_or(1));
        }
        if self.forced {
            self.descendants.kill();
        } else if self.status.is_some() {
            self.stop_leftovers();
        }
        None
    }

    /// A signal the wrapper received, other than SIGCHLD and SIGCONT.
    fn on_signal(&mut self, sig: i32) {
        let termination = matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT);
        if self.status.is_some() {
            // COMMAND is gone; what it left is being stopped already, which a termination
            // signal only asks for again.
            if !termination {
                self.descendants.forward(sig);
            }
        } else if !termination {
            self.to_child(sig);
        } else if !self.forced {
            let sig = self.config.stop_signal.map_or(sig, Signal::as_raw);
            if self.config.group && sig == self.leftover_signal() {
                // Those it reaches now are not sent it again if they outlive COMMAND.
                self.descendants.group_signalled(self.child);
            }
            self.to_child(sig);
            if sig != libc::SIGKILL {
                self.to_child(libc::SIGCONT);
            }
            self.start_grace(sig);
        }
    }

    /// `sig` to COMMAND's group (`--no-group`: to COMMAND), which must not have been reaped.
    fn to_child(&self, sig: i32) {
        // SAFETY: kill and getpgid on COMMAND (or its group), not reaped yet, so its pid (the
        // group's id) still names it; never 0 or -1.
        unsafe {
            if !self.config.group {
                libc::kill(self.child, sig);
                return;
            }
            libc::kill(-self.child, sig);
            // COMMAND moved to another group (setpgid): it is still COMMAND, and gets it too.
            if libc::getpgid(self.child) != self.child {
                libc::kill(self.child, sig);
            }
        }
    }

    /// Starts the grace period, or keeps the one running if it ends sooner.
    fn start_grace(&mut self, sig: i32) {
        let end = Instant::now().checked_add(self.config.grace);
        self.deadline = match (self.deadline, end) {
            (Some(running), Some(end)) => Some(running.min(end)),
            // A grace too long for the clock: no deadline.
            (running, end) => running.or(end),
        };
        self.stopped_by.get_or_insert(sig);
    }

    /// The signal for what COMMAND leaves: `--stop-signal`, else TERM.
    fn leftover_signal(&self) -> i32 {
        self.config
            .stop_signal
            .map_or(libc::SIGTERM, Signal::as_raw)
    }

    /// COMMAND has exited but left descendants: each gets the stop signal once (not the
    /// members of COMMAND's group that had that very signal with it already; a shell's
    /// background job that ignored an INT still gets TERM), and the grace period runs.
    fn stop_leftovers(&mut self) {
        let sig = self.leftover_signal();
        self.descendants.ask(sig);
        self.start_grace(sig);
    }

    /// The grace period is over: SIGKILL to COMMAND's group and to every descendant.
    fn force(&mut self) {
        self.forced = true;
        let program = self.config.command[0].to_string_lossy();
        let grace = parse::humane(self.config.grace);
        let after = parse::signal_name(self.stopped_by.unwrap_or(libc::SIGTERM));
        if self.status.is_none() {
            // SAFETY: as in `to_child`: COMMAND has not been reaped. The whole group, also
            // with --no-group: nothing is to outlive the deadline.
            unsafe {
                libc::kill(-self.child, libc::SIGKILL);
                libc::kill(self.child, libc::SIGKILL);
            }
            self.descendants.kill();
            say(&format!(
                "safe-exit: {program} still running {grace} after {after}: killed it and what \
                 it started with SIGKILL"
            ));
        } else {
            // None found: they ended just now, or cannot be found (no /proc): nothing to say.
            let n = self.descendants.kill();
            if n > 0 {
                say(&format!(
                    "safe-exit: {n} process(es) left by {program} still running {grace} after \
                     {after}: killed with SIGKILL"
                ));
            }
        }
    }

    /// COMMAND was stopped by `sig`. By the terminal (TSTP, TTIN, TTOU) and with one: do
    /// what a shell does, take the terminal back, and stop the wrapper's own job the same
    /// way so that the shell above sees it stopped; once continued, resume COMMAND. Where
    /// nothing can continue the wrapper (its group is orphaned): after Ctrl-Z (TSTP) at
    /// once; after TTIN or TTOU (COMMAND read or wrote the terminal from the background) not
    /// until a SIGCONT, since it would only stop again.
    fn child_stopped(&mut self, sig: i32) {
        if !matches!(sig, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU) {
            return; // a SIGSTOP from someone: theirs to continue
        }
        let Some(t) = &self.terminal else { return };
        if t.foreground() == Some(self.child) {
            t.give(self.my_group);
        }
        if self.signals.takes(sig) {
            // SAFETY: killpg on the wrapper's own group, which cannot be recycled while the
            // wrapper is in it. Its other members (a pipeline, the script that started it)
            // stop as they would have, had COMMAND been in their group.
            unsafe { libc::killpg(self.my_group, sig) };
            self.signals.stop_by(sig);
            // Continued (fg, bg): that SIGCONT is handled here.
            let continued = self.signals.take_pending(libc::SIGCONT);
            if !continued && sig != libc::SIGTSTP {
                // Nothing can continue the wrapper (its group is orphaned) and COMMAND wants
                // the terminal from the background: resumed, it would only stop again, in a
                // loop. It stays stopped, as a background job does, until a SIGCONT.
                return;
            }
        }
        self.resume_child();
    }

    /// SIGCONT: COMMAND's group gets the terminal back if the wrapper has it (fg, not bg),
    /// and is continued as a whole, also with --no-group (the terminal stopped all of it).
    fn resume_child(&mut self) {
        if self.status.is_some() {
            self.descendants.forward(libc::SIGCONT);
            return;
        }
        if let Some(t) = &self.terminal {
            if t.foreground() == Some(self.my_group) {
                t.give(self.child);
            }
        }
        // SAFETY: as in `to_child`: COMMAND has not been reaped.
        unsafe { libc::kill(-self.child, libc::SIGCONT) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_for_signals() {
        assert_eq!(status_for_signal(15), 143);
        assert_eq!(status_for_signal(9), 137);
        assert_eq!(status_for_signal(64), 192);
        assert_eq!(status_for_signal(126), 254);
        assert_eq!(status_for_signal(128), 255);
    }
}
