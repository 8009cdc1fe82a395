//! Helpers shared by emu-cli's integration tests: running the `lockstep`
//! binary, scratch directories, and hand-made ELF files.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `lockstep run ARGS...`.
pub fn lockstep_run(args: &[&str]) -> Output {
    lockstep(&[&["run"], args].concat())
}

/// `lockstep ARGS...`.
pub fn lockstep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .output()
        .expect("the lockstep binary runs")
}

/// The process exit status (panics on death by signal: lockstep must not die).
pub fn status(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("lockstep died: {:?}", out.status))
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failure: the exit status, and stderr is exactly one line that
/// contains `needle` (and no panic or backtrace).
pub fn assert_one_line(out: &Output, expected_status: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(status(out), expected_status, "stderr: {err}");
    assert!(err.contains(needle), "{needle:?} not in stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("lockstep: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A fresh scratch directory for one test.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lockstep-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// Writes `bytes` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("temp dir is writable");
    path.to_string_lossy().into_owned()
}

/// `e_machine` values.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of AArch64.
pub const EM_AARCH64: u16 = 183;

/// A static ELF64 ET_EXEC for `machine`: one PT_LOAD of the whole file at
/// 0x400000, entry at code that does `mov edi, 7; mov eax, 60; syscall`
/// (exit(7)).
pub fn elf64(machine: u16) -> Vec<u8> {
    elf64_with(machine, None)
}

fn elf64_with(machine: u16, interp: Option<&[u8]>) -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    let code = [
        0xbf, 7, 0, 0, 0, // mov edi, 7
        0xb8, 60, 0, 0, 0, // mov eax, 60 (exit)
        0x0f, 0x05, // syscall
    ];
    let phnum: u16 = if interp.is_some() { 2 } else { 1 };
    let headers = 64 + 56 * u64::from(phnum);
    let interp = interp.unwrap_or_default();
    let entry_offset = headers + interp.len() as u64;
    let size = entry_offset + code.len() as u64;

    let mut e = vec![0u8; 64];
    e[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e[18..20].copy_from_slice(&machine.to_le_bytes());
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..32].copy_from_slice(&(BASE + entry_offset).to_le_bytes());
    e[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    e[52..54].copy_from_slice(&64u16.to_le_bytes());
    e[54..56].copy_from_slice(&56u16.to_le_bytes());
    e[56..58].copy_from_slice(&phnum.to_le_bytes());
    let phdr = |p_type: u32, flags: u32, offset: u64, len: u64| {
        let mut ph = vec![0u8; 56];
        ph[0..4].copy_from_slice(&p_type.to_le_bytes());
        ph[4..8].copy_from_slice(&flags.to_le_bytes());
        ph[8..16].copy_from_slice(&offset.to_le_bytes());
        ph[16..24].copy_from_slice(&(BASE + offset).to_le_bytes());
        ph[24..32].copy_from_slice(&(BASE + offset).to_le_bytes());
        ph[32..40].copy_from_slice(&len.to_le_bytes());
        ph[40..48].copy_from_slice(&len.to_le_bytes());
        ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes());
        ph
    };
    if !interp.is_empty() {
        e.extend(phdr(3, 4, headers, interp.len() as u64)); // PT_INTERP, R
    }
    e.extend(phdr(1, 5, 0, size)); // PT_LOAD, R+X
    e.extend_from_slice(interp);
    e.extend_from_slice(&code);
    e
}

/// An ELF32 i386 ET_EXEC header with one PT_LOAD (what `gcc -m32 -static`
/// starts with).
pub fn elf32_i386() -> Vec<u8> {
    let mut e = vec![0u8; 52 + 32];
    e[..7].copy_from_slice(b"\x7fELF\x01\x01\x01");
    e[16..18].copy_from_slice(&2u16.to_le_bytes());
    e[18..20].copy_from_slice(&3u16.to_le_bytes());
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..28].copy_from_slice(&0x0804_8054u32.to_le_bytes());
    e[28..32].copy_from_slice(&52u32.to_le_bytes());
    e[40..42].copy_from_slice(&52u16.to_le_bytes());
    e[42..44].copy_from_slice(&32u16.to_le_bytes());
    e[44..46].copy_from_slice(&1u16.to_le_bytes());
    e[52..56].copy_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&[0xf4; 4]);
    e
}

/// `elf64(EM_X86_64)` with a PT_INTERP naming glibc's dynamic loader.
pub fn elf64_dynamic() -> Vec<u8> {
    elf64_with(EM_X86_64, Some(b"/lib64/ld-linux-x86-64.so.2\0"))
}

/// Whether the host has a working `gcc`.
pub fn have_gcc() -> bool {
    Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
