//! Starting COMMAND: a process group of its own (and a session of its own when the wrapper
//! has no controlling terminal), the foreground of the terminal if the wrapper has it, and
//! the signal state the wrapper was started with.
//!
//! Two ways: `posix_spawn` (a vfork: no page tables copied) where nothing need be done
//! before `exec` that it cannot do, with musl, the static build a container holds; else a
//! fork with the work done in the child before `exec`. (glibc's `posix_spawn` leaves its two
//! internal signals ignored in the new program, 32 and 33, which musl programs and Go see:
//! COMMAND would not start with the wrapper's signal state.)

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use super::signals::Inherited;

/// Starts `command` (program and arguments, not empty) as a child in a process group of its
/// own, which gets the terminal's foreground if `foreground`; stdin, stdout, stderr and every
/// other inherited descriptor are passed on as they are. Returns its pid once it has
/// `exec`ed; an error if it could not (`NotFound`: no such program).
///
/// `no_terminal`: the wrapper has no controlling terminal. Then the child leads a session of
/// its own as well (as under dumb-init): with no terminal nothing else changes for it, and
/// on Linux it leaves the wrapper's scheduling group (the kernel's autogroup, one per
/// session), so that a signal passed on reaches its handler sooner.
pub(super) fn spawn(
    command: &[OsString],
    inherited: Inherited,
    foreground: bool,
    no_terminal: bool,
) -> io::Result<i32> {
    match spawn_as_is(command, inherited, foreground, no_terminal) {
        // An executable file that is no program (a script without `#!`): run it with
        // /bin/sh, as shells and glibc's execvp do (musl's does not).
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            let Some(path) = resolve(&command[0]) else {
                return Err(e);
            };
            let mut with_sh = vec![OsString::from("/bin/sh"), path.into_os_string()];
            with_sh.extend_from_slice(&command[1..]);
            spawn_as_is(&with_sh, inherited, foreground, no_terminal)
        }
        other => other,
    }
}

/// Where `program` is found, as `execvp` finds it: itself if it holds a `/`, else the first
/// executable file of that name in `$PATH`.
fn resolve(program: &OsString) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let is_executable = |p: &std::path::Path| {
        let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: access with a NUL-terminated path; nothing is written.
        p.is_file() && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
    };
    if program.as_bytes().contains(&b'/') {
        return Some(program.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

/// [`spawn`] without the /bin/sh fallback.
fn spawn_as_is(
    command: &[OsString],
    inherited: Inherited,
    foreground: bool,
    no_terminal: bool,
) -> io::Result<i32> {
    #[cfg(all(target_os = "linux", target_env = "musl"))]
    if !foreground && !inherited.chld_ignored {
        return vfork::spawn(command, &inherited, no_terminal);
    }
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    if !no_terminal {
        cmd.process_group(0);
    }
    // SAFETY: between fork and exec the closure only makes async-signal-safe calls
    // (setsid, sigfillset, pthread_sigmask, tcsetpgrp, getpid, signal) on values it owns
    // (`inherited` is copied in; the full set is a local); it allocates nothing and takes no
    // lock.
    unsafe {
        cmd.pre_exec(move || {
            if no_terminal && libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            // std has already put the child in its own group (`process_group`) and emptied its
            // signal mask: block everything again, so that taking the terminal from the
            // background does not stop it with SIGTTOU.
            let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigfillset(all.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), std::ptr::null_mut());
            if foreground {
                // A failure (no longer a terminal) only means no foreground: not an error.
                libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid());
            }
            if inherited.chld_ignored {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            }
            // The mask the wrapper was started with. (std has reset SIGPIPE, which Rust
            // ignores, to its default; the other ignored signals were never touched.)
            libc::pthread_sigmask(libc::SIG_SETMASK, &inherited.mask, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // The wrapper reaps it (waitpid(-1)); the `Child` is only dropped, which waits for nothing.
    Ok(child.id() as i32)
}

/// `posix_spawnp` (musl), with `POSIX_SPAWN_SETSID`, which std does not offer, or a new
/// process group: a vfork, the wrapper's original mask, SIGPIPE to its default. musl resets
/// only the signals the program has handlers for (none of its internal ones here), so the
/// ignored signals are passed on exactly.
#[cfg(all(target_os = "linux", target_env = "musl"))]
mod vfork {
    use std::ffi::{CString, OsString};
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::unix::ffi::OsStrExt;

    use super::Inherited;

    extern "C" {
        /// The process's environment, passed on as it is.
        static environ: *const *mut libc::c_char;
    }

    /// The attributes, destroyed when dropped.
    struct Attr(libc::posix_spawnattr_t);

    impl Drop for Attr {
        fn drop(&mut self) {
            // SAFETY: initialised by posix_spawnattr_init in `spawn`, destroyed once here.
            unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
        }
    }

    /// An error number returned by a `posix_spawn*` function, as an error.
    fn check(rc: libc::c_int) -> io::Result<()> {
        match rc {
            0 => Ok(()),
            rc => Err(io::Error::from_raw_os_error(rc)),
        }
    }

    /// See [`super::spawn`]: the child's pid once it has `exec`ed (glibc and musl report the
    /// `exec` error, `ENOENT` for a program not found on `PATH`).
    pub(super) fn spawn(
        command: &[OsString],
        inherited: &Inherited,
        session: bool,
    ) -> io::Result<i32> {
        let args = command
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in COMMAND"))?;
        let mut argv: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
        argv.push(std::ptr::null_mut());
        let mut attr = MaybeUninit::uninit();
        // SAFETY: posix_spawnattr_init initialises the attributes it is given.
        check(unsafe { libc::posix_spawnattr_init(attr.as_mut_ptr()) })?;
        // SAFETY: initialised just above; `Attr` destroys it once.
        let mut attr = Attr(unsafe { attr.assume_init() });
        // (The libc crate types these flags inconsistently: short or int.)
        let new = if session {
            libc::c_int::from(libc::POSIX_SPAWN_SETSID)
        } else {
            libc::POSIX_SPAWN_SETPGROUP
        };
        let flags = [
            new,
            libc::POSIX_SPAWN_SETSIGMASK,
            libc::POSIX_SPAWN_SETSIGDEF,
        ]
        .into_iter()
        .fold(0, |all, f: libc::c_int| all | f);
        let mut sigpipe = MaybeUninit::uninit();
        // SAFETY: valid, initialised attributes and signal sets; the calls copy what they read.
        unsafe {
            libc::sigemptyset(sigpipe.as_mut_ptr());
            libc::sigaddset(sigpipe.as_mut_ptr(), libc::SIGPIPE);
            check(libc::posix_spawnattr_setflags(
                &mut attr.0,
                flags as libc::c_short,
            ))?;
            check(libc::posix_spawnattr_setsigmask(
                &mut attr.0,
                &inherited.mask,
            ))?;
            check(libc::posix_spawnattr_setsigdefault(
                &mut attr.0,
                sigpipe.as_ptr(),
            ))?;
        }
        let mut pid = 0;
        // SAFETY: the program and argv are NUL-terminated strings that outlive the call, argv
        // ends with a null pointer, the attributes are valid, and `environ` is the process's
        // environment (the wrapper has one thread: nothing changes it meanwhile).
        check(unsafe {
            libc::posix_spawnp(
                &mut pid,
                args[0].as_ptr(),
                std::ptr::null(),
                &attr.0,
                argv.as_ptr(),
                environ,
            )
        })?;
        Ok(pid)
    }
}
