//! Path resolution (Linux's path_lookupat, in miniature): absolute and relative paths,
//! `.` and `..`, symbolic links (at most [`MAX_SYMLINKS`]), trailing slashes, and the
//! errors ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG where Linux returns them.

use alloc::vec::Vec;

use super::node::{Ino, Node, ROOT_INO};
use super::vfs::Vfs;
use super::{MAX_SYMLINKS, NAME_MAX, PATH_MAX};
use crate::errno::{Errno, SysResult};

/// The last component of a path and the directory that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// The directory.
    pub dir: Ino,
    /// The final component (`.` or `..` possible; empty for "/").
    pub name: Vec<u8>,
    /// The path ended with a slash.
    pub trailing_slash: bool,
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

fn check_len(path: &[u8]) -> SysResult<()> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

impl Vfs {
    /// The inode `path` names, starting relative paths at `cwd`; a symbolic link as the
    /// last component is followed when `follow` (or when a trailing slash requires it).
    pub fn resolve(&self, cwd: Ino, path: &[u8], follow: bool) -> SysResult<Ino> {
        check_len(path)?;
        let mut links = 0;
        self.walk(cwd, path, follow, &mut links)
    }

    fn walk(&self, cwd: Ino, path: &[u8], follow: bool, links: &mut u32) -> SysResult<Ino> {
        let mut cur = if path.first() == Some(&b'/') {
            ROOT_INO
        } else {
            cwd
        };
        let trailing_slash = path.last() == Some(&b'/');
        let comps: Vec<&[u8]> = components(path).collect();
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            cur = self.step(cur, comp, !last || follow || trailing_slash, links)?;
        }
        if trailing_slash && !self.inode(cur)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// One component from directory `dir`.
    fn step(&self, dir: Ino, comp: &[u8], follow: bool, links: &mut u32) -> SysResult<Ino> {
        let Node::Dir { entries, parent } = &self.inode(dir)?.node else {
            return Err(Errno::ENOTDIR);
        };
        match comp {
            b"." => return Ok(dir),
            b".." => return Ok(*parent),
            _ => {}
        }
        if comp.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let child = *entries.get(comp).ok_or(Errno::ENOENT)?;
        if let Node::Symlink(target) = &self.inode(child)?.node {
            if follow {
                *links += 1;
                if *links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                return self.walk(dir, target, true, links);
            }
        }
        Ok(child)
    }

    /// The directory that holds `path`'s last component, and that component. The
    /// directory itself is resolved (symbolic links followed); the last component is not.
    pub fn resolve_parent(&self, cwd: Ino, path: &[u8]) -> SysResult<Parent> {
        check_len(path)?;
        let trailing_slash = path.last() == Some(&b'/');
        let trimmed = {
            let mut end = path.len();
            while end > 1 && path[end - 1] == b'/' {
                end -= 1;
            }
            &path[..end]
        };
        let (dir_path, name): (&[u8], &[u8]) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(0) => (b"/", &trimmed[1..]),
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            None => (b".", trimmed),
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let dir = if dir_path == b"." {
            cwd
        } else {
            self.resolve(cwd, dir_path, true)?
        };
        if !self.inode(dir)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(Parent {
            dir,
            name: name.to_vec(),
            trailing_slash,
        })
    }

    /// The canonical absolute path of `path` (symbolic links resolved, like
    /// realpath(3)): what /proc/self/exe shows for an executable.
    pub fn realpath(&self, cwd: Ino, path: &[u8]) -> SysResult<Vec<u8>> {
        let mut path = path.to_vec();
        let mut base = cwd;
        for _ in 0..=MAX_SYMLINKS {
            let parent = self.resolve_parent(base, &path)?;
            let dir_path = self.path_of(parent.dir).ok_or(Errno::ENOENT)?;
            let ino = match parent.name.as_slice() {
                b"" | b"." => return Ok(dir_path),
                b".." => {
                    let up = self.resolve(parent.dir, b"..", true)?;
                    return self.path_of(up).ok_or(Errno::ENOENT);
                }
                name => self.lookup(parent.dir, name)?.ok_or(Errno::ENOENT)?,
            };
            match &self.inode(ino)?.node {
                Node::Symlink(target) => {
                    path = target.clone();
                    base = parent.dir;
                }
                Node::Dir { .. } => return self.path_of(ino).ok_or(Errno::ENOENT),
                _ => {
                    let mut out = dir_path;
                    if out != b"/" {
                        out.push(b'/');
                    }
                    out.extend_from_slice(&parent.name);
                    return Ok(out);
                }
            }
        }
        Err(Errno::ELOOP)
    }

    /// The absolute path of directory `ino` (for getcwd); `None` if it was removed.
    pub fn path_of(&self, ino: Ino) -> Option<Vec<u8>> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut cur = ino;
        while cur != ROOT_INO {
            let Node::Dir { parent, .. } = &self.inode(cur).ok()?.node else {
                return None;
            };
            let Node::Dir { entries, .. } = &self.inode(*parent).ok()?.node else {
                return None;
            };
            let name = entries.iter().find(|(_, &i)| i == cur)?.0;
            parts.push(name.clone());
            cur = *parent;
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Some(out)
    }
}
