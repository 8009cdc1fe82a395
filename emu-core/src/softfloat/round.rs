//! Rounding of exact intermediate results to a destination format (SDM Vol. 1 §4.8.4, §4.9.1.4,
//! §4.9.1.5, §8.5.4, §8.5.5): precision control, the four rounding modes, overflow and underflow
//! with their masked and unmasked responses, and the "rounded up" indication (C1).

use super::f80::{BIAS, F80, INT_BIT};
use super::{Control, Flags, Res, Rounding};

/// A destination format for rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    /// Significand bits the result is rounded to (precision control for register results).
    pub prec: u32,
    /// Unbiased exponent of the smallest normal.
    pub emin: i32,
    /// Unbiased exponent of the largest finite value.
    pub emax: i32,
    /// Exponent adjustment applied to unmasked overflow/underflow results (SDM Vol. 1 §8.5.4).
    pub wrap: i32,
}

/// The 80-bit register format with 64-bit precision.
pub(crate) const EXT: Format = Format {
    prec: 64,
    emin: -16382,
    emax: 16383,
    wrap: 24576,
};
/// IEEE binary64.
pub(crate) const F64: Format = Format {
    prec: 53,
    emin: -1022,
    emax: 1023,
    wrap: 1536,
};
/// IEEE binary32.
pub(crate) const F32: Format = Format {
    prec: 24,
    emin: -126,
    emax: 127,
    wrap: 192,
};

impl Format {
    /// The 80-bit register format rounded to the precision control of `ctl`.
    pub fn ext(ctl: Control) -> Format {
        Format {
            prec: ctl.precision(),
            ..EXT
        }
    }
}

/// A rounded finite or infinite result in a format-neutral layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rounded {
    pub sign: bool,
    /// True for an infinite result.
    pub inf: bool,
    /// Unbiased exponent of significand bit 63 (`emin` for denormals and zero).
    pub exp: i32,
    /// Significand with the integer bit at bit 63; clear for denormals, zero for zero.
    pub sig: u64,
    pub flags: Flags,
}

impl Rounded {
    /// Encodes as an 80-bit register value.
    pub fn to_f80(self) -> F80 {
        if self.inf {
            F80::infinity(self.sign)
        } else if self.sig & INT_BIT == 0 {
            F80::new(self.sign, 0, self.sig)
        } else {
            F80::new(self.sign, (self.exp + BIAS) as u16, self.sig)
        }
    }

    /// Encodes as binary64 bits.
    pub fn to_f64_bits(self) -> u64 {
        let sign = u64::from(self.sign) << 63;
        if self.inf {
            sign | 0x7FF0_0000_0000_0000
        } else if self.sig & INT_BIT == 0 {
            sign | (self.sig >> 11)
        } else {
            sign | (((self.exp + 1023) as u64) << 52) | ((self.sig >> 11) & ((1 << 52) - 1))
        }
    }

    /// Encodes as binary32 bits.
    pub fn to_f32_bits(self) -> u32 {
        let sign = u32::from(self.sign) << 31;
        if self.inf {
            sign | 0x7F80_0000
        } else if self.sig & INT_BIT == 0 {
            sign | (self.sig >> 40) as u32
        } else {
            sign | (((self.exp + 127) as u32) << 23) | ((self.sig >> 40) as u32 & ((1 << 23) - 1))
        }
    }
}

/// Shifts right, folding the bits shifted out into bit 0 ("jamming") so rounding still sees them.
pub(crate) fn shr_jam(v: u128, n: u32) -> u128 {
    if n == 0 {
        v
    } else if n >= 128 {
        u128::from(v != 0)
    } else {
        (v >> n) | u128::from(v & ((1u128 << n) - 1) != 0)
    }
}

/// Whether a value with the given sign rounds away from zero when inexact, given whether the
/// discarded part is above, at or below half an ulp (`cmp_half`) and the kept LSB.
fn increments(rc: Rounding, sign: bool, cmp_half: core::cmp::Ordering, lsb_odd: bool) -> bool {
    use core::cmp::Ordering::*;
    match rc {
        Rounding::NearestEven => cmp_half == Greater || (cmp_half == Equal && lsb_odd),
        Rounding::Down => sign,
        Rounding::Up => !sign,
        Rounding::TowardZero => false,
    }
}

/// Drops the low `drop` bits (1..=127) of `sig` per `rc`; returns the kept bits, whether the
/// result is inexact and whether it was incremented.
fn round_at(sig: u128, drop: u32, rc: Rounding, sign: bool) -> (u128, bool, bool) {
    let rem = sig & ((1u128 << drop) - 1);
    let kept = sig >> drop;
    if rem == 0 {
        return (kept, false, false);
    }
    let half = 1u128 << (drop - 1);
    let inc = increments(rc, sign, rem.cmp(&half), kept & 1 == 1);
    (kept + u128::from(inc), true, inc)
}

/// Rounds `(-1)^sign * sig * 2^(exp - 127)` (`sig` normalized: bit 127 set; bits below the
/// precision may carry a jammed sticky bit) to `fmt` under `ctl`'s rounding mode and masks.
///
/// Tininess is detected after rounding (on the result rounded with an unbounded exponent), and
/// the masked underflow response denormalizes with a single rounding, as the x87 does.
pub(crate) fn round(sign: bool, exp: i32, sig: u128, fmt: Format, ctl: Control) -> Rounded {
    debug_assert!(sig >> 127 == 1);
    let rc = ctl.rounding();
    let p = fmt.prec;
    let mut flags = Flags::NONE;
    let (mut kept, inexact, up) = round_at(sig, 128 - p, rc, sign);
    let mut e = exp;
    if kept >> p != 0 {
        kept >>= 1;
        e += 1;
    }
    let normal_sig = (kept << (64 - p)) as u64;
    let mark = |flags: &mut Flags, inexact: bool, up: bool| {
        if inexact {
            flags.set(Flags::PE);
        }
        if up {
            flags.set(Flags::C1);
        }
    };
    if e > fmt.emax {
        flags.set(Flags::OE);
        if !ctl.masked(Flags(Flags::OE)) {
            if e - fmt.wrap > fmt.emax {
                // Still out of range after wrapping (only FSCALE gets here): infinity.
                flags.set(Flags::PE | Flags::C1);
                return Rounded {
                    sign,
                    inf: true,
                    exp: fmt.emax + 1,
                    sig: INT_BIT,
                    flags,
                };
            }
            mark(&mut flags, inexact, up);
            return Rounded {
                sign,
                inf: false,
                exp: e - fmt.wrap,
                sig: normal_sig,
                flags,
            };
        }
        flags.set(Flags::PE);
        let to_inf = match rc {
            Rounding::NearestEven => true,
            Rounding::TowardZero => false,
            Rounding::Down => sign,
            Rounding::Up => !sign,
        };
        if to_inf {
            flags.set(Flags::C1);
            return Rounded {
                sign,
                inf: true,
                exp: fmt.emax + 1,
                sig: INT_BIT,
                flags,
            };
        }
        let max = !0u64 << (64 - p);
        return Rounded {
            sign,
            inf: false,
            exp: fmt.emax,
            sig: max,
            flags,
        };
    }
    if e < fmt.emin {
        if !ctl.masked(Flags(Flags::UE)) {
            flags.set(Flags::UE);
            if e + fmt.wrap < fmt.emin {
                // Still out of range after wrapping (only FSCALE gets here): zero.
                flags.set(Flags::PE);
                return Rounded {
                    sign,
                    inf: false,
                    exp: fmt.emin,
                    sig: 0,
                    flags,
                };
            }
            mark(&mut flags, inexact, up);
            return Rounded {
                sign,
                inf: false,
                exp: e + fmt.wrap,
                sig: normal_sig,
                flags,
            };
        }
        // Denormalize: shift to the format's minimum exponent, then round once at the
        // precision-control position of that exponent (the host rounds an 80-bit denormal
        // under PC=24 to a multiple of 2^(emin-23), not to 24 significant bits).
        let shifted = shr_jam(sig, (fmt.emin - exp) as u32);
        let drop = 128 - p;
        let (k, inexact, up) = round_at(shifted, drop, rc, sign);
        if inexact {
            flags.set(Flags::UE);
        }
        mark(&mut flags, inexact, up);
        let sig = (k << (drop - 64)) as u64;
        return Rounded {
            sign,
            inf: false,
            exp: fmt.emin,
            sig,
            flags,
        };
    }
    mark(&mut flags, inexact, up);
    Rounded {
        sign,
        inf: false,
        exp: e,
        sig: normal_sig,
        flags,
    }
}

/// Rounds an exact value given as a possibly unnormalized 128-bit significand (`sig == 0` for an
/// exact zero, which takes `zero_sign`) to the 80-bit register format under `ctl`.
pub(crate) fn round_ext(sign: bool, exp: i32, sig: u128, ctl: Control) -> Res<F80> {
    round_ext_fmt(sign, exp, sig, Format::ext(ctl), ctl)
}

/// [`round_ext`] with an explicit format (for operations that ignore precision control).
pub(crate) fn round_ext_fmt(
    sign: bool,
    exp: i32,
    sig: u128,
    fmt: Format,
    ctl: Control,
) -> Res<F80> {
    if sig == 0 {
        return Res::new(F80::zero(sign), Flags::NONE);
    }
    let lz = sig.leading_zeros();
    let r = round(sign, exp - lz as i32, sig << lz, fmt, ctl);
    Res::new(r.to_f80(), r.flags)
}
