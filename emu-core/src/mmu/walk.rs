//! The 4-level page walk (SDM Vol. 3A, 4.5 and 4.6): entry decoding, reserved
//! bit checks, combined permissions, A/D bit updates, #PF error codes.

use super::{cr0, cr4, efer, pf, Access, Mmu, Privilege, MAX_PHYS_BITS};
use crate::cpu::exception::Exception;
use crate::memory::GuestRam;

/// Paging-structure entry bits.
pub mod pte {
    /// Present.
    pub const P: u64 = 1 << 0;
    /// Read/write.
    pub const RW: u64 = 1 << 1;
    /// User/supervisor.
    pub const US: u64 = 1 << 2;
    /// Accessed.
    pub const A: u64 = 1 << 5;
    /// Dirty (leaf only).
    pub const D: u64 = 1 << 6;
    /// Page size (PDPTE: 1 GiB, PDE: 2 MiB).
    pub const PS: u64 = 1 << 7;
    /// Global (leaf only).
    pub const G: u64 = 1 << 8;
    /// Execute disable.
    pub const NX: u64 = 1 << 63;
    /// Physical address bits 51:12.
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
}

/// A successful walk.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    /// Physical base of the page.
    base: u64,
    /// Page size in bytes (4 KiB, 2 MiB or 1 GiB).
    size: u64,
    /// Physical addresses of the entries used, root first.
    entries: [u64; 4],
    /// Number of valid `entries`.
    levels: usize,
    /// The leaf is global and CR4.PGE is set.
    pub global: bool,
    /// The leaf maps a 2 MiB or 1 GiB page.
    pub large: bool,
}

impl Walk {
    /// The physical address of `vaddr`.
    pub fn phys(&self, vaddr: u64) -> u64 {
        self.base + (vaddr & (self.size - 1))
    }
    /// The physical address of the 4 KiB frame holding `vaddr`.
    pub fn frame_of(&self, vaddr: u64) -> u64 {
        self.phys(vaddr) & !0xfff
    }
}

/// Whether `vaddr` is canonical for 48-bit linear addresses.
#[inline]
pub fn is_canonical(vaddr: u64) -> bool {
    ((vaddr as i64) << 16 >> 16) as u64 == vaddr
}

fn reserved_mask(level: usize, entry: u64, nxe: bool) -> u64 {
    let high = 0x000f_ffff_ffff_f000 & !((1u64 << MAX_PHYS_BITS) - 1);
    let mut mask = high;
    if !nxe {
        mask |= pte::NX;
    }
    match level {
        // PML4E: PS is reserved.
        0 => mask |= pte::PS,
        // PDPTE with PS: bits 29:13 are reserved (bit 12 is PAT).
        1 if entry & pte::PS != 0 => mask |= 0x3fff_e000,
        // PDE with PS: bits 20:13 are reserved.
        2 if entry & pte::PS != 0 => mask |= 0x001f_e000,
        _ => {}
    }
    mask
}

/// Walks without side effects. On failure returns the #PF error code.
fn walk_entries(
    mmu: &Mmu,
    ram: &GuestRam,
    vaddr: u64,
    access: Access,
    privilege: Privilege,
) -> Result<Walk, Exception> {
    if !is_canonical(vaddr) {
        return Err(Exception::GeneralProtection(0));
    }
    let nxe = mmu.efer & efer::NXE != 0;
    let user = privilege == Privilege::User;
    let fetch = access == Access::Execute;
    let mut code = 0u32;
    if access == Access::Write {
        code |= pf::WRITE;
    }
    if user {
        code |= pf::USER;
    }
    if fetch && (nxe || mmu.cr4 & cr4::SMEP != 0) {
        code |= pf::INSTR;
    }
    let fault = |code: u32| Exception::PageFault {
        addr: vaddr,
        error_code: code,
    };

    let mut table = mmu.cr3 & pte::ADDR & ((1u64 << MAX_PHYS_BITS) - 1);
    let mut entries = [0u64; 4];
    let (mut all_user, mut all_write, mut any_nx) = (true, true, false);
    for level in 0..4 {
        let shift = 39 - 9 * level as u64;
        let index = (vaddr >> shift) & 0x1ff;
        let entry_addr = table + index * 8;
        // An entry outside RAM reads as not present.
        let entry = ram.read_u64(entry_addr).unwrap_or(0);
        entries[level] = entry_addr;
        if entry & pte::P == 0 {
            return Err(fault(code));
        }
        if entry & reserved_mask(level, entry, nxe) != 0 {
            return Err(fault(code | pf::PRESENT | pf::RSVD));
        }
        all_user &= entry & pte::US != 0;
        all_write &= entry & pte::RW != 0;
        any_nx |= nxe && entry & pte::NX != 0;
        let leaf = level == 3 || (level >= 1 && entry & pte::PS != 0);
        if !leaf {
            table = entry & pte::ADDR;
            continue;
        }
        let size = 1u64 << shift;
        let denied = match (user, access) {
            (true, Access::Read) => !all_user,
            (true, Access::Write) => !all_user || !all_write,
            (true, Access::Execute) => !all_user || any_nx,
            (false, Access::Execute) => any_nx || (all_user && mmu.cr4 & cr4::SMEP != 0),
            (false, data) => {
                let smap = all_user && mmu.cr4 & cr4::SMAP != 0 && !mmu.ac;
                let wp = data == Access::Write && !all_write && mmu.cr0 & cr0::WP != 0;
                smap || wp
            }
        };
        if denied {
            return Err(fault(code | pf::PRESENT));
        }
        return Ok(Walk {
            base: entry & pte::ADDR & !(size - 1),
            size,
            entries,
            levels: level + 1,
            global: entry & pte::G != 0 && mmu.cr4 & cr4::PGE != 0,
            large: size > 4096,
        });
    }
    unreachable!("the loop returns at level 3 at the latest")
}

/// Walks for an access that is about to happen: sets the A bits of the
/// entries used and the D bit of the leaf on writes.
pub fn walk(
    mmu: &Mmu,
    ram: &mut GuestRam,
    vaddr: u64,
    access: Access,
    privilege: Privilege,
) -> Result<Walk, Exception> {
    let w = walk_entries(mmu, ram, vaddr, access, privilege)?;
    for (i, &addr) in w.entries[..w.levels].iter().enumerate() {
        let Some(entry) = ram.read_u64(addr) else {
            continue;
        };
        let mut updated = entry | pte::A;
        if i + 1 == w.levels && access == Access::Write {
            updated |= pte::D;
        }
        if updated != entry {
            ram.write_u64(addr, updated);
        }
    }
    Ok(w)
}

/// Translates without side effects (debugger and trace reads).
pub fn probe(
    mmu: &Mmu,
    ram: &GuestRam,
    vaddr: u64,
    access: Access,
    privilege: Privilege,
) -> Option<u64> {
    walk_entries(mmu, ram, vaddr, access, privilege)
        .ok()
        .map(|w| w.phys(vaddr))
}
