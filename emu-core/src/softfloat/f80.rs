//! The 80-bit double extended-precision register format (SDM Vol. 1 §4.2.2, §8.2.2): the
//! [`F80`] type, its classification and unpacking into sign, exponent and significand.

/// An x87 80-bit extended-precision value with an explicit integer bit (significand bit 63).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct F80 {
    /// The 64-bit significand, integer bit included.
    pub signif: u64,
    /// Bit 15 is the sign, bits 0..14 the exponent biased by 16383.
    pub sign_exp: u16,
}

/// The classes of an [`F80`] encoding (SDM Vol. 1 Table 8-3 and §8.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Exponent 0, significand 0.
    Zero,
    /// Exponent 0, integer bit clear, nonzero fraction.
    Denormal,
    /// Exponent 0 with the integer bit set (valid as an operand, raises #D).
    PseudoDenormal,
    /// Exponent 1..=0x7FFE with the integer bit set.
    Normal,
    /// Exponent 0x7FFF, significand 0x8000_0000_0000_0000.
    Infinity,
    /// Exponent 0x7FFF, integer bit and quiet bit set.
    QNan,
    /// Exponent 0x7FFF, integer bit set, quiet bit clear, nonzero fraction.
    SNan,
    /// Unnormals, pseudo-NaNs and pseudo-infinities: an integer bit clear with a nonzero
    /// exponent. Unsupported since the 387; operations raise invalid-operation.
    Unsupported,
}

/// Exponent bias of the 80-bit format.
pub(crate) const BIAS: i32 = 16383;
/// Integer bit of the significand.
pub(crate) const INT_BIT: u64 = 1 << 63;
/// Quiet bit of a NaN significand.
pub(crate) const QUIET_BIT: u64 = 1 << 62;

/// A finite nonzero value unpacked as `(-1)^sign * sig * 2^(exp - 63)` with `sig`'s bit 63 set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unpacked {
    pub sign: bool,
    /// Unbiased exponent of significand bit 63.
    pub exp: i32,
    pub sig: u64,
}

impl F80 {
    /// +0.0.
    pub const ZERO: F80 = F80::new(false, 0, 0);
    /// +1.0.
    pub const ONE: F80 = F80::new(false, 0x3FFF, INT_BIT);
    /// +infinity.
    pub const INFINITY: F80 = F80::new(false, 0x7FFF, INT_BIT);
    /// The default QNaN "real indefinite" (SDM Vol. 1 Table 4-3): negative, quiet bit only.
    pub const INDEFINITE: F80 = F80::new(true, 0x7FFF, 0xC000_0000_0000_0000);

    /// Builds a value from its sign, biased exponent and significand.
    pub const fn new(sign: bool, exp: u16, signif: u64) -> F80 {
        F80 {
            signif,
            sign_exp: ((sign as u16) << 15) | (exp & 0x7FFF),
        }
    }

    /// Reads the little-endian 10-byte memory image.
    pub fn from_bytes(b: [u8; 10]) -> F80 {
        let mut lo = [0u8; 8];
        lo.copy_from_slice(&b[..8]);
        F80 {
            signif: u64::from_le_bytes(lo),
            sign_exp: u16::from_le_bytes([b[8], b[9]]),
        }
    }

    /// The little-endian 10-byte memory image.
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.signif.to_le_bytes());
        b[8..].copy_from_slice(&self.sign_exp.to_le_bytes());
        b
    }

    /// The sign bit.
    pub fn sign(self) -> bool {
        self.sign_exp & 0x8000 != 0
    }

    /// The biased exponent field.
    pub fn exp(self) -> u16 {
        self.sign_exp & 0x7FFF
    }

    /// The same value with the sign flipped (FCHS).
    pub fn negated(self) -> F80 {
        F80 {
            signif: self.signif,
            sign_exp: self.sign_exp ^ 0x8000,
        }
    }

    /// The same value with the sign cleared (FABS).
    pub fn abs(self) -> F80 {
        F80 {
            signif: self.signif,
            sign_exp: self.sign_exp & 0x7FFF,
        }
    }

    /// The same value with the sign set to `sign`.
    pub fn with_sign(self, sign: bool) -> F80 {
        F80::new(sign, self.exp(), self.signif)
    }

    /// Signed zero.
    pub fn zero(sign: bool) -> F80 {
        F80::new(sign, 0, 0)
    }

    /// Signed infinity.
    pub fn infinity(sign: bool) -> F80 {
        F80::new(sign, 0x7FFF, INT_BIT)
    }

    /// Classifies the encoding.
    pub fn class(self) -> Class {
        let int = self.signif & INT_BIT != 0;
        match self.exp() {
            0 if self.signif == 0 => Class::Zero,
            0 if int => Class::PseudoDenormal,
            0 => Class::Denormal,
            0x7FFF if !int => Class::Unsupported,
            0x7FFF if self.signif << 1 == 0 => Class::Infinity,
            0x7FFF if self.signif & QUIET_BIT != 0 => Class::QNan,
            0x7FFF => Class::SNan,
            _ if int => Class::Normal,
            _ => Class::Unsupported,
        }
    }

    /// True for QNaN and SNaN.
    pub fn is_nan(self) -> bool {
        matches!(self.class(), Class::QNan | Class::SNan)
    }

    /// True for SNaN.
    pub fn is_snan(self) -> bool {
        self.class() == Class::SNan
    }

    /// True for both kinds of denormal (operands that raise the denormal exception).
    pub fn is_denormal(self) -> bool {
        matches!(self.class(), Class::Denormal | Class::PseudoDenormal)
    }

    /// True for zeros.
    pub fn is_zero(self) -> bool {
        self.class() == Class::Zero
    }

    /// The NaN with its quiet bit set.
    pub fn quieted(self) -> F80 {
        F80 {
            signif: self.signif | QUIET_BIT,
            sign_exp: self.sign_exp,
        }
    }

    /// Unpacks a finite nonzero value (normal, denormal or pseudo-denormal) into a normalized
    /// significand; returns `None` for other classes.
    pub(crate) fn unpack(self) -> Option<Unpacked> {
        match self.class() {
            Class::Normal | Class::Denormal | Class::PseudoDenormal => {
                // Denormals use the exponent of biased 1 (SDM Vol. 1 §4.8.3.2).
                let biased = i32::from(self.exp().max(1));
                let lz = self.signif.leading_zeros();
                Some(Unpacked {
                    sign: self.sign(),
                    exp: biased - BIAS - lz as i32,
                    sig: self.signif << lz,
                })
            }
            _ => None,
        }
    }
}
