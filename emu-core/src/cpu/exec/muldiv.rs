//! Integer multiply and divide: mul, imul (one-, two- and three-operand
//! forms), div, idiv (SDM Vol. 2A/2B, "MUL", "IMUL", "DIV", "IDIV").
//!
//! Flags: mul/imul set CF = OF = "the result does not fit the destination"
//! as the SDM defines. The SDM leaves the others undefined; this follows the
//! host (AMD Zen 4), as measured by the oracle tests below: mul/imul leave
//! SF/ZF/AF/PF unchanged; div/idiv leave CF/OF unchanged, clear SF/ZF/PF and
//! set AF. div/idiv raise #DE for a zero divisor and for a quotient that
//! does not fit (including the most negative dividend divided by -1),
//! before changing anything.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{width0, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::flags::bits;

/// Picks the instantiation of a `<OP, W, MEM>` handler.
macro_rules! by_width {
    ($f:ident, $op:expr, $w:expr, $mem:expr) => {
        match ($w, $mem) {
            (8, false) => $f::<{ $op }, 8, false>,
            (8, true) => $f::<{ $op }, 8, true>,
            (16, false) => $f::<{ $op }, 16, false>,
            (16, true) => $f::<{ $op }, 16, true>,
            (32, false) => $f::<{ $op }, 32, false>,
            (32, true) => $f::<{ $op }, 32, true>,
            (_, false) => $f::<{ $op }, 64, false>,
            (_, true) => $f::<{ $op }, 64, true>,
        }
    };
}

const MUL: u8 = 0;
const IMUL: u8 = 1;
const DIV: u8 = 2;
const IDIV: u8 = 3;

/// The handler for a multiply or divide, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let w = width0(i);
    let m = match i.mnemonic() {
        Mnemonic::Mul => MUL,
        Mnemonic::Imul => IMUL,
        Mnemonic::Div => DIV,
        Mnemonic::Idiv => IDIV,
        _ => return None,
    };
    let count = i.op_count();
    if count == 1 {
        let mem = i.op0_kind() == OpKind::Memory;
        return Some(match m {
            MUL => by_width!(one_operand, MUL, w, mem),
            IMUL => by_width!(one_operand, IMUL, w, mem),
            DIV => by_width!(one_operand, DIV, w, mem),
            _ => by_width!(one_operand, IDIV, w, mem),
        });
    }
    if m != IMUL {
        return None;
    }
    // imul r, r/m [, imm]: 16, 32 or 64 bits.
    let mem = i.op1_kind() == OpKind::Memory;
    let imm = count == 3;
    Some(match (w, mem, imm) {
        (16, false, false) => imul_rm::<16, false, false>,
        (16, false, true) => imul_rm::<16, false, true>,
        (16, true, false) => imul_rm::<16, true, false>,
        (16, true, true) => imul_rm::<16, true, true>,
        (32, false, false) => imul_rm::<32, false, false>,
        (32, false, true) => imul_rm::<32, false, true>,
        (32, true, false) => imul_rm::<32, true, false>,
        (32, true, true) => imul_rm::<32, true, true>,
        (_, false, false) => imul_rm::<64, false, false>,
        (_, false, true) => imul_rm::<64, false, true>,
        (_, true, false) => imul_rm::<64, true, false>,
        (_, true, true) => imul_rm::<64, true, true>,
    })
}

/// Sign-extends the low `W` bits of `v`.
#[inline(always)]
fn sx<const W: u32>(v: u64) -> i64 {
    ((v << (64 - W)) as i64) >> (64 - W)
}

/// Sets CF = OF = `overflow`; SF/ZF/AF/PF are left as they are (as the host does).
#[inline(always)]
fn set_mul_flags(core: &mut Core, overflow: bool) {
    let v = if overflow { bits::CF | bits::OF } else { 0 };
    core.flags.set_arith(bits::CF | bits::OF, v);
}

/// mul/imul/div/idiv r/m: the implicit accumulator AL/AX/EAX/RAX (and
/// AH/DX/EDX/RDX) against a `W`-bit register or memory source.
fn one_operand<const OP: u8, const W: u32, const MEM: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let src = if MEM {
        let addr = core.ea(i);
        core.read_sized(addr, (W / 8) as usize)?
    } else {
        core.reg_w::<W>(i.op0_register())
    };
    let acc = core.gpr[0];
    // The high half of the double-width operand or result: AH for 8-bit, else rDX.
    let high = if W == 8 {
        (acc >> 8) & 0xff
    } else {
        core.gpr[2]
    };
    let (lo, hi) = match OP {
        MUL | IMUL => {
            let (lo, hi, overflow) = multiply::<W>(OP == IMUL, acc, src);
            set_mul_flags(core, overflow);
            (lo, hi)
        }
        _ => {
            let (q, r) = divide::<W>(OP == IDIV, high, acc, src)?;
            core.flags
                .set_arith(bits::SF | bits::ZF | bits::AF | bits::PF, bits::AF);
            (q, r)
        }
    };
    match W {
        8 => core.gpr[0] = (acc & !0xffff) | ((hi & 0xff) << 8) | (lo & 0xff),
        16 => {
            core.gpr[0] = (acc & !0xffff) | (lo & 0xffff);
            core.gpr[2] = (core.gpr[2] & !0xffff) | (hi & 0xffff);
        }
        32 => {
            core.gpr[0] = lo & 0xffff_ffff;
            core.gpr[2] = hi & 0xffff_ffff;
        }
        _ => {
            core.gpr[0] = lo;
            core.gpr[2] = hi;
        }
    }
    Ok(())
}

/// The double-width product of the low `W` bits of `a` and `b`, as (low,
/// high, overflow), where overflow means the product does not fit in `W`
/// bits (unsigned for mul, signed for imul).
#[inline(always)]
fn multiply<const W: u32>(signed: bool, a: u64, b: u64) -> (u64, u64, bool) {
    let m = super::mask(W);
    if W == 64 {
        if signed {
            let p = i128::from(a as i64) * i128::from(b as i64);
            let lo = p as u64;
            (lo, (p >> 64) as u64, p != i128::from(lo as i64))
        } else {
            let p = u128::from(a) * u128::from(b);
            (p as u64, (p >> 64) as u64, p >> 64 != 0)
        }
    } else if signed {
        let p = sx::<W>(a) * sx::<W>(b);
        let lo = p as u64 & m;
        (lo, (p >> W) as u64 & m, p != sx::<W>(lo))
    } else {
        let p = (a & m) * (b & m);
        (p & m, p >> W, p >> W != 0)
    }
}

/// Divides the double-width value `high:low` (low `W` bits of each) by the
/// low `W` bits of `d`, returning (quotient, remainder) or #DE.
#[inline(always)]
fn divide<const W: u32>(
    signed: bool,
    high: u64,
    low: u64,
    d: u64,
) -> Result<(u64, u64), Exception> {
    let m = super::mask(W);
    if d & m == 0 {
        return Err(Exception::DivideError);
    }
    if W == 64 {
        let n = (u128::from(high) << 64) | u128::from(low);
        if signed {
            let (n, d) = (n as i128, i128::from(d as i64));
            let q = n.checked_div(d).ok_or(Exception::DivideError)?;
            if q != i128::from(q as i64) {
                return Err(Exception::DivideError);
            }
            Ok((q as u64, (n - q * d) as u64))
        } else {
            let q = n / u128::from(d);
            if q >> 64 != 0 {
                return Err(Exception::DivideError);
            }
            Ok((q as u64, (n % u128::from(d)) as u64))
        }
    } else {
        let n = ((high & m) << W) | (low & m);
        if signed {
            // The 2W-bit dividend (W <= 32) fits i64; i64::MIN / -1 is an overflow too.
            let (n, d) = (((n << (64 - 2 * W)) as i64) >> (64 - 2 * W), sx::<W>(d));
            let q = n.checked_div(d).ok_or(Exception::DivideError)?;
            if q != sx::<W>(q as u64) {
                return Err(Exception::DivideError);
            }
            Ok((q as u64 & m, (n % d) as u64 & m))
        } else {
            let d = d & m;
            let q = n / d;
            if q > m {
                return Err(Exception::DivideError);
            }
            Ok((q, n % d))
        }
    }
}

/// imul r, r/m (`IMM` = false) and imul r, r/m, imm: a `W`-bit truncated
/// signed product; CF = OF = the truncation changed the value.
fn imul_rm<const W: u32, const MEM: bool, const IMM: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let src = if MEM {
        let addr = core.ea(i);
        core.read_sized(addr, (W / 8) as usize)?
    } else {
        core.reg_w::<W>(i.op1_register())
    };
    let dst = i.op0_register();
    let other = if IMM {
        i.immediate(2)
    } else {
        core.reg_w::<W>(dst)
    };
    let (res, overflow) = match W {
        16 => {
            let (r, o) = (src as i16).overflowing_mul(other as i16);
            (r as u16 as u64, o)
        }
        32 => {
            let (r, o) = (src as i32).overflowing_mul(other as i32);
            (r as u32 as u64, o)
        }
        _ => {
            let (r, o) = (src as i64).overflowing_mul(other as i64);
            (r as u64, o)
        }
    };
    core.set_reg_w::<W>(dst, res);
    set_mul_flags(core, overflow);
    Ok(())
}

#[cfg(test)]
mod tests {
    use iced_x86::{Code, Register};

    use super::super::int_a_testutil::*;
    use crate::cpu::Exception;

    fn widths() -> [(u32, [Code; 4]); 4] {
        [
            (
                8,
                [Code::Mul_rm8, Code::Imul_rm8, Code::Div_rm8, Code::Idiv_rm8],
            ),
            (
                16,
                [
                    Code::Mul_rm16,
                    Code::Imul_rm16,
                    Code::Div_rm16,
                    Code::Idiv_rm16,
                ],
            ),
            (
                32,
                [
                    Code::Mul_rm32,
                    Code::Imul_rm32,
                    Code::Div_rm32,
                    Code::Idiv_rm32,
                ],
            ),
            (
                64,
                [
                    Code::Mul_rm64,
                    Code::Imul_rm64,
                    Code::Div_rm64,
                    Code::Idiv_rm64,
                ],
            ),
        ]
    }

    fn sext(v: u64, w: u32) -> i128 {
        i128::from(((v << (64 - w)) as i64) >> (64 - w))
    }

    /// Whether div/idiv of the accumulator in `s` by `d` must raise #DE,
    /// computed independently of the emulator with 128-bit arithmetic.
    fn must_fault(signed: bool, w: u32, s: &State, d: u64) -> bool {
        let m = u64::MAX >> (64 - w);
        let (hi, lo) = if w == 8 {
            ((s.gpr[0] >> 8) & 0xff, s.gpr[0] & 0xff)
        } else {
            (s.gpr[2] & m, s.gpr[0] & m)
        };
        let n = (u128::from(hi) << w) | u128::from(lo);
        if d & m == 0 {
            return true;
        }
        if signed {
            let n = ((n << (128 - 2 * w)) as i128) >> (128 - 2 * w);
            let q = n / sext(d, w);
            q < -(1i128 << (w - 1)) || q >= 1i128 << (w - 1)
        } else {
            n / u128::from(d & m) > u128::from(m)
        }
    }

    /// Random high half of the dividend and a divisor, biased so that most
    /// divisions fit (the high half below the divisor, or the sign extension
    /// of the low half for idiv).
    fn div_case(rng: &mut Rng, s: &mut State, w: u32, signed: bool) -> u64 {
        let m = u64::MAX >> (64 - w);
        let d = rng.operand(w);
        let hi = if rng.below(4) == 0 {
            rng.operand(w)
        } else if signed {
            let low = if w == 8 { s.gpr[0] } else { s.gpr[0] & m };
            if (low >> (w - 1)) & 1 != 0 {
                m
            } else {
                0
            }
        } else {
            rng.below(d.max(1))
        };
        if w == 8 {
            s.gpr[0] = (s.gpr[0] & !0xff00) | ((hi & 0xff) << 8);
        } else {
            s.gpr[2] = (s.gpr[2] & !m) | hi;
        }
        d
    }

    #[test]
    fn one_operand_forms_match_host_and_fault_exactly_when_they_must() {
        let mut rng = Rng::new(21);
        let mut faults = 0;
        for (w, codes) in widths() {
            for (k, code) in codes.into_iter().enumerate() {
                for mem in [false, true] {
                    let src_idx = pick_regs(&mut rng, 1)[0];
                    let src = if mem {
                        Op::M(0x20)
                    } else {
                        Op::R(gpr_reg(src_idx, w))
                    };
                    let mut o = Oracle::new(&insn(code, &[src]));
                    for _ in 0..1500 {
                        let mut s = State::random(&mut rng, 0xff8);
                        s.gpr[0] = rng.operand(64);
                        let mut d = rng.operand(w);
                        if k >= 2 {
                            d = div_case(&mut rng, &mut s, w, k == 3);
                        }
                        if mem {
                            s.put_mem(0xff8 + 0x20, (w / 8) as usize, d);
                        } else {
                            s.gpr[src_idx] = (s.gpr[src_idx] & !(u64::MAX >> (64 - w))) | d;
                            d = s.gpr[src_idx];
                        }
                        if k >= 2 && must_fault(k == 3, w, &s, d) {
                            faults += 1;
                            o.assert_faults(&s, Exception::DivideError);
                            continue;
                        }
                        o.check(&s, 0);
                    }
                }
            }
        }
        assert!(faults > 100, "too few #DE cases: {faults}");
    }

    #[test]
    fn int_min_divided_by_minus_one_raises_de_and_changes_nothing() {
        for (w, codes) in widths() {
            let mut o = Oracle::new(&insn(codes[3], &[Op::R(gpr_reg(1, w))]));
            let m = u64::MAX >> (64 - w);
            // Dividends: INT_MIN of W bits sign-extended to 2W bits, and INT_MIN of 2W bits.
            for (hi, lo) in [(m, 1u64 << (w - 1)), (1 << (w - 1), 0)] {
                let mut s = State::random(&mut Rng::new(w.into()), 0);
                if w == 8 {
                    s.gpr[0] = (s.gpr[0] & !0xffff) | (hi << 8) | lo;
                } else {
                    s.gpr[0] = (s.gpr[0] & !m) | lo;
                    s.gpr[2] = (s.gpr[2] & !m) | hi;
                }
                s.gpr[1] |= m;
                o.assert_faults(&s, Exception::DivideError);
            }
        }
    }

    #[test]
    fn two_and_three_operand_imul_match_host() {
        let mut rng = Rng::new(22);
        let forms = [
            (16, Code::Imul_r16_rm16, None),
            (32, Code::Imul_r32_rm32, None),
            (64, Code::Imul_r64_rm64, None),
            (16, Code::Imul_r16_rm16_imm8, Some(8)),
            (32, Code::Imul_r32_rm32_imm8, Some(8)),
            (64, Code::Imul_r64_rm64_imm8, Some(8)),
            (16, Code::Imul_r16_rm16_imm16, Some(16)),
            (32, Code::Imul_r32_rm32_imm32, Some(32)),
            (64, Code::Imul_r64_rm64_imm32, Some(32)),
        ];
        for (w, code, imm) in forms {
            for mem in [false, true] {
                for _ in 0..12 {
                    let regs = pick_regs(&mut rng, 2);
                    let dst = Op::R(gpr_reg(regs[0], w));
                    // Sometimes the same register on both sides.
                    let src_idx = if rng.below(4) == 0 { regs[0] } else { regs[1] };
                    let src = if mem {
                        Op::M(rng.below(16) as i64)
                    } else {
                        Op::R(gpr_reg(src_idx, w))
                    };
                    let ops = match imm {
                        None => vec![dst, src],
                        Some(iw) => {
                            let v = rng.operand(iw);
                            // Sign-extended immediates, as the encodings define them.
                            let v = ((v << (64 - iw)) as i64 >> (64 - iw)) as i32;
                            vec![dst, src, Op::S(v)]
                        }
                    };
                    let mut o = Oracle::new(&insn(code, &ops));
                    for _ in 0..100 {
                        let mut s = State::random(&mut rng, 0xff8);
                        s.gpr[regs[0]] = rng.operand(64);
                        s.gpr[regs[1]] = rng.operand(64);
                        if mem {
                            let v = rng.operand(w);
                            for off in 0..16 {
                                s.put_mem(0xff8 + off, 1, v >> ((off % 8) * 8));
                            }
                        }
                        o.check(&s, 0);
                    }
                }
            }
        }
    }

    #[test]
    fn mul_of_high_byte_source_matches_host() {
        let mut rng = Rng::new(23);
        for code in [Code::Mul_rm8, Code::Imul_rm8, Code::Div_rm8] {
            for reg in [Register::AH, Register::CH, Register::DH] {
                let mut o = Oracle::new(&insn(code, &[Op::R(reg)]));
                for _ in 0..200 {
                    let mut s = State::random(&mut rng, 0);
                    if code == Code::Div_rm8 {
                        if reg == Register::AH {
                            continue;
                        }
                        // Keep the division from faulting: AH < divisor.
                        s.gpr[0] &= !0xff00;
                        s.gpr[1] |= 0xff00;
                        s.gpr[2] |= 0xff00;
                    }
                    o.check(&s, 0);
                }
            }
        }
    }

    #[test]
    fn unmapped_divisor_faults_with_page_fault_before_divide_error() {
        // div qword [rbx + 0x2000]: past the scratch mapping; the divisor would be 0 too.
        let mut o = Oracle::new(&insn(Code::Div_rm64, &[Op::M(MEM_LEN as i64)]));
        let s = State::random(&mut Rng::new(4), 0);
        let addr = Oracle::data_addr(MEM_LEN as u64);
        o.assert_faults(
            &s,
            Exception::PageFault {
                addr,
                error_code: 4,
            },
        );
    }
}
