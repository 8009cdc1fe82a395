//! [`Vfs`]: the inode table and the operations the file syscalls need (create, mkdir,
//! unlink, rmdir, rename, link, symlink, read, write, truncate, stat, directory listing)
//! with Linux's errno choices.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::node::{Content, Device, Ino, Inode, Node, ProcFile, Timespec, ROOT_INO};
use super::NAME_MAX;
use crate::errno::{Errno, SysResult};

/// The metadata `stat` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Stat {
    /// st_dev.
    pub dev: u64,
    /// st_ino.
    pub ino: u64,
    /// st_mode.
    pub mode: u32,
    /// st_nlink.
    pub nlink: u32,
    /// st_uid.
    pub uid: u32,
    /// st_gid.
    pub gid: u32,
    /// st_rdev (major, minor).
    pub rdev: (u32, u32),
    /// st_size.
    pub size: u64,
    /// st_blocks (512-byte units).
    pub blocks: u64,
    /// st_atim.
    pub atime: Timespec,
    /// st_mtim.
    pub mtime: Timespec,
    /// st_ctim.
    pub ctime: Timespec,
}

/// Device number of the file system (an anonymous device, as tmpfs has: 0:0x13).
pub const FS_DEV: (u32, u32) = (0, 0x13);

/// Encodes (major, minor) as Linux's new_encode_dev does for st_dev/st_rdev.
pub const fn encode_dev(major: u32, minor: u32) -> u64 {
    ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)) as u64
}

/// The in-memory file system.
#[derive(Debug)]
pub struct Vfs {
    inodes: BTreeMap<Ino, Inode>,
    next_ino: Ino,
}

impl Vfs {
    /// A file system holding only an empty root directory.
    pub fn new(now: Timespec) -> Self {
        let mut inodes = BTreeMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                node: Node::Dir {
                    entries: BTreeMap::new(),
                    parent: ROOT_INO,
                },
                perm: 0o755,
                uid: 0,
                gid: 0,
                nlink: 2,
                atime: now,
                mtime: now,
                ctime: now,
                open: 0,
            },
        );
        Vfs {
            inodes,
            next_ino: ROOT_INO + 1,
        }
    }

    /// The inode `ino` (ENOENT if it is gone).
    pub fn inode(&self, ino: Ino) -> SysResult<&Inode> {
        self.inodes.get(&ino).ok_or(Errno::ENOENT)
    }

    /// The inode `ino`, mutably.
    pub fn inode_mut(&mut self, ino: Ino) -> SysResult<&mut Inode> {
        self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    /// The entry `name` of directory `dir`.
    pub fn lookup(&self, dir: Ino, name: &[u8]) -> SysResult<Option<Ino>> {
        match &self.inode(dir)?.node {
            Node::Dir { entries, .. } => Ok(entries.get(name).copied()),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn entries_mut(&mut self, dir: Ino) -> SysResult<&mut BTreeMap<Vec<u8>, Ino>> {
        match &mut self.inode_mut(dir)?.node {
            Node::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Creates `name` in `dir` holding `node` with permission bits `perm`.
    pub fn create(
        &mut self,
        dir: Ino,
        name: &[u8],
        node: Node,
        perm: u32,
        now: Timespec,
    ) -> SysResult<Ino> {
        if name.is_empty() || name == b"." || name == b".." {
            return Err(Errno::EEXIST);
        }
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.lookup(dir, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let is_dir = matches!(node, Node::Dir { .. });
        let node = match node {
            Node::Dir { entries, .. } => Node::Dir {
                entries,
                parent: dir,
            },
            other => other,
        };
        self.inodes.insert(
            ino,
            Inode {
                node,
                perm: perm & 0o7777,
                uid: 0,
                gid: 0,
                nlink: if is_dir { 2 } else { 1 },
                atime: now,
                mtime: now,
                ctime: now,
                open: 0,
            },
        );
        self.entries_mut(dir)?.insert(name.to_vec(), ino);
        let d = self.inode_mut(dir)?;
        if is_dir {
            d.nlink += 1;
        }
        d.mtime = now;
        d.ctime = now;
        Ok(ino)
    }

    /// An empty directory node (for [`Vfs::create`]).
    pub fn empty_dir() -> Node {
        Node::Dir {
            entries: BTreeMap::new(),
            parent: ROOT_INO,
        }
    }

    /// Removes the non-directory `name` from `dir`.
    pub fn unlink(&mut self, dir: Ino, name: &[u8], now: Timespec) -> SysResult<()> {
        let ino = self.lookup(dir, name)?.ok_or(Errno::ENOENT)?;
        if self.inode(ino)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.entries_mut(dir)?.remove(name);
        let d = self.inode_mut(dir)?;
        d.mtime = now;
        d.ctime = now;
        let i = self.inode_mut(ino)?;
        i.nlink = i.nlink.saturating_sub(1);
        i.ctime = now;
        self.release_if_unused(ino);
        Ok(())
    }

    /// Removes the empty directory `name` from `dir`.
    pub fn rmdir(&mut self, dir: Ino, name: &[u8], now: Timespec) -> SysResult<()> {
        match name {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let ino = self.lookup(dir, name)?.ok_or(Errno::ENOENT)?;
        match &self.inode(ino)?.node {
            Node::Dir { entries, .. } if !entries.is_empty() => return Err(Errno::ENOTEMPTY),
            Node::Dir { .. } => {}
            _ => return Err(Errno::ENOTDIR),
        }
        if ino == ROOT_INO {
            return Err(Errno::EBUSY);
        }
        self.entries_mut(dir)?.remove(name);
        let d = self.inode_mut(dir)?;
        d.nlink = d.nlink.saturating_sub(1);
        d.mtime = now;
        d.ctime = now;
        self.inode_mut(ino)?.nlink = 0;
        self.release_if_unused(ino);
        Ok(())
    }

    /// Whether `ino` is `dir` or one of its ancestors.
    fn is_ancestor(&self, ino: Ino, mut dir: Ino) -> bool {
        loop {
            if dir == ino {
                return true;
            }
            match self.inodes.get(&dir).map(|i| &i.node) {
                Some(Node::Dir { parent, .. }) if *parent != dir => dir = *parent,
                _ => return false,
            }
        }
    }

    /// Renames `odir/oname` to `ndir/nname`, replacing a compatible target.
    pub fn rename(
        &mut self,
        odir: Ino,
        oname: &[u8],
        ndir: Ino,
        nname: &[u8],
        now: Timespec,
    ) -> SysResult<()> {
        for n in [oname, nname] {
            if n.is_empty() || n == b"." || n == b".." {
                return Err(Errno::EBUSY);
            }
        }
        let src = self.lookup(odir, oname)?.ok_or(Errno::ENOENT)?;
        let src_dir = self.inode(src)?.is_dir();
        if !self.inode(ndir)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if src_dir && self.is_ancestor(src, ndir) {
            return Err(Errno::EINVAL);
        }
        if let Some(dst) = self.lookup(ndir, nname)? {
            if dst == src {
                return Ok(());
            }
            match (src_dir, &self.inode(dst)?.node) {
                (true, Node::Dir { entries, .. }) if !entries.is_empty() => {
                    return Err(Errno::ENOTEMPTY)
                }
                (true, Node::Dir { .. }) => self.rmdir(ndir, nname, now)?,
                (true, _) => return Err(Errno::ENOTDIR),
                (false, Node::Dir { .. }) => return Err(Errno::EISDIR),
                (false, _) => self.unlink(ndir, nname, now)?,
            }
        }
        self.entries_mut(odir)?.remove(oname);
        self.entries_mut(ndir)?.insert(nname.to_vec(), src);
        if src_dir && odir != ndir {
            if let Node::Dir { parent, .. } = &mut self.inode_mut(src)?.node {
                *parent = ndir;
            }
            self.inode_mut(odir)?.nlink -= 1;
            self.inode_mut(ndir)?.nlink += 1;
        }
        for d in [odir, ndir] {
            let i = self.inode_mut(d)?;
            i.mtime = now;
            i.ctime = now;
        }
        self.inode_mut(src)?.ctime = now;
        Ok(())
    }

    /// A hard link `dir/name` to the non-directory `ino`.
    pub fn link(&mut self, ino: Ino, dir: Ino, name: &[u8], now: Timespec) -> SysResult<()> {
        if self.inode(ino)?.is_dir() {
            return Err(Errno::EPERM);
        }
        if name.is_empty() || name == b"." || name == b".." || self.lookup(dir, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        self.entries_mut(dir)?.insert(name.to_vec(), ino);
        let i = self.inode_mut(ino)?;
        i.nlink += 1;
        i.ctime = now;
        Ok(())
    }

    /// Counts an open file description of `ino`.
    pub fn open_ref(&mut self, ino: Ino) {
        if let Some(i) = self.inodes.get_mut(&ino) {
            i.open += 1;
        }
    }

    /// Drops an open file description of `ino`, freeing it if it was unlinked.
    pub fn close_ref(&mut self, ino: Ino) {
        if let Some(i) = self.inodes.get_mut(&ino) {
            i.open = i.open.saturating_sub(1);
        }
        self.release_if_unused(ino);
    }

    fn release_if_unused(&mut self, ino: Ino) {
        if self
            .inodes
            .get(&ino)
            .is_some_and(|i| i.nlink == 0 && i.open == 0 && ino != ROOT_INO)
        {
            self.inodes.remove(&ino);
        }
    }

    /// Reads file bytes at `offset` into `buf`; returns the count (0 at or past the end).
    pub fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> SysResult<usize> {
        match &self.inode(ino)?.node {
            Node::File(c) => {
                let data = c.bytes();
                let Ok(start) = usize::try_from(offset) else {
                    return Ok(0);
                };
                if start >= data.len() {
                    return Ok(0);
                }
                let n = buf.len().min(data.len() - start);
                buf[..n].copy_from_slice(&data[start..start + n]);
                Ok(n)
            }
            Node::Dir { .. } => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The file's bytes, for reads that copy straight to user pages.
    pub fn file_bytes(&self, ino: Ino) -> SysResult<&[u8]> {
        match &self.inode(ino)?.node {
            Node::File(c) => Ok(c.bytes()),
            Node::Dir { .. } => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Makes the file's content owned and at least `len` bytes long (zero-filled),
    /// returning it for writing; ENOSPC when memory runs out, EFBIG past 16 TiB.
    pub fn file_for_write(&mut self, ino: Ino, len: u64, now: Timespec) -> SysResult<&mut Vec<u8>> {
        if len > (1 << 44) {
            return Err(Errno::EFBIG);
        }
        let inode = self.inode_mut(ino)?;
        inode.mtime = now;
        inode.ctime = now;
        let content = match &mut inode.node {
            Node::File(c) => c,
            Node::Dir { .. } => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        if let Content::Static(s) = content {
            let mut v = Vec::new();
            v.try_reserve_exact(s.len()).map_err(|_| Errno::ENOSPC)?;
            v.extend_from_slice(s);
            *content = Content::Owned(v);
        }
        let Content::Owned(v) = content else {
            return Err(Errno::EINVAL);
        };
        let len = len as usize;
        if v.len() < len {
            v.try_reserve(len - v.len()).map_err(|_| Errno::ENOSPC)?;
            v.resize(len, 0);
        }
        Ok(v)
    }

    /// Writes `data` at `offset`, extending the file; returns the count.
    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8], now: Timespec) -> SysResult<usize> {
        let end = offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        let v = self.file_for_write(ino, end, now)?;
        v[offset as usize..end as usize].copy_from_slice(data);
        Ok(data.len())
    }

    /// Sets the file's length (truncating or zero-extending).
    pub fn truncate(&mut self, ino: Ino, len: u64, now: Timespec) -> SysResult<()> {
        let v = self.file_for_write(ino, len, now)?;
        v.truncate(len as usize);
        v.shrink_to_fit();
        Ok(())
    }

    /// stat of `ino`.
    pub fn stat(&self, ino: Ino) -> SysResult<Stat> {
        let i = self.inode(ino)?;
        let rdev = match i.node {
            Node::CharDev(d) => d.rdev(),
            _ => (0, 0),
        };
        let size = i.size();
        let blocks = match i.node {
            Node::File(_) => size.div_ceil(4096) * 8,
            _ => 0,
        };
        Ok(Stat {
            dev: encode_dev(FS_DEV.0, FS_DEV.1),
            ino,
            mode: i.mode(),
            nlink: i.nlink,
            uid: i.uid,
            gid: i.gid,
            rdev,
            size,
            blocks,
            atime: i.atime,
            mtime: i.mtime,
            ctime: i.ctime,
        })
    }

    /// Directory listing for getdents64: `.`, `..`, then the entries by name, each as
    /// (name, inode, d_type).
    pub fn list(&self, dir: Ino) -> SysResult<Vec<(Vec<u8>, Ino, u8)>> {
        let Node::Dir { entries, parent } = &self.inode(dir)?.node else {
            return Err(Errno::ENOTDIR);
        };
        let mut out = Vec::with_capacity(entries.len() + 2);
        out.push((b".".to_vec(), dir, 4));
        out.push((b"..".to_vec(), *parent, 4));
        for (name, &ino) in entries {
            let t = self.inodes.get(&ino).map_or(0, Inode::d_type);
            out.push((name.clone(), ino, t));
        }
        Ok(out)
    }

    /// The target of symbolic link `ino`.
    pub fn readlink(&self, ino: Ino) -> SysResult<&[u8]> {
        match &self.inode(ino)?.node {
            Node::Symlink(t) => Ok(t),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Replaces the target of the symbolic link `dir/name`, creating it if needed
    /// (the kernel's /proc/self/exe).
    pub fn set_symlink(
        &mut self,
        dir: Ino,
        name: &[u8],
        target: &[u8],
        now: Timespec,
    ) -> SysResult<()> {
        match self.lookup(dir, name)? {
            Some(ino) => {
                if let Node::Symlink(t) = &mut self.inode_mut(ino)?.node {
                    *t = target.to_vec();
                }
                Ok(())
            }
            None => self
                .create(dir, name, Node::Symlink(target.to_vec()), 0o777, now)
                .map(|_| ()),
        }
    }

    /// Creates the standard nodes: /dev (null, zero, full, random, urandom, stdin,
    /// stdout, stderr), /tmp (mode 1777), /proc with its generated files.
    pub fn populate_standard(&mut self, now: Timespec) -> SysResult<()> {
        let dev = self.ensure_dir(ROOT_INO, b"dev", 0o755, now)?;
        let devices = [
            (&b"null"[..], Device::Null),
            (b"zero", Device::Zero),
            (b"full", Device::Full),
            (b"random", Device::Random),
            (b"urandom", Device::Urandom),
            (b"stdin", Device::Stdio(0)),
            (b"stdout", Device::Stdio(1)),
            (b"stderr", Device::Stdio(2)),
        ];
        for (name, d) in devices {
            if self.lookup(dev, name)?.is_none() {
                self.create(dev, name, Node::CharDev(d), 0o666, now)?;
            }
        }
        let tmp = self.ensure_dir(ROOT_INO, b"tmp", 0o1777, now)?;
        self.inode_mut(tmp)?.perm = 0o1777;
        let proc_dir = self.ensure_dir(ROOT_INO, b"proc", 0o555, now)?;
        let proc_self = self.ensure_dir(proc_dir, b"self", 0o555, now)?;
        let self_files = [
            (&b"maps"[..], ProcFile::Maps),
            (b"auxv", ProcFile::Auxv),
            (b"cmdline", ProcFile::Cmdline),
            (b"environ", ProcFile::Environ),
            (b"stat", ProcFile::Stat),
            (b"status", ProcFile::Status),
            (b"comm", ProcFile::Comm),
        ];
        for (name, f) in self_files {
            if self.lookup(proc_self, name)?.is_none() {
                self.create(proc_self, name, Node::Proc(f), 0o444, now)?;
            }
        }
        let proc_files = [
            (&b"cpuinfo"[..], ProcFile::CpuInfo),
            (b"meminfo", ProcFile::MemInfo),
            (b"uptime", ProcFile::Uptime),
            (b"version", ProcFile::Version),
        ];
        for (name, f) in proc_files {
            if self.lookup(proc_dir, name)?.is_none() {
                self.create(proc_dir, name, Node::Proc(f), 0o444, now)?;
            }
        }
        Ok(())
    }

    /// The directory `dir/name`, created with `perm` if missing.
    pub fn ensure_dir(
        &mut self,
        dir: Ino,
        name: &[u8],
        perm: u32,
        now: Timespec,
    ) -> SysResult<Ino> {
        match self.lookup(dir, name)? {
            Some(ino) if self.inode(ino)?.is_dir() => Ok(ino),
            Some(_) => Err(Errno::ENOTDIR),
            None => self.create(dir, name, Self::empty_dir(), perm, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timespec = Timespec { sec: 100, nsec: 0 };

    fn fs() -> Vfs {
        let mut v = Vfs::new(T0);
        v.populate_standard(T0).unwrap();
        v
    }

    fn mkfile(v: &mut Vfs, path: &[u8], data: &'static [u8]) -> Ino {
        let p = v.resolve_parent(ROOT_INO, path).unwrap();
        v.create(p.dir, &p.name, Node::File(Content::Static(data)), 0o644, T0)
            .unwrap()
    }

    #[test]
    fn resolution_handles_dots_symlinks_and_trailing_slashes() {
        let mut v = fs();
        let a = v.ensure_dir(ROOT_INO, b"a", 0o755, T0).unwrap();
        let b = v.ensure_dir(a, b"b", 0o755, T0).unwrap();
        let f = mkfile(&mut v, b"/a/b/file", b"data");
        v.create(a, b"up", Node::Symlink(b"..".to_vec()), 0o777, T0)
            .unwrap();
        v.create(b, b"abs", Node::Symlink(b"/a/b/file".to_vec()), 0o777, T0)
            .unwrap();

        assert_eq!(v.resolve(ROOT_INO, b"/a/./b/../b//file", true), Ok(f));
        assert_eq!(v.resolve(b, b"../../a/b/file", true), Ok(f));
        assert_eq!(v.resolve(ROOT_INO, b"/..", true), Ok(ROOT_INO));
        assert_eq!(v.resolve(ROOT_INO, b"/a/up/a/b/abs", true), Ok(f));
        let link = v.resolve(ROOT_INO, b"/a/b/abs", false).unwrap();
        assert_ne!(link, f, "no-follow returns the link itself");
        assert_eq!(
            v.resolve(ROOT_INO, b"/a/b/file/", true),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            v.resolve(ROOT_INO, b"/a/b/file/x", true),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(v.resolve(ROOT_INO, b"/a/nope", true), Err(Errno::ENOENT));
        assert_eq!(v.resolve(ROOT_INO, b"", true), Err(Errno::ENOENT));
        assert_eq!(v.resolve(a, b"b", true), Ok(b));
    }

    #[test]
    fn realpath_resolves_every_symlink() {
        let mut v = fs();
        let bin = v.ensure_dir(ROOT_INO, b"bin", 0o755, T0).unwrap();
        mkfile(&mut v, b"/bin/prog", b"");
        v.create(
            ROOT_INO,
            b"init",
            Node::Symlink(b"/bin/prog".to_vec()),
            0o777,
            T0,
        )
        .unwrap();
        v.create(bin, b"rel", Node::Symlink(b"../init".to_vec()), 0o777, T0)
            .unwrap();
        assert_eq!(v.realpath(ROOT_INO, b"/init").unwrap(), b"/bin/prog");
        assert_eq!(v.realpath(bin, b"rel").unwrap(), b"/bin/prog");
        assert_eq!(v.realpath(ROOT_INO, b"/bin/../tmp/").unwrap(), b"/tmp");
        assert_eq!(v.realpath(ROOT_INO, b"/").unwrap(), b"/");
        assert_eq!(v.realpath(ROOT_INO, b"/nope"), Err(Errno::ENOENT));
    }

    #[test]
    fn symlink_loops_are_eloop_and_long_names_enametoolong() {
        let mut v = fs();
        v.create(ROOT_INO, b"l1", Node::Symlink(b"l2".to_vec()), 0o777, T0)
            .unwrap();
        v.create(ROOT_INO, b"l2", Node::Symlink(b"l1".to_vec()), 0o777, T0)
            .unwrap();
        assert_eq!(v.resolve(ROOT_INO, b"/l1", true), Err(Errno::ELOOP));
        let long = vec![b'x'; 256];
        assert_eq!(v.resolve(ROOT_INO, &long, true), Err(Errno::ENAMETOOLONG));
        assert_eq!(
            v.resolve(ROOT_INO, &vec![b'/'; 4096], true),
            Err(Errno::ENAMETOOLONG)
        );
    }

    #[test]
    fn parent_resolution_splits_the_last_component() {
        let v = fs();
        let tmp = v.resolve(ROOT_INO, b"/tmp", true).unwrap();
        let p = v.resolve_parent(ROOT_INO, b"/tmp/new/").unwrap();
        assert_eq!(
            (p.dir, p.name.as_slice(), p.trailing_slash),
            (tmp, &b"new"[..], true)
        );
        let p = v.resolve_parent(tmp, b"rel").unwrap();
        assert_eq!((p.dir, p.name.as_slice()), (tmp, &b"rel"[..]));
        assert_eq!(v.resolve_parent(ROOT_INO, b"/").unwrap().name, b"");
        assert_eq!(
            v.resolve_parent(ROOT_INO, b"/nope/x").unwrap_err(),
            Errno::ENOENT
        );
    }

    #[test]
    fn writes_copy_static_content_and_extend_with_zeroes() {
        let mut v = fs();
        let f = mkfile(&mut v, b"/f", b"hello");
        v.write(f, 7, b"!", T0).unwrap();
        let mut buf = [9u8; 10];
        assert_eq!(v.read(f, 0, &mut buf), Ok(8));
        assert_eq!(&buf[..8], b"hello\0\0!");
        assert_eq!(v.read(f, 100, &mut buf), Ok(0));
        v.truncate(f, 2, T0).unwrap();
        assert_eq!(v.stat(f).unwrap().size, 2);
    }

    #[test]
    fn unlink_rmdir_and_rename_follow_linux_errors() {
        let mut v = fs();
        let tmp = v.resolve(ROOT_INO, b"/tmp", true).unwrap();
        let d = v.ensure_dir(tmp, b"d", 0o755, T0).unwrap();
        mkfile(&mut v, b"/tmp/d/f", b"x");
        assert_eq!(v.unlink(tmp, b"d", T0), Err(Errno::EISDIR));
        assert_eq!(v.rmdir(tmp, b"d", T0), Err(Errno::ENOTEMPTY));
        assert_eq!(v.rmdir(d, b"f", T0), Err(Errno::ENOTDIR));
        assert_eq!(v.rename(tmp, b"d", d, b"inside", T0), Err(Errno::EINVAL));
        v.rename(d, b"f", tmp, b"g", T0).unwrap();
        assert!(v.lookup(tmp, b"g").unwrap().is_some());
        assert_eq!(
            v.rename(tmp, b"g", ROOT_INO, b"tmp", T0),
            Err(Errno::EISDIR)
        );
        v.rmdir(tmp, b"d", T0).unwrap();
        assert_eq!(v.inode(tmp).unwrap().nlink, 2);
        assert_eq!(v.path_of(tmp).unwrap(), b"/tmp");
        assert_eq!(v.path_of(d), None, "removed directories have no path");
    }

    #[test]
    fn unlinked_open_files_live_until_closed() {
        let mut v = fs();
        let f = mkfile(&mut v, b"/tmp/x", b"data");
        let tmp = v.resolve(ROOT_INO, b"/tmp", true).unwrap();
        v.open_ref(f);
        v.unlink(tmp, b"x", T0).unwrap();
        assert_eq!(v.stat(f).unwrap().nlink, 0);
        v.close_ref(f);
        assert_eq!(v.stat(f), Err(Errno::ENOENT));
    }

    #[test]
    fn listing_has_dot_entries_and_types() {
        let mut v = fs();
        mkfile(&mut v, b"/tmp/b", b"");
        let tmp = v.resolve(ROOT_INO, b"/tmp", true).unwrap();
        v.ensure_dir(tmp, b"a", 0o755, T0).unwrap();
        let names: Vec<(Vec<u8>, u8)> = v
            .list(tmp)
            .unwrap()
            .into_iter()
            .map(|e| (e.0, e.2))
            .collect();
        assert_eq!(
            names,
            [
                (b".".to_vec(), 4),
                (b"..".to_vec(), 4),
                (b"a".to_vec(), 4),
                (b"b".to_vec(), 8)
            ]
        );
        let null = v.resolve(ROOT_INO, b"/dev/null", true).unwrap();
        let st = v.stat(null).unwrap();
        assert_eq!((st.mode, st.rdev), (0o020666, (1, 3)));
        assert_eq!(v.stat(tmp).unwrap().mode, 0o041777);
    }

    #[test]
    fn dev_encoding_matches_new_encode_dev() {
        assert_eq!(encode_dev(1, 3), 0x103);
        assert_eq!(encode_dev(0, 0x13), 0x13);
        assert_eq!(encode_dev(8, 0x123), 0x10_0823);
    }
}
