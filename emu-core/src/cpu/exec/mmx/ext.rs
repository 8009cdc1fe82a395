//! The SSE, SSE2 and SSSE3 instructions on MM registers (SDM Vol. 2):
//! PSHUFW, PINSRW/PEXTRW, PMOVMSKB, PAVGB/W, PSADBW, PMINUB/PMAXUB,
//! PMINSW/PMAXSW, PMULHUW, PMULUDQ, MOVNTQ, MASKMOVQ, MOVQ2DQ/MOVDQ2Q,
//! the SSSE3 set (PSHUFB, PALIGNR, PHADD*/PHSUB*, PABS*, PSIGN*, PMADDUBSW,
//! PMULHRSW) and the conversions between MM integers and XMM floats
//! (CVTPI2PS/PD, CVT(T)PS2PI, CVT(T)PD2PI). Resolved through [`super`].
//!
//! These follow the MMX state rules of [`super`]; the conversions with a
//! memory integer source (CVTPI2PS/PD xmm, m64) are plain SSE instructions
//! that leave the x87 state alone.

use iced_x86::{Code, Instruction, OpKind, Register};

use super::{check_mmx, hwords, mm, mm_binops, mm_index, read_mm_mem, set_mm, transition, x};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::exec::sse4_int::horizontal32;
use crate::cpu::exec::sse_common::{check_sse, read_xmm_m128, read_xmm_mem, xmm_index};
use crate::cpu::exec::sse_float::convert::{from_int, to_int};
use crate::cpu::exec::sse_float::{commit, lane, with_lane, Env, Rounding, F32, F64};
use crate::cpu::exec::sse_int_lanes::*;
use crate::cpu::exec::Handler;

/// The handler for an SSE/SSSE3 instruction on MM registers, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.code() {
        Code::Pshufw_mm_mmm64_imm8 => pshufw,
        Code::Pinsrw_mm_r32m16_imm8 | Code::Pinsrw_mm_r64m16_imm8 => pinsrw,
        Code::Pextrw_r32_mm_imm8 | Code::Pextrw_r64_mm_imm8 => pextrw,
        Code::Pmovmskb_r32_mm | Code::Pmovmskb_r64_mm => pmovmskb,
        Code::Pavgb_mm_mmm64 => pavgb,
        Code::Pavgw_mm_mmm64 => pavgw,
        Code::Psadbw_mm_mmm64 => psadbw,
        Code::Pminub_mm_mmm64 => pminub,
        Code::Pmaxub_mm_mmm64 => pmaxub,
        Code::Pminsw_mm_mmm64 => pminsw,
        Code::Pmaxsw_mm_mmm64 => pmaxsw,
        Code::Pmulhuw_mm_mmm64 => pmulhuw,
        Code::Pmuludq_mm_mmm64 => pmuludq,
        Code::Movntq_m64_mm => movntq,
        Code::Maskmovq_rDI_mm_mm => maskmovq,
        Code::Movq2dq_xmm_mm => movq2dq,
        Code::Movdq2q_mm_xmm => movdq2q,
        Code::Pshufb_mm_mmm64 => pshufb,
        Code::Palignr_mm_mmm64_imm8 => palignr,
        Code::Phaddw_mm_mmm64 => phaddw,
        Code::Phaddd_mm_mmm64 => phaddd,
        Code::Phaddsw_mm_mmm64 => phaddsw,
        Code::Phsubw_mm_mmm64 => phsubw,
        Code::Phsubd_mm_mmm64 => phsubd,
        Code::Phsubsw_mm_mmm64 => phsubsw,
        Code::Pabsb_mm_mmm64 => pabsb,
        Code::Pabsw_mm_mmm64 => pabsw,
        Code::Pabsd_mm_mmm64 => pabsd,
        Code::Psignb_mm_mmm64 => psignb,
        Code::Psignw_mm_mmm64 => psignw,
        Code::Psignd_mm_mmm64 => psignd,
        Code::Pmaddubsw_mm_mmm64 => pmaddubsw,
        Code::Pmulhrsw_mm_mmm64 => pmulhrsw,
        Code::Cvtpi2ps_xmm_mmm64 => cvtpi2ps,
        Code::Cvtpi2pd_xmm_mmm64 => cvtpi2pd,
        Code::Cvtps2pi_mm_xmmm64 => cvtps2pi::<false>,
        Code::Cvttps2pi_mm_xmmm64 => cvtps2pi::<true>,
        Code::Cvtpd2pi_mm_xmmm128 => cvtpd2pi::<false>,
        Code::Cvttpd2pi_mm_xmmm128 => cvtpd2pi::<true>,
        _ => return None,
    })
}

/// PSIGN lane rule: `v` negated, zeroed or kept by the sign of `s`.
macro_rules! sign_of {
    ($v:expr, $s:expr) => {
        if $s < 0 {
            $v.wrapping_neg()
        } else if $s == 0 {
            0
        } else {
            $v
        }
    };
}

mm_binops! {
    fn pavgb(a, b) { lanes_avg_u::<8>(x(a), x(b)) as u64 }
    fn pavgw(a, b) { lanes_avg_u::<16>(x(a), x(b)) as u64 }
    /// Sum of absolute byte differences in the low word; the rest zero.
    fn psadbw(a, b) {
        let (a, b) = (bytes(x(a)), bytes(x(b)));
        (0..8).map(|k| a[k].abs_diff(b[k]) as u64).sum()
    }
    fn pminub(a, b) { lanes_minmax_u::<8, false>(x(a), x(b)) as u64 }
    fn pmaxub(a, b) { lanes_minmax_u::<8, true>(x(a), x(b)) as u64 }
    fn pminsw(a, b) { lanes_minmax_s::<16, false>(x(a), x(b)) as u64 }
    fn pmaxsw(a, b) { lanes_minmax_s::<16, true>(x(a), x(b)) as u64 }
    fn pmulhuw(a, b) { map16(x(a), x(b), |p, q| ((p as u32 * q as u32) >> 16) as u16) as u64 }
    /// Unsigned product of the low doublewords.
    fn pmuludq(a, b) { (a as u32 as u64) * (b as u32 as u64) }

    /// Byte k = destination byte (control & 7), or 0 when control bit 7 is set.
    fn pshufb(a, b) {
        let (a, b) = (bytes(x(a)), bytes(x(b)));
        (0..8).fold(0u64, |r, k| {
            let v = if b[k] & 0x80 != 0 { 0 } else { a[(b[k] & 7) as usize] };
            r | (v as u64) << (8 * k)
        })
    }
    fn phaddw(a, b) { hwords(a, b, u16::wrapping_add) }
    fn phaddd(a, b) { horizontal32(x(a) | x(b) << 64, 0, u32::wrapping_add) as u64 }
    fn phaddsw(a, b) { hwords(a, b, |p, q| (p as i16).saturating_add(q as i16) as u16) }
    fn phsubw(a, b) { hwords(a, b, u16::wrapping_sub) }
    fn phsubd(a, b) { horizontal32(x(a) | x(b) << 64, 0, u32::wrapping_sub) as u64 }
    fn phsubsw(a, b) { hwords(a, b, |p, q| (p as i16).saturating_sub(q as i16) as u16) }
    /// Absolute values of the source lanes (the minimum stays as is).
    fn pabsb(_a, b) { map8(x(b), 0, |p, _| (p as i8).unsigned_abs()) as u64 }
    fn pabsw(_a, b) { map16(x(b), 0, |p, _| (p as i16).unsigned_abs()) as u64 }
    fn pabsd(_a, b) { map32(x(b), 0, |p, _| (p as i32).unsigned_abs()) as u64 }
    fn psignb(a, b) { map8(x(a), x(b), |p, s| sign_of!(p, s as i8)) as u64 }
    fn psignw(a, b) { map16(x(a), x(b), |p, s| sign_of!(p, s as i16)) as u64 }
    fn psignd(a, b) { map32(x(a), x(b), |p, s| sign_of!(p, s as i32)) as u64 }
    /// Unsigned destination bytes times signed source bytes, pairs summed
    /// with signed saturation.
    fn pmaddubsw(a, b) {
        let (a, b) = (bytes(x(a)), bytes(x(b)));
        let p = |j: usize| a[j] as i32 * b[j] as i8 as i32;
        (0..4).fold(0u64, |r, k| r | (sat_i16(p(2 * k) + p(2 * k + 1)) as u64) << (16 * k))
    }
    /// Rounded high half: ((a * b >> 14) + 1) >> 1.
    fn pmulhrsw(a, b) {
        map16(x(a), x(b), |p, q| ((((p as i16 as i32 * q as i16 as i32) >> 14) + 1) >> 1) as u16)
            as u64
    }
}

/// `pshufw mm1, mm2/m64, imm8`: word k = source word imm8[2k+1:2k].
fn pshufw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let s = read_mm_mem(core, i, 1)?;
    let imm = i.immediate8() as u32;
    let r = (0..4).fold(0u64, |r, k| {
        let sel = (imm >> (2 * k)) & 3;
        r | ((s >> (16 * sel)) & 0xffff) << (16 * k)
    });
    set_mm(core, mm_index(i.op0_register()), r);
    Ok(())
}

/// `palignr mm1, mm2/m64, imm8`: the 128-bit destination:source shifted
/// right by imm8 bytes (zeros shifted in; imm8 >= 16 gives zero).
fn palignr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let b = read_mm_mem(core, i, 1)?;
    let d = mm_index(i.op0_register());
    let cat = x(mm(core, d)) << 64 | x(b);
    let n = i.immediate8() as u32;
    let r = if n < 16 { (cat >> (8 * n)) as u64 } else { 0 };
    set_mm(core, d, r);
    Ok(())
}

/// `pinsrw mm, r32/m16, imm8`: word imm8[1:0] = the source's low word.
fn pinsrw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let v = core.read_op(i, 1)? & 0xffff;
    let sh = 16 * (i.immediate8() & 3) as u32;
    let d = mm_index(i.op0_register());
    let r = (mm(core, d) & !(0xffff << sh)) | v << sh;
    set_mm(core, d, r);
    Ok(())
}

/// `pextrw r32/r64, mm, imm8`: word imm8[1:0], zero-extended.
fn pextrw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let v = mm(core, mm_index(i.op1_register()));
    let sh = 16 * (i.immediate8() & 3) as u32;
    core.set_reg(i.op0_register(), (v >> sh) & 0xffff);
    transition(&mut core.fpu);
    Ok(())
}

/// `pmovmskb r32/r64, mm`: the eight byte sign bits, zero-extended.
fn pmovmskb(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let v = mm(core, mm_index(i.op1_register()));
    core.set_reg(i.op0_register(), byte_signs(x(v)) as u64);
    transition(&mut core.fpu);
    Ok(())
}

/// `movntq m64, mm`: a store (the non-temporal hint has no architectural effect).
fn movntq(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let v = mm(core, mm_index(i.op1_register()));
    let addr = core.ea(i);
    core.write_u64(addr, v)?;
    transition(&mut core.fpu);
    Ok(())
}

/// `maskmovq mm1, mm2`: bytes of mm1 whose mask byte in mm2 has bit 7 set
/// are stored to [RDI] (DS, or an override segment).
fn maskmovq(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let data = mm(core, mm_index(i.op1_register())).to_le_bytes();
    let mask = mm(core, mm_index(i.op2_register())).to_le_bytes();
    let mut addr = if i.op0_kind() == OpKind::MemorySegEDI {
        core.gpr[7] & 0xffff_ffff
    } else {
        core.gpr[7]
    };
    addr = match i.memory_segment() {
        Register::FS => addr.wrapping_add(core.seg.fs_base),
        Register::GS => addr.wrapping_add(core.seg.gs_base),
        _ => addr,
    };
    // The host enters MMX state even when the store faults. As MASKMOVDQU,
    // the whole destination is checked first, whatever the mask.
    transition(&mut core.fpu);
    core.probe_write(addr, 8)?;
    for n in (0..8).filter(|&n| mask[n] & 0x80 != 0) {
        core.write_u8(addr.wrapping_add(n as u64), data[n])?;
    }
    Ok(())
}

/// `movq2dq xmm, mm`: the MM register zero-extended into the XMM register.
fn movq2dq(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    check_mmx(core)?;
    let v = mm(core, mm_index(i.op1_register()));
    core.xmm[xmm_index(i.op0_register())] = x(v);
    transition(&mut core.fpu);
    Ok(())
}

/// `movdq2q mm, xmm`: the XMM register's low quadword.
fn movdq2q(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    check_mmx(core)?;
    let v = core.xmm[xmm_index(i.op1_register())] as u64;
    set_mm(core, mm_index(i.op0_register()), v);
    Ok(())
}

// ----- conversions -------------------------------------------------------------

/// Truncation for the `cvtt` forms, else MXCSR.RC.
#[inline(always)]
fn rounding<const TRUNC: bool>(env: &Env) -> Rounding {
    if TRUNC {
        Rounding::Zero
    } else {
        env.rounding()
    }
}

/// The integer source of CVTPI2PS/PD: an MM register (an MMX instruction)
/// or an m64 (a plain SSE instruction). Returns the value and whether it
/// came from an MM register.
fn int_source(core: &mut Core, i: &Instruction) -> Result<(u64, bool), Stop> {
    check_sse(core)?;
    if i.op1_kind() == OpKind::Register {
        check_mmx(core)?;
        Ok((mm(core, mm_index(i.op1_register())), true))
    } else {
        let addr = core.ea(i);
        Ok((core.read_u64(addr)?, false))
    }
}

/// `cvtpi2ps xmm, mm/m64`: two signed doublewords to binary32 lanes 0 and 1
/// (PE when inexact); lanes 2 and 3 unchanged.
fn cvtpi2ps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (s, from_mm) = int_source(core, i)?;
    let d = xmm_index(i.op0_register());
    let mut env = Env::new(core.mxcsr);
    let mut r = core.xmm[d];
    for n in 0..2 {
        let v = (s >> (32 * n)) as u32 as i32 as i64;
        r = with_lane::<F32>(r, n, from_int::<F32>(&mut env, v));
    }
    // The host enters MMX state even when the conversion raises #XM.
    if from_mm {
        transition(&mut core.fpu);
    }
    commit(core, &env)?;
    core.xmm[d] = r;
    Ok(())
}

/// `cvtpi2pd xmm, mm/m64`: two signed doublewords to binary64 (exact).
fn cvtpi2pd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (s, from_mm) = int_source(core, i)?;
    let mut env = Env::new(core.mxcsr);
    let lo = from_int::<F64>(&mut env, s as u32 as i32 as i64);
    let hi = from_int::<F64>(&mut env, (s >> 32) as u32 as i32 as i64);
    core.xmm[xmm_index(i.op0_register())] = x(lo) | x(hi) << 64;
    if from_mm {
        transition(&mut core.fpu);
    }
    Ok(())
}

/// `cvt(t)ps2pi mm, xmm/m64`: binary32 lanes 0 and 1 to signed doublewords
/// (the integer indefinite with IE on NaN and overflow).
fn cvtps2pi<const TRUNC: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    check_mmx(core)?;
    let s = read_xmm_mem(core, i, 1)? as u64 as u128;
    let mut env = Env::new(core.mxcsr);
    let rc = rounding::<TRUNC>(&env);
    let lo = to_int::<F32>(&mut env, lane::<F32>(s, 0), 32, rc);
    let hi = to_int::<F32>(&mut env, lane::<F32>(s, 1), 32, rc);
    transition(&mut core.fpu);
    commit(core, &env)?;
    set_mm(core, mm_index(i.op0_register()), lo | hi << 32);
    Ok(())
}

/// `cvt(t)pd2pi mm, xmm/m128`: two binary64 lanes to signed doublewords
/// (a 16-byte aligned memory source).
fn cvtpd2pi<const TRUNC: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    check_mmx(core)?;
    let s = read_xmm_m128(core, i, 1, true)?;
    let mut env = Env::new(core.mxcsr);
    let rc = rounding::<TRUNC>(&env);
    let lo = to_int::<F64>(&mut env, lane::<F64>(s, 0), 32, rc);
    let hi = to_int::<F64>(&mut env, lane::<F64>(s, 1), 32, rc);
    transition(&mut core.fpu);
    commit(core, &env)?;
    set_mm(core, mm_index(i.op0_register()), lo | hi << 32);
    Ok(())
}
