//! The software TLB: direct-mapped, one array per (access kind, privilege),
//! each entry caching the physical frame of one 4 KiB virtual page.
//!
//! An entry exists only if the walk that filled it allowed that access at that
//! privilege (and set the A/D bits it implies), so a hit needs no permission
//! check. Large pages are cached as their 4 KiB pieces; because `invlpg` must
//! then drop every piece, the TLB remembers whether any large-page entry was
//! filled and flushes everything on `invlpg` in that case.

/// Number of entries per array (a power of two).
pub const TLB_ENTRIES: usize = 1024;
const INVALID_TAG: u64 = u64::MAX;

/// One cached translation.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Virtual page number, or `INVALID_TAG`.
    tag: u64,
    /// Physical address of the frame.
    frame: u64,
    /// Filled from a global (G=1, CR4.PGE=1) mapping: survives CR3 writes.
    global: bool,
}

const EMPTY: Entry = Entry {
    tag: INVALID_TAG,
    frame: 0,
    global: false,
};

/// The TLB. `slot` selects the array: `access as usize * 2 + user as usize`.
#[derive(Debug)]
pub struct Tlb {
    sets: Box<[[Entry; TLB_ENTRIES]; 6]>,
    has_large: bool,
    /// Incremented by every flush: cached facts derived from translations
    /// (block links in the decode cache) are valid only within one generation.
    pub generation: u64,
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    /// An empty TLB.
    pub fn new() -> Self {
        Self {
            sets: Box::new([[EMPTY; TLB_ENTRIES]; 6]),
            has_large: false,
            generation: 0,
        }
    }

    /// Looks up `vaddr` in array `slot`; returns the physical address.
    #[inline(always)]
    pub fn lookup(&self, slot: usize, vaddr: u64) -> Option<u64> {
        let vpn = vaddr >> 12;
        let e = &self.sets[slot][(vpn as usize) & (TLB_ENTRIES - 1)];
        if e.tag == vpn {
            Some(e.frame | (vaddr & 0xfff))
        } else {
            None
        }
    }

    /// Caches the translation of the page holding `vaddr` to `frame`.
    pub fn insert(&mut self, slot: usize, vaddr: u64, frame: u64, global: bool, large: bool) {
        let vpn = vaddr >> 12;
        self.sets[slot][(vpn as usize) & (TLB_ENTRIES - 1)] = Entry {
            tag: vpn,
            frame: frame & !0xfff,
            global,
        };
        self.has_large |= large;
    }

    /// Drops every entry (CR4.PGE change, paging mode change).
    pub fn flush_all(&mut self) {
        self.generation += 1;
        for set in self.sets.iter_mut() {
            set.fill(EMPTY);
        }
        self.has_large = false;
    }

    /// Drops non-global entries (a CR3 write).
    pub fn flush_non_global(&mut self) {
        self.generation += 1;
        for set in self.sets.iter_mut() {
            for e in set.iter_mut().filter(|e| !e.global) {
                *e = EMPTY;
            }
        }
    }

    /// Drops the entries of the page holding `vaddr`, global or not (`invlpg`).
    pub fn flush_page(&mut self, vaddr: u64) {
        if self.has_large {
            self.flush_all();
            return;
        }
        self.generation += 1;
        let vpn = vaddr >> 12;
        for set in self.sets.iter_mut() {
            let e = &mut set[(vpn as usize) & (TLB_ENTRIES - 1)];
            if e.tag == vpn {
                *e = EMPTY;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_after_insert_and_miss_after_page_flush() {
        let mut tlb = Tlb::new();
        tlb.insert(1, 0x7000_1234, 0x5000, false, false);
        assert_eq!(tlb.lookup(1, 0x7000_1abc), Some(0x5abc));
        assert_eq!(tlb.lookup(0, 0x7000_1abc), None);
        tlb.flush_page(0x7000_1000);
        assert_eq!(tlb.lookup(1, 0x7000_1abc), None);
    }

    #[test]
    fn cr3_flush_keeps_global_entries() {
        let mut tlb = Tlb::new();
        tlb.insert(0, 0x1000, 0x9000, true, false);
        tlb.insert(0, 0x2000, 0xa000, false, false);
        tlb.flush_non_global();
        assert_eq!(tlb.lookup(0, 0x1000), Some(0x9000));
        assert_eq!(tlb.lookup(0, 0x2000), None);
    }

    #[test]
    fn invlpg_with_large_pages_flushes_everything() {
        let mut tlb = Tlb::new();
        tlb.insert(0, 0x20_0000, 0x40_0000, false, true);
        tlb.insert(0, 0x9000, 0x9000, false, false);
        tlb.flush_page(0x20_0000);
        assert_eq!(tlb.lookup(0, 0x9000), None);
    }
}
