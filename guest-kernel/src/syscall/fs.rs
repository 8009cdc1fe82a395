//! File-system syscalls: open, the stat family, directories (getdents64, mkdir,
//! rmdir, chdir, getcwd), names (unlink, rename, link, symlink, readlink), access,
//! with Linux's argument checks and errno choices (fs/namei.c, fs/open.c, fs/stat.c).
//! Descriptor calls are in [`super::fd`], metadata changes in [`super::meta`].

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::fd::release;
use super::{base_dir, copy_out, fd_inode, user_path};
use crate::abi;
use crate::errno::{Errno, SysResult};
use crate::fs::mode;
use crate::fs::node::{Content, Device, Node};
use crate::fs::vfs::{encode_dev, Stat};
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

/// getxattr/listxattr family on a path: the file must exist; there are no extended
/// attributes (get: ENODATA, list: an empty list).
pub fn xattr_path<P: Platform>(k: &mut Kernel<P>, pathp: u64, follow: bool) -> SysResult<u64> {
    let path = user_path(k, pathp)?;
    let base = base_dir(k, super::AT_FDCWD as u64, &path)?;
    k.vfs.resolve(base, &path, follow)?;
    Ok(0)
}
