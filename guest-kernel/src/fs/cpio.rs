//! Parser of the cpio "newc" archive format that Linux's initramfs uses
//! (Documentation/driver-api/early-userspace/buffer-format.rst): 110-byte ASCII-hex
//! headers (magic `070701`, or `070702` with a checksum), the NUL-terminated name padded
//! to 4 bytes, the data padded to 4 bytes, ended by the entry `TRAILER!!!`.

/// One archive member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path as stored (without the NUL).
    pub name: &'a [u8],
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time (seconds since the epoch).
    pub mtime: u32,
    /// Device numbers of a device node (major, minor).
    pub rdev: (u32, u32),
    /// The member's data (a symlink's target for symlinks).
    pub data: &'a [u8],
}

/// A malformed archive: what and where (byte offset of the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpioError {
    /// The header does not start with `070701` or `070702`.
    BadMagic {
        /// Offset of the header.
        offset: usize,
    },
    /// A header field is not hexadecimal.
    BadField {
        /// Offset of the header.
        offset: usize,
    },
    /// The header, name or data runs past the end of the archive.
    Truncated {
        /// Offset of the header.
        offset: usize,
    },
    /// The archive ends without a `TRAILER!!!` entry.
    NoTrailer,
}

const HEADER_LEN: usize = 110;

fn hex_field(h: &[u8], index: usize, offset: usize) -> Result<u32, CpioError> {
    let start = 6 + 8 * index;
    let mut v: u32 = 0;
    for &c in &h[start..start + 8] {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(CpioError::BadField { offset }),
        };
        v = (v << 4) | u32::from(d);
    }
    Ok(v)
}

const fn align4(v: usize) -> usize {
    (v + 3) & !3
}

/// Iterator over the members of an archive.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

/// Reads the archive in `data`.
pub fn read(data: &[u8]) -> Reader<'_> {
    Reader {
        data,
        pos: 0,
        done: false,
    }
}

impl<'a> Reader<'a> {
    fn entry(&mut self) -> Result<Option<Entry<'a>>, CpioError> {
        let offset = self.pos;
        // Linux skips zero padding between concatenated archives.
        while self.data.get(self.pos..self.pos + 4) == Some(&[0u8; 4][..]) {
            self.pos += 4;
        }
        if self.pos >= self.data.len() {
            return Err(CpioError::NoTrailer);
        }
        let magic = self.data.get(self.pos..self.pos + 6);
        if magic != Some(b"070701") && magic != Some(b"070702") {
            return Err(CpioError::BadMagic { offset });
        }
        let h = self
            .data
            .get(self.pos..self.pos + HEADER_LEN)
            .ok_or(CpioError::Truncated { offset })?;
        for i in 0..13 {
            hex_field(h, i, offset)?;
        }
        let f = |i| hex_field(h, i, offset);
        let (mode, uid, gid, mtime, size) = (f(1)?, f(2)?, f(3)?, f(5)?, f(6)?);
        let rdev = (f(9)?, f(10)?);
        let namesize = f(11)? as usize;
        let name_start = self.pos + HEADER_LEN;
        let name_end = name_start
            .checked_add(namesize)
            .ok_or(CpioError::Truncated { offset })?;
        let raw_name = self
            .data
            .get(name_start..name_end)
            .ok_or(CpioError::Truncated { offset })?;
        let name = match raw_name.iter().position(|&b| b == 0) {
            Some(n) => &raw_name[..n],
            None => raw_name,
        };
        let data_start = align4(name_end);
        let data_end = data_start
            .checked_add(size as usize)
            .ok_or(CpioError::Truncated { offset })?;
        let data = self
            .data
            .get(data_start..data_end)
            .ok_or(CpioError::Truncated { offset })?;
        self.pos = align4(data_end);
        if name == b"TRAILER!!!" {
            return Ok(None);
        }
        Ok(Some(Entry {
            name,
            mode,
            uid,
            gid,
            mtime,
            rdev,
            data,
        }))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Entry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A minimal newc writer for tests (the CLI has its own).
#[cfg(test)]
pub fn write_entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
    let fields = [
        0,
        mode,
        0,
        0,
        1,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for v in fields {
        out.extend_from_slice(format!("{v:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members_until_the_trailer() {
        let mut a = Vec::new();
        write_entry(&mut a, "bin", 0o040755, b"");
        write_entry(&mut a, "bin/prog", 0o100755, b"\x7fELF...");
        write_entry(&mut a, "bin/link", 0o120777, b"prog");
        write_entry(&mut a, "TRAILER!!!", 0, b"");
        write_entry(&mut a, "after", 0o100644, b"ignored");

        let entries: Vec<Entry> = read(&a).collect::<Result<_, _>>().unwrap();

        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].name, b"bin/prog");
        assert_eq!(entries[1].mode, 0o100755);
        assert_eq!(entries[1].data, b"\x7fELF...");
        assert_eq!(entries[2].data, b"prog");
    }

    #[test]
    fn header_fields_are_hex_per_the_format() {
        // A hand-written header: mode 0x81a4 (0o100644), mtime 0x5f5e1000, size 3.
        let mut a = Vec::new();
        a.extend_from_slice(b"070701");
        for v in [
            "00000001", "000081a4", "000003e8", "000003e9", "00000001", "5f5e1000", "00000003",
            "00000000", "00000000", "00000001", "00000003", "00000002", "00000000",
        ] {
            a.extend_from_slice(v.as_bytes());
        }
        a.extend_from_slice(b"f\0");
        a.extend_from_slice(b"abc\0");
        write_entry(&mut a, "TRAILER!!!", 0, b"");

        let e = read(&a).next().unwrap().unwrap();

        assert_eq!(
            (e.mode, e.uid, e.gid, e.mtime),
            (0o100644, 1000, 1001, 0x5f5e_1000)
        );
        assert_eq!(e.rdev, (1, 3));
        assert_eq!(e.data, b"abc");
    }

    #[test]
    fn malformed_archives_are_errors() {
        let mut good = Vec::new();
        write_entry(&mut good, "file", 0o100644, b"0123456789");
        write_entry(&mut good, "TRAILER!!!", 0, b"");
        for cut in [0, 5, 50, 112, 120] {
            let r: Result<Vec<_>, _> = read(&good[..cut]).collect();
            assert!(r.is_err(), "cut at {cut}");
        }
        let mut bad = good.clone();
        bad[0] = b'1';
        assert_eq!(
            read(&bad).next(),
            Some(Err(CpioError::BadMagic { offset: 0 }))
        );
        let mut bad = good.clone();
        bad[10] = b'z';
        assert_eq!(
            read(&bad).next(),
            Some(Err(CpioError::BadField { offset: 0 }))
        );
        // An empty archive has no trailer.
        assert_eq!(read(b"").next(), Some(Err(CpioError::NoTrailer)));
    }
}
