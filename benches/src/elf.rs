//! A minimal ELF64 reader: the entry point and the `PT_LOAD` segments of a
//! little-endian x86-64 executable, which is all the bench loader needs.
//!
//! Layouts follow the System V ABI (gABI "ELF Header" and "Program Header")
//! and its x86-64 supplement. Every offset and size is bounds-checked: a
//! malformed image is an [`ElfError`], never a panic.

use thiserror::Error;

/// `e_ident[EI_MAG0..=EI_MAG3]`.
const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
/// `e_ident[EI_CLASS]` value for 64-bit objects.
const ELFCLASS64: u8 = 2;
/// `e_ident[EI_DATA]` value for little-endian objects.
const ELFDATA2LSB: u8 = 1;
/// `e_type` of an executable file.
const ET_EXEC: u16 = 2;
/// `e_machine` of AMD x86-64.
const EM_X86_64: u16 = 62;
/// Size of the ELF64 file header.
const EHDR_SIZE: usize = 64;
/// Size of one ELF64 program header.
const PHDR_SIZE: usize = 56;
/// `p_type` of a loadable segment.
const PT_LOAD: u32 = 1;
/// `p_flags` bit: executable.
pub const PF_X: u32 = 0b001;
/// `p_flags` bit: writable.
pub const PF_W: u32 = 0b010;
/// `p_flags` bit: readable.
pub const PF_R: u32 = 0b100;

/// Why an image is not a loadable x86-64 ELF64 executable.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ElfError {
    /// The image is shorter than a structure it must contain.
    #[error("image truncated: {what} needs bytes {start}..{end}, image has {len}")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// First byte of the structure.
        start: u64,
        /// One past its last byte.
        end: u64,
        /// Length of the image.
        len: usize,
    },
    /// `e_ident` does not describe a little-endian ELF64 object.
    #[error("not a little-endian ELF64 image (ident {ident:02x?})")]
    BadIdent {
        /// The first eight bytes of `e_ident`.
        ident: [u8; 8],
    },
    /// Not an x86-64 executable.
    #[error("not an x86-64 executable: e_type {e_type}, e_machine {e_machine}")]
    NotX86_64Exec {
        /// `e_type` found.
        e_type: u16,
        /// `e_machine` found.
        e_machine: u16,
    },
    /// `e_phentsize` is not the ELF64 program header size.
    #[error("program header size {0}, expected 56")]
    BadPhentsize(u16),
    /// A segment's file size exceeds its memory size, or its range overflows.
    #[error("segment at {vaddr:#x}: file size {filesz:#x}, memory size {memsz:#x}")]
    BadSegment {
        /// `p_vaddr`.
        vaddr: u64,
        /// `p_filesz`.
        filesz: u64,
        /// `p_memsz`.
        memsz: u64,
    },
}

/// One `PT_LOAD` segment, borrowing its file bytes from the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Virtual address of the first byte (`p_vaddr`).
    pub vaddr: u64,
    /// Size in memory (`p_memsz`); bytes past `data.len()` are zero.
    pub mem_size: u64,
    /// The initialised bytes (`p_filesz` bytes from `p_offset`).
    pub data: &'a [u8],
    /// Permission bits, [`PF_R`] | [`PF_W`] | [`PF_X`].
    pub flags: u32,
}

/// A parsed executable: entry point and loadable segments in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfImage<'a> {
    /// `e_entry`.
    pub entry: u64,
    /// The `PT_LOAD` segments.
    pub segments: Vec<Segment<'a>>,
}

impl<'a> ElfImage<'a> {
    /// Parses the header and program headers of `image`.
    pub fn parse(image: &'a [u8]) -> Result<Self, ElfError> {
        let ehdr = slice(image, 0, EHDR_SIZE as u64, "ELF header")?;
        let mut ident = [0u8; 8];
        ident.copy_from_slice(&ehdr[..8]);
        if ident[..4] != ELF_MAGIC || ident[4] != ELFCLASS64 || ident[5] != ELFDATA2LSB {
            return Err(ElfError::BadIdent { ident });
        }
        let e_type = u16_at(ehdr, 16);
        let e_machine = u16_at(ehdr, 18);
        if e_type != ET_EXEC || e_machine != EM_X86_64 {
            return Err(ElfError::NotX86_64Exec { e_type, e_machine });
        }
        let entry = u64_at(ehdr, 24);
        let phoff = u64_at(ehdr, 32);
        let phentsize = u16_at(ehdr, 54);
        let phnum = u16_at(ehdr, 56);
        if usize::from(phentsize) != PHDR_SIZE {
            return Err(ElfError::BadPhentsize(phentsize));
        }
        let table = slice(
            image,
            phoff,
            PHDR_SIZE as u64 * u64::from(phnum),
            "program headers",
        )?;
        let mut segments = Vec::new();
        for phdr in table.chunks_exact(PHDR_SIZE) {
            if u32_at(phdr, 0) != PT_LOAD {
                continue;
            }
            let flags = u32_at(phdr, 4);
            let offset = u64_at(phdr, 8);
            let vaddr = u64_at(phdr, 16);
            let filesz = u64_at(phdr, 32);
            let memsz = u64_at(phdr, 40);
            if filesz > memsz || vaddr.checked_add(memsz).is_none() {
                return Err(ElfError::BadSegment {
                    vaddr,
                    filesz,
                    memsz,
                });
            }
            let data = slice(image, offset, filesz, "segment data")?;
            segments.push(Segment {
                vaddr,
                mem_size: memsz,
                data,
                flags,
            });
        }
        Ok(Self { entry, segments })
    }
}

/// `image[start..start + len]`, or [`ElfError::Truncated`].
fn slice<'a>(
    image: &'a [u8],
    start: u64,
    len: u64,
    what: &'static str,
) -> Result<&'a [u8], ElfError> {
    let truncated = || ElfError::Truncated {
        what,
        start,
        end: start.saturating_add(len),
        len: image.len(),
    };
    let end = start.checked_add(len).ok_or_else(truncated)?;
    let start_idx = usize::try_from(start).map_err(|_| truncated())?;
    let end_idx = usize::try_from(end).map_err(|_| truncated())?;
    image.get(start_idx..end_idx).ok_or_else(truncated)
}

/// Little-endian `u16` at `off`; callers pass offsets inside a checked slice.
fn u16_at(bytes: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([bytes[off], bytes[off + 1]])
}

/// Little-endian `u32` at `off`; callers pass offsets inside a checked slice.
fn u32_at(bytes: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[off..off + 4]);
    u32::from_le_bytes(b)
}

/// Little-endian `u64` at `off`; callers pass offsets inside a checked slice.
fn u64_at(bytes: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[off..off + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-byte header followed by one 56-byte PT_LOAD header and 4 code bytes.
    fn tiny_exec() -> Vec<u8> {
        let mut img = vec![0u8; EHDR_SIZE + PHDR_SIZE + 4];
        img[..4].copy_from_slice(&ELF_MAGIC);
        img[4] = ELFCLASS64;
        img[5] = ELFDATA2LSB;
        img[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        img[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        img[24..32].copy_from_slice(&0x40_0000u64.to_le_bytes());
        img[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes());
        img[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        img[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = EHDR_SIZE;
        img[ph..ph + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        img[ph + 4..ph + 8].copy_from_slice(&(PF_R | PF_X).to_le_bytes());
        img[ph + 8..ph + 16].copy_from_slice(&((EHDR_SIZE + PHDR_SIZE) as u64).to_le_bytes());
        img[ph + 16..ph + 24].copy_from_slice(&0x40_0000u64.to_le_bytes());
        img[ph + 32..ph + 40].copy_from_slice(&4u64.to_le_bytes());
        img[ph + 40..ph + 48].copy_from_slice(&0x1000u64.to_le_bytes());
        img[EHDR_SIZE + PHDR_SIZE..].copy_from_slice(&[0x90, 0x90, 0xc3, 0xcc]);
        img
    }

    #[test]
    fn parse_tiny_exec_yields_entry_and_segment() {
        let img = tiny_exec();

        let elf = ElfImage::parse(&img);

        let expected = ElfImage {
            entry: 0x40_0000,
            segments: vec![Segment {
                vaddr: 0x40_0000,
                mem_size: 0x1000,
                data: &[0x90, 0x90, 0xc3, 0xcc],
                flags: PF_R | PF_X,
            }],
        };
        assert_eq!(elf, Ok(expected));
    }

    #[test]
    fn parse_truncated_segment_is_an_error() {
        let mut img = tiny_exec();
        img.truncate(img.len() - 1);

        let elf = ElfImage::parse(&img);

        assert!(matches!(
            elf,
            Err(ElfError::Truncated {
                what: "segment data",
                ..
            })
        ));
    }

    #[test]
    fn parse_bad_magic_is_an_error() {
        let mut img = tiny_exec();
        img[1] = b'X';

        let elf = ElfImage::parse(&img);

        assert!(matches!(elf, Err(ElfError::BadIdent { .. })));
    }

    #[test]
    fn parse_filesz_above_memsz_is_an_error() {
        let mut img = tiny_exec();
        img[EHDR_SIZE + 40..EHDR_SIZE + 48].copy_from_slice(&2u64.to_le_bytes());

        let elf = ElfImage::parse(&img);

        assert_eq!(
            elf,
            Err(ElfError::BadSegment {
                vaddr: 0x40_0000,
                filesz: 4,
                memsz: 2
            })
        );
    }
}
