//! SSE4.1 floating-point instructions: ROUNDPS/PD/SS/SD, DPPS/DPPD,
//! BLENDPS/PD, BLENDVPS/PD, INSERTPS and EXTRACTPS.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::super::sse_common::{check_sse, read_xmm_m128, read_xmm_mem, xmm_index};
use super::super::sse_float::convert::round_to_int;
use super::super::sse_float::{
    arith, commit, lane, map2, with_lane, Env, Format, Rounding, F32, F64,
};
use super::super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for an SSE4.1 floating-point instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic as M;
    Some(match i.mnemonic() {
        M::Roundps => round_packed::<F32>,
        M::Roundpd => round_packed::<F64>,
        M::Roundss => round_scalar::<F32>,
        M::Roundsd => round_scalar::<F64>,
        M::Dpps => dpps,
        M::Dppd => dppd,
        M::Blendps => blend::<F32>,
        M::Blendpd => blend::<F64>,
        M::Blendvps => blendv::<F32>,
        M::Blendvpd => blendv::<F64>,
        M::Insertps => insertps,
        M::Extractps => extractps,
        _ => return None,
    })
}

/// The rounding of ROUND* imm8: bit 2 selects MXCSR.RC, else bits 1:0;
/// bit 3 suppresses the precision exception.
#[inline(always)]
fn round_mode(env: &Env, imm: u8) -> (Rounding, bool) {
    let rc = if imm & 4 != 0 {
        env.rounding()
    } else {
        Rounding::from_rc(imm as u32)
    };
    (rc, imm & 8 != 0)
}

fn round_packed<F: Format>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let mut env = Env::new(core.mxcsr);
    let (rc, quiet) = round_mode(&env, i.immediate8());
    let r = map2::<F>(b, b, |x, _| round_to_int::<F>(&mut env, x, rc, quiet));
    commit(core, &env)?;
    core.xmm[d] = r;
    Ok(())
}

fn round_scalar<F: Format>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = lane::<F>(read_xmm_mem(core, i, 1)?, 0);
    let mut env = Env::new(core.mxcsr);
    let (rc, quiet) = round_mode(&env, i.immediate8());
    let r = round_to_int::<F>(&mut env, b, rc, quiet);
    commit(core, &env)?;
    core.xmm[d] = with_lane::<F>(core.xmm[d], 0, r);
    Ok(())
}

/// The products of the lanes selected by `mask` (+0 for the others).
#[inline(always)]
fn products<F: Format, const N: u32>(env: &mut Env, a: u128, b: u128, mask: u8) -> [u64; 4] {
    let mut p = [0u64; 4];
    for (n, x) in p.iter_mut().enumerate().take(N as usize) {
        if mask >> n & 1 != 0 {
            *x = arith::mul::<F>(env, lane::<F>(a, n as u32), lane::<F>(b, n as u32));
        }
    }
    p
}

/// DPPS: (p0 + p1) + (p2 + p3) over the lanes in imm8[7:4], broadcast to
/// the lanes in imm8[3:0] (others zero).
///
/// The host performs this as three dependent SIMD steps (multiply, the two
/// pair sums, the final sum), each rounded and each checked for unmasked
/// exceptions on its own: the flags of completed steps stay recorded when
/// a later step faults, and intermediate denormals are operands (DE, DAZ)
/// of the next step.
fn dpps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let imm = i.immediate8();
    let mut env = Env::new(core.mxcsr);
    let p = products::<F32, 4>(&mut env, core.xmm[d], b, imm >> 4);
    commit(core, &env)?;
    let mut env = Env::new(core.mxcsr);
    let lo = arith::add::<F32>(&mut env, p[0], p[1]);
    let hi = arith::add::<F32>(&mut env, p[2], p[3]);
    commit(core, &env)?;
    let mut env = Env::new(core.mxcsr);
    let sum = arith::add::<F32>(&mut env, lo, hi);
    commit(core, &env)?;
    let mut r = 0u128;
    for n in 0..4 {
        if imm >> n & 1 != 0 {
            r = with_lane::<F32>(r, n, sum);
        }
    }
    core.xmm[d] = r;
    Ok(())
}

/// DPPD: p0 + p1 over the lanes in imm8[5:4], broadcast per imm8[1:0]
/// (two steps, as for DPPS).
fn dppd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let imm = i.immediate8();
    let mut env = Env::new(core.mxcsr);
    let p = products::<F64, 2>(&mut env, core.xmm[d], b, imm >> 4);
    commit(core, &env)?;
    let mut env = Env::new(core.mxcsr);
    let sum = arith::add::<F64>(&mut env, p[0], p[1]);
    commit(core, &env)?;
    let mut r = 0u128;
    for n in 0..2 {
        if imm >> n & 1 != 0 {
            r = with_lane::<F64>(r, n, sum);
        }
    }
    core.xmm[d] = r;
    Ok(())
}

/// Lanes of `b` where `select` has the lane's bit set, else of `a`.
#[inline(always)]
fn select_lanes<F: Format>(a: u128, b: u128, select: impl Fn(u32) -> bool) -> u128 {
    let lanes = 128 / (F::EXP + F::FRAC + 1);
    (0..lanes).fold(a, |r, n| {
        if select(n) {
            with_lane::<F>(r, n, lane::<F>(b, n))
        } else {
            r
        }
    })
}

fn blend<F: Format>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let imm = i.immediate8();
    core.xmm[d] = select_lanes::<F>(core.xmm[d], b, |n| imm >> n & 1 != 0);
    Ok(())
}

/// BLENDVPS/BLENDVPD: the sign bit of each lane of XMM0 selects the source.
fn blendv<F: Format>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let mask = core.xmm[0];
    core.xmm[d] = select_lanes::<F>(core.xmm[d], b, |n| lane::<F>(mask, n) & F::SIGN != 0);
    Ok(())
}

/// INSERTPS: source lane imm8[7:6] (or the m32 operand) into destination
/// lane imm8[5:4], then zero the lanes in imm8[3:0].
fn insertps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let imm = i.immediate8();
    let v = if i.op1_kind() == OpKind::Register {
        lane::<F32>(core.xmm[xmm_index(i.op1_register())], (imm >> 6) as u32)
    } else {
        read_xmm_mem(core, i, 1)? as u64
    };
    let r = with_lane::<F32>(core.xmm[d], ((imm >> 4) & 3) as u32, v);
    core.xmm[d] = select_lanes::<F32>(r, 0, |n| imm >> n & 1 != 0);
    Ok(())
}

/// EXTRACTPS: lane imm8[1:0] to r32/r64 (zero-extended) or m32.
fn extractps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = lane::<F32>(
        core.xmm[xmm_index(i.op1_register())],
        (i.immediate8() & 3) as u32,
    );
    if i.op0_kind() == OpKind::Register {
        core.set_reg(i.op0_register(), v);
    } else {
        let addr = core.ea(i);
        core.write_u32(addr, v as u32)?;
    }
    Ok(())
}
