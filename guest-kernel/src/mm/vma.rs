//! Virtual memory areas: the per-process map of what each user address range is
//! (start, end, protection, backing, name), kept sorted, split on partial
//! munmap/mprotect and merged with identical neighbours as Linux does.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::fmt;

use super::PAGE_SIZE;

/// Gap Linux keeps below a stack that grows down (`stack_guard_gap`: 256 pages).
pub const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

/// Protection bits, with the values of `PROT_READ`, `PROT_WRITE`, `PROT_EXEC`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Prot(pub u8);

impl Prot {
    /// No access.
    pub const NONE: Prot = Prot(0);
    /// PROT_READ.
    pub const READ: Prot = Prot(1);
    /// PROT_WRITE.
    pub const WRITE: Prot = Prot(2);
    /// PROT_EXEC.
    pub const EXEC: Prot = Prot(4);
    /// Read and write.
    pub const RW: Prot = Prot(3);

    /// Whether every bit of `other` is set.
    pub const fn has(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }
    /// Any access at all.
    pub const fn accessible(self) -> bool {
        self.0 & 7 != 0
    }
}

/// The bytes behind a file mapping: initramfs data in place, or a copy.
#[derive(Clone)]
pub enum FileBytes {
    /// Data that lives as long as the kernel (the initramfs through the direct map).
    Static(&'static [u8]),
    /// A snapshot of a file written at run time.
    Shared(Rc<[u8]>),
}

impl FileBytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            FileBytes::Static(s) => s,
            FileBytes::Shared(s) => s,
        }
    }
    fn same(&self, other: &FileBytes) -> bool {
        core::ptr::eq(self.as_slice(), other.as_slice())
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileBytes({} bytes)", self.as_slice().len())
    }
}

/// What fills a page of the area when it is first touched.
#[derive(Clone, Debug)]
pub enum Backing {
    /// Zeroes.
    Anon,
    /// File bytes: the area's first byte is file offset `offset`; addresses at or above
    /// `zero_from` read as zero (the bss part of an ELF segment's last file page).
    File {
        /// The file's bytes.
        bytes: FileBytes,
        /// File offset of the area's start.
        offset: u64,
        /// First virtual address that is not file-backed.
        zero_from: u64,
        /// Inode number (for /proc/self/maps).
        inode: u64,
    },
}

/// The name /proc/self/maps shows for an area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmaName {
    /// Anonymous, unnamed.
    None,
    /// `[heap]`.
    Heap,
    /// `[stack]`.
    Stack,
    /// A file path.
    Path(Rc<str>),
}

/// One area `[start, end)`.
#[derive(Clone, Debug)]
pub struct Vma {
    /// First address (page aligned).
    pub start: u64,
    /// End address (page aligned, exclusive).
    pub end: u64,
    /// Protection.
    pub prot: Prot,
    /// MAP_SHARED.
    pub shared: bool,
    /// Grows down on faults below it (the stack).
    pub grows_down: bool,
    /// Page contents source.
    pub backing: Backing,
    /// Name.
    pub name: VmaName,
}

impl Vma {
    /// An anonymous private area.
    pub fn anon(start: u64, end: u64, prot: Prot, name: VmaName) -> Self {
        Vma {
            start,
            end,
            prot,
            shared: false,
            grows_down: false,
            backing: Backing::Anon,
            name,
        }
    }

    /// File offset shown in /proc/self/maps.
    pub fn file_offset(&self) -> u64 {
        match &self.backing {
            Backing::File { offset, .. } => *offset,
            Backing::Anon => 0,
        }
    }

    /// Splits at `at` (strictly inside): self keeps the low part, the high part returns.
    fn split(&mut self, at: u64) -> Vma {
        let mut high = self.clone();
        high.start = at;
        if let Backing::File { offset, .. } = &mut high.backing {
            *offset += at - self.start;
        }
        self.end = at;
        high
    }

    /// Whether `next` (starting at self.end) can be merged into self.
    fn mergeable(&self, next: &Vma) -> bool {
        if self.end != next.start
            || self.prot != next.prot
            || self.shared != next.shared
            || self.grows_down != next.grows_down
            || self.name != next.name
        {
            return false;
        }
        match (&self.backing, &next.backing) {
            (Backing::Anon, Backing::Anon) => true,
            (
                Backing::File {
                    bytes: a,
                    offset: oa,
                    zero_from: za,
                    ..
                },
                Backing::File {
                    bytes: b,
                    offset: ob,
                    zero_from: zb,
                    ..
                },
            ) => a.same(b) && oa + (self.end - self.start) == *ob && za == zb,
            _ => false,
        }
    }

    /// Lowest address this area claims, counting a stack's guard gap.
    fn start_gap(&self) -> u64 {
        if self.grows_down {
            self.start.saturating_sub(STACK_GUARD_GAP)
        } else {
            self.start
        }
    }
}

/// The sorted, non-overlapping areas of one address space.
#[derive(Clone, Debug, Default)]
pub struct VmaSet {
    map: BTreeMap<u64, Vma>,
}

impl VmaSet {
    /// An empty set.
    pub fn new() -> Self {
        VmaSet {
            map: BTreeMap::new(),
        }
    }

    /// The area containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Vma> {
        self.map
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// The first area that ends above `addr` (contains it or lies above it).
    pub fn find_above(&self, addr: u64) -> Option<&Vma> {
        if let Some(v) = self.find(addr) {
            return Some(v);
        }
        self.map.range(addr..).next().map(|(_, v)| v)
    }

    /// The last area that starts below `addr`.
    pub fn find_below(&self, addr: u64) -> Option<&Vma> {
        self.map.range(..addr).next_back().map(|(_, v)| v)
    }

    /// All areas in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.map.values()
    }

    /// Number of areas.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No areas at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether any area intersects `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.find_above(start).is_some_and(|v| v.start < end)
    }

    /// Whether areas cover every address of `[start, end)`.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        while at < end {
            match self.find(at) {
                Some(v) => at = v.end,
                None => return false,
            }
        }
        true
    }

    /// Adds an area that overlaps none, merging it with identical neighbours.
    pub fn insert(&mut self, vma: Vma) {
        debug_assert!(!self.overlaps(vma.start, vma.end));
        let start = vma.start;
        self.map.insert(start, vma);
        self.merge_around(start);
    }

    /// Splits the area containing `at` so that an area starts at `at`.
    fn split_at(&mut self, at: u64) {
        let key = match self.find(at) {
            Some(v) if v.start < at => v.start,
            _ => return,
        };
        if let Some(v) = self.map.get_mut(&key) {
            let high = v.split(at);
            self.map.insert(at, high);
        }
    }

    /// Removes `[start, end)` from the set, returning the removed pieces.
    pub fn remove(&mut self, start: u64, end: u64) -> Vec<Vma> {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|(k, _)| *k).collect();
        keys.into_iter()
            .filter_map(|k| self.map.remove(&k))
            .collect()
    }

    /// Sets the protection of `[start, end)`, which must be covered; returns the
    /// pieces' previous areas (for updating page tables).
    pub fn protect(&mut self, start: u64, end: u64, prot: Prot) -> Vec<(u64, u64)> {
        self.split_at(start);
        self.split_at(end);
        let mut changed = Vec::new();
        for (_, v) in self.map.range_mut(start..end) {
            v.prot = prot;
            changed.push((v.start, v.end));
        }
        let starts: Vec<u64> = changed.iter().map(|c| c.0).collect();
        for s in starts.into_iter().chain([end]) {
            self.merge_around(s);
        }
        changed
    }

    /// Changes the start of the area that starts at `old_start` (stack growth) or its
    /// end (brk); the caller checks that the new range is free.
    pub fn resize(&mut self, old_start: u64, new_start: u64, new_end: u64) {
        if let Some(mut v) = self.map.remove(&old_start) {
            if let Backing::File { offset, .. } = &mut v.backing {
                *offset = offset.wrapping_sub(old_start - new_start);
            }
            v.start = new_start;
            v.end = new_end;
            self.map.insert(new_start, v);
        }
    }

    /// Merges the area starting at `start` with its neighbours where identical.
    fn merge_around(&mut self, start: u64) {
        let mut start = start;
        if let Some(prev) = self.find_below(start) {
            let pk = prev.start;
            let can = self.map.get(&start).is_some_and(|cur| prev.mergeable(cur));
            if can {
                if let Some(cur) = self.map.remove(&start) {
                    if let Some(p) = self.map.get_mut(&pk) {
                        p.end = cur.end;
                    }
                }
                start = pk;
            }
        }
        let Some(end) = self.map.get(&start).map(|v| v.end) else {
            return;
        };
        let can = match (self.map.get(&start), self.map.get(&end)) {
            (Some(cur), Some(next)) => cur.mergeable(next),
            _ => false,
        };
        if can {
            if let Some(next) = self.map.remove(&end) {
                if let Some(cur) = self.map.get_mut(&start) {
                    cur.end = next.end;
                }
            }
        }
    }

    /// The highest `len`-byte free range inside `[low, high)`, honouring stack guard
    /// gaps (Linux's top-down `vm_unmapped_area`).
    pub fn find_gap_topdown(&self, len: u64, low: u64, high: u64) -> Option<u64> {
        if len == 0 || high < low || high - low < len {
            return None;
        }
        // Walk the areas from the top; the free range below each one ends at its
        // (guarded) start and begins at the previous area's end.
        let mut gap_end = high;
        let mut iter = self.map.range(..high).rev().peekable();
        // An area straddling `high` limits the top.
        if let Some((_, v)) = iter.peek() {
            if v.end > high {
                gap_end = v.start_gap().min(high);
                iter.next();
            }
        }
        loop {
            let below = iter.next().map(|(_, v)| v);
            let gap_start = below.map_or(low, |v| v.end.max(low));
            if gap_end >= gap_start && gap_end - gap_start >= len {
                return Some((gap_end - len) & !(PAGE_SIZE - 1));
            }
            match below {
                Some(v) => {
                    gap_end = v.start_gap();
                    if gap_end < low + len {
                        return None;
                    }
                }
                None => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(start: u64, end: u64, prot: Prot) -> Vma {
        Vma::anon(start, end, prot, VmaName::None)
    }

    fn ranges(set: &VmaSet) -> Vec<(u64, u64, u8)> {
        set.iter().map(|v| (v.start, v.end, v.prot.0)).collect()
    }

    #[test]
    fn adjacent_identical_areas_merge_and_different_ones_do_not() {
        let mut s = VmaSet::new();
        s.insert(anon(0x1000, 0x3000, Prot::RW));
        s.insert(anon(0x3000, 0x5000, Prot::RW));
        s.insert(anon(0x5000, 0x6000, Prot::READ));
        s.insert(anon(0x0, 0x1000, Prot::RW));
        assert_eq!(ranges(&s), [(0, 0x5000, 3), (0x5000, 0x6000, 1)]);
    }

    #[test]
    fn remove_splits_and_returns_the_pieces() {
        let mut s = VmaSet::new();
        s.insert(anon(0x1000, 0x9000, Prot::RW));
        let gone = s.remove(0x3000, 0x5000);
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].start, gone[0].end), (0x3000, 0x5000));
        assert_eq!(ranges(&s), [(0x1000, 0x3000, 3), (0x5000, 0x9000, 3)]);
        assert!(s.find(0x4000).is_none());
        assert!(!s.covers(0x2000, 0x6000));
        assert!(s.covers(0x5000, 0x9000));
    }

    #[test]
    fn protect_splits_then_remerges() {
        let mut s = VmaSet::new();
        s.insert(anon(0x1000, 0x9000, Prot::RW));
        s.protect(0x3000, 0x4000, Prot::READ);
        assert_eq!(
            ranges(&s),
            [
                (0x1000, 0x3000, 3),
                (0x3000, 0x4000, 1),
                (0x4000, 0x9000, 3)
            ]
        );
        s.protect(0x3000, 0x4000, Prot::RW);
        assert_eq!(ranges(&s), [(0x1000, 0x9000, 3)]);
    }

    #[test]
    fn file_areas_split_with_the_right_offsets() {
        let bytes = FileBytes::Static(&[0u8; 0x4000]);
        let mut s = VmaSet::new();
        s.insert(Vma {
            backing: Backing::File {
                bytes,
                offset: 0x1000,
                zero_from: u64::MAX,
                inode: 7,
            },
            ..anon(0x40_0000, 0x40_3000, Prot::READ)
        });
        s.protect(0x40_1000, 0x40_2000, Prot::RW);
        let offsets: Vec<u64> = s.iter().map(Vma::file_offset).collect();
        assert_eq!(offsets, [0x1000, 0x2000, 0x3000]);
        s.protect(0x40_1000, 0x40_2000, Prot::READ);
        assert_eq!(s.len(), 1, "contiguous offsets of the same file merge back");
    }

    #[test]
    fn topdown_gap_search_skips_areas_and_the_stack_guard() {
        let mut s = VmaSet::new();
        s.insert(anon(0x7000_0000, 0x7000_1000, Prot::RW));
        let mut stack = anon(0x7fff_0000, 0x8000_0000, Prot::RW);
        stack.grows_down = true;
        s.insert(stack);
        // Below the stack, the guard gap is kept free.
        assert_eq!(
            s.find_gap_topdown(0x2000, 0x1000, 0x8000_0000),
            Some(0x7fff_0000 - STACK_GUARD_GAP - 0x2000)
        );
        // Under a limit that cuts the first area, the next gap down is used.
        assert_eq!(
            s.find_gap_topdown(0x1000, 0x1000, 0x7000_0800),
            Some(0x6fff_f000)
        );
        // Too big for any gap.
        assert_eq!(s.find_gap_topdown(0x8000_0000, 0x1000, 0x8000_0000), None);
    }
}
