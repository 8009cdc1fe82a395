//! Fast paths for the commonest scalar operations (ADDSD, MULSD, ADDSS,
//! MULSS): when rounding is to nearest and both operands and the result
//! are normal, the host's own IEEE round-to-nearest arithmetic gives the
//! exact x86 result, and an error-free transformation tells whether it was
//! inexact. Anything else returns `None` and takes the soft-float path.

use super::{exp_field, mxcsr, Env, Format, F32, F64};

/// RC is round-to-nearest.
#[inline(always)]
fn nearest(env: &Env) -> bool {
    env.mxcsr & (3 << mxcsr::RC_SHIFT) == 0
}

/// The exponent field is neither 0 (zero/denormal) nor all ones.
#[inline(always)]
fn normal<F: Format>(x: u64) -> bool {
    exp_field::<F>(x).wrapping_sub(1) < F::EMAX - 1
}

/// `a + b` for binary64, if the fast path applies.
#[inline(always)]
pub fn add_f64(env: &mut Env, a: u64, b: u64) -> Option<u64> {
    if !(nearest(env) && normal::<F64>(a) && normal::<F64>(b)) {
        return None;
    }
    let (x, y) = (f64::from_bits(a), f64::from_bits(b));
    let s = x + y;
    if !normal::<F64>(s.to_bits()) {
        return None;
    }
    // TwoSum (Knuth): the exact rounding error of x + y.
    let yv = s - x;
    let err = (x - (s - yv)) + (y - yv);
    if err != 0.0 {
        env.raise(mxcsr::PE);
    }
    Some(s.to_bits())
}

/// `a + b` for binary32, if the fast path applies.
#[inline(always)]
pub fn add_f32(env: &mut Env, a: u64, b: u64) -> Option<u64> {
    if !(nearest(env) && normal::<F32>(a) && normal::<F32>(b)) {
        return None;
    }
    let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
    let s = x + y;
    if !normal::<F32>(s.to_bits() as u64) {
        return None;
    }
    let yv = s - x;
    let err = (x - (s - yv)) + (y - yv);
    if err != 0.0 {
        env.raise(mxcsr::PE);
    }
    Some(s.to_bits() as u64)
}

/// The product of two normal significands fits in `p` bits.
#[inline(always)]
fn product_exact<F: Format>(a: u64, b: u64) -> bool {
    let ma = (a & F::FRAC_MASK) | 1 << F::FRAC;
    let mb = (b & F::FRAC_MASK) | 1 << F::FRAC;
    let p = ma as u128 * mb as u128;
    128 - p.leading_zeros() - p.trailing_zeros() <= F::FRAC + 1
}

/// `a * b` for binary64, if the fast path applies.
#[inline(always)]
pub fn mul_f64(env: &mut Env, a: u64, b: u64) -> Option<u64> {
    if !(nearest(env) && normal::<F64>(a) && normal::<F64>(b)) {
        return None;
    }
    let s = f64::from_bits(a) * f64::from_bits(b);
    if !normal::<F64>(s.to_bits()) {
        return None;
    }
    if !product_exact::<F64>(a, b) {
        env.raise(mxcsr::PE);
    }
    Some(s.to_bits())
}

/// `a * b` for binary32, if the fast path applies.
#[inline(always)]
pub fn mul_f32(env: &mut Env, a: u64, b: u64) -> Option<u64> {
    if !(nearest(env) && normal::<F32>(a) && normal::<F32>(b)) {
        return None;
    }
    let s = f32::from_bits(a as u32) * f32::from_bits(b as u32);
    if !normal::<F32>(s.to_bits() as u64) {
        return None;
    }
    if !product_exact::<F32>(a, b) {
        env.raise(mxcsr::PE);
    }
    Some(s.to_bits() as u64)
}
