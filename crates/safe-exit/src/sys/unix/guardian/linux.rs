//! The parent's side of the guardian (Linux, Android): starting it, and registering each child
//! with it from `pre_exec`.
//!
//! Nothing here takes a lock: the state is two atomics, so a process forked without exec
//! (which may have been forked while another thread was in here) never waits for a thread
//! that does not exist in it.
//!
//! - [`SOCKET`]: our end of the current guardian's socket. A new guardian replaces it; the
//!   old end is never closed (leaking one descriptor per restart), because a command
//!   configured earlier may be spawning right now with that number in hand.
//! - [`OWNER`]: this process's own pidfd, with the pid it was opened in. A process forked
//!   without exec finds its parent's pid there and opens its own.
//!
//! Two threads that both find no guardian may both start one; the first to publish its
//! socket wins, and the other closes its end, which its guardian (with nothing to guard)
//! takes as the signal to exit.

use std::io;
use std::os::unix::process::CommandExt as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use super::serve;

/// Our end of the current guardian's socket, or -1 before the first start.
static SOCKET: AtomicI32 = AtomicI32::new(-1);

/// This process's own pidfd and the pid it refers to, `pid << 32 | fd`; 0 before the first
/// use. A child sends the fd it inherited with this value.
static OWNER: AtomicU64 = AtomicU64::new(0);

/// Set once the lack of pidfds has been reported on stderr.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// How long the parent waits for a new guardian to say it is ready (it only sets itself up,
/// which takes microseconds) before the start counts as failed (`ETIMEDOUT`).
const READY_TIMEOUT_MS: i32 = 10_000;

/// The byte a guardian sends once it is ready, and the byte of each registration message.
pub(super) const HELLO: u8 = b'g';

/// Arranges for the child of `cmd` to be killed when this process ends. The guardian is
/// started now if none is running; if that fails, the spawn fails with its error (`ENOSYS`,
/// reported on stderr once, where the kernel has no pidfds).
pub(crate) fn die_with_parent(cmd: &mut Command) {
    let ready = prepare();
    if ready == Err(libc::ENOSYS) && !REPORTED.swap(true, Ordering::Relaxed) {
        super::super::report(
            "safe-exit: die_with_parent needs pidfds (Linux 5.3 or later), which this system \
             does not offer (pidfd_open fails), so the spawn fails (Unsupported); \
             safe_exit::own stops children politely on every ending that runs hooks",
        );
    }
    // SAFETY: the closure is async-signal-safe: it reads two atomics and makes system calls
    // (`register_child`), with no allocation, no lock and no panic (an `io::Error` made from
    // an error number allocates nothing).
    unsafe {
        cmd.pre_exec(move || match ready {
            Ok(()) => register_child(),
            Err(errno) => Err(io::Error::from_raw_os_error(errno)),
        });
    }
}

/// This thread's `errno`.
fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Makes sure that this process has its own pidfd and that a guardian is running; the error
/// number otherwise.
fn prepare() -> Result<(), i32> {
    own_pidfd()?;
    let current = SOCKET.load(Ordering::Acquire);
    if current >= 0 && is_alive(current) {
        return Ok(());
    }
    let fresh = start()?;
    if SOCKET
        .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another thread started one meanwhile, which serves us as well. Ours has nothing to
        // guard: closing our (never published) end makes it exit.
        // SAFETY: `fresh` is ours alone: no other thread has seen it.
        unsafe { libc::close(fresh) };
    }
    Ok(())
}

/// Opens this process's own pidfd, unless [`OWNER`] already has one for this pid.
fn own_pidfd() -> Result<(), i32> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let current = OWNER.load(Ordering::Acquire);
    if current != 0 && (current >> 32) as i32 == me {
        return Ok(());
    }
    // SAFETY: pidfd_open(pid, flags) returns a new descriptor (close-on-exec) or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, me, 0) };
    if fd < 0 {
        return Err(match errno() {
            // No pidfds (before Linux 5.3), or a seccomp filter that does not know the call
            // (pidfd_open itself never fails with EPERM).
            libc::ENOSYS | libc::EPERM => libc::ENOSYS,
            e => e,
        });
    }
    let packed = (me as u32 as u64) << 32 | fd as u32 as u64;
    if OWNER
        .compare_exchange(current, packed, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another thread of this process got there first: its pidfd is as good as ours.
        // SAFETY: `fd` was just opened and no one else has seen it.
        unsafe { libc::close(fd as i32) };
    }
    Ok(())
}

/// Whether the guardian at the other end of our socket `fd` is still there: the socket does
/// not report a hang-up (and is still open).
fn is_alive(fd: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout. POLLHUP, POLLERR and POLLNVAL are reported
    // without being asked for.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    rc == 0 || (rc > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) == 0)
}

/// Starts a guardian; returns our end of its socket once it has said it is ready.
fn start() -> Result<i32, i32> {
    let mut pair = [-1; 2];
    // SAFETY: socketpair writes two descriptors into `pair`, which has room for them.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(errno());
    }
    let [ours, theirs] = pair;
    // What the guardian, which goes on in this thread's image, must keep of this process's
    // memory when it lets go of the rest (it cannot find that out itself: it may not look
    // symbols up).
    let keep = serve::Keep::of_this_thread();
    // Every signal blocked across the fork: until the guardian has set its own signal
    // actions, a signal must not run one of this process's handlers there (which may write to
    // a pipe this process shares with it). The guardian unblocks them.
    // SAFETY: an all-zero sigset_t is valid and sigfillset fills it; pthread_sigmask changes
    // this thread's mask only, and saves the old one into a local.
    let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old_mask);
    }
    // SAFETY: fork in normal context; the child only forks again with a raw system call and
    // `_exit`s, and the grandchild (the guardian) makes system calls only, as a child of a
    // possibly multi-threaded process must.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        intermediate(theirs, keep);
    }
    // SAFETY: restores this thread's mask, saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
    let forked = if pid < 0 {
        Err(errno())
    } else {
        // The intermediate's exit code is the error number of its fork, if that failed.
        match reap(pid) {
            Some(code @ 1..) => Err(code),
            _ => Ok(()),
        }
    };
    // SAFETY: our copy of the guardian's end: the guardian has its own.
    unsafe { libc::close(theirs) };
    match forked.and_then(|()| wait_ready(ours)) {
        Ok(()) => Ok(ours),
        Err(e) => {
            // SAFETY: `ours` is not published; a guardian that did start exits on the hang-up.
            unsafe { libc::close(ours) };
            Err(e)
        }
    }
}

/// The intermediate process: forks the guardian and exits at once, so that the guardian is
/// reparented (to init or the nearest subreaper) and is not the program's child.
fn intermediate(theirs: i32, keep: serve::Keep) -> ! {
    // A raw fork: no `pthread_atfork` handlers run, and nothing but system calls happens in
    // the guardian. The argument order of `clone` differs on s390x (stack first).
    #[cfg(not(target_arch = "s390x"))]
    // SAFETY: clone with only an exit signal and no new stack is fork.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0, 0, 0, 0) };
    #[cfg(target_arch = "s390x")]
    // SAFETY: as above, with s390x's argument order.
    let pid = unsafe { libc::syscall(libc::SYS_clone, 0, libc::SIGCHLD as libc::c_long, 0, 0, 0) };
    if pid == 0 {
        serve::run(theirs, keep);
    }
    // Whether the guardian started is told by its ready byte (or the hang-up of its socket);
    // if it could not even be forked, the exit code says why (error numbers fit in a byte).
    let code = if pid < 0 { errno() & 0xff } else { 0 };
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Reaps the intermediate process `pid`, which exits at once; its exit code, or None if it
/// could not be reaped: another thread or a SIGCHLD handler reaped it first, or SIGCHLD is
/// ignored (`ECHILD`); its guardian's ready byte tells then.
fn reap(pid: libc::pid_t) -> Option<i32> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child, writing its status into a local.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        if rc >= 0 || errno() != libc::EINTR {
            return None;
        }
    }
}

/// Waits for the new guardian's ready byte on `ours`.
fn wait_ready(ours: i32) -> Result<(), i32> {
    let mut pfd = libc::pollfd {
        fd: ours,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, READY_TIMEOUT_MS) };
        if rc == 0 {
            return Err(libc::ETIMEDOUT);
        }
        if rc < 0 {
            match errno() {
                libc::EINTR => continue,
                e => return Err(e),
            }
        }
        let mut byte = 0u8;
        // SAFETY: receiving at most one byte into a local.
        let n = unsafe { libc::recv(ours, (&mut byte as *mut u8).cast(), 1, libc::MSG_DONTWAIT) };
        return match n {
            1 if byte == HELLO => Ok(()),
            // The guardian is gone without a word: it could not set itself up.
            0 | 1 => Err(libc::EIO),
            _ => match errno() {
                libc::EINTR | libc::EAGAIN => continue,
                e => Err(e),
            },
        };
    }
}

/// In the child, before exec (async-signal-safe: system calls only): sends the child's pidfd
/// and its parent's to the guardian.
fn register_child() -> io::Result<()> {
    let fail = |errno: i32| Err(io::Error::from_raw_os_error(errno));
    let socket = SOCKET.load(Ordering::Acquire);
    let owner = OWNER.load(Ordering::Acquire);
    let (owner_pid, owner_fd) = ((owner >> 32) as i32, owner as u32 as i32);
    // SAFETY: getpid and getppid have no preconditions.
    let (me, parent) = unsafe { (libc::getpid(), libc::getppid()) };
    if socket < 0 || owner == 0 {
        return fail(libc::EBADF);
    }
    if me == owner_pid {
        // `exec` without a fork (std's `CommandExt::exec`): no parent to die with.
        return fail(libc::EINVAL);
    }
    if parent != owner_pid {
        // The parent has died already (we were reparented), or the command was configured in
        // another process than the one spawning it.
        return fail(libc::ESRCH);
    }
    // SAFETY: pidfd_open of our own pid; returns a new descriptor or -1.
    let own = unsafe { libc::syscall(libc::SYS_pidfd_open, me, 0) };
    if own < 0 {
        return fail(errno());
    }
    let own = own as i32;
    let sent = send_fds(socket, [own, owner_fd]);
    // SAFETY: our own pidfd, which is ours alone (the guardian has its copy if sent).
    unsafe { libc::close(own) };
    match sent {
        Ok(()) => Ok(()),
        Err(e) => fail(e),
    }
}

/// Sends one message, [`HELLO`] with `fds` attached (`SCM_RIGHTS`), on `socket`, without
/// allocating (async-signal-safe). `EPIPE` if the guardian is gone (no SIGPIPE).
fn send_fds(socket: i32, fds: [i32; 2]) -> Result<(), i32> {
    let mut byte = HELLO;
    let mut iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    // Room for the header and two descriptors, aligned for `cmsghdr`.
    let mut control = [0u64; 8];
    let data_len = std::mem::size_of_val(&fds) as u32;
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    if space > std::mem::size_of_val(&control) {
        return Err(libc::EOVERFLOW);
    }
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` describes `control`, which has room for one header and `data_len` bytes
    // (checked above), so CMSG_FIRSTHDR is non-null and its data in bounds; the data may be
    // unaligned for `i32`, hence the unaligned write.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(data_len) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<[i32; 2]>(), fds);
    }
    loop {
        // SAFETY: `msg` and everything it points to live across the call.
        let n = unsafe { libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) };
        if n == 1 {
            return Ok(());
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// The parent's half of [`die_with_parent`], for a runtime that starts its processes itself
/// (the Python package's `preexec_fn`): a guardian is running and this process has its pidfd;
/// the error otherwise, now.
pub(crate) fn prepare_for_spawn() -> io::Result<()> {
    prepare().map_err(|errno| {
        if errno == libc::ENOSYS {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "die_with_parent needs pidfds (Linux 5.3 or later), which this system does not \
                 offer",
            )
        } else {
            io::Error::from_raw_os_error(errno)
        }
    })
}

/// The child's half of [`die_with_parent`], between fork and exec (async-signal-safe), after
/// [`prepare_for_spawn`] in the parent.
pub(crate) fn register_in_child() -> io::Result<()> {
    register_child()
}
