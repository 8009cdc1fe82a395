//! Arithmetic lane operations: add, sub, mul, div, sqrt, min, max.
//!
//! Each takes the raw operands (first source first), applies DAZ, handles
//! NaNs, infinities and zeros with the x86 flag rules (see the module docs
//! of `sse_float`), and rounds the exact result once through `round_pack`.

use super::round::{round_pack, unpack, Rounding};
use super::{is_denormal, is_inf, is_nan, is_zero, mxcsr, Env, Format};

/// Shifts right by `d`, ORing every discarded bit into bit 0.
#[inline(always)]
fn shift_right_jam(x: u128, d: u32) -> u128 {
    if d == 0 {
        x
    } else if d >= 128 {
        (x != 0) as u128
    } else {
        (x >> d) | ((x & ((1u128 << d) - 1)) != 0) as u128
    }
}

/// Raises DE when either operand is a denormal.
#[inline(always)]
fn denormal_check<F: Format>(env: &mut Env, a: u64, b: u64) {
    if is_denormal::<F>(a) || is_denormal::<F>(b) {
        env.raise(mxcsr::DE);
    }
}

/// `a + b`.
#[inline]
pub fn add<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    add_sub::<F>(env, a, b, false)
}

/// `a - b`.
#[inline]
pub fn sub<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    add_sub::<F>(env, a, b, true)
}

fn add_sub<F: Format>(env: &mut Env, a: u64, b: u64, negate: bool) -> u64 {
    let a = env.operand::<F>(a);
    let b = env.operand::<F>(b);
    if is_nan::<F>(a) || is_nan::<F>(b) {
        return env.nan2::<F>(a, b);
    }
    let b = if negate { b ^ F::SIGN } else { b };
    let (ia, ib) = (is_inf::<F>(a), is_inf::<F>(b));
    if ia && ib && (a ^ b) & F::SIGN != 0 {
        return env.invalid::<F>();
    }
    denormal_check::<F>(env, a, b);
    if ia {
        return a;
    }
    if ib {
        return b;
    }
    let (za, zb) = (is_zero::<F>(a), is_zero::<F>(b));
    if za && zb {
        let neg = if (a ^ b) & F::SIGN == 0 {
            a & F::SIGN != 0
        } else {
            env.rounding() == Rounding::Down
        };
        return if neg { F::SIGN } else { 0 };
    }
    if za || zb {
        // x + 0 is x, but a denormal x still goes through rounding (FTZ).
        let x = if za { b } else { a };
        let (neg, e, m) = unpack::<F>(x);
        return round_pack::<F>(env, neg, e, (m as u128) << (127 - F::FRAC));
    }
    let (mut sa, mut ea, ma) = unpack::<F>(a);
    let (mut sb, mut eb, mb) = unpack::<F>(b);
    let mut xa = (ma as u128) << (125 - F::FRAC);
    let mut xb = (mb as u128) << (125 - F::FRAC);
    if (eb, mb) > (ea, ma) {
        core::mem::swap(&mut sa, &mut sb);
        core::mem::swap(&mut ea, &mut eb);
        core::mem::swap(&mut xa, &mut xb);
    }
    let xb = shift_right_jam(xb, (ea - eb) as u32);
    let sum = if sa == sb { xa + xb } else { xa - xb };
    if sum == 0 {
        let neg = env.rounding() == Rounding::Down;
        return if neg { F::SIGN } else { 0 };
    }
    let lz = sum.leading_zeros();
    round_pack::<F>(env, sa, ea + 2 - lz as i32, sum << lz)
}

/// `a * b`.
pub fn mul<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    let a = env.operand::<F>(a);
    let b = env.operand::<F>(b);
    if is_nan::<F>(a) || is_nan::<F>(b) {
        return env.nan2::<F>(a, b);
    }
    let sbit = (a ^ b) & F::SIGN;
    let (ia, ib) = (is_inf::<F>(a), is_inf::<F>(b));
    let (za, zb) = (is_zero::<F>(a), is_zero::<F>(b));
    if (ia && zb) || (ib && za) {
        return env.invalid::<F>();
    }
    denormal_check::<F>(env, a, b);
    if ia || ib {
        return sbit | F::INF;
    }
    if za || zb {
        return sbit;
    }
    let (_, ea, ma) = unpack::<F>(a);
    let (_, eb, mb) = unpack::<F>(b);
    let p = ma as u128 * mb as u128;
    let lz = p.leading_zeros();
    let exp = ea + eb - 2 * F::FRAC as i32 + 127 - lz as i32;
    round_pack::<F>(env, sbit != 0, exp, p << lz)
}

/// `a / b`.
pub fn div<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    let a = env.operand::<F>(a);
    let b = env.operand::<F>(b);
    if is_nan::<F>(a) || is_nan::<F>(b) {
        return env.nan2::<F>(a, b);
    }
    let sbit = (a ^ b) & F::SIGN;
    let (ia, ib) = (is_inf::<F>(a), is_inf::<F>(b));
    let (za, zb) = (is_zero::<F>(a), is_zero::<F>(b));
    if (ia && ib) || (za && zb) {
        return env.invalid::<F>();
    }
    if zb && !ia {
        env.raise(mxcsr::ZE);
        return sbit | F::INF;
    }
    denormal_check::<F>(env, a, b);
    if ia {
        return sbit | F::INF;
    }
    if ib || za {
        return sbit;
    }
    let (_, ea, ma) = unpack::<F>(a);
    let (_, eb, mb) = unpack::<F>(b);
    let num = (ma as u128) << 74;
    let den = mb as u128;
    let q = (num / den) | (!num.is_multiple_of(den)) as u128;
    let lz = q.leading_zeros();
    round_pack::<F>(env, sbit != 0, ea - eb - 74 + 127 - lz as i32, q << lz)
}

/// `sqrt(a)`.
pub fn sqrt<F: Format>(env: &mut Env, a: u64) -> u64 {
    let a = env.operand::<F>(a);
    if is_nan::<F>(a) {
        return env.nan2::<F>(a, a);
    }
    if is_zero::<F>(a) {
        return a;
    }
    if a & F::SIGN != 0 {
        return env.invalid::<F>();
    }
    if is_inf::<F>(a) {
        return a;
    }
    denormal_check::<F>(env, a, a);
    let (_, ea, ma) = unpack::<F>(a);
    // value = ma * 2^e2; scale the radicand up by an amount keeping the
    // exponent even, so the integer root carries > FRAC + 2 bits.
    let e2 = ea - F::FRAC as i32;
    let mut k = 126 - F::FRAC as i32;
    if (e2 - k) & 1 != 0 {
        k -= 1;
    }
    let rad = (ma as u128) << k;
    let r = rad.isqrt();
    let r = r | (r * r != rad) as u128;
    let lz = r.leading_zeros();
    round_pack::<F>(env, false, (e2 - k) / 2 + 127 - lz as i32, r << lz)
}

/// MINSS/MINPD semantics: `a < b ? a : b`; with any NaN operand (IE, even
/// for QNaNs) or two zeros, the second operand `b` unchanged.
pub fn min<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    min_max::<F>(env, a, b, false)
}

/// MAXSS/MAXPD semantics: `a > b ? a : b`, else `b` (see [`min`]).
pub fn max<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    min_max::<F>(env, a, b, true)
}

fn min_max<F: Format>(env: &mut Env, a: u64, b: u64, is_max: bool) -> u64 {
    let a = env.operand::<F>(a);
    let b = env.operand::<F>(b);
    if is_nan::<F>(a) || is_nan::<F>(b) {
        env.raise(mxcsr::IE);
        return b;
    }
    denormal_check::<F>(env, a, b);
    let pick_a = if is_max {
        less::<F>(b, a)
    } else {
        less::<F>(a, b)
    };
    if pick_a {
        a
    } else {
        b
    }
}

/// `a < b` for non-NaN operands (zeros of either sign compare equal).
#[inline(always)]
pub fn less<F: Format>(a: u64, b: u64) -> bool {
    let (na, nb) = (a & F::SIGN != 0, b & F::SIGN != 0);
    let (ma, mb) = (a & !F::SIGN, b & !F::SIGN);
    if ma == 0 && mb == 0 {
        return false;
    }
    match (na, nb) {
        (false, false) => ma < mb,
        (true, true) => ma > mb,
        (true, false) => true,
        (false, true) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::exec::sse_float::oracle::{rand_f32, rand_f64, Rng};
    use crate::cpu::exec::sse_float::{mxcsr, F32, F64};

    /// With all exceptions masked and round-to-nearest, IEEE 754 fixes every
    /// finite and infinite result; Rust's own arithmetic is the oracle (NaN
    /// results are x86-specific and checked against the host elsewhere).
    #[test]
    fn nearest_results_equal_ieee_754() {
        let mut rng = Rng::new(7);
        for _ in 0..100_000 {
            let (a, b) = (rand_f64(&mut rng), rand_f64(&mut rng));
            let (x, y) = (f64::from_bits(a), f64::from_bits(b));
            let mut env = Env::new(mxcsr::DEFAULT);
            for (ours, ieee) in [
                (add::<F64>(&mut env, a, b), x + y),
                (sub::<F64>(&mut env, a, b), x - y),
                (mul::<F64>(&mut env, a, b), x * y),
                (div::<F64>(&mut env, a, b), x / y),
                (sqrt::<F64>(&mut env, a), x.sqrt()),
            ] {
                if !ieee.is_nan() {
                    assert_eq!(ours, ieee.to_bits(), "{a:#x} {b:#x}");
                }
            }
            let (a, b) = (rand_f32(&mut rng) as u64, rand_f32(&mut rng) as u64);
            let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
            for (ours, ieee) in [
                (add::<F32>(&mut env, a, b), x + y),
                (mul::<F32>(&mut env, a, b), x * y),
                (div::<F32>(&mut env, a, b), x / y),
                (sqrt::<F32>(&mut env, a), x.sqrt()),
            ] {
                if !ieee.is_nan() {
                    assert_eq!(ours, ieee.to_bits() as u64, "{a:#x} {b:#x}");
                }
            }
        }
    }

    #[test]
    fn directed_rounding_brackets_the_exact_sum() {
        // 1 + 2^-60 is between 1 and its successor.
        let (one, tiny) = (0x3ff0_0000_0000_0000u64, 0x3c30_0000_0000_0000u64);
        let run = |rc: u32| {
            let mut env = Env::new(mxcsr::DEFAULT | rc << mxcsr::RC_SHIFT);
            (add::<F64>(&mut env, one, tiny), env.flags)
        };
        assert_eq!(run(0), (one, mxcsr::PE));
        assert_eq!(run(1), (one, mxcsr::PE));
        assert_eq!(run(2), (one + 1, mxcsr::PE));
        assert_eq!(run(3), (one, mxcsr::PE));
    }

    #[test]
    fn exact_cancellation_gives_minus_zero_only_rounding_down() {
        let a = 0x4000_0000u64;
        let mut env = Env::new(mxcsr::DEFAULT);
        assert_eq!(sub::<F32>(&mut env, a, a), 0);
        let mut env = Env::new(mxcsr::DEFAULT | 1 << mxcsr::RC_SHIFT);
        assert_eq!(sub::<F32>(&mut env, a, a), F32::SIGN);
        assert_eq!(env.flags, 0);
    }
}
