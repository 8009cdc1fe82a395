//! The kernel's own page tables: the direct map of all RAM at `DIRECT_MAP` (2 MiB
//! pages, NX), the kernel image at its link address with per-section permissions
//! (text RX, rodata R, data RW; all global), guarded kernel and IST stacks, and the
//! heap region's top-level table. User address spaces copy the upper half of this root.
#![allow(unsafe_code)] // linker symbols and the CR3 switch

use core::sync::atomic::{AtomicU64, Ordering};

use emu_abi::layout::KERNEL_VIRT_OFFSET;
use guest_kernel::mm::page_table::{self, pte, MapError};
use guest_kernel::mm::{PhysMem, PAGE_SIZE};

use super::cpu;
use crate::kmem::{self, KernelMem, DIRECT_MAP};

/// Base of the kernel stacks region (each stack has an unmapped guard page below it).
pub const STACKS_BASE: u64 = 0xffff_c880_0000_0000;
/// Base of the kernel heap region.
pub const HEAP_BASE: u64 = 0xffff_c900_0000_0000;
/// End of the kernel heap region (one PML4 entry: 512 GiB).
pub const HEAP_END: u64 = HEAP_BASE + (512 << 30);

/// Size of the kernel stack (syscalls and traps from user mode).
pub const KSTACK_SIZE: u64 = 64 * 1024;
/// Size of each IST stack.
pub const IST_SIZE: u64 = 32 * 1024;

static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// The kernel page-table root (physical).
pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Relaxed)
}

extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
}

fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// Stack tops the boot code hands to the TSS and the per-CPU area.
#[derive(Debug, Clone, Copy)]
pub struct Stacks {
    /// Kernel stack top.
    pub kernel: u64,
    /// IST stack tops, slots 1..=3.
    pub ist: [u64; 3],
}

fn check(r: Result<(), MapError>) {
    if let Err(e) = r {
        panic!("building the kernel page tables: {e:?}");
    }
}

/// Builds the tables, maps the stacks, loads CR3 and switches physical access to the
/// direct map. Runs on the boot identity map with the frame allocator ready.
pub fn init(ram_size: u64) -> Stacks {
    let mem = &mut KernelMem;
    let Some(root) = mem.alloc_frame() else {
        panic!("no frame for the kernel page tables");
    };
    let rw_nx = pte::W | pte::NX | pte::G;
    // Direct map: 2 MiB pages, then 4 KiB pages for a tail.
    let big = 2 << 20;
    let mut pa = 0;
    while pa + big <= ram_size {
        check(page_table::map_2m(mem, root, DIRECT_MAP + pa, pa, rw_nx));
        pa += big;
    }
    while pa + PAGE_SIZE <= ram_size {
        check(page_table::map(mem, root, DIRECT_MAP + pa, pa, rw_nx));
        pa += PAGE_SIZE;
    }
    // SAFETY: linker-script symbols; only their addresses are used.
    let (start, text_end, rodata_end, end) = unsafe {
        (
            sym(&__kernel_start),
            sym(&__text_end),
            sym(&__rodata_end),
            sym(&__kernel_end),
        )
    };
    let mut va = start;
    while va < end {
        let flags = if va < text_end {
            pte::G
        } else if va < rodata_end {
            pte::NX | pte::G
        } else {
            rw_nx
        };
        check(page_table::map(
            mem,
            root,
            va,
            va - KERNEL_VIRT_OFFSET,
            flags,
        ));
        va += PAGE_SIZE;
    }
    // Stacks, each above an unmapped guard page.
    let mut next = STACKS_BASE;
    let mut stack = |size: u64| {
        next += PAGE_SIZE;
        let base = next;
        let mut va = base;
        while va < base + size {
            let Some(frame) = KernelMem.alloc_frame() else {
                panic!("no frame for the kernel stacks");
            };
            check(page_table::map(&mut KernelMem, root, va, frame, rw_nx));
            va += PAGE_SIZE;
        }
        next = base + size;
        base + size
    };
    let stacks = Stacks {
        kernel: stack(KSTACK_SIZE),
        ist: [stack(IST_SIZE), stack(IST_SIZE), stack(IST_SIZE)],
    };
    // The heap's top-level entry exists before any address space copies the kernel half.
    if page_table::ensure_table(&mut KernelMem, root, HEAP_BASE, 3).is_err() {
        panic!("no frame for the heap page tables");
    }
    KERNEL_ROOT.store(root, Ordering::Relaxed);
    // SAFETY: the new tables map the kernel image, its stacks and data at the same
    // virtual addresses as the boot tables; physical access moves to the direct map
    // right after, before any frame is touched.
    unsafe { cpu::write_cr3(root) };
    kmem::use_direct_map();
    stacks
}

/// Switches to a user address space whose root was made by
/// `AddressSpace::new(kernel_root())` (its upper half is the kernel's).
pub fn activate(root: u64) {
    // SAFETY: user roots copy the kernel's PML4 entries 256..512, so the kernel stays
    // mapped at the same addresses.
    unsafe { cpu::write_cr3(root) };
}
