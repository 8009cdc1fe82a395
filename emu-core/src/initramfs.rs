//! The initramfs writer: builds the cpio "newc" archive (the format of Linux's
//! initramfs, `Documentation/driver-api/early-userspace/buffer-format.rst`)
//! that carries the first program and its files into the guest kernel.
//!
//! [`InitramfsWriter`] appends entries as they are added (a 100 MiB input file
//! is copied once), creates missing parent directories like `mkdir -p`, and
//! rejects ambiguous archives (a path given twice, a file used as a
//! directory). Everything it writes is deterministic: inode numbers count
//! from 1 in insertion order, owners are root, and every entry carries the
//! one modification time given to [`InitramfsWriter::new`].
//!
//! Entry layout: a 110-byte ASCII header (`070701` and thirteen 8-digit hex
//! fields), the NUL-terminated name padded so that header plus name is a
//! multiple of 4 bytes, then the data padded to a multiple of 4. The archive
//! ends with the `TRAILER!!!` entry and is padded to a 512-byte block, as
//! Linux's `gen_init_cpio` and GNU cpio do. Names are stored relative to the
//! root (`bin/prog`), which is how both tools write them.

use std::collections::HashMap;

/// `S_IFMT`: the file-type bits of a mode (inode(7)).
const S_IFMT: u32 = 0o170_000;
/// `S_IFDIR`: a directory.
const S_IFDIR: u32 = 0o040_000;
/// `S_IFREG`: a regular file.
const S_IFREG: u32 = 0o100_000;
/// `S_IFLNK`: a symbolic link.
const S_IFLNK: u32 = 0o120_000;
/// Permission bits (including set-uid, set-gid and sticky).
const PERMISSION_BITS: u32 = 0o7777;

/// The newc magic.
const MAGIC: &[u8; 6] = b"070701";
/// Size of an entry header.
const HEADER_LEN: usize = 110;
/// The name of the last entry.
const TRAILER: &[u8] = b"TRAILER!!!";
/// Linux's PATH_MAX, counting the terminating NUL.
const PATH_MAX: usize = 4096;

/// Why an entry cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitramfsError {
    /// The guest path is empty, not normalized or too long.
    #[error("bad guest path {path:?}: {reason}")]
    BadPath {
        /// The path as given (lossy UTF-8).
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The path was already added (as a file, a symlink, or a directory
    /// where a file is now wanted).
    #[error("guest path /{path} is given twice")]
    Duplicate {
        /// The normalized path.
        path: String,
    },
    /// A parent of the path is a file or a symlink.
    #[error("guest path /{path} is not a directory (needed for /{child})")]
    NotADirectory {
        /// The parent that is not a directory.
        path: String,
        /// The entry that needed it.
        child: String,
    },
    /// newc stores sizes in 32 bits.
    #[error(
        "guest file /{path} is too large for the initramfs ({size} bytes; the limit is 4 GiB - 1)"
    )]
    TooLarge {
        /// The normalized path.
        path: String,
        /// Its size.
        size: u64,
    },
}

/// What a path names in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
}

/// The variable fields of an entry header.
#[derive(Debug, Clone, Copy)]
struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    filesize: u32,
}

/// Builds a newc archive entry by entry.
#[derive(Debug)]
pub struct InitramfsWriter {
    out: Vec<u8>,
    next_ino: u32,
    mtime: u32,
    kinds: HashMap<Vec<u8>, Kind>,
}

/// Normalizes a guest path: an optional leading `/`, components separated by
/// one or more `/`, `.` components dropped; `..` and NUL are rejected.
/// Returns the path without the leading `/` (`bin/prog`).
fn normalize(path: &[u8]) -> Result<Vec<u8>, InitramfsError> {
    let bad = |reason| InitramfsError::BadPath {
        path: String::from_utf8_lossy(path).into_owned(),
        reason,
    };
    if path.contains(&0) {
        return Err(bad("contains a NUL byte"));
    }
    let mut out = Vec::with_capacity(path.len());
    for component in path.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(bad("contains a `..` component")),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    if out.is_empty() {
        return Err(bad("names the root directory"));
    }
    if out.len() + 2 > PATH_MAX {
        return Err(bad("longer than PATH_MAX"));
    }
    Ok(out)
}

fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

impl InitramfsWriter {
    /// An empty archive whose entries all carry modification time `mtime`
    /// (seconds since the Unix epoch).
    pub fn new(mtime: u32) -> Self {
        Self {
            out: Vec::new(),
            next_ino: 1,
            mtime,
            kinds: HashMap::new(),
        }
    }

    /// Adds the directory `path` (and any missing parents) with permission
    /// bits `mode & 0o7777`. Adding an existing directory again is allowed
    /// and keeps its first mode.
    pub fn dir(&mut self, path: impl AsRef<[u8]>, mode: u32) -> Result<(), InitramfsError> {
        let path = normalize(path.as_ref())?;
        match self.kinds.get(&path) {
            Some(Kind::Dir) => Ok(()),
            Some(_) => Err(InitramfsError::Duplicate { path: lossy(&path) }),
            None => {
                self.parents(&path)?;
                self.entry(&path, S_IFDIR | (mode & PERMISSION_BITS), 2, &[]);
                self.kinds.insert(path, Kind::Dir);
                Ok(())
            }
        }
    }

    /// Adds the regular file `path` with permission bits `mode & 0o7777` and
    /// contents `data`, creating missing parent directories (mode 0755).
    pub fn file(
        &mut self,
        path: impl AsRef<[u8]>,
        mode: u32,
        data: &[u8],
    ) -> Result<(), InitramfsError> {
        let path = self.new_leaf(path.as_ref())?;
        if u32::try_from(data.len()).is_err() {
            return Err(InitramfsError::TooLarge {
                path: lossy(&path),
                size: data.len() as u64,
            });
        }
        self.entry(&path, S_IFREG | (mode & PERMISSION_BITS), 1, data);
        self.kinds.insert(path, Kind::File);
        Ok(())
    }

    /// Adds the symbolic link `path` pointing to `target` (stored verbatim,
    /// as readlink(2) returns it), creating missing parent directories.
    pub fn symlink(
        &mut self,
        path: impl AsRef<[u8]>,
        target: impl AsRef<[u8]>,
    ) -> Result<(), InitramfsError> {
        let target = target.as_ref();
        if target.is_empty() || target.contains(&0) || target.len() >= PATH_MAX {
            return Err(InitramfsError::BadPath {
                path: lossy(target),
                reason: "is not a valid symbolic link target",
            });
        }
        let path = self.new_leaf(path.as_ref())?;
        self.entry(&path, S_IFLNK | 0o777, 1, target);
        self.kinds.insert(path, Kind::Symlink);
        Ok(())
    }

    /// Whether `path` is already in the archive.
    pub fn contains(&self, path: impl AsRef<[u8]>) -> bool {
        normalize(path.as_ref()).is_ok_and(|p| self.kinds.contains_key(&p))
    }

    /// Bytes written so far (without the trailer).
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no entry was added yet.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.header(
            Header {
                ino: 0,
                mode: 0,
                nlink: 1,
                mtime: 0,
                filesize: 0,
            },
            TRAILER.len(),
        );
        self.out.extend_from_slice(TRAILER);
        self.out.push(0);
        pad4(&mut self.out);
        self.out.resize(self.out.len().next_multiple_of(512), 0);
        self.out
    }

    /// Checks a new file or symlink path and creates its parents.
    fn new_leaf(&mut self, path: &[u8]) -> Result<Vec<u8>, InitramfsError> {
        let path = normalize(path)?;
        if self.kinds.contains_key(&path) {
            return Err(InitramfsError::Duplicate { path: lossy(&path) });
        }
        self.parents(&path)?;
        Ok(path)
    }

    /// Creates the missing parent directories of the normalized `path`.
    fn parents(&mut self, path: &[u8]) -> Result<(), InitramfsError> {
        let mut end = 0;
        while let Some(slash) = path[end..].iter().position(|&b| b == b'/') {
            let parent = &path[..end + slash];
            match self.kinds.get(parent) {
                Some(Kind::Dir) => {}
                Some(_) => {
                    return Err(InitramfsError::NotADirectory {
                        path: lossy(parent),
                        child: lossy(path),
                    })
                }
                None => {
                    self.entry(parent, S_IFDIR | 0o755, 2, &[]);
                    self.kinds.insert(parent.to_vec(), Kind::Dir);
                }
            }
            end += slash + 1;
        }
        Ok(())
    }

    /// Appends one entry: header, name, data.
    fn entry(&mut self, name: &[u8], mode: u32, nlink: u32, data: &[u8]) {
        debug_assert_eq!(mode & !(S_IFMT | PERMISSION_BITS), 0);
        let ino = self.next_ino;
        self.next_ino += 1;
        let header = Header {
            ino,
            mode,
            nlink,
            mtime: self.mtime,
            // `file` checked the size; names and link targets are below PATH_MAX.
            filesize: data.len() as u32,
        };
        self.header(header, name.len());
        self.out.extend_from_slice(name);
        self.out.push(0);
        pad4(&mut self.out);
        self.out.extend_from_slice(data);
        pad4(&mut self.out);
    }

    /// Appends a header for a name of `name_len` bytes (without its NUL).
    fn header(&mut self, h: Header, name_len: usize) {
        let start = self.out.len();
        self.out.extend_from_slice(MAGIC);
        let namesize = name_len as u32 + 1;
        let (uid, gid, devmajor, devminor, rdevmajor, rdevminor, check) = (0, 0, 0, 0, 0, 0, 0);
        let fields = [
            h.ino, h.mode, uid, gid, h.nlink, h.mtime, h.filesize, devmajor, devminor, rdevmajor,
            rdevminor, namesize, check,
        ];
        for field in fields {
            self.out
                .extend_from_slice(format!("{field:08X}").as_bytes());
        }
        debug_assert_eq!(self.out.len() - start, HEADER_LEN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry as the format spec describes it, parsed independently of the writer.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Parsed {
        name: String,
        ino: u32,
        mode: u32,
        nlink: u32,
        mtime: u32,
        data: Vec<u8>,
    }

    fn hex(field: &[u8]) -> u32 {
        let text = std::str::from_utf8(field).expect("ASCII header field");
        u32::from_str_radix(text, 16).expect("hex header field")
    }

    /// Parses a newc archive per buffer-format.rst; panics on any deviation.
    fn parse(archive: &[u8]) -> Vec<Parsed> {
        let mut entries = Vec::new();
        let mut at = 0;
        loop {
            assert_eq!(at % 4, 0, "entry at {at} is not 4-byte aligned");
            let h = &archive[at..at + HEADER_LEN];
            assert_eq!(&h[..6], MAGIC);
            let field = |i: usize| hex(&h[6 + 8 * i..14 + 8 * i]);
            let (namesize, filesize) = (field(11) as usize, field(6) as usize);
            assert_eq!((field(2), field(3)), (0, 0), "uid/gid");
            assert_eq!(field(12), 0, "check field of newc (not crc) is zero");
            let name_at = at + HEADER_LEN;
            let name = &archive[name_at..name_at + namesize];
            assert_eq!(name.last(), Some(&0), "name is NUL-terminated");
            let name = String::from_utf8(name[..namesize - 1].to_vec()).unwrap();
            let data_at = (name_at + namesize).next_multiple_of(4);
            assert!(archive[name_at + namesize..data_at].iter().all(|&b| b == 0));
            let data = archive[data_at..data_at + filesize].to_vec();
            at = (data_at + filesize).next_multiple_of(4);
            if name == "TRAILER!!!" {
                assert_eq!(archive.len() % 512, 0, "archive padded to 512");
                assert!(archive[at..].iter().all(|&b| b == 0));
                return entries;
            }
            entries.push(Parsed {
                name,
                ino: field(0),
                mode: field(1),
                nlink: field(4),
                mtime: field(5),
                data,
            });
        }
    }

    fn sample() -> Vec<u8> {
        let mut w = InitramfsWriter::new(1_704_067_200);
        w.dir("/tmp", 0o1777).unwrap();
        w.file("/bin/hello", 0o755, b"\x7fELF...").unwrap();
        w.file("data/a/b.txt", 0o644, b"12345").unwrap();
        w.symlink("/init", "/bin/hello").unwrap();
        w.dir("/bin", 0o700).unwrap(); // already there: kept as created
        w.file("/empty", 0o600, b"").unwrap();
        w.finish()
    }

    #[test]
    fn entries_follow_the_newc_spec_with_parents_first() {
        let entries = parse(&sample());
        let summary: Vec<(&str, u32, u32, &[u8])> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.mode, e.nlink, &e.data[..]))
            .collect();
        assert_eq!(
            summary,
            [
                ("tmp", 0o041_777, 2, &b""[..]),
                ("bin", 0o040_755, 2, b""),
                ("bin/hello", 0o100_755, 1, b"\x7fELF..."),
                ("data", 0o040_755, 2, b""),
                ("data/a", 0o040_755, 2, b""),
                ("data/a/b.txt", 0o100_644, 1, b"12345"),
                ("init", 0o120_777, 1, b"/bin/hello"),
                ("empty", 0o100_600, 1, b""),
            ]
        );
        let inos: Vec<u32> = entries.iter().map(|e| e.ino).collect();
        assert_eq!(inos, (1..=8).collect::<Vec<_>>());
        assert!(entries.iter().all(|e| e.mtime == 1_704_067_200));
    }

    #[test]
    fn empty_archive_is_just_the_trailer() {
        let archive = InitramfsWriter::new(0).finish();
        assert_eq!(archive.len(), 512);
        assert!(archive.starts_with(b"0707010000000000000000"));
        assert_eq!(&archive[110..121], b"TRAILER!!!\0");
        assert_eq!(parse(&archive), []);
    }

    #[test]
    fn paths_are_normalized_and_bad_ones_rejected() {
        let mut w = InitramfsWriter::new(0);
        w.file("//x/./y//z", 0o644, b"").unwrap();
        assert!(w.contains("/x/y/z"));
        assert!(w.contains("x/y"));
        for bad in ["", "/", "/./", "/a/../b", "a\0b"] {
            assert!(
                matches!(w.file(bad, 0o644, b""), Err(InitramfsError::BadPath { .. })),
                "{bad:?}"
            );
        }
        let long = "a/".repeat(2048);
        assert!(matches!(
            w.dir(&long, 0o755),
            Err(InitramfsError::BadPath { .. })
        ));
        assert!(matches!(
            w.symlink("/l", ""),
            Err(InitramfsError::BadPath { .. })
        ));
    }

    #[test]
    fn duplicates_and_files_used_as_directories_are_errors() {
        let mut w = InitramfsWriter::new(0);
        w.file("/bin/p", 0o755, b"1").unwrap();
        assert_eq!(
            w.file("/bin/p", 0o755, b"2"),
            Err(InitramfsError::Duplicate {
                path: "bin/p".into()
            })
        );
        assert_eq!(
            w.dir("/bin/p", 0o755),
            Err(InitramfsError::Duplicate {
                path: "bin/p".into()
            })
        );
        assert_eq!(
            w.symlink("/bin/p/q", "x"),
            Err(InitramfsError::NotADirectory {
                path: "bin/p".into(),
                child: "bin/p/q".into()
            })
        );
        assert_eq!(
            w.symlink("/bin", "x"),
            Err(InitramfsError::Duplicate { path: "bin".into() })
        );
    }

    #[test]
    fn names_and_data_of_every_length_stay_aligned() {
        let mut w = InitramfsWriter::new(0);
        for n in 1..=9usize {
            let name = "n".repeat(n);
            w.file(&name, 0o644, &vec![n as u8; n]).unwrap();
        }
        let entries = parse(&w.finish());
        for (n, e) in (1..=9usize).zip(&entries) {
            assert_eq!(e.name.len(), n);
            assert_eq!(e.data, vec![n as u8; n]);
        }
    }

    /// A fresh scratch directory under the system temp dir.
    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lockstep-initramfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn gnu_cpio(args: &[&str], dir: &std::path::Path, input: &[u8]) -> Option<String> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let spawned = Command::new("cpio")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut child) = spawned else {
            eprintln!("GNU cpio is not installed: skipping the cross-check");
            return None;
        };
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "cpio {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8(out.stdout).unwrap())
    }

    #[test]
    fn gnu_cpio_lists_and_extracts_what_was_written() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("gnu");
        let archive = sample();
        let Some(list) = gnu_cpio(&["-t", "--quiet"], &dir, &archive) else {
            return;
        };
        assert_eq!(
            list,
            "tmp\nbin\nbin/hello\ndata\ndata/a\ndata/a/b.txt\ninit\nempty\n"
        );
        let flags = [
            "-i",
            "--quiet",
            "--make-directories",
            "--no-absolute-filenames",
            "--preserve-modification-time",
        ];
        gnu_cpio(&flags, &dir, &archive).unwrap();
        assert_eq!(std::fs::read(dir.join("bin/hello")).unwrap(), b"\x7fELF...");
        assert_eq!(std::fs::read(dir.join("data/a/b.txt")).unwrap(), b"12345");
        assert_eq!(std::fs::read(dir.join("empty")).unwrap(), b"");
        assert_eq!(
            std::fs::read_link(dir.join("init")).unwrap(),
            std::path::Path::new("/bin/hello")
        );
        let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode();
        assert_eq!(mode("bin/hello") & 0o777, 0o755);
        assert_eq!(mode("data/a/b.txt") & 0o777, 0o644);
        let mtime = std::fs::metadata(dir.join("bin/hello"))
            .unwrap()
            .modified()
            .unwrap();
        let epoch = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_704_067_200);
        assert_eq!(mtime, epoch);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
