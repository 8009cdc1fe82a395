//! The physical frame allocator: a bump pointer over never-used frames plus an
//! intrusive free list threaded through freed frames (the first 8 bytes of a free frame
//! hold the next one), so it never needs the heap. Frames come out zeroed.

use super::{FrameAccess, PAGE_SIZE};

/// End-of-list marker.
const NIL: u64 = u64::MAX;

/// Allocator over the whole pages of `[start, end)`.
#[derive(Debug, Clone)]
pub struct FrameAllocator {
    next: u64,
    end: u64,
    free_head: u64,
    free_count: u64,
    total: u64,
}

impl FrameAllocator {
    /// An allocator of the whole pages inside `[start, end)`.
    pub const fn new(start: u64, end: u64) -> Self {
        let start = (start + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        let end = end & !(PAGE_SIZE - 1);
        let end = if end > start { end } else { start };
        FrameAllocator {
            next: start,
            end,
            free_head: NIL,
            free_count: 0,
            total: (end - start) / PAGE_SIZE,
        }
    }

    /// A zeroed frame, or `None` when all are in use.
    pub fn alloc(&mut self, mem: &mut impl FrameAccess) -> Option<u64> {
        let pa = if self.free_head != NIL {
            let pa = self.free_head;
            let mut link = [0u8; 8];
            link.copy_from_slice(&mem.frame(pa)[..8]);
            self.free_head = u64::from_le_bytes(link);
            self.free_count -= 1;
            pa
        } else if self.next < self.end {
            self.next += PAGE_SIZE;
            self.next - PAGE_SIZE
        } else {
            return None;
        };
        mem.frame(pa).fill(0);
        Some(pa)
    }

    /// Returns `pa` to the pool.
    pub fn free(&mut self, pa: u64, mem: &mut impl FrameAccess) {
        mem.frame(pa)[..8].copy_from_slice(&self.free_head.to_le_bytes());
        self.free_head = pa;
        self.free_count += 1;
    }

    /// Frames still available.
    pub fn available(&self) -> u64 {
        (self.end - self.next) / PAGE_SIZE + self.free_count
    }

    /// Frames managed in total.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::fake::FakeRam;

    #[test]
    fn hands_out_each_frame_once_then_reuses_freed_ones_zeroed() {
        let mut ram = FakeRam::new(2);
        let mut fa = FrameAllocator::new(0x10_0800, 0x10_4000);
        let a = fa.alloc(&mut ram).unwrap();
        let b = fa.alloc(&mut ram).unwrap();
        let c = fa.alloc(&mut ram).unwrap();
        assert_eq!((a, b, c), (0x10_1000, 0x10_2000, 0x10_3000));
        assert_eq!(fa.alloc(&mut ram), None);
        ram.frame(b).fill(0x77);
        fa.free(b, &mut ram);
        assert_eq!(fa.available(), 1);
        assert_eq!(fa.alloc(&mut ram), Some(b));
        assert!(ram.frame(b).iter().all(|&x| x == 0));
        assert_eq!(fa.total(), 3);
    }
}
