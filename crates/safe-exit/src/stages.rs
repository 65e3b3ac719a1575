//! Stage timestamps for the benchmark (feature `stage-timestamps`): the moments on the path from
//! a termination signal to the first hook, read with `CLOCK_MONOTONIC` into atomics. Without
//! the feature every call here compiles to nothing.
//!
//! A leaf: `sys` stamps the handler and the watcher, the core stamps the hook runner.

/// The moments stamped, in the order they happen. (Only the hook runner is stamped on
/// Windows, which has no signal handler and watcher of this kind.)
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) enum Stage {
    /// The signal handler received the first termination signal.
    Handler = 0,
    /// The watcher thread woke for the wake-up that hands that signal to the core.
    Watcher = 1,
    /// The hook runner is about to call the first hook.
    Runner = 2,
}

#[cfg(feature = "stage-timestamps")]
static STAMPS: [std::sync::atomic::AtomicU64; 3] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 3];

/// Stamps `stage` with the time now unless it was already (the first time wins).
/// Async-signal-safe (one `clock_gettime` and a compare-and-swap).
#[inline(always)]
pub(crate) fn stamp(stage: Stage) {
    stamp_at(stage, now());
}

/// Stamps `stage` with `at` (from [`now`]) unless it was already.
#[inline(always)]
pub(crate) fn stamp_at(stage: Stage, at: u64) {
    #[cfg(feature = "stage-timestamps")]
    {
        use std::sync::atomic::Ordering;
        let _ = STAMPS[stage as usize].compare_exchange(0, at, Ordering::AcqRel, Ordering::Relaxed);
    }
    #[cfg(not(feature = "stage-timestamps"))]
    let _ = (stage, at);
}

/// The time now for [`stamp_at`]; 0 without the feature (no clock is read).
#[inline(always)]
pub(crate) fn now() -> u64 {
    #[cfg(feature = "stage-timestamps")]
    return now_ns();
    #[cfg(not(feature = "stage-timestamps"))]
    0
}

#[cfg(feature = "stage-timestamps")]
fn now_ns() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: a zeroed timespec is a valid out-parameter; clock_gettime is
        // async-signal-safe.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// The stamps of this process, in nanoseconds of `CLOCK_MONOTONIC` (0: not reached): the
/// handler, the watcher woken, the hook runner.
#[cfg(feature = "stage-timestamps")]
pub fn read() -> [u64; 3] {
    use std::sync::atomic::Ordering;
    [0, 1, 2].map(|i| STAMPS[i].load(Ordering::Acquire))
}
