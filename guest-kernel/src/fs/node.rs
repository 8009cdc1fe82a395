//! Inodes of the in-memory file system: what a node is ([`Node`]), its data
//! ([`Content`]), and its metadata ([`Inode`]).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::mode;

/// Inode number.
pub type Ino = u64;

/// The root directory's inode number.
pub const ROOT_INO: Ino = 1;

/// A time stamp (seconds, nanoseconds) as `struct timespec` holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds (0..1e9).
    pub nsec: i64,
}

/// A regular file's bytes.
#[derive(Clone, Debug)]
pub enum Content {
    /// In place in the initramfs (read-only until the first write copies it).
    Static(&'static [u8]),
    /// Owned by the kernel heap.
    Owned(Vec<u8>),
}

impl Content {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Content::Static(s) => s,
            Content::Owned(v) => v,
        }
    }
}

/// Character devices the kernel provides, with Linux's device numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// /dev/null (1, 3).
    Null,
    /// /dev/zero (1, 5).
    Zero,
    /// /dev/full (1, 7).
    Full,
    /// /dev/random (1, 8).
    Random,
    /// /dev/urandom (1, 9).
    Urandom,
    /// /dev/stdin, /dev/stdout, /dev/stderr: opening one duplicates that descriptor.
    Stdio(u32),
}

impl Device {
    /// (major, minor).
    pub fn rdev(self) -> (u32, u32) {
        match self {
            Device::Null => (1, 3),
            Device::Zero => (1, 5),
            Device::Full => (1, 7),
            Device::Random => (1, 8),
            Device::Urandom => (1, 9),
            Device::Stdio(_) => (136, 0),
        }
    }

    /// The device for (major, minor), if the kernel implements it.
    pub fn from_rdev(major: u32, minor: u32) -> Option<Device> {
        match (major, minor) {
            (1, 3) => Some(Device::Null),
            (1, 5) => Some(Device::Zero),
            (1, 7) => Some(Device::Full),
            (1, 8) => Some(Device::Random),
            (1, 9) => Some(Device::Urandom),
            _ => None,
        }
    }
}

/// Files of /proc whose content is generated when opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcFile {
    /// /proc/self/maps.
    Maps,
    /// /proc/self/auxv.
    Auxv,
    /// /proc/self/cmdline.
    Cmdline,
    /// /proc/self/environ.
    Environ,
    /// /proc/self/stat.
    Stat,
    /// /proc/self/status.
    Status,
    /// /proc/self/comm.
    Comm,
    /// /proc/cpuinfo.
    CpuInfo,
    /// /proc/meminfo.
    MemInfo,
    /// /proc/uptime.
    Uptime,
    /// /proc/version.
    Version,
}

/// What an inode is.
#[derive(Clone, Debug)]
pub enum Node {
    /// A directory: entries by name, and the parent (the root is its own parent).
    Dir {
        /// Entries other than `.` and `..`.
        entries: BTreeMap<Vec<u8>, Ino>,
        /// The parent directory.
        parent: Ino,
    },
    /// A regular file.
    File(Content),
    /// A symbolic link and its target.
    Symlink(Vec<u8>),
    /// A character device.
    CharDev(Device),
    /// A generated /proc file.
    Proc(ProcFile),
}

/// An inode: the node and its metadata.
#[derive(Clone, Debug)]
pub struct Inode {
    /// The node.
    pub node: Node,
    /// Permission bits (the low 12 bits of st_mode).
    pub perm: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Hard links (directories count their `.` and subdirectories' `..`).
    pub nlink: u32,
    /// Last access.
    pub atime: Timespec,
    /// Last modification.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
    /// Open file descriptions referring to it (an unlinked inode lives until 0).
    pub open: u32,
}

impl Inode {
    /// The file-type bits of st_mode.
    pub fn type_bits(&self) -> u32 {
        match self.node {
            Node::Dir { .. } => mode::S_IFDIR,
            Node::File(_) | Node::Proc(_) => mode::S_IFREG,
            Node::Symlink(_) => mode::S_IFLNK,
            Node::CharDev(_) => mode::S_IFCHR,
        }
    }

    /// st_mode.
    pub fn mode(&self) -> u32 {
        self.type_bits() | (self.perm & 0o7777)
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.node, Node::Dir { .. })
    }

    /// st_size.
    pub fn size(&self) -> u64 {
        match &self.node {
            Node::File(c) => c.bytes().len() as u64,
            Node::Symlink(t) => t.len() as u64,
            Node::Dir { .. } => 4096,
            Node::CharDev(_) | Node::Proc(_) => 0,
        }
    }

    /// The `d_type` of getdents64 (include/linux/fs_types.h: DT_*).
    pub fn d_type(&self) -> u8 {
        (self.type_bits() >> 12) as u8
    }
}
