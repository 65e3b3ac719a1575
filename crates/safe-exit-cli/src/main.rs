//! `safe-kill`: ask processes to end, wait, force them after a deadline, report what happened.

fn main() {}
