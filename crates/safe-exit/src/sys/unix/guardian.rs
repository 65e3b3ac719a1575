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
//!   `die_with_parent`, and again when the previous guardian is gone. An `AF_UNIX`
//!   `SOCK_SEQPACKET` socket pair; a double fork (parent → intermediate → guardian; the
//!   intermediate `_exit`s at once and the parent reaps exactly that pid), so the guardian is
//!   not our child and no `waitpid(-1)` of the program can reap it. The intermediate, whose
//!   unreaped child the guardian is (so its pid is its own), opens a pidfd of it and sends it
//!   to the parent on the socket before it exits; the guardian says it is ready with one
//!   byte. The parent keeps its end of the socket and that pidfd, each with its identity
//!   (`fstat`: device and inode).
//! - **Is it still there** (`linux.rs`, in the parent before each spawn and in the child):
//!   the guardian's pidfd is not readable, and both descriptors still carry their identity.
//!   The hang-up of the socket is not enough: a process forked without exec by another
//!   thread while `start` ran (between `socketpair` and the close of the guardian's end in
//!   the parent) holds the guardian's end for as long as it lives, and the socket never
//!   hangs up when the guardian dies. Nor is a bare descriptor number: a program that closes
//!   descriptors it did not open (a daemon after a fork) may have anything on that number,
//!   its own socket, a file. A descriptor that lost its identity counts as gone: the parent
//!   starts a new guardian, a child fails (`EBADF`). Before Linux 6.9 every pidfd has the
//!   same identity (one anonymous inode), so a pidfd reused for another pidfd is not told;
//!   the socket's hang-up is still checked in the parent.
//! - **Registration** (`linux.rs`, in the child, in `pre_exec`, async-signal-safe): the child
//!   checks that its parent is still the process that configured the command and that the
//!   guardian's descriptors are intact and the guardian alive; opens a pidfd of itself and
//!   one of its parent (`getppid` again after it: a parent that died meanwhile reparented the
//!   child, so the pidfd cannot be of a process that took its pid over), and a pipe; and
//!   sends the pipe's write end and both pidfds to the guardian in one `sendmsg` with
//!   `SCM_RIGHTS`. It then waits, polling the guardian's pidfd too, for the guardian's answer
//!   on the pipe: one byte, 0 once the child is in the guardian's table, else the error number
//!   of its refusal (out of descriptors or memory). The wait costs a round trip per spawn; it
//!   is what makes a refusal a failed spawn rather than a child that runs unguarded or is
//!   killed at birth (which std's `spawn` would report as success). Each child has its own
//!   pipe, so answers cannot go to the wrong child on the shared socket. The pipe's end
//!   without an answer means the guardian dropped the message: dead (`EPIPE`, once its pidfd
//!   reports it), or with no descriptor slot at all (`EMFILE`). Any failure makes `spawn`
//!   fail; so does no answer within 10 s (`ETIMEDOUT`: a stopped guardian).
//! - **Letting go of the parent's memory** (`release.rs`, in the guardian, before its ready
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
//!   process and so makes system calls only): a registration: add it to the table and answer;
//!   a child's pidfd readable, the child has exited: forget it; a parent's pidfd readable,
//!   that process has exited (all its threads): SIGKILL its children through their pidfds.
//!   Once every holder of the other end of the socket is gone (exited or exec'd) and no child
//!   is left, it exits. It keeps one descriptor in reserve and lets it go just before each
//!   `recvmsg`, so that the first descriptor of a registration, the answer's pipe, always
//!   arrives even at its descriptor limit: a child it has no room for is told so.
//!
//! A process forked without exec shares its parent's guardian (it inherits the socket and the
//! guardian's pidfd), and once it has called `die_with_parent` itself, its children send a
//! pidfd of *it*: they die with it, not with the original parent.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod release;
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
