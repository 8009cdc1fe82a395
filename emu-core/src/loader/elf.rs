//! A minimal ELF64 reader for the kernel image: the header checks and the
//! PT_LOAD segments the loader needs. Every offset is bounds-checked; a
//! malformed image is a `LoadError`, never a panic.

use super::LoadError;

/// A loadable segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Virtual address.
    pub vaddr: u64,
    /// Physical address (p_paddr).
    pub paddr: u64,
    /// Offset of the file bytes.
    pub offset: u64,
    /// Bytes in the file.
    pub filesz: u64,
    /// Bytes in memory (the rest is zero-filled).
    pub memsz: u64,
    /// p_flags (PF_X = 1, PF_W = 2, PF_R = 4).
    pub flags: u32,
}

/// The parts of an ELF64 image the loader uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elf {
    /// e_type (2 = ET_EXEC, 3 = ET_DYN).
    pub kind: u16,
    /// e_entry.
    pub entry: u64,
    /// The PT_LOAD segments in file order.
    pub segments: Vec<Segment>,
}

const PT_LOAD: u32 = 1;
const EM_X86_64: u16 = 62;

fn read<const N: usize>(data: &[u8], off: u64) -> Result<[u8; N], LoadError> {
    let start = usize::try_from(off).map_err(|_| LoadError::Truncated)?;
    let bytes = data
        .get(start..start.checked_add(N).ok_or(LoadError::Truncated)?)
        .ok_or(LoadError::Truncated)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

fn u16_at(d: &[u8], off: u64) -> Result<u16, LoadError> {
    read::<2>(d, off).map(u16::from_le_bytes)
}
fn u32_at(d: &[u8], off: u64) -> Result<u32, LoadError> {
    read::<4>(d, off).map(u32::from_le_bytes)
}
fn u64_at(d: &[u8], off: u64) -> Result<u64, LoadError> {
    read::<8>(d, off).map(u64::from_le_bytes)
}

/// Parses an ELF64 little-endian x86-64 image.
pub fn parse(data: &[u8]) -> Result<Elf, LoadError> {
    if data.get(0..4) != Some(b"\x7fELF") {
        return Err(LoadError::NotElf);
    }
    if read::<1>(data, 4)?[0] != 2 {
        return Err(LoadError::Not64Bit);
    }
    if read::<1>(data, 5)?[0] != 1 || u16_at(data, 18)? != EM_X86_64 {
        return Err(LoadError::WrongMachine);
    }
    let kind = u16_at(data, 16)?;
    let entry = u64_at(data, 24)?;
    let phoff = u64_at(data, 32)?;
    let phentsize = u64::from(u16_at(data, 54)?);
    let phnum = u64::from(u16_at(data, 56)?);
    if phentsize < 56 {
        return Err(LoadError::Truncated);
    }
    let mut segments = Vec::new();
    for i in 0..phnum {
        let ph = phoff
            .checked_add(i.checked_mul(phentsize).ok_or(LoadError::Truncated)?)
            .ok_or(LoadError::Truncated)?;
        if u32_at(data, ph)? != PT_LOAD {
            continue;
        }
        let seg = Segment {
            flags: u32_at(data, ph + 4)?,
            offset: u64_at(data, ph + 8)?,
            vaddr: u64_at(data, ph + 16)?,
            paddr: u64_at(data, ph + 24)?,
            filesz: u64_at(data, ph + 32)?,
            memsz: u64_at(data, ph + 40)?,
        };
        let end = seg
            .offset
            .checked_add(seg.filesz)
            .ok_or(LoadError::Truncated)?;
        if end > data.len() as u64 || seg.filesz > seg.memsz {
            return Err(LoadError::BadSegment { vaddr: seg.vaddr });
        }
        segments.push(seg);
    }
    if segments.is_empty() {
        return Err(LoadError::NoSegments);
    }
    Ok(Elf {
        kind,
        entry,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_and_truncations_without_panicking() {
        assert_eq!(parse(b"hello"), Err(LoadError::NotElf));
        let mut hdr = vec![0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = 1;
        assert_eq!(parse(&hdr), Err(LoadError::Not64Bit));
        hdr[4] = 2;
        hdr[5] = 1;
        hdr[18] = 3;
        assert_eq!(parse(&hdr), Err(LoadError::WrongMachine));
        hdr[18] = 62;
        hdr[54] = 56;
        hdr[56] = 1;
        hdr[32] = 0xf0; // program headers beyond the end
        assert_eq!(parse(&hdr), Err(LoadError::Truncated));
        for len in 0..hdr.len() {
            let _ = parse(&hdr[..len]);
        }
    }
}
