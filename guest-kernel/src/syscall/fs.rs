//! File-system syscalls: open/close, the stat family, directories (getdents64, mkdir,
//! rmdir, chdir, getcwd), names (unlink, rename, link, symlink, readlink), metadata
//! (chmod, chown, utimensat, truncate), descriptors (dup*, fcntl, close_range), with
//! Linux's argument checks and errno choices (fs/namei.c, fs/open.c, fs/stat.c).

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::{base_dir, copy_in, copy_out, fd_inode, user_path};
use crate::abi;
use crate::errno::{Errno, SysResult};
use crate::fs::node::{Content, Device, Node, Timespec};
use crate::fs::vfs::{encode_dev, Stat};
use crate::fs::{mode, Ino};
use crate::kernel::{absolute_path, Kernel};
use crate::platform::Platform;
use crate::process::{oflag::*, FileKind, FileRef, OpenFile};

/// Do not follow a final symbolic link.
pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
/// unlinkat: remove a directory.
pub const AT_REMOVEDIR: u64 = 0x200;
/// faccessat: use the effective ids.
pub const AT_EACCESS: u64 = 0x200;
/// linkat: follow a final symbolic link.
pub const AT_SYMLINK_FOLLOW: u64 = 0x400;
/// Do not automount.
pub const AT_NO_AUTOMOUNT: u64 = 0x800;
/// An empty path means the descriptor itself.
pub const AT_EMPTY_PATH: u64 = 0x1000;
/// statx synchronization bits.
pub const AT_STATX_SYNC_TYPE: u64 = 0x6000;

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

fn new_file(kind: FileKind, flags: u32, path: Rc<str>) -> FileRef {
    Rc::new(RefCell::new(OpenFile {
        kind,
        flags,
        offset: 0,
        path,
    }))
}

fn path_str(p: &[u8]) -> Rc<str> {
    Rc::from(core::str::from_utf8(p).unwrap_or("?"))
}

/// openat(2).
pub fn openat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    flags: u32,
    mode: u32,
) -> SysResult<u64> {
    let path = user_path(k, pathp)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if flags & O_TMPFILE == O_TMPFILE {
        return Err(Errno::EOPNOTSUPP);
    }
    let base = base_dir(k, dirfd, &path)?;
    let now = k.wall_time();
    let acc = flags & O_ACCMODE;
    let ino = if flags & O_CREAT != 0 {
        let parent = k.vfs.resolve_parent(base, &path)?;
        let existing = match parent.name.as_slice() {
            b"" | b"." | b".." => return Err(Errno::EISDIR),
            name => k.vfs.lookup(parent.dir, name)?,
        };
        match existing {
            Some(ino) => {
                if flags & O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                if matches!(k.vfs.inode(ino)?.node, Node::Symlink(_)) {
                    if flags & O_NOFOLLOW != 0 {
                        return Err(Errno::ELOOP);
                    }
                    k.vfs.resolve(base, &path, true)?
                } else {
                    ino
                }
            }
            None => {
                if parent.trailing_slash {
                    return Err(Errno::EISDIR);
                }
                let perm = mode & !k.proc.umask & 0o7777;
                k.vfs.create(
                    parent.dir,
                    &parent.name,
                    Node::File(Content::Owned(Vec::new())),
                    perm,
                    now,
                )?
            }
        }
    } else {
        let follow = flags & O_NOFOLLOW == 0;
        let ino = k.vfs.resolve(base, &path, follow)?;
        if !follow && flags & O_PATH == 0 && matches!(k.vfs.inode(ino)?.node, Node::Symlink(_)) {
            return Err(Errno::ELOOP);
        }
        ino
    };
    let node = k.vfs.inode(ino)?.node.clone();
    let is_dir = matches!(node, Node::Dir { .. });
    if flags & O_DIRECTORY != 0 && !is_dir {
        return Err(Errno::ENOTDIR);
    }
    if is_dir && (acc != O_RDONLY || flags & O_CREAT != 0) {
        return Err(Errno::EISDIR);
    }
    let abs = path_str(&absolute_path(&k.vfs, base, &path));
    let status = (flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) | O_LARGEFILE;
    let kind = match node {
        Node::CharDev(Device::Stdio(n)) => {
            let src = k.proc.fds.get(u64::from(n)).map_err(|_| Errno::ENXIO)?;
            let kind = src.borrow().kind.clone();
            if let FileKind::Inode(i) = kind {
                k.vfs.open_ref(i);
            }
            kind
        }
        Node::Proc(pf) => {
            if acc != O_RDONLY {
                return Err(Errno::EACCES);
            }
            let data = super::procfs::generate(k, pf);
            FileKind::Snapshot {
                ino,
                data: Rc::new(data),
            }
        }
        Node::File(_) => {
            if flags & O_TRUNC != 0 && acc != O_RDONLY && flags & O_PATH == 0 {
                k.vfs.truncate(ino, 0, now)?;
            }
            k.vfs.open_ref(ino);
            FileKind::Inode(ino)
        }
        _ => {
            k.vfs.open_ref(ino);
            FileKind::Inode(ino)
        }
    };
    let file = new_file(kind, status, abs);
    let limit = k.proc.nofile();
    match k
        .proc
        .fds
        .alloc(file.clone(), 0, flags & O_CLOEXEC != 0, limit)
    {
        Ok(fd) => Ok(fd),
        Err(e) => {
            release(k, file);
            Err(e)
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

/// The metadata of an open file description.
pub fn file_stat<P: Platform>(k: &mut Kernel<P>, file: &FileRef) -> SysResult<Stat> {
    let kind = file.borrow().kind.clone();
    match kind {
        FileKind::Inode(ino) | FileKind::Snapshot { ino, .. } => k.vfs.stat(ino),
        FileKind::HostIn | FileKind::HostOut(_) => {
            let stream = match kind {
                FileKind::HostOut(s) => u64::from(s),
                _ => 0,
            };
            let t = k.cfg.epoch;
            Ok(Stat {
                dev: encode_dev(0, 0xd),
                ino: 1000 + stream,
                mode: mode::S_IFIFO | 0o600,
                nlink: 1,
                uid: 0,
                gid: 0,
                rdev: (0, 0),
                size: 0,
                blocks: 0,
                atime: t,
                mtime: t,
                ctime: t,
            })
        }
    }
}

/// fstat(2).
pub fn fstat<P: Platform>(k: &mut Kernel<P>, fd: u64, buf: u64) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    let st = file_stat(k, &file)?;
    copy_out(k, buf, &abi::stat(&st))?;
    Ok(0)
}

/// Resolves the target of a stat-like call: `path` from `dirfd`, or the descriptor
/// itself for an empty path with AT_EMPTY_PATH.
fn stat_target<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    flags: u64,
) -> SysResult<Stat> {
    let path = user_path(k, pathp)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd as i32 == super::AT_FDCWD {
            let cwd = k.proc.cwd;
            return k.vfs.stat(cwd);
        }
        let file = k.proc.fds.get(u64::from(dirfd as u32))?;
        return file_stat(k, &file);
    }
    let base = base_dir(k, dirfd, &path)?;
    let ino = k
        .vfs
        .resolve(base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    k.vfs.stat(ino)
}

/// newfstatat(2) (and stat/lstat).
pub fn fstatat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    buf: u64,
    flags: u64,
) -> SysResult<u64> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let st = stat_target(k, dirfd, pathp, flags)?;
    copy_out(k, buf, &abi::stat(&st))?;
    Ok(0)
}

/// statx(2).
pub fn statx<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    flags: u64,
    mask: u64,
    buf: u64,
) -> SysResult<u64> {
    const STATX_RESERVED: u64 = 0x8000_0000;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX_RESERVED != 0
    {
        return Err(Errno::EINVAL);
    }
    let st = stat_target(k, dirfd, pathp, flags)?;
    copy_out(k, buf, &abi::statx(&st))?;
    Ok(0)
}

/// getdents64(2): directory entries from the description's position.
pub fn getdents64<P: Platform>(
    k: &mut Kernel<P>,
    fd: u64,
    dirp: u64,
    count: u64,
) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    let ino = fd_inode(&file).ok_or(Errno::ENOTDIR)?;
    let entries = k.vfs.list(ino)?;
    let start = file.borrow().offset as usize;
    let mut out = Vec::new();
    let mut next = start;
    for (i, (name, e_ino, d_type)) in entries.iter().enumerate().skip(start) {
        if (out.len() + abi::dirent64_len(name.len())) as u64 > count {
            break;
        }
        abi::dirent64(*e_ino, i as u64 + 1, *d_type, name, &mut out);
        next = i + 1;
    }
    if out.is_empty() && next < entries.len() {
        return Err(Errno::EINVAL);
    }
    copy_out(k, dirp, &out)?;
    file.borrow_mut().offset = next as u64;
    Ok(out.len() as u64)
}

/// getcwd(2): the length including the NUL.
pub fn getcwd<P: Platform>(k: &mut Kernel<P>, buf: u64, size: u64) -> SysResult<u64> {
    let mut path = k.vfs.path_of(k.proc.cwd).ok_or(Errno::ENOENT)?;
    path.push(0);
    if (path.len() as u64) > size {
        return Err(Errno::ERANGE);
    }
    copy_out(k, buf, &path)?;
    Ok(path.len() as u64)
}

/// chdir(2).
pub fn chdir<P: Platform>(k: &mut Kernel<P>, pathp: u64) -> SysResult<u64> {
    let path = user_path(k, pathp)?;
    let base = base_dir(k, super::AT_FDCWD as u64, &path)?;
    let ino = k.vfs.resolve(base, &path, true)?;
    if !k.vfs.inode(ino)?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    k.proc.cwd = ino;
    Ok(0)
}

/// fchdir(2).
pub fn fchdir<P: Platform>(k: &mut Kernel<P>, fd: u64) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    let ino = fd_inode(&file).ok_or(Errno::ENOTDIR)?;
    if !k.vfs.inode(ino)?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    k.proc.cwd = ino;
    Ok(0)
}

/// mkdirat(2).
pub fn mkdirat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    mode: u32,
) -> SysResult<u64> {
    let path = user_path(k, pathp)?;
    let base = base_dir(k, dirfd, &path)?;
    let parent = k.vfs.resolve_parent(base, &path)?;
    let now = k.wall_time();
    let perm = mode & !k.proc.umask & 0o7777;
    k.vfs.create(
        parent.dir,
        &parent.name,
        crate::fs::Vfs::empty_dir(),
        perm,
        now,
    )?;
    Ok(0)
}

/// mknodat(2): regular files and the kernel's character devices.
pub fn mknodat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    mode_arg: u32,
    dev: u64,
) -> SysResult<u64> {
    let path = user_path(k, pathp)?;
    let base = base_dir(k, dirfd, &path)?;
    let parent = k.vfs.resolve_parent(base, &path)?;
    let node = match mode_arg & mode::S_IFMT {
        0 | mode::S_IFREG => Node::File(Content::Owned(Vec::new())),
        mode::S_IFCHR => {
            let major = ((dev >> 8) & 0xfff) as u32;
            let minor = ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32;
            Node::CharDev(Device::from_rdev(major, minor).ok_or(Errno::EPERM)?)
        }
        mode::S_IFIFO | mode::S_IFSOCK | mode::S_IFBLK => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    let now = k.wall_time();
    let perm = mode_arg & !k.proc.umask & 0o7777;
    k.vfs.create(parent.dir, &parent.name, node, perm, now)?;
    Ok(0)
}

/// unlinkat(2) (and unlink, rmdir).
pub fn unlinkat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    flags: u64,
) -> SysResult<u64> {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = user_path(k, pathp)?;
    let base = base_dir(k, dirfd, &path)?;
    let parent = k.vfs.resolve_parent(base, &path)?;
    let now = k.wall_time();
    if flags & AT_REMOVEDIR != 0 {
        if parent.name.is_empty() {
            return Err(Errno::EBUSY);
        }
        k.vfs.rmdir(parent.dir, &parent.name, now)?;
    } else {
        if matches!(parent.name.as_slice(), b"" | b"." | b"..") {
            return Err(Errno::EISDIR);
        }
        if parent.trailing_slash {
            let ino = k
                .vfs
                .lookup(parent.dir, &parent.name)?
                .ok_or(Errno::ENOENT)?;
            return Err(if k.vfs.inode(ino)?.is_dir() {
                Errno::EISDIR
            } else {
                Errno::ENOTDIR
            });
        }
        k.vfs.unlink(parent.dir, &parent.name, now)?;
    }
    Ok(0)
}

/// renameat2(2) (and rename, renameat): RENAME_NOREPLACE is supported.
pub fn renameat2<P: Platform>(
    k: &mut Kernel<P>,
    olddirfd: u64,
    oldp: u64,
    newdirfd: u64,
    newp: u64,
    flags: u64,
) -> SysResult<u64> {
    const RENAME_NOREPLACE: u64 = 1;
    if flags & !RENAME_NOREPLACE != 0 {
        return Err(Errno::EINVAL);
    }
    let old = user_path(k, oldp)?;
    let new = user_path(k, newp)?;
    let obase = base_dir(k, olddirfd, &old)?;
    let nbase = base_dir(k, newdirfd, &new)?;
    let op = k.vfs.resolve_parent(obase, &old)?;
    let np = k.vfs.resolve_parent(nbase, &new)?;
    let src = k.vfs.lookup(op.dir, &op.name)?.ok_or(Errno::ENOENT)?;
    if (op.trailing_slash || np.trailing_slash) && !k.vfs.inode(src)?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if flags & RENAME_NOREPLACE != 0 && k.vfs.lookup(np.dir, &np.name)?.is_some() {
        return Err(Errno::EEXIST);
    }
    let now = k.wall_time();
    k.vfs.rename(op.dir, &op.name, np.dir, &np.name, now)?;
    Ok(0)
}

/// linkat(2).
pub fn linkat<P: Platform>(
    k: &mut Kernel<P>,
    olddirfd: u64,
    oldp: u64,
    newdirfd: u64,
    newp: u64,
    flags: u64,
) -> SysResult<u64> {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = user_path(k, oldp)?;
    let new = user_path(k, newp)?;
    let obase = base_dir(k, olddirfd, &old)?;
    let src = k.vfs.resolve(obase, &old, flags & AT_SYMLINK_FOLLOW != 0)?;
    let nbase = base_dir(k, newdirfd, &new)?;
    let np = k.vfs.resolve_parent(nbase, &new)?;
    let now = k.wall_time();
    k.vfs.link(src, np.dir, &np.name, now)?;
    Ok(0)
}

/// symlinkat(2).
pub fn symlinkat<P: Platform>(
    k: &mut Kernel<P>,
    targetp: u64,
    newdirfd: u64,
    linkp: u64,
) -> SysResult<u64> {
    let target = user_path(k, targetp)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let link = user_path(k, linkp)?;
    let base = base_dir(k, newdirfd, &link)?;
    let parent = k.vfs.resolve_parent(base, &link)?;
    let now = k.wall_time();
    k.vfs
        .create(parent.dir, &parent.name, Node::Symlink(target), 0o777, now)?;
    Ok(0)
}

/// readlinkat(2): the target without a NUL, truncated to `bufsiz`.
pub fn readlinkat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    buf: u64,
    bufsiz: u64,
) -> SysResult<u64> {
    if bufsiz as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = user_path(k, pathp)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let base = base_dir(k, dirfd, &path)?;
    let ino = k.vfs.resolve(base, &path, false)?;
    let target = k.vfs.readlink(ino)?.to_vec();
    let n = target.len().min(bufsiz as u32 as usize);
    copy_out(k, buf, &target[..n])?;
    Ok(n as u64)
}

/// faccessat2(2) (and access, faccessat): the caller is root, so only existence and,
/// for X_OK, an execute bit matter.
pub fn faccessat<P: Platform>(
    k: &mut Kernel<P>,
    dirfd: u64,
    pathp: u64,
    mode_arg: u64,
    flags: u64,
) -> SysResult<u64> {
    const X_OK: u64 = 1;
    if mode_arg & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = user_path(k, pathp)?;
    let ino = if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let file = k.proc.fds.get(dirfd)?;
        fd_inode(&file).ok_or(Errno::EBADF)?
    } else {
        let base = base_dir(k, dirfd, &path)?;
        k.vfs
            .resolve(base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    let inode = k.vfs.inode(ino)?;
    if mode_arg & X_OK != 0 && !inode.is_dir() && inode.perm & 0o111 == 0 {
        return Err(Errno::EACCES);
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
