//! Guest physical RAM: one anonymous `memmap2` mapping, addressed by guest
//! physical address, with bounds-checked little-endian accessors.
//!
//! The CPU reaches RAM only through [`crate::mmu::Mmu`] translations; this type
//! knows nothing about paging. Out-of-range physical accesses are reported to
//! the caller, which decides what the bus does (reads of non-existent memory
//! return all ones on a PC, writes are dropped).

use memmap2::MmapMut;

use crate::error::Error;

/// Size of a page frame.
pub const PAGE_SIZE: u64 = 4096;

/// The guest's physical memory.
pub struct GuestRam {
    map: MmapMut,
}

impl std::fmt::Debug for GuestRam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestRam")
            .field("size", &self.size())
            .finish()
    }
}

impl GuestRam {
    /// Largest RAM size accepted.
    pub const MAX_SIZE: u64 = 64 << 30;

    /// Allocates `size` bytes of zeroed RAM (lazily backed by the host).
    pub fn new(size: u64) -> Result<Self, Error> {
        if size == 0 || !size.is_multiple_of(PAGE_SIZE) || size > Self::MAX_SIZE {
            return Err(Error::BadRamSize { size });
        }
        let len = usize::try_from(size).map_err(|_| Error::BadRamSize { size })?;
        let map = MmapMut::map_anon(len).map_err(|e| Error::RamAllocation {
            size,
            reason: e.to_string(),
        })?;
        Ok(Self { map })
    }

    /// RAM size in bytes.
    #[inline]
    pub fn size(&self) -> u64 {
        self.map.len() as u64
    }

    /// Whether `[addr, addr + len)` lies inside RAM.
    #[inline]
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr.checked_add(len).is_some_and(|end| end <= self.size())
    }

    /// The bytes `[addr, addr + len)`, or `None` when out of range.
    #[inline]
    pub fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(addr).ok()?;
        self.map.get(start..start.checked_add(len)?)
    }

    /// The bytes `[addr, addr + len)` mutably, or `None` when out of range.
    #[inline]
    pub fn slice_mut(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let start = usize::try_from(addr).ok()?;
        self.map.get_mut(start..start.checked_add(len)?)
    }

    /// Reads `N` bytes at `addr`; `None` when out of range.
    #[inline(always)]
    pub fn read_array<const N: usize>(&self, addr: u64) -> Option<[u8; N]> {
        let s = self.slice(addr, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Some(out)
    }

    /// Writes `N` bytes at `addr`; returns false when out of range.
    #[inline(always)]
    pub fn write_array<const N: usize>(&mut self, addr: u64, bytes: [u8; N]) -> bool {
        match self.slice_mut(addr, N) {
            Some(s) => {
                s.copy_from_slice(&bytes);
                true
            }
            None => false,
        }
    }

    /// Reads a little-endian u64 (page-table entries); `None` when out of range.
    #[inline]
    pub fn read_u64(&self, addr: u64) -> Option<u64> {
        self.read_array::<8>(addr).map(u64::from_le_bytes)
    }

    /// Writes a little-endian u64; returns false when out of range.
    #[inline]
    pub fn write_u64(&mut self, addr: u64, value: u64) -> bool {
        self.write_array(addr, value.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ram_is_zeroed_and_bounds_checked() {
        let mut ram = GuestRam::new(2 * PAGE_SIZE).unwrap();
        assert_eq!(ram.read_u64(0), Some(0));
        assert!(ram.write_u64(PAGE_SIZE * 2 - 8, 0x1122_3344_5566_7788));
        assert_eq!(ram.read_u64(PAGE_SIZE * 2 - 8), Some(0x1122_3344_5566_7788));
        assert_eq!(ram.read_u64(PAGE_SIZE * 2 - 7), None);
        assert!(!ram.write_u64(u64::MAX - 3, 1));
    }

    #[test]
    fn rejects_unaligned_or_zero_sizes() {
        assert!(matches!(GuestRam::new(0), Err(Error::BadRamSize { .. })));
        assert!(matches!(GuestRam::new(100), Err(Error::BadRamSize { .. })));
    }
}
