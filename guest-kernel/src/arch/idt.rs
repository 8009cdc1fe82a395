//! The IDT: 256 interrupt gates to the entry stubs of `entry.rs`, each on an IST stack;
//! #BP and #OF are reachable from user mode (DPL 3) like on Linux.
#![allow(unsafe_code)] // the IDT is a hardware-read static

use guest_kernel::trapframe::selector;

use super::cpu::{self, DescriptorPointer};
use super::entry;
use super::gdt::{ist, HwStatic};

static IDT: HwStatic<[u64; 512]> = HwStatic::new([0; 512]);

/// Vectors user code may raise with `int n` (int3 and into).
const USER_VECTORS: [usize; 2] = [3, 4];

/// Fills and loads the IDT.
pub fn init() {
    let stubs = entry::stub_base();
    // SAFETY: boot-time writes before `lidt`.
    let idt = unsafe { &mut *IDT.get() };
    for vector in 0..256usize {
        let handler = stubs + (vector as u64) * entry::STUB_SIZE;
        let dpl: u64 = if USER_VECTORS.contains(&vector) { 3 } else { 0 };
        let ist = u64::from(match vector {
            8 => ist::DOUBLE_FAULT,
            2 | 18 => ist::NMI,
            _ => ist::GENERAL,
        });
        let kind = 0x8e | (dpl << 5); // present, interrupt gate (IF cleared)
        idt[2 * vector] = (handler & 0xffff)
            | (selector::KERNEL_CS << 16)
            | (ist << 32)
            | (kind << 40)
            | (((handler >> 16) & 0xffff) << 48);
        idt[2 * vector + 1] = handler >> 32;
    }
    let ptr = DescriptorPointer {
        limit: (512 * 8 - 1) as u16,
        base: IDT.get() as u64,
    };
    // SAFETY: the IDT is static and every gate points at an entry stub.
    unsafe { cpu::lidt(&ptr) };
}
