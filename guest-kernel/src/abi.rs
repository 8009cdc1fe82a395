//! Byte layouts of the Linux x86-64 structures the syscalls exchange with user memory
//! (include/uapi/asm-generic/stat.h's x86-64 `struct stat`, `struct statx`,
//! `struct utsname`, `struct sysinfo`, `struct timespec`/`timeval`, `struct rlimit`,
//! `struct linux_dirent64`, `struct statfs`). Each encoder fills a byte array whose
//! size and offsets the tests pin.

use crate::fs::{Stat, Timespec};

fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    buf[off..off + bytes.len()].copy_from_slice(bytes);
}

/// `struct timespec` (16 bytes).
pub fn timespec(t: Timespec) -> [u8; 16] {
    let mut b = [0u8; 16];
    put(&mut b, 0, &t.sec.to_le_bytes());
    put(&mut b, 8, &t.nsec.to_le_bytes());
    b
}

/// Decodes a user `struct timespec`.
pub fn parse_timespec(b: &[u8; 16]) -> Timespec {
    let mut s = [0u8; 8];
    s.copy_from_slice(&b[..8]);
    let mut n = [0u8; 8];
    n.copy_from_slice(&b[8..]);
    Timespec {
        sec: i64::from_le_bytes(s),
        nsec: i64::from_le_bytes(n),
    }
}

/// `struct timeval` (16 bytes) from a timespec.
pub fn timeval(t: Timespec) -> [u8; 16] {
    let mut b = [0u8; 16];
    put(&mut b, 0, &t.sec.to_le_bytes());
    put(&mut b, 8, &(t.nsec / 1000).to_le_bytes());
    b
}

/// x86-64 `struct stat` (144 bytes, arch/x86/include/uapi/asm/stat.h).
pub fn stat(s: &Stat) -> [u8; 144] {
    let mut b = [0u8; 144];
    put(&mut b, 0, &s.dev.to_le_bytes());
    put(&mut b, 8, &s.ino.to_le_bytes());
    put(&mut b, 16, &u64::from(s.nlink).to_le_bytes());
    put(&mut b, 24, &s.mode.to_le_bytes());
    put(&mut b, 28, &s.uid.to_le_bytes());
    put(&mut b, 32, &s.gid.to_le_bytes());
    let rdev = crate::fs::vfs::encode_dev(s.rdev.0, s.rdev.1);
    put(&mut b, 40, &rdev.to_le_bytes());
    put(&mut b, 48, &s.size.to_le_bytes());
    put(&mut b, 56, &4096u64.to_le_bytes());
    put(&mut b, 64, &s.blocks.to_le_bytes());
    put(&mut b, 72, &timespec(s.atime));
    put(&mut b, 88, &timespec(s.mtime));
    put(&mut b, 104, &timespec(s.ctime));
    b
}

/// STATX_BASIC_STATS: the fields `statx` fills.
pub const STATX_BASIC_STATS: u32 = 0x7ff;

/// `struct statx` (256 bytes, include/uapi/linux/stat.h).
pub fn statx(s: &Stat) -> [u8; 256] {
    let mut b = [0u8; 256];
    let ts = |t: Timespec| {
        let mut x = [0u8; 16];
        x[..8].copy_from_slice(&t.sec.to_le_bytes());
        x[8..12].copy_from_slice(&(t.nsec as u32).to_le_bytes());
        x
    };
    put(&mut b, 0, &STATX_BASIC_STATS.to_le_bytes());
    put(&mut b, 4, &4096u32.to_le_bytes());
    put(&mut b, 16, &s.nlink.to_le_bytes());
    put(&mut b, 20, &s.uid.to_le_bytes());
    put(&mut b, 24, &s.gid.to_le_bytes());
    put(&mut b, 28, &(s.mode as u16).to_le_bytes());
    put(&mut b, 32, &s.ino.to_le_bytes());
    put(&mut b, 40, &s.size.to_le_bytes());
    put(&mut b, 48, &s.blocks.to_le_bytes());
    put(&mut b, 64, &ts(s.atime));
    put(&mut b, 96, &ts(s.ctime));
    put(&mut b, 112, &ts(s.mtime));
    put(&mut b, 128, &s.rdev.0.to_le_bytes());
    put(&mut b, 132, &s.rdev.1.to_le_bytes());
    let (major, minor) = crate::fs::vfs::FS_DEV;
    let (major, minor) = if s.dev == crate::fs::vfs::encode_dev(major, minor) {
        (major, minor)
    } else {
        ((s.dev >> 8) as u32 & 0xfff, (s.dev & 0xff) as u32)
    };
    put(&mut b, 136, &major.to_le_bytes());
    put(&mut b, 140, &minor.to_le_bytes());
    b
}

/// `struct utsname` (6 fields of 65 bytes).
pub fn utsname(fields: [&str; 6]) -> [u8; 390] {
    let mut b = [0u8; 390];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        put(&mut b, i * 65, &f.as_bytes()[..n]);
    }
    b
}

/// The fields of `struct sysinfo`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SysInfo {
    /// Seconds since boot.
    pub uptime: i64,
    /// Total RAM in bytes.
    pub totalram: u64,
    /// Free RAM in bytes.
    pub freeram: u64,
    /// Processes.
    pub procs: u16,
}

/// x86-64 `struct sysinfo` (112 bytes), with mem_unit 1.
pub fn sysinfo(s: &SysInfo) -> [u8; 112] {
    let mut b = [0u8; 112];
    put(&mut b, 0, &s.uptime.to_le_bytes());
    put(&mut b, 32, &s.totalram.to_le_bytes());
    put(&mut b, 40, &s.freeram.to_le_bytes());
    put(&mut b, 80, &s.procs.to_le_bytes());
    put(&mut b, 104, &1u32.to_le_bytes());
    b
}

/// `struct rlimit` / `struct rlimit64` (16 bytes).
pub fn rlimit(cur: u64, max: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    put(&mut b, 0, &cur.to_le_bytes());
    put(&mut b, 8, &max.to_le_bytes());
    b
}

/// One `struct linux_dirent64` record: 8-byte aligned, name NUL-terminated.
pub fn dirent64(
    ino: u64,
    off: u64,
    d_type: u8,
    name: &[u8],
    out: &mut alloc::vec::Vec<u8>,
) -> usize {
    let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
    let start = out.len();
    out.resize(start + reclen, 0);
    let b = &mut out[start..];
    put(b, 0, &ino.to_le_bytes());
    put(b, 8, &off.to_le_bytes());
    put(b, 16, &(reclen as u16).to_le_bytes());
    b[18] = d_type;
    put(b, 19, name);
    reclen
}

/// The size of a dirent64 record for `name`.
pub const fn dirent64_len(name_len: usize) -> usize {
    (19 + name_len + 1).div_ceil(8) * 8
}

/// TMPFS_MAGIC (include/uapi/linux/magic.h).
pub const TMPFS_MAGIC: u64 = 0x0102_1994;

/// x86-64 `struct statfs` (120 bytes) of the in-memory file system.
pub fn statfs(total_blocks: u64, free_blocks: u64, files: u64) -> [u8; 120] {
    let mut b = [0u8; 120];
    put(&mut b, 0, &TMPFS_MAGIC.to_le_bytes());
    put(&mut b, 8, &4096u64.to_le_bytes());
    put(&mut b, 16, &total_blocks.to_le_bytes());
    put(&mut b, 24, &free_blocks.to_le_bytes());
    put(&mut b, 32, &free_blocks.to_le_bytes());
    put(&mut b, 40, &files.to_le_bytes());
    put(&mut b, 48, &(files * 2).to_le_bytes());
    put(&mut b, 64, &255u64.to_le_bytes());
    put(&mut b, 72, &4096u64.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_sit_at_the_x86_64_offsets() {
        let s = Stat {
            dev: 0x13,
            ino: 42,
            mode: 0o100644,
            nlink: 1,
            uid: 1000,
            gid: 100,
            rdev: (1, 3),
            size: 12345,
            blocks: 32,
            atime: Timespec { sec: 1, nsec: 2 },
            mtime: Timespec { sec: 3, nsec: 4 },
            ctime: Timespec { sec: 5, nsec: 6 },
        };
        let b = stat(&s);
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(u64_at(8), 42);
        assert_eq!(u64_at(16), 1);
        assert_eq!(u32_at(24), 0o100644);
        assert_eq!(u32_at(28), 1000);
        assert_eq!(u64_at(40), 0x103);
        assert_eq!(u64_at(48), 12345);
        assert_eq!(u64_at(56), 4096);
        assert_eq!((u64_at(88), u64_at(96)), (3, 4), "st_mtim");
        let x = statx(&s);
        assert_eq!(u32::from_le_bytes(x[0..4].try_into().unwrap()), 0x7ff);
        assert_eq!(u16::from_le_bytes(x[28..30].try_into().unwrap()), 0o100644);
        assert_eq!(
            u64::from_le_bytes(x[112..120].try_into().unwrap()),
            3,
            "stx_mtime"
        );
        assert_eq!(
            u32::from_le_bytes(x[140..144].try_into().unwrap()),
            0x13,
            "stx_dev_minor"
        );
    }

    #[test]
    fn dirent_records_are_8_aligned_with_the_name_at_19() {
        let mut out = Vec::new();
        let n = dirent64(7, 1, 4, b"abcde", &mut out);
        assert_eq!(n, 32);
        assert_eq!(dirent64_len(5), 32);
        assert_eq!(dirent64_len(4), 24);
        assert_eq!(&out[19..25], b"abcde\0");
        assert_eq!(u16::from_le_bytes([out[16], out[17]]), 32);
    }

    #[test]
    fn utsname_and_sysinfo_sizes() {
        let u = utsname(["Linux", "lockstep", "6.1.0", "#1", "x86_64", "(none)"]);
        assert_eq!(&u[65..73], b"lockstep");
        assert_eq!(u[4 * 65..4 * 65 + 6], *b"x86_64");
        let s = sysinfo(&SysInfo {
            uptime: 3,
            totalram: 1 << 29,
            freeram: 1 << 28,
            procs: 1,
        });
        assert_eq!(u16::from_le_bytes([s[80], s[81]]), 1);
        assert_eq!(u32::from_le_bytes(s[104..108].try_into().unwrap()), 1);
    }
}
