//! Exact software model of the x87 80-bit extended-precision floating point unit's arithmetic.
//!
//! Owns the [`F80`] register format and every numeric operation the x87 instruction family
//! needs: basic arithmetic ([`arith`]), remainders and scaling ([`rem`], [`scale`]), comparisons
//! and classification ([`compare`]), conversions to and from memory formats ([`convert`]) and
//! the transcendental instructions ([`transcend`]). Each operation takes the x87 control word
//! ([`Control`]: rounding control, precision control, exception masks) and returns its result with
//! the status flags it raises ([`Flags`]), following Intel SDM Vol. 1 chapters 4 and 8. The x87
//! stack, tags and instruction decoding live in `cpu/exec/x87` and build on this module.

mod f80;
mod round;
mod xfloat;

pub mod arith;
pub mod compare;
pub mod consts;
pub mod convert;
pub mod rem;
pub mod scale;
pub mod transcend;

#[cfg(test)]
pub(crate) mod host;

pub use f80::{Class, F80};

/// Rounding control (FCW bits 10..11, SDM Vol. 1 §4.8.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Round to nearest, ties to even (RC = 00).
    NearestEven,
    /// Round toward negative infinity (RC = 01).
    Down,
    /// Round toward positive infinity (RC = 10).
    Up,
    /// Round toward zero (RC = 11).
    TowardZero,
}

/// The x87 control word as far as arithmetic is concerned (SDM Vol. 1 §8.1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Control(pub u16);

impl Control {
    /// The control word after FNINIT: all exceptions masked, 64-bit precision, nearest-even.
    pub const DEFAULT: Control = Control(0x037F);

    /// The rounding control field.
    pub fn rounding(self) -> Rounding {
        match (self.0 >> 10) & 3 {
            0 => Rounding::NearestEven,
            1 => Rounding::Down,
            2 => Rounding::Up,
            _ => Rounding::TowardZero,
        }
    }

    /// Significand precision in bits selected by the precision control field (FCW bits 8..9):
    /// 00 selects 24 bits, 10 selects 53 bits, 11 selects 64 bits. The reserved encoding 01
    /// behaves like 64 bits on the host processors measured.
    pub fn precision(self) -> u32 {
        match (self.0 >> 8) & 3 {
            0 => 24,
            2 => 53,
            _ => 64,
        }
    }

    /// The same control word with a different rounding control.
    pub fn with_rounding(self, rc: Rounding) -> Control {
        let bits = match rc {
            Rounding::NearestEven => 0,
            Rounding::Down => 1,
            Rounding::Up => 2,
            Rounding::TowardZero => 3,
        };
        Control((self.0 & !0x0C00) | (bits << 10))
    }

    /// The same control word with 64-bit precision control (operations that ignore PC).
    pub fn with_full_precision(self) -> Control {
        Control(self.0 | 0x0300)
    }

    /// True when the exceptions in `flags` (FSW exception bits) are all masked.
    pub fn masked(self, flags: Flags) -> bool {
        flags.0 & Flags::EXCEPTIONS & !self.0 == 0
    }
}

/// Status flags raised by an operation, in their FSW bit positions (SDM Vol. 1 §8.1.3):
/// the six exception flags, and the condition code bits an operation defines (C1 for
/// "rounded up", C0/C2/C3 for comparisons, classification and partial remainders).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// Invalid operation.
    pub const IE: u16 = 1 << 0;
    /// Denormal operand.
    pub const DE: u16 = 1 << 1;
    /// Zero divide.
    pub const ZE: u16 = 1 << 2;
    /// Overflow.
    pub const OE: u16 = 1 << 3;
    /// Underflow.
    pub const UE: u16 = 1 << 4;
    /// Precision (inexact result).
    pub const PE: u16 = 1 << 5;
    /// The six exception flags.
    pub const EXCEPTIONS: u16 = 0x3F;
    /// Condition code C0.
    pub const C0: u16 = 1 << 8;
    /// Condition code C1.
    pub const C1: u16 = 1 << 9;
    /// Condition code C2.
    pub const C2: u16 = 1 << 10;
    /// Condition code C3.
    pub const C3: u16 = 1 << 14;
    /// All four condition code bits.
    pub const CC: u16 = Self::C0 | Self::C1 | Self::C2 | Self::C3;

    /// True if any of `bits` is set.
    pub fn has(self, bits: u16) -> bool {
        self.0 & bits != 0
    }

    /// Adds `bits`.
    pub fn set(&mut self, bits: u16) {
        self.0 |= bits;
    }
}

/// A value produced by an operation together with the flags it raised.
///
/// When `flags` holds an unmasked invalid-operation, zero-divide or denormal-operand exception
/// the x87 leaves the destination unchanged; the caller checks that with [`Control::masked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Res<T> {
    /// The result value (the masked response where an exception was raised).
    pub value: T,
    /// The flags raised.
    pub flags: Flags,
}

impl<T> Res<T> {
    /// A result with flags.
    pub fn new(value: T, flags: Flags) -> Res<T> {
        Res { value, flags }
    }
}
