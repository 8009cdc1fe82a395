//! The process: its address space, descriptor table, working directory, identity,
//! signal dispositions (recorded; delivery comes with the signal tier), resource limits
//! and the bookkeeping of the thread-related syscalls.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::errno::{Errno, SysResult};
use crate::fs::Ino;
use crate::mm::aspace::AddressSpace;

/// `open` flags (include/uapi/asm-generic/fcntl.h).
pub mod oflag {
    /// Access mode mask.
    pub const O_ACCMODE: u32 = 0o3;
    /// Read only.
    pub const O_RDONLY: u32 = 0o0;
    /// Write only.
    pub const O_WRONLY: u32 = 0o1;
    /// Read and write.
    pub const O_RDWR: u32 = 0o2;
    /// Create if missing.
    pub const O_CREAT: u32 = 0o100;
    /// With O_CREAT: fail if it exists.
    pub const O_EXCL: u32 = 0o200;
    /// Not a controlling terminal.
    pub const O_NOCTTY: u32 = 0o400;
    /// Truncate to zero.
    pub const O_TRUNC: u32 = 0o1000;
    /// Writes append.
    pub const O_APPEND: u32 = 0o2000;
    /// Non-blocking.
    pub const O_NONBLOCK: u32 = 0o4000;
    /// Synchronous data writes.
    pub const O_DSYNC: u32 = 0o10000;
    /// Async I/O signals.
    pub const O_ASYNC: u32 = 0o20000;
    /// Direct I/O.
    pub const O_DIRECT: u32 = 0o40000;
    /// Large files (always set on 64-bit).
    pub const O_LARGEFILE: u32 = 0o100000;
    /// Must be a directory.
    pub const O_DIRECTORY: u32 = 0o200000;
    /// Do not follow a final symlink.
    pub const O_NOFOLLOW: u32 = 0o400000;
    /// Do not update atime.
    pub const O_NOATIME: u32 = 0o1000000;
    /// Close on exec.
    pub const O_CLOEXEC: u32 = 0o2000000;
    /// Synchronous writes.
    pub const O_SYNC: u32 = 0o4010000;
    /// Path-only descriptor.
    pub const O_PATH: u32 = 0o10000000;
    /// Unnamed temporary file.
    pub const O_TMPFILE: u32 = 0o20200000;
}

/// What an open file description refers to.
#[derive(Debug, Clone)]
pub enum FileKind {
    /// An inode of the file system (regular file, directory, device).
    Inode(Ino),
    /// The host's stdin (the program's fd 0 at start).
    HostIn,
    /// A host output stream: 1 stdout, 2 stderr.
    HostOut(u32),
    /// Generated content: a /proc file as it was when opened.
    Snapshot {
        /// The /proc inode.
        ino: Ino,
        /// The content.
        data: Rc<Vec<u8>>,
    },
}

/// An open file description (shared by duplicated descriptors).
#[derive(Debug, Clone)]
pub struct OpenFile {
    /// What it refers to.
    pub kind: FileKind,
    /// Status flags (access mode, O_APPEND, O_NONBLOCK...).
    pub flags: u32,
    /// File position (a directory's entry index).
    pub offset: u64,
    /// The absolute path it was opened by (for /proc/self/maps names).
    pub path: Rc<str>,
}

impl OpenFile {
    /// Whether the description was opened for reading.
    pub fn readable(&self) -> bool {
        self.flags & oflag::O_PATH == 0 && self.flags & oflag::O_ACCMODE != oflag::O_WRONLY
    }
    /// Whether the description was opened for writing.
    pub fn writable(&self) -> bool {
        self.flags & oflag::O_PATH == 0 && self.flags & oflag::O_ACCMODE != oflag::O_RDONLY
    }
}

/// A shared open file description.
pub type FileRef = Rc<RefCell<OpenFile>>;

#[derive(Debug, Clone)]
struct FdEntry {
    file: FileRef,
    cloexec: bool,
}

/// The descriptor table.
#[derive(Debug, Clone, Default)]
pub struct FdTable {
    entries: Vec<Option<FdEntry>>,
}

/// Most descriptors a process may hold (the default RLIMIT_NOFILE soft limit).
pub const NOFILE_DEFAULT: u64 = 1024;

impl FdTable {
    /// The description behind `fd`.
    pub fn get(&self, fd: u64) -> SysResult<FileRef> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.entries.get(i) {
            Some(Some(e)) => Ok(e.file.clone()),
            _ => Err(Errno::EBADF),
        }
    }

    /// Whether `fd` is open.
    pub fn is_open(&self, fd: u64) -> bool {
        self.get(fd).is_ok()
    }

    /// Installs `file` at the lowest free descriptor >= `min` below `limit`.
    pub fn alloc(&mut self, file: FileRef, min: u64, cloexec: bool, limit: u64) -> SysResult<u64> {
        let start = usize::try_from(min).map_err(|_| Errno::EINVAL)?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut i = start;
        while i < self.entries.len() && self.entries[i].is_some() {
            i += 1;
        }
        if i >= limit {
            return Err(Errno::EMFILE);
        }
        if i >= self.entries.len() {
            self.entries.resize(i + 1, None);
        }
        self.entries[i] = Some(FdEntry { file, cloexec });
        Ok(i as u64)
    }

    /// Installs `file` at `fd`, returning the description it replaces.
    pub fn install(
        &mut self,
        fd: u64,
        file: FileRef,
        cloexec: bool,
        limit: u64,
    ) -> SysResult<Option<FileRef>> {
        if fd >= limit {
            return Err(Errno::EBADF);
        }
        let i = fd as usize;
        if i >= self.entries.len() {
            self.entries.resize(i + 1, None);
        }
        let old = self.entries[i].replace(FdEntry { file, cloexec });
        Ok(old.map(|e| e.file))
    }

    /// Removes `fd`, returning its description.
    pub fn remove(&mut self, fd: u64) -> SysResult<FileRef> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.entries.get_mut(i).and_then(Option::take) {
            Some(e) => Ok(e.file),
            None => Err(Errno::EBADF),
        }
    }

    /// The close-on-exec flag of `fd`.
    pub fn cloexec(&self, fd: u64) -> SysResult<bool> {
        match self.entries.get(fd as usize) {
            Some(Some(e)) => Ok(e.cloexec),
            _ => Err(Errno::EBADF),
        }
    }

    /// Sets the close-on-exec flag of `fd`.
    pub fn set_cloexec(&mut self, fd: u64, on: bool) -> SysResult<()> {
        match self.entries.get_mut(fd as usize) {
            Some(Some(e)) => {
                e.cloexec = on;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    /// Open descriptors in ascending order.
    pub fn open_fds(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_some())
            .map(|(i, _)| i as u64)
    }
}

/// One signal's disposition as rt_sigaction records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SigAction {
    /// sa_handler (0 = SIG_DFL, 1 = SIG_IGN).
    pub handler: u64,
    /// sa_flags.
    pub flags: u64,
    /// sa_restorer.
    pub restorer: u64,
    /// sa_mask.
    pub mask: u64,
}

/// Number of signals (1..=64).
pub const NSIG: usize = 64;

/// Signal numbers used by the kernel (include/uapi/asm-generic/signal.h).
pub mod sig {
    /// Illegal instruction.
    pub const SIGILL: u8 = 4;
    /// Trace/breakpoint trap.
    pub const SIGTRAP: u8 = 5;
    /// Abort.
    pub const SIGABRT: u8 = 6;
    /// Bus error.
    pub const SIGBUS: u8 = 7;
    /// Floating-point exception.
    pub const SIGFPE: u8 = 8;
    /// Kill.
    pub const SIGKILL: u8 = 9;
    /// Segmentation fault.
    pub const SIGSEGV: u8 = 11;
    /// Broken pipe.
    pub const SIGPIPE: u8 = 13;
    /// Stop.
    pub const SIGSTOP: u8 = 19;
}

/// Resource limits (RLIMIT_*), soft and hard.
pub const RLIM_NLIMITS: usize = 16;
/// RLIM_INFINITY.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// The process.
#[derive(Debug)]
pub struct Process {
    /// Process (and thread) id.
    pub pid: u32,
    /// The address space.
    pub aspace: AddressSpace,
    /// Descriptors.
    pub fds: FdTable,
    /// Working directory.
    pub cwd: Ino,
    /// File-creation mask.
    pub umask: u32,
    /// The executable's absolute path (/proc/self/exe).
    pub exe: Vec<u8>,
    /// Command name (comm: the executable's base name, at most 15 bytes).
    pub comm: Vec<u8>,
    /// The auxv as placed on the stack.
    pub auxv: Vec<(u64, u64)>,
    /// argv strings' range in user memory.
    pub args: (u64, u64),
    /// envp strings' range in user memory.
    pub env: (u64, u64),
    /// Signal dispositions, indexed by signal - 1.
    pub actions: [SigAction; NSIG],
    /// Blocked signals.
    pub sigmask: u64,
    /// sigaltstack: (sp, flags, size).
    pub altstack: (u64, u32, u64),
    /// set_tid_address pointer.
    pub clear_child_tid: u64,
    /// set_robust_list (head, len).
    pub robust_list: (u64, u64),
    /// User FS base.
    pub fs_base: u64,
    /// User GS base.
    pub gs_base: u64,
    /// Resource limits (soft, hard).
    pub rlimits: [(u64, u64); RLIM_NLIMITS],
    /// TSC when the process started (CPU-time clocks).
    pub start_tsc: u64,
    /// personality(2) persona.
    pub personality: u32,
}

/// Linux's default limits for a process started by init (soft, hard).
pub fn default_rlimits() -> [(u64, u64); RLIM_NLIMITS] {
    let inf = (RLIM_INFINITY, RLIM_INFINITY);
    [
        inf,                      // RLIMIT_CPU
        inf,                      // RLIMIT_FSIZE
        inf,                      // RLIMIT_DATA
        (8 << 20, RLIM_INFINITY), // RLIMIT_STACK
        (0, RLIM_INFINITY),       // RLIMIT_CORE
        inf,                      // RLIMIT_RSS
        (4096, 4096),             // RLIMIT_NPROC
        (NOFILE_DEFAULT, 4096),   // RLIMIT_NOFILE
        (8 << 20, 8 << 20),       // RLIMIT_MEMLOCK
        inf,                      // RLIMIT_AS
        inf,                      // RLIMIT_LOCKS
        (4096, 4096),             // RLIMIT_SIGPENDING
        (819_200, 819_200),       // RLIMIT_MSGQUEUE
        (0, 0),                   // RLIMIT_NICE
        (0, 0),                   // RLIMIT_RTPRIO
        inf,                      // RLIMIT_RTTIME
    ]
}

/// RLIMIT_STACK.
pub const RLIMIT_STACK: usize = 3;
/// RLIMIT_NOFILE.
pub const RLIMIT_NOFILE: usize = 7;

impl Process {
    /// The descriptor limit.
    pub fn nofile(&self) -> u64 {
        self.rlimits[RLIMIT_NOFILE].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> FileRef {
        Rc::new(RefCell::new(OpenFile {
            kind: FileKind::HostIn,
            flags: 0,
            offset: 0,
            path: Rc::from(""),
        }))
    }

    #[test]
    fn descriptors_are_lowest_free_first_and_limited() {
        let mut t = FdTable::default();
        assert_eq!(t.alloc(file(), 0, false, 3), Ok(0));
        assert_eq!(t.alloc(file(), 0, false, 3), Ok(1));
        assert_eq!(t.alloc(file(), 0, true, 3), Ok(2));
        assert_eq!(t.alloc(file(), 0, false, 3), Err(Errno::EMFILE));
        t.remove(1).unwrap();
        assert_eq!(t.alloc(file(), 0, false, 3), Ok(1));
        assert_eq!(t.alloc(file(), 10, false, 100), Ok(10));
        assert!(t.cloexec(2).unwrap());
        assert_eq!(t.remove(5).unwrap_err(), Errno::EBADF);
        assert_eq!(t.get(u64::MAX).unwrap_err(), Errno::EBADF);
        assert_eq!(t.open_fds().collect::<Vec<_>>(), [0, 1, 2, 10]);
    }

    #[test]
    fn access_modes_decide_readable_and_writable() {
        let mut f = OpenFile {
            kind: FileKind::HostIn,
            flags: oflag::O_RDWR,
            offset: 0,
            path: Rc::from(""),
        };
        assert!(f.readable() && f.writable());
        f.flags = oflag::O_WRONLY | oflag::O_APPEND;
        assert!(!f.readable() && f.writable());
        f.flags = oflag::O_PATH;
        assert!(!f.readable() && !f.writable());
    }
}
