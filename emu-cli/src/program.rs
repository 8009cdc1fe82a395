//! Finding and checking the program on the host, before anything boots: a
//! program that cannot be found is exit status 127, one that cannot be
//! executed (not an ELF file, 32-bit, not x86-64, dynamically linked,
//! corrupt headers, a directory) is 126, each with a one-line reason.
//!
//! The checks are those Linux's `load_elf_binary` makes before it commits to
//! an exec (fs/binfmt_elf.c): the ELF identification, `e_type`,
//! `e_machine`, a sane program-header table inside the file, PT_LOAD
//! segments whose file bytes exist and whose memory fits in user space.

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `e_type` of an executable.
const ET_EXEC: u16 = 2;
/// `e_type` of a position-independent executable (or a shared library).
const ET_DYN: u16 = 3;
/// `e_machine` of x86-64.
const EM_X86_64: u16 = 62;
/// `p_type` of a loadable segment.
const PT_LOAD: u32 = 1;
/// `p_type` of the program interpreter (the dynamic loader's path).
const PT_INTERP: u32 = 3;
/// Size of an ELF64 header.
const EHDR_LEN: usize = 64;
/// Size of an ELF64 program header.
const PHDR_LEN: u64 = 56;
/// End of the x86-64 user address space (Linux's TASK_SIZE with 4-level paging).
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// Why the program cannot run, with the exit status it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// Nothing at that path, or no such name in PATH (127).
    #[error("{0}: not found")]
    NotFound(String),
    /// The file exists but cannot be executed (126).
    #[error("{name}: cannot execute: {reason}")]
    NotExecutable {
        /// The program as given.
        name: String,
        /// Why, in a few words.
        reason: String,
    },
}

impl ProgramError {
    /// The exit status of `lockstep run` for this error.
    pub fn status(&self) -> u8 {
        match self {
            ProgramError::NotFound(_) => 127,
            ProgramError::NotExecutable { .. } => 126,
        }
    }
}

/// A program that passed the checks.
#[derive(Debug)]
pub struct Program {
    /// Where it was found on the host.
    pub host_path: PathBuf,
    /// Its file name (the guest path is /bin/NAME).
    pub file_name: OsString,
    /// Its bytes.
    pub image: Vec<u8>,
}

/// Finds `program` (a path with a '/', else a file in the current directory,
/// else a name in the host's PATH), reads it and checks that it is a static
/// x86-64 ELF executable.
pub fn load(program: &OsStr) -> Result<Program, ProgramError> {
    let shown = program.to_string_lossy().into_owned();
    let not_executable = |reason: String| ProgramError::NotExecutable {
        name: shown.clone(),
        reason,
    };
    let host_path = locate(program).ok_or_else(|| ProgramError::NotFound(shown.clone()))?;
    if host_path.is_dir() {
        return Err(not_executable("it is a directory".into()));
    }
    let image = std::fs::read(&host_path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => ProgramError::NotFound(shown.clone()),
        ErrorKind::PermissionDenied => not_executable("permission denied".into()),
        _ => not_executable(format!("cannot read it: {e}")),
    })?;
    check_elf(&image).map_err(not_executable)?;
    let file_name = host_path
        .file_name()
        .map_or_else(|| OsString::from("program"), OsStr::to_os_string);
    Ok(Program {
        host_path,
        file_name,
        image,
    })
}

/// The host path of `program`, if it exists.
fn locate(program: &OsStr) -> Option<PathBuf> {
    let path = Path::new(program);
    if program.as_bytes().contains(&b'/') || path.symlink_metadata().is_ok() {
        return path.symlink_metadata().is_ok().then(|| path.to_path_buf());
    }
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn field<const N: usize>(image: &[u8], at: u64) -> Option<[u8; N]> {
    let start = usize::try_from(at).ok()?;
    image.get(start..start.checked_add(N)?)?.try_into().ok()
}

fn u16_at(image: &[u8], at: u64) -> Option<u16> {
    field(image, at).map(u16::from_le_bytes)
}

fn u32_at(image: &[u8], at: u64) -> Option<u32> {
    field(image, at).map(u32::from_le_bytes)
}

fn u64_at(image: &[u8], at: u64) -> Option<u64> {
    field(image, at).map(u64::from_le_bytes)
}

fn machine_name(machine: u16) -> &'static str {
    match machine {
        2 => "SPARC",
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "S/390",
        40 => "ARM",
        50 => "IA-64",
        183 => "AArch64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => "an unknown machine",
    }
}

/// Checks that `image` is a static ELF64 x86-64 executable; the error is a
/// short reason for the one-line report.
pub fn check_elf(image: &[u8]) -> Result<(), String> {
    if !image.starts_with(b"\x7fELF") {
        if image.starts_with(b"#!") {
            return Err("it is a script (#!), not an ELF executable: run its interpreter".into());
        }
        return Err("not an ELF executable".into());
    }
    let truncated = || "truncated ELF header".to_string();
    match image.get(4) {
        Some(2) => {}
        Some(1) => return Err("32-bit ELF programs are not supported (x86-64 only)".into()),
        Some(c) => return Err(format!("corrupt ELF header (class {c})")),
        None => return Err(truncated()),
    }
    match image.get(5) {
        Some(1) => {}
        Some(2) => return Err("big-endian ELF, not x86-64".into()),
        Some(d) => return Err(format!("corrupt ELF header (data encoding {d})")),
        None => return Err(truncated()),
    }
    if image.len() < EHDR_LEN {
        return Err(truncated());
    }
    let header = |at| u16_at(image, at).ok_or_else(truncated);
    let machine = header(18)?;
    if machine != EM_X86_64 {
        return Err(format!(
            "ELF for {} (e_machine {machine}), not x86-64",
            machine_name(machine)
        ));
    }
    match header(16)? {
        ET_EXEC | ET_DYN => {}
        1 => return Err("a relocatable object file (.o), not an executable".into()),
        4 => return Err("a core dump, not an executable".into()),
        t => return Err(format!("corrupt ELF header (e_type {t})")),
    }
    check_program_headers(image)
}

fn check_program_headers(image: &[u8]) -> Result<(), String> {
    let corrupt = |what: &str| format!("corrupt ELF program headers ({what})");
    let phoff = u64_at(image, 32).ok_or_else(|| corrupt("e_phoff"))?;
    let phentsize = u16_at(image, 54).ok_or_else(|| corrupt("e_phentsize"))?;
    let phnum = u16_at(image, 56).ok_or_else(|| corrupt("e_phnum"))?;
    if u64::from(phentsize) != PHDR_LEN {
        return Err(corrupt(&format!("entry size {phentsize}, expected 56")));
    }
    // Linux refuses tables over 64 KiB and empty ones (fs/binfmt_elf.c, load_elf_phdrs).
    if phnum == 0 || u64::from(phnum) * PHDR_LEN > 65_536 {
        return Err(corrupt(&format!("{phnum} entries")));
    }
    let table_end = phoff
        .checked_add(u64::from(phnum) * PHDR_LEN)
        .filter(|&end| end <= image.len() as u64);
    if table_end.is_none() {
        return Err("truncated ELF file (program headers past its end)".into());
    }
    let mut loads = 0;
    for i in 0..u64::from(phnum) {
        let ph = phoff + i * PHDR_LEN;
        let word = |off| u64_at(image, ph + off).ok_or_else(|| corrupt("entry"));
        let p_type = u32_at(image, ph).ok_or_else(|| corrupt("entry"))?;
        let (offset, vaddr, filesz, memsz) = (word(8)?, word(16)?, word(32)?, word(40)?);
        let file_end = offset.checked_add(filesz);
        if p_type == PT_INTERP {
            let interp = file_end
                .filter(|&end| end <= image.len() as u64)
                .and_then(|end| image.get(offset as usize..end as usize))
                .map(|s| String::from_utf8_lossy(s.split(|&b| b == 0).next().unwrap_or(s)));
            return Err(match interp {
                Some(path) => format!(
                    "dynamically linked (interpreter {path}): not supported yet, link it with -static"
                ),
                None => "dynamically linked: not supported yet, link it with -static".into(),
            });
        }
        if p_type != PT_LOAD {
            continue;
        }
        loads += 1;
        if file_end.is_none_or(|end| end > image.len() as u64) {
            return Err(format!(
                "truncated ELF file (segment at {vaddr:#x} extends past its end)"
            ));
        }
        if filesz > memsz {
            return Err(corrupt(&format!(
                "segment at {vaddr:#x} has more file bytes than memory"
            )));
        }
        if vaddr.checked_add(memsz).is_none_or(|end| end > TASK_SIZE) {
            return Err(corrupt(&format!(
                "segment at {vaddr:#x} is outside the user address space"
            )));
        }
    }
    if loads == 0 {
        return Err(corrupt("no loadable segment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 x86-64 ET_EXEC: one PT_LOAD of `code` at 0x401000.
    fn tiny_elf(code: &[u8]) -> Vec<u8> {
        let mut e = vec![0u8; 120];
        e[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        e[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        e[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        e[24..32].copy_from_slice(&0x401078u64.to_le_bytes());
        e[32..40].copy_from_slice(&64u64.to_le_bytes());
        e[54..56].copy_from_slice(&56u16.to_le_bytes());
        e[56..58].copy_from_slice(&1u16.to_le_bytes());
        e[64..68].copy_from_slice(&PT_LOAD.to_le_bytes());
        e[68..72].copy_from_slice(&5u32.to_le_bytes());
        e[80..88].copy_from_slice(&0x401000u64.to_le_bytes());
        let size = 120 + code.len() as u64;
        e[96..104].copy_from_slice(&size.to_le_bytes());
        e[104..112].copy_from_slice(&size.to_le_bytes());
        e.extend_from_slice(code);
        e
    }

    #[test]
    fn a_static_executable_passes() {
        assert_eq!(check_elf(&tiny_elf(&[0xf4])), Ok(()));
    }

    #[test]
    fn each_defect_has_its_reason() {
        let good = tiny_elf(&[0xf4]);
        let with = |at: usize, bytes: &[u8]| {
            let mut e = good.clone();
            e[at..at + bytes.len()].copy_from_slice(bytes);
            check_elf(&e).unwrap_err()
        };
        assert_eq!(check_elf(b"hello\n").unwrap_err(), "not an ELF executable");
        assert!(check_elf(b"#!/bin/sh\n").unwrap_err().contains("script"));
        assert!(with(4, &[1]).contains("32-bit"));
        assert!(with(5, &[2]).contains("big-endian"));
        assert!(with(18, &[183, 0]).contains("AArch64"));
        assert!(with(16, &[1, 0]).contains("relocatable"));
        assert!(with(54, &[32, 0]).contains("entry size"));
        assert!(with(56, &[0, 0]).contains("0 entries"));
        assert!(with(32, &[0xff; 8]).contains("past its end"));
        assert!(with(64, &[3, 0, 0, 0]).contains("dynamically linked"));
        assert!(with(64, &[4, 0, 0, 0]).contains("no loadable segment"));
        assert!(with(96, &[0xff; 4]).contains("past its end"));
        assert!(with(104, &[0; 8]).contains("more file bytes"));
        assert!(with(80, &[0, 0, 0, 0, 0, 0x80, 0, 0]).contains("user address space"));
        assert!(check_elf(&good[..40])
            .unwrap_err()
            .contains("truncated ELF header"));
        assert!(check_elf(&good[..100])
            .unwrap_err()
            .contains("past its end"));
    }

    #[test]
    fn interpreter_path_is_named() {
        let mut e = tiny_elf(b"/lib64/ld-linux-x86-64.so.2\0");
        e[64..68].copy_from_slice(&PT_INTERP.to_le_bytes());
        e[72..80].copy_from_slice(&120u64.to_le_bytes());
        e[96..104].copy_from_slice(&28u64.to_le_bytes());
        assert_eq!(
            check_elf(&e).unwrap_err(),
            "dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2): not supported yet, link it with -static"
        );
    }

    #[test]
    fn every_prefix_of_a_valid_file_is_handled_without_panicking() {
        let good = tiny_elf(&[0xf4; 8]);
        for len in 0..good.len() {
            assert!(check_elf(&good[..len]).is_err(), "prefix of {len} bytes");
        }
    }
}
