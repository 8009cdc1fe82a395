//! Integer rounding and exponent manipulation: FRNDINT, FSCALE and FXTRACT (SDM Vol. 2
//! instruction pages, FSCALE's special-value table 3-42).

use super::arith::{invalid, screen1, screen2};
use super::convert::from_i64;
use super::f80::{Class, F80};
use super::round::{round_ext_fmt, shr_jam, EXT};
use super::{Control, Flags, Res, Rounding};

/// FRNDINT: rounds to an integer under the rounding control (precision control is ignored).
pub fn round_to_int(a: F80, ctl: Control) -> Res<F80> {
    let f = match screen1(a, ctl) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(x) = a.unpack() else {
        return Res::new(a, f);
    };
    if x.exp >= 63 {
        return Res::new(a, f);
    }
    let (k, inexact, up) = int_round(x.sign, x.exp, x.sig, ctl.rounding());
    let mut flags = f;
    if inexact {
        flags.set(Flags::PE);
    }
    if up {
        flags.set(Flags::C1);
    }
    let v = from_i64(k as i64).with_sign(x.sign);
    Res::new(if k == 0 { F80::zero(x.sign) } else { v }, flags)
}

/// Rounds `sig * 2^(exp - 63)` (`exp < 64`) to an integer magnitude under `rc`; returns the
/// magnitude (up to 2^64), whether it is inexact and whether the magnitude was increased.
pub(crate) fn int_round(sign: bool, exp: i32, sig: u64, rc: Rounding) -> (u128, bool, bool) {
    let frac_bits = (63 - exp) as u32;
    // Keep one half bit and a sticky bit below the integer part.
    let wide = shr_jam(u128::from(sig) << 64, frac_bits.min(200));
    let int = wide >> 64;
    let rem = wide as u64;
    if rem == 0 {
        return (int, false, false);
    }
    let half = 1u64 << 63;
    let inc = match rc {
        Rounding::NearestEven => rem > half || (rem == half && int & 1 == 1),
        Rounding::Down => sign,
        Rounding::Up => !sign,
        Rounding::TowardZero => false,
    };
    (int + u128::from(inc), true, inc)
}

/// FSCALE: `a * 2^trunc(b)`.
pub fn scale(a: F80, b: F80, ctl: Control) -> Res<F80> {
    let f = match screen2(a, b, ctl) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (ca, cb) = (a.class(), b.class());
    if cb == Class::Infinity {
        return match (ca, b.sign()) {
            (Class::Infinity, true) | (Class::Zero, false) => invalid(),
            (Class::Infinity, false) => Res::new(a, f),
            (Class::Zero, true) => Res::new(a, f),
            (_, true) => Res::new(F80::zero(a.sign()), f),
            (_, false) => Res::new(F80::infinity(a.sign()), f),
        };
    }
    let Some(x) = a.unpack() else {
        return Res::new(a, f);
    };
    let n = match b.unpack() {
        Some(y) if y.exp >= 0 => {
            let m = if y.exp > 20 {
                1 << 21
            } else {
                i64::try_from(y.sig >> (63 - y.exp)).unwrap_or(1 << 21)
            };
            if y.sign {
                -m
            } else {
                m
            }
        }
        _ => 0,
    };
    // The result is exact unless it overflows or underflows; precision control does not apply.
    let mut r = round_ext_fmt(x.sign, x.exp + n as i32, u128::from(x.sig) << 64, EXT, ctl);
    r.flags.set(f.0);
    r
}

/// FXTRACT: splits `a` into its unbiased exponent and its significand (with exponent 0);
/// returns `(exponent, significand)`. A zero gives `-inf` and the zero with #Z.
pub fn extract(a: F80, ctl: Control) -> Res<(F80, F80)> {
    let f = match screen1(a, ctl) {
        Ok(f) => f,
        Err(r) => return Res::new((r.value, r.value), r.flags),
    };
    match a.class() {
        Class::Zero => Res::new((F80::infinity(true), a), Flags(f.0 | Flags::ZE)),
        Class::Infinity => Res::new((F80::INFINITY, a), f),
        _ => match a.unpack() {
            Some(x) => Res::new(
                (from_i64(i64::from(x.exp)), F80::new(x.sign, 0x3FFF, x.sig)),
                f,
            ),
            None => Res::new((a, a), f),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::host::{self, Rng};
    use super::*;

    #[test]
    fn frndint_matches_host() {
        host::check_unary("frndint", host::frndint, round_to_int, 40000);
    }

    fn scale_gen(r: &mut Rng) -> (F80, F80) {
        let a = r.operand();
        let b = match r.below(3) {
            0 => from_i64(r.below(40000) as i64 - 20000),
            1 => F80::new(r.bool(), 0x3FFF + r.below(16) as u16, r.sig()),
            _ => r.operand(),
        };
        (a, b)
    }

    #[test]
    fn fscale_matches_host() {
        host::check(
            "fscale",
            40000,
            0x7F | Flags::C1,
            scale_gen,
            host::fscale,
            |cw, a, b| {
                let r = scale(a, b, Control(cw));
                (r.value, r.flags.0)
            },
        );
    }

    #[test]
    fn fxtract_matches_host() {
        host::check2(
            "fxtract",
            20000,
            0x7F,
            |r| (r.operand(), F80::ONE),
            host::fxtract,
            |cw, a, _| {
                let r = extract(a, Control(cw));
                (r.value.1, Some(r.value.0), r.flags.0)
            },
        );
    }
}
