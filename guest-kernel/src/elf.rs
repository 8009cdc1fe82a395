//! Parser of the user programs' ELF64 headers (System V gABI, x86-64 psABI): what the
//! loader needs from a static ET_EXEC or static-pie ET_DYN: the PT_LOAD segments,
//! PT_TLS, PT_GNU_STACK, PT_PHDR and PT_INTERP. Every offset and size is checked against
//! the file; a malformed file is an error (ENOEXEC), never a panic.

use alloc::vec::Vec;

use crate::mm::{PAGE_SIZE, USER_END};

/// `e_type` ET_EXEC.
pub const ET_EXEC: u16 = 2;
/// `e_type` ET_DYN.
pub const ET_DYN: u16 = 3;
/// `e_machine` EM_X86_64.
pub const EM_X86_64: u16 = 62;
/// PT_LOAD.
pub const PT_LOAD: u32 = 1;
/// PT_INTERP.
pub const PT_INTERP: u32 = 3;
/// PT_PHDR.
pub const PT_PHDR: u32 = 6;
/// PT_TLS.
pub const PT_TLS: u32 = 7;
/// PT_GNU_STACK.
pub const PT_GNU_STACK: u32 = 0x6474_e551;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;

/// Size of one program header.
pub const PHDR_SIZE: u64 = 56;

/// Why a file cannot be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    /// No ELF magic.
    NotElf,
    /// Not ELFCLASS64 / little-endian / version 1.
    WrongClass,
    /// Not x86-64.
    WrongMachine,
    /// Neither ET_EXEC nor ET_DYN.
    WrongType,
    /// Headers or segments outside the file, or inconsistent sizes.
    Corrupt,
    /// It asks for a program interpreter (dynamic linking is not supported).
    Dynamic,
    /// No PT_LOAD segment.
    NoSegments,
}

/// One program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phdr {
    /// p_type.
    pub p_type: u32,
    /// p_flags.
    pub flags: u32,
    /// p_offset.
    pub offset: u64,
    /// p_vaddr.
    pub vaddr: u64,
    /// p_filesz.
    pub filesz: u64,
    /// p_memsz.
    pub memsz: u64,
    /// p_align.
    pub align: u64,
}

/// The parts of an ELF file the loader uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// e_type.
    pub e_type: u16,
    /// e_entry (unrelocated).
    pub entry: u64,
    /// e_phoff.
    pub phoff: u64,
    /// e_phnum.
    pub phnum: u16,
    /// All program headers.
    pub phdrs: Vec<Phdr>,
    /// PT_GNU_STACK asks for an executable stack.
    pub exec_stack: bool,
}

fn u16_at(d: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([d[o], d[o + 1]])
}
fn u32_at(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]])
}
fn u64_at(d: &[u8], o: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[o..o + 8]);
    u64::from_le_bytes(b)
}

/// Parses and checks the headers of `file`.
pub fn parse(file: &[u8]) -> Result<ElfInfo, ElfError> {
    if file.len() < 4 || &file[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    if file.len() < 64 {
        return Err(ElfError::Corrupt);
    }
    if file[4] != 2 || file[5] != 1 || file[6] != 1 {
        return Err(ElfError::WrongClass);
    }
    let e_type = u16_at(file, 16);
    if u16_at(file, 18) != EM_X86_64 {
        return Err(ElfError::WrongMachine);
    }
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(ElfError::WrongType);
    }
    let entry = u64_at(file, 24);
    let phoff = u64_at(file, 32);
    let phentsize = u16_at(file, 54);
    let phnum = u16_at(file, 56);
    if phentsize as u64 != PHDR_SIZE || phnum == 0 {
        return Err(ElfError::Corrupt);
    }
    let table_end = phoff
        .checked_add(u64::from(phnum) * PHDR_SIZE)
        .ok_or(ElfError::Corrupt)?;
    if table_end > file.len() as u64 {
        return Err(ElfError::Corrupt);
    }
    let mut phdrs = Vec::with_capacity(usize::from(phnum));
    let mut exec_stack = false;
    for i in 0..u64::from(phnum) {
        let o = (phoff + i * PHDR_SIZE) as usize;
        let ph = Phdr {
            p_type: u32_at(file, o),
            flags: u32_at(file, o + 4),
            offset: u64_at(file, o + 8),
            vaddr: u64_at(file, o + 16),
            filesz: u64_at(file, o + 32),
            memsz: u64_at(file, o + 40),
            align: u64_at(file, o + 48),
        };
        match ph.p_type {
            PT_INTERP => return Err(ElfError::Dynamic),
            PT_GNU_STACK => exec_stack = ph.flags & PF_X != 0,
            PT_LOAD => check_load(file, &ph)?,
            _ => {}
        }
        phdrs.push(ph);
    }
    if !phdrs.iter().any(|p| p.p_type == PT_LOAD) {
        return Err(ElfError::NoSegments);
    }
    Ok(ElfInfo {
        e_type,
        entry,
        phoff,
        phnum,
        phdrs,
        exec_stack,
    })
}

fn check_load(file: &[u8], ph: &Phdr) -> Result<(), ElfError> {
    let file_end = ph.offset.checked_add(ph.filesz).ok_or(ElfError::Corrupt)?;
    let mem_end = ph.vaddr.checked_add(ph.memsz).ok_or(ElfError::Corrupt)?;
    if file_end > file.len() as u64
        || ph.filesz > ph.memsz
        || mem_end > USER_END
        || ph.vaddr % PAGE_SIZE != ph.offset % PAGE_SIZE
    {
        return Err(ElfError::Corrupt);
    }
    Ok(())
}

impl ElfInfo {
    /// The PT_LOAD segments in file order.
    pub fn loads(&self) -> impl Iterator<Item = &Phdr> {
        self.phdrs.iter().filter(|p| p.p_type == PT_LOAD)
    }

    /// Lowest and highest (exclusive) virtual address of the PT_LOAD segments.
    pub fn span(&self) -> (u64, u64) {
        let lo = self.loads().map(|p| p.vaddr).min().unwrap_or(0);
        let hi = self.loads().map(|p| p.vaddr + p.memsz).max().unwrap_or(0);
        (lo & !(PAGE_SIZE - 1), hi)
    }

    /// Unrelocated address of the program headers in memory, as Linux computes AT_PHDR:
    /// PT_PHDR's address, else the PT_LOAD whose file range holds e_phoff.
    pub fn phdr_vaddr(&self) -> Option<u64> {
        if let Some(p) = self.phdrs.iter().find(|p| p.p_type == PT_PHDR) {
            return Some(p.vaddr);
        }
        self.loads()
            .find(|p| p.offset <= self.phoff && self.phoff < p.offset + p.filesz)
            .map(|p| self.phoff - p.offset + p.vaddr)
    }

    /// The PT_TLS segment, if any.
    pub fn tls(&self) -> Option<&Phdr> {
        self.phdrs.iter().find(|p| p.p_type == PT_TLS)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal ELF: header plus the given program headers (offsets as given).
    pub fn build(e_type: u16, entry: u64, phdrs: &[Phdr], size: usize) -> Vec<u8> {
        let mut f = vec![0u8; size.max(64 + phdrs.len() * 56)];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, p) in phdrs.iter().enumerate() {
            let o = 64 + i * 56;
            f[o..o + 4].copy_from_slice(&p.p_type.to_le_bytes());
            f[o + 4..o + 8].copy_from_slice(&p.flags.to_le_bytes());
            f[o + 8..o + 16].copy_from_slice(&p.offset.to_le_bytes());
            f[o + 16..o + 24].copy_from_slice(&p.vaddr.to_le_bytes());
            f[o + 24..o + 32].copy_from_slice(&p.vaddr.to_le_bytes());
            f[o + 32..o + 40].copy_from_slice(&p.filesz.to_le_bytes());
            f[o + 40..o + 48].copy_from_slice(&p.memsz.to_le_bytes());
            f[o + 48..o + 56].copy_from_slice(&p.align.to_le_bytes());
        }
        f
    }

    pub fn load(offset: u64, vaddr: u64, filesz: u64, memsz: u64, flags: u32) -> Phdr {
        Phdr {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
            align: 0x1000,
        }
    }

    #[test]
    fn parses_a_static_executable() {
        let f = build(
            ET_EXEC,
            0x40_1000,
            &[
                load(0, 0x40_0000, 0x200, 0x200, PF_R),
                load(0x1000, 0x40_1000, 0x100, 0x3000, PF_R | PF_W),
            ],
            0x1100,
        );
        let e = parse(&f).unwrap();
        assert_eq!(e.entry, 0x40_1000);
        assert_eq!(e.span(), (0x40_0000, 0x40_4000));
        assert_eq!(e.phdr_vaddr(), Some(0x40_0040));
        assert!(!e.exec_stack);
    }

    #[test]
    fn rejects_bad_files_with_the_right_reason() {
        let good = build(ET_EXEC, 0, &[load(0, 0x40_0000, 0x100, 0x100, PF_R)], 0x200);
        assert_eq!(parse(b"#!/bin/sh"), Err(ElfError::NotElf));
        assert_eq!(parse(&good[..40]), Err(ElfError::Corrupt));
        assert_eq!(parse(&good[..100]), Err(ElfError::Corrupt));
        let mut c = good.clone();
        c[4] = 1;
        assert_eq!(parse(&c), Err(ElfError::WrongClass));
        let mut c = good.clone();
        c[18] = 3;
        assert_eq!(parse(&c), Err(ElfError::WrongMachine));
        let mut c = good.clone();
        c[16] = 1;
        assert_eq!(parse(&c), Err(ElfError::WrongType));
        let interp = build(
            ET_DYN,
            0,
            &[
                Phdr {
                    p_type: PT_INTERP,
                    ..load(0, 0, 1, 1, 0)
                },
                load(0, 0, 0x100, 0x100, PF_R),
            ],
            0x200,
        );
        assert_eq!(parse(&interp), Err(ElfError::Dynamic));
        let past_end = build(
            ET_EXEC,
            0,
            &[load(0, 0x40_0000, 0x1000, 0x1000, PF_R)],
            0x200,
        );
        assert_eq!(parse(&past_end), Err(ElfError::Corrupt));
        let misaligned = build(
            ET_EXEC,
            0,
            &[load(0x10, 0x40_0000, 0x10, 0x10, PF_R)],
            0x200,
        );
        assert_eq!(parse(&misaligned), Err(ElfError::Corrupt));
        let kernel_addr = build(
            ET_EXEC,
            0,
            &[load(0, 0xffff_8000_0000_0000, 0x10, 0x10, PF_R)],
            0x200,
        );
        assert_eq!(parse(&kernel_addr), Err(ElfError::Corrupt));
        let none = build(
            ET_EXEC,
            0,
            &[Phdr {
                p_type: PT_TLS,
                ..load(0, 0, 0, 0, 0)
            }],
            0x200,
        );
        assert_eq!(parse(&none), Err(ElfError::NoSegments));
    }

    #[test]
    fn truncated_prefixes_never_panic() {
        let good = build(ET_EXEC, 0, &[load(0, 0x40_0000, 0x100, 0x100, PF_R)], 0x200);
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
    }
}
