//! Letting go of the parent's memory, in the guardian (`safe-exit-guard`), before it says it
//! is ready: [`release`], in the guardian (system calls only, like all of `serve.rs`), and
//! [`Keep::of_this_thread`], which finds out what it must keep, in the parent just before the
//! fork (normal context: the one part of this file that runs there).
//!
//! The guardian is a fork without exec: it starts with a copy-on-write view of every page the
//! parent had at that moment. Each page the parent then writes or frees is left to the
//! guardian alone, so a guardian started by a large process would come to hold up to all of
//! that process's memory as it was. So before it says it is ready, the guardian unmaps what it
//! does not need of what it inherited, as `/proc/self/maps` lists it ([`decide`] says what
//! goes; [`Keep`] what stays whatever its kind).
//!
//! What the guardian touches afterwards, besides the memory it maps itself (its table, mapped
//! after the release): its code and read-only data, and the C library's and the dynamic
//! loader's data (`.data`, `.bss`): file-backed mappings, and the `.bss` of every loaded object
//! past its file's pages, all kept; the thread-local storage, thread control block and rseq
//! area of the thread that forked it (errno, the stack protector's canary, the cancellation
//! state; the kernel writes to the rseq area after each preemption and kills a process whose
//! rseq area is gone), kept around the addresses in [`Keep::anchors`]; and its stack around
//! where it runs. It reads no static of this crate's or of the program's. It relies on the
//! program's calls into the C library being bound at load (`-z now`, which rustc links with):
//! a lazy binding would read the dynamic loader's tables, which may lie in released memory.

use super::serve::errno;

/// How far on either side of each of [`Keep::anchors`] the memory is kept: a thread control
/// block (glibc's `struct pthread`), the C library's thread-local block and an rseq area are
/// a few KiB each, and lie within this of their anchor.
const TLS_REACH: usize = 64 << 10;

/// How far on either side of the release's own stack frame the stack is kept: the frames of
/// the guardian's functions from `intermediate` down to the deepest call of `serve`.
const STACK_REACH: usize = 128 << 10;

/// The size of the buffer `/proc/self/maps` is read into, on the stack: a line is about 75
/// bytes and a path (at most `PATH_MAX`, 4096 bytes); the start of a longer one is enough.
const MAPS_BUFFER: usize = 8 << 10;

/// How many `.bss` ranges [`Keep`] holds; with more (objects with a `.bss` past their file's
/// pages), the closest ones are merged, keeping what lies between them too.
const BSS_RANGES: usize = 128;

/// The number of address ranges the guardian keeps whatever their kind ([`Keep::protected`]).
const PROTECTED: usize = 7 + BSS_RANGES;

/// What the guardian must keep of the memory it inherits, whatever [`decide`] says of its
/// kind: found out by the parent, in normal context, in the thread that forks the guardian
/// (whose thread-local storage and stack the guardian goes on using).
#[derive(Clone, Copy, Debug)]
pub(super) struct Keep {
    /// Whether to release anything: false where the thread pointer is not read (architectures
    /// other than x86_64, aarch64 and riscv64; Android, whose C library lays threads out
    /// otherwise and is untested), with a shadow stack (CET, GCS: an anonymous mapping of its
    /// own), and under a sanitizer runtime (its shadow memory is anonymous, and it intercepts
    /// the C library's functions).
    enabled: bool,
    /// The page size.
    page: usize,
    /// Addresses in the forking thread's thread-local storage, control block and rseq area
    /// (0: none): the thread pointer, `pthread_self()`, errno, the rseq area glibc registered
    /// (at `__rseq_offset` from the thread pointer; since glibc 2.41 at the far end of the
    /// static TLS), and a library's own `__rseq_abi`.
    anchors: [usize; 5],
    /// The command line and environment strings at the top of the main thread's stack
    /// (`arg_start` to `env_end`), which `/proc/PID/cmdline` (and `ps`) shows.
    args: [usize; 2],
    /// The `.bss` of the program and its libraries past their files' pages: anonymous
    /// memory, as the heap is, which the C library's and the loader's own need; page-aligned,
    /// sorted, (0, 0) after the last.
    bss: [(usize, usize); BSS_RANGES],
}

impl Keep {
    /// A `Keep` that releases nothing.
    const NOTHING: Keep = Keep {
        enabled: false,
        page: 4096,
        anchors: [0; 5],
        args: [0; 2],
        bss: [(0, 0); BSS_RANGES],
    };

    /// What the guardian keeps if it is forked now from this thread. In the parent, in normal
    /// context (it reads a file, looks symbols up, lists the loaded objects).
    pub(super) fn of_this_thread() -> Keep {
        #[cfg(all(
            target_os = "linux",
            target_pointer_width = "64",
            any(
                target_arch = "x86_64",
                target_arch = "aarch64",
                target_arch = "riscv64"
            )
        ))]
        if let Some(keep) = find::keep() {
            return keep;
        }
        Keep::NOTHING
    }

    /// The page-aligned address ranges `[lo, hi)` to keep whatever their kind, the stack
    /// around `here` among them; empty ranges (0, 0) fill the rest.
    fn protected(&self, here: usize) -> [(usize, usize); PROTECTED] {
        let page = self.page;
        let down = |a: usize| a & !(page - 1);
        let up = |a: usize| a.saturating_add(page - 1) & !(page - 1);
        let around = |a: usize, reach: usize| {
            if a == 0 {
                (0, 0)
            } else {
                (down(a.saturating_sub(reach)), up(a.saturating_add(reach)))
            }
        };
        let mut out = [(0, 0); PROTECTED];
        for (slot, &a) in out.iter_mut().zip(&self.anchors) {
            *slot = around(a, TLS_REACH);
        }
        out[5] = around(here, STACK_REACH);
        if self.args[0] != 0 {
            out[6] = (down(self.args[0]), up(self.args[1]));
        }
        out[7..].copy_from_slice(&self.bss);
        out
    }
}

/// Finding out, in the parent, what the guardian keeps (see [`Keep`]).
#[cfg(all(
    target_os = "linux",
    target_pointer_width = "64",
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )
))]
mod find {
    use super::{Keep, BSS_RANGES};

    /// What the guardian keeps; None if it is to release nothing.
    pub(super) fn keep() -> Option<Keep> {
        let tp = thread_pointer()?;
        if shadow_stack() || symbol(c"__sanitizer_set_report_path") != 0 {
            return None;
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).ok().filter(|p| p.is_power_of_two())?;
        let mut keep = Keep {
            enabled: true,
            page,
            ..Keep::NOTHING
        };
        keep.anchors[0] = tp;
        // SAFETY: pthread_self and __errno_location have no preconditions.
        unsafe {
            keep.anchors[1] = libc::pthread_self() as usize;
            keep.anchors[2] = libc::__errno_location() as usize;
        }
        let (size, offset) = (symbol(c"__rseq_size"), symbol(c"__rseq_offset"));
        if size != 0 && offset != 0 {
            // SAFETY: glibc (2.35 and later) defines `unsigned int __rseq_size` and
            // `ptrdiff_t __rseq_offset`, set once at start-up.
            let (size, offset) = unsafe { (*(size as *const u32), *(offset as *const isize)) };
            if size > 0 {
                keep.anchors[3] = tp.wrapping_add_signed(offset);
            }
        }
        // For a thread-local symbol, dlsym gives this thread's instance.
        keep.anchors[4] = symbol(c"__rseq_abi");
        if let Some([arg_start, env_end]) = args() {
            if arg_start != 0 && env_end > arg_start {
                keep.args = [arg_start, env_end];
            }
        }
        let mut bss = bss(page);
        fit(&mut bss, BSS_RANGES);
        keep.bss[..bss.len()].copy_from_slice(&bss);
        Some(keep)
    }

    /// The thread pointer (`%fs` base).
    #[cfg(target_arch = "x86_64")]
    fn thread_pointer() -> Option<usize> {
        /// `ARCH_GET_FS` (`<asm/prctl.h>`).
        const ARCH_GET_FS: libc::c_long = 0x1003;
        let mut base: u64 = 0;
        // SAFETY: arch_prctl(ARCH_GET_FS) writes the base into a local.
        let rc = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_GET_FS, &mut base as *mut u64) };
        (rc == 0 && base != 0).then_some(base as usize)
    }

    /// The thread pointer (`tpidr_el0`).
    #[cfg(target_arch = "aarch64")]
    fn thread_pointer() -> Option<usize> {
        let tp: usize;
        // SAFETY: reads a register that user space may read.
        unsafe {
            std::arch::asm!(
                "mrs {}, tpidr_el0",
                out(reg) tp,
                options(nomem, nostack, preserves_flags)
            );
        }
        (tp != 0).then_some(tp)
    }

    /// The thread pointer (`tp`).
    #[cfg(target_arch = "riscv64")]
    fn thread_pointer() -> Option<usize> {
        let tp: usize;
        // SAFETY: copies a register.
        unsafe {
            std::arch::asm!(
                "mv {}, tp",
                out(reg) tp,
                options(nomem, nostack, preserves_flags)
            );
        }
        (tp != 0).then_some(tp)
    }

    /// Whether this thread runs with a shadow stack (x86 CET: `ARCH_SHSTK_STATUS`).
    #[cfg(target_arch = "x86_64")]
    fn shadow_stack() -> bool {
        /// `ARCH_SHSTK_STATUS` (`<asm/prctl.h>`, Linux 6.6).
        const ARCH_SHSTK_STATUS: libc::c_long = 0x5005;
        /// `ARCH_SHSTK_SHSTK`: the shadow stack is on.
        const ARCH_SHSTK_SHSTK: u64 = 1;
        let mut features: u64 = 0;
        // SAFETY: arch_prctl(ARCH_SHSTK_STATUS) writes the enabled features into a local
        // (EINVAL before Linux 6.6).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_SHSTK_STATUS,
                &mut features as *mut u64,
            )
        };
        rc == 0 && features & ARCH_SHSTK_SHSTK != 0
    }

    /// Whether this thread runs with a shadow stack (arm64 GCS, RISC-V Zicfiss:
    /// `PR_GET_SHADOW_STACK_STATUS`).
    #[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
    fn shadow_stack() -> bool {
        /// `PR_GET_SHADOW_STACK_STATUS` (`<linux/prctl.h>`, Linux 6.13).
        const PR_GET_SHADOW_STACK_STATUS: libc::c_int = 74;
        /// `PR_SHADOW_STACK_ENABLE`: the shadow stack is on.
        const PR_SHADOW_STACK_ENABLE: u64 = 1;
        let mut status: u64 = 0;
        let zero: libc::c_ulong = 0;
        // SAFETY: the prctl writes the status into a local (EINVAL before Linux 6.13).
        let rc = unsafe {
            libc::prctl(
                PR_GET_SHADOW_STACK_STATUS,
                &mut status as *mut u64,
                zero,
                zero,
                zero,
            )
        };
        rc == 0 && status & PR_SHADOW_STACK_ENABLE != 0
    }

    /// The address of the symbol `name` in the program or its libraries, 0 if there is none.
    fn symbol(name: &std::ffi::CStr) -> usize {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name (normal context).
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) as usize }
    }

    /// `arg_start` and `env_end` from `/proc/self/stat` (fields 48 and 51).
    fn args() -> Option<[usize; 2]> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Field 3 (the state) is the first after the command name, which may hold anything.
        let mut fields = stat
            .get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .skip(45);
        let mut next = |skip: usize| fields.nth(skip)?.parse::<usize>().ok();
        Some([next(0)?, next(2)?])
    }

    /// The `.bss` of each loaded object past its file's pages (`dl_iterate_phdr`): for each
    /// writable `PT_LOAD` segment, from the page after its file's bytes to its end.
    fn bss(page: usize) -> Vec<(usize, usize)> {
        /// Adds the ranges of one object to the `Vec` that `data` points to.
        unsafe extern "C" fn each(
            info: *mut libc::dl_phdr_info,
            _size: usize,
            data: *mut libc::c_void,
        ) -> libc::c_int {
            // SAFETY: dl_iterate_phdr gives a valid `info` (its `dlpi_phnum` headers at
            // `dlpi_phdr`), and `data` is the `Out` that `bss` passed.
            let (info, out) = unsafe { (&*info, &mut *data.cast::<Out>()) };
            if info.dlpi_phdr.is_null() {
                return 0;
            }
            // SAFETY: as above.
            let headers =
                unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
            let up = |a: u64| (a as usize).saturating_add(out.page - 1) & !(out.page - 1);
            for h in headers {
                if h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W != 0 {
                    let start = info.dlpi_addr.wrapping_add(h.p_vaddr);
                    let (file_end, end) = (
                        up(start.wrapping_add(h.p_filesz)),
                        up(start.wrapping_add(h.p_memsz)),
                    );
                    if file_end < end {
                        out.ranges.push((file_end, end));
                    }
                }
            }
            0
        }
        /// What `each` gets.
        struct Out {
            page: usize,
            ranges: Vec<(usize, usize)>,
        }
        let mut out = Out {
            page,
            ranges: Vec::new(),
        };
        // SAFETY: `each` only reads what it is given and pushes to `out`, which lives across
        // the call (normal context: dl_iterate_phdr takes the loader's lock).
        unsafe { libc::dl_iterate_phdr(Some(each), (&mut out as *mut Out).cast()) };
        out.ranges
    }

    /// Sorts `ranges` and merges those that overlap or touch; then, while there are more than
    /// `max`, merges the two that lie closest (keeping the gap between them too).
    pub(super) fn fit(ranges: &mut Vec<(usize, usize)>, max: usize) {
        ranges.retain(|&(lo, hi)| lo < hi);
        ranges.sort_unstable();
        ranges.dedup_by(|next, kept| {
            let touches = next.0 <= kept.1;
            if touches {
                kept.1 = kept.1.max(next.1);
            }
            touches
        });
        while ranges.len() > max.max(1) {
            let closest = (1..ranges.len())
                .min_by_key(|&i| ranges[i].0 - ranges[i - 1].1)
                .unwrap_or(1);
            ranges[closest - 1].1 = ranges[closest].1;
            ranges.remove(closest);
        }
    }
}

/// One line of `/proc/self/maps`: a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Vma {
    start: usize,
    end: usize,
    writable: bool,
    executable: bool,
    shared: bool,
    kind: Kind,
}

/// What a mapping maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Memory of no file: nameless, `[heap]`, `[stack]`, `[anon:NAME]` (named by the
    /// program), `[anon_shmem:NAME]`, `/anon_hugepage` (hugetlbfs behind `MAP_HUGETLB`).
    Anonymous,
    /// A file (or a device, an `anon_inode:`): a program, a library, a mapped file.
    File,
    /// The kernel's: `[vdso]`, `[vvar]`, `[vsyscall]`, `[uprobes]`, ...
    Special,
}

/// The mapping that one line of `/proc/self/maps` describes (`START-END PERMS OFFSET DEV
/// INODE [NAME]`), if the line is one; the line may be cut short after the first bytes of its
/// name.
fn parse_line(line: &[u8]) -> Option<Vma> {
    /// The bytes before the first space, and those after it.
    fn field(s: &[u8]) -> (&[u8], &[u8]) {
        match s.iter().position(|&b| b == b' ') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, &[]),
        }
    }
    /// A hexadecimal number.
    fn hex(s: &[u8]) -> Option<usize> {
        let mut value: usize = 0;
        for &b in s {
            let digit = (b as char).to_digit(16)? as usize;
            value = value.checked_mul(16)?.checked_add(digit)?;
        }
        (!s.is_empty()).then_some(value)
    }
    let (range, rest) = field(line);
    let (perms, rest) = field(rest);
    let (_offset, rest) = field(rest);
    let (_device, rest) = field(rest);
    let (inode, rest) = field(rest);
    let dash = range.iter().position(|&b| b == b'-')?;
    let (start, end) = (hex(&range[..dash])?, hex(&range[dash + 1..])?);
    let &[_, w, x, s] = perms else { return None };
    if inode.is_empty() || !inode.iter().all(u8::is_ascii_digit) || start >= end {
        return None;
    }
    let file = inode.iter().any(|&b| b != b'0');
    let name = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
    let kind = if name.starts_with(b"[") {
        let anonymous = [&b"[heap]"[..], b"[stack", b"[anon:", b"[anon_shmem:"];
        if anonymous.iter().any(|prefix| name.starts_with(prefix)) {
            Kind::Anonymous
        } else {
            Kind::Special
        }
    } else if name.starts_with(b"/anon_hugepage") || !file {
        Kind::Anonymous
    } else {
        Kind::File
    };
    Some(Vma {
        start,
        end,
        writable: w == b'w',
        executable: x == b'x',
        shared: s == b's',
        kind,
    })
}

/// Whether the guardian lets go of `vma` (but for the ranges [`Keep`] protects):
///
/// - it keeps what it cannot have written since the fork nor change: mappings that are not
///   writable, and the kernel's (`[vdso]`, ...). What is read-only stays shared with the
///   parent, and costs nothing of its own unless the parent unmaps it;
/// - it releases shared writable mappings (shared memory, `memfd`s, hugetlbfs): it uses
///   none, and holding one would keep it alive after the parent let it go;
/// - of the private writable ones, it keeps those of files: the `.data` and relocated data of
///   the program and its libraries, the C library's among them, which it uses (and which are
///   small), and the executable ones (code: a JIT's, or a program unpacked into anonymous
///   memory);
/// - and it releases the other anonymous ones: the heap, `malloc`'s arenas and large blocks,
///   the other threads' stacks, the program's own mappings, the main stack.
fn decide(vma: &Vma) -> bool {
    if vma.kind == Kind::Special || !vma.writable {
        return false;
    }
    vma.shared || (vma.kind == Kind::Anonymous && !vma.executable)
}

/// The first range `[lo, hi)` of `[at, end)` outside every range of `protected`; None if
/// there is none.
fn next_piece(at: usize, end: usize, protected: &[(usize, usize)]) -> Option<(usize, usize)> {
    let mut at = at;
    while let Some(&(_, hi)) = protected.iter().find(|&&(lo, hi)| lo <= at && at < hi) {
        at = hi;
    }
    if at >= end {
        return None;
    }
    let stop = protected
        .iter()
        .filter(|&&(lo, _)| lo > at)
        .map(|&(lo, _)| lo)
        .fold(end, usize::min);
    Some((at, stop))
}

/// Calls `release(lo, hi, on_stack)` for each range `[lo, hi)` of memory that the guardian
/// can let go of, reading `/proc/self/maps` into `buf`, on the stack (`on_stack`: the range
/// is in the mapping of that stack, which must stay mapped). Lines are acted on as they are
/// read: the kernel goes on from the address it reached, so unmapping what lies below does
/// not disturb the listing.
fn for_each_release(keep: &Keep, buf: &mut [u8], mut release: impl FnMut(usize, usize, bool)) {
    let here = buf.as_ptr() as usize;
    let protected = keep.protected(here);
    let act = |line: &[u8]| {
        let Some(vma) = parse_line(line) else { return };
        if !decide(&vma) {
            return;
        }
        let on_stack = vma.start <= here && here < vma.end;
        let mut at = vma.start;
        while let Some((lo, hi)) = next_piece(at, vma.end, &protected) {
            release(lo, hi, on_stack);
            at = hi;
        }
    };
    // SAFETY: open of a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c"/proc/self/maps".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return;
    }
    let read = |free: &mut [u8]| loop {
        // SAFETY: read writes at most `free.len()` bytes into `free`.
        let n = unsafe { libc::read(fd, free.as_mut_ptr().cast(), free.len()) };
        if n >= 0 || errno() != libc::EINTR {
            return n;
        }
    };
    for_each_line(buf, read, act);
    // SAFETY: our own descriptor.
    unsafe { libc::close(fd) };
}

/// Calls `act` with each line (without its newline) of what `read` gives (a count of bytes
/// read into the slice it gets; 0 at the end, negative on an error), read into `buf`; of a
/// line longer than `buf`, with its start only.
fn for_each_line(
    buf: &mut [u8],
    mut read: impl FnMut(&mut [u8]) -> isize,
    mut act: impl FnMut(&[u8]),
) {
    // `buf[..len]`: the start of a line not yet complete. `skipping`: the rest of a line too
    // long for the buffer, whose start was acted on, is being read past.
    let mut len = 0;
    let mut skipping = false;
    // (`len < buf.len()` here: a full buffer is emptied below.)
    while let Some(free) = buf.get_mut(len..) {
        let n = read(free);
        if n <= 0 {
            break;
        }
        len += n as usize;
        let mut at = 0;
        while let Some(nl) = buf[at..len].iter().position(|&b| b == b'\n') {
            if !skipping {
                act(&buf[at..at + nl]);
            }
            skipping = false;
            at += nl + 1;
        }
        buf.copy_within(at..len, 0);
        len -= at;
        if len == buf.len() {
            if !skipping {
                act(&buf[..len]);
            }
            skipping = true;
            len = 0;
        }
    }
}

/// Lets go of what the guardian inherited and does not need (see [`decide`] and [`Keep`]):
/// unmaps it, or, within the mapping of its stack (which must stay usable there), discards
/// its pages (`MADV_DONTNEED`: they read as zeros if touched again). Unmapping also frees the
/// page tables, and is the safer failure: should the guardian touch memory it let go of by
/// mistake, it faults (during its start, so that the spawn fails) where discarded memory
/// would read as zeros and the guardian go on with them, silently wrong.
pub(super) fn release(keep: &Keep) {
    if !keep.enabled {
        return;
    }
    let mut buf = [0u8; MAPS_BUFFER];
    for_each_release(keep, &mut buf, |lo, hi, on_stack| {
        // SAFETY: [lo, hi) is page-aligned memory of this process that nothing the guardian
        // runs from now on uses (see `decide` and `Keep`); on the stack, it lies outside the
        // frames in use.
        unsafe {
            if on_stack {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED);
            } else {
                libc::munmap(lo as *mut libc::c_void, hi - lo);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mapping, for `decide`.
    fn vma(start: usize, end: usize, perms: &str, kind: Kind) -> Vma {
        let perms = perms.as_bytes();
        Vma {
            start,
            end,
            writable: perms[1] == b'w',
            executable: perms[2] == b'x',
            shared: perms[3] == b's',
            kind,
        }
    }

    #[test]
    fn maps_lines_are_parsed() {
        let parse = |line: &str| parse_line(line.as_bytes());
        assert_eq!(
            parse("7c633000-7c636000 rw-p 00000000 00:00 0 "),
            Some(vma(0x7c633000, 0x7c636000, "rw-p", Kind::Anonymous))
        );
        assert_eq!(
            parse("5562a000-5562b000 rw-p 00003000 fe:00 10306971                   /tmp/a b"),
            Some(vma(0x5562a000, 0x5562b000, "rw-p", Kind::File))
        );
        assert_eq!(
            parse("7f000000-7f001000 r-xp 00026000 fe:00 326279    /usr/lib/libc.so.6 (deleted)"),
            Some(vma(0x7f000000, 0x7f001000, "r-xp", Kind::File))
        );
        for (name, kind) in [
            ("[heap]", Kind::Anonymous),
            ("[stack]", Kind::Anonymous),
            ("[anon:glibc: malloc arena]", Kind::Anonymous),
            ("[vdso]", Kind::Special),
            ("[vvar_vclock]", Kind::Special),
        ] {
            let line = format!("1000-3000 rw-p 00000000 00:00 0     {name}");
            assert_eq!(parse(&line).map(|v| v.kind), Some(kind), "{line}");
        }
        assert_eq!(
            parse("1000-2000 rw-s 00000000 00:01 2051  /dev/zero (deleted)"),
            Some(vma(0x1000, 0x2000, "rw-s", Kind::File))
        );
        assert_eq!(
            parse("1000-2000 rw-p 00000000 00:0f 4242  /anon_hugepage (deleted)").map(|v| v.kind),
            Some(Kind::Anonymous)
        );
        // Cut short in its name (a line longer than the buffer): still a mapping.
        assert_eq!(
            parse("1000-2000 rw-p 00000000 fe:00 12   /very/long").map(|v| v.kind),
            Some(Kind::File)
        );
        for bad in [
            "",
            "1000-2000",
            "1000-2000 rw-p 0 00:00",
            "2000-1000 rw-p 0 00:00 0",
            "1000 rw-p 0 00:00 0",
            "10g0-2000 rw-p 0 00:00 0",
            "1000-2000 rw 0 00:00 0",
            "1000-2000 rw-p 0 00:00 x",
            "1000-10000000000000000 rw-p 0 00:00 0",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn what_is_released_and_what_is_kept() {
        let anon = |perms| vma(0x10000, 0x20000, perms, Kind::Anonymous);
        let file = |perms| vma(0x10000, 0x20000, perms, Kind::File);
        let special = |perms| vma(0x10000, 0x20000, perms, Kind::Special);
        // Private anonymous writable: released, whatever its name; shared writable too.
        assert!(decide(&anon("rw-p")));
        assert!(decide(&anon("rw-s")));
        assert!(decide(&file("rw-s")));
        // Read-only, inaccessible, executable, files' private, the kernel's: kept.
        for perms in ["r--p", "---p", "r-xp", "rwxp", "r--s"] {
            assert!(!decide(&anon(perms)), "{perms}");
        }
        for perms in ["rw-p", "r--p", "r-xp", "r--s"] {
            assert!(!decide(&file(perms)), "{perms}");
        }
        assert!(!decide(&special("rw-p")));
    }

    #[cfg(all(
        target_os = "linux",
        target_pointer_width = "64",
        any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "riscv64"
        )
    ))]
    #[test]
    fn bss_ranges_are_merged_to_fit() {
        let fitted = |ranges: &[(usize, usize)], max: usize| {
            let mut ranges = ranges.to_vec();
            find::fit(&mut ranges, max);
            ranges
        };
        let ranges = [
            (0x9000, 0xa000),
            (0x1000, 0x2000),
            (0x2000, 0x3000),
            (0x5000, 0x6000),
        ];
        assert_eq!(
            fitted(&ranges, 8),
            [(0x1000, 0x3000), (0x5000, 0x6000), (0x9000, 0xa000)]
        );
        assert_eq!(fitted(&ranges, 2), [(0x1000, 0x6000), (0x9000, 0xa000)]);
        assert_eq!(fitted(&ranges, 1), [(0x1000, 0xa000)]);
        assert_eq!(
            fitted(&[(0x1000, 0x5000), (0x2000, 0x3000)], 8),
            [(0x1000, 0x5000)]
        );
        assert_eq!(fitted(&[(0x1000, 0x1000)], 8), []);
    }

    #[test]
    fn lines_are_split_across_reads_and_long_ones_cut() {
        let text = b"first\nsecond line\n\na line far longer than the buffer\nlast\n";
        for chunk in 1..text.len() {
            let mut rest = &text[..];
            let mut lines = Vec::new();
            let read = |free: &mut [u8]| {
                let n = chunk.min(free.len()).min(rest.len());
                free[..n].copy_from_slice(&rest[..n]);
                rest = &rest[n..];
                n as isize
            };
            let mut buf = [0u8; 16];
            for_each_line(&mut buf, read, |line| {
                lines.push(String::from_utf8_lossy(line).into_owned())
            });
            assert_eq!(
                lines,
                ["first", "second line", "", "a line far longe", "last"],
                "reads of {chunk}"
            );
        }
        // An error ends it.
        let mut lines = 0;
        for_each_line(&mut [0u8; 16], |_| -1, |_| lines += 1);
        assert_eq!(lines, 0);
    }

    #[test]
    fn pieces_avoid_the_protected_ranges() {
        let protected = [(0x3000, 0x5000), (0, 0), (0x4000, 0x8000), (0xa000, 0xb000)];
        let pieces = |from: usize, end: usize| {
            let mut out = Vec::new();
            let mut at = from;
            while let Some((lo, hi)) = next_piece(at, end, &protected) {
                out.push((lo, hi));
                at = hi;
            }
            out
        };
        assert_eq!(
            pieces(0x1000, 0x10000),
            [(0x1000, 0x3000), (0x8000, 0xa000), (0xb000, 0x10000)]
        );
        assert_eq!(pieces(0x3000, 0x8000), []);
        assert_eq!(pieces(0x4000, 0x9000), [(0x8000, 0x9000)]);
        assert_eq!(pieces(0xc000, 0xd000), [(0xc000, 0xd000)]);
        assert_eq!(pieces(0x1000, 0x1000), []);
    }

    /// A dry run in this (test) process: what the guardian would let go of leaves the thread
    /// pointer, errno, the stack in use, the files' mappings, the objects' `.bss` and the
    /// program's statics alone, and takes a large allocation.
    #[cfg(all(
        target_os = "linux",
        target_pointer_width = "64",
        any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "riscv64"
        )
    ))]
    #[test]
    fn a_dry_run_keeps_what_the_guardian_needs() {
        static STATIC: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let big = vec![1u8; 64 << 20];
        let keep = Keep::of_this_thread();
        assert!(keep.enabled, "{keep:?}");
        assert!(keep.anchors[..3].iter().all(|&a| a != 0), "{keep:?}");
        // At least one: the C library's (or a static program's own).
        assert_ne!(keep.bss[0], (0, 0), "{keep:?}");
        let mut buf = [0u8; MAPS_BUFFER];
        let here = buf.as_ptr() as usize;
        let mut released = Vec::with_capacity(1 << 16);
        for_each_release(&keep, &mut buf, |lo, hi, on_stack| {
            if released.len() < released.capacity() {
                released.push((lo, hi, on_stack));
            }
        });
        assert!(!released.is_empty());
        let files: Vec<(usize, usize)> = std::fs::read_to_string("/proc/self/maps")
            .expect("maps")
            .lines()
            .filter_map(|l| parse_line(l.as_bytes()))
            .filter(|v| v.kind == Kind::File && !v.shared)
            .map(|v| (v.start, v.end))
            .collect();
        // SAFETY: __errno_location has no preconditions.
        let errno = unsafe { libc::__errno_location() } as usize;
        let inside = |a: usize| released.iter().any(|&(lo, hi, _)| lo <= a && a < hi);
        for (what, a) in [
            ("the thread pointer", keep.anchors[0]),
            ("errno", errno),
            ("the stack", here),
            ("a static", &STATIC as *const _ as usize),
            (
                "code",
                a_dry_run_keeps_what_the_guardian_needs as *const () as usize,
            ),
        ] {
            assert!(
                !inside(a),
                "{what} ({a:#x}) would be released: {released:x?}"
            );
        }
        for &(lo, hi, _) in &released {
            assert!(lo < hi && lo % keep.page == 0 && hi % keep.page == 0);
            assert!(
                files.iter().all(|&(s, e)| hi <= s || e <= lo),
                "{lo:#x}-{hi:#x} is a file's"
            );
            assert!(
                keep.bss.iter().all(|&(s, e)| hi <= s || e <= lo),
                "{lo:#x}-{hi:#x} is a .bss: {:x?}",
                keep.bss
            );
        }
        assert!(inside(big.as_ptr() as usize + big.len() / 2));
    }
}
