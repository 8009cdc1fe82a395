//! I/O port numbers of lockstep's PC-style devices and the debug-exit protocol.
//!
//! The guest kernel reaches devices only through `in`/`out` on these ports (and MSRs);
//! emu-core's port bus registers its devices at the same numbers. [`DebugExit`] is the
//! value protocol of the exit port, shared by both sides.

/// An x86 I/O port number (the `dx` operand of `in`/`out`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Port(pub u16);

impl Port {
    /// The port `offset` registers above this one (a device's register `offset`).
    pub const fn offset(self, offset: u16) -> Port {
        Port(self.0.wrapping_add(offset))
    }
}

/// First serial port (16550-compatible UART): the kernel's console and log.
pub const COM1: Port = Port(0x3f8);

/// 16550 register offsets from the UART's base port (PC16550D data sheet, table 2).
pub mod uart {
    /// Transmitter holding register (write, DLAB = 0).
    pub const THR: u16 = 0;
    /// Line status register (read).
    pub const LSR: u16 = 5;
    /// LSR bit 5: the transmitter holding register is empty and takes a byte.
    pub const LSR_THR_EMPTY: u8 = 0b0010_0000;
}

/// The exit port: a 32-bit `out dx, eax` here ends the run.
///
/// Protocol: the machine stops right after the `out` instruction retires and reports the
/// value, decoded with [`DebugExit::decode`]. 8- and 16-bit writes are ignored so that a
/// stray byte cannot end a run. The same port number as the `isa-debug-exit` device that
/// blog_os-style kernels use, but the value is ours (below), not QEMU's `(v << 1) | 1`.
pub const DEBUG_EXIT: Port = Port(0xf4);

/// Why the guest ended the run, as written to [`DEBUG_EXIT`].
///
/// Encoding of the 32-bit value: bits 8..16 hold the kind, bits 0..8 its argument,
/// bits 16..32 are zero.
///
/// | kind | value | meaning |
/// |---|---|---|
/// | 0 | `status` | the first program exited with `status` (0..=255) |
/// | 1 | `0x100 \| signal` | the first program was killed by `signal` (1..=64) |
/// | 2 | `0x200` | the kernel panicked (its message is on [`COM1`]) |
/// | 3 | `0x300 \| reason` | the kernel refused to boot (for example an ABI mismatch) |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugExit {
    /// The first program exited normally with this status.
    Exited(u8),
    /// The first program was killed by this signal number.
    Killed(u8),
    /// The kernel panicked.
    KernelPanic,
    /// The kernel refused to boot; the byte says why (see the kernel's boot code).
    BootFailed(u8),
}

const KIND_SHIFT: u32 = 8;
const KIND_EXITED: u32 = 0;
const KIND_KILLED: u32 = 1;
const KIND_PANIC: u32 = 2;
const KIND_BOOT_FAILED: u32 = 3;

impl DebugExit {
    /// The 32-bit value the guest writes to [`DEBUG_EXIT`].
    pub const fn encode(self) -> u32 {
        match self {
            DebugExit::Exited(status) => (KIND_EXITED << KIND_SHIFT) | status as u32,
            DebugExit::Killed(signal) => (KIND_KILLED << KIND_SHIFT) | signal as u32,
            DebugExit::KernelPanic => KIND_PANIC << KIND_SHIFT,
            DebugExit::BootFailed(reason) => (KIND_BOOT_FAILED << KIND_SHIFT) | reason as u32,
        }
    }

    /// Decodes a value written to [`DEBUG_EXIT`]; `None` for a value outside the protocol.
    pub const fn decode(value: u32) -> Option<DebugExit> {
        let arg = (value & 0xff) as u8;
        match value >> KIND_SHIFT {
            KIND_EXITED => Some(DebugExit::Exited(arg)),
            KIND_KILLED if arg != 0 => Some(DebugExit::Killed(arg)),
            KIND_PANIC if arg == 0 => Some(DebugExit::KernelPanic),
            KIND_BOOT_FAILED => Some(DebugExit::BootFailed(arg)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_have_pc_numbers() {
        assert_eq!(COM1, Port(0x3f8));
        assert_eq!(COM1.offset(uart::LSR), Port(0x3fd));
        assert_eq!(DEBUG_EXIT, Port(0xf4));
    }

    #[test]
    fn debug_exit_values_are_the_documented_ones() {
        assert_eq!(DebugExit::Exited(0).encode(), 0);
        assert_eq!(DebugExit::Exited(255).encode(), 0xff);
        assert_eq!(DebugExit::Killed(11).encode(), 0x10b);
        assert_eq!(DebugExit::KernelPanic.encode(), 0x200);
        assert_eq!(DebugExit::BootFailed(1).encode(), 0x301);
    }

    #[test]
    fn debug_exit_round_trips_every_variant() {
        let all = (0..=255u8).flat_map(|b| {
            [
                DebugExit::Exited(b),
                DebugExit::Killed(b.max(1)),
                DebugExit::BootFailed(b),
            ]
        });
        for exit in all.chain([DebugExit::KernelPanic]) {
            assert_eq!(DebugExit::decode(exit.encode()), Some(exit));
        }
    }

    #[test]
    fn debug_exit_rejects_values_outside_the_protocol() {
        for value in [0x100, 0x201, 0x400, 0x1_0000, u32::MAX] {
            assert_eq!(DebugExit::decode(value), None, "{value:#x}");
        }
    }
}
