//! Typed wrappers for the privileged instructions the kernel uses: port I/O, MSRs,
//! control registers, descriptor-table loads, `invlpg`, `cpuid`, `rdtsc`, `hlt`.
#![allow(unsafe_code)] // privileged instructions have no safe equivalent

use core::arch::asm;

use emu_abi::ports::Port;
use guest_kernel::console::PortIo;

/// CR0.MP (bit 1): `wait`/`fwait` honour CR0.TS (Intel SDM Vol. 3A, 2.5).
pub const CR0_MP: u64 = 1 << 1;
/// CR0.EM (bit 2): x87/SSE instructions raise #NM/#UD when set; must be clear for SSE.
pub const CR0_EM: u64 = 1 << 2;
/// CR0.TS (bit 3): the next x87/SSE instruction raises #NM (lazy FPU switching).
pub const CR0_TS: u64 = 1 << 3;
/// CR0.WP (bit 16): supervisor writes honour read-only pages.
pub const CR0_WP: u64 = 1 << 16;
/// CR4.PGE (bit 7): global pages survive CR3 writes.
pub const CR4_PGE: u64 = 1 << 7;
/// CR4.OSFXSR (bit 9): the OS supports FXSAVE/FXRSTOR, which enables SSE (SDM Vol. 3A, 2.5).
pub const CR4_OSFXSR: u64 = 1 << 9;
/// CR4.OSXMMEXCPT (bit 10): unmasked SIMD floating-point exceptions raise #XM.
pub const CR4_OSXMMEXCPT: u64 = 1 << 10;
/// CR4.SMEP (bit 20): supervisor fetches from user pages fault.
pub const CR4_SMEP: u64 = 1 << 20;
/// CR4.SMAP (bit 21): supervisor data accesses to user pages fault unless RFLAGS.AC.
pub const CR4_SMAP: u64 = 1 << 21;

/// MSR numbers (SDM Vol. 4).
pub mod msr {
    /// IA32_EFER.
    pub const EFER: u32 = 0xc000_0080;
    /// IA32_STAR: syscall/sysret selectors.
    pub const STAR: u32 = 0xc000_0081;
    /// IA32_LSTAR: the 64-bit syscall entry.
    pub const LSTAR: u32 = 0xc000_0082;
    /// IA32_FMASK: RFLAGS bits cleared on syscall.
    pub const FMASK: u32 = 0xc000_0084;
    /// IA32_FS_BASE.
    pub const FS_BASE: u32 = 0xc000_0100;
    /// IA32_GS_BASE.
    pub const GS_BASE: u32 = 0xc000_0101;
    /// IA32_KERNEL_GS_BASE (swapped with GS_BASE by swapgs).
    pub const KERNEL_GS_BASE: u32 = 0xc000_0102;
}

/// EFER.SCE (bit 0): syscall/sysret enabled.
pub const EFER_SCE: u64 = 1 << 0;
/// EFER.NXE (bit 11): the NX page bit is honoured.
pub const EFER_NXE: u64 = 1 << 11;

/// Port I/O with the real `in`/`out` instructions (CPL 0).
#[derive(Debug, Default, Clone, Copy)]
pub struct Ports;

impl PortIo for Ports {
    fn inb(&mut self, port: Port) -> u8 {
        let value: u8;
        // SAFETY: the kernel runs at CPL 0; reading a device register has no memory effects.
        unsafe {
            asm!("in al, dx", out("al") value, in("dx") port.0, options(nomem, nostack, preserves_flags));
        }
        value
    }

    fn outb(&mut self, port: Port, value: u8) {
        // SAFETY: CPL 0; the kernel's devices do not write guest memory behind Rust's back.
        unsafe {
            asm!("out dx, al", in("dx") port.0, in("al") value, options(nomem, nostack, preserves_flags));
        }
    }

    fn outl(&mut self, port: Port, value: u32) {
        // SAFETY: as for `outb`.
        unsafe {
            asm!("out dx, eax", in("dx") port.0, in("eax") value, options(nomem, nostack, preserves_flags));
        }
    }
}

/// `out dx, eax` to a device that reads or writes guest RAM (the host-I/O device): the
/// compiler must assume memory changed.
pub fn outl_dma(port: Port, value: u32) {
    // SAFETY: CPL 0; the device accesses only the buffers the request names, which the
    // caller owns; `asm!` without `nomem` orders the access against surrounding memory.
    unsafe {
        asm!("out dx, eax", in("dx") port.0, in("eax") value, options(nostack, preserves_flags));
    }
}

/// Reads an MSR.
pub fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: CPL 0; the kernel reads only MSRs the machine implements.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Writes an MSR.
pub fn wrmsr(msr: u32, value: u64) {
    // SAFETY: CPL 0; callers write architectural MSRs with values the SDM allows.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack, preserves_flags));
    }
}

/// Reads CR0.
pub fn read_cr0() -> u64 {
    let v: u64;
    // SAFETY: CPL 0; reading a control register has no side effects.
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Writes CR0.
pub fn write_cr0(v: u64) {
    // SAFETY: CPL 0; callers keep PE and PG set (long mode) and only add protections.
    unsafe { asm!("mov cr0, {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// Reads CR4.
pub fn read_cr4() -> u64 {
    let v: u64;
    // SAFETY: CPL 0; reading a control register has no side effects.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Writes CR4.
pub fn write_cr4(v: u64) {
    // SAFETY: CPL 0; callers keep PAE set and enable only features the kernel handles.
    unsafe { asm!("mov cr4, {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// Reads CR2 (the last page-fault address).
pub fn read_cr2() -> u64 {
    let v: u64;
    // SAFETY: CPL 0; reading a control register has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Loads a page-table root.
///
/// # Safety
/// `root` must map the running kernel (code, stack, data) at the same addresses.
pub unsafe fn write_cr3(root: u64) {
    // SAFETY: the caller guarantees the new tables map the kernel identically.
    unsafe { asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags)) };
}

/// Invalidates the TLB entry of `va`.
pub fn invlpg(va: u64) {
    // SAFETY: CPL 0; invalidating a TLB entry only costs a later page walk.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
}

/// `cpuid(leaf, subleaf)` as [eax, ebx, ecx, edx].
pub fn cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// The time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc reads the counter; CR4.TSD is clear.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Loads GDTR and IDTR-style pseudo-descriptors.
#[repr(C, packed)]
pub struct DescriptorPointer {
    /// Limit (size - 1).
    pub limit: u16,
    /// Linear base.
    pub base: u64,
}

/// `lgdt`.
///
/// # Safety
/// The table must stay valid and hold the selectors in use.
pub unsafe fn lgdt(ptr: &DescriptorPointer) {
    // SAFETY: the caller guarantees the table's lifetime and content.
    unsafe { asm!("lgdt [{}]", in(reg) ptr, options(readonly, nostack, preserves_flags)) };
}

/// `lidt`.
///
/// # Safety
/// The table must stay valid and its gates point at valid handlers.
pub unsafe fn lidt(ptr: &DescriptorPointer) {
    // SAFETY: the caller guarantees the table's lifetime and content.
    unsafe { asm!("lidt [{}]", in(reg) ptr, options(readonly, nostack, preserves_flags)) };
}

/// `ltr`.
///
/// # Safety
/// `sel` must name an available 64-bit TSS descriptor in the loaded GDT.
pub unsafe fn ltr(sel: u16) {
    // SAFETY: the caller guarantees the descriptor.
    unsafe { asm!("ltr {0:x}", in(reg) sel, options(nostack, preserves_flags)) };
}

/// Waits for an interrupt with interrupts enabled for exactly the `hlt` (the `sti`
/// shadow covers it), then disables them again.
pub fn wait_for_interrupt() {
    // SAFETY: CPL 0; the IDT is loaded, so the interrupt that ends the halt is handled.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Stops the CPU for good: interrupts off, then `hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: CPL 0; with IF = 0 `hlt` only waits for NMI/reset, touching no memory.
        unsafe {
            asm!("cli", "hlt", options(nomem, nostack));
        }
    }
}
