//! The guest's initial file system: the program, the `--file` and `--dir`
//! trees, and the fixed directories, packed into the initramfs with
//! `emu_core::initramfs`.
//!
//! Layout: `/bin/NAME` (the program, mode 0755), `/init` (a symbolic link to
//! it: Linux's initramfs convention for the first program, and the path our
//! kernel executes whatever `argv[0]` says), `/dev`, `/proc` (empty mount
//! points the kernel fills), `/tmp` (mode 1777), then each `--file` and
//! `--dir` in command-line order. Nothing of the host leaks in: owners are
//! root and every modification time is the boot epoch.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use emu_core::initramfs::{InitramfsError, InitramfsWriter};

use crate::options::Mapping;

/// Why the file system cannot be built (exit status 2: the command line names
/// something unusable).
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A host file or directory cannot be read.
    #[error("{option} {}: {source}", path.display())]
    Host {
        /// `--file` or `--dir`.
        option: &'static str,
        /// The host path.
        path: PathBuf,
        /// The host's error.
        source: std::io::Error,
    },
    /// `--file` names a directory or `--dir` a file.
    #[error("{option} {}: {reason}", path.display())]
    WrongKind {
        /// `--file` or `--dir`.
        option: &'static str,
        /// The host path.
        path: PathBuf,
        /// What to use instead.
        reason: &'static str,
    },
    /// The guest path is unusable or collides with another entry.
    #[error("{option} {}: {source}", path.display())]
    Guest {
        /// `--file`, `--dir` or `PROGRAM`.
        option: &'static str,
        /// The host path.
        path: PathBuf,
        /// The archive's complaint.
        source: InitramfsError,
    },
}

/// Guest path of the program: /bin/NAME.
pub fn program_guest_path(file_name: &std::ffi::OsStr) -> Vec<u8> {
    let mut path = b"/bin/".to_vec();
    path.extend_from_slice(file_name.as_bytes());
    path
}

/// Builds the initramfs.
pub fn build(
    program_path: &Path,
    program_guest: &[u8],
    program_image: &[u8],
    files: &[Mapping],
    dirs: &[Mapping],
    mtime: u32,
) -> Result<Vec<u8>, RootfsError> {
    let mut w = InitramfsWriter::new(mtime);
    let guest_err = |option, path: &Path| {
        let path = path.to_path_buf();
        move |source| RootfsError::Guest {
            option,
            path,
            source,
        }
    };
    let fixed = |w: &mut InitramfsWriter| -> Result<(), InitramfsError> {
        w.dir("/bin", 0o755)?;
        w.file(program_guest, 0o755, program_image)?;
        w.symlink("/init", program_guest)?;
        w.dir("/dev", 0o755)?;
        w.dir("/proc", 0o555)?;
        w.dir("/tmp", 0o1777)
    };
    fixed(&mut w).map_err(guest_err("PROGRAM", program_path))?;
    for m in files {
        let meta = std::fs::metadata(&m.host).map_err(|source| RootfsError::Host {
            option: "--file",
            path: m.host.clone(),
            source,
        })?;
        if meta.is_dir() {
            return Err(RootfsError::WrongKind {
                option: "--file",
                path: m.host.clone(),
                reason: "is a directory (use --dir)",
            });
        }
        let data = std::fs::read(&m.host).map_err(|source| RootfsError::Host {
            option: "--file",
            path: m.host.clone(),
            source,
        })?;
        w.file(&m.guest, meta.permissions().mode(), &data)
            .map_err(guest_err("--file", &m.host))?;
    }
    for m in dirs {
        let meta = std::fs::metadata(&m.host).map_err(|source| RootfsError::Host {
            option: "--dir",
            path: m.host.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(RootfsError::WrongKind {
                option: "--dir",
                path: m.host.clone(),
                reason: "is not a directory (use --file)",
            });
        }
        w.dir(&m.guest, meta.permissions().mode())
            .map_err(guest_err("--dir", &m.host))?;
        add_tree(&mut w, &m.host, &m.guest)?;
    }
    Ok(w.finish())
}

/// Adds the contents of the host directory `host` below `guest`, recursively,
/// in byte order of the names (so that the archive does not depend on the
/// order the host file system lists them in).
fn add_tree(w: &mut InitramfsWriter, host: &Path, guest: &[u8]) -> Result<(), RootfsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RootfsError::Host {
            option: "--dir",
            path,
            source,
        }
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(host).map_err(io(host))? {
        names.push(entry.map_err(io(host))?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let host_child = host.join(&name);
        let mut guest_child = guest.to_vec();
        guest_child.push(b'/');
        guest_child.extend_from_slice(name.as_bytes());
        let meta = std::fs::symlink_metadata(&host_child).map_err(io(&host_child))?;
        let mode = meta.permissions().mode();
        let file_type = meta.file_type();
        let added = if file_type.is_symlink() {
            let target = std::fs::read_link(&host_child).map_err(io(&host_child))?;
            w.symlink(&guest_child, target.as_os_str().as_bytes())
        } else if file_type.is_dir() {
            w.dir(&guest_child, mode)
                .map_err(guest_err_dir(&host_child))?;
            add_tree(w, &host_child, &guest_child)?;
            continue;
        } else if file_type.is_file() {
            let data = std::fs::read(&host_child).map_err(io(&host_child))?;
            w.file(&guest_child, mode, &data)
        } else {
            // Sockets, FIFOs and device nodes have no meaning in the guest.
            eprintln!(
                "lockstep: --dir: skipping {} (not a file, directory or symbolic link)",
                host_child.display()
            );
            continue;
        };
        added.map_err(guest_err_dir(&host_child))?;
    }
    Ok(())
}

fn guest_err_dir(path: &Path) -> impl FnOnce(InitramfsError) -> RootfsError {
    let path = path.to_path_buf();
    move |source| RootfsError::Guest {
        option: "--dir",
        path,
        source,
    }
}
