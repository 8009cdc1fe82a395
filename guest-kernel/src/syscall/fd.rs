//! Descriptor syscalls: close, close_range, dup/dup2/dup3, fcntl, flock, fsync,
//! fadvise64, with Linux's argument checks (fs/fcntl.c, fs/file.c).

use alloc::rc::Rc;
use alloc::vec::Vec;

use super::{copy_in, copy_out, fd_inode};
use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::platform::Platform;
use crate::process::{oflag::*, FileKind, FileRef};

/// Status flags F_SETFL may change.
const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;

/// Drops a descriptor's reference to its description (closing the inode's last one).
pub fn release<P: Platform>(k: &mut Kernel<P>, file: FileRef) {
    if Rc::strong_count(&file) == 1 {
        if let Some(ino) = fd_inode(&file) {
            k.vfs.close_ref(ino);
        }
    }
}

/// close(2).
pub fn close<P: Platform>(k: &mut Kernel<P>, fd: u64) -> SysResult<u64> {
    let file = k.proc.fds.remove(fd)?;
    release(k, file);
    Ok(0)
}

/// close_range(2).
pub fn close_range<P: Platform>(
    k: &mut Kernel<P>,
    first: u64,
    last: u64,
    flags: u64,
) -> SysResult<u64> {
    const CLOSE_RANGE_UNSHARE: u64 = 2;
    const CLOSE_RANGE_CLOEXEC: u64 = 4;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    let fds: Vec<u64> = k
        .proc
        .fds
        .open_fds()
        .filter(|&fd| fd >= first && fd <= last)
        .collect();
    for fd in fds {
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            k.proc.fds.set_cloexec(fd, true)?;
        } else {
            close(k, fd)?;
        }
    }
    Ok(0)
}

/// dup(2).
pub fn dup<P: Platform>(k: &mut Kernel<P>, fd: u64) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    let limit = k.proc.nofile();
    k.proc.fds.alloc(file, 0, false, limit)
}

/// dup2(2).
pub fn dup2<P: Platform>(k: &mut Kernel<P>, old: u64, new: u64) -> SysResult<u64> {
    let file = k.proc.fds.get(old)?;
    if old == new {
        return Ok(new);
    }
    install(k, new, file, false)
}

/// dup3(2).
pub fn dup3<P: Platform>(k: &mut Kernel<P>, old: u64, new: u64, flags: u64) -> SysResult<u64> {
    if flags & !u64::from(O_CLOEXEC) != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    let file = k.proc.fds.get(old)?;
    install(k, new, file, flags != 0)
}

fn install<P: Platform>(
    k: &mut Kernel<P>,
    fd: u64,
    file: FileRef,
    cloexec: bool,
) -> SysResult<u64> {
    let limit = k.proc.nofile();
    if let Some(old) = k.proc.fds.install(fd, file, cloexec, limit)? {
        release(k, old);
    }
    Ok(fd)
}

/// fcntl(2).
pub fn fcntl<P: Platform>(k: &mut Kernel<P>, fd: u64, cmd: u32, arg: u64) -> SysResult<u64> {
    const F_DUPFD: u32 = 0;
    const F_GETFD: u32 = 1;
    const F_SETFD: u32 = 2;
    const F_GETFL: u32 = 3;
    const F_SETFL: u32 = 4;
    const F_GETLK: u32 = 5;
    const F_SETLK: u32 = 6;
    const F_SETLKW: u32 = 7;
    const F_SETOWN: u32 = 8;
    const F_GETOWN: u32 = 9;
    const F_OFD_GETLK: u32 = 36;
    const F_OFD_SETLK: u32 = 37;
    const F_OFD_SETLKW: u32 = 38;
    const F_DUPFD_CLOEXEC: u32 = 1030;
    const F_UNLCK: u16 = 2;
    let file = k.proc.fds.get(fd)?;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let limit = k.proc.nofile();
            if arg >= limit {
                return Err(Errno::EINVAL);
            }
            k.proc.fds.alloc(file, arg, cmd == F_DUPFD_CLOEXEC, limit)
        }
        F_GETFD => Ok(u64::from(k.proc.fds.cloexec(fd)?)),
        F_SETFD => {
            k.proc.fds.set_cloexec(fd, arg & 1 != 0)?;
            Ok(0)
        }
        F_GETFL => Ok(u64::from(file.borrow().flags)),
        F_SETFL => {
            let mut f = file.borrow_mut();
            f.flags = (f.flags & !SETFL_MASK) | (arg as u32 & SETFL_MASK);
            Ok(0)
        }
        F_GETLK | F_OFD_GETLK => {
            copy_out(k, arg, &F_UNLCK.to_le_bytes())?;
            Ok(0)
        }
        F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW => {
            let mut lock = [0u8; 32];
            copy_in(k, arg, &mut lock)?;
            Ok(0)
        }
        F_SETOWN | F_GETOWN => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// flock(2): a single process never conflicts.
pub fn flock<P: Platform>(k: &mut Kernel<P>, fd: u64) -> SysResult<u64> {
    k.proc.fds.get(fd)?;
    Ok(0)
}

/// fsync(2) / fdatasync(2): memory is the storage.
pub fn fsync<P: Platform>(k: &mut Kernel<P>, fd: u64) -> SysResult<u64> {
    k.proc.fds.get(fd)?;
    Ok(0)
}

/// fadvise64(2).
pub fn fadvise<P: Platform>(k: &mut Kernel<P>, fd: u64, advice: u64) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    if matches!(file.borrow().kind, FileKind::HostIn | FileKind::HostOut(_)) {
        return Err(Errno::ESPIPE);
    }
    if advice > 5 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
