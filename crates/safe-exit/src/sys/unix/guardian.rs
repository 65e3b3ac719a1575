//! `die_with_parent` on unix: a guardian process that kills a child when the process that
//! started it is gone (Linux, Android); elsewhere, a spawn that fails with `Unsupported`.
//!
//! # Why not `PR_SET_PDEATHSIG`
//!
//! The parent-death signal belongs to the *thread* that forked the child: the kernel sends it
//! when that thread exits, even while the rest of the process runs on (on reparenting to a
//! sibling thread, `forget_original_parent` still delivers it). With std's `Command` the caller
//! cannot choose the forking thread, so a child spawned from a short-lived thread would die
//! with that thread. The kernel also clears it when the child executes a set-user-ID or
//! set-group-ID program. So it is not used.
//!
//! # The guardian
//!
//! One process per process tree, `safe-exit-guard`, holds a pidfd for each guarded child and
//! one for the process that spawned it, and polls them all:
//!
//! - **Start** (`linux.rs`, in the parent, in normal context): lazily, at the first
//!   `die_with_parent`, and again when the previous guardian is gone (our end of its socket
//!   polls `POLLHUP`). An `AF_UNIX` `SOCK_SEQPACKET` socket pair; a double fork (parent →
//!   intermediate → guardian; the intermediate `_exit`s at once and the parent reaps exactly
//!   that pid), so the guardian is not our child and no `waitpid(-1)` of the program can reap
//!   it; the guardian says it is ready with one byte.
//! - **Registration** (`linux.rs`, in the child, in `pre_exec`, async-signal-safe): the child
//!   checks that its parent is still the process that configured the command, opens its own
//!   pidfd, and sends it with the parent's own pidfd (opened by the parent once, inherited)
//!   to the guardian in one `sendmsg` with `SCM_RIGHTS`. No acknowledgement is needed: file
//!   descriptors in flight are pinned, and the parent's pidfd polls readable even if the
//!   parent is gone before the guardian reads the message. Any failure makes `spawn` fail.
//! - **Letting go of the parent's memory** (`serve.rs`, in the guardian, before its ready
//!   byte): a fork without exec starts with a copy-on-write view of all of the parent's
//!   memory, and every page the parent later writes or frees would be left to the guardian
//!   alone: up to the whole parent as it was, GBs for a large service or interpreter. So the
//!   guardian reads `/proc/self/maps` (into a buffer on its stack, line by line) and unmaps
//!   every private anonymous writable mapping (the heap, `malloc`'s arenas and large blocks,
//!   other threads' stacks, the main stack) and every shared writable one, except what it
//!   still uses afterwards: the address ranges that the parent found out in normal context
//!   just before the fork (`Keep`: 64 KiB around the forking thread's thread pointer,
//!   `pthread_self()`, errno and rseq area, since the kernel kills a process whose
//!   registered rseq area is gone; the `.bss` of every loaded object past its file's pages,
//!   from `dl_iterate_phdr`, which holds the C library's and the loader's state; the command
//!   line, which `ps` shows), and its stack around where it runs, whose mapping must stay
//!   (there, pages are discarded with `MADV_DONTNEED` instead). File mappings (code, data)
//!   stay whole, as does everything read-only or executable. Unmapping rather than
//!   discarding frees the page tables too, and a mistake faults (if it shows before the
//!   ready byte, the spawn fails) where discarded pages would read as zeros, silently. The
//!   guardian uses no static of this crate's or of the program's, only the C library's. The
//!   release is not made where the thread pointer is not read (architectures other than
//!   x86_64, aarch64, riscv64; Android), with a shadow stack, or under a sanitizer. Measured
//!   (Linux 6.18, x86_64, glibc 2.36): a parent that held 256 MiB when the guardian started,
//!   then rewrote and freed it, leaves the guardian 0.2 MiB of anonymous memory instead of
//!   256 MiB; CPython 3.11 with a 256 MiB heap, 1.6 MiB (most of it `libpython`'s `.data`).
//! - **Serving** (`serve.rs`, in the guardian, which was forked from a possibly multi-threaded
//!   process and so makes system calls only): a child's pidfd readable, the child has exited:
//!   forget it; a parent's pidfd readable, that process has exited (all its threads): SIGKILL
//!   its children through their pidfds. Once every holder of the other end of the socket is
//!   gone (exited or exec'd) and no child is left, it exits.
//!
//! A process forked without exec shares its parent's guardian (it inherits the socket), and
//! sends its *own* pidfd with its children: they die with it, not with the original parent.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod serve;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use linux::{die_with_parent, prepare_for_spawn, register_in_child};

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use unsupported::{die_with_parent, prepare_for_spawn, register_in_child};

/// The systems without pidfds: the spawn fails with `ENOSYS` (`ErrorKind::Unsupported`), and
/// the reason is reported on stderr, once per process.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod unsupported {
    use std::io;
    use std::os::unix::process::CommandExt as _;
    use std::process::Command;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set once the reason has been reported.
    static REPORTED: AtomicBool = AtomicBool::new(false);

    /// No means here: the error, now.
    pub(crate) fn prepare_for_spawn() -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "die_with_parent is not supported on {}: there is no means to kill a child \
                 when this process dies without running its hooks",
                std::env::consts::OS
            ),
        ))
    }

    /// Never reached (the parent's half fails first).
    pub(crate) fn register_in_child() -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }

    /// Makes the spawn of `cmd` fail with `ENOSYS`, and says why on stderr (once).
    pub(crate) fn die_with_parent(cmd: &mut Command) {
        if !REPORTED.swap(true, Ordering::Relaxed) {
            super::super::report(&format!(
                "safe-exit: die_with_parent is not supported on {}: safe-exit has no means \
                 there to kill a child when this process dies without running its hooks \
                 (SIGKILL, abort, crash), so the spawn fails (Unsupported); safe_exit::own \
                 stops children politely on every ending that runs hooks",
                std::env::consts::OS
            ));
        }
        // SAFETY: the closure only makes an `io::Error` from an error number: no allocation,
        // no lock, no system call; it is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| Err(io::Error::from_raw_os_error(libc::ENOSYS)));
        }
    }
}
