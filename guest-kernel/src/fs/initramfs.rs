//! Unpacks a cpio newc initramfs into the [`Vfs`]: directories (missing parents are
//! created 0755), regular files (data left in place), symbolic links and the device
//! nodes the kernel implements; other node types are skipped.

use super::cpio::{self, CpioError};
use super::mode;
use super::node::{Content, Device, Node, Timespec, ROOT_INO};
use super::vfs::Vfs;
use crate::errno::Errno;

/// Why the initramfs could not be unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitramfsError {
    /// The archive is malformed.
    Cpio(CpioError),
    /// A member could not be created (for example a file where a directory must be).
    Create(Errno),
}

impl From<CpioError> for InitramfsError {
    fn from(e: CpioError) -> Self {
        InitramfsError::Cpio(e)
    }
}

impl From<Errno> for InitramfsError {
    fn from(e: Errno) -> Self {
        InitramfsError::Create(e)
    }
}

/// Unpacks `archive` (empty means no files) into `vfs`.
pub fn unpack(vfs: &mut Vfs, archive: &'static [u8]) -> Result<usize, InitramfsError> {
    if archive.is_empty() {
        return Ok(0);
    }
    let mut count = 0;
    for entry in cpio::read(archive) {
        let e = entry?;
        let name = strip_prefix(e.name);
        let mtime = Timespec {
            sec: i64::from(e.mtime),
            nsec: 0,
        };
        if name.is_empty() {
            // "." : the root itself.
            if e.mode & mode::S_IFMT == mode::S_IFDIR {
                vfs.inode_mut(ROOT_INO)?.perm = e.mode & 0o7777;
            }
            continue;
        }
        let (dir_path, base) = match name.iter().rposition(|&b| b == b'/') {
            Some(i) => (&name[..i], &name[i + 1..]),
            None => (&b""[..], name),
        };
        let mut dir = ROOT_INO;
        for comp in dir_path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            dir = vfs.ensure_dir(dir, comp, 0o755, mtime)?;
        }
        let node = match e.mode & mode::S_IFMT {
            mode::S_IFDIR => {
                let ino = vfs.ensure_dir(dir, base, e.mode, mtime)?;
                let i = vfs.inode_mut(ino)?;
                i.perm = e.mode & 0o7777;
                i.mtime = mtime;
                count += 1;
                continue;
            }
            mode::S_IFREG => Node::File(Content::Static(e.data)),
            mode::S_IFLNK => Node::Symlink(e.data.to_vec()),
            mode::S_IFCHR => match Device::from_rdev(e.rdev.0, e.rdev.1) {
                Some(d) => Node::CharDev(d),
                None => continue,
            },
            _ => continue,
        };
        // A later member replaces an earlier one of the same name, as in Linux.
        if vfs.lookup(dir, base)?.is_some() {
            vfs.unlink(dir, base, mtime)?;
        }
        let ino = vfs.create(dir, base, node, e.mode, mtime)?;
        let i = vfs.inode_mut(ino)?;
        i.uid = e.uid;
        i.gid = e.gid;
        count += 1;
    }
    Ok(count)
}

fn strip_prefix(mut name: &[u8]) -> &[u8] {
    loop {
        if let Some(rest) = name.strip_prefix(b"./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix(b"/") {
            name = rest;
        } else if name == b"." {
            return b"";
        } else {
            return name;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::cpio::write_entry;

    #[test]
    fn unpacks_files_dirs_links_and_devices() {
        let mut a = Vec::new();
        write_entry(&mut a, ".", 0o040755, b"");
        write_entry(&mut a, "bin/prog", 0o100755, b"\x7fELF");
        write_entry(&mut a, "./etc/motd", 0o100644, b"hi\n");
        write_entry(&mut a, "bin/sh", 0o120777, b"prog");
        write_entry(&mut a, "tmp", 0o041777, b"");
        write_entry(&mut a, "TRAILER!!!", 0, b"");
        let archive: &'static [u8] = Box::leak(a.into_boxed_slice());
        let t = Timespec::default();
        let mut v = Vfs::new(t);

        assert_eq!(unpack(&mut v, archive), Ok(4));
        v.populate_standard(t).unwrap();

        let prog = v.resolve(ROOT_INO, b"/bin/sh", true).unwrap();
        assert_eq!(v.file_bytes(prog).unwrap(), b"\x7fELF");
        assert_eq!(v.stat(prog).unwrap().mode, 0o100755);
        let motd = v.resolve(ROOT_INO, b"/etc/motd", true).unwrap();
        assert_eq!(v.file_bytes(motd).unwrap(), b"hi\n");
        let tmp = v.resolve(ROOT_INO, b"/tmp", true).unwrap();
        assert_eq!(v.stat(tmp).unwrap().mode, 0o041777);
        assert!(v.resolve(ROOT_INO, b"/dev/urandom", true).is_ok());
    }

    #[test]
    fn an_empty_archive_is_no_files_and_garbage_is_an_error() {
        let mut v = Vfs::new(Timespec::default());
        assert_eq!(unpack(&mut v, b""), Ok(0));
        assert!(matches!(
            unpack(&mut v, b"garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage"),
            Err(InitramfsError::Cpio(CpioError::BadMagic { .. }))
        ));
    }
}
