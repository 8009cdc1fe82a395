//! Conversions: float to integer (rounding or truncating, with the integer
//! indefinite on NaN and overflow), integer to float, binary32 <-> binary64,
//! and rounding to an integral value (ROUNDSS/ROUNDPD).

use super::round::{round_bits, round_pack, round_pack_rc, unpack, Rounding};
use super::{
    exp_field, is_denormal, is_inf, is_nan, is_snan, is_zero, mxcsr, quiet, Env, Format, F32, F64,
};

/// Converts `x` to a signed integer of `bits` (32 or 64) with rounding
/// `rc`. NaNs and out-of-range values raise IE and give the integer
/// indefinite (only the sign bit set); inexact results raise PE. DAZ
/// applies; denormals never raise DE.
pub fn to_int<F: Format>(env: &mut Env, x: u64, bits: u32, rc: Rounding) -> u64 {
    let indefinite = 1u64 << (bits - 1);
    let x = env.operand::<F>(x);
    if is_nan::<F>(x) || is_inf::<F>(x) {
        env.raise(mxcsr::IE);
        return indefinite;
    }
    if is_zero::<F>(x) {
        return 0;
    }
    let (neg, e, m) = unpack::<F>(x);
    if e >= bits as i32 {
        env.raise(mxcsr::IE);
        return indefinite;
    }
    let sig = (m as u128) << (127 - F::FRAC);
    let (n, inexact) = round_bits(sig, (127 - e) as u32, rc, neg);
    let limit = if neg {
        indefinite as u128
    } else {
        indefinite as u128 - 1
    };
    if n > limit {
        env.raise(mxcsr::IE);
        return indefinite;
    }
    if inexact {
        env.raise(mxcsr::PE);
    }
    let v = if neg {
        (n as u64).wrapping_neg()
    } else {
        n as u64
    };
    if bits == 32 {
        v & 0xffff_ffff
    } else {
        v
    }
}

/// Converts the signed integer `v` to format `F` (PE when inexact).
pub fn from_int<F: Format>(env: &mut Env, v: i64) -> u64 {
    if v == 0 {
        return 0;
    }
    let mag = v.unsigned_abs() as u128;
    let lz = mag.leading_zeros();
    round_pack::<F>(env, v < 0, 127 - lz as i32, mag << lz)
}

/// CVTSS2SD / CVTPS2PD: exact widening (IE and quieting for SNaN, DE for
/// denormals unless DAZ).
pub fn f32_to_f64(env: &mut Env, x: u64) -> u64 {
    let x = env.operand::<F32>(x);
    let s = if x & F32::SIGN != 0 { F64::SIGN } else { 0 };
    if is_nan::<F32>(x) {
        if is_snan::<F32>(x) {
            env.raise(mxcsr::IE);
        }
        return s | F64::INF | F64::QUIET | (x & F32::FRAC_MASK) << (F64::FRAC - F32::FRAC);
    }
    if is_inf::<F32>(x) {
        return s | F64::INF;
    }
    if is_zero::<F32>(x) {
        return s;
    }
    if is_denormal::<F32>(x) {
        env.raise(mxcsr::DE);
    }
    let (_, e, m) = unpack::<F32>(x);
    s | ((e + F64::BIAS) as u64) << F64::FRAC | (m << (F64::FRAC - F32::FRAC)) & F64::FRAC_MASK
}

/// CVTSD2SS / CVTPD2PS: rounding narrowing (NaN payloads keep their top
/// bits; OE, UE, PE and FTZ as for arithmetic).
pub fn f64_to_f32(env: &mut Env, x: u64) -> u64 {
    let x = env.operand::<F64>(x);
    let s = if x & F64::SIGN != 0 { F32::SIGN } else { 0 };
    if is_nan::<F64>(x) {
        if is_snan::<F64>(x) {
            env.raise(mxcsr::IE);
        }
        return s | F32::INF | F32::QUIET | (x & F64::FRAC_MASK) >> (F64::FRAC - F32::FRAC);
    }
    if is_inf::<F64>(x) {
        return s | F32::INF;
    }
    if is_zero::<F64>(x) {
        return s;
    }
    if is_denormal::<F64>(x) {
        env.raise(mxcsr::DE);
    }
    let (neg, e, m) = unpack::<F64>(x);
    round_pack::<F32>(env, neg, e, (m as u128) << (127 - F64::FRAC))
}

/// ROUNDSS/ROUNDPD: rounds `x` to an integral value in direction `rc`.
/// SNaN raises IE (quieted); DAZ applies, DE is never raised; PE is raised
/// for inexact results unless `suppress_pe` (imm8 bit 3).
pub fn round_to_int<F: Format>(env: &mut Env, x: u64, rc: Rounding, suppress_pe: bool) -> u64 {
    let x = env.operand::<F>(x);
    if is_nan::<F>(x) {
        if is_snan::<F>(x) {
            env.raise(mxcsr::IE);
        }
        return quiet::<F>(x);
    }
    if is_inf::<F>(x) || is_zero::<F>(x) || exp_field::<F>(x) >= (F::BIAS + F::FRAC as i32) as u64 {
        return x;
    }
    let (neg, e, m) = unpack::<F>(x);
    let sig = (m as u128) << (127 - F::FRAC);
    let (n, inexact) = round_bits(sig, (127 - e) as u32, rc, neg);
    if inexact && !suppress_pe {
        env.raise(mxcsr::PE);
    }
    if n == 0 {
        return x & F::SIGN;
    }
    // n < 2^(FRAC + 1): packing is exact and raises nothing.
    let lz = n.leading_zeros();
    round_pack_rc::<F>(env, rc, neg, 127 - lz as i32, n << lz)
}
