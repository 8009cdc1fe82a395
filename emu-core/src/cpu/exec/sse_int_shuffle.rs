//! SSE2 packed-integer shifts, packs, unpacks and shuffles on XMM registers
//! (SDM Vol. 2: PSLL*/PSRL*/PSRA* by imm8 or by an XMM/m128 count,
//! PSLLDQ/PSRLDQ, PACKSSWB/PACKSSDW/PACKUSWB, PUNPCKL*/PUNPCKH*, PSHUFD,
//! PSHUFLW/PSHUFHW, PMOVMSKB, PINSRW/PEXTRW). Resolved through `sse_int`.
//!
//! Shift counts are unsigned and not masked: a count above the lane width
//! minus one gives zero for logical shifts and all sign bits for PSRA*. A
//! count operand is the low quadword of the XMM register or of an aligned
//! m128.

use iced_x86::{Code, Instruction};

use super::sse_common::{check_sse, read_xmm_m128, xmm_index};
use super::sse_int_lanes::*;
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for an SSE2 shift/pack/unpack/shuffle instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.code() {
        Code::Psllw_xmm_imm8 => shift_imm::<SLLW>,
        Code::Pslld_xmm_imm8 => shift_imm::<SLLD>,
        Code::Psllq_xmm_imm8 => shift_imm::<SLLQ>,
        Code::Psrlw_xmm_imm8 => shift_imm::<SRLW>,
        Code::Psrld_xmm_imm8 => shift_imm::<SRLD>,
        Code::Psrlq_xmm_imm8 => shift_imm::<SRLQ>,
        Code::Psraw_xmm_imm8 => shift_imm::<SRAW>,
        Code::Psrad_xmm_imm8 => shift_imm::<SRAD>,
        Code::Pslldq_xmm_imm8 => shift_imm::<SLLDQ>,
        Code::Psrldq_xmm_imm8 => shift_imm::<SRLDQ>,
        Code::Psllw_xmm_xmmm128 => shift_xmm::<SLLW>,
        Code::Pslld_xmm_xmmm128 => shift_xmm::<SLLD>,
        Code::Psllq_xmm_xmmm128 => shift_xmm::<SLLQ>,
        Code::Psrlw_xmm_xmmm128 => shift_xmm::<SRLW>,
        Code::Psrld_xmm_xmmm128 => shift_xmm::<SRLD>,
        Code::Psrlq_xmm_xmmm128 => shift_xmm::<SRLQ>,
        Code::Psraw_xmm_xmmm128 => shift_xmm::<SRAW>,
        Code::Psrad_xmm_xmmm128 => shift_xmm::<SRAD>,
        Code::Packsswb_xmm_xmmm128 => packsswb,
        Code::Packssdw_xmm_xmmm128 => packssdw,
        Code::Packuswb_xmm_xmmm128 => packuswb,
        Code::Punpcklbw_xmm_xmmm128 => punpcklbw,
        Code::Punpckhbw_xmm_xmmm128 => punpckhbw,
        Code::Punpcklwd_xmm_xmmm128 => punpcklwd,
        Code::Punpckhwd_xmm_xmmm128 => punpckhwd,
        Code::Punpckldq_xmm_xmmm128 => punpckldq,
        Code::Punpckhdq_xmm_xmmm128 => punpckhdq,
        Code::Punpcklqdq_xmm_xmmm128 => punpcklqdq,
        Code::Punpckhqdq_xmm_xmmm128 => punpckhqdq,
        Code::Pshufd_xmm_xmmm128_imm8 => pshufd,
        Code::Pshuflw_xmm_xmmm128_imm8 => pshuflw,
        Code::Pshufhw_xmm_xmmm128_imm8 => pshufhw,
        Code::Pmovmskb_r32_xmm | Code::Pmovmskb_r64_xmm => pmovmskb,
        Code::Pinsrw_xmm_r32m16_imm8 | Code::Pinsrw_xmm_r64m16_imm8 => pinsrw,
        Code::Pextrw_r32_xmm_imm8 | Code::Pextrw_r64_xmm_imm8 => pextrw,
        _ => return None,
    })
}

pub(crate) const SLLW: u8 = 0;
pub(crate) const SLLD: u8 = 1;
pub(crate) const SLLQ: u8 = 2;
pub(crate) const SRLW: u8 = 3;
pub(crate) const SRLD: u8 = 4;
pub(crate) const SRLQ: u8 = 5;
pub(crate) const SRAW: u8 = 6;
pub(crate) const SRAD: u8 = 7;
pub(crate) const SLLDQ: u8 = 8;
pub(crate) const SRLDQ: u8 = 9;

/// `a` shifted by the unsigned count `n` as shift kind `OP`.
#[inline(always)]
pub(crate) fn shift<const OP: u8>(a: u128, n: u64) -> u128 {
    match OP {
        SLLW if n < 16 => map16(a, 0, |x, _| x << n),
        SLLD if n < 32 => map32(a, 0, |x, _| x << n),
        SLLQ if n < 64 => map64(a, 0, |x, _| x << n),
        SRLW if n < 16 => map16(a, 0, |x, _| x >> n),
        SRLD if n < 32 => map32(a, 0, |x, _| x >> n),
        SRLQ if n < 64 => map64(a, 0, |x, _| x >> n),
        SRAW => map16(a, 0, |x, _| ((x as i16) >> n.min(15)) as u16),
        SRAD => map32(a, 0, |x, _| ((x as i32) >> n.min(31)) as u32),
        SLLDQ if n < 16 => a << (8 * n),
        SRLDQ if n < 16 => a >> (8 * n),
        _ => 0,
    }
}

/// `psxx xmm, imm8`.
fn shift_imm<const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    core.xmm[d] = shift::<OP>(core.xmm[d], i.immediate8() as u64);
    Ok(())
}

/// `psxx xmm, xmm/m128`: the count is the source's low quadword.
fn shift_xmm<const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let n = read_xmm_m128(core, i, 1, true)? as u64;
    let d = xmm_index(i.op0_register());
    core.xmm[d] = shift::<OP>(core.xmm[d], n);
    Ok(())
}

/// Spreads the `64 / N` lanes of `N` bytes in `x` to every other lane of a
/// 128-bit value (lane k moves to lane 2k), zeros in between.
#[inline(always)]
fn spread<const N: u32>(x: u64) -> u128 {
    let mut v = x as u128;
    v = (v | v << 32) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    if N <= 2 {
        v = (v | v << 16) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    }
    if N == 1 {
        v = (v | v << 8) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    }
    v
}

/// Interleaves the low (`HIGH` = false) or high halves of `a` and `b` as
/// lanes of `N` bytes: a0 b0 a1 b1 ...
#[inline(always)]
pub(crate) fn unpack<const N: u32, const HIGH: bool>(a: u128, b: u128) -> u128 {
    let half = |v: u128| if HIGH { (v >> 64) as u64 } else { v as u64 };
    spread::<N>(half(a)) | spread::<N>(half(b)) << (8 * N)
}

/// PACKSSWB: the words of `a` then of `b` to bytes with signed saturation.
#[inline(always)]
pub(crate) fn pack_sswb(a: u128, b: u128) -> u128 {
    let (a, b) = (words(a), words(b));
    from_bytes(std::array::from_fn(|k| {
        let x = if k < 8 { a[k] } else { b[k - 8] };
        sat_i8(x as i16 as i32)
    }))
}

/// PACKUSWB: the signed words of `a` then of `b` to bytes with unsigned saturation.
#[inline(always)]
pub(crate) fn pack_uswb(a: u128, b: u128) -> u128 {
    let (a, b) = (words(a), words(b));
    from_bytes(std::array::from_fn(|k| {
        let x = if k < 8 { a[k] } else { b[k - 8] };
        sat_u8(x as i16 as i32)
    }))
}

/// PACKSSDW: the doublewords of `a` then of `b` to words with signed saturation.
#[inline(always)]
pub(crate) fn pack_ssdw(a: u128, b: u128) -> u128 {
    let (a, b) = (dwords(a), dwords(b));
    from_words(std::array::from_fn(|k| {
        let x = if k < 4 { a[k] } else { b[k - 4] };
        sat_i16(x as i32)
    }))
}

xmm_binops! {
    fn packsswb(a, b) { pack_sswb(a, b) }
    fn packuswb(a, b) { pack_uswb(a, b) }
    fn packssdw(a, b) { pack_ssdw(a, b) }
    fn punpcklbw(a, b) { unpack::<1, false>(a, b) }
    fn punpckhbw(a, b) { unpack::<1, true>(a, b) }
    fn punpcklwd(a, b) { unpack::<2, false>(a, b) }
    fn punpckhwd(a, b) { unpack::<2, true>(a, b) }
    fn punpckldq(a, b) { unpack::<4, false>(a, b) }
    fn punpckhdq(a, b) { unpack::<4, true>(a, b) }
    fn punpcklqdq(a, b) { from_qwords([a as u64, b as u64]) }
    fn punpckhqdq(a, b) { from_qwords([(a >> 64) as u64, (b >> 64) as u64]) }
}

/// `pshufd xmm1, xmm2/m128, imm8`: doubleword k = source[imm8 bits 2k+1:2k].
fn pshufd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let s = dwords(read_xmm_m128(core, i, 1, true)?);
    let imm = i.immediate8() as usize;
    let d = xmm_index(i.op0_register());
    core.xmm[d] = from_dwords(std::array::from_fn(|k| s[(imm >> (2 * k)) & 3]));
    Ok(())
}

/// Shuffles words 0..3 (`HIGH` = false) or 4..7 by imm8, copying the others.
fn pshufxw<const HIGH: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let s = words(read_xmm_m128(core, i, 1, true)?);
    let imm = i.immediate8() as usize;
    let base = if HIGH { 4 } else { 0 };
    let r = std::array::from_fn(|k| {
        if k / 4 == base / 4 {
            s[base + ((imm >> (2 * (k % 4))) & 3)]
        } else {
            s[k]
        }
    });
    let d = xmm_index(i.op0_register());
    core.xmm[d] = from_words(r);
    Ok(())
}

/// `pshuflw xmm1, xmm2/m128, imm8`.
fn pshuflw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    pshufxw::<false>(core, i)
}

/// `pshufhw xmm1, xmm2/m128, imm8`.
fn pshufhw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    pshufxw::<true>(core, i)
}

/// `pmovmskb r32/r64, xmm`: the byte sign bits, zero-extended.
fn pmovmskb(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = core.xmm[xmm_index(i.op1_register())];
    core.set_reg(i.op0_register(), byte_signs(v) as u64);
    Ok(())
}

/// `pinsrw xmm, r32/m16, imm8`: word imm8[2:0] = the source's low word.
fn pinsrw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = core.read_op(i, 1)? as u16;
    let k = (i.immediate8() & 7) as usize;
    let d = xmm_index(i.op0_register());
    let mut w = words(core.xmm[d]);
    w[k] = v;
    core.xmm[d] = from_words(w);
    Ok(())
}

/// `pextrw r32/r64, xmm, imm8`: word imm8[2:0], zero-extended.
fn pextrw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let w = words(core.xmm[xmm_index(i.op1_register())]);
    core.set_reg(i.op0_register(), w[(i.immediate8() & 7) as usize] as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sse_int_oracle::*;
    use iced_x86::{Code, Instruction, Register};

    const SHIFT_IMM: [Code; 10] = [
        Code::Psllw_xmm_imm8,
        Code::Pslld_xmm_imm8,
        Code::Psllq_xmm_imm8,
        Code::Psrlw_xmm_imm8,
        Code::Psrld_xmm_imm8,
        Code::Psrlq_xmm_imm8,
        Code::Psraw_xmm_imm8,
        Code::Psrad_xmm_imm8,
        Code::Pslldq_xmm_imm8,
        Code::Psrldq_xmm_imm8,
    ];

    const SHIFT_XMM: [Code; 8] = [
        Code::Psllw_xmm_xmmm128,
        Code::Pslld_xmm_xmmm128,
        Code::Psllq_xmm_xmmm128,
        Code::Psrlw_xmm_xmmm128,
        Code::Psrld_xmm_xmmm128,
        Code::Psrlq_xmm_xmmm128,
        Code::Psraw_xmm_xmmm128,
        Code::Psrad_xmm_xmmm128,
    ];

    /// A shift count: mostly around the lane widths, sometimes with high
    /// bits set (which must count, not be masked).
    fn count(rng: &mut Rng) -> u64 {
        match rng.below(8) {
            0 => rng.bits(),
            1 => 1 << (32 + rng.below(32)) | rng.below(8),
            _ => rng.below(70),
        }
    }

    #[test]
    fn shifts_by_every_imm8_match_host() {
        let mut rng = Rng::new(11);
        for code in SHIFT_IMM {
            for imm in 0..=255u32 {
                let ins = Instruction::with2(code, Register::XMM11, imm).unwrap();
                let mut o = Oracle::new(&ins);
                for _ in 0..3 {
                    o.check(&rng.state());
                }
            }
        }
    }

    #[test]
    fn shifts_by_xmm_and_m128_count_match_host() {
        let mut rng = Rng::new(12);
        for code in SHIFT_XMM {
            for (d, s) in PAIRS {
                let mut o = Oracle::new(&xmm_rm(code, d, Some(s), DISP));
                for _ in 0..200 {
                    let mut st = rng.state();
                    let hi = st.xmm[s as usize] >> 64 << 64;
                    st.xmm[s as usize] = hi | count(&mut rng) as u128;
                    o.check(&st);
                }
            }
            let mut o = Oracle::new(&xmm_rm(code, 5, None, DISP));
            for _ in 0..200 {
                let mut st = rng.state();
                let off = 16 * rng.below(4);
                st.gpr[3] = off;
                let at = (DISP as u64 + off) as usize;
                st.buf.0[at..at + 8].copy_from_slice(&count(&mut rng).to_le_bytes());
                o.check(&st);
            }
            check_mem_form(&xmm_rm(code, 5, None, DISP), 1, true, &mut rng);
        }
    }

    #[test]
    fn packs_and_unpacks_match_host() {
        let mut rng = Rng::new(13);
        for code in [
            Code::Packsswb_xmm_xmmm128,
            Code::Packssdw_xmm_xmmm128,
            Code::Packuswb_xmm_xmmm128,
            Code::Punpcklbw_xmm_xmmm128,
            Code::Punpckhbw_xmm_xmmm128,
            Code::Punpcklwd_xmm_xmmm128,
            Code::Punpckhwd_xmm_xmmm128,
            Code::Punpckldq_xmm_xmmm128,
            Code::Punpckhdq_xmm_xmmm128,
            Code::Punpcklqdq_xmm_xmmm128,
            Code::Punpckhqdq_xmm_xmmm128,
        ] {
            check_xmm_rm(code, 300, &mut rng);
        }
    }

    #[test]
    fn shuffles_with_every_imm8_match_host() {
        let mut rng = Rng::new(14);
        for code in [
            Code::Pshufd_xmm_xmmm128_imm8,
            Code::Pshuflw_xmm_xmmm128_imm8,
            Code::Pshufhw_xmm_xmmm128_imm8,
        ] {
            check_xmm_rm_imm(code, 0..=255, 2, &mut rng);
        }
    }

    #[test]
    fn pmovmskb_zero_extends_into_r32_and_r64() {
        let mut rng = Rng::new(15);
        for (code, dst) in [
            (Code::Pmovmskb_r32_xmm, Register::EAX),
            (Code::Pmovmskb_r64_xmm, Register::R9),
            (Code::Pmovmskb_r32_xmm, Register::R14D),
        ] {
            for src in [Register::XMM0, Register::XMM13] {
                let mut o = Oracle::new(&Instruction::with2(code, dst, src).unwrap());
                for _ in 0..300 {
                    o.check(&rng.state());
                }
            }
        }
    }

    #[test]
    fn pinsrw_and_pextrw_with_every_imm8_match_host() {
        let mut rng = Rng::new(16);
        for imm in 0..=255u32 {
            for (code, gpr) in [
                (Code::Pinsrw_xmm_r32m16_imm8, Register::ECX),
                (Code::Pinsrw_xmm_r64m16_imm8, Register::R10),
            ] {
                let reg = Instruction::with3(code, Register::XMM7, gpr, imm).unwrap();
                let mem = Instruction::with3(code, Register::XMM7, mem(DISP + 3), imm).unwrap();
                Oracle::new(&reg).check(&rng.state());
                check_mem_form(&mem, 2, imm == 0, &mut rng);
            }
            for (code, gpr) in [
                (Code::Pextrw_r32_xmm_imm8, Register::EDX),
                (Code::Pextrw_r64_xmm_imm8, Register::R12),
            ] {
                let ins = Instruction::with3(code, gpr, Register::XMM12, imm).unwrap();
                let mut o = Oracle::new(&ins);
                for _ in 0..2 {
                    o.check(&rng.state());
                }
            }
        }
    }
}
