//! Typed wrappers for the privileged instructions the kernel uses: port I/O and `hlt`,
//! plus the control-register bits the entry code sets.
#![allow(unsafe_code)] // port I/O and hlt are instructions with no safe equivalent

use core::arch::asm;

use emu_abi::ports::Port;
use guest_kernel::console::PortIo;

/// CR0.MP (bit 1): `wait`/`fwait` honour CR0.TS (Intel SDM Vol. 3A, 2.5).
pub const CR0_MP: u64 = 1 << 1;
/// CR0.EM (bit 2): x87/SSE instructions raise #NM/#UD when set; must be clear for SSE.
pub const CR0_EM: u64 = 1 << 2;
/// CR0.TS (bit 3): the next x87/SSE instruction raises #NM (lazy FPU switching).
pub const CR0_TS: u64 = 1 << 3;
/// CR4.OSFXSR (bit 9): the OS supports FXSAVE/FXRSTOR, which enables SSE (SDM Vol. 3A, 2.5).
pub const CR4_OSFXSR: u64 = 1 << 9;
/// CR4.OSXMMEXCPT (bit 10): unmasked SIMD floating-point exceptions raise #XM.
pub const CR4_OSXMMEXCPT: u64 = 1 << 10;

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

/// Stops the CPU for good: interrupts off, then `hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: CPL 0; with IF = 0 `hlt` only waits for NMI/reset, touching no memory.
        unsafe {
            asm!("cli", "hlt", options(nomem, nostack));
        }
    }
}
