//! Physical memory as the kernel reaches it: the direct map of all RAM (the identity map
//! of the boot tables until the kernel's own tables are live), the global frame
//! allocator, and [`KernelMem`], the `PhysMem` the kernel logic runs on.
#![allow(unsafe_code)] // turning physical addresses into references

use core::sync::atomic::{AtomicU64, Ordering};

use guest_kernel::mm::frame::FrameAllocator;
use guest_kernel::mm::{FrameAccess, PhysMem};

use crate::arch::cpu;
use crate::sync::KCell;

/// Where the kernel's page tables map physical address 0 (Linux's PAGE_OFFSET).
pub const DIRECT_MAP: u64 = 0xffff_8880_0000_0000;

/// Virtual address of physical 0: 0 under the boot identity map, then [`DIRECT_MAP`].
static PHYS_OFFSET: AtomicU64 = AtomicU64::new(0);

/// The pool of free frames.
static FRAMES: KCell<FrameAllocator> = KCell::new(FrameAllocator::new(0, 0));

/// The kernel virtual address of physical `pa`.
pub fn phys_to_virt(pa: u64) -> u64 {
    PHYS_OFFSET.load(Ordering::Relaxed).wrapping_add(pa)
}

/// Switches physical access to the direct map (once the kernel's tables are loaded).
pub fn use_direct_map() {
    PHYS_OFFSET.store(DIRECT_MAP, Ordering::Relaxed);
}

/// Hands `[start, end)` to the frame allocator.
pub fn init_frames(start: u64, end: u64) {
    *FRAMES.lock() = FrameAllocator::new(start, end);
}

/// Frames free and in total.
pub fn frame_counts() -> (u64, u64) {
    let f = FRAMES.lock();
    (f.available(), f.total())
}

/// Physical memory through the current physical offset.
#[derive(Debug, Default, Clone, Copy)]
pub struct DirectMap;

/// The frame at physical `pa` through the current physical offset.
pub fn direct_frame<'a>(pa: u64) -> &'a mut [u8; 4096] {
    // SAFETY: every RAM frame is mapped at phys_to_virt(pa) (boot identity map, then
    // the direct map); callers pass frames they own (page tables, user pages, free
    // frames) and hold the reference only for one access, so no other reference to
    // these bytes is live during the borrow.
    unsafe { &mut *(phys_to_virt(pa) as *mut [u8; 4096]) }
}

impl FrameAccess for DirectMap {
    fn frame(&mut self, pa: u64) -> &mut [u8; 4096] {
        direct_frame(pa)
    }
}

/// The kernel's `PhysMem`: direct-map access, the global frame pool, `invlpg`.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelMem;

impl FrameAccess for KernelMem {
    fn frame(&mut self, pa: u64) -> &mut [u8; 4096] {
        direct_frame(pa)
    }
}

impl PhysMem for KernelMem {
    fn alloc_frame(&mut self) -> Option<u64> {
        FRAMES.lock().alloc(&mut DirectMap)
    }
    fn free_frame(&mut self, pa: u64) {
        FRAMES.lock().free(pa, &mut DirectMap);
    }
    fn flush_page(&mut self, va: u64) {
        cpu::invlpg(va);
    }
}

/// A `&'static` view of physical memory `[pa, pa + len)` through the direct map (the
/// initramfs and the boot strings, which nothing frees or writes).
pub fn phys_slice(pa: u64, len: u64) -> &'static [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the range is RAM reserved by the loader (BootInfo::reserved), mapped by the
    // direct map for the kernel's lifetime and never written by the kernel.
    unsafe { core::slice::from_raw_parts(phys_to_virt(pa) as *const u8, len as usize) }
}

/// Reads the BootInfo the loader wrote at physical `pa` (through the boot identity map).
pub fn read_boot_info(pa: u64) -> emu_abi::boot::BootInfo {
    // SAFETY: the loader wrote a BootInfo at this identity-mapped physical address and
    // nothing writes it while the kernel boots.
    unsafe { (phys_to_virt(pa) as *const emu_abi::boot::BootInfo).read_volatile() }
}
