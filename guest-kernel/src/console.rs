//! The kernel console (a 16550 UART on [`COM1`]) and the debug-exit port.
//!
//! Hardware access goes through [`PortIo`]: the kernel's `arch::cpu::Ports` issues real
//! `in`/`out` instructions, host tests record the traffic. Port numbers and the exit
//! value protocol come from [`emu_abi::ports`].

use core::fmt;

use emu_abi::ports::{uart, DebugExit, Port, COM1, DEBUG_EXIT};

/// Port I/O as the CPU performs it (`in al, dx` / `out dx, al` / `out dx, eax`).
pub trait PortIo {
    /// Reads a byte from `port`.
    fn inb(&mut self, port: Port) -> u8;
    /// Writes a byte to `port`.
    fn outb(&mut self, port: Port, value: u8);
    /// Writes a doubleword to `port`.
    fn outl(&mut self, port: Port, value: u32);
}

/// How many line-status reads a byte waits for the transmitter before it is sent anyway:
/// a missing or stuck UART must not hang the kernel.
pub const MAX_THR_POLLS: u32 = 1 << 16;

/// A polled 16550 serial port used as an output-only console.
#[derive(Debug)]
pub struct Serial<P: PortIo> {
    io: P,
    base: Port,
}

impl<P: PortIo> Serial<P> {
    /// The console on [`COM1`].
    pub fn com1(io: P) -> Self {
        Serial { io, base: COM1 }
    }

    /// Sends one byte once the transmitter holding register is empty.
    pub fn write_byte(&mut self, byte: u8) {
        let lsr = self.base.offset(uart::LSR);
        for _ in 0..MAX_THR_POLLS {
            if self.io.inb(lsr) & uart::LSR_THR_EMPTY != 0 {
                break;
            }
        }
        self.io.outb(self.base.offset(uart::THR), byte);
    }

    /// Sends every byte of `bytes` in order.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_byte(byte);
        }
    }

    /// Gives the port I/O back (to end the run with [`debug_exit`], for example).
    pub fn into_inner(self) -> P {
        self.io
    }
}

impl<P: PortIo> fmt::Write for Serial<P> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Ends the run: writes `exit`'s protocol value to [`DEBUG_EXIT`] with a 32-bit `out`.
///
/// On lockstep's machine the run stops right after this write; on anything else it
/// returns, and the caller halts.
pub fn debug_exit(io: &mut impl PortIo, exit: DebugExit) {
    io.outl(DEBUG_EXIT, exit.encode());
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    /// One port access, as a recorder sees it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Access {
        In(Port),
        Out8(Port, u8),
        Out32(Port, u32),
    }

    /// Records every access; the line status reads "busy" for the first `busy_polls` reads.
    #[derive(Debug, Default)]
    struct Recorder {
        log: Vec<Access>,
        busy_polls: u32,
    }

    impl PortIo for Recorder {
        fn inb(&mut self, port: Port) -> u8 {
            self.log.push(Access::In(port));
            if self.busy_polls > 0 {
                self.busy_polls -= 1;
                0
            } else {
                uart::LSR_THR_EMPTY
            }
        }
        fn outb(&mut self, port: Port, value: u8) {
            self.log.push(Access::Out8(port, value));
        }
        fn outl(&mut self, port: Port, value: u32) {
            self.log.push(Access::Out32(port, value));
        }
    }

    fn sent_bytes(log: &[Access]) -> Vec<u8> {
        log.iter()
            .filter_map(|a| match *a {
                Access::Out8(Port(0x3f8), b) => Some(b),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn banner_goes_to_com1_data_register_byte_by_byte() {
        let mut serial = Serial::com1(Recorder::default());

        serial.write_str(crate::BOOT_BANNER).unwrap();

        let log = serial.into_inner().log;
        assert_eq!(sent_bytes(&log), b"lockstep kernel: booted\n");
        assert_eq!(log[0], Access::In(Port(0x3fd)));
        assert_eq!(log[1], Access::Out8(Port(0x3f8), b'l'));
    }

    #[test]
    fn byte_waits_for_transmitter_empty() {
        let mut serial = Serial::com1(Recorder {
            busy_polls: 3,
            ..Recorder::default()
        });

        serial.write_byte(b'x');

        let log = serial.into_inner().log;
        assert_eq!(log.len(), 5);
        assert!(log[..4].iter().all(|a| *a == Access::In(Port(0x3fd))));
        assert_eq!(log[4], Access::Out8(Port(0x3f8), b'x'));
    }

    #[test]
    fn stuck_transmitter_does_not_hang() {
        let mut serial = Serial::com1(Recorder {
            busy_polls: u32::MAX,
            ..Recorder::default()
        });

        serial.write_byte(b'y');

        let log = serial.into_inner().log;
        assert_eq!(log.len(), MAX_THR_POLLS as usize + 1);
        assert_eq!(log.last(), Some(&Access::Out8(Port(0x3f8), b'y')));
    }

    #[test]
    fn debug_exit_is_one_doubleword_write_to_exit_port() {
        let mut io = Recorder::default();

        debug_exit(&mut io, DebugExit::Exited(3));
        debug_exit(&mut io, DebugExit::KernelPanic);

        assert_eq!(
            io.log,
            [
                Access::Out32(Port(0xf4), 3),
                Access::Out32(Port(0xf4), 0x200)
            ]
        );
    }
}
