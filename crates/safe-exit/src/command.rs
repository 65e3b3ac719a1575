//! [`CommandExt`]: children that die with this process, even when it dies without running
//! its hooks.

use std::process::Command;

use crate::sys::imp as sys;

/// Extends [`std::process::Command`] with [`die_with_parent`](CommandExt::die_with_parent).
///
/// Sealed: implemented for [`Command`] only.
pub trait CommandExt: sealed::Sealed {
    /// Makes the child die with this process, whatever way this process ends: also when it
    /// is killed with SIGKILL, aborts or crashes, when no hook can run.
    ///
    /// ```no_run
    /// use std::process::Command;
    /// use safe_exit::CommandExt;
    ///
    /// let worker = Command::new("my-worker").arg("--jobs=4").die_with_parent().spawn()?;
    /// // If this process is killed with SIGKILL now, `my-worker` is killed too.
    /// # let _ = worker;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # What it guarantees (Linux 5.3 or later, Android)
    ///
    /// When this process ends, in any way at all (`main` returning, [`std::process::exit`], a
    /// signal, SIGKILL, [`std::process::abort`], a crash, the OOM killer), the child, if it is
    /// still running, gets SIGKILL within milliseconds. Nothing of this process has to run for
    /// that: the kill comes from another process (below).
    ///
    /// - It is this **process** that counts, not the thread that spawned the child: a child
    ///   spawned from a thread that then ends lives on as long as the process does.
    /// - Only the **child** is killed, not the processes it started itself (they are
    ///   orphaned). To stop a whole tree, start the child in a process group of its own
    ///   ([`process_group(0)`][process_group]) and
    ///   [`own`](crate::own) it with [`KillOptions::group`](crate::KillOptions::group): on
    ///   every ending that runs hooks the group is stopped politely first; or have the child
    ///   start its own children with `die_with_parent` too.
    /// - SIGKILL gives the child no chance to clean up. Combine it with [`own`](crate::own),
    ///   which stops the child politely (its signal, a deadline, SIGKILL) on every ending that
    ///   runs hooks; `die_with_parent` then covers only the endings that run nothing.
    /// - The child is never reaped by safe-exit: [`Child::wait`](std::process::Child::wait)
    ///   still reports its status (signal 9 when it was killed this way).
    ///
    /// # How it works
    ///
    /// **Linux and Android.** One helper process per process tree, named `safe-exit-guard`
    /// (the guardian), does the killing. The first call to `die_with_parent` starts it (and a
    /// later call starts a new one if it is gone); it is forked twice, so it is not this
    /// process's child and a `waitpid(-1)` of the program never reaps it. It starts a session
    /// of its own, ignores the termination signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
    /// SIGUSR1, SIGUSR2, SIGALRM) and the keyboard stops, so a Ctrl-C in a terminal does not
    /// stop it; holds no file descriptor of this process's (its stdin, stdout and stderr are
    /// `/dev/null`: whoever reads this process's pipes sees their end when this process
    /// ends), runs in `/`, and raises its descriptor limit to the hard limit.
    ///
    /// This call adds a step that runs in the child between `fork` and `exec`
    /// ([`pre_exec`][pre_exec]): the child opens a pidfd of itself and one of this process,
    /// sends them to the guardian over a socket, with the write end of a pipe, in one
    /// `sendmsg`, and waits on the pipe for the guardian's answer before it executes the
    /// program: only a child that the guardian has taken on runs. The guardian polls every
    /// pidfd it holds: when a child exits it forgets it; when this process has exited (all of
    /// its threads), it sends SIGKILL to each of its children still running, through the
    /// child's pidfd, so never to a process that got a recycled pid. Once no process holds the
    /// other end of its socket any more and no child is left to watch, it exits by itself.
    ///
    /// This process holds two descriptors for the guardian: its end of the guardian's socket,
    /// and a pidfd of the guardian, by which it knows whether the guardian is still there.
    /// Each is checked by identity (device and inode) before use, in this process and in the
    /// child: a program that closes descriptors it did not open (a daemon's descriptor
    /// hygiene after a fork) and gets something else on that number is not mistaken for the
    /// guardian; the next `die_with_parent` starts a new guardian instead. (Before Linux 6.9
    /// all pidfds share one identity: another pidfd on the guardian's pidfd's number is not
    /// told from it.)
    ///
    /// It costs one extra process per process tree, one round trip to the guardian per spawn
    /// (the child waits for its answer), and two descriptors in the guardian per running
    /// child. Measured on Linux 6.18 (x86_64, two cores): a spawn and wait of `true` took
    /// about 0.7 ms, against 0.6 ms with an empty `pre_exec` (which makes std fork instead of
    /// `posix_spawn`) and 0.5 ms without; the wait for the answer is within the noise of
    /// that. The guardian is a fork of this process without exec, but it lets go of the
    /// memory it inherited and does not use before it reports ready (see the limitations): it
    /// holds little of its own, however large this process is.
    ///
    /// A process forked without exec shares the guardian, and the children it spawns after
    /// calling `die_with_parent` itself die with *it*, not with the process it was forked
    /// from.
    ///
    /// **Why not `PR_SET_PDEATHSIG`**, the usual answer: Linux sends the parent-death signal
    /// when the *thread* that forked the child ends, not the process, and std's `Command`
    /// cannot choose which thread forks: a child spawned from a short-lived thread (a thread
    /// pool's, an async runtime's blocking pool) would be killed long before its parent
    /// ends. The kernel also clears it when the child executes a set-user-ID or set-group-ID
    /// program.
    ///
    /// **macOS, iOS, the BSDs and other unix systems**: not supported: safe-exit has no
    /// means there to kill a child when this process dies without running its hooks. The
    /// spawn fails with [`ErrorKind::Unsupported`](std::io::ErrorKind::Unsupported) (never a
    /// child that silently is not guarded), and the reason is reported once on stderr. For
    /// the endings that run hooks, use [`own`](crate::own).
    ///
    /// **Windows**: at the first call this process puts itself into a job object that
    /// terminates every process in it when its last handle closes (the handle is this
    /// process's, so Windows closes it when this process ends in any way). A process is
    /// created in its parent's jobs, so from then on **every** child this process starts,
    /// configured with `die_with_parent` or not, and every process those start, is
    /// terminated with this process; a child started with the creation flag
    /// `CREATE_BREAKAWAY_FROM_JOB` is exempt, and children started before the first call are
    /// not affected. If the job cannot be set up, that is reported once on stderr and the
    /// command is left as it is (std's Windows `Command` offers no way to make `spawn` fail
    /// with a true reason).
    ///
    /// # Errors
    ///
    /// This is a builder method: it returns nothing, and what goes wrong makes
    /// [`spawn`](Command::spawn) (and `output`, `status`) fail instead; a child is never
    /// started unguarded in silence. std passes only the OS error number from the child to
    /// `spawn`, so that is what the error carries:
    ///
    /// - [`ErrorKind::Unsupported`](std::io::ErrorKind::Unsupported) (`ENOSYS`): the
    ///   platform has no means (macOS, the BSDs), or the kernel has no pidfds (Linux before
    ///   5.3, or a seccomp filter that refuses them). Reported on stderr once per process.
    /// - The guardian could not be started: the error of the call that failed
    ///   (`socketpair`, `fork` or `pidfd_open`: out of descriptors or processes), `EIO` if it
    ///   exited before it was ready, or `ETIMEDOUT` if it did not report ready within 10 s.
    ///   The next `die_with_parent` tries again.
    /// - [`ErrorKind::BrokenPipe`](std::io::ErrorKind::BrokenPipe) (`EPIPE`): the guardian
    ///   was killed after this command was configured, or while the child registered.
    ///   Calling `die_with_parent` again (on any command) starts a new guardian, which this
    ///   command then uses too.
    /// - `EMFILE`: the guardian is out of descriptors (each child it guards takes two, within
    ///   the descriptor limit it inherited from this process, whose soft limit it raises to
    ///   the hard one); `ENOMEM`: it is out of memory for its table. It refuses the child,
    ///   which then never runs; it takes on new children again as guarded ones exit.
    /// - `EBADF`: a descriptor of safe-exit's that this command relies on (the guardian's
    ///   socket or pidfd) was closed by the program after the command was configured, or its
    ///   number now refers to something else. Calling `die_with_parent` again starts a new
    ///   guardian, which this command then uses too.
    /// - `ETIMEDOUT`: the guardian did not answer the child within 10 s (it is stopped).
    /// - `ESRCH`: the child's parent is not the process that configured the command: a
    ///   process forked without exec spawned a command configured before the fork, without
    ///   calling `die_with_parent` itself (call it in the process that spawns); or this
    ///   process was dying while it spawned.
    /// - [`ErrorKind::InvalidInput`](std::io::ErrorKind::InvalidInput) (`EINVAL`): std's
    ///   [`exec`][exec], which replaces this process
    ///   without a fork: there is no parent to die with.
    /// - The child could not open its pidfds or its pipe, or send them (`EMFILE`, ...).
    ///
    /// # Limitations
    ///
    /// - **The guardian can be killed too** (SIGKILL, the OOM killer): the children it
    ///   watched at that moment are no longer guarded. The next `die_with_parent` starts a
    ///   new guardian for the children spawned from then on.
    /// - A child that the guardian cannot take on (it is out of descriptors or memory) is
    ///   not started: the spawn fails (`EMFILE`, `ENOMEM`) rather than start a child that
    ///   nothing guards. With a low descriptor limit (the guardian inherits this process's)
    ///   that bounds how many children can run at once with `die_with_parent`: about half
    ///   the hard limit.
    /// - The guardian is forked from this process without exec, so it starts out sharing all
    ///   of this process's memory, copy-on-write, and would be left alone with every page this
    ///   process writes or frees later. So before it reports ready it unmaps what it does not
    ///   use: the heap, `malloc`'s arenas and large blocks, the other threads' stacks, the
    ///   anonymous and the shared writable mappings. It keeps the mappings of files (the
    ///   program's and its libraries' code and data), their `.bss`, and the stack and
    ///   thread-local storage of the thread that started it. Measured on Linux 6.18 (x86_64,
    ///   glibc 2.36) with a process that held 256 MiB when it started the guardian, then
    ///   rewrote and freed it all: the guardian held 0.2 MiB of anonymous memory (0.8 MiB
    ///   resident, most of it the program's code, shared with this process), against 256 MiB
    ///   without the release; started from CPython 3.11 with a 256 MiB heap, 1.6 MiB of
    ///   anonymous memory, most of it `libpython`'s `.data`. That `.data` is what may still
    ///   come to be the guardian's alone, as this process writes to it: the size of the
    ///   writable data of the files it had mapped, no more.
    ///   The release is not made on architectures other than x86_64, aarch64 and riscv64, on
    ///   Android, with a shadow stack (CET, GCS) or under a sanitizer runtime: there the
    ///   guardian keeps the whole copy, and in a process that grows large `die_with_parent` is
    ///   best called early, while it is small.
    /// - A child whose user is changed ([`uid`][uid])
    ///   cannot be killed by the guardian (it runs as this process's user) unless this
    ///   process runs as root. A set-user-ID program is fine (its real user stays ours).
    /// - When this process is PID 1 (in a container) or a subreaper, the guardian, once
    ///   orphaned, becomes this process's child: a `waitpid(-1)` there sees it when it exits.
    ///
    /// [process_group]: https://doc.rust-lang.org/std/os/unix/process/trait.CommandExt.html#tymethod.process_group
    /// [pre_exec]: https://doc.rust-lang.org/std/os/unix/process/trait.CommandExt.html#tymethod.pre_exec
    /// [exec]: https://doc.rust-lang.org/std/os/unix/process/trait.CommandExt.html#tymethod.exec
    /// [uid]: https://doc.rust-lang.org/std/os/unix/process/trait.CommandExt.html#tymethod.uid
    fn die_with_parent(&mut self) -> &mut Self;
}

impl CommandExt for Command {
    fn die_with_parent(&mut self) -> &mut Self {
        sys::die_with_parent(self);
        self
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::process::Command {}
}
