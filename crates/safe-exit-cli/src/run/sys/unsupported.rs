//! Where `safe-exit run` is not implemented (Windows, and unix systems other than Linux,
//! FreeBSD and macOS): one line on stderr and status 2, before anything is started.

use super::super::Config;

/// Says that `run` is not supported here; exit status 2.
pub(crate) fn run(config: &Config) -> u8 {
    crate::message::say(&format!(
        "safe-exit: cannot run {:?}: safe-exit run is not supported on {}: it needs unix \
         signals, process groups and a way to reap orphans (Linux, FreeBSD, macOS)",
        config.command[0],
        std::env::consts::OS
    ));
    2
}
