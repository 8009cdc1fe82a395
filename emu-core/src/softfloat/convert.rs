//! Conversions between [`F80`] and the memory formats: binary32/binary64 (FLD/FST m32/m64),
//! signed integers (FILD/FIST/FISTTP) and packed BCD (FBLD/FBSTP); SDM Vol. 1 §4.2, §4.7,
//! §4.8.3.7 (NaN conversions) and the instruction pages' exception lists.

use super::arith::invalid;
use super::f80::{Class, F80, INT_BIT, QUIET_BIT};
use super::round::{round, Format, Rounded, F32, F64};
use super::scale::int_round;
use super::{Control, Flags, Res, Rounding};

/// An exact conversion from a signed integer (FILD).
pub fn from_i64(v: i64) -> F80 {
    if v == 0 {
        return F80::ZERO;
    }
    let m = v.unsigned_abs();
    let lz = m.leading_zeros();
    F80::new(v < 0, (16383 + 63 - lz) as u16, m << lz)
}

/// Widens an IEEE value given as sign, biased exponent and fraction (FLD m32/m64). Denormal
/// sources raise #D (an unmasked #D suppresses the load); SNaNs raise #IA and are quieted.
fn widen(sign: bool, exp: u32, frac: u64, fmt: Format, ctl: Control) -> Res<F80> {
    let frac_bits = fmt.prec - 1;
    let max_exp = (fmt.emax * 2 + 1) as u32;
    let sig = frac << (64 - frac_bits);
    if exp == max_exp {
        if frac == 0 {
            return Res::new(F80::infinity(sign), Flags::NONE);
        }
        let nan = F80::new(sign, 0x7FFF, INT_BIT | sig >> 1);
        return if nan.is_snan() {
            Res::new(nan.quieted(), Flags(Flags::IE))
        } else {
            Res::new(nan, Flags::NONE)
        };
    }
    if exp == 0 {
        if frac == 0 {
            return Res::new(F80::zero(sign), Flags::NONE);
        }
        let lz = sig.leading_zeros();
        let e = fmt.emin - 1 - lz as i32;
        let v = F80::new(sign, (e + 16383) as u16, sig << lz);
        return Res::new(v, Flags(Flags::DE));
    }
    let e = exp as i32 - fmt.emax;
    let _ = ctl;
    Res::new(
        F80::new(sign, (e + 16383) as u16, INT_BIT | sig >> 1),
        Flags::NONE,
    )
}

/// FLD m32: binary32 bits to F80 (exact).
pub fn from_f32(bits: u32, ctl: Control) -> Res<F80> {
    widen(
        bits >> 31 != 0,
        (bits >> 23) & 0xFF,
        u64::from(bits & 0x7F_FFFF),
        F32,
        ctl,
    )
}

/// FLD m64: binary64 bits to F80 (exact).
pub fn from_f64(bits: u64, ctl: Control) -> Res<F80> {
    widen(
        bits >> 63 != 0,
        ((bits >> 52) & 0x7FF) as u32,
        bits & ((1 << 52) - 1),
        F64,
        ctl,
    )
}

/// An m32 arithmetic operand widened exactly, SNaNs kept signaling (the arithmetic reports
/// them); the flag tells whether the source was a denormal (#D for the instruction).
pub fn f32_operand(bits: u32) -> (F80, bool) {
    raw_operand(from_f32(bits, Control::DEFAULT))
}

/// An m64 arithmetic operand, as [`f32_operand`].
pub fn f64_operand(bits: u64) -> (F80, bool) {
    raw_operand(from_f64(bits, Control::DEFAULT))
}

fn raw_operand(r: Res<F80>) -> (F80, bool) {
    let v = if r.flags.has(Flags::IE) {
        F80 {
            signif: r.value.signif & !QUIET_BIT,
            ..r.value
        }
    } else {
        r.value
    };
    (v, r.flags.has(Flags::DE))
}

/// Narrows to an IEEE format under the rounding control (precision control does not apply).
/// For a memory destination the caller stores nothing when an unmasked exception is raised.
fn narrow(a: F80, fmt: Format, ctl: Control) -> Res<Rounded> {
    let frac_bits = fmt.prec - 1;
    let special = |inf: bool, sig: u64, sign: bool| Rounded {
        sign,
        inf,
        exp: fmt.emax + 1,
        sig,
        flags: Flags::NONE,
    };
    match a.class() {
        Class::Unsupported => {
            let r = invalid();
            Res::new(special(false, r.value.signif, true), r.flags)
        }
        Class::QNan | Class::SNan => {
            let f = Flags(if a.is_snan() { Flags::IE } else { 0 });
            let payload = (a.signif | QUIET_BIT) & !(u64::MAX >> (frac_bits + 1));
            Res::new(special(false, payload, a.sign()), f)
        }
        Class::Infinity => Res::new(special(true, INT_BIT, a.sign()), Flags::NONE),
        Class::Zero => Res::new(
            Rounded {
                sign: a.sign(),
                inf: false,
                exp: fmt.emin,
                sig: 0,
                flags: Flags::NONE,
            },
            Flags::NONE,
        ),
        _ => {
            let Some(x) = a.unpack() else {
                return Res::new(special(false, 0, false), Flags::NONE);
            };
            let r = round(
                x.sign,
                x.exp,
                u128::from(x.sig) << 64,
                fmt,
                ctl.with_full_precision(),
            );
            // An unmasked overflow or underflow on a memory destination stores nothing and
            // reports only that exception.
            let ou = Flags(r.flags.0 & (Flags::OE | Flags::UE));
            if ou.0 != 0 && !ctl.masked(ou) {
                return Res::new(r, ou);
            }
            Res::new(r, r.flags)
        }
    }
}

/// Encodes a NaN produced by [`narrow`] (exp field all ones, payload in `sig`'s top bits).
fn nan_bits(r: &Rounded, fmt: Format) -> Option<u64> {
    if r.inf || r.exp != fmt.emax + 1 {
        return None;
    }
    let frac_bits = fmt.prec - 1;
    let exp_bits = (fmt.emax * 2 + 1) as u64;
    let frac = (r.sig << 1) >> (64 - frac_bits);
    Some(
        (u64::from(r.sign) << (frac_bits + exp_bits.count_ones())) | (exp_bits << frac_bits) | frac,
    )
}

/// FST m32: F80 to binary32 bits.
pub fn to_f32(a: F80, ctl: Control) -> Res<u32> {
    let r = narrow(a, F32, ctl);
    let bits = nan_bits(&r.value, F32).map_or_else(|| r.value.to_f32_bits(), |b| b as u32);
    Res::new(bits, r.flags)
}

/// FST m64: F80 to binary64 bits.
pub fn to_f64(a: F80, ctl: Control) -> Res<u64> {
    let r = narrow(a, F64, ctl);
    let bits = nan_bits(&r.value, F64).unwrap_or_else(|| r.value.to_f64_bits());
    Res::new(bits, r.flags)
}

/// FIST/FISTP (`truncate == false`, rounding per RC) and FISTTP (`truncate == true`): converts to
/// a signed integer of `bits` (16, 32 or 64) bits. NaNs, infinities, unsupported encodings and
/// out-of-range values raise #IA and give the integer indefinite (the most negative value).
pub fn to_int(a: F80, bits: u32, truncate: bool, ctl: Control) -> Res<i64> {
    let indefinite = i64::MIN >> (64 - bits);
    let rc = if truncate {
        Rounding::TowardZero
    } else {
        ctl.rounding()
    };
    let Some(x) = a.unpack() else {
        return match a.class() {
            Class::Zero => Res::new(0, Flags::NONE),
            _ => Res::new(indefinite, Flags(Flags::IE)),
        };
    };
    if x.exp >= 64 {
        return Res::new(indefinite, Flags(Flags::IE));
    }
    let (mag, inexact, up) = int_round(x.sign, x.exp, x.sig, rc);
    let limit = 1u128 << (bits - 1);
    if mag > limit || (mag == limit && !x.sign) {
        return Res::new(indefinite, Flags(Flags::IE));
    }
    let mut f = Flags::NONE;
    if inexact {
        f.set(Flags::PE);
    }
    if up {
        f.set(Flags::C1);
    }
    let v = if x.sign {
        (mag as i128).wrapping_neg() as i64
    } else {
        mag as i64
    };
    Res::new(v, f)
}

/// FBLD: packed BCD (18 digits, sign in bit 7 of byte 9) to F80, exactly. Invalid digits give
/// an undefined result; they are weighted as their binary value here.
pub fn from_bcd(m: [u8; 10]) -> F80 {
    let mut v: u64 = 0;
    for &byte in m[..9].iter().rev() {
        v = v * 100 + u64::from(byte >> 4) * 10 + u64::from(byte & 0xF);
    }
    let sign = m[9] & 0x80 != 0;
    if v == 0 {
        return F80::zero(sign);
    }
    from_i64(v as i64).with_sign(sign)
}

/// The packed BCD integer indefinite stored by FBSTP on #IA.
pub const BCD_INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];

/// FBSTP: rounds per RC to an integer and encodes it as packed BCD; magnitudes above
/// 10^18 - 1, NaNs, infinities and unsupported encodings raise #IA (BCD indefinite).
pub fn to_bcd(a: F80, ctl: Control) -> Res<[u8; 10]> {
    let (mag, sign, f) = match a.unpack() {
        None if a.is_zero() => (0, a.sign(), Flags::NONE),
        None => return Res::new(BCD_INDEFINITE, Flags(Flags::IE)),
        Some(x) if x.exp >= 64 => return Res::new(BCD_INDEFINITE, Flags(Flags::IE)),
        Some(x) => {
            let (mag, inexact, up) = int_round(x.sign, x.exp, x.sig, ctl.rounding());
            let mut f = Flags::NONE;
            if inexact {
                f.set(Flags::PE);
            }
            if up {
                f.set(Flags::C1);
            }
            (mag, x.sign, f)
        }
    };
    if mag >= 1_000_000_000_000_000_000 {
        return Res::new(BCD_INDEFINITE, Flags(Flags::IE));
    }
    let mut m = [0u8; 10];
    let mut v = mag as u64;
    for byte in m.iter_mut().take(9) {
        let lo = (v % 10) as u8;
        v /= 10;
        let hi = (v % 10) as u8;
        v /= 10;
        *byte = (hi << 4) | lo;
    }
    m[9] = if sign { 0x80 } else { 0 };
    Res::new(m, f)
}

/// Whether an instruction still writes its destination after raising `flags`: an unmasked
/// precision exception does not suppress the write, any other unmasked exception does.
pub fn writes(ctl: Control, flags: Flags) -> bool {
    ctl.masked(Flags(flags.0 & !Flags::PE))
}

#[cfg(test)]
mod tests {
    use super::super::host::{self, Rng};
    use super::*;

    fn mem(v: u64) -> [u8; 16] {
        let mut m = [0xA5u8; 16];
        m[..8].copy_from_slice(&v.to_le_bytes());
        m
    }

    type HostMem = fn(u16, F80, [u8; 16]) -> (host::HostOut, [u8; 16]);

    /// Runs a memory-operand differential test: `gen` makes the ST0 operand and the memory
    /// image, `soft` predicts (ST0 after, memory after, flags).
    fn run(
        name: &str,
        n: usize,
        compared: u16,
        mut gen: impl FnMut(&mut Rng) -> (F80, [u8; 16]),
        host: HostMem,
        soft: impl Fn(Control, F80, [u8; 16]) -> (Option<F80>, [u8; 16], u16),
    ) {
        let cws = host::control_words();
        let mut rng = Rng::new(0x1234_5678 ^ name.len() as u64);
        let mut bad = 0;
        let mut shown = String::new();
        for i in 0..n {
            let cw = cws[i % cws.len()];
            let (a, m) = gen(&mut rng);
            let (h, hm) = host(cw, a, m);
            let (v, sm, f) = soft(Control(cw), a, m);
            let ok = v.is_none_or(|v| v == h.st0) && sm == hm && (f ^ h.fsw) & compared == 0;
            if !ok {
                bad += 1;
                if bad <= 10 {
                    shown += &format!(
                        "\n  cw={cw:04x} a={:04x}:{:016x} m={:02x?}\n    host st0={:04x}:{:016x} m={:02x?} fsw={:04x}\n    soft st0={:?} m={:02x?} f={:04x}",
                        a.sign_exp, a.signif, m, h.st0.sign_exp, h.st0.signif, hm, h.fsw & compared, v, sm, f & compared
                    );
                }
            }
        }
        assert!(bad == 0, "{name}: {bad} of {n} cases differ:{shown}");
    }

    fn f32_gen(r: &mut Rng) -> (F80, [u8; 16]) {
        let bits = match r.below(4) {
            0 => r.next() as u32 & 0x807F_FFFF,
            1 => (r.next() as u32 & 0x807F_FFFF) | 0x7F80_0000,
            _ => r.next() as u32,
        };
        (F80::ONE, mem(u64::from(bits)))
    }

    fn f64_gen(r: &mut Rng) -> (F80, [u8; 16]) {
        let bits = match r.below(4) {
            0 => r.next() & 0x800F_FFFF_FFFF_FFFF,
            1 => (r.next() & 0x800F_FFFF_FFFF_FFFF) | 0x7FF0_0000_0000_0000,
            _ => r.next(),
        };
        (F80::ONE, mem(bits))
    }

    fn unmasked(ctl: Control, f: Flags) -> bool {
        !writes(ctl, f)
    }

    #[test]
    fn fld_m32_matches_host() {
        run("fld32", 20000, 0x7F, f32_gen, host::fld_m32, |c, _, m| {
            let r = from_f32(u32::from_le_bytes([m[0], m[1], m[2], m[3]]), c);
            (
                if unmasked(c, r.flags) {
                    None
                } else {
                    Some(r.value)
                },
                m,
                r.flags.0,
            )
        });
    }

    #[test]
    fn fld_m64_matches_host() {
        run("fld64", 20000, 0x7F, f64_gen, host::fld_m64, |c, _, m| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&m[..8]);
            let r = from_f64(u64::from_le_bytes(b), c);
            (
                if unmasked(c, r.flags) {
                    None
                } else {
                    Some(r.value)
                },
                m,
                r.flags.0,
            )
        });
    }

    fn narrow_gen(r: &mut Rng) -> (F80, [u8; 16]) {
        let a = match r.below(3) {
            0 => F80::new(r.bool(), 16383 - 126 - 30 + r.below(60) as u16, r.sig()),
            1 => F80::new(r.bool(), 16383 - 1022 - 60 + r.below(120) as u16, r.sig()),
            _ => r.operand(),
        };
        (a, mem(0x5A5A_5A5A_5A5A_5A5A))
    }

    #[test]
    fn fst_m32_matches_host() {
        run(
            "fst32",
            40000,
            0x7F | Flags::C1,
            narrow_gen,
            host::fst_m32,
            |c, a, m| {
                let r = to_f32(a, c);
                let mut out = m;
                if writes(c, r.flags) {
                    out[..4].copy_from_slice(&r.value.to_le_bytes());
                }
                (Some(a), out, r.flags.0)
            },
        );
    }

    #[test]
    fn fst_m64_matches_host() {
        run(
            "fst64",
            40000,
            0x7F | Flags::C1,
            narrow_gen,
            host::fst_m64,
            |c, a, m| {
                let r = to_f64(a, c);
                let mut out = m;
                if writes(c, r.flags) {
                    out[..8].copy_from_slice(&r.value.to_le_bytes());
                }
                (Some(a), out, r.flags.0)
            },
        );
    }

    fn int_gen(r: &mut Rng) -> (F80, [u8; 16]) {
        let a = match r.below(3) {
            0 => F80::new(r.bool(), 16383 + r.below(66) as u16, r.sig()),
            1 => F80::new(r.bool(), 16383 - 3 + r.below(6) as u16, r.sig()),
            _ => r.operand(),
        };
        (a, mem(0x5A5A_5A5A_5A5A_5A5A))
    }

    fn int_case(
        bits: u32,
        truncate: bool,
    ) -> impl Fn(Control, F80, [u8; 16]) -> (Option<F80>, [u8; 16], u16) {
        move |c, a, m| {
            let r = to_int(a, bits, truncate, c);
            let mut out = m;
            if writes(c, r.flags) {
                let bytes = r.value.to_le_bytes();
                let n = bits as usize / 8;
                out[..n].copy_from_slice(&bytes[..n]);
            }
            (None, out, r.flags.0)
        }
    }

    #[test]
    fn fist_m16_matches_host() {
        run(
            "fist16",
            40000,
            0x7F | Flags::C1,
            int_gen,
            host::fist_m16,
            int_case(16, false),
        );
    }

    #[test]
    fn fist_m32_matches_host() {
        run(
            "fist32",
            40000,
            0x7F | Flags::C1,
            int_gen,
            host::fist_m32,
            int_case(32, false),
        );
    }

    #[test]
    fn fistp_m64_matches_host() {
        run(
            "fistp64",
            40000,
            0x7F | Flags::C1,
            int_gen,
            host::fistp_m64,
            int_case(64, false),
        );
    }

    #[test]
    fn fisttp_matches_host() {
        run(
            "fisttp16",
            20000,
            0x7F | Flags::C1,
            int_gen,
            host::fisttp_m16,
            int_case(16, true),
        );
        run(
            "fisttp32",
            20000,
            0x7F | Flags::C1,
            int_gen,
            host::fisttp_m32,
            int_case(32, true),
        );
        run(
            "fisttp64",
            20000,
            0x7F | Flags::C1,
            int_gen,
            host::fisttp_m64,
            int_case(64, true),
        );
    }

    #[test]
    fn fild_m64_matches_host() {
        run(
            "fild64",
            20000,
            0x7F | Flags::C1,
            |r| (F80::ONE, mem(r.next() >> r.below(64))),
            host::fild_m64,
            |_, _, m| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&m[..8]);
                (Some(from_i64(i64::from_le_bytes(b))), m, 0)
            },
        );
    }

    fn bcd_gen(r: &mut Rng) -> (F80, [u8; 16]) {
        let mut m = [0u8; 16];
        let digits = r.below(19);
        let mut v = r.next() % 1_000_000_000_000_000_000;
        for (i, byte) in m.iter_mut().take(9).enumerate() {
            let lo = (v % 10) as u8;
            v /= 10;
            let hi = (v % 10) as u8;
            v /= 10;
            *byte = if (i as u64) * 2 < digits {
                (hi << 4) | lo
            } else {
                0
            };
        }
        m[9] = if r.bool() { 0x80 } else { 0 };
        let a = match r.below(3) {
            0 => F80::new(r.bool(), 16383 + r.below(64) as u16, r.sig()),
            1 => from_bcd(m[..10].try_into().unwrap_or([0; 10])),
            _ => r.operand(),
        };
        (a, m)
    }

    #[test]
    fn fbld_matches_host() {
        run("fbld", 20000, 0x7F, bcd_gen, host::fbld_m80, |_, _, m| {
            let mut b = [0u8; 10];
            b.copy_from_slice(&m[..10]);
            (Some(from_bcd(b)), m, 0)
        });
    }

    #[test]
    fn fbstp_matches_host() {
        run(
            "fbstp",
            40000,
            0x7F | Flags::C1,
            bcd_gen,
            host::fbstp_m80,
            |c, a, m| {
                let r = to_bcd(a, c);
                let mut out = m;
                if writes(c, r.flags) {
                    out[..10].copy_from_slice(&r.value);
                }
                (None, out, r.flags.0)
            },
        );
    }
}
