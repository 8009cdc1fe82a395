//! The in-memory file system: inodes ([`node`]), path resolution ([`path`]), the
//! operations syscalls need ([`Vfs`] in [`vfs`]), and unpacking the initramfs
//! ([`cpio`], [`initramfs`]). Initramfs file data stays where the loader put it (read
//! through the direct map) until a write copies it.

pub mod cpio;
pub mod initramfs;
pub mod node;
pub mod path;
pub mod vfs;

pub use node::{Content, Device, Ino, Inode, Node, ProcFile, Timespec, ROOT_INO};
pub use vfs::{Stat, Vfs};

/// `st_mode` file-type bits (include/uapi/linux/stat.h).
pub mod mode {
    /// Mask of the type bits.
    pub const S_IFMT: u32 = 0o170000;
    /// Socket.
    pub const S_IFSOCK: u32 = 0o140000;
    /// Symbolic link.
    pub const S_IFLNK: u32 = 0o120000;
    /// Regular file.
    pub const S_IFREG: u32 = 0o100000;
    /// Block device.
    pub const S_IFBLK: u32 = 0o060000;
    /// Directory.
    pub const S_IFDIR: u32 = 0o040000;
    /// Character device.
    pub const S_IFCHR: u32 = 0o020000;
    /// FIFO.
    pub const S_IFIFO: u32 = 0o010000;
}

/// Longest path name (PATH_MAX, with its NUL).
pub const PATH_MAX: usize = 4096;
/// Longest file name component (NAME_MAX).
pub const NAME_MAX: usize = 255;
/// Most symbolic links followed while resolving one path (Linux's MAXSYMLINKS).
pub const MAX_SYMLINKS: u32 = 40;
