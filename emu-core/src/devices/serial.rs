//! A 16550 UART subset on COM1: the kernel's console and log. Transmitted
//! bytes go to an injected sink; the line status always reports an empty
//! transmitter (output is never slowed), and no input.

use std::io::Write;

use emu_abi::ports::uart;

/// The UART.
pub struct Serial {
    out: Box<dyn Write>,
    /// Bytes written so far.
    pub written: u64,
}

impl std::fmt::Debug for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serial")
            .field("written", &self.written)
            .finish()
    }
}

impl Serial {
    /// A UART writing to `out`.
    pub fn new(out: Box<dyn Write>) -> Self {
        Self { out, written: 0 }
    }

    /// A register read at `offset` from the base port.
    pub fn read(&mut self, offset: u16) -> u8 {
        match offset {
            // Transmitter empty and idle; no data ready.
            uart::LSR => uart::LSR_THR_EMPTY | 0b0100_0000,
            _ => 0,
        }
    }

    /// A register write at `offset` from the base port.
    pub fn write(&mut self, offset: u16, value: u8) {
        if offset == uart::THR {
            // Host output errors (a closed pipe) must not stop the guest.
            let _ = self.out.write_all(&[value]);
            self.written += 1;
        }
    }

    /// Flushes the sink.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::SharedBuffer as Shared;

    #[test]
    fn transmitted_bytes_reach_the_sink_and_lsr_reports_empty() {
        let sink = Shared::new();
        let mut s = Serial::new(Box::new(sink.clone()));
        assert_ne!(s.read(uart::LSR) & uart::LSR_THR_EMPTY, 0);
        s.write(uart::THR, b'o');
        s.write(uart::THR, b'k');
        s.write(1, b'x'); // IER: ignored
        assert_eq!(&sink.contents()[..], b"ok");
    }
}
