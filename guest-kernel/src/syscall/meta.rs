//! Metadata syscalls: truncate/ftruncate, chmod, chown, utimensat/utimes/utime,
//! statfs/fstatfs (fs/open.c, fs/utimes.c, fs/statfs.c).

use super::fs::AT_EMPTY_PATH;
use super::fs::AT_SYMLINK_NOFOLLOW;
use super::{base_dir, copy_in, copy_out, fd_inode, user_path};
use crate::abi;
use crate::errno::{Errno, SysResult};
use crate::fs::node::{Node, Timespec};
use crate::fs::Ino;
use crate::kernel::Kernel;
use crate::platform::Platform;

/// truncate(2).
pub fn truncate<P: Platform>(k: &mut Kernel<P>, pathp: u64, len: i64) -> SysResult<u64> {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let path = user_path(k, pathp)?;
    let base = base_dir(k, super::AT_FDCWD as u64, &path)?;
    let ino = k.vfs.resolve(base, &path, true)?;
    match k.vfs.inode(ino)?.node {
        Node::File(_) => {}
        Node::Dir { .. } => return Err(Errno::EISDIR),
        _ => return Err(Errno::EINVAL),
    }
    let now = k.wall_time();
    k.vfs.truncate(ino, len as u64, now)?;
    Ok(0)
}

/// ftruncate(2).
pub fn ftruncate<P: Platform>(k: &mut Kernel<P>, fd: u64, len: i64) -> SysResult<u64> {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let file = k.proc.fds.get(fd)?;
    let writable = file.borrow().writable();
    let ino = fd_inode(&file).ok_or(Errno::EINVAL)?;
    if !writable || !matches!(k.vfs.inode(ino)?.node, Node::File(_)) {
        return Err(Errno::EINVAL);
    }
    let now = k.wall_time();
    k.vfs.truncate(ino, len as u64, now)?;
    Ok(0)
}

/// The inode a metadata call names: `path` from `dirfd`, or `dirfd` itself when the
/// path pointer is NULL (utimensat) or empty with AT_EMPTY_PATH.
fn meta_target<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    flags: u64,
) -> SysResult<Ino> {
    if pathp == 0 {
        let file = k.proc.fds.get(dirfd)?;
        return fd_inode(&file).ok_or(Errno::EPERM);
    }
    let path = user_path(k, pathp)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH != 0 {
            let file = k.proc.fds.get(dirfd)?;
            return fd_inode(&file).ok_or(Errno::EPERM);
        }
        return Err(Errno::ENOENT);
    }
    let base = base_dir(k, dirfd, &path)?;
    k.vfs.resolve(base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)
}

/// fchmodat(2) (and chmod).
pub fn fchmodat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    mode_arg: u32,
) -> SysResult<u64> {
    if pathp == 0 {
        return Err(Errno::EFAULT);
    }
    let ino = meta_target(k, dirfd, pathp, 0)?;
    set_mode(k, ino, mode_arg)
}

/// fchmod(2).
pub fn fchmod<P: Platform>(k: &mut Kernel<P>, fd: u64, mode_arg: u32) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    let ino = fd_inode(&file).ok_or(Errno::EINVAL)?;
    set_mode(k, ino, mode_arg)
}

fn set_mode<P: Platform>(k: &mut Kernel<P>, ino: Ino, mode_arg: u32) -> SysResult<u64> {
    let now = k.wall_time();
    let i = k.vfs.inode_mut(ino)?;
    i.perm = mode_arg & 0o7777;
    i.ctime = now;
    Ok(0)
}

/// fchownat(2) (and chown, lchown).
pub fn fchownat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    uid: u64,
    gid: u64,
    flags: u64,
) -> SysResult<u64> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if pathp == 0 {
        return Err(Errno::EFAULT);
    }
    let ino = meta_target(k, dirfd, pathp, flags)?;
    set_owner(k, ino, uid, gid)
}

/// fchown(2).
pub fn fchown<P: Platform>(k: &mut Kernel<P>, fd: u64, uid: u64, gid: u64) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    let ino = fd_inode(&file).ok_or(Errno::EINVAL)?;
    set_owner(k, ino, uid, gid)
}

fn set_owner<P: Platform>(k: &mut Kernel<P>, ino: Ino, uid: u64, gid: u64) -> SysResult<u64> {
    let now = k.wall_time();
    let i = k.vfs.inode_mut(ino)?;
    if uid as u32 != u32::MAX {
        i.uid = uid as u32;
    }
    if gid as u32 != u32::MAX {
        i.gid = gid as u32;
    }
    i.ctime = now;
    Ok(0)
}

/// utimensat(2).
pub fn utimensat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    timesp: u64,
    flags: u64,
) -> SysResult<u64> {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let now = k.wall_time();
    let mut times = [Some(now), Some(now)];
    if timesp != 0 {
        let mut raw = [0u8; 32];
        copy_in(k, timesp, &mut raw)?;
        for (i, t) in times.iter_mut().enumerate() {
            let mut b = [0u8; 16];
            b.copy_from_slice(&raw[16 * i..16 * i + 16]);
            let ts = abi::parse_timespec(&b);
            *t = match ts.nsec {
                UTIME_NOW => Some(now),
                UTIME_OMIT => None,
                n if (0..1_000_000_000).contains(&n) => Some(ts),
                _ => return Err(Errno::EINVAL),
            };
        }
    }
    let ino = meta_target(k, dirfd, pathp, flags)?;
    set_times(k, ino, times[0], times[1], now)
}

fn set_times<P: Platform>(
    k: &mut Kernel<P>,
    ino: Ino,
    atime: Option<Timespec>,
    mtime: Option<Timespec>,
    now: Timespec,
) -> SysResult<u64> {
    let i = k.vfs.inode_mut(ino)?;
    if let Some(a) = atime {
        i.atime = a;
    }
    if let Some(m) = mtime {
        i.mtime = m;
    }
    i.ctime = now;
    Ok(0)
}

/// utimes(2) / futimesat(2): `struct timeval[2]`.
pub fn utimes<P: Platform>(k: &mut Kernel<P>, dirfd: u64, pathp: u64, tvp: u64) -> SysResult<u64> {
    let now = k.wall_time();
    let mut times = [now, now];
    if tvp != 0 {
        let mut raw = [0u8; 32];
        copy_in(k, tvp, &mut raw)?;
        for (i, t) in times.iter_mut().enumerate() {
            let sec = i64::from_le_bytes(
                raw[16 * i..16 * i + 8]
                    .try_into()
                    .map_err(|_| Errno::EFAULT)?,
            );
            let usec = i64::from_le_bytes(
                raw[16 * i + 8..16 * i + 16]
                    .try_into()
                    .map_err(|_| Errno::EFAULT)?,
            );
            if !(0..1_000_000).contains(&usec) {
                return Err(Errno::EINVAL);
            }
            *t = Timespec {
                sec,
                nsec: usec * 1000,
            };
        }
    }
    let ino = meta_target(k, dirfd, pathp, 0)?;
    set_times(k, ino, Some(times[0]), Some(times[1]), now)
}

/// utime(2): `struct utimbuf { actime, modtime }`.
pub fn utime<P: Platform>(k: &mut Kernel<P>, pathp: u64, bufp: u64) -> SysResult<u64> {
    let now = k.wall_time();
    let mut times = [now, now];
    if bufp != 0 {
        let mut raw = [0u8; 16];
        copy_in(k, bufp, &mut raw)?;
        for (i, t) in times.iter_mut().enumerate() {
            let sec = i64::from_le_bytes(
                raw[8 * i..8 * i + 8]
                    .try_into()
                    .map_err(|_| Errno::EFAULT)?,
            );
            *t = Timespec { sec, nsec: 0 };
        }
    }
    let ino = meta_target(k, super::AT_FDCWD as u64, pathp, 0)?;
    set_times(k, ino, Some(times[0]), Some(times[1]), now)
}

fn statfs_bytes<P: Platform>(k: &mut Kernel<P>) -> [u8; 120] {
    let total = k.cfg.ram_size / 4096 / 2;
    abi::statfs(total, total / 2, 1 << 16)
}

/// statfs(2).
pub fn statfs<P: Platform>(k: &mut Kernel<P>, pathp: u64, buf: u64) -> SysResult<u64> {
    let path = user_path(k, pathp)?;
    let base = base_dir(k, super::AT_FDCWD as u64, &path)?;
    k.vfs.resolve(base, &path, true)?;
    let b = statfs_bytes(k);
    copy_out(k, buf, &b)?;
    Ok(0)
}

/// fstatfs(2).
pub fn fstatfs<P: Platform>(k: &mut Kernel<P>, fd: u64, buf: u64) -> SysResult<u64> {
    k.proc.fds.get(fd)?;
    let b = statfs_bytes(k);
    copy_out(k, buf, &b)?;
    Ok(0)
}
