//! The GDT in Linux's layout (kernel CS 0x10, DS 0x18, user32 CS 0x23, user DS 0x2b,
//! user CS 0x33, TSS 0x40) and the TSS whose IST stacks take every exception and
//! interrupt (guest-build.md pitfall 4: precompiled `core` uses the red zone, so no
//! trap may push onto the interrupted kernel stack).
#![allow(unsafe_code)] // descriptor tables are hardware-read statics

use core::cell::UnsafeCell;

use guest_kernel::trapframe::selector;

use super::cpu::{self, DescriptorPointer};

/// A static the CPU reads (descriptor tables), written only during boot.
pub struct HwStatic<T>(UnsafeCell<T>);

// SAFETY: written only by the boot CPU before the tables are in use.
unsafe impl<T> Sync for HwStatic<T> {}

impl<T> HwStatic<T> {
    /// A table with initial contents.
    pub const fn new(v: T) -> Self {
        HwStatic(UnsafeCell::new(v))
    }
    /// Raw pointer for the boot code and the descriptor loads.
    pub fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// IST slot numbers (1-based, as the IDT gates name them).
pub mod ist {
    /// Double fault.
    pub const DOUBLE_FAULT: u8 = 1;
    /// NMI and machine check.
    pub const NMI: u8 = 2;
    /// Every other exception and interrupt.
    pub const GENERAL: u8 = 3;
}

const GDT_ENTRIES: usize = 10;

static GDT: HwStatic<[u64; GDT_ENTRIES]> = HwStatic::new([
    0,
    0x00cf_9b00_0000_ffff, // 0x08 kernel 32-bit code (__KERNEL32_CS)
    0x00af_9b00_0000_ffff, // 0x10 kernel 64-bit code (__KERNEL_CS)
    0x00cf_9300_0000_ffff, // 0x18 kernel data (__KERNEL_DS)
    0x00cf_fb00_0000_ffff, // 0x23 user 32-bit code (__USER32_CS)
    0x00cf_f300_0000_ffff, // 0x2b user data (__USER_DS)
    0x00af_fb00_0000_ffff, // 0x33 user 64-bit code (__USER_CS)
    0,
    0, // 0x40 TSS, low half (filled at boot)
    0, // TSS, high half
]);

/// The 64-bit TSS (SDM Vol. 3A, Figure 8-11): 104 bytes, RSP0 at 4, IST1 at 36.
#[repr(C, align(16))]
struct Tss([u8; 104]);

static TSS: HwStatic<Tss> = HwStatic::new(Tss([0; 104]));

const TSS_RSP0: usize = 4;
const TSS_IST1: usize = 36;
const TSS_IOMAP: usize = 102;

/// Loads the GDT and TSS and reloads CS/SS with the kernel selectors.
pub fn init() {
    let tss = TSS.get() as u64;
    let limit = 103u64;
    let low =
        (limit & 0xffff) | ((tss & 0xff_ffff) << 16) | (0x89 << 40) | (((tss >> 24) & 0xff) << 56);
    // SAFETY: boot-time writes before the tables are loaded; nothing else uses them yet.
    unsafe {
        let gdt = &mut *GDT.get();
        gdt[8] = low;
        gdt[9] = tss >> 32;
        let t = &mut (*TSS.get()).0;
        // No I/O bitmap: the map base is the TSS limit + 1.
        t[TSS_IOMAP..TSS_IOMAP + 2].copy_from_slice(&104u16.to_le_bytes());
    }
    let ptr = DescriptorPointer {
        limit: (GDT_ENTRIES * 8 - 1) as u16,
        base: GDT.get() as u64,
    };
    // SAFETY: the GDT is static and holds the selectors loaded below.
    unsafe {
        cpu::lgdt(&ptr);
        reload_segments();
        cpu::ltr(selector::TSS as u16);
    }
}

/// Reloads CS (0x10) and SS (0x18) with an `iretq` to the next instruction: the boot
/// selectors name other descriptors in this GDT.
///
/// # Safety
/// The GDT must be loaded.
unsafe fn reload_segments() {
    // SAFETY: builds an interrupt frame for the current stack and the next instruction;
    // iretq at CPL 0 to CPL 0 changes nothing but CS and SS.
    unsafe {
        core::arch::asm!(
            "mov {tmp}, rsp",
            "push {ss}",
            "push {tmp}",
            "pushfq",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "iretq",
            "2:",
            tmp = out(reg) _,
            ss = const selector::KERNEL_DS,
            cs = const selector::KERNEL_CS,
        );
    }
}

/// Sets RSP0 and the IST stack tops in the TSS.
pub fn set_stacks(rsp0: u64, ist_tops: &[(u8, u64)]) {
    // SAFETY: the CPU reads these fields only when delivering an event; the kernel runs
    // with interrupts disabled while it writes them.
    let t = unsafe { &mut (*TSS.get()).0 };
    t[TSS_RSP0..TSS_RSP0 + 8].copy_from_slice(&rsp0.to_le_bytes());
    for &(slot, top) in ist_tops {
        let o = TSS_IST1 + 8 * (usize::from(slot) - 1);
        t[o..o + 8].copy_from_slice(&top.to_le_bytes());
    }
}
