//! SSE/SSE2/SSE3 floating-point arithmetic on XMM registers: add, sub, mul,
//! div, min, max, sqrt (ps/pd/ss/sd), rcp/rsqrt, cmp with the eight
//! predicates, (u)comis, the bitwise and/andn/or/xor forms, addsub and the
//! horizontal hadd/hsub. The SSE4.1 floating-point instructions (round, dp,
//! blend, insertps, extractps) live in `sse_fp/sse41.rs`.
//!
//! Lane arithmetic is in `sse_float`; every handler calls `check_sse`
//! first, reads all operands (128-bit memory operands must be aligned),
//! computes all lanes, commits the MXCSR flags (raising #XM with the
//! destination unchanged on an unmasked exception), then writes.

mod sse41;

use iced_x86::{Code, Instruction, Mnemonic};

use super::sse_common::{check_sse, read_xmm_m128, read_xmm_mem, xmm_index};
use super::sse_float::compare::{self, Ordering};
use super::sse_float::{approx, arith, commit, fast, lane, map2, with_lane, Env, Format, F32, F64};
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::flags::bits;

const ADD: u8 = 0;
const SUB: u8 = 1;
const MUL: u8 = 2;
const DIV: u8 = 3;
const MIN: u8 = 4;
const MAX: u8 = 5;
const SQRT: u8 = 6;
const RCP: u8 = 7;
const RSQRT: u8 = 8;

const AND: u8 = 0;
const ANDN: u8 = 1;
const OR: u8 = 2;
const XOR: u8 = 3;

/// The handler for an SSE floating-point instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic as M;
    Some(match i.mnemonic() {
        M::Addps => packed::<F32, ADD>,
        M::Addpd => packed::<F64, ADD>,
        M::Addss => addss,
        M::Addsd => addsd,
        M::Subps => packed::<F32, SUB>,
        M::Subpd => packed::<F64, SUB>,
        M::Subss => scalar::<F32, SUB>,
        M::Subsd => scalar::<F64, SUB>,
        M::Mulps => packed::<F32, MUL>,
        M::Mulpd => packed::<F64, MUL>,
        M::Mulss => mulss,
        M::Mulsd => mulsd,
        M::Divps => packed::<F32, DIV>,
        M::Divpd => packed::<F64, DIV>,
        M::Divss => scalar::<F32, DIV>,
        M::Divsd => scalar::<F64, DIV>,
        M::Minps => packed::<F32, MIN>,
        M::Minpd => packed::<F64, MIN>,
        M::Minss => scalar::<F32, MIN>,
        M::Minsd => scalar::<F64, MIN>,
        M::Maxps => packed::<F32, MAX>,
        M::Maxpd => packed::<F64, MAX>,
        M::Maxss => scalar::<F32, MAX>,
        M::Maxsd => scalar::<F64, MAX>,
        M::Sqrtps => packed::<F32, SQRT>,
        M::Sqrtpd => packed::<F64, SQRT>,
        M::Sqrtss => scalar::<F32, SQRT>,
        M::Sqrtsd => scalar::<F64, SQRT>,
        M::Rcpps => packed::<F32, RCP>,
        M::Rcpss => scalar::<F32, RCP>,
        M::Rsqrtps => packed::<F32, RSQRT>,
        M::Rsqrtss => scalar::<F32, RSQRT>,
        M::Cmpps => cmp_packed::<F32>,
        M::Cmppd => cmp_packed::<F64>,
        M::Cmpss => cmp_scalar::<F32>,
        M::Cmpsd if i.code() == Code::Cmpsd_xmm_xmmm64_imm8 => cmp_scalar::<F64>,
        M::Comiss => comis::<F32, true>,
        M::Ucomiss => comis::<F32, false>,
        M::Comisd => comis::<F64, true>,
        M::Ucomisd => comis::<F64, false>,
        M::Andps | M::Andpd => logic::<AND>,
        M::Andnps | M::Andnpd => logic::<ANDN>,
        M::Orps | M::Orpd => logic::<OR>,
        M::Xorps | M::Xorpd => logic::<XOR>,
        M::Addsubps => addsub::<F32>,
        M::Addsubpd => addsub::<F64>,
        M::Haddps => horizontal::<F32, ADD>,
        M::Haddpd => horizontal::<F64, ADD>,
        M::Hsubps => horizontal::<F32, SUB>,
        M::Hsubpd => horizontal::<F64, SUB>,
        _ => return sse41::resolve(i),
    })
}

/// One lane of `OP` (unary operations use `b`).
#[inline(always)]
fn lane_op<F: Format, const OP: u8>(env: &mut Env, a: u64, b: u64) -> u64 {
    match OP {
        ADD => arith::add::<F>(env, a, b),
        SUB => arith::sub::<F>(env, a, b),
        MUL => arith::mul::<F>(env, a, b),
        DIV => arith::div::<F>(env, a, b),
        MIN => arith::min::<F>(env, a, b),
        MAX => arith::max::<F>(env, a, b),
        SQRT => arith::sqrt::<F>(env, b),
        RCP => approx::rcp(env, b),
        _ => approx::rsqrt(env, b),
    }
}

/// `xmm = xmm OP xmm/m128` on every lane.
fn packed<F: Format, const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let a = core.xmm[d];
    let mut env = Env::new(core.mxcsr);
    let r = map2::<F>(a, b, |x, y| lane_op::<F, OP>(&mut env, x, y));
    commit(core, &env)?;
    core.xmm[d] = r;
    Ok(())
}

/// `xmm[lane 0] = xmm[lane 0] OP xmm/m32|m64`, upper lanes kept.
fn scalar<F: Format, const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = lane::<F>(read_xmm_mem(core, i, 1)?, 0);
    let a = core.xmm[d];
    let mut env = Env::new(core.mxcsr);
    let r = lane_op::<F, OP>(&mut env, lane::<F>(a, 0), b);
    commit(core, &env)?;
    core.xmm[d] = with_lane::<F>(a, 0, r);
    Ok(())
}

/// A scalar operation with a host fast path tried first.
#[inline(always)]
fn scalar_fast<F: Format, const OP: u8>(
    core: &mut Core,
    i: &Instruction,
    fast: fn(&mut Env, u64, u64) -> Option<u64>,
) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = lane::<F>(read_xmm_mem(core, i, 1)?, 0);
    let a = core.xmm[d];
    let mut env = Env::new(core.mxcsr);
    let x = lane::<F>(a, 0);
    let r = match fast(&mut env, x, b) {
        Some(r) => r,
        None => lane_op::<F, OP>(&mut env, x, b),
    };
    commit(core, &env)?;
    core.xmm[d] = with_lane::<F>(a, 0, r);
    Ok(())
}

fn addsd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    scalar_fast::<F64, ADD>(core, i, fast::add_f64)
}

fn mulsd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    scalar_fast::<F64, MUL>(core, i, fast::mul_f64)
}

fn addss(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    scalar_fast::<F32, ADD>(core, i, fast::add_f32)
}

fn mulss(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    scalar_fast::<F32, MUL>(core, i, fast::mul_f32)
}

/// CMPPS/CMPPD: each lane all ones when the predicate holds, else zero.
fn cmp_packed<F: Format>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let pred = i.immediate8();
    let mut env = Env::new(core.mxcsr);
    let r = map2::<F>(core.xmm[d], b, |x, y| {
        if compare::compare::<F>(&mut env, x, y, pred) {
            u64::MAX
        } else {
            0
        }
    });
    commit(core, &env)?;
    core.xmm[d] = r;
    Ok(())
}

/// CMPSS/CMPSD: the low lane only.
fn cmp_scalar<F: Format>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = lane::<F>(read_xmm_mem(core, i, 1)?, 0);
    let a = core.xmm[d];
    let mut env = Env::new(core.mxcsr);
    let r = if compare::compare::<F>(&mut env, lane::<F>(a, 0), b, i.immediate8()) {
        u64::MAX
    } else {
        0
    };
    commit(core, &env)?;
    core.xmm[d] = with_lane::<F>(a, 0, r);
    Ok(())
}

/// COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the ordering (111
/// unordered, 000 greater, 001 less, 100 equal); OF, SF, AF cleared.
fn comis<F: Format, const SIGNALING: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let a = lane::<F>(core.xmm[xmm_index(i.op0_register())], 0);
    let b = lane::<F>(read_xmm_mem(core, i, 1)?, 0);
    let mut env = Env::new(core.mxcsr);
    let flags = match compare::order::<F>(&mut env, a, b, SIGNALING) {
        Ordering::Unordered => bits::ZF | bits::PF | bits::CF,
        Ordering::Greater => 0,
        Ordering::Less => bits::CF,
        Ordering::Equal => bits::ZF,
    };
    commit(core, &env)?;
    core.flags.set_all_arith(flags);
    Ok(())
}

/// The bitwise ps/pd forms (no floating-point exceptions).
fn logic<const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let a = core.xmm[d];
    core.xmm[d] = match OP {
        AND => a & b,
        ANDN => !a & b,
        OR => a | b,
        _ => a ^ b,
    };
    Ok(())
}

/// ADDSUBPS/ADDSUBPD: even lanes subtract, odd lanes add.
fn addsub<F: Format>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let a = core.xmm[d];
    let mut env = Env::new(core.mxcsr);
    let mut n = 0;
    let r = map2::<F>(a, b, |x, y| {
        n += 1;
        if n & 1 == 1 {
            arith::sub::<F>(&mut env, x, y)
        } else {
            arith::add::<F>(&mut env, x, y)
        }
    });
    commit(core, &env)?;
    core.xmm[d] = r;
    Ok(())
}

/// HADD/HSUB: adjacent lane pairs of the destination, then of the source.
fn horizontal<F: Format, const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    let a = core.xmm[d];
    let lanes = 128 / (F::EXP + F::FRAC + 1);
    let half = lanes / 2;
    let mut env = Env::new(core.mxcsr);
    let mut r = 0u128;
    for n in 0..lanes {
        let (src, k) = if n < half { (a, n) } else { (b, n - half) };
        let (x, y) = (lane::<F>(src, 2 * k), lane::<F>(src, 2 * k + 1));
        let v = lane_op::<F, OP>(&mut env, x, y);
        r = with_lane::<F>(r, n, v);
    }
    commit(core, &env)?;
    core.xmm[d] = r;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::check_insn;
    use crate::cpu::exec::sse_float::oracle::{
        rand_mxcsr, rand_pd, rand_ps, sweep_mxcsr, Emu, Rng, State,
    };

    /// Runs `$insn` on random binary32 (`ps`) or binary64 (`pd`) operands
    /// under random MXCSR settings, on the host and the emulator.
    macro_rules! fuzz {
        ($name:ident, $insn:literal, $gen:ident, $n:expr) => {
            #[test]
            fn $name() {
                let mut emu = Emu::new();
                let mut rng = Rng::new(0x5eed ^ $n ^ line!() as u64);
                for _ in 0..$n {
                    let mut st = State::new($gen(&mut rng), $gen(&mut rng), rand_mxcsr(&mut rng));
                    st.xmm[2] = $gen(&mut rng);
                    st.mem[..16].copy_from_slice(&$gen(&mut rng).to_le_bytes());
                    check_insn!(emu, $insn, &st);
                }
            }
        };
    }

    fuzz!(addss_matches_host, "addss xmm0, xmm1", rand_ps, 20000);
    fuzz!(addsd_matches_host, "addsd xmm0, xmm1", rand_pd, 20000);
    fuzz!(subss_matches_host, "subss xmm0, xmm1", rand_ps, 20000);
    fuzz!(subsd_matches_host, "subsd xmm0, xmm1", rand_pd, 20000);
    fuzz!(mulss_matches_host, "mulss xmm0, xmm1", rand_ps, 20000);
    fuzz!(mulsd_matches_host, "mulsd xmm0, xmm1", rand_pd, 20000);
    fuzz!(divss_matches_host, "divss xmm0, xmm1", rand_ps, 20000);
    fuzz!(divsd_matches_host, "divsd xmm0, xmm1", rand_pd, 20000);
    fuzz!(sqrtss_matches_host, "sqrtss xmm0, xmm1", rand_ps, 20000);
    fuzz!(sqrtsd_matches_host, "sqrtsd xmm0, xmm1", rand_pd, 20000);
    fuzz!(minss_matches_host, "minss xmm0, xmm1", rand_ps, 10000);
    fuzz!(maxsd_matches_host, "maxsd xmm0, xmm1", rand_pd, 10000);
    fuzz!(addps_matches_host, "addps xmm0, xmm1", rand_ps, 20000);
    fuzz!(addpd_matches_host, "addpd xmm0, xmm1", rand_pd, 20000);
    fuzz!(mulps_matches_host, "mulps xmm0, xmm1", rand_ps, 20000);
    fuzz!(divpd_matches_host, "divpd xmm0, xmm1", rand_pd, 20000);
    fuzz!(sqrtps_matches_host, "sqrtps xmm0, xmm1", rand_ps, 10000);
    fuzz!(subpd_mem_matches_host, "subpd xmm0, [rdi]", rand_pd, 10000);
    fuzz!(maxps_matches_host, "maxps xmm0, xmm1", rand_ps, 10000);
    fuzz!(minpd_mem_matches_host, "minpd xmm0, [rdi]", rand_pd, 10000);
    fuzz!(
        addss_mem_matches_host,
        "addss xmm0, [rdi + 4]",
        rand_ps,
        5000
    );
    fuzz!(
        mulsd_mem_matches_host,
        "mulsd xmm0, [rdi + 8]",
        rand_pd,
        5000
    );

    fuzz!(cmpps_eq_matches_host, "cmpps xmm0, xmm1, 0", rand_ps, 3000);
    fuzz!(cmpps_lt_matches_host, "cmpps xmm0, xmm1, 1", rand_ps, 3000);
    fuzz!(cmpps_le_matches_host, "cmpps xmm0, xmm1, 2", rand_ps, 3000);
    fuzz!(
        cmpps_unord_matches_host,
        "cmpps xmm0, xmm1, 3",
        rand_ps,
        3000
    );
    fuzz!(cmppd_neq_matches_host, "cmppd xmm0, xmm1, 4", rand_pd, 3000);
    fuzz!(cmppd_nlt_matches_host, "cmppd xmm0, xmm1, 5", rand_pd, 3000);
    fuzz!(cmppd_nle_matches_host, "cmppd xmm0, xmm1, 6", rand_pd, 3000);
    fuzz!(
        cmppd_ord_matches_host,
        "cmppd xmm0, [rdi], 7",
        rand_pd,
        3000
    );
    fuzz!(
        cmpss_high_imm_matches_host,
        "cmpss xmm0, xmm1, 0xfd",
        rand_ps,
        3000
    );
    fuzz!(cmpsd_matches_host, "cmpsd xmm0, xmm1, 2", rand_pd, 3000);
    fuzz!(comiss_matches_host, "comiss xmm0, xmm1", rand_ps, 5000);
    fuzz!(ucomiss_matches_host, "ucomiss xmm0, [rdi]", rand_ps, 5000);
    fuzz!(comisd_matches_host, "comisd xmm0, xmm1", rand_pd, 5000);
    fuzz!(ucomisd_matches_host, "ucomisd xmm0, xmm1", rand_pd, 5000);
    fuzz!(andps_matches_host, "andps xmm0, xmm1", rand_ps, 200);
    fuzz!(andnpd_matches_host, "andnpd xmm0, [rdi]", rand_pd, 200);
    fuzz!(orps_matches_host, "orps xmm0, xmm1", rand_ps, 200);
    fuzz!(xorpd_matches_host, "xorpd xmm0, xmm1", rand_pd, 200);
    fuzz!(addsubps_matches_host, "addsubps xmm0, xmm1", rand_ps, 10000);
    fuzz!(addsubpd_matches_host, "addsubpd xmm0, xmm1", rand_pd, 10000);
    fuzz!(haddps_matches_host, "haddps xmm0, xmm1", rand_ps, 10000);
    fuzz!(haddpd_matches_host, "haddpd xmm0, xmm1", rand_pd, 10000);
    fuzz!(hsubps_matches_host, "hsubps xmm0, [rdi]", rand_ps, 10000);
    fuzz!(hsubpd_matches_host, "hsubpd xmm0, xmm1", rand_pd, 10000);
    fuzz!(
        roundps_nearest_matches_host,
        "roundps xmm0, xmm1, 0",
        rand_ps,
        5000
    );
    fuzz!(
        roundps_down_matches_host,
        "roundps xmm0, xmm1, 1",
        rand_ps,
        5000
    );
    fuzz!(
        roundpd_up_matches_host,
        "roundpd xmm0, xmm1, 2",
        rand_pd,
        5000
    );
    fuzz!(
        roundpd_zero_matches_host,
        "roundpd xmm0, xmm1, 3",
        rand_pd,
        5000
    );
    fuzz!(
        roundss_mxcsr_matches_host,
        "roundss xmm0, xmm1, 4",
        rand_ps,
        5000
    );
    fuzz!(
        roundsd_quiet_matches_host,
        "roundsd xmm0, [rdi], 0xc",
        rand_pd,
        5000
    );
    fuzz!(
        roundss_quiet_matches_host,
        "roundss xmm0, xmm1, 0x9",
        rand_ps,
        5000
    );
    fuzz!(
        dpps_all_matches_host,
        "dpps xmm0, xmm1, 0xff",
        rand_ps,
        20000
    );
    fuzz!(
        dpps_partial_matches_host,
        "dpps xmm0, xmm1, 0xb5",
        rand_ps,
        10000
    );
    fuzz!(
        dpps_mem_matches_host,
        "dpps xmm0, [rdi], 0x7a",
        rand_ps,
        10000
    );
    fuzz!(
        dppd_all_matches_host,
        "dppd xmm0, xmm1, 0x33",
        rand_pd,
        20000
    );
    fuzz!(
        dppd_partial_matches_host,
        "dppd xmm0, xmm1, 0x12",
        rand_pd,
        5000
    );
    fuzz!(
        blendps_matches_host,
        "blendps xmm0, xmm1, 0x5",
        rand_ps,
        100
    );
    fuzz!(
        blendpd_matches_host,
        "blendpd xmm0, [rdi], 0x2",
        rand_pd,
        100
    );
    fuzz!(
        blendvps_matches_host,
        "blendvps xmm1, xmm2, xmm0",
        rand_ps,
        200
    );
    fuzz!(
        blendvpd_matches_host,
        "blendvpd xmm1, [rdi], xmm0",
        rand_pd,
        200
    );
    fuzz!(
        insertps_matches_host,
        "insertps xmm0, xmm1, 0x9a",
        rand_ps,
        100
    );
    fuzz!(
        insertps_zero_matches_host,
        "insertps xmm0, xmm1, 0x4f",
        rand_ps,
        100
    );
    fuzz!(
        insertps_mem_matches_host,
        "insertps xmm0, [rdi + 8], 0xe4",
        rand_ps,
        100
    );
    fuzz!(
        extractps_matches_host,
        "extractps eax, xmm1, 2",
        rand_ps,
        100
    );
    fuzz!(
        extractps_r64_matches_host,
        "extractps rcx, xmm1, 3",
        rand_ps,
        100
    );
    fuzz!(
        extractps_mem_matches_host,
        "extractps [rdi + 4], xmm1, 1",
        rand_ps,
        100
    );
    fuzz!(rcpps_matches_host, "rcpps xmm0, xmm1", rand_ps, 20000);
    fuzz!(rcpss_matches_host, "rcpss xmm0, [rdi]", rand_ps, 5000);
    fuzz!(rsqrtps_matches_host, "rsqrtps xmm0, xmm1", rand_ps, 20000);
    fuzz!(rsqrtss_matches_host, "rsqrtss xmm0, xmm1", rand_ps, 5000);

    /// Boundary binary32 encodings: zeros, denormals, normals at both ends,
    /// values around 1 (ties), infinities, QNaN and SNaN with payloads.
    const SPECIAL_PS: [u32; 20] = [
        0x0000_0000,
        0x8000_0000,
        0x0000_0001,
        0x807f_ffff,
        0x0040_0000,
        0x0080_0000,
        0x8080_0001,
        0x7f7f_ffff,
        0xff7f_fffe,
        0x3f80_0000,
        0xbf80_0001,
        0x3fff_ffff,
        0x3380_0000,
        0x4b80_0001,
        0x7f80_0000,
        0xff80_0000,
        0x7fc0_0000,
        0xffc1_2345,
        0x7f80_0001,
        0xffa0_0000,
    ];

    /// The same classes in binary64.
    const SPECIAL_PD: [u64; 20] = [
        0x0000_0000_0000_0000,
        0x8000_0000_0000_0000,
        0x0000_0000_0000_0001,
        0x800f_ffff_ffff_ffff,
        0x0008_0000_0000_0000,
        0x0010_0000_0000_0000,
        0x8010_0000_0000_0001,
        0x7fef_ffff_ffff_ffff,
        0xffef_ffff_ffff_fffe,
        0x3ff0_0000_0000_0000,
        0xbff0_0000_0000_0001,
        0x3fff_ffff_ffff_ffff,
        0x3ca0_0000_0000_0000,
        0x4340_0000_0000_0001,
        0x7ff0_0000_0000_0000,
        0xfff0_0000_0000_0000,
        0x7ff8_0000_0000_0000,
        0xfff8_1234_5678_9abc,
        0x7ff0_0000_0000_0001,
        0xfff4_0000_0000_0000,
    ];

    /// Runs `$insn` on every pair of special operands (packed: the pair in
    /// lane 0, mixed with other specials in the other lanes) in every mode.
    macro_rules! specials {
        ($name:ident, $insn:literal, $table:ident, $bits:expr) => {
            #[test]
            fn $name() {
                let mut emu = Emu::new();
                let n = $table.len();
                for (k, &a) in $table.iter().enumerate() {
                    for (j, &b) in $table.iter().enumerate() {
                        let mut x = a as u128;
                        let mut y = b as u128;
                        for l in 1..128 / $bits {
                            x |= ($table[(k + l * 3) % n] as u128) << (l * $bits);
                            y |= ($table[(j + l * 7) % n] as u128) << (l * $bits);
                        }
                        for mx in (0..32).map(sweep_mxcsr) {
                            check_insn!(emu, $insn, &State::new(x, y, mx));
                        }
                    }
                }
            }
        };
    }

    specials!(
        addps_specials_match_host,
        "addps xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        subsd_specials_match_host,
        "subsd xmm0, xmm1",
        SPECIAL_PD,
        64
    );
    specials!(
        mulps_specials_match_host,
        "mulps xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        mulsd_specials_match_host,
        "mulsd xmm0, xmm1",
        SPECIAL_PD,
        64
    );
    specials!(
        divss_specials_match_host,
        "divss xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        divpd_specials_match_host,
        "divpd xmm0, xmm1",
        SPECIAL_PD,
        64
    );
    specials!(
        sqrtps_specials_match_host,
        "sqrtps xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        sqrtsd_specials_match_host,
        "sqrtsd xmm0, xmm1",
        SPECIAL_PD,
        64
    );
    specials!(
        minps_specials_match_host,
        "minps xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        maxpd_specials_match_host,
        "maxpd xmm0, xmm1",
        SPECIAL_PD,
        64
    );
    specials!(
        cmpps_specials_match_host,
        "cmpps xmm0, xmm1, 1",
        SPECIAL_PS,
        32
    );
    specials!(
        cmpsd_specials_match_host,
        "cmpsd xmm0, xmm1, 4",
        SPECIAL_PD,
        64
    );
    specials!(
        comiss_specials_match_host,
        "comiss xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        ucomisd_specials_match_host,
        "ucomisd xmm0, xmm1",
        SPECIAL_PD,
        64
    );
    specials!(
        rcpps_specials_match_host,
        "rcpps xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        rsqrtps_specials_match_host,
        "rsqrtps xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        roundps_specials_match_host,
        "roundps xmm0, xmm1, 4",
        SPECIAL_PS,
        32
    );
    specials!(
        roundsd_specials_match_host,
        "roundsd xmm0, xmm1, 1",
        SPECIAL_PD,
        64
    );
    specials!(
        dpps_specials_match_host,
        "dpps xmm0, xmm1, 0xf3",
        SPECIAL_PS,
        32
    );
    specials!(
        dppd_specials_match_host,
        "dppd xmm0, xmm1, 0x31",
        SPECIAL_PD,
        64
    );
    specials!(
        haddps_specials_match_host,
        "haddps xmm0, xmm1",
        SPECIAL_PS,
        32
    );
    specials!(
        addsubpd_specials_match_host,
        "addsubpd xmm0, xmm1",
        SPECIAL_PD,
        64
    );

    /// Runs one instruction on the host and the emulator from the given
    /// operands and MXCSR; returns the host's final state.
    macro_rules! case {
        ($emu:expr, $insn:literal, $a:expr, $b:expr, $mx:expr) => {
            check_insn!($emu, $insn, &State::new($a as u128, $b as u128, $mx))
        };
    }

    #[test]
    fn tininess_is_detected_after_rounding() {
        let mut emu = Emu::new();
        // (1 + 2^-23) * (2^-126 - 2^-149) rounds up to 2^-126: not tiny in
        // round-to-nearest (no UE, no flush), tiny when rounding toward zero.
        let near = case!(
            emu,
            "mulss xmm0, xmm1",
            0x3f80_0001u32,
            0x007f_ffffu32,
            0x9f80
        );
        assert_eq!((near.xmm[0] as u32, near.mxcsr & 0x3f), (0x0080_0000, 0x22));
        let rz = case!(
            emu,
            "mulss xmm0, xmm1",
            0x3f80_0001u32,
            0x007f_ffffu32,
            0x7f80
        );
        assert_eq!((rz.xmm[0] as u32, rz.mxcsr & 0x3f), (0x007f_ffff, 0x32));
    }

    #[test]
    fn exact_tiny_results_flag_underflow_only_when_flushed_or_unmasked() {
        let mut emu = Emu::new();
        // 2^-100 * 2^-30 = 2^-130 is an exact denormal.
        let masked = case!(
            emu,
            "mulss xmm0, xmm1",
            0x0d80_0000u32,
            0x3080_0000u32,
            0x1f80
        );
        assert_eq!((masked.xmm[0] as u32, masked.mxcsr), (0x0008_0000, 0x1f80));
        let ftz = case!(
            emu,
            "mulss xmm0, xmm1",
            0x0d80_0000u32,
            0x3080_0000u32,
            0x9f80
        );
        assert_eq!((ftz.xmm[0] as u32, ftz.mxcsr), (0, 0x9fb0));
        let unmasked = case!(
            emu,
            "mulss xmm0, xmm1",
            0x0d80_0000u32,
            0x3080_0000u32,
            0x1780
        );
        assert!(unmasked.xm);
        assert_eq!(
            (unmasked.xmm[0] as u32, unmasked.mxcsr),
            (0x0d80_0000, 0x1790)
        );
    }

    #[test]
    fn unmasked_overflow_adds_precision_only_when_inexact() {
        let mut emu = Emu::new();
        let exact = case!(
            emu,
            "mulss xmm0, xmm1",
            0x7f7f_ffffu32,
            0x4000_0000u32,
            0x1b80
        );
        assert_eq!((exact.xm, exact.mxcsr & 0x3f), (true, 0x08));
        let inexact = case!(
            emu,
            "mulss xmm0, xmm1",
            0x7f7f_ffffu32,
            0x3fff_ffffu32,
            0x1b80
        );
        assert_eq!((inexact.xm, inexact.mxcsr & 0x3f), (true, 0x28));
    }

    #[test]
    fn nan_operands_and_division_by_zero_suppress_the_denormal_flag() {
        let mut emu = Emu::new();
        let qnan = case!(
            emu,
            "addss xmm0, xmm1",
            0x0000_0001u32,
            0x7fc0_0001u32,
            0x1f80
        );
        assert_eq!((qnan.xmm[0] as u32, qnan.mxcsr), (0x7fc0_0001, 0x1f80));
        let snan = case!(
            emu,
            "addss xmm0, xmm1",
            0x0000_0001u32,
            0x7f80_0001u32,
            0x1f80
        );
        assert_eq!((snan.xmm[0] as u32, snan.mxcsr), (0x7fc0_0001, 0x1f81));
        let zero = case!(emu, "divss xmm0, xmm1", 0x0000_0001u32, 0u32, 0x1f80);
        assert_eq!((zero.xmm[0] as u32, zero.mxcsr), (0x7f80_0000, 0x1f84));
    }

    #[test]
    fn first_source_nan_wins_and_min_returns_the_second_operand() {
        let mut emu = Emu::new();
        let add = case!(
            emu,
            "addsd xmm0, xmm1",
            0x7ff0_0000_0000_0001u64,
            0x7ff8_0000_0000_0002u64,
            0x1f80
        );
        assert_eq!(
            (add.xmm[0] as u64, add.mxcsr),
            (0x7ff8_0000_0000_0001, 0x1f81)
        );
        let min = case!(
            emu,
            "minss xmm0, xmm1",
            0x3f80_0000u32,
            0x7f80_0001u32,
            0x1f80
        );
        assert_eq!((min.xmm[0] as u32, min.mxcsr), (0x7f80_0001, 0x1f81));
        let zeros = case!(
            emu,
            "maxss xmm0, xmm1",
            0x0000_0000u32,
            0x8000_0000u32,
            0x1f80
        );
        assert_eq!(zeros.xmm[0] as u32, 0x8000_0000);
    }

    #[test]
    fn packed_unmasked_precomputation_exception_records_only_those_flags() {
        let mut emu = Emu::new();
        let lanes = |l: [u32; 4]| {
            l[0] as u128 | (l[1] as u128) << 32 | (l[2] as u128) << 64 | (l[3] as u128) << 96
        };
        // Lanes: SNaN + 1 (IE), 1 + denormal (DE, PE), max + max (OE, PE), 1 + 1.
        let a = lanes([0x7f80_0001, 0x3f80_0000, 0x7f7f_ffff, 0x3f80_0000]);
        let b = lanes([0x3f80_0000, 0x0000_0001, 0x7f7f_ffff, 0x3f80_0000]);
        let all = case!(emu, "addps xmm0, xmm1", a, b, 0x1f80);
        assert_eq!(all.mxcsr, 0x1fab);
        let pre = case!(emu, "addps xmm0, xmm1", a, b, 0x1e80);
        assert_eq!((pre.xm, pre.xmm[0], pre.mxcsr), (true, a, 0x1e83));
        let post = case!(emu, "addps xmm0, xmm1", a, b, 0x1b80);
        assert_eq!((post.xm, post.xmm[0], post.mxcsr), (true, a, 0x1bab));
    }
}
