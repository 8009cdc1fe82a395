//! The kernel heap (`#[global_allocator]`): power-of-two size classes from 16 to 2048
//! bytes carved from heap pages, and whole-page allocations for anything larger. Heap
//! pages are mapped on demand in the heap region from the frame pool; a large block's
//! frames go back to the pool when it is freed (its addresses are never reused: the
//! region is 512 GiB). Out of memory is a null pointer, never a panic, so
//! `Vec::try_reserve` reports it.
#![allow(unsafe_code)] // an allocator hands out raw memory

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

use guest_kernel::mm::page_table::{self, pte};
use guest_kernel::mm::{PhysMem, PAGE_SIZE};

use crate::arch::paging::{kernel_root, HEAP_BASE, HEAP_END};
use crate::kmem::KernelMem;
use crate::sync::KCell;

/// Smallest class: 16 bytes; class `i` holds blocks of `16 << i`.
const MIN_CLASS: usize = 16;
const CLASSES: usize = 8; // 16 .. 2048

struct Heap {
    free: [u64; CLASSES],
    brk: u64,
}

static HEAP: KCell<Heap> = KCell::new(Heap {
    free: [0; CLASSES],
    brk: HEAP_BASE,
});

/// The kernel's allocator.
#[derive(Debug)]
pub struct KernelHeap;

fn class_of(layout: &Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(MIN_CLASS);
    let rounded = size.checked_next_power_of_two()?;
    let class = (rounded / MIN_CLASS).trailing_zeros() as usize;
    (class < CLASSES).then_some(class)
}

fn pages_for(size: usize) -> u64 {
    (size as u64).div_ceil(PAGE_SIZE).max(1)
}

impl Heap {
    /// Maps `pages` fresh pages at the heap break (aligned to `align`).
    fn grow(&mut self, pages: u64, align: u64) -> Option<u64> {
        let start = self.brk.checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(pages * PAGE_SIZE)?;
        if end > HEAP_END {
            return None;
        }
        if !map_range(start, end) {
            return None;
        }
        self.brk = end;
        Some(start)
    }
}

/// Maps `[start, end)` with fresh frames; on failure unmaps what it mapped.
fn map_range(start: u64, end: u64) -> bool {
    let root = kernel_root();
    let mut va = start;
    while va < end {
        let ok = match KernelMem.alloc_frame() {
            Some(frame) => {
                let mapped =
                    page_table::map(&mut KernelMem, root, va, frame, pte::W | pte::NX | pte::G);
                if mapped.is_err() {
                    KernelMem.free_frame(frame);
                }
                mapped.is_ok()
            }
            None => false,
        };
        if !ok {
            unmap_range(start, va);
            return false;
        }
        va += PAGE_SIZE;
    }
    true
}

fn unmap_range(start: u64, end: u64) {
    let root = kernel_root();
    let mut va = start;
    while va < end {
        if let Some(frame) = page_table::unmap(&mut KernelMem, root, va) {
            KernelMem.free_frame(frame);
            KernelMem.flush_page(va);
        }
        va += PAGE_SIZE;
    }
}

// SAFETY: blocks come from mapped heap pages, are at least `layout.size()` bytes and
// aligned to `layout.align()` (classes are powers of two >= the alignment, pages are
// 4 KiB aligned or aligned to the requested alignment); each block is handed out once
// until freed.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(mut heap) = HEAP.try_lock() else {
            return ptr::null_mut();
        };
        match class_of(&layout) {
            Some(class) => {
                if heap.free[class] == 0 {
                    let Some(page) = heap.grow(1, PAGE_SIZE) else {
                        return ptr::null_mut();
                    };
                    let size = (MIN_CLASS << class) as u64;
                    let mut at = page + PAGE_SIZE - size;
                    loop {
                        // SAFETY: `at` lies in the page just mapped, 8-aligned.
                        unsafe { *(at as *mut u64) = heap.free[class] };
                        heap.free[class] = at;
                        if at == page {
                            break;
                        }
                        at -= size;
                    }
                }
                let block = heap.free[class];
                // SAFETY: a free block stores the next free block's address.
                heap.free[class] = unsafe { *(block as *const u64) };
                block as *mut u8
            }
            None => {
                let align = (layout.align() as u64).max(PAGE_SIZE);
                match heap.grow(pages_for(layout.size()), align) {
                    Some(va) => va as *mut u8,
                    None => ptr::null_mut(),
                }
            }
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        let mut heap = HEAP.lock();
        match class_of(&layout) {
            Some(class) => {
                // SAFETY: the block was allocated from this class and is free now.
                unsafe { *(p as *mut u64) = heap.free[class] };
                heap.free[class] = p as u64;
            }
            None => {
                let start = p as u64;
                let end = start + pages_for(layout.size()) * PAGE_SIZE;
                if end == heap.brk {
                    heap.brk = start;
                }
                unmap_range(start, end);
            }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Large blocks grow in place when they end at the break or fit their pages.
        if class_of(&layout).is_none() && layout.align() as u64 <= PAGE_SIZE {
            if let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) {
                if class_of(&new_layout).is_none() {
                    let old_pages = pages_for(layout.size());
                    let new_pages = pages_for(new_size);
                    let mut heap = HEAP.lock();
                    let end = p as u64 + old_pages * PAGE_SIZE;
                    if new_pages <= old_pages {
                        let new_end = p as u64 + new_pages * PAGE_SIZE;
                        unmap_range(new_end, end);
                        if end == heap.brk {
                            heap.brk = new_end;
                        }
                        return p;
                    }
                    if end == heap.brk && heap.grow(new_pages - old_pages, PAGE_SIZE) == Some(end) {
                        return p;
                    }
                }
            }
        }
        // SAFETY: the default strategy: a new block, a copy, the old block freed.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let q = self.alloc(new_layout);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
            q
        }
    }
}
