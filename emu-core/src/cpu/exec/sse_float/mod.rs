//! IEEE 754 binary32/binary64 arithmetic exactly as the SSE unit performs it
//! (checked bit for bit against an AMD Zen 4 host): a small pure-Rust soft
//! float with every MXCSR rounding mode, DAZ, FTZ and the six sticky flags.
//!
//! Values travel as raw bit patterns in a `u64` (binary32 in the low 32
//! bits); [`Format`] (implemented by [`F32`] and [`F64`]) supplies the field
//! widths. Each lane operation takes an [`Env`] holding the instruction's
//! MXCSR and accumulates the exception flags it raises; [`Env::record`] then
//! applies the x86 rules for a whole (possibly packed) instruction.
//!
//! x86 rules implemented here (SDM Vol. 1, 4.8-4.9 and 10.2.3; AMD APM
//! Vol. 1, 6.4), with the host's choices where the manuals leave room:
//! - NaN operands: the first source's NaN wins, SNaNs are quieted and raise
//!   IE; invalid operations return the default NaN (sign set, quiet bit).
//! - A NaN operand, an invalid operation or a division by zero suppresses
//!   DE; otherwise DE is raised for any denormal operand when DAZ = 0. With
//!   DAZ = 1 denormal operands are read as zeros of the same sign.
//! - Tininess is detected after rounding. Masked underflow raises UE only
//!   with PE; with FTZ a tiny result becomes a signed zero with UE and PE.
//!   Unmasked underflow/overflow raise UE/OE (plus PE when the result,
//!   rounded to full precision with an unbounded exponent, is inexact).
//! - Packed instructions: if any lane raises an unmasked IE/DE/ZE, only
//!   IE/DE/ZE are recorded (from every lane) and #XM is raised; otherwise
//!   all flags are recorded and any unmasked flag raises #XM. The
//!   destination is never written when #XM is raised.

pub mod approx;
mod approx_tables;
pub mod arith;
pub mod compare;
pub mod convert;
pub mod fast;
pub mod round;

use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::mmu::cr4;

#[cfg(test)]
pub mod oracle;

pub use round::Rounding;

/// MXCSR bits (SDM Vol. 1, 10.2.3).
pub mod mxcsr {
    /// Invalid operation flag.
    pub const IE: u32 = 1 << 0;
    /// Denormal operand flag.
    pub const DE: u32 = 1 << 1;
    /// Divide-by-zero flag.
    pub const ZE: u32 = 1 << 2;
    /// Overflow flag.
    pub const OE: u32 = 1 << 3;
    /// Underflow flag.
    pub const UE: u32 = 1 << 4;
    /// Precision (inexact) flag.
    pub const PE: u32 = 1 << 5;
    /// All six exception flags.
    pub const FLAGS: u32 = 0x3f;
    /// Flags detected before computing (they stop a packed instruction
    /// before any post-computation flag is recorded).
    pub const PRE: u32 = IE | DE | ZE;
    /// Denormals are zeros.
    pub const DAZ: u32 = 1 << 6;
    /// Shift from a flag to its mask bit (IM is bit 7).
    pub const MASK_SHIFT: u32 = 7;
    /// All six mask bits.
    pub const MASKS: u32 = FLAGS << MASK_SHIFT;
    /// Position of the two-bit rounding control.
    pub const RC_SHIFT: u32 = 13;
    /// Flush to zero.
    pub const FTZ: u32 = 1 << 15;
    /// The power-on value: all exceptions masked, round to nearest.
    pub const DEFAULT: u32 = 0x1f80;
}

/// An IEEE binary interchange format.
pub trait Format {
    /// Exponent field width.
    const EXP: u32;
    /// Fraction field width (the significand has one more bit).
    const FRAC: u32;
    /// Exponent bias.
    const BIAS: i32 = (1 << (Self::EXP - 1)) - 1;
    /// All-ones exponent field (infinities and NaNs).
    const EMAX: u64 = (1 << Self::EXP) - 1;
    /// Fraction field mask.
    const FRAC_MASK: u64 = (1 << Self::FRAC) - 1;
    /// Sign bit.
    const SIGN: u64 = 1 << (Self::EXP + Self::FRAC);
    /// Quiet bit (the top fraction bit).
    const QUIET: u64 = 1 << (Self::FRAC - 1);
    /// Positive infinity.
    const INF: u64 = Self::EMAX << Self::FRAC;
    /// The default NaN ("real indefinite"): negative, quiet, zero payload.
    const DEFAULT_NAN: u64 = Self::SIGN | Self::INF | Self::QUIET;
    /// Largest finite magnitude.
    const MAX: u64 = Self::INF - 1;
}

/// IEEE binary32.
#[derive(Debug, Clone, Copy)]
pub struct F32;
impl Format for F32 {
    const EXP: u32 = 8;
    const FRAC: u32 = 23;
}

/// IEEE binary64.
#[derive(Debug, Clone, Copy)]
pub struct F64;
impl Format for F64 {
    const EXP: u32 = 11;
    const FRAC: u32 = 52;
}

/// Sign bit set.
#[inline(always)]
pub fn sign<F: Format>(x: u64) -> bool {
    x & F::SIGN != 0
}
/// Biased exponent field.
#[inline(always)]
pub fn exp_field<F: Format>(x: u64) -> u64 {
    (x >> F::FRAC) & F::EMAX
}
/// Any NaN.
#[inline(always)]
pub fn is_nan<F: Format>(x: u64) -> bool {
    x & !F::SIGN > F::INF
}
/// A signaling NaN.
#[inline(always)]
pub fn is_snan<F: Format>(x: u64) -> bool {
    is_nan::<F>(x) && x & F::QUIET == 0
}
/// ±infinity.
#[inline(always)]
pub fn is_inf<F: Format>(x: u64) -> bool {
    x & !F::SIGN == F::INF
}
/// ±0.
#[inline(always)]
pub fn is_zero<F: Format>(x: u64) -> bool {
    x & !F::SIGN == 0
}
/// A denormal (nonzero with a zero exponent field).
#[inline(always)]
pub fn is_denormal<F: Format>(x: u64) -> bool {
    exp_field::<F>(x) == 0 && x & F::FRAC_MASK != 0
}
/// The NaN with its quiet bit set.
#[inline(always)]
pub fn quiet<F: Format>(x: u64) -> u64 {
    x | F::QUIET
}

/// The MXCSR an instruction runs under, and the flags its lanes raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    /// The MXCSR at the start of the instruction.
    pub mxcsr: u32,
    /// Exception flags raised so far (MXCSR bits 0..5).
    pub flags: u32,
}

impl Env {
    /// An environment for an instruction running under `mxcsr`.
    #[inline(always)]
    pub fn new(mxcsr: u32) -> Self {
        Self { mxcsr, flags: 0 }
    }

    /// The rounding mode of MXCSR.RC.
    #[inline(always)]
    pub fn rounding(&self) -> Rounding {
        Rounding::from_rc(self.mxcsr >> mxcsr::RC_SHIFT)
    }

    /// DAZ is set.
    #[inline(always)]
    pub fn daz(&self) -> bool {
        self.mxcsr & mxcsr::DAZ != 0
    }

    /// FTZ is set.
    #[inline(always)]
    pub fn ftz(&self) -> bool {
        self.mxcsr & mxcsr::FTZ != 0
    }

    /// The exception `flag` is masked.
    #[inline(always)]
    pub fn masked(&self, flag: u32) -> bool {
        self.mxcsr & (flag << mxcsr::MASK_SHIFT) != 0
    }

    /// Raises `flags`.
    #[inline(always)]
    pub fn raise(&mut self, flags: u32) {
        self.flags |= flags;
    }

    /// `x`, read as a zero of the same sign when it is a denormal and DAZ is set.
    #[inline(always)]
    pub fn operand<F: Format>(&self, x: u64) -> u64 {
        if self.daz() && is_denormal::<F>(x) {
            x & F::SIGN
        } else {
            x
        }
    }

    /// Records the raised flags into `mxcsr` with the x86 precedence
    /// rules. Returns `true` for an unmasked exception: the instruction must
    /// then raise #XM and leave its destination unchanged.
    #[inline(always)]
    pub fn record(&self, mxcsr: &mut u32) -> bool {
        let unmasked = self.flags & !(self.mxcsr >> mxcsr::MASK_SHIFT) & mxcsr::FLAGS;
        if unmasked & mxcsr::PRE != 0 {
            *mxcsr |= self.flags & mxcsr::PRE;
            return true;
        }
        *mxcsr |= self.flags;
        unmasked != 0
    }

    /// The result for NaN operand(s) `a` (first source) and `b`: the first
    /// NaN, quieted; IE when either is signaling.
    #[inline]
    pub fn nan2<F: Format>(&mut self, a: u64, b: u64) -> u64 {
        if is_snan::<F>(a) || is_snan::<F>(b) {
            self.raise(mxcsr::IE);
        }
        if is_nan::<F>(a) {
            quiet::<F>(a)
        } else {
            quiet::<F>(b)
        }
    }

    /// An invalid operation: IE and the default NaN.
    #[inline]
    pub fn invalid<F: Format>(&mut self) -> u64 {
        self.raise(mxcsr::IE);
        F::DEFAULT_NAN
    }
}

/// Raises the flags of `env` into the core's MXCSR; on an unmasked
/// exception returns the fault to raise: #XM when CR4.OSXMMEXCPT is set,
/// else #UD (SDM Vol. 3A, 6.15, interrupt 19).
#[inline(always)]
pub fn commit(core: &mut Core, env: &Env) -> Result<(), Stop> {
    if env.flags == 0 {
        return Ok(());
    }
    if !env.record(&mut core.mxcsr) {
        return Ok(());
    }
    Err(Stop::Fault(if core.mmu.cr4() & cr4::OSXMMEXCPT != 0 {
        Exception::SimdFloat
    } else {
        Exception::InvalidOpcode
    }))
}

/// Applies `f` to each pair of lanes of format `F` (4 binary32 or 2
/// binary64 lanes) of `a` and `b`.
#[inline(always)]
pub fn map2<F: Format>(a: u128, b: u128, mut f: impl FnMut(u64, u64) -> u64) -> u128 {
    let bits = F::EXP + F::FRAC + 1;
    let mask = (1u128 << bits) - 1;
    let mut r = 0u128;
    let mut sh = 0;
    while sh < 128 {
        let x = f(((a >> sh) & mask) as u64, ((b >> sh) & mask) as u64) as u128;
        r |= (x & mask) << sh;
        sh += bits;
    }
    r
}

/// Lane `n` of format `F` of `v`.
#[inline(always)]
pub fn lane<F: Format>(v: u128, n: u32) -> u64 {
    let bits = F::EXP + F::FRAC + 1;
    ((v >> (n * bits)) & ((1u128 << bits) - 1)) as u64
}

/// `v` with lane `n` of format `F` replaced by `x`.
#[inline(always)]
pub fn with_lane<F: Format>(v: u128, n: u32, x: u64) -> u128 {
    let bits = F::EXP + F::FRAC + 1;
    let mask = ((1u128 << bits) - 1) << (n * bits);
    (v & !mask) | ((x as u128) << (n * bits) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::GuestRam;

    fn core_with_cr4(cr4_bits: u64) -> Core {
        let mut core = Core::new(GuestRam::new(1 << 20).expect("ram"));
        core.mmu.set_cr4(cr4_bits);
        core
    }

    #[test]
    fn unmasked_exception_is_simd_fault_with_osxmmexcpt() {
        let mut core = core_with_cr4(cr4::OSFXSR | cr4::OSXMMEXCPT);
        core.mxcsr = mxcsr::DEFAULT & !(mxcsr::IE << mxcsr::MASK_SHIFT);
        let mut env = Env::new(core.mxcsr);
        env.raise(mxcsr::IE);
        assert_eq!(
            commit(&mut core, &env),
            Err(Stop::Fault(Exception::SimdFloat))
        );
        assert_eq!(core.mxcsr & mxcsr::FLAGS, mxcsr::IE);
    }

    #[test]
    fn unmasked_exception_is_invalid_opcode_without_osxmmexcpt() {
        let mut core = core_with_cr4(cr4::OSFXSR);
        core.mxcsr = mxcsr::DEFAULT & !(mxcsr::PE << mxcsr::MASK_SHIFT);
        let mut env = Env::new(core.mxcsr);
        env.raise(mxcsr::PE);
        assert_eq!(
            commit(&mut core, &env),
            Err(Stop::Fault(Exception::InvalidOpcode))
        );
    }

    #[test]
    fn masked_exceptions_only_set_sticky_flags() {
        let mut core = core_with_cr4(cr4::OSFXSR | cr4::OSXMMEXCPT);
        let mut env = Env::new(core.mxcsr);
        env.raise(mxcsr::OE | mxcsr::PE);
        assert_eq!(commit(&mut core, &env), Ok(()));
        assert_eq!(core.mxcsr, mxcsr::DEFAULT | mxcsr::OE | mxcsr::PE);
    }
}
