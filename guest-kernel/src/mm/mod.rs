//! Memory management: physical frames, x86-64 page tables, per-process VMAs and the
//! address space that ties them together (demand paging, mmap family, brk, uaccess).
//!
//! Everything here is hardware-free: physical memory is reached through the [`PhysMem`]
//! trait (the kernel implements it over its direct map, tests over a `Vec`), so the
//! whole layer is unit-tested on the host.

pub mod aspace;
pub mod frame;
pub mod page_table;
pub mod vma;

/// Size of a small page.
pub const PAGE_SIZE: u64 = 4096;

/// The first address above user space (Linux's `TASK_SIZE_MAX` for 4-level paging).
pub const USER_END: u64 = 0x0000_7fff_ffff_f000;

/// Lowest address a user mapping may use (Linux's default `mmap_min_addr`).
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// Rounds `v` down to a page boundary.
pub const fn page_down(v: u64) -> u64 {
    v & !(PAGE_SIZE - 1)
}

/// Rounds `v` up to a page boundary (`None` on overflow).
pub const fn page_up(v: u64) -> Option<u64> {
    match v.checked_add(PAGE_SIZE - 1) {
        Some(x) => Some(x & !(PAGE_SIZE - 1)),
        None => None,
    }
}

/// Access to physical memory one frame at a time.
pub trait FrameAccess {
    /// The 4 KiB frame at physical address `pa` (page aligned).
    fn frame(&mut self, pa: u64) -> &mut [u8; 4096];
}

/// Physical memory plus the frame pool and the TLB of the current address space.
pub trait PhysMem: FrameAccess {
    /// A zeroed frame from the pool, or `None` when memory is exhausted.
    fn alloc_frame(&mut self) -> Option<u64>;
    /// Returns a frame to the pool.
    fn free_frame(&mut self, pa: u64);
    /// Invalidates the TLB entry of `va` in the current address space.
    fn flush_page(&mut self, va: u64) {
        let _ = va;
    }
    /// Reads the little-endian u64 at `pa` (8-byte aligned).
    fn read_u64(&mut self, pa: u64) -> u64 {
        let off = (pa & (PAGE_SIZE - 1)) as usize;
        let f = self.frame(pa & !(PAGE_SIZE - 1));
        let mut b = [0u8; 8];
        b.copy_from_slice(&f[off..off + 8]);
        u64::from_le_bytes(b)
    }
    /// Writes the little-endian u64 at `pa` (8-byte aligned).
    fn write_u64(&mut self, pa: u64, v: u64) {
        let off = (pa & (PAGE_SIZE - 1)) as usize;
        let f = self.frame(pa & !(PAGE_SIZE - 1));
        f[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
}

/// A host-side `PhysMem` for unit tests: RAM in a `Vec`, frames from a bump pointer
/// plus a free list, and a record of flushed pages.
#[cfg(test)]
pub mod fake {
    use super::*;
    use std::vec::Vec;

    /// Fake RAM.
    #[derive(Debug)]
    pub struct FakeRam {
        pub ram: Vec<u8>,
        pub next: u64,
        pub free: Vec<u64>,
        pub allocated: usize,
        pub flushed: Vec<u64>,
    }

    impl FakeRam {
        /// `mib` MiB of RAM; frames are handed out from 1 MiB up.
        pub fn new(mib: usize) -> Self {
            FakeRam {
                ram: vec![0; mib << 20],
                next: 1 << 20,
                free: Vec::new(),
                allocated: 0,
                flushed: Vec::new(),
            }
        }
    }

    impl FrameAccess for FakeRam {
        fn frame(&mut self, pa: u64) -> &mut [u8; 4096] {
            assert_eq!(pa % PAGE_SIZE, 0, "frame address {pa:#x}");
            let s = &mut self.ram[pa as usize..pa as usize + 4096];
            s.try_into().unwrap()
        }
    }

    impl PhysMem for FakeRam {
        fn alloc_frame(&mut self) -> Option<u64> {
            let pa = match self.free.pop() {
                Some(pa) => pa,
                None => {
                    if self.next as usize >= self.ram.len() {
                        return None;
                    }
                    self.next += PAGE_SIZE;
                    self.next - PAGE_SIZE
                }
            };
            self.frame(pa).fill(0);
            self.allocated += 1;
            Some(pa)
        }
        fn free_frame(&mut self, pa: u64) {
            assert!(!self.free.contains(&pa), "double free of {pa:#x}");
            self.allocated -= 1;
            self.frame(pa).fill(0xa5);
            self.free.push(pa);
        }
        fn flush_page(&mut self, va: u64) {
            self.flushed.push(va);
        }
    }
}
