//! RCPPS/RCPSS and RSQRTPS/RSQRTSS: the hardware's approximate reciprocal
//! and reciprocal square root (relative error at most 1.5 * 2^-12). These
//! raise no exceptions and ignore DAZ/FTZ: denormal inputs act as zeros and
//! tiny results are flushed to zero.

use super::{is_denormal, is_inf, is_nan, is_zero, quiet, Env, Format, F32};

/// Approximate 1/x for binary32 `x`.
pub fn rcp(_env: &mut Env, x: u64) -> u64 {
    let s = x & F32::SIGN;
    if is_nan::<F32>(x) {
        return quiet::<F32>(x);
    }
    if is_zero::<F32>(x) || is_denormal::<F32>(x) {
        return s | F32::INF;
    }
    if is_inf::<F32>(x) {
        return s;
    }
    let r = 1.0 / f32::from_bits(x as u32);
    let bits = r.to_bits() as u64;
    if super::exp_field::<F32>(bits) == 0 {
        return s;
    }
    bits
}

/// Approximate 1/sqrt(x) for binary32 `x`.
pub fn rsqrt(_env: &mut Env, x: u64) -> u64 {
    let s = x & F32::SIGN;
    if is_nan::<F32>(x) {
        return quiet::<F32>(x);
    }
    if is_zero::<F32>(x) || is_denormal::<F32>(x) {
        return s | F32::INF;
    }
    if s != 0 {
        return F32::DEFAULT_NAN;
    }
    if is_inf::<F32>(x) {
        return 0;
    }
    (1.0 / f32::from_bits(x as u32).sqrt()).to_bits() as u64
}
