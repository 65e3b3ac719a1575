//! The guardian process itself (`safe-exit-guard`).
//!
//! It was forked from a process that may have had other threads (holding locks, in the middle
//! of `malloc`), so everything here is a system call or plain arithmetic on memory that the
//! guardian maps itself: no allocator, no lock, no standard I/O, no panic (slices are indexed
//! within bounds checked beforehand), no thread; so are the few functions of `linux.rs` it
//! calls (receiving a message). It never returns: it ends with `_exit`.
//!
//! Before it says it is ready, it lets go of the memory it inherited from the parent and does
//! not use ([`release::release`], in `release.rs`).
//!
//! Its table has one entry per guarded child: the child's pidfd and the pidfd of the process
//! that spawned it. It polls its socket and every pidfd:
//!
//! - a child's pidfd readable: the child has exited: both descriptors are closed, the entry
//!   dropped;
//! - a parent's pidfd readable: that process has exited (every thread of it): the child gets
//!   SIGKILL through its pidfd (never a recycled pid), and the entry is dropped;
//! - the socket readable: registrations. Each carries the write end of a pipe on which the
//!   child waits, before exec, for the answer, then the child's pidfd and its parent's. The
//!   guardian answers [`TAKEN_ON`] once the entry is in its table, or the error number of its
//!   refusal: `EMFILE` when not all of the descriptors arrived (`MSG_CTRUNC`: it is out of
//!   descriptors), `ENOMEM` when the table cannot grow. The child's spawn then fails: a child
//!   is never left unguarded in silence. So that the answer's pipe always arrives (it comes
//!   first), the guardian keeps one descriptor in reserve (a copy of `/dev/null`), which it
//!   closes just before each `recvmsg` and takes again after. Should it ever get no
//!   descriptor at all, the child sees its pipe's end without an answer, and fails too.
//! - the socket hung up (every process holding the other end has exited or exec'd): it is
//!   closed, and the entries are still served; once none is left, the guardian exits.

use std::mem::size_of;

use super::linux::{receive_message, Message, Received, HELLO, MAX_FDS, TAKEN_ON};
use super::release::{self, Keep};

/// The signals the guardian ignores: those a terminal, a shell or a supervisor sends to ask
/// a process to end, or that stop it. It ends by itself once the processes it guards for are
/// gone; SIGKILL still ends it at once.
const IGNORED: [i32; 11] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGPIPE,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGALRM,
];

/// The process name (`comm`, at most 15 bytes) that `ps` and `/proc/PID/comm` show.
const NAME: &std::ffi::CStr = c"safe-exit-guard";

/// The descriptor the socket is moved to; every higher one is closed.
const SOCKET_FD: i32 = 3;

/// The number of entries the table starts with (it doubles when full).
const FIRST_CAPACITY: usize = 1024;

/// The guardian's main function: sets the process up, lets go of the parent's memory it does
/// not need (all but what `keep` names, see [`release::release`]), says it is ready, serves
/// until nothing is left to guard, and exits.
pub(super) fn run(socket: i32, keep: Keep) -> ! {
    let socket = set_up(socket);
    release::release(&keep);
    let Some(mut table) = Table::new(FIRST_CAPACITY) else {
        exit(1)
    };
    let hello = HELLO;
    // SAFETY: sending one byte from a local; no SIGPIPE if the parent is gone already (the
    // hang-up then shows in the loop).
    unsafe {
        libc::send(
            socket,
            (&hello as *const u8).cast(),
            1,
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
    serve(socket, &mut table)
}

/// Ends the guardian.
fn exit(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and runs nothing of the parent's.
    unsafe { libc::_exit(code) }
}

/// This thread's `errno`.
pub(super) fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Makes the guardian a process of its own: a new session (out of the parent's process group
/// and terminal: a group signal or a Ctrl-C does not reach it), the termination signals
/// ignored and every other signal at its default action (the parent's handlers make no sense
/// here), no signal blocked (the parent blocked them all across the fork), named
/// `safe-exit-guard`, in `/`, with the descriptor limit raised to its maximum and no core
/// files, stdin, stdout and stderr on `/dev/null`, and no descriptor open but those and its
/// socket. Closing the others matters: a pipe the parent writes to, held open here, would
/// keep whoever reads it from ever seeing its end. Returns the socket's new descriptor.
fn set_up(socket: i32) -> i32 {
    // SAFETY: setsid has no preconditions (it fails only for a group leader, which a fresh
    // child is not).
    unsafe { libc::setsid() };
    set_signals();
    // SAFETY: PR_SET_NAME reads a NUL-terminated name of at most 16 bytes; chdir a
    // NUL-terminated path.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, NAME.as_ptr() as libc::c_ulong, 0, 0, 0);
        libc::chdir(c"/".as_ptr());
    }
    set_limits();
    // SAFETY: plain descriptor operations on descriptors of this process; `socket` is open.
    unsafe {
        let moved = libc::fcntl(socket, libc::F_DUPFD_CLOEXEC, SOCKET_FD);
        if moved < 0 {
            exit(1);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            if null < 0 {
                libc::close(fd);
            } else if null != fd {
                libc::dup2(null, fd);
            }
        }
        if moved != SOCKET_FD && libc::dup2(moved, SOCKET_FD) < 0 {
            exit(1);
        }
    }
    close_from(SOCKET_FD + 1);
    SOCKET_FD
}

/// Ignores [`IGNORED`], sets every other signal to its default action, and blocks none.
fn set_signals() {
    // SAFETY: all-zero sigactions are valid; sigemptyset initialises their masks; sigaction
    // and sigprocmask only read what they are given. SIGKILL, SIGSTOP and the C library's own
    // real-time signals refuse the change, harmlessly.
    unsafe {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        libc::sigemptyset(&mut ignore.sa_mask);
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut default.sa_mask);
        for sig in 1..=libc::SIGRTMAX() {
            let action = if IGNORED.contains(&sig) {
                &ignore
            } else {
                &default
            };
            libc::sigaction(sig, action, std::ptr::null_mut());
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// Raises the soft limit on descriptors to the hard one (each guarded child takes two), and
/// sets the core file size to 0: the guardian's memory is a copy of its parent's, which a
/// crash here must not write to disk.
fn set_limits() {
    // SAFETY: getrlimit writes into a local, setrlimit reads one.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
}

/// Closes every descriptor from `first` on: `close_range` (Linux 5.9), else each one listed in
/// `/proc/self/fd`, else each number up to the hard limit.
fn close_from(first: i32) {
    // SAFETY: close_range(first, ~0, 0) closes descriptors of this process only.
    if unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    } == 0
    {
        return;
    }
    if close_listed(first) {
        return;
    }
    // SAFETY: getrlimit writes into a local; close on any number is harmless here (EBADF).
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit
                .rlim_max
                .max(limit.rlim_cur)
                .min(i32::MAX as libc::rlim_t) as i32
        } else {
            1 << 20
        };
        for fd in first..max {
            libc::close(fd);
        }
    }
}

/// Closes every descriptor from `first` on that `/proc/self/fd` lists; false if it cannot be
/// read.
fn close_listed(first: i32) -> bool {
    // SAFETY: open of a NUL-terminated path.
    let dir = unsafe {
        libc::open(
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return false;
    }
    let mut buf = [0u64; 512];
    loop {
        // Closing while listing is safe (the directory is indexed by descriptor number), but
        // list again until a pass finds nothing to close.
        let mut closed = false;
        // SAFETY: rewinding our own directory descriptor.
        unsafe { libc::lseek(dir, 0, libc::SEEK_SET) };
        loop {
            let len = size_of::<[u64; 512]>();
            // SAFETY: getdents64 writes at most `len` bytes into `buf`.
            let n = unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), len) };
            if n <= 0 {
                break;
            }
            // SAFETY: `buf` is plain bytes, of which the kernel wrote `n`.
            let bytes =
                unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
            let mut at = 0;
            while let Some(entry) = bytes.get(at..) {
                // `struct linux_dirent64`: d_ino (8), d_off (8), d_reclen (2), d_type (1),
                // d_name (NUL-terminated).
                let (Some(&lo), Some(&hi)) = (entry.get(16), entry.get(17)) else {
                    break;
                };
                let reclen = u16::from_ne_bytes([lo, hi]) as usize;
                if reclen == 0 {
                    break;
                }
                if let Some(fd) = entry.get(19..reclen.min(entry.len())).and_then(parse_fd) {
                    if fd >= first && fd != dir {
                        // SAFETY: closing a descriptor of this process.
                        unsafe { libc::close(fd) };
                        closed = true;
                    }
                }
                at += reclen;
            }
        }
        if !closed {
            break;
        }
    }
    // SAFETY: our own directory descriptor.
    unsafe { libc::close(dir) };
    true
}

/// The number that a `/proc/self/fd` entry's NUL-terminated name spells, if it is one.
fn parse_fd(name: &[u8]) -> Option<i32> {
    let mut value: i32 = 0;
    let mut digits = 0;
    for &b in name.iter().take_while(|&&b| b != 0) {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((b - b'0') as i32)?;
        digits += 1;
    }
    (digits > 0).then_some(value)
}

/// One guarded child: its pidfd and the pidfd of the process it dies with.
#[derive(Clone, Copy)]
struct Entry {
    child: i32,
    parent: i32,
}

/// The guarded children, and the array `poll` gets (slot 0: the socket; then each entry's
/// child and parent), in memory the guardian maps itself.
struct Table {
    entries: *mut Entry,
    polls: *mut libc::pollfd,
    len: usize,
    capacity: usize,
}

/// Maps `bytes` of fresh, zeroed memory; None if the system refuses.
fn map(bytes: usize) -> Option<*mut u8> {
    // SAFETY: an anonymous private mapping at an address the kernel chooses.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    (p != libc::MAP_FAILED).then_some(p.cast())
}

/// Copies the mapping `old` of `old_bytes` into a new one of `new_bytes` (larger) and unmaps
/// it; None if the system refuses (the old mapping is then unchanged).
fn remap(old: *mut u8, old_bytes: usize, new_bytes: usize) -> Option<*mut u8> {
    let new = map(new_bytes)?;
    // SAFETY: `old` is a mapping of `old_bytes` made by `map` or `remap`, `new` a distinct one
    // of `new_bytes >= old_bytes`; `old` is not used after it is unmapped.
    unsafe {
        std::ptr::copy_nonoverlapping(old, new, old_bytes);
        libc::munmap(old.cast(), old_bytes);
    }
    Some(new)
}

impl Table {
    /// An empty table with room for `capacity` entries.
    fn new(capacity: usize) -> Option<Table> {
        let entries = map(capacity * size_of::<Entry>())?.cast();
        let polls = map((1 + 2 * capacity) * size_of::<libc::pollfd>())?.cast();
        Some(Table {
            entries,
            polls,
            len: 0,
            capacity,
        })
    }

    /// The entries.
    fn entries(&mut self) -> &mut [Entry] {
        // SAFETY: `entries` holds `capacity >= len` entries, the first `len` written.
        unsafe { std::slice::from_raw_parts_mut(self.entries, self.len) }
    }

    /// The poll array for the entries: `1 + 2 * len` slots.
    fn polls(&mut self) -> &mut [libc::pollfd] {
        // SAFETY: `polls` has `1 + 2 * capacity` slots, zeroed or written (a zeroed pollfd is
        // valid).
        unsafe { std::slice::from_raw_parts_mut(self.polls, 1 + 2 * self.len) }
    }

    /// Adds an entry, growing the table if it is full; false if it cannot grow.
    fn push(&mut self, entry: Entry) -> bool {
        if self.len == self.capacity && !self.grow() {
            return false;
        }
        // SAFETY: `len < capacity`: the slot is within the mapping.
        unsafe { self.entries.add(self.len).write(entry) };
        self.len += 1;
        true
    }

    /// Doubles the capacity.
    fn grow(&mut self) -> bool {
        let Some(capacity) = self.capacity.checked_mul(2) else {
            return false;
        };
        let entry = size_of::<Entry>();
        let poll = size_of::<libc::pollfd>();
        let Some(polls) = remap(
            self.polls.cast(),
            (1 + 2 * self.capacity) * poll,
            (1 + 2 * capacity) * poll,
        ) else {
            return false;
        };
        self.polls = polls.cast();
        let Some(entries) = remap(self.entries.cast(), self.capacity * entry, capacity * entry)
        else {
            // The poll array is larger than needed now; harmless.
            return false;
        };
        self.entries = entries.cast();
        self.capacity = capacity;
        true
    }

    /// Removes entry `i` (the last one takes its place), closing its descriptors.
    fn remove(&mut self, i: usize) {
        let len = self.len;
        let entries = self.entries();
        let Entry { child, parent } = entries[i];
        entries[i] = entries[len - 1];
        self.len -= 1;
        close(child);
        close(parent);
    }
}

/// Closes a descriptor of the guardian's.
fn close(fd: i32) {
    // SAFETY: closing a descriptor this process owns.
    unsafe { libc::close(fd) };
}

/// Sends SIGKILL to the process that `pidfd` refers to (errors ignored: it may be gone).
fn kill(pidfd: i32) {
    // SAFETY: pidfd_send_signal with a pidfd, a null siginfo (the kernel fills in what
    // kill() would) and no flags.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// The loop: polls the socket and every pidfd, and acts on what is ready, until the socket
/// has hung up and no entry is left.
fn serve(socket: i32, table: &mut Table) -> ! {
    // -1 once the socket has hung up (poll ignores a negative descriptor).
    let mut socket = socket;
    let mut reserve = Reserve::take();
    loop {
        if socket < 0 && table.len == 0 {
            exit(0);
        }
        let len = table.len;
        for i in 0..len {
            let Entry { child, parent } = table.entries()[i];
            let polls = table.polls();
            polls[1 + 2 * i] = pollin(child);
            polls[2 + 2 * i] = pollin(parent);
        }
        let polls = table.polls();
        polls[0] = pollin(socket);
        // SAFETY: `polls` is a valid array of `1 + 2 * len` pollfds.
        let rc = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) };
        if rc < 0 {
            if errno() != libc::EINTR {
                // ENOMEM: try again a little later.
                pause_briefly();
            }
            continue;
        }
        // Backwards, so that the entry moved into a removed one's place was looked at already.
        for i in (0..len).rev() {
            let polls = table.polls();
            let (child, parent) = (polls[1 + 2 * i].revents, polls[2 + 2 * i].revents);
            if child != 0 {
                // Exited: nothing to do but forget it.
                table.remove(i);
            } else if parent != 0 {
                kill(table.entries()[i].child);
                table.remove(i);
            }
        }
        if socket >= 0 && table.polls()[0].revents != 0 && !receive(socket, table, &mut reserve) {
            close(socket);
            socket = -1;
        }
    }
}

/// A pollfd that waits for `fd` to be readable.
fn pollin(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Sleeps 10 ms.
fn pause_briefly() {
    let ten_ms = libc::timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    // SAFETY: nanosleep reads a valid timespec; no remainder wanted.
    unsafe { libc::nanosleep(&ten_ms, std::ptr::null_mut()) };
}

/// One descriptor held in reserve (a copy of `/dev/null`, on descriptor 0), let go of just
/// before a registration is received: the first descriptor of the message (the answer's pipe)
/// then always finds a free slot, even when the guardian is at its descriptor limit.
struct Reserve(i32);

impl Reserve {
    /// Takes a descriptor into reserve; -1 inside if there is none to be had (at the limit,
    /// or no `/dev/null`).
    fn take() -> Reserve {
        // SAFETY: duplicating a descriptor of this process onto a free number above the
        // socket.
        Reserve(unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, SOCKET_FD + 1) })
    }

    /// Lets the reserved descriptor go, freeing its slot.
    fn release(&mut self) {
        if self.0 >= 0 {
            close(self.0);
            self.0 = -1;
        }
    }
}

/// Receives every registration waiting on the socket, adds each child to the table and
/// answers it; false once the socket has hung up (every sender is gone) or failed.
fn receive(socket: i32, table: &mut Table, reserve: &mut Reserve) -> bool {
    loop {
        reserve.release();
        let received = receive_message(socket, libc::MSG_DONTWAIT);
        if let Ok(Received::Message(message)) = &received {
            take_on(message, table);
        }
        // Taken again once the answer's pipe is closed: a registration that was taken on
        // needed three free slots, and leaves two taken, so there is room for it again.
        *reserve = Reserve::take();
        match received {
            Ok(Received::Message(_)) => continue,
            Ok(Received::Nothing) => return true,
            Ok(Received::HangUp) | Err(_) => return false,
        }
    }
}

/// Adds the child of a registration to the table, and answers it on its pipe (which is then
/// closed): [`TAKEN_ON`], or the error number of the refusal.
fn take_on(message: &Message, table: &mut Table) {
    let [answer, child, parent] = message.fds;
    let complete = message.byte == HELLO && message.count == MAX_FDS && !message.truncated;
    let reply = if !complete {
        close_all_but(message, answer);
        if message.truncated {
            libc::EMFILE
        } else {
            libc::EINVAL
        }
    } else if table.push(Entry { child, parent }) {
        TAKEN_ON as i32
    } else {
        close_all_but(message, answer);
        libc::ENOMEM
    };
    if answer >= 0 {
        let byte = reply as u8;
        // SAFETY: writing one byte from a local into a fresh pipe, which has room for it;
        // SIGPIPE is ignored here (the child may be gone).
        unsafe { libc::write(answer, (&byte as *const u8).cast(), 1) };
        close(answer);
    }
}

/// Closes every descriptor of `message` but `keep`.
fn close_all_but(message: &Message, keep: i32) {
    for &fd in &message.fds {
        if fd >= 0 && fd != keep {
            close(fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry with descriptor numbers that are never open (closing them is harmless).
    fn fake(i: i32) -> Entry {
        Entry {
            child: -2 - 2 * i,
            parent: -3 - 2 * i,
        }
    }

    #[test]
    fn the_table_grows_and_removes_by_swapping_in_the_last_entry() {
        let mut table = Table::new(2).expect("map");
        for i in 0..5000 {
            assert!(table.push(fake(i)));
        }
        assert_eq!(table.len, 5000);
        assert!(table.capacity >= 5000);
        assert_eq!(table.polls().len(), 1 + 2 * 5000);
        table.remove(0);
        assert_eq!(table.entries()[0].child, fake(4999).child);
        table.remove(table.len - 1);
        assert_eq!(table.len, 4998);
        let len = table.len;
        let last = table.entries()[len - 1];
        assert_eq!(
            (last.child, last.parent),
            (fake(4997).child, fake(4997).parent)
        );
        while table.len > 0 {
            table.remove(table.len / 2);
        }
        assert_eq!(table.polls().len(), 1);
    }

    #[test]
    fn descriptor_names_are_parsed() {
        assert_eq!(parse_fd(b"17\0"), Some(17));
        assert_eq!(parse_fd(b"0\0\0\0"), Some(0));
        assert_eq!(parse_fd(b".\0"), None);
        assert_eq!(parse_fd(b"..\0"), None);
        assert_eq!(parse_fd(b"\0"), None);
        assert_eq!(parse_fd(b"99999999999\0"), None);
    }
}
