//! Rounding: the four MXCSR rounding modes, unpacking to a normalized
//! significand, and `round_pack`, the single place where a precise result
//! becomes a binary32/binary64 with overflow, underflow (tininess after
//! rounding), FTZ and the inexact flag.

use super::{exp_field, mxcsr, Env, Format};

/// An IEEE rounding direction (MXCSR.RC encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Round to nearest, ties to even (RC = 00).
    Nearest,
    /// Round toward negative infinity (RC = 01).
    Down,
    /// Round toward positive infinity (RC = 10).
    Up,
    /// Round toward zero (RC = 11).
    Zero,
}

impl Rounding {
    /// Decodes a two-bit RC field (higher bits ignored).
    #[inline(always)]
    pub fn from_rc(rc: u32) -> Self {
        match rc & 3 {
            0 => Rounding::Nearest,
            1 => Rounding::Down,
            2 => Rounding::Up,
            _ => Rounding::Zero,
        }
    }
}

/// Rounds `sig >> shift` to an integer in direction `rc` for a value of
/// sign `neg`. Returns the rounded integer (which may carry into a new top
/// bit) and whether any discarded bit was set.
#[inline(always)]
pub fn round_bits(sig: u128, shift: u32, rc: Rounding, neg: bool) -> (u128, bool) {
    use core::cmp::Ordering;
    let (m, rest, vs_half) = if shift == 0 {
        (sig, 0, Ordering::Less)
    } else if shift < 128 {
        let rest = sig & ((1u128 << shift) - 1);
        (sig >> shift, rest, rest.cmp(&(1u128 << (shift - 1))))
    } else if shift == 128 {
        (0, sig, sig.cmp(&(1u128 << 127)))
    } else {
        (0, sig, Ordering::Less)
    };
    let inexact = rest != 0;
    let up = match rc {
        Rounding::Nearest => {
            vs_half == Ordering::Greater || (vs_half == Ordering::Equal && m & 1 == 1)
        }
        Rounding::Down => neg && inexact,
        Rounding::Up => !neg && inexact,
        Rounding::Zero => false,
    };
    (m + up as u128, inexact)
}

/// A finite nonzero value as (sign, unbiased exponent, significand) with
/// the significand's top bit at bit `FRAC` (denormals normalized), so the
/// value is `sig * 2^(exp - FRAC)`.
#[inline(always)]
pub fn unpack<F: Format>(x: u64) -> (bool, i32, u64) {
    let neg = x & F::SIGN != 0;
    let e = exp_field::<F>(x);
    let f = x & F::FRAC_MASK;
    if e == 0 {
        let shift = f.leading_zeros() - (63 - F::FRAC);
        (neg, 1 - F::BIAS - shift as i32, f << shift)
    } else {
        (neg, e as i32 - F::BIAS, f | 1 << F::FRAC)
    }
}

/// Rounds the value `sig * 2^(exp - 127)` (with `sig`'s top bit at bit 127,
/// or `sig == 0` for an exact zero; any discarded lower bits already ORed
/// into bit 0) to format `F` in the MXCSR rounding mode, raising OE, UE and
/// PE and applying FTZ.
#[inline]
pub fn round_pack<F: Format>(env: &mut Env, neg: bool, exp: i32, sig: u128) -> u64 {
    round_pack_rc::<F>(env, env.rounding(), neg, exp, sig)
}

/// [`round_pack`] with an explicit rounding direction.
pub fn round_pack_rc<F: Format>(
    env: &mut Env,
    rc: Rounding,
    neg: bool,
    exp: i32,
    sig: u128,
) -> u64 {
    let sbit = if neg { F::SIGN } else { 0 };
    if sig == 0 {
        return sbit;
    }
    let p = F::FRAC + 1;
    let biased = exp + F::BIAS;
    // Round to full precision with an unbounded exponent.
    let (mut m, inexact) = round_bits(sig, 128 - p, rc, neg);
    let mut be = biased;
    if m >> p != 0 {
        m >>= 1;
        be += 1;
    }
    if be >= F::EMAX as i32 {
        if !env.masked(mxcsr::OE) {
            env.raise(mxcsr::OE | if inexact { mxcsr::PE } else { 0 });
            return sbit;
        }
        env.raise(mxcsr::OE | mxcsr::PE);
        let to_inf = match rc {
            Rounding::Nearest => true,
            Rounding::Down => neg,
            Rounding::Up => !neg,
            Rounding::Zero => false,
        };
        return sbit | if to_inf { F::INF } else { F::MAX };
    }
    if be >= 1 {
        if inexact {
            env.raise(mxcsr::PE);
        }
        return sbit | (be as u64) << F::FRAC | (m as u64 & F::FRAC_MASK);
    }
    // Tiny after rounding.
    if !env.masked(mxcsr::UE) {
        env.raise(mxcsr::UE | if inexact { mxcsr::PE } else { 0 });
        return sbit;
    }
    if env.ftz() {
        env.raise(mxcsr::UE | mxcsr::PE);
        return sbit;
    }
    // Denormal: the last kept bit has weight 2^(1 - BIAS - FRAC).
    let shift = (128 - p + 1) as i64 - biased as i64;
    let shift = shift.min(200) as u32;
    let (m, inexact) = round_bits(sig, shift, rc, neg);
    if inexact {
        env.raise(mxcsr::UE | mxcsr::PE);
    }
    // m <= 2^FRAC; 2^FRAC encodes the smallest normal.
    sbit | m as u64
}

/// Packs an unpacked finite value (see [`unpack`]) exactly or with rounding.
#[inline(always)]
pub fn pack_unpacked<F: Format>(env: &mut Env, neg: bool, exp: i32, sig: u64) -> u64 {
    round_pack::<F>(env, neg, exp, (sig as u128) << (127 - F::FRAC))
}
