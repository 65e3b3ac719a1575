//! macOS: no subreaper, so orphans go to launchd, and no `/proc`: the wrapper cannot find,
//! wait for or stop what leaves COMMAND. It stops COMMAND's group at the deadline (while
//! COMMAND runs); once COMMAND has exited it has no other children, and exits.

/// Nothing beyond COMMAND can be found here.
pub(in super::super) struct Descendants;

/// No subreaper on macOS.
pub(in super::super) fn become_subreaper() {}

impl Descendants {
    /// For the process `me` (the wrapper).
    pub(in super::super) fn new(_me: i32) -> Descendants {
        Descendants
    }

    /// Nothing to note: none can be found.
    pub(in super::super) fn group_signalled(&mut self, _pgid: i32) {}

    /// None can be found: none is asked.
    pub(in super::super) fn ask(&mut self, _sig: i32) -> usize {
        0
    }

    /// None can be found.
    pub(in super::super) fn forward(&mut self, _sig: i32) {}

    /// None can be found.
    pub(in super::super) fn kill(&mut self) -> usize {
        0
    }
}
