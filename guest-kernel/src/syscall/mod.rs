//! Linux syscalls: [`dispatch`] decodes the number and arguments from the trap frame,
//! calls the handler of its family and stores the result (or `-errno`) in RAX.
//! Unimplemented numbers return ENOSYS with one kernel-log line naming the syscall.
//! With `BootInfo::log_level` >= 2 every syscall is logged with its result (strace-like).
//!
//! Families: [`fs`] (paths, directories), [`fd`] (descriptors), [`meta`] (metadata
//! changes), [`io`] (read/write and friends),
//! [`mm`] (mmap family, brk), [`time`] (clocks, sleeps), [`info`] (identity, limits,
//! uname, getrandom), [`process`] (exit, arch_prctl, thread bookkeeping, signal
//! dispositions), with /proc content in [`procfs`].

pub mod fd;
pub mod fs;
pub mod info;
pub mod io;
pub mod meta;
pub mod mm;
pub mod names;
pub mod nr;
pub mod process;
pub mod procfs;
pub mod time;

use crate::klog;
use alloc::vec::Vec;

use crate::errno::{Errno, SysResult};
use crate::fs::{Ino, PATH_MAX, ROOT_INO};
use crate::kernel::{Flow, Kernel};
use crate::platform::Platform;
use crate::process::{FileKind, FileRef};
use crate::trapframe::TrapFrame;

use nr::*;

/// `AT_FDCWD`: relative paths start at the working directory.
pub const AT_FDCWD: i32 = -100;

/// Runs the syscall in `f` (number in RAX, arguments in RDI, RSI, RDX, R10, R8, R9).
#[allow(non_upper_case_globals)]
pub fn dispatch<P: Platform>(k: &mut Kernel<P>, f: &mut TrapFrame) -> Flow {
    let a = [f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9];
    let r: SysResult<u64> = match f.rax {
        SYS_read => io::read(k, a[0], a[1], a[2]),
        SYS_write => io::write(k, a[0], a[1], a[2]),
        SYS_open => fs::openat(k, AT_FDCWD as u64, a[0], a[1] as u32, a[2] as u32),
        SYS_close => fd::close(k, a[0]),
        SYS_stat => fs::fstatat(k, AT_FDCWD as u64, a[0], a[1], 0),
        SYS_fstat => fs::fstat(k, a[0], a[1]),
        SYS_lstat => fs::fstatat(k, AT_FDCWD as u64, a[0], a[1], fs::AT_SYMLINK_NOFOLLOW),
        SYS_poll => io::poll(k, a[0], a[1], a[2] as i32),
        SYS_lseek => io::lseek(k, a[0], a[1] as i64, a[2] as u32),
        SYS_mmap => mm::mmap(k, a),
        SYS_mprotect => mm::mprotect(k, a[0], a[1], a[2]),
        SYS_munmap => mm::munmap(k, a[0], a[1]),
        SYS_brk => mm::brk(k, a[0]),
        SYS_rt_sigaction => process::rt_sigaction(k, a[0], a[1], a[2], a[3]),
        SYS_rt_sigprocmask => process::rt_sigprocmask(k, a[0], a[1], a[2], a[3]),
        SYS_ioctl => io::ioctl(k, a[0], a[1], a[2]),
        SYS_pread64 => io::pread(k, a[0], a[1], a[2], a[3] as i64),
        SYS_pwrite64 => io::pwrite(k, a[0], a[1], a[2], a[3] as i64),
        SYS_readv => io::readv(k, a[0], a[1], a[2], None),
        SYS_writev => io::writev(k, a[0], a[1], a[2], None),
        SYS_preadv => io::readv(k, a[0], a[1], a[2], Some(a[3] as i64)),
        SYS_pwritev => io::writev(k, a[0], a[1], a[2], Some(a[3] as i64)),
        SYS_access => fs::faccessat(k, AT_FDCWD as u64, a[0], a[1], 0),
        SYS_sched_yield => Ok(0),
        SYS_mremap => mm::mremap(k, a),
        SYS_msync => mm::msync(k, a[0], a[1], a[2]),
        SYS_mincore => mm::mincore(k, a[0], a[1], a[2]),
        SYS_madvise => mm::madvise(k, a[0], a[1], a[2]),
        SYS_dup => fd::dup(k, a[0]),
        SYS_dup2 => fd::dup2(k, a[0], a[1]),
        SYS_nanosleep => time::nanosleep(k, a[0], a[1]),
        SYS_getitimer => process::getitimer(k, a[0], a[1]),
        SYS_getpid => Ok(u64::from(k.proc.pid)),
        SYS_sendfile => io::sendfile(k, a[0], a[1], a[2], a[3]),
        SYS_exit | SYS_exit_group => {
            return Flow::Exit(emu_abi::ports::DebugExit::Exited(a[0] as u8))
        }
        SYS_kill => process::kill(k, a[0] as i64, a[1]),
        SYS_uname => info::uname(k, a[0]),
        SYS_fcntl => fd::fcntl(k, a[0], a[1] as u32, a[2]),
        SYS_flock => fd::flock(k, a[0]),
        SYS_fsync | SYS_fdatasync => fd::fsync(k, a[0]),
        SYS_truncate => meta::truncate(k, a[0], a[1] as i64),
        SYS_ftruncate => meta::ftruncate(k, a[0], a[1] as i64),
        SYS_getdents64 => fs::getdents64(k, a[0], a[1], a[2]),
        SYS_getcwd => fs::getcwd(k, a[0], a[1]),
        SYS_chdir => fs::chdir(k, a[0]),
        SYS_fchdir => fs::fchdir(k, a[0]),
        SYS_rename => fs::renameat2(k, AT_FDCWD as u64, a[0], AT_FDCWD as u64, a[1], 0),
        SYS_mkdir => fs::mkdirat(k, AT_FDCWD as u64, a[0], a[1] as u32),
        SYS_rmdir => fs::unlinkat(k, AT_FDCWD as u64, a[0], fs::AT_REMOVEDIR),
        SYS_creat => fs::openat(
            k,
            AT_FDCWD as u64,
            a[0],
            crate::process::oflag::O_CREAT
                | crate::process::oflag::O_WRONLY
                | crate::process::oflag::O_TRUNC,
            a[1] as u32,
        ),
        SYS_link => fs::linkat(k, AT_FDCWD as u64, a[0], AT_FDCWD as u64, a[1], 0),
        SYS_unlink => fs::unlinkat(k, AT_FDCWD as u64, a[0], 0),
        SYS_symlink => fs::symlinkat(k, a[0], AT_FDCWD as u64, a[1]),
        SYS_readlink => fs::readlinkat(k, AT_FDCWD as u64, a[0], a[1], a[2]),
        SYS_chmod => meta::fchmodat(k, AT_FDCWD as u64, a[0], a[1] as u32),
        SYS_fchmod => meta::fchmod(k, a[0], a[1] as u32),
        SYS_chown | SYS_lchown => meta::fchownat(k, AT_FDCWD as u64, a[0], a[1], a[2], 0),
        SYS_fchown => meta::fchown(k, a[0], a[1], a[2]),
        SYS_umask => Ok(info::umask(k, a[0])),
        SYS_gettimeofday => time::gettimeofday(k, a[0], a[1]),
        SYS_getrlimit => info::prlimit64(k, 0, a[0], 0, a[1]),
        SYS_getrusage => time::getrusage(k, a[0] as i64, a[1]),
        SYS_sysinfo => info::sysinfo(k, a[0]),
        SYS_times => time::times(k, a[0]),
        SYS_getuid | SYS_getgid | SYS_geteuid | SYS_getegid => Ok(0),
        SYS_setuid | SYS_setgid | SYS_setreuid | SYS_setregid | SYS_setresuid | SYS_setresgid => {
            Ok(0)
        }
        SYS_getresuid | SYS_getresgid => info::getresid(k, a[0], a[1], a[2]),
        SYS_getgroups => Ok(0),
        SYS_setgroups => Ok(0),
        SYS_getppid => Ok(0),
        SYS_getpgrp | SYS_getsid => Ok(u64::from(k.proc.pid)),
        SYS_getpgid => info::getpgid(k, a[0]),
        SYS_setpgid => Ok(0),
        SYS_setsid => Err(Errno::EPERM),
        SYS_rt_sigpending => process::rt_sigpending(k, a[0], a[1]),
        SYS_sigaltstack => process::sigaltstack(k, a[0], a[1]),
        SYS_utime => meta::utime(k, a[0], a[1]),
        SYS_mknod => fs::mknodat(k, AT_FDCWD as u64, a[0], a[1] as u32, a[2]),
        SYS_statfs => meta::statfs(k, a[0], a[1]),
        SYS_fstatfs => meta::fstatfs(k, a[0], a[1]),
        SYS_getpriority => Ok(20),
        SYS_setpriority => Ok(0),
        SYS_prctl => process::prctl(k, a),
        SYS_arch_prctl => process::arch_prctl(k, a[0], a[1]),
        SYS_setrlimit => info::prlimit64(k, 0, a[0], a[1], 0),
        SYS_sync | SYS_syncfs => Ok(0),
        SYS_gettid => Ok(u64::from(k.proc.pid)),
        SYS_tkill => process::tgkill(k, u64::from(k.proc.pid), a[0], a[1]),
        SYS_time => time::time(k, a[0]),
        SYS_futex => process::futex(k, a),
        SYS_sched_setaffinity => info::sched_setaffinity(k, a[0], a[1], a[2]),
        SYS_sched_getaffinity => info::sched_getaffinity(k, a[0], a[1], a[2]),
        SYS_set_tid_address => {
            k.proc.clear_child_tid = a[0];
            Ok(u64::from(k.proc.pid))
        }
        SYS_fadvise64 => fd::fadvise(k, a[0], a[3]),
        SYS_clock_gettime => time::clock_gettime(k, a[0], a[1]),
        SYS_clock_getres => time::clock_getres(k, a[0], a[1]),
        SYS_clock_nanosleep => time::clock_nanosleep(k, a[0], a[1], a[2], a[3]),
        SYS_tgkill => process::tgkill(k, a[0], a[1], a[2]),
        SYS_utimes => meta::utimes(k, AT_FDCWD as u64, a[0], a[1]),
        SYS_openat => fs::openat(k, a[0], a[1], a[2] as u32, a[3] as u32),
        SYS_mkdirat => fs::mkdirat(k, a[0], a[1], a[2] as u32),
        SYS_mknodat => fs::mknodat(k, a[0], a[1], a[2] as u32, a[3]),
        SYS_fchownat => meta::fchownat(k, a[0], a[1], a[2], a[3], a[4]),
        SYS_futimesat => meta::utimes(k, a[0], a[1], a[2]),
        SYS_newfstatat => fs::fstatat(k, a[0], a[1], a[2], a[3]),
        SYS_unlinkat => fs::unlinkat(k, a[0], a[1], a[2]),
        SYS_renameat => fs::renameat2(k, a[0], a[1], a[2], a[3], 0),
        SYS_linkat => fs::linkat(k, a[0], a[1], a[2], a[3], a[4]),
        SYS_symlinkat => fs::symlinkat(k, a[0], a[1], a[2]),
        SYS_readlinkat => fs::readlinkat(k, a[0], a[1], a[2], a[3]),
        SYS_fchmodat | SYS_fchmodat2 => meta::fchmodat(k, a[0], a[1], a[2] as u32),
        SYS_faccessat => fs::faccessat(k, a[0], a[1], a[2], 0),
        SYS_faccessat2 => fs::faccessat(k, a[0], a[1], a[2], a[3]),
        SYS_pselect6 => io::pselect6(k, a),
        SYS_select => io::select(k, a),
        SYS_ppoll => io::ppoll(k, a[0], a[1], a[2]),
        SYS_set_robust_list => {
            if a[1] != 24 {
                Err(Errno::EINVAL)
            } else {
                k.proc.robust_list = (a[0], a[1]);
                Ok(0)
            }
        }
        SYS_get_robust_list => process::get_robust_list(k, a[0], a[1], a[2]),
        SYS_utimensat => meta::utimensat(k, a[0], a[1], a[2], a[3]),
        SYS_dup3 => fd::dup3(k, a[0], a[1], a[2]),
        SYS_prlimit64 => info::prlimit64(k, a[0], a[1], a[2], a[3]),
        SYS_getcpu => info::getcpu(k, a[0], a[1]),
        SYS_renameat2 => fs::renameat2(k, a[0], a[1], a[2], a[3], a[4]),
        SYS_getrandom => info::getrandom(k, a[0], a[1], a[2]),
        SYS_statx => fs::statx(k, a[0], a[1], a[2], a[3], a[4]),
        SYS_copy_file_range => Err(Errno::ENOSYS),
        SYS_rseq => Err(Errno::ENOSYS),
        SYS_membarrier => Err(Errno::ENOSYS),
        SYS_close_range => fd::close_range(k, a[0], a[1], a[2]),
        SYS_getxattr | SYS_lgetxattr => {
            fs::xattr_path(k, a[0], f.rax == SYS_getxattr).and(Err(Errno::ENODATA))
        }
        SYS_listxattr | SYS_llistxattr => fs::xattr_path(k, a[0], f.rax == SYS_listxattr),
        SYS_fgetxattr => k.proc.fds.get(a[0]).and(Err(Errno::ENODATA)),
        SYS_flistxattr => k.proc.fds.get(a[0]).map(|_| 0),
        SYS_setxattr | SYS_lsetxattr | SYS_fsetxattr | SYS_removexattr | SYS_lremovexattr
        | SYS_fremovexattr => Err(Errno::EOPNOTSUPP),
        SYS_personality => Ok(process::personality(k, a[0])),
        SYS_wait4 | SYS_waitid => Err(Errno::ECHILD),
        SYS_sched_getscheduler
        | SYS_sched_getparam
        | SYS_sched_setparam
        | SYS_sched_setscheduler => Ok(0),
        SYS_sched_get_priority_max | SYS_sched_get_priority_min => Ok(0),
        SYS_mlock | SYS_munlock | SYS_mlockall | SYS_munlockall | SYS_mlock2 => Ok(0),
        SYS_pipe | SYS_pipe2 => unimplemented(k, f.rax),
        other => unimplemented(k, other),
    };
    let ret = match r {
        Ok(v) => v,
        Err(e) => e.to_ret() as u64,
    };
    if k.cfg.log_level >= 2 {
        let name = names::name(f.rax).unwrap_or("?");
        klog!(
            k,
            "syscall {name}({:#x}, {:#x}, {:#x}, {:#x}) = {:#x}",
            a[0],
            a[1],
            a[2],
            a[3],
            ret
        );
    }
    f.rax = ret;
    match k.pending_exit.take() {
        Some(e) => Flow::Exit(e),
        None => Flow::Continue,
    }
}

/// ENOSYS plus the kernel-log line naming the syscall.
fn unimplemented<P: Platform>(k: &mut Kernel<P>, nr: u64) -> SysResult<u64> {
    let name = names::name(nr).unwrap_or("unknown");
    let comm = alloc::string::String::from(k.comm());
    klog!(
        k,
        "{comm}[{}]: syscall {nr} ({name}) is not implemented: ENOSYS",
        k.proc.pid
    );
    Err(Errno::ENOSYS)
}

/// Reads a path argument (at most PATH_MAX bytes with its NUL).
pub fn user_path<P: Platform>(k: &mut Kernel<P>, ptr: u64) -> SysResult<Vec<u8>> {
    k.proc.aspace.read_cstr(&mut k.p, ptr, PATH_MAX - 1)
}

/// Copies `data` to user memory.
pub fn copy_out<P: Platform>(k: &mut Kernel<P>, ptr: u64, data: &[u8]) -> SysResult<()> {
    k.proc.aspace.copy_to_user(&mut k.p, ptr, data)
}

/// Copies user memory into `buf`.
pub fn copy_in<P: Platform>(k: &mut Kernel<P>, ptr: u64, buf: &mut [u8]) -> SysResult<()> {
    k.proc.aspace.copy_from_user(&mut k.p, ptr, buf)
}

/// Reads a user u64.
pub fn read_u64<P: Platform>(k: &mut Kernel<P>, ptr: u64) -> SysResult<u64> {
    k.proc.aspace.read_u64(&mut k.p, ptr)
}

/// The directory a `*at` syscall starts relative paths at.
pub fn base_dir<P: Platform>(k: &Kernel<P>, dirfd: u64, path: &[u8]) -> SysResult<Ino> {
    if path.first() == Some(&b'/') {
        return Ok(ROOT_INO);
    }
    if dirfd as i32 == AT_FDCWD {
        return Ok(k.proc.cwd);
    }
    let file = k.proc.fds.get(u64::from(dirfd as u32))?;
    let kind = file.borrow().kind.clone();
    match kind {
        FileKind::Inode(ino) if k.vfs.inode(ino)?.is_dir() => Ok(ino),
        _ => Err(Errno::ENOTDIR),
    }
}

/// The inode behind a descriptor, if it has one.
pub fn fd_inode(file: &FileRef) -> Option<Ino> {
    match file.borrow().kind {
        FileKind::Inode(ino) => Some(ino),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
