//! The parent's side of the guardian (Linux, Android): starting it, and registering each child
//! with it from `pre_exec`; and the messages on the guardian's socket, which both sides use.
//!
//! Nothing here takes a lock: the state is two atomics, so a process forked without exec
//! (which may have been forked while another thread was in here) never waits for a thread
//! that does not exist in it.
//!
//! - [`GUARDIAN`]: the current guardian: our end of its socket and a pidfd of the guardian
//!   itself, each with the identity (device and inode) of what it referred to when it was
//!   opened. Published once and never freed (a thread may be reading it). The guardian is
//!   alive while its pidfd is not readable: the hang-up of the socket alone would not tell,
//!   since a process forked without exec by another thread while the guardian was being
//!   started holds the guardian's end too. A descriptor whose number now refers to something
//!   else (the program closed it and reused the number) counts as gone. A new guardian
//!   replaces a gone one; the old descriptors are never closed, nor the old record freed
//!   (two descriptors and a few bytes per restart): they may not be ours any more, and
//!   another thread may be looking at them right now.
//! - [`OWNER`]: the pid of the process that last made sure pidfds can be had, which is the
//!   process that configured the command. A process forked without exec finds its parent's
//!   pid there until it calls `die_with_parent` itself.
//!
//! The child opens both pidfds it sends itself: its own, and its parent's (no descriptor
//! number is inherited for it), and it waits for the guardian's answer before exec.
//!
//! Two threads that both find no guardian may both start one; the first to publish its
//! guardian wins, and the other closes its end of the socket, which its guardian (with
//! nothing to guard) takes as the signal to exit.

use std::io;
use std::os::unix::process::CommandExt as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};

use super::{release, serve};

/// The current guardian, or null before the first start. Never freed once published.
static GUARDIAN: AtomicPtr<Guardian> = AtomicPtr::new(std::ptr::null_mut());

/// The pid of the process that made sure it can open pidfds (in [`prepare`]); 0 before.
static OWNER: AtomicI32 = AtomicI32::new(0);

/// Set once the lack of pidfds has been reported on stderr.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// How long the parent waits for a new guardian to say it is ready (it only sets itself up,
/// which takes milliseconds) before the start counts as failed (`ETIMEDOUT`).
const READY_TIMEOUT_MS: i64 = 10_000;

/// How long a child waits for the guardian to answer its registration (it answers at once,
/// unless it is stopped) before the spawn fails (`ETIMEDOUT`).
const ANSWER_TIMEOUT_MS: i64 = 10_000;

/// How long a child whose registration the guardian dropped unanswered waits for the
/// guardian's pidfd to report its death, which comes a little after the guardian's
/// descriptors are closed: if it does, the spawn fails with `EPIPE`, else with `EMFILE`.
const DEATH_GRACE_MS: i64 = 100;

/// The byte a guardian sends once it is ready, and the byte of each registration message.
pub(super) const HELLO: u8 = b'g';

/// The byte of the message in which the intermediate process sends the guardian's pidfd.
const PIDFD: u8 = b'p';

/// The guardian's answer to a registration that it took on; any other answer is the error
/// number of its refusal.
pub(super) const TAKEN_ON: u8 = 0;

/// The most descriptors a message carries: a registration's answer pipe, the child's pidfd
/// and its parent's, in that order.
pub(super) const MAX_FDS: usize = 3;

/// A descriptor of ours with the identity (device and inode, from `fstat`) of what it
/// referred to when it was opened: a number that the program closed and reused for something
/// else is told from it. Pidfds have an identity of their own per process from Linux 6.9
/// (pidfs); before, every pidfd has the same, and only a reuse by something else than a
/// pidfd is told.
#[derive(Clone, Copy, Debug)]
struct Descriptor {
    fd: i32,
    dev: u64,
    ino: u64,
}

impl Descriptor {
    /// `fd` and the identity of what it refers to now.
    fn new(fd: i32) -> Result<Descriptor, i32> {
        let (dev, ino) = identity(fd)?;
        Ok(Descriptor { fd, dev, ino })
    }

    /// Whether the number still refers to what it did (async-signal-safe).
    fn is_intact(&self) -> bool {
        identity(self.fd) == Ok((self.dev, self.ino))
    }
}

/// The device and inode of what `fd` refers to (async-signal-safe).
fn identity(fd: i32) -> Result<(u64, u64), i32> {
    // SAFETY: an all-zero `stat` is valid; fstat writes into it.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return Err(errno());
    }
    Ok((stat.st_dev as u64, stat.st_ino as u64))
}

/// A guardian: our end of its socket, and a pidfd of it.
#[derive(Clone, Copy, Debug)]
struct Guardian {
    socket: Descriptor,
    pidfd: Descriptor,
}

impl Guardian {
    /// Whether the guardian is still there: both descriptors are ours still, its pidfd is
    /// not readable (it has not exited), and the socket has not hung up.
    fn is_alive(&self) -> bool {
        if !self.socket.is_intact() || !self.pidfd.is_intact() {
            return false;
        }
        let mut polls = [
            libc::pollfd {
                fd: self.socket.fd,
                events: 0,
                revents: 0,
            },
            pollin(self.pidfd.fd),
        ];
        // SAFETY: two valid pollfds, zero timeout. POLLHUP, POLLERR and POLLNVAL are reported
        // without being asked for.
        let rc = unsafe { libc::poll(polls.as_mut_ptr(), 2, 0) };
        rc == 0
            || (rc > 0
                && polls[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) == 0
                && polls[1].revents == 0)
    }

    /// Closes both descriptors (of a guardian never published).
    fn close(self) {
        close(self.socket.fd);
        close(self.pidfd.fd);
    }
}

/// A descriptor that is closed when dropped (async-signal-safe).
struct Owned(i32);

impl Owned {
    /// The descriptor, no longer closed by this.
    fn into_raw(self) -> i32 {
        let fd = self.0;
        std::mem::forget(self);
        fd
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        close(self.0);
    }
}

/// Closes `fd` (errors ignored).
fn close(fd: i32) {
    // SAFETY: closing a descriptor that the caller owns.
    unsafe { libc::close(fd) };
}

/// A pollfd that waits for `fd` to be readable.
fn pollin(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

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
    // SAFETY: the closure is async-signal-safe: it reads two atomics and what one points to,
    // and makes system calls (`register_child`), with no allocation, no lock and no panic (an
    // `io::Error` made from an error number allocates nothing).
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

/// Makes sure that this process can open pidfds and that a guardian is running; the error
/// number otherwise.
fn prepare() -> Result<(), i32> {
    check_pidfds()?;
    let current = GUARDIAN.load(Ordering::Acquire);
    // SAFETY: a published guardian is never freed.
    if let Some(guardian) = unsafe { current.as_ref() } {
        if guardian.is_alive() {
            return Ok(());
        }
    }
    let fresh = Box::into_raw(Box::new(start()?));
    if GUARDIAN
        .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another thread started one meanwhile, which serves us as well. Ours has nothing to
        // guard: closing our (never published) end makes it exit.
        // SAFETY: `fresh` came from `Box::into_raw` just above and no other thread has seen
        // it.
        unsafe { Box::from_raw(fresh) }.close();
    }
    Ok(())
}

/// Makes sure, once per process, that this process can open pidfds ([`OWNER`]).
fn check_pidfds() -> Result<(), i32> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    if OWNER.load(Ordering::Acquire) == me {
        return Ok(());
    }
    let fd = pidfd_open(me).map_err(|e| match e {
        // No pidfds (before Linux 5.3), or a seccomp filter that does not know the call
        // (pidfd_open itself never fails with EPERM).
        libc::ENOSYS | libc::EPERM => libc::ENOSYS,
        e => e,
    })?;
    close(fd);
    OWNER.store(me, Ordering::Release);
    Ok(())
}

/// A new pidfd (close-on-exec) of the process `pid` (async-signal-safe).
fn pidfd_open(pid: libc::pid_t) -> Result<i32, i32> {
    // SAFETY: pidfd_open(pid, flags) returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(errno());
    }
    Ok(fd as i32)
}

/// Starts a guardian; returns it once it has said it is ready.
fn start() -> Result<Guardian, i32> {
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
    let keep = release::Keep::of_this_thread();
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
    // SAFETY: fork in normal context; the child only forks again with a raw system call,
    // sends one message and `_exit`s, and the grandchild (the guardian) makes system calls
    // only, as a child of a possibly multi-threaded process must.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        intermediate(theirs, keep);
    }
    // SAFETY: restores this thread's mask, saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
    let forked = if pid < 0 {
        Err(errno())
    } else {
        // The intermediate's exit code is the error number of what failed there, if anything
        // did.
        match reap(pid) {
            Some(code @ 1..) => Err(code),
            _ => Ok(()),
        }
    };
    // Our copy of the guardian's end: the guardian has its own.
    close(theirs);
    let pidfd = match forked.and_then(|()| wait_ready(ours)) {
        Ok(pidfd) => pidfd,
        Err(e) => {
            // `ours` is not published; a guardian that did start exits on the hang-up.
            close(ours);
            return Err(e);
        }
    };
    match (Descriptor::new(ours), Descriptor::new(pidfd)) {
        (Ok(socket), Ok(pidfd)) => Ok(Guardian { socket, pidfd }),
        (Err(e), _) | (_, Err(e)) => {
            close(ours);
            close(pidfd);
            Err(e)
        }
    }
}

/// The intermediate process: forks the guardian, sends a pidfd of it to the parent and exits
/// at once, so that the guardian is reparented (to init or the nearest subreaper) and is not
/// the program's child.
fn intermediate(theirs: i32, keep: release::Keep) -> ! {
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
    let code = if pid < 0 {
        errno()
    } else {
        // The guardian is our child and is not reaped while we live: its pid cannot be
        // another process's yet. Its pidfd goes to the parent, on the guardian's end of the
        // socket.
        let pid = pid as libc::pid_t;
        let sent =
            pidfd_open(pid).and_then(|fd| send_message(theirs, PIDFD, &[fd], libc::MSG_NOSIGNAL));
        match sent {
            Ok(()) => 0,
            Err(e) => {
                // SAFETY: kill of our own unreaped child: no other process can have its pid.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                e
            }
        }
    };
    // Whether the guardian started is told by its ready byte (or its death); what failed
    // here, by the exit code (error numbers fit in a byte).
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code & 0xff) }
}

/// Reaps the intermediate process `pid`, which exits at once; its exit code, or None if it
/// could not be reaped: another thread or a SIGCHLD handler reaped it first, or SIGCHLD is
/// ignored (`ECHILD`); the messages on the socket tell then.
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

/// Waits on `ours` for the new guardian's pidfd (from the intermediate) and its ready byte;
/// returns the pidfd. The guardian's death before it is ready is seen through its pidfd, even
/// if a process forked meanwhile holds the guardian's end of the socket.
fn wait_ready(ours: i32) -> Result<i32, i32> {
    let deadline = Deadline::after(READY_TIMEOUT_MS);
    let mut pidfd: Option<Owned> = None;
    let mut ready = false;
    loop {
        match receive_message(ours, libc::MSG_DONTWAIT)? {
            Received::Message(message) => {
                let complete = !message.truncated && message.count <= MAX_FDS;
                match (message.byte, message.count, message.fds) {
                    (PIDFD, 1, [fd, ..]) if complete && pidfd.is_none() => pidfd = Some(Owned(fd)),
                    (HELLO, 0, _) if complete => ready = true,
                    _ => {
                        message.close_all();
                        // Only the parent's own end of the pair is full: out of descriptors.
                        return Err(if message.truncated {
                            libc::EMFILE
                        } else {
                            libc::EIO
                        });
                    }
                }
                if ready {
                    if let Some(fd) = pidfd.take() {
                        return Ok(fd.into_raw());
                    }
                }
                continue;
            }
            // Every holder of the guardian's end is gone: it could not set itself up.
            Received::HangUp => return Err(libc::EIO),
            Received::Nothing => {}
        }
        let guardian = pidfd.as_ref().map_or(-1, |fd| fd.0);
        let mut polls = [pollin(ours), pollin(guardian)];
        // SAFETY: two valid pollfds (poll ignores a negative descriptor).
        let rc = unsafe { libc::poll(polls.as_mut_ptr(), 2, deadline.remaining()?) };
        if rc < 0 && errno() != libc::EINTR {
            return Err(errno());
        }
        if polls[0].revents == 0 && polls[1].revents != 0 {
            // The guardian has exited without a word: it could not set itself up.
            return Err(libc::EIO);
        }
    }
}

/// A point in time (`CLOCK_MONOTONIC`, in milliseconds), by which a wait must be over.
#[derive(Clone, Copy)]
struct Deadline(i64);

impl Deadline {
    /// `ms` milliseconds from now.
    fn after(ms: i64) -> Deadline {
        Deadline(now_ms().saturating_add(ms))
    }

    /// The milliseconds left, for `poll`; `ETIMEDOUT` once there are none.
    fn remaining(self) -> Result<i32, i32> {
        let left = self.0 - now_ms();
        if left <= 0 {
            return Err(libc::ETIMEDOUT);
        }
        Ok(left.min(i32::MAX as i64) as i32)
    }
}

/// The monotonic clock, in milliseconds (async-signal-safe).
// `time_t` and `c_long` are `i32` on some 32-bit targets.
#[allow(clippy::useless_conversion)]
fn now_ms() -> i64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    i64::from(now.tv_sec).saturating_mul(1000) + i64::from(now.tv_nsec) / 1_000_000
}

/// In the child, before exec (async-signal-safe: system calls only): registers the child with
/// the guardian, and waits until the guardian has taken it on.
fn register_child() -> io::Result<()> {
    register().map_err(io::Error::from_raw_os_error)
}

/// [`register_child`], with an error number.
fn register() -> Result<(), i32> {
    let owner = OWNER.load(Ordering::Acquire);
    let guardian = GUARDIAN.load(Ordering::Acquire);
    // SAFETY: getpid and getppid have no preconditions.
    let (me, parent) = unsafe { (libc::getpid(), libc::getppid()) };
    // SAFETY: a published guardian is never freed (and this process's copy of the memory it
    // is in is this process's own).
    let Some(&guardian) = (unsafe { guardian.as_ref() }) else {
        return Err(libc::EBADF);
    };
    if owner == 0 {
        return Err(libc::EBADF);
    }
    if me == owner {
        // `exec` without a fork (std's `CommandExt::exec`): no parent to die with.
        return Err(libc::EINVAL);
    }
    if parent != owner {
        // The parent has died already (we were reparented), or the command was configured in
        // another process than the one spawning it.
        return Err(libc::ESRCH);
    }
    if !guardian.socket.is_intact() || !guardian.pidfd.is_intact() {
        // The program closed one of them, and its number may be another file now: never
        // send to it, nor judge the guardian by it.
        return Err(libc::EBADF);
    }
    let deadline = Deadline::after(ANSWER_TIMEOUT_MS);
    if has_exited(guardian.pidfd.fd, 0) {
        return Err(libc::EPIPE);
    }
    let own = Owned(pidfd_open(me)?);
    let parents = Owned(pidfd_open(parent)?);
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != parent {
        // The parent died meanwhile (we were reparented): the pidfd may be of a process
        // that got its pid since.
        return Err(libc::ESRCH);
    }
    let mut pipe = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into `pipe`.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(errno());
    }
    let (answer, answer_sender) = (Owned(pipe[0]), Owned(pipe[1]));
    send(&guardian, &[answer_sender.0, own.0, parents.0], deadline)?;
    // The guardian has its copies (or will have none, and the pipe then reports its end).
    drop((answer_sender, own, parents));
    loop {
        wait_for(answer.0, libc::POLLIN, &guardian, deadline)?;
        let mut byte = 0u8;
        // SAFETY: reading at most one byte into a local.
        let n = unsafe { libc::read(answer.0, (&mut byte as *mut u8).cast(), 1) };
        match n {
            1 if byte == TAKEN_ON => return Ok(()),
            1 => return Err(byte as i32),
            // Dropped unanswered: the guardian died (its descriptors are closed a little
            // before its pidfd reports it), or it received none of the descriptors (it had
            // no room for one).
            0 if has_exited(guardian.pidfd.fd, DEATH_GRACE_MS) => return Err(libc::EPIPE),
            0 => return Err(libc::EMFILE),
            _ => match errno() {
                libc::EINTR | libc::EAGAIN => continue,
                e => return Err(e),
            },
        }
    }
}

/// Whether the process of `pidfd` has exited, or exits within `ms` milliseconds.
fn has_exited(pidfd: i32, ms: i64) -> bool {
    let deadline = Deadline::after(ms);
    loop {
        let mut poll = pollin(pidfd);
        let timeout = deadline.remaining().unwrap_or(0);
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut poll, 1, timeout) };
        if rc >= 0 || errno() != libc::EINTR || timeout == 0 {
            return rc > 0;
        }
    }
}

/// Sends a registration ([`HELLO`] with `fds`) to `guardian`, waiting while its socket is
/// full; `EPIPE` if the guardian is gone.
fn send(guardian: &Guardian, fds: &[i32], deadline: Deadline) -> Result<(), i32> {
    loop {
        let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        match send_message(guardian.socket.fd, HELLO, fds, flags) {
            Err(libc::EAGAIN) => wait_for(guardian.socket.fd, libc::POLLOUT, guardian, deadline)?,
            sent => return sent,
        }
    }
}

/// Waits until `fd` reports one of `events` (or a hang-up); `EPIPE` as soon as `guardian` has
/// exited (which comes first), `ETIMEDOUT` at `deadline`.
fn wait_for(fd: i32, events: i16, guardian: &Guardian, deadline: Deadline) -> Result<(), i32> {
    loop {
        let mut polls = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            pollin(guardian.pidfd.fd),
        ];
        // SAFETY: two valid pollfds.
        let rc = unsafe { libc::poll(polls.as_mut_ptr(), 2, deadline.remaining()?) };
        if rc < 0 {
            match errno() {
                libc::EINTR => continue,
                e => return Err(e),
            }
        }
        if polls[1].revents != 0 {
            return Err(libc::EPIPE);
        }
        if polls[0].revents != 0 {
            return Ok(());
        }
    }
}

/// Sends one message, `byte` with `fds` attached (`SCM_RIGHTS`), on `socket`, without
/// allocating (async-signal-safe); `EINTR` is retried. `EPIPE` if the other end is gone (no
/// SIGPIPE with `MSG_NOSIGNAL` in `flags`).
fn send_message(socket: i32, byte: u8, fds: &[i32], flags: i32) -> Result<(), i32> {
    if fds.len() > MAX_FDS {
        return Err(libc::EOVERFLOW);
    }
    let mut byte = byte;
    let mut iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    // Room for the header and MAX_FDS descriptors, aligned for `cmsghdr`.
    let mut control = [0u64; 8];
    let data_len = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    if space > std::mem::size_of_val(&control) {
        return Err(libc::EOVERFLOW);
    }
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: `msg` describes `control`, which has room for one header and `data_len`
        // bytes (checked above), so CMSG_FIRSTHDR is non-null and its data in bounds; the
        // data may be unaligned for `i32`, hence the unaligned writes.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(&msg);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(data_len) as _;
            let data = libc::CMSG_DATA(header).cast::<i32>();
            for (k, &fd) in fds.iter().enumerate() {
                data.add(k).write_unaligned(fd);
            }
        }
    }
    loop {
        // SAFETY: `msg` and everything it points to live across the call.
        let n = unsafe { libc::sendmsg(socket, &msg, flags) };
        if n == 1 {
            return Ok(());
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// A message received on the guardian's socket.
pub(super) struct Message {
    /// Its byte.
    pub(super) byte: u8,
    /// The descriptors it carried (close-on-exec), in order; -1 past `count`.
    pub(super) fds: [i32; MAX_FDS],
    /// How many descriptors it carried; past [`MAX_FDS`], the others were closed.
    pub(super) count: usize,
    /// Whether some of its descriptors were dropped by the kernel (`MSG_CTRUNC`: the
    /// receiver had no room for them).
    pub(super) truncated: bool,
}

impl Message {
    /// Closes every descriptor it carried.
    pub(super) fn close_all(&self) {
        for &fd in &self.fds {
            if fd >= 0 {
                close(fd);
            }
        }
    }
}

/// What [`receive_message`] found.
pub(super) enum Received {
    /// A message.
    Message(Message),
    /// Nothing yet (with `MSG_DONTWAIT`).
    Nothing,
    /// The other end has hung up: every holder of it is gone.
    HangUp,
}

/// Receives one message on `socket` (async-signal-safe: system calls only), with `flags`
/// (`MSG_CMSG_CLOEXEC` is added); `EINTR` is retried.
pub(super) fn receive_message(socket: i32, flags: i32) -> Result<Received, i32> {
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    // Room for more descriptors than a message carries: extra ones are closed, not lost in
    // a truncation.
    let mut control = [0u64; 16];
    // SAFETY: an all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    let n = loop {
        // SAFETY: `msg` describes live buffers of the sizes given.
        let n = unsafe { libc::recvmsg(socket, &mut msg, flags | libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n;
        }
        match errno() {
            libc::EINTR => continue,
            libc::EAGAIN => return Ok(Received::Nothing),
            e => return Err(e),
        }
    };
    if n == 0 {
        return Ok(Received::HangUp);
    }
    let mut message = Message {
        byte,
        fds: [-1; MAX_FDS],
        count: 0,
        truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    };
    // SAFETY: `msg` was filled in by recvmsg; CMSG_FIRSTHDR and CMSG_NXTHDR stay within
    // `msg_controllen` bytes of `control`, and each header's data holds
    // `cmsg_len - CMSG_LEN(0)` bytes, read unaligned.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<i32>();
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for k in 0..bytes / std::mem::size_of::<i32>() {
                    let fd = data.add(k).read_unaligned();
                    match message.fds.get_mut(message.count) {
                        Some(slot) => *slot = fd,
                        None => close(fd),
                    }
                    message.count += 1;
                }
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
    }
    Ok(Received::Message(message))
}

/// The parent's half of [`die_with_parent`], for a runtime that starts its processes itself
/// (the Python package's `preexec_fn`): a guardian is running and this process can open
/// pidfds; the error otherwise, now.
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
