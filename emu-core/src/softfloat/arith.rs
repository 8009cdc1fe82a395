//! Basic arithmetic on [`F80`]: FADD/FSUB/FMUL/FDIV/FSQRT semantics (SDM Vol. 2 instruction pages,
//! Vol. 1 §4.8.3 special operands and §4.8.3.5 NaN propagation). Results are computed exactly and
//! rounded once under precision and rounding control.

use super::f80::{Class, F80};
use super::round::{round_ext, shr_jam};
use super::{Control, Flags, Res, Rounding};

/// Picks the NaN result of an operation with at least one NaN operand (SDM Vol. 1 Table 4-7,
/// x87 column): a QNaN beats an SNaN, between two NaNs of the same kind the larger significand
/// wins, and the result is always quiet. Returns the result and whether an SNaN was seen.
pub(crate) fn pick_nan(a: F80, b: F80) -> (F80, bool) {
    let snan = a.is_snan() || b.is_snan();
    let r = match (a.is_nan(), b.is_nan()) {
        (true, true) => {
            if a.is_snan() != b.is_snan() {
                if a.is_snan() {
                    b
                } else {
                    a
                }
            } else if b.signif > a.signif || (b.signif == a.signif && !b.sign()) {
                b
            } else {
                a
            }
        }
        (true, false) => a,
        _ => b,
    };
    (r.quieted(), snan)
}

/// Screens the operands of a two-operand arithmetic operation: unsupported encodings and NaNs
/// finish the operation (`Err` with its result), an unmasked denormal operand stops it; otherwise
/// returns the flags raised so far (DE for a masked denormal operand).
pub(crate) fn screen2(a: F80, b: F80, ctl: Control) -> Result<Flags, Res<F80>> {
    screen_nan2(a, b)?;
    denormal_check(a.is_denormal() || b.is_denormal(), a, ctl)
}

/// The first half of [`screen2`]: unsupported encodings and NaNs only.
pub(crate) fn screen_nan2(a: F80, b: F80) -> Result<(), Res<F80>> {
    if a.class() == Class::Unsupported || b.class() == Class::Unsupported {
        return Err(invalid());
    }
    if a.is_nan() || b.is_nan() {
        let (r, snan) = pick_nan(a, b);
        return Err(Res::new(r, Flags(if snan { Flags::IE } else { 0 })));
    }
    Ok(())
}

/// Screens the operand of a one-operand operation, like [`screen2`].
pub(crate) fn screen1(a: F80, ctl: Control) -> Result<Flags, Res<F80>> {
    match a.class() {
        Class::Unsupported => Err(invalid()),
        Class::SNan => Err(Res::new(a.quieted(), Flags(Flags::IE))),
        Class::QNan => Err(Res::new(a, Flags::NONE)),
        _ => denormal_check(a.is_denormal(), a, ctl),
    }
}

pub(crate) fn denormal_check(denormal: bool, keep: F80, ctl: Control) -> Result<Flags, Res<F80>> {
    if !denormal {
        return Ok(Flags::NONE);
    }
    let f = Flags(Flags::DE);
    if ctl.masked(f) {
        Ok(f)
    } else {
        Err(Res::new(keep, f))
    }
}

/// The masked invalid-operation response: the real indefinite with IE.
pub(crate) fn invalid() -> Res<F80> {
    Res::new(F80::INDEFINITE, Flags(Flags::IE))
}

fn with(mut r: Res<F80>, f: Flags) -> Res<F80> {
    r.flags.set(f.0);
    r
}

/// Rounds a finite nonzero operand to the precision of `ctl` (the result of `x + 0`, `x * 1`).
pub(crate) fn round_operand(x: F80, ctl: Control) -> Res<F80> {
    match x.unpack() {
        Some(u) => round_ext(u.sign, u.exp, u128::from(u.sig) << 64, ctl),
        None => Res::new(x, Flags::NONE),
    }
}

/// FADD: `a + b`.
pub fn add(a: F80, b: F80, ctl: Control) -> Res<F80> {
    add_signed(a, b, false, ctl)
}

/// FSUB: `a - b`.
pub fn sub(a: F80, b: F80, ctl: Control) -> Res<F80> {
    add_signed(a, b, true, ctl)
}

fn add_signed(a: F80, b: F80, negate_b: bool, ctl: Control) -> Res<F80> {
    let f = match screen2(a, b, ctl) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let b = if negate_b { b.negated() } else { b };
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Infinity || cb == Class::Infinity {
        return if ca == cb && a.sign() != b.sign() {
            invalid()
        } else if ca == Class::Infinity {
            Res::new(a, f)
        } else {
            Res::new(b, f)
        };
    }
    let round_down = ctl.rounding() == Rounding::Down;
    match (a.unpack(), b.unpack()) {
        (None, None) => {
            let sign = if a.sign() == b.sign() {
                a.sign()
            } else {
                round_down
            };
            Res::new(F80::zero(sign), f)
        }
        (Some(_), None) => with(round_operand(a, ctl), f),
        (None, Some(_)) => with(round_operand(b, ctl), f),
        (Some(x), Some(y)) => {
            let (x, y) = if x.exp >= y.exp { (x, y) } else { (y, x) };
            // Bit 126 carries weight 2^x.exp; 63 guard bits below the significand.
            let sx = u128::from(x.sig) << 63;
            let sy = shr_jam(u128::from(y.sig) << 63, (x.exp - y.exp).min(200) as u32);
            let r = if x.sign == y.sign {
                round_ext(x.sign, x.exp + 1, sx + sy, ctl)
            } else if sx == sy {
                Res::new(F80::zero(round_down), Flags::NONE)
            } else if sx > sy {
                round_ext(x.sign, x.exp + 1, sx - sy, ctl)
            } else {
                round_ext(y.sign, x.exp + 1, sy - sx, ctl)
            };
            with(r, f)
        }
    }
}

/// FMUL: `a * b`.
pub fn mul(a: F80, b: F80, ctl: Control) -> Res<F80> {
    let f = match screen2(a, b, ctl) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let sign = a.sign() != b.sign();
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Infinity || cb == Class::Infinity {
        return if ca == Class::Zero || cb == Class::Zero {
            invalid()
        } else {
            Res::new(F80::infinity(sign), f)
        };
    }
    match (a.unpack(), b.unpack()) {
        (Some(x), Some(y)) => {
            let p = u128::from(x.sig) * u128::from(y.sig);
            with(round_ext(sign, x.exp + y.exp + 1, p, ctl), f)
        }
        _ => Res::new(F80::zero(sign), f),
    }
}

/// FDIV: `a / b`.
pub fn div(a: F80, b: F80, ctl: Control) -> Res<F80> {
    if let Err(r) = screen_nan2(a, b) {
        return r;
    }
    let sign = a.sign() != b.sign();
    // Zero divide and 0/0 take priority over the denormal operand exception.
    if b.is_zero() {
        return match a.class() {
            Class::Zero => invalid(),
            Class::Infinity => Res::new(F80::infinity(sign), Flags::NONE),
            _ => Res::new(F80::infinity(sign), Flags(Flags::ZE)),
        };
    }
    let f = match denormal_check(a.is_denormal() || b.is_denormal(), a, ctl) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match (a.class(), b.class()) {
        (Class::Infinity, Class::Infinity) | (Class::Zero, Class::Zero) => return invalid(),
        (Class::Infinity, _) => return Res::new(F80::infinity(sign), f),
        (_, Class::Infinity) | (Class::Zero, _) => return Res::new(F80::zero(sign), f),
        _ => {}
    }
    let (Some(x), Some(y)) = (a.unpack(), b.unpack()) else {
        return invalid();
    };
    // floor(x.sig * 2^127 / y.sig) in two 64-bit quotient steps, remainder jammed.
    let num = u128::from(x.sig) << 63;
    let d = u128::from(y.sig);
    let (q1, r1) = (num / d, num % d);
    let (q2, r2) = ((r1 << 64) / d, (r1 << 64) % d);
    let q = (q1 << 64) | q2 | u128::from(r2 != 0);
    with(round_ext(sign, x.exp - y.exp, q, ctl), f)
}

/// FSQRT: the square root of `a`.
pub fn sqrt(a: F80, ctl: Control) -> Res<F80> {
    if a.class() == Class::Infinity && !a.sign() {
        return Res::new(a, Flags::NONE);
    }
    if a.sign() && !matches!(a.class(), Class::Zero | Class::QNan | Class::SNan) {
        // Negative operands (denormals included) are invalid; IE takes priority over #D.
        return invalid();
    }
    let f = match screen1(a, ctl) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(x) = a.unpack() else {
        return Res::new(a, f);
    };
    // Make the exponent of the radicand's bit 127 even, then take a 64-bit integer root and
    // extend it by a half bit and a sticky bit from the remainder (sqrt is never exactly r+1/2).
    let (n, exp) = if x.exp & 1 != 0 {
        (u128::from(x.sig) << 64, 63 + (x.exp - 127) / 2)
    } else {
        (u128::from(x.sig) << 63, 63 + (x.exp - 126) / 2)
    };
    let r = n.isqrt();
    let rem = n - r * r;
    let q = (r << 64) | (u128::from(rem > r) << 63) | u128::from(rem != 0);
    with(round_ext(false, exp, q, ctl), f)
}

#[cfg(test)]
mod tests {
    use super::super::host;
    use super::*;

    #[test]
    fn add_matches_host() {
        host::check_binary("fadd", host::fadd, add, 40000);
    }

    #[test]
    fn sub_matches_host() {
        host::check_binary("fsub", host::fsub, sub, 40000);
    }

    #[test]
    fn subr_nan_choice_matches_host() {
        host::check_binary("fsubr", host::fsubr, |a, b, c| sub(b, a, c), 10000);
    }

    #[test]
    fn mul_matches_host() {
        host::check_binary("fmul", host::fmul, mul, 40000);
    }

    #[test]
    fn div_matches_host() {
        host::check_binary("fdiv", host::fdiv, div, 40000);
    }

    #[test]
    fn divr_matches_host() {
        host::check_binary("fdivr", host::fdivr, |a, b, c| div(b, a, c), 10000);
    }

    #[test]
    fn sqrt_matches_host() {
        host::check_unary("fsqrt", host::fsqrt, sqrt, 40000);
    }

    #[test]
    fn reserved_precision_control_behaves_as_64_bits() {
        // PC = 01 is reserved; the host rounds to 64 bits as with PC = 11.
        for (name, h, f) in [
            (
                "fadd",
                host::fadd as fn(u16, F80, F80) -> host::HostOut,
                add as fn(F80, F80, Control) -> Res<F80>,
            ),
            ("fmul", host::fmul, mul),
            ("fdiv", host::fdiv, div),
        ] {
            let mut r = host::Rng::new(0xC0FFEE);
            for k in 0..4000u16 {
                let cw = 0x017F | ((k & 3) << 10);
                let (a, b) = (r.operand(), r.operand());
                let (out, soft) = (h(cw, a, b), f(a, b, Control(cw)));
                assert_eq!(
                    (out.st0, out.fsw & 0x7F | out.fsw & Flags::C1),
                    (soft.value, soft.flags.0),
                    "{name} cw={cw:04x}"
                );
            }
        }
    }

    #[test]
    fn exact_sum_of_one_and_one_is_two() {
        let r = add(F80::ONE, F80::ONE, Control::DEFAULT);
        assert_eq!(r, Res::new(F80::new(false, 0x4000, 1 << 63), Flags::NONE));
    }
}
