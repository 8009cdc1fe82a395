//! Architectural exceptions (`Exception`) and the internal reasons an
//! instruction handler stops the run loop (`Stop`).
//!
//! `Exception`s are guest events: the system layer delivers them through the
//! IDT (or, with no kernel, reports them in [`crate::Exit`]). Faults are
//! precise: when a handler returns one, no architectural state has changed
//! and RIP still points at the faulting instruction.

/// An x86 exception, with the error code the SDM defines for it (Vol. 3A, 6.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    /// #DE (vector 0): divide by zero or quotient overflow.
    DivideError,
    /// #DB (vector 1): debug trap (single step, hardware breakpoint).
    Debug,
    /// #BP (vector 3): `int3`.
    Breakpoint,
    /// #UD (vector 6): invalid or unimplemented opcode.
    InvalidOpcode,
    /// #NM (vector 7): device not available (CR0.TS/EM).
    DeviceNotAvailable,
    /// #DF (vector 8): double fault.
    DoubleFault,
    /// #TS (vector 10) with its selector error code.
    InvalidTss(u32),
    /// #NP (vector 11) with its selector error code.
    SegmentNotPresent(u32),
    /// #SS (vector 12): stack-segment fault (non-canonical stack address).
    StackFault(u32),
    /// #GP (vector 13) with its error code.
    GeneralProtection(u32),
    /// #PF (vector 14): the linear address (CR2) and the error code.
    PageFault {
        /// The faulting linear address (goes to CR2).
        addr: u64,
        /// P, W/R, U/S, RSVD, I/D bits (SDM Vol. 3A, 4.7).
        error_code: u32,
    },
    /// #MF (vector 16): pending unmasked x87 exception.
    X87Float,
    /// #AC (vector 17): alignment check.
    AlignmentCheck(u32),
    /// #XM (vector 19): unmasked SIMD floating-point exception.
    SimdFloat,
}

impl Exception {
    /// The IDT vector of this exception.
    pub fn vector(self) -> u8 {
        match self {
            Exception::DivideError => 0,
            Exception::Debug => 1,
            Exception::Breakpoint => 3,
            Exception::InvalidOpcode => 6,
            Exception::DeviceNotAvailable => 7,
            Exception::DoubleFault => 8,
            Exception::InvalidTss(_) => 10,
            Exception::SegmentNotPresent(_) => 11,
            Exception::StackFault(_) => 12,
            Exception::GeneralProtection(_) => 13,
            Exception::PageFault { .. } => 14,
            Exception::X87Float => 16,
            Exception::AlignmentCheck(_) => 17,
            Exception::SimdFloat => 19,
        }
    }

    /// The error code pushed on delivery, if this exception has one.
    pub fn error_code(self) -> Option<u32> {
        match self {
            Exception::DoubleFault => Some(0),
            Exception::InvalidTss(c)
            | Exception::SegmentNotPresent(c)
            | Exception::StackFault(c)
            | Exception::GeneralProtection(c)
            | Exception::AlignmentCheck(c) => Some(c),
            Exception::PageFault { error_code, .. } => Some(error_code),
            _ => None,
        }
    }

    /// The SDM mnemonic, e.g. `#GP`.
    pub fn mnemonic(self) -> &'static str {
        match self {
            Exception::DivideError => "#DE",
            Exception::Debug => "#DB",
            Exception::Breakpoint => "#BP",
            Exception::InvalidOpcode => "#UD",
            Exception::DeviceNotAvailable => "#NM",
            Exception::DoubleFault => "#DF",
            Exception::InvalidTss(_) => "#TS",
            Exception::SegmentNotPresent(_) => "#NP",
            Exception::StackFault(_) => "#SS",
            Exception::GeneralProtection(_) => "#GP",
            Exception::PageFault { .. } => "#PF",
            Exception::X87Float => "#MF",
            Exception::AlignmentCheck(_) => "#AC",
            Exception::SimdFloat => "#XM",
        }
    }
}

impl std::fmt::Display for Exception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exception::PageFault { addr, error_code } => {
                write!(f, "#PF at {addr:#x} (error code {error_code:#x})")
            }
            e => match e.error_code() {
                Some(code) => write!(f, "{}({code:#x})", e.mnemonic()),
                None => f.write_str(e.mnemonic()),
            },
        }
    }
}

/// Why an instruction handler stopped normal execution.
///
/// `Fault` leaves RIP at the instruction (it did not retire); every other
/// variant is trap-like: the instruction retired and RIP is past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A fault: nothing changed, RIP at the instruction.
    Fault(Exception),
    /// `syscall` executed while the CPU surfaces syscalls as events.
    Syscall,
    /// `int3` (trap: RIP after it).
    Breakpoint,
    /// `int n` (trap: RIP after it).
    SoftwareInterrupt(u8),
    /// `hlt`.
    Halt,
    /// A port write asked the run loop to return (`Exit::Io`).
    Io,
}

impl From<Exception> for Stop {
    #[inline(always)]
    fn from(e: Exception) -> Self {
        Stop::Fault(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_and_error_codes_follow_the_sdm() {
        assert_eq!(
            Exception::PageFault {
                addr: 0,
                error_code: 5
            }
            .vector(),
            14
        );
        assert_eq!(Exception::GeneralProtection(0).error_code(), Some(0));
        assert_eq!(Exception::InvalidOpcode.error_code(), None);
        assert_eq!(Exception::SimdFloat.vector(), 19);
        assert_eq!(
            Exception::PageFault {
                addr: 0x10,
                error_code: 4
            }
            .to_string(),
            "#PF at 0x10 (error code 0x4)"
        );
    }
}
