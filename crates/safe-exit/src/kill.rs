//! safe_kill: options, outcome and error, and the platform-free logic.
//! (Being written; the public names are fixed by the design.)

use std::time::Duration;

/// How [`safe_kill_with`] asks a process to end.
#[derive(Clone, Debug)]
pub struct KillOptions {
    signal: i32,
    timeout: Duration,
    force_kill: bool,
}

impl Default for KillOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl KillOptions {
    /// SIGTERM, 4 s, then force.
    pub fn new() -> Self {
        KillOptions {
            signal: 15,
            timeout: Duration::from_secs(4),
            force_kill: true,
        }
    }
    /// The polite signal.
    pub fn signal(mut self, signal: i32) -> Self {
        self.signal = signal;
        self
    }
    /// The deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Whether to force after the deadline.
    pub fn force_kill(mut self, force: bool) -> Self {
        self.force_kill = force;
        self
    }
}

/// What happened to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillOutcome {
    /// Ended within the deadline.
    Exited,
    /// Forced.
    Killed,
    /// Still running after the deadline.
    StillRunning,
    /// Already gone.
    NotRunning,
}

/// Why safe_kill failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KillError {
    /// Not implemented yet.
    #[error("safe_kill is not implemented yet")]
    Unsupported,
}

/// SIGTERM, 4 s, then SIGKILL.
pub fn safe_kill(pid: u32) -> Result<KillOutcome, KillError> {
    safe_kill_with(pid, &KillOptions::new())
}

/// With options.
pub fn safe_kill_with(_pid: u32, _opts: &KillOptions) -> Result<KillOutcome, KillError> {
    Err(KillError::Unsupported)
}

/// Many at once.
pub fn safe_kill_all(pids: &[u32], opts: &KillOptions) -> Vec<Result<KillOutcome, KillError>> {
    pids.iter().map(|&p| safe_kill_with(p, opts)).collect()
}
