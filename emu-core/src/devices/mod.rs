//! The machine's devices, each a small state machine with injected effects,
//! and `Devices`, which routes the CPU's port, MSR and interrupt traffic to
//! them (the CPU's `Io`). Devices know nothing of the CPU.
//!
//! | device | reached through | file |
//! |---|---|---|
//! | COM1 16550 UART (kernel log) | ports 0x3f8-0x3ff | `serial.rs` |
//! | bulk host I/O (program stdio) | port 0x510 | `hostio.rs` |
//! | x2APIC TSC-deadline timer | MSRs 0x1b, 0x6e0, 0x8xx | `apic_timer.rs` |
//! | exit port | port 0xf4 (32-bit writes) | here |

pub mod apic_timer;
pub mod hostio;
pub mod serial;
pub mod shared_buffer;

use emu_abi::hostio::HOSTIO;
use emu_abi::ports::{DebugExit, COM1, DEBUG_EXIT};

use crate::cpu::system_regs::{Io, PortWrite};
use crate::memory::GuestRam;

pub use apic_timer::ApicTimer;
pub use hostio::HostIo;
pub use serial::Serial;
pub use shared_buffer::SharedBuffer;

/// All devices of the machine.
#[derive(Debug)]
pub struct Devices {
    /// COM1.
    pub serial: Serial,
    /// The bulk stdio device.
    pub hostio: HostIo,
    /// The timer.
    pub timer: ApicTimer,
    /// The value written to the exit port, once written.
    pub exit: Option<u32>,
}

impl Devices {
    /// The decoded exit value, if the guest wrote a valid one.
    pub fn debug_exit(&self) -> Option<DebugExit> {
        self.exit.and_then(DebugExit::decode)
    }
}

impl Io for Devices {
    fn port_in(&mut self, port: u16, size: u8, _ram: &mut GuestRam) -> u32 {
        match port.wrapping_sub(COM1.0) {
            offset @ 0..=7 if size == 1 => u32::from(self.serial.read(offset)),
            _ => u32::MAX >> (32 - 8 * u32::from(size)),
        }
    }

    fn port_out(&mut self, port: u16, size: u8, value: u32, ram: &mut GuestRam) -> PortWrite {
        if port == DEBUG_EXIT.0 && size == 4 {
            self.exit = Some(value);
            self.serial.flush();
            return PortWrite::Stop;
        }
        if port == HOSTIO.0 && size == 4 {
            self.hostio.request(ram, u64::from(value));
            return PortWrite::Continue;
        }
        if let offset @ 0..=7 = port.wrapping_sub(COM1.0) {
            if size == 1 {
                self.serial.write(offset, value as u8);
            }
        }
        PortWrite::Continue
    }

    fn rdmsr(&mut self, msr: u32, _tsc: u64) -> Option<u64> {
        self.timer.rdmsr(msr)
    }

    fn wrmsr(&mut self, msr: u32, value: u64, _tsc: u64) -> bool {
        self.timer.wrmsr(msr, value)
    }

    fn pending_interrupt(&mut self, tsc: u64) -> Option<u8> {
        self.timer.poll(tsc)
    }

    fn next_deadline(&self) -> Option<u64> {
        self.timer.next_deadline()
    }
}
