//! safe_kill on unix: pidfd (Linux), kqueue (macOS/BSD), `kill` + wait elsewhere.
