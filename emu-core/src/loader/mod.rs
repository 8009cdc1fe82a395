//! Loading the kernel: the ELF image at its physical addresses, the boot page
//! tables (identity map of RAM with 1 GiB pages, plus the kernel's higher-half
//! window), the `BootInfo` block with the first program's argv/envp and the
//! initramfs, and the initial CPU state (64-bit mode, CPL 0, IF = 0,
//! RDI = BootInfo). See `shared/docs/ARCHITECTURE.md`, "Boot".

pub mod elf;

use emu_abi::boot::{BootInfo, PhysRange};
use emu_abi::layout::KERNEL_VIRT_OFFSET;

use crate::memory::GuestRam;

/// Why a kernel image or boot configuration cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// No ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// ELFCLASS32.
    #[error("not a 64-bit ELF file")]
    Not64Bit,
    /// Not little-endian x86-64.
    #[error("not an x86-64 ELF file")]
    WrongMachine,
    /// Headers point outside the file.
    #[error("truncated or corrupt ELF headers")]
    Truncated,
    /// A segment's file range or sizes are inconsistent.
    #[error("corrupt segment at {vaddr:#x}")]
    BadSegment {
        /// The segment's virtual address.
        vaddr: u64,
    },
    /// No PT_LOAD segment.
    #[error("no loadable segments")]
    NoSegments,
    /// The kernel is not linked in the higher-half window.
    #[error("kernel segment at {vaddr:#x} is outside the kernel window")]
    NotHigherHalf {
        /// The offending virtual address.
        vaddr: u64,
    },
    /// Everything does not fit in guest RAM.
    #[error("guest RAM ({ram_size} bytes) is too small for the kernel and its boot data")]
    RamTooSmall {
        /// RAM size.
        ram_size: u64,
    },
}

/// What the loader placed, for `Machine`.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    /// Kernel entry (virtual).
    pub entry: u64,
    /// Physical address of the PML4.
    pub cr3: u64,
    /// Physical address of the BootInfo block.
    pub boot_info: u64,
}

/// Inputs of the boot.
#[derive(Debug, Clone, Default)]
pub struct BootParams<'a> {
    /// The kernel ELF image.
    pub kernel: &'a [u8],
    /// The initramfs (cpio newc).
    pub initramfs: &'a [u8],
    /// argv of the first program.
    pub argv: &'a [Vec<u8>],
    /// envp of the first program.
    pub envp: &'a [Vec<u8>],
    /// Template for the boot info (seed, epoch, modes); ranges are filled in.
    pub info: BootInfo,
}

const PAGE: u64 = 4096;
const GIB: u64 = 1 << 30;

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

struct Placer<'r> {
    ram: &'r mut GuestRam,
    next: u64,
}

impl Placer<'_> {
    fn place(&mut self, bytes: &[u8], align: u64) -> Result<PhysRange, LoadError> {
        let ram_size = self.ram.size();
        let at = align_up(self.next, align);
        let len = bytes.len() as u64;
        let dst = self
            .ram
            .slice_mut(at, bytes.len())
            .ok_or(LoadError::RamTooSmall { ram_size })?;
        dst.copy_from_slice(bytes);
        self.next = at + len;
        Ok(PhysRange { phys: at, len })
    }

    fn zeroed_page(&mut self) -> Result<u64, LoadError> {
        Ok(self.place(&[0u8; PAGE as usize], PAGE)?.phys)
    }
}

fn strings_blob(list: &[Vec<u8>]) -> Vec<u8> {
    let mut blob = Vec::new();
    for s in list {
        blob.extend(s.iter().copied().filter(|&b| b != 0));
        blob.push(0);
    }
    blob
}

/// Loads everything into `ram`.
pub fn load(ram: &mut GuestRam, params: &BootParams<'_>) -> Result<Loaded, LoadError> {
    let ram_size = ram.size();
    let elf = elf::parse(params.kernel)?;
    let mut end = 0u64;
    for seg in &elf.segments {
        if seg.vaddr < KERNEL_VIRT_OFFSET || seg.memsz > GIB {
            return Err(LoadError::NotHigherHalf { vaddr: seg.vaddr });
        }
        let phys = seg.vaddr - KERNEL_VIRT_OFFSET;
        let mem = usize::try_from(seg.memsz).map_err(|_| LoadError::RamTooSmall { ram_size })?;
        let dst = ram
            .slice_mut(phys, mem)
            .ok_or(LoadError::RamTooSmall { ram_size })?;
        dst.fill(0);
        // parse() checked offset + filesz <= file length and filesz <= memsz.
        let file = &params.kernel[seg.offset as usize..(seg.offset + seg.filesz) as usize];
        dst[..file.len()].copy_from_slice(file);
        end = end.max(phys + seg.memsz);
    }
    let mut placer = Placer {
        ram,
        next: align_up(end, PAGE),
    };

    // Boot page tables: PML4[0] -> identity map of RAM with 1 GiB pages;
    // PML4[511] -> PDPT[510] = physical 0 (the kernel's higher-half window).
    const P_RW: u64 = 0b11;
    const PS: u64 = 1 << 7;
    let pml4 = placer.zeroed_page()?;
    let low = placer.zeroed_page()?;
    let high = placer.zeroed_page()?;
    let identity_end = align_up(ram_size, GIB).min(512 * GIB);
    for i in 0..identity_end / GIB {
        placer.ram.write_u64(low + i * 8, (i * GIB) | P_RW | PS);
    }
    placer.ram.write_u64(high + 510 * 8, P_RW | PS);
    placer.ram.write_u64(pml4, low | P_RW);
    placer.ram.write_u64(pml4 + 511 * 8, high | P_RW);

    let mut info = params.info;
    info.ram_size = ram_size;
    info.identity_map_end = identity_end;
    let boot_info = placer
        .place(&[0u8; std::mem::size_of::<BootInfo>()], PAGE)?
        .phys;
    info.argv = placer.place(&strings_blob(params.argv), 8)?;
    info.argc = params.argv.len() as u64;
    info.envp = placer.place(&strings_blob(params.envp), 8)?;
    info.envc = params.envp.len() as u64;
    info.initramfs = placer.place(params.initramfs, PAGE)?;
    info.reserved = PhysRange {
        phys: 0,
        len: align_up(placer.next, PAGE),
    };
    if info.reserved.len > ram_size {
        return Err(LoadError::RamTooSmall { ram_size });
    }
    let bytes = boot_info_bytes(&info);
    placer
        .ram
        .slice_mut(boot_info, bytes.len())
        .ok_or(LoadError::RamTooSmall { ram_size })?
        .copy_from_slice(&bytes);
    Ok(Loaded {
        entry: elf.entry,
        cr3: pml4,
        boot_info,
    })
}

/// Serializes a `BootInfo` field by field (little-endian, `repr(C)` layout
/// pinned by emu-abi's layout tests).
fn boot_info_bytes(i: &BootInfo) -> Vec<u8> {
    let mut b = Vec::with_capacity(std::mem::size_of::<BootInfo>());
    b.extend_from_slice(&i.magic.to_le_bytes());
    b.extend_from_slice(&i.abi_version.to_le_bytes());
    b.extend_from_slice(&i.vsyscall_mode.to_le_bytes());
    b.extend_from_slice(&i.ram_size.to_le_bytes());
    b.extend_from_slice(&i.reserved.phys.to_le_bytes());
    b.extend_from_slice(&i.reserved.len.to_le_bytes());
    b.extend_from_slice(&i.identity_map_end.to_le_bytes());
    for r in [i.initramfs, i.argv] {
        b.extend_from_slice(&r.phys.to_le_bytes());
        b.extend_from_slice(&r.len.to_le_bytes());
    }
    b.extend_from_slice(&i.argc.to_le_bytes());
    b.extend_from_slice(&i.envp.phys.to_le_bytes());
    b.extend_from_slice(&i.envp.len.to_le_bytes());
    b.extend_from_slice(&i.envc.to_le_bytes());
    b.extend_from_slice(&i.seed.to_le_bytes());
    b.extend_from_slice(&i.epoch_secs.to_le_bytes());
    b.extend_from_slice(&i.epoch_nsec.to_le_bytes());
    b.extend_from_slice(&i.tsc_hz.to_le_bytes());
    b.extend_from_slice(&i.aslr.to_le_bytes());
    b.extend_from_slice(&i.log_level.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_info_serialization_matches_the_pinned_layout() {
        let mut info = BootInfo::new();
        info.seed = 0x1122_3344_5566_7788;
        info.tsc_hz = 7;
        info.log_level = 9;
        let b = boot_info_bytes(&info);
        assert_eq!(b.len(), std::mem::size_of::<BootInfo>());
        assert_eq!(&b[112..120], &info.seed.to_le_bytes());
        assert_eq!(&b[136..144], &7u64.to_le_bytes());
        assert_eq!(&b[148..152], &9u32.to_le_bytes());
    }
}
