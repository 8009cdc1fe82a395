//! x86-64 4-level page tables (Intel SDM Vol. 3A, 4.5): entry bits, map/unmap/translate
//! of 4 KiB pages, 2 MiB pages for the kernel's direct map, and teardown of a user half.
//!
//! Tables are reached through [`PhysMem`]; new tables come zeroed from its frame pool.
//! Intermediate entries in the user half (PML4 index < 256) carry P|W|U so that the
//! leaf alone decides the access; kernel-half intermediates carry P|W.

use super::{PhysMem, PAGE_SIZE};

/// Page-table entry bits (SDM Vol. 3A, Table 4-19/4-20).
pub mod pte {
    /// Present.
    pub const P: u64 = 1 << 0;
    /// Writable.
    pub const W: u64 = 1 << 1;
    /// User accessible.
    pub const U: u64 = 1 << 2;
    /// Accessed.
    pub const A: u64 = 1 << 5;
    /// Dirty.
    pub const D: u64 = 1 << 6;
    /// Page size (2 MiB in a PDE, 1 GiB in a PDPTE).
    pub const PS: u64 = 1 << 7;
    /// Global (CR4.PGE).
    pub const G: u64 = 1 << 8;
    /// Execute disable (EFER.NXE).
    pub const NX: u64 = 1 << 63;
    /// Physical address bits of an entry (bits 51:12).
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
    /// Software bit (ignored by the CPU when P = 0): a PROT_NONE page that keeps its
    /// frame; the entry is not present, so every access faults.
    pub const PROT_NONE: u64 = 1 << 9;
}

/// Why a mapping could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// No frame for a page table.
    OutOfMemory,
    /// A large page covers the address already.
    LargePageInTheWay,
}

/// Index of `va` in the table of `level` (4 = PML4 .. 1 = page table).
pub const fn index(va: u64, level: u32) -> u64 {
    (va >> (12 + 9 * (level - 1))) & 0x1ff
}

fn table_flags(va: u64) -> u64 {
    if va < 0x0000_8000_0000_0000 {
        pte::P | pte::W | pte::U
    } else {
        pte::P | pte::W
    }
}

/// The physical address of the entry for `va` in the table at `target` level,
/// creating missing intermediate tables.
fn entry_create(mem: &mut impl PhysMem, root: u64, va: u64, target: u32) -> Result<u64, MapError> {
    let mut table = root;
    let mut level = 4;
    while level > target {
        let e_pa = table + index(va, level) * 8;
        let e = mem.read_u64(e_pa);
        if e & pte::P == 0 {
            let new = mem.alloc_frame().ok_or(MapError::OutOfMemory)?;
            mem.write_u64(e_pa, new | table_flags(va));
            table = new;
        } else if e & pte::PS != 0 {
            return Err(MapError::LargePageInTheWay);
        } else {
            table = e & pte::ADDR;
        }
        level -= 1;
    }
    Ok(table + index(va, target) * 8)
}

/// The leaf entry mapping `va`: its physical address and level, if present.
fn leaf(mem: &mut impl PhysMem, root: u64, va: u64) -> Option<(u64, u32)> {
    let mut table = root;
    let mut level = 4;
    loop {
        let e_pa = table + index(va, level) * 8;
        let e = mem.read_u64(e_pa);
        if e & pte::P == 0 {
            return None;
        }
        if level == 1 || e & pte::PS != 0 {
            return Some((e_pa, level));
        }
        table = e & pte::ADDR;
        level -= 1;
    }
}

/// Makes sure the table at `level` covering `va` exists (3: the PDPT under the PML4
/// entry), so that address spaces copying the PML4 share everything below it.
pub fn ensure_table(
    mem: &mut impl PhysMem,
    root: u64,
    va: u64,
    level: u32,
) -> Result<(), MapError> {
    entry_create(mem, root, va, level).map(|_| ())
}

/// Maps the 4 KiB page at `va` to frame `pa` with `flags` (P is added).
pub fn map(
    mem: &mut impl PhysMem,
    root: u64,
    va: u64,
    pa: u64,
    flags: u64,
) -> Result<(), MapError> {
    let e = entry_create(mem, root, va, 1)?;
    mem.write_u64(e, (pa & pte::ADDR) | flags | pte::P);
    Ok(())
}

/// Maps the 2 MiB page at `va` (2 MiB aligned) to `pa` with `flags` (P and PS added).
pub fn map_2m(
    mem: &mut impl PhysMem,
    root: u64,
    va: u64,
    pa: u64,
    flags: u64,
) -> Result<(), MapError> {
    let e = entry_create(mem, root, va, 2)?;
    mem.write_u64(e, (pa & pte::ADDR) | flags | pte::P | pte::PS);
    Ok(())
}

/// Removes the 4 KiB mapping of `va`; returns the frame it mapped. Does not free the
/// frame or flush the TLB.
pub fn unmap(mem: &mut impl PhysMem, root: u64, va: u64) -> Option<u64> {
    let (e_pa, level) = leaf(mem, root, va)?;
    if level != 1 {
        return None;
    }
    let e = mem.read_u64(e_pa);
    mem.write_u64(e_pa, 0);
    Some(e & pte::ADDR)
}

/// The physical address `va` maps to and the leaf entry's flags.
pub fn translate(mem: &mut impl PhysMem, root: u64, va: u64) -> Option<(u64, u64)> {
    let (e_pa, level) = leaf(mem, root, va)?;
    let e = mem.read_u64(e_pa);
    let size = PAGE_SIZE << (9 * (level - 1));
    let base = e & pte::ADDR & !(size - 1);
    Some((base + (va & (size - 1)), e & !pte::ADDR))
}

/// Replaces the flags of the 4 KiB mapping of `va` (P is kept); false if unmapped.
pub fn set_flags(mem: &mut impl PhysMem, root: u64, va: u64, flags: u64) -> bool {
    match leaf(mem, root, va) {
        Some((e_pa, 1)) => {
            let e = mem.read_u64(e_pa);
            mem.write_u64(e_pa, (e & pte::ADDR) | flags | pte::P);
            true
        }
        _ => false,
    }
}

/// Calls `f(mem, va, entry_pa, entry)` for every populated 4 KiB leaf (present, or
/// PROT_NONE with a frame) in `[start, end)` of the user half, skipping absent subtrees.
pub fn for_each_leaf<M: PhysMem>(
    mem: &mut M,
    root: u64,
    start: u64,
    end: u64,
    f: &mut dyn FnMut(&mut M, u64, u64, u64),
) {
    walk(mem, root, 4, 0, start, end, f);
}

fn walk<M: PhysMem>(
    mem: &mut M,
    table: u64,
    level: u32,
    base: u64,
    start: u64,
    end: u64,
    f: &mut dyn FnMut(&mut M, u64, u64, u64),
) {
    let span = PAGE_SIZE << (9 * (level - 1));
    let first = if start > base {
        (start - base) / span
    } else {
        0
    };
    for i in first..512 {
        let va = base + i * span;
        if va >= end {
            break;
        }
        let e_pa = table + i * 8;
        let e = mem.read_u64(e_pa);
        if level == 1 {
            if e & (pte::P | pte::PROT_NONE) != 0 {
                f(mem, va, e_pa, e);
            }
        } else if e & pte::P != 0 && e & pte::PS == 0 {
            walk(mem, e & pte::ADDR, level - 1, va, start, end, f);
        }
    }
}

/// Frees every page table of the user half (PML4 entries 0..256) and, with
/// `free_leaves`, every 4 KiB frame they map; clears those PML4 entries.
pub fn free_user_half(mem: &mut impl PhysMem, root: u64, free_leaves: bool) {
    for i in 0..256 {
        let e_pa = root + i * 8;
        let e = mem.read_u64(e_pa);
        if e & pte::P != 0 {
            free_table(mem, e & pte::ADDR, 3, free_leaves);
            mem.write_u64(e_pa, 0);
        }
    }
}

fn free_table(mem: &mut impl PhysMem, table: u64, level: u32, free_leaves: bool) {
    for i in 0..512 {
        let e = mem.read_u64(table + i * 8);
        if level == 1 {
            if free_leaves && e & (pte::P | pte::PROT_NONE) != 0 {
                mem.free_frame(e & pte::ADDR);
            }
        } else if e & pte::P != 0 && e & pte::PS == 0 {
            free_table(mem, e & pte::ADDR, level - 1, free_leaves);
        }
    }
    mem.free_frame(table);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::fake::FakeRam;

    #[test]
    fn map_translate_unmap_round_trip_with_user_intermediates() {
        let mut ram = FakeRam::new(4);
        let root = ram.alloc_frame().unwrap();
        let frame = ram.alloc_frame().unwrap();

        map(&mut ram, root, 0x40_1000, frame, pte::W | pte::U | pte::NX).unwrap();

        assert_eq!(
            translate(&mut ram, root, 0x40_1234),
            Some((frame + 0x234, pte::P | pte::W | pte::U | pte::NX))
        );
        assert_eq!(translate(&mut ram, root, 0x40_2000), None);
        let pml4e = ram.read_u64(root);
        assert_eq!(pml4e & 0xfff, pte::P | pte::W | pte::U);
        assert!(set_flags(&mut ram, root, 0x40_1000, pte::U));
        assert_eq!(
            translate(&mut ram, root, 0x40_1000).unwrap().1,
            pte::P | pte::U
        );
        assert_eq!(unmap(&mut ram, root, 0x40_1000), Some(frame));
        assert_eq!(translate(&mut ram, root, 0x40_1000), None);
    }

    #[test]
    fn large_pages_translate_and_block_small_maps() {
        let mut ram = FakeRam::new(4);
        let root = ram.alloc_frame().unwrap();
        let va = 0xffff_8880_0000_0000;
        map_2m(&mut ram, root, va, 0x20_0000, pte::W | pte::NX).unwrap();
        assert_eq!(
            translate(&mut ram, root, va + 0x1_2345).map(|t| t.0),
            Some(0x21_2345)
        );
        assert_eq!(
            ram.read_u64(root + index(va, 4) * 8) & 0xfff,
            pte::P | pte::W
        );
        assert_eq!(
            map(&mut ram, root, va + 0x1000, 0, 0),
            Err(MapError::LargePageInTheWay)
        );
    }

    #[test]
    fn teardown_frees_tables_and_leaves() {
        let mut ram = FakeRam::new(4);
        let root = ram.alloc_frame().unwrap();
        let before = ram.allocated;
        for va in [0x40_0000u64, 0x7fff_0000_0000, 0x1234_5000] {
            let f = ram.alloc_frame().unwrap();
            map(&mut ram, root, va, f, pte::U).unwrap();
        }
        free_user_half(&mut ram, root, true);
        assert_eq!(ram.allocated, before);
        assert_eq!(ram.read_u64(root), 0);
    }

    #[test]
    fn leaf_walk_visits_only_populated_pages_in_range() {
        let mut ram = FakeRam::new(4);
        let root = ram.alloc_frame().unwrap();
        for va in [0x40_0000u64, 0x40_3000, 0x7fff_0000_0000] {
            map(&mut ram, root, va, 0x5000, pte::U).unwrap();
        }
        let mut seen = vec![];
        for_each_leaf(
            &mut ram,
            root,
            0x40_1000,
            0x7fff_0000_1000,
            &mut |_, va, _, _| seen.push(va),
        );
        assert_eq!(seen, [0x40_3000, 0x7fff_0000_0000]);
    }

    #[test]
    fn out_of_frames_is_an_error_not_a_panic() {
        let mut ram = FakeRam::new(2);
        let root = ram.alloc_frame().unwrap();
        while ram.alloc_frame().is_some() {}
        assert_eq!(
            map(&mut ram, root, 0x1000, 0, 0),
            Err(MapError::OutOfMemory)
        );
    }
}
