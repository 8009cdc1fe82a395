//! Partial remainders: FPREM (quotient truncated, as the 8087 defined it) and FPREM1 (IEEE
//! remainder, quotient rounded to nearest even), SDM Vol. 2 "FPREM"/"FPREM1". Both are exact; an
//! exponent difference of 64 or more gives a partial reduction with C2 set.

use super::arith::{denormal_check, invalid, screen_nan2};
use super::f80::{Class, F80};
use super::round::{round_ext_fmt, EXT};
use super::{Control, Flags, Res};

/// Exponent difference reduced per step when the reduction is incomplete: the host reduces
/// `D` to `N = 32 + (D mod 32)`, so the partial quotient has at most 64 bits.
fn partial_n(d: i32) -> i32 {
    32 + (d & 31)
}

/// FPREM: remainder of `a / b` with the quotient truncated toward zero.
pub fn fprem(a: F80, b: F80, ctl: Control) -> Res<F80> {
    remainder(a, b, false, ctl)
}

/// FPREM1: IEEE remainder of `a / b` (quotient rounded to nearest, ties to even).
pub fn fprem1(a: F80, b: F80, ctl: Control) -> Res<F80> {
    remainder(a, b, true, ctl)
}

/// The quotient's three low bits as FSW condition codes: Q2 -> C0, Q1 -> C3, Q0 -> C1.
fn quotient_cc(q: u128) -> u16 {
    let mut cc = 0;
    if q & 4 != 0 {
        cc |= Flags::C0;
    }
    if q & 2 != 0 {
        cc |= Flags::C3;
    }
    if q & 1 != 0 {
        cc |= Flags::C1;
    }
    cc
}

/// A finite operand passed through as the remainder: normalized like any result (denormals and
/// pseudo-denormals re-encoded, tiny values wrapped when underflow is unmasked).
fn normalized(a: F80, ctl: Control) -> Res<F80> {
    match a.unpack() {
        Some(x) => {
            let mut r = round_ext_fmt(x.sign, x.exp, u128::from(x.sig) << 64, EXT, ctl);
            r.flags.0 &= !Flags::C1;
            r
        }
        None => Res::new(a, Flags::NONE),
    }
}

fn with_flags(mut r: Res<F80>, f: Flags) -> Res<F80> {
    r.flags.set(f.0);
    r
}

fn remainder(a: F80, b: F80, nearest: bool, ctl: Control) -> Res<F80> {
    if let Err(r) = screen_nan2(a, b) {
        return r;
    }
    // An infinite dividend or zero divisor is invalid, with priority over #D.
    if a.class() == Class::Infinity || b.is_zero() {
        return invalid();
    }
    let mut f = match denormal_check(a.is_denormal() || b.is_denormal(), a, ctl) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (Some(x), Some(y)) = (a.unpack(), b.unpack()) else {
        // Zero dividend or infinite divisor: the dividend is the remainder, quotient 0.
        return with_flags(normalized(a, ctl), f);
    };
    let d = x.exp - y.exp;
    let (num, den, unit_exp, partial) = if d >= 64 {
        let n = partial_n(d);
        (
            u128::from(x.sig) << n,
            u128::from(y.sig),
            y.exp + 64 + (d - n),
            true,
        )
    } else if d >= 0 {
        (u128::from(x.sig) << d, u128::from(y.sig), y.exp + 64, false)
    } else if d == -1 && nearest {
        (u128::from(x.sig), u128::from(y.sig) << 1, y.exp + 63, false)
    } else {
        // |a| < |b| (and < |b|/2 for FPREM1): quotient 0, remainder a exactly.
        return with_flags(normalized(a, ctl), f);
    };
    let mut q = num / den;
    let mut r = num % den;
    let mut sign = x.sign;
    if nearest && !partial && (2 * r > den || (2 * r == den && q & 1 == 1)) {
        q += 1;
        r = den - r;
        sign = !sign;
    }
    if r == 0 {
        sign = x.sign;
    }
    // `r * 2^(unit_exp - 127)` is exact; rounding only denormalizes or wraps if tiny.
    let mut res = round_ext_fmt(sign, unit_exp, r, EXT, ctl);
    res.flags.0 &= !Flags::C1;
    f.set(res.flags.0);
    if partial {
        f.set(Flags::C2);
    } else {
        f.set(quotient_cc(q));
    }
    Res::new(res.value, f)
}

#[cfg(test)]
mod tests {
    use super::super::host::{self, Rng};
    use super::*;

    fn gen(r: &mut Rng) -> (F80, F80) {
        let a = r.operand();
        let b = if r.below(3) == 0 && a.exp() > 200 && a.exp() < 0x7F00 {
            F80::new(r.bool(), a.exp() - r.below(200) as u16, r.sig())
        } else {
            r.related(a)
        };
        (a, b)
    }

    #[test]
    fn fprem_matches_host() {
        host::check(
            "fprem",
            40000,
            host::COMPARED,
            gen,
            host::fprem,
            |cw, a, b| {
                let r = fprem(a, b, Control(cw));
                (r.value, r.flags.0)
            },
        );
    }

    #[test]
    fn fprem1_matches_host() {
        host::check(
            "fprem1",
            40000,
            host::COMPARED,
            gen,
            host::fprem1,
            |cw, a, b| {
                let r = fprem1(a, b, Control(cw));
                (r.value, r.flags.0)
            },
        );
    }
}
