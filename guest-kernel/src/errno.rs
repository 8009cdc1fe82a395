//! `Errno`: Linux error numbers (include/uapi/asm-generic/errno-base.h and errno.h) and
//! `SysResult`, the result type of every syscall handler. A handler's `Err(e)` becomes
//! `-e` in RAX.

/// A Linux error number, with Linux's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    /// Operation not permitted.
    EPERM = 1,
    /// No such file or directory.
    ENOENT = 2,
    /// No such process.
    ESRCH = 3,
    /// Interrupted system call.
    EINTR = 4,
    /// I/O error.
    EIO = 5,
    /// No such device or address.
    ENXIO = 6,
    /// Argument list too long.
    E2BIG = 7,
    /// Exec format error.
    ENOEXEC = 8,
    /// Bad file number.
    EBADF = 9,
    /// No child processes.
    ECHILD = 10,
    /// Try again.
    EAGAIN = 11,
    /// Out of memory.
    ENOMEM = 12,
    /// Permission denied.
    EACCES = 13,
    /// Bad address.
    EFAULT = 14,
    /// Device or resource busy.
    EBUSY = 16,
    /// File exists.
    EEXIST = 17,
    /// Cross-device link.
    EXDEV = 18,
    /// No such device.
    ENODEV = 19,
    /// Not a directory.
    ENOTDIR = 20,
    /// Is a directory.
    EISDIR = 21,
    /// Invalid argument.
    EINVAL = 22,
    /// File table overflow.
    ENFILE = 23,
    /// Too many open files.
    EMFILE = 24,
    /// Not a typewriter.
    ENOTTY = 25,
    /// File too large.
    EFBIG = 27,
    /// No space left on device.
    ENOSPC = 28,
    /// Illegal seek.
    ESPIPE = 29,
    /// Read-only file system.
    EROFS = 30,
    /// Too many links.
    EMLINK = 31,
    /// Broken pipe.
    EPIPE = 32,
    /// Math result not representable.
    ERANGE = 34,
    /// File name too long.
    ENAMETOOLONG = 36,
    /// Invalid system call number.
    ENOSYS = 38,
    /// Directory not empty.
    ENOTEMPTY = 39,
    /// Too many symbolic links encountered.
    ELOOP = 40,
    /// No data available (no such extended attribute).
    ENODATA = 61,
    /// Value too large for defined data type.
    EOVERFLOW = 75,
    /// Operation not supported.
    EOPNOTSUPP = 95,
    /// Connection timed out (futex and timed waits).
    ETIMEDOUT = 110,
}

impl Errno {
    /// The value a syscall returns in RAX for this error: `-errno`.
    pub const fn to_ret(self) -> i64 {
        -(self as i64)
    }
}

/// The result of a syscall handler or a kernel operation that fails with an errno.
pub type SysResult<T> = Result<T, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_linux_uapi() {
        assert_eq!(Errno::ENOENT as i32, 2);
        assert_eq!(Errno::EFAULT as i32, 14);
        assert_eq!(Errno::EINVAL as i32, 22);
        assert_eq!(Errno::ENOTTY as i32, 25);
        assert_eq!(Errno::ENOSYS as i32, 38);
        assert_eq!(Errno::ELOOP as i32, 40);
        assert_eq!(Errno::EOPNOTSUPP as i32, 95);
        assert_eq!(Errno::EBADF.to_ret(), -9);
    }
}
