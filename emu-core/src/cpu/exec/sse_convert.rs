//! SSE/SSE2 conversions: cvtsi2ss/sd (32/64-bit sources), cvt(t)ss2si and
//! cvt(t)sd2si (integer indefinite with IE on NaN and overflow),
//! cvtss2sd/cvtsd2ss, cvtps2pd/cvtpd2ps, cvtdq2ps/cvt(t)ps2dq and
//! cvtdq2pd/cvt(t)pd2dq. The MMX-operand forms (cvtpi2ps, cvtps2pi, ...)
//! live in `mmx::ext`.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::sse_common::{check_sse, read_xmm_m128, read_xmm_mem, xmm_index};
use super::sse_float::convert::{f32_to_f64, f64_to_f32, from_int, to_int};
use super::sse_float::{commit, lane, with_lane, Env, Format, Rounding, F32, F64};
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for an SSE conversion, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic as M;
    let mmx =
        (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Register && i.op_register(n).is_mm());
    if mmx {
        return None;
    }
    Some(match i.mnemonic() {
        M::Cvtsi2ss => cvtsi2s::<F32>,
        M::Cvtsi2sd => cvtsi2s::<F64>,
        M::Cvtss2si => cvts2si::<F32, false>,
        M::Cvttss2si => cvts2si::<F32, true>,
        M::Cvtsd2si => cvts2si::<F64, false>,
        M::Cvttsd2si => cvts2si::<F64, true>,
        M::Cvtss2sd => cvtss2sd,
        M::Cvtsd2ss => cvtsd2ss,
        M::Cvtps2pd => cvtps2pd,
        M::Cvtpd2ps => cvtpd2ps,
        M::Cvtdq2ps => cvtdq2ps,
        M::Cvtps2dq => cvtps2dq::<false>,
        M::Cvttps2dq => cvtps2dq::<true>,
        M::Cvtdq2pd => cvtdq2pd,
        M::Cvtpd2dq => cvtpd2dq::<false>,
        M::Cvttpd2dq => cvtpd2dq::<true>,
        _ => return None,
    })
}

/// The rounding of a conversion: truncation for the `cvtt` forms, else MXCSR.RC.
#[inline(always)]
fn rounding<const TRUNC: bool>(env: &Env) -> Rounding {
    if TRUNC {
        Rounding::Zero
    } else {
        env.rounding()
    }
}

/// CVTSI2SS/CVTSI2SD: a signed r/m32 or r/m64 into the low lane.
fn cvtsi2s<F: Format>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let raw = core.read_op(i, 1)?;
    let v = if Core::op_bytes(i, 1) == 4 {
        raw as u32 as i32 as i64
    } else {
        raw as i64
    };
    let mut env = Env::new(core.mxcsr);
    let r = from_int::<F>(&mut env, v);
    commit(core, &env)?;
    core.xmm[d] = with_lane::<F>(core.xmm[d], 0, r);
    Ok(())
}

/// CVT(T)SS2SI/CVT(T)SD2SI into r32 or r64.
fn cvts2si<F: Format, const TRUNC: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let x = lane::<F>(read_xmm_mem(core, i, 1)?, 0);
    let bits = (i.op0_register().size() * 8) as u32;
    let mut env = Env::new(core.mxcsr);
    let rc = rounding::<TRUNC>(&env);
    let r = to_int::<F>(&mut env, x, bits, rc);
    commit(core, &env)?;
    core.set_reg(i.op0_register(), r);
    Ok(())
}

fn cvtss2sd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let x = lane::<F32>(read_xmm_mem(core, i, 1)?, 0);
    let mut env = Env::new(core.mxcsr);
    let r = f32_to_f64(&mut env, x);
    commit(core, &env)?;
    core.xmm[d] = with_lane::<F64>(core.xmm[d], 0, r);
    Ok(())
}

fn cvtsd2ss(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let x = lane::<F64>(read_xmm_mem(core, i, 1)?, 0);
    let mut env = Env::new(core.mxcsr);
    let r = f64_to_f32(&mut env, x);
    commit(core, &env)?;
    core.xmm[d] = with_lane::<F32>(core.xmm[d], 0, r);
    Ok(())
}

/// CVTPS2PD: the two low binary32 lanes (xmm or m64) widened.
fn cvtps2pd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let s = read_xmm_mem(core, i, 1)?;
    let mut env = Env::new(core.mxcsr);
    let lo = f32_to_f64(&mut env, lane::<F32>(s, 0));
    let hi = f32_to_f64(&mut env, lane::<F32>(s, 1));
    commit(core, &env)?;
    core.xmm[d] = lo as u128 | (hi as u128) << 64;
    Ok(())
}

/// CVTPD2PS: two binary64 lanes narrowed into the low half; upper half zeroed.
fn cvtpd2ps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let s = read_xmm_m128(core, i, 1, true)?;
    let mut env = Env::new(core.mxcsr);
    let lo = f64_to_f32(&mut env, lane::<F64>(s, 0));
    let hi = f64_to_f32(&mut env, lane::<F64>(s, 1));
    commit(core, &env)?;
    core.xmm[d] = lo as u128 | (hi as u128) << 32;
    Ok(())
}

/// CVTDQ2PS: four signed doublewords to binary32 (PE when inexact).
fn cvtdq2ps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let s = read_xmm_m128(core, i, 1, true)?;
    let mut env = Env::new(core.mxcsr);
    let mut r = 0u128;
    for n in 0..4 {
        let v = lane::<F32>(s, n) as u32 as i32 as i64;
        r = with_lane::<F32>(r, n, from_int::<F32>(&mut env, v));
    }
    commit(core, &env)?;
    core.xmm[d] = r;
    Ok(())
}

/// CVT(T)PS2DQ: four binary32 lanes to signed doublewords.
fn cvtps2dq<const TRUNC: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let s = read_xmm_m128(core, i, 1, true)?;
    let mut env = Env::new(core.mxcsr);
    let rc = rounding::<TRUNC>(&env);
    let mut r = 0u128;
    for n in 0..4 {
        let v = to_int::<F32>(&mut env, lane::<F32>(s, n), 32, rc);
        r = with_lane::<F32>(r, n, v);
    }
    commit(core, &env)?;
    core.xmm[d] = r;
    Ok(())
}

/// CVTDQ2PD: the two low signed doublewords (xmm or m64) to binary64 (exact).
fn cvtdq2pd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let s = read_xmm_mem(core, i, 1)?;
    let mut env = Env::new(core.mxcsr);
    let lo = from_int::<F64>(&mut env, s as u32 as i32 as i64);
    let hi = from_int::<F64>(&mut env, (s >> 32) as u32 as i32 as i64);
    core.xmm[d] = lo as u128 | (hi as u128) << 64;
    Ok(())
}

/// CVT(T)PD2DQ: two binary64 lanes to doublewords in the low half; upper
/// half zeroed.
fn cvtpd2dq<const TRUNC: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let s = read_xmm_m128(core, i, 1, true)?;
    let mut env = Env::new(core.mxcsr);
    let rc = rounding::<TRUNC>(&env);
    let lo = to_int::<F64>(&mut env, lane::<F64>(s, 0), 32, rc);
    let hi = to_int::<F64>(&mut env, lane::<F64>(s, 1), 32, rc);
    commit(core, &env)?;
    core.xmm[d] = lo as u128 | (hi as u128) << 32;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::check_insn;
    use crate::cpu::exec::sse_float::oracle::{
        rand_mxcsr, rand_pd, rand_ps, sweep_mxcsr, Emu, Rng, State,
    };

    /// Random integers biased towards the conversion boundaries.
    fn rand_int(rng: &mut Rng) -> u128 {
        let pick = |rng: &mut Rng| -> u64 {
            match rng.below(6) {
                0 => rng.bits() >> rng.below(64),
                1 => (rng.bits() >> rng.below(64)).wrapping_neg(),
                2 => [
                    0,
                    1,
                    u64::MAX,
                    1 << 63,
                    (1 << 63) - 1,
                    1 << 31,
                    (1 << 31) - 1,
                ][rng.below(7) as usize],
                3 => (1u64 << rng.below(64))
                    .wrapping_add(rng.below(5))
                    .wrapping_sub(2),
                _ => rng.bits(),
            }
        };
        pick(rng) as u128 | (pick(rng) as u128) << 64
    }

    macro_rules! fuzz {
        ($name:ident, $insn:literal, $gen:ident, $n:expr) => {
            #[test]
            fn $name() {
                let mut emu = Emu::new();
                let mut rng = Rng::new(0xc0417 ^ $n ^ line!() as u64);
                for _ in 0..$n {
                    let mut st = State::new($gen(&mut rng), $gen(&mut rng), rand_mxcsr(&mut rng));
                    let ints = rand_int(&mut rng);
                    st.rax = ints as u64;
                    st.rcx = (ints >> 64) as u64;
                    st.mem[..16].copy_from_slice(&$gen(&mut rng).to_le_bytes());
                    st.mem[16..32].copy_from_slice(&rand_int(&mut rng).to_le_bytes());
                    check_insn!(emu, $insn, &st);
                }
            }
        };
    }

    fuzz!(
        cvtsi2ss_r32_matches_host,
        "cvtsi2ss xmm0, eax",
        rand_ps,
        5000
    );
    fuzz!(
        cvtsi2ss_r64_matches_host,
        "cvtsi2ss xmm0, rax",
        rand_ps,
        5000
    );
    fuzz!(
        cvtsi2sd_r32_matches_host,
        "cvtsi2sd xmm0, ecx",
        rand_pd,
        2000
    );
    fuzz!(
        cvtsi2sd_r64_matches_host,
        "cvtsi2sd xmm0, rcx",
        rand_pd,
        5000
    );
    fuzz!(
        cvtsi2sd_m64_matches_host,
        "cvtsi2sd xmm0, qword ptr [rdi + 16]",
        rand_pd,
        2000
    );
    fuzz!(
        cvtsi2ss_m32_matches_host,
        "cvtsi2ss xmm0, dword ptr [rdi + 20]",
        rand_ps,
        2000
    );
    fuzz!(
        cvtss2si_r32_matches_host,
        "cvtss2si eax, xmm1",
        rand_ps,
        10000
    );
    fuzz!(
        cvtss2si_r64_matches_host,
        "cvtss2si rax, xmm1",
        rand_ps,
        10000
    );
    fuzz!(
        cvttss2si_r32_matches_host,
        "cvttss2si ecx, xmm1",
        rand_ps,
        10000
    );
    fuzz!(
        cvttss2si_r64_matches_host,
        "cvttss2si rcx, dword ptr [rdi]",
        rand_ps,
        5000
    );
    fuzz!(
        cvtsd2si_r32_matches_host,
        "cvtsd2si eax, xmm1",
        rand_pd,
        10000
    );
    fuzz!(
        cvtsd2si_r64_matches_host,
        "cvtsd2si rax, xmm1",
        rand_pd,
        10000
    );
    fuzz!(
        cvttsd2si_r32_matches_host,
        "cvttsd2si eax, xmm1",
        rand_pd,
        10000
    );
    fuzz!(
        cvttsd2si_r64_matches_host,
        "cvttsd2si rax, qword ptr [rdi]",
        rand_pd,
        5000
    );
    fuzz!(cvtss2sd_matches_host, "cvtss2sd xmm0, xmm1", rand_ps, 10000);
    fuzz!(cvtsd2ss_matches_host, "cvtsd2ss xmm0, xmm1", rand_pd, 20000);
    fuzz!(cvtps2pd_matches_host, "cvtps2pd xmm0, xmm1", rand_ps, 10000);
    fuzz!(
        cvtps2pd_m64_matches_host,
        "cvtps2pd xmm0, qword ptr [rdi + 8]",
        rand_ps,
        2000
    );
    fuzz!(cvtpd2ps_matches_host, "cvtpd2ps xmm0, xmm1", rand_pd, 20000);
    fuzz!(
        cvtdq2ps_matches_host,
        "cvtdq2ps xmm0, [rdi + 16]",
        rand_ps,
        5000
    );
    fuzz!(cvtps2dq_matches_host, "cvtps2dq xmm0, xmm1", rand_ps, 10000);
    fuzz!(
        cvttps2dq_matches_host,
        "cvttps2dq xmm0, xmm1",
        rand_ps,
        10000
    );
    fuzz!(
        cvtdq2pd_matches_host,
        "cvtdq2pd xmm0, qword ptr [rdi + 16]",
        rand_pd,
        2000
    );
    fuzz!(cvtpd2dq_matches_host, "cvtpd2dq xmm0, xmm1", rand_pd, 10000);
    fuzz!(
        cvttpd2dq_matches_host,
        "cvttpd2dq xmm0, [rdi]",
        rand_pd,
        10000
    );

    /// Every pair of conversion-boundary values in every MXCSR mode.
    macro_rules! specials {
        ($name:ident, $insn:literal, $values:expr) => {
            #[test]
            fn $name() {
                let mut emu = Emu::new();
                let values: &[u64] = &$values;
                for &a in values {
                    for &b in values {
                        for k in 0..32u32 {
                            let mx = sweep_mxcsr(k);
                            let mut st = State::new(
                                a as u128 | (b as u128) << 64,
                                b as u128 | (a as u128) << 64,
                                mx,
                            );
                            st.rax = a;
                            st.rcx = b;
                            check_insn!(emu, $insn, &st);
                        }
                    }
                }
            }
        };
    }

    /// binary32 values around the i32/i64 limits, halves, NaNs, denormals.
    const PS_EDGES: [u64; 14] = [
        0x4f00_0000,
        0xcf00_0000,
        0x4eff_ffff,
        0xcf00_0001,
        0x5f00_0000,
        0xdf00_0000,
        0x3f00_0000,
        0xbfc0_0000,
        0x4020_0000,
        0x0000_0001,
        0x8000_0001,
        0x7fc0_0001,
        0xff80_0001,
        0x7f80_0000,
    ];
    /// binary64 values around the i32/i64 limits and the f32 range.
    const PD_EDGES: [u64; 16] = [
        0x41df_ffff_ffe0_0000,
        0x41df_ffff_fff0_0000,
        0xc1e0_0000_0000_0000,
        0xc1e0_0000_0010_0000,
        0x43e0_0000_0000_0000,
        0xc3e0_0000_0000_0000,
        0x3fe0_0000_0000_0000,
        0xbff8_0000_0000_0000,
        0x47ef_ffff_f000_0000,
        0x47ef_ffff_e000_0001,
        0x3810_0000_0000_0000,
        0x380f_ffff_f000_0000,
        0x369f_ffff_ffff_ffff,
        0x0000_0000_0000_0001,
        0x7ff4_0000_1234_5678,
        0xfff0_0000_0000_0000,
    ];
    /// Integers around the binary32/binary64 precision limits.
    const INT_EDGES: [u64; 10] = [
        0,
        1,
        u64::MAX,
        1 << 63,
        (1 << 63) - 1,
        0x0100_0001,
        0x7fff_ffc1,
        0x8000_0040,
        0x0020_0000_0000_0001,
        0xffdf_ffff_ffff_ffff,
    ];

    specials!(cvtss2si_specials_match_host, "cvtss2si eax, xmm0", PS_EDGES);
    specials!(
        cvttss2si_specials_match_host,
        "cvttss2si rax, xmm0",
        PS_EDGES
    );
    specials!(
        cvtps2dq_specials_match_host,
        "cvtps2dq xmm0, xmm1",
        PS_EDGES
    );
    specials!(
        cvtps2pd_specials_match_host,
        "cvtps2pd xmm0, xmm1",
        PS_EDGES
    );
    specials!(cvtsd2si_specials_match_host, "cvtsd2si eax, xmm0", PD_EDGES);
    specials!(
        cvttsd2si_specials_match_host,
        "cvttsd2si rax, xmm0",
        PD_EDGES
    );
    specials!(
        cvtpd2dq_specials_match_host,
        "cvtpd2dq xmm0, xmm1",
        PD_EDGES
    );
    specials!(
        cvttpd2dq_specials_match_host,
        "cvttpd2dq xmm0, xmm1",
        PD_EDGES
    );
    specials!(
        cvtpd2ps_specials_match_host,
        "cvtpd2ps xmm0, xmm1",
        PD_EDGES
    );
    specials!(
        cvtsd2ss_specials_match_host,
        "cvtsd2ss xmm0, xmm1",
        PD_EDGES
    );
    specials!(
        cvtsi2ss_specials_match_host,
        "cvtsi2ss xmm0, rax",
        INT_EDGES
    );
    specials!(
        cvtsi2sd_specials_match_host,
        "cvtsi2sd xmm0, rcx",
        INT_EDGES
    );
    specials!(
        cvtsi2ss32_specials_match_host,
        "cvtsi2ss xmm0, ecx",
        INT_EDGES
    );
    specials!(
        cvtdq2ps_specials_match_host,
        "cvtdq2ps xmm0, xmm1",
        INT_EDGES
    );
}
