//! SSSE3, SSE4.1 and SSE4.2 packed-integer arithmetic on XMM registers
//! (SDM Vol. 2): PHADD*/PHSUB*, PABS*, PSIGN*, PMADDUBSW, PMULHRSW; PMIN*/
//! PMAX* (SB, SD, UW, UD), PMULLD, PMULDQ, PCMPEQQ, PACKUSDW, PTEST,
//! PHMINPOSUW, MPSADBW; PCMPGTQ and CRC32 (CRC-32C). The byte/word moves,
//! blends and inserts/extracts of these sets are in `sse4_int_shuffle`, the
//! string compares in `sse42_string`.
//!
//! Only XMM forms exist (the MMX forms of SSSE3 raise #UD). m128 sources
//! must be 16-byte aligned (#GP(0) otherwise).

use iced_x86::{Code, Instruction};

use super::sse_common::{check_sse, read_xmm_m128, xmm_index};
use super::sse_int_lanes::*;
use super::{sse4_int_shuffle, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::flags::bits;

/// The handler for an SSSE3/SSE4 packed-integer instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.code() {
        Code::Phaddw_xmm_xmmm128 => phaddw,
        Code::Phaddd_xmm_xmmm128 => phaddd,
        Code::Phaddsw_xmm_xmmm128 => phaddsw,
        Code::Phsubw_xmm_xmmm128 => phsubw,
        Code::Phsubd_xmm_xmmm128 => phsubd,
        Code::Phsubsw_xmm_xmmm128 => phsubsw,
        Code::Pabsb_xmm_xmmm128 => pabsb,
        Code::Pabsw_xmm_xmmm128 => pabsw,
        Code::Pabsd_xmm_xmmm128 => pabsd,
        Code::Psignb_xmm_xmmm128 => psignb,
        Code::Psignw_xmm_xmmm128 => psignw,
        Code::Psignd_xmm_xmmm128 => psignd,
        Code::Pmaddubsw_xmm_xmmm128 => pmaddubsw,
        Code::Pmulhrsw_xmm_xmmm128 => pmulhrsw,
        Code::Pminsb_xmm_xmmm128 => pminsb,
        Code::Pminsd_xmm_xmmm128 => pminsd,
        Code::Pminuw_xmm_xmmm128 => pminuw,
        Code::Pminud_xmm_xmmm128 => pminud,
        Code::Pmaxsb_xmm_xmmm128 => pmaxsb,
        Code::Pmaxsd_xmm_xmmm128 => pmaxsd,
        Code::Pmaxuw_xmm_xmmm128 => pmaxuw,
        Code::Pmaxud_xmm_xmmm128 => pmaxud,
        Code::Pmulld_xmm_xmmm128 => pmulld,
        Code::Pmuldq_xmm_xmmm128 => pmuldq,
        Code::Pcmpeqq_xmm_xmmm128 => pcmpeqq,
        Code::Pcmpgtq_xmm_xmmm128 => pcmpgtq,
        Code::Packusdw_xmm_xmmm128 => packusdw,
        Code::Phminposuw_xmm_xmmm128 => phminposuw,
        Code::Mpsadbw_xmm_xmmm128_imm8 => mpsadbw,
        Code::Ptest_xmm_xmmm128 => ptest,
        Code::Crc32_r32_rm8
        | Code::Crc32_r64_rm8
        | Code::Crc32_r32_rm16
        | Code::Crc32_r32_rm32
        | Code::Crc32_r64_rm64 => crc32,
        _ => return sse4_int_shuffle::resolve(i),
    })
}

/// Horizontal word op: `f` on adjacent pairs of `a` (low half of the
/// result), then of `b` (high half).
#[inline(always)]
pub(crate) fn horizontal16(a: u128, b: u128, f: impl Fn(u16, u16) -> u16) -> u128 {
    let (a, b) = (words(a), words(b));
    from_words(std::array::from_fn(|k| {
        let s = if k < 4 { &a } else { &b };
        let j = 2 * (k % 4);
        f(s[j], s[j + 1])
    }))
}

/// Horizontal doubleword op, as [`horizontal16`].
#[inline(always)]
pub(crate) fn horizontal32(a: u128, b: u128, f: impl Fn(u32, u32) -> u32) -> u128 {
    let (a, b) = (dwords(a), dwords(b));
    from_dwords([f(a[0], a[1]), f(a[2], a[3]), f(b[0], b[1]), f(b[2], b[3])])
}

/// PSIGN lane rule: `x` negated, zeroed or kept by the sign of `s`.
macro_rules! sign_of {
    ($x:expr, $s:expr) => {
        if $s < 0 {
            $x.wrapping_neg()
        } else if $s == 0 {
            0
        } else {
            $x
        }
    };
}

xmm_binops! {
    fn phaddw(a, b) { horizontal16(a, b, u16::wrapping_add) }
    fn phaddd(a, b) { horizontal32(a, b, u32::wrapping_add) }
    fn phaddsw(a, b) { horizontal16(a, b, |x, y| (x as i16).saturating_add(y as i16) as u16) }
    fn phsubw(a, b) { horizontal16(a, b, u16::wrapping_sub) }
    fn phsubd(a, b) { horizontal32(a, b, u32::wrapping_sub) }
    fn phsubsw(a, b) { horizontal16(a, b, |x, y| (x as i16).saturating_sub(y as i16) as u16) }
    /// Absolute values of the source bytes (0x80 stays 0x80).
    fn pabsb(_a, b) { map8(b, 0, |x, _| (x as i8).unsigned_abs()) }
    fn pabsw(_a, b) { map16(b, 0, |x, _| (x as i16).unsigned_abs()) }
    fn pabsd(_a, b) { map32(b, 0, |x, _| (x as i32).unsigned_abs()) }
    fn psignb(a, b) { map8(a, b, |x, s| sign_of!(x, s as i8)) }
    fn psignw(a, b) { map16(a, b, |x, s| sign_of!(x, s as i16)) }
    fn psignd(a, b) { map32(a, b, |x, s| sign_of!(x, s as i32)) }
    /// Unsigned destination bytes times signed source bytes, pairs summed
    /// with signed saturation.
    fn pmaddubsw(a, b) {
        let (a, b) = (bytes(a), bytes(b));
        let p = |j: usize| a[j] as i32 * b[j] as i8 as i32;
        from_words(std::array::from_fn(|k| sat_i16(p(2 * k) + p(2 * k + 1))))
    }
    /// Rounded high half: ((a * b >> 14) + 1) >> 1.
    fn pmulhrsw(a, b) {
        map16(a, b, |x, y| ((((x as i16 as i32 * y as i16 as i32) >> 14) + 1) >> 1) as u16)
    }

    fn pminsb(a, b) { lanes_minmax_s::<8, false>(a, b) }
    fn pminsd(a, b) { map32(a, b, |x, y| (x as i32).min(y as i32) as u32) }
    fn pminuw(a, b) { lanes_minmax_u::<16, false>(a, b) }
    fn pminud(a, b) { map32(a, b, u32::min) }
    fn pmaxsb(a, b) { lanes_minmax_s::<8, true>(a, b) }
    fn pmaxsd(a, b) { map32(a, b, |x, y| (x as i32).max(y as i32) as u32) }
    fn pmaxuw(a, b) { lanes_minmax_u::<16, true>(a, b) }
    fn pmaxud(a, b) { map32(a, b, u32::max) }
    fn pmulld(a, b) { map32(a, b, u32::wrapping_mul) }
    /// Signed 32x32->64 products of doublewords 0 and 2.
    fn pmuldq(a, b) { map64(a, b, |x, y| (x as i32 as i64 * y as i32 as i64) as u64) }
    fn pcmpeqq(a, b) { map64(a, b, |x, y| ones64(x == y)) }
    fn pcmpgtq(a, b) { map64(a, b, |x, y| ones64(x as i64 > y as i64)) }
    fn packusdw(a, b) {
        let (a, b) = (dwords(a), dwords(b));
        from_words(std::array::from_fn(|k| {
            let x = if k < 4 { a[k] } else { b[k - 4] };
            sat_u16(x as i32)
        }))
    }
    /// The minimum unsigned word in bits 15:0 and its lowest index in 18:16.
    fn phminposuw(_a, b) {
        let w = words(b);
        let (mut min, mut at) = (w[0], 0);
        for (k, &x) in w.iter().enumerate().skip(1) {
            if x < min {
                (min, at) = (x, k);
            }
        }
        min as u128 | (at as u128) << 16
    }
}

xmm_binops_imm! {
    /// Eight sums of absolute differences between a sliding 4-byte window of
    /// the destination (starting at byte 4 * imm8[2]) and source bytes
    /// 4 * imm8[1:0] .. + 3.
    fn mpsadbw(a, b, imm) {
        let (a, b) = (bytes(a), bytes(b));
        let ao = 4 * ((imm >> 2) & 1) as usize;
        let bo = 4 * (imm & 3) as usize;
        from_words(std::array::from_fn(|k| {
            (0..4).map(|j| a[ao + k + j].abs_diff(b[bo + j]) as u16).sum()
        }))
    }
}

/// `ptest xmm1, xmm2/m128`: ZF = (xmm1 AND src) == 0, CF = (NOT xmm1 AND
/// src) == 0; AF, OF, PF and SF cleared.
fn ptest(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let b = read_xmm_m128(core, i, 1, true)?;
    let a = core.xmm[xmm_index(i.op0_register())];
    let mut f = 0;
    if a & b == 0 {
        f |= bits::ZF;
    }
    if !a & b == 0 {
        f |= bits::CF;
    }
    core.flags.set_all_arith(f);
    Ok(())
}

/// The reflected CRC-32C (Castagnoli) polynomial, SDM Vol. 2A CRC32.
const CRC32C_POLY: u32 = 0x82f6_3b78;

/// Byte-at-a-time table for the reflected CRC-32C.
static CRC32C_TABLE: [u32; 256] = crc32c_table();

const fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            k += 1;
        }
        t[n] = c;
        n += 1;
    }
    t
}

/// Accumulates the low `len` bytes of `data` (least significant first) into
/// the CRC-32C value `crc`. No initial or final inversion: CRC32 leaves both
/// to software.
#[inline(always)]
fn crc32c(mut crc: u32, data: u64, len: usize) -> u32 {
    for k in 0..len {
        let byte = (data >> (8 * k)) as u8;
        crc = CRC32C_TABLE[((crc ^ byte as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// `crc32 r32/r64, r/m8/16/32/64`: accumulates the source into the low 32
/// bits of the destination; the result is zero-extended to 64 bits.
fn crc32(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let src = core.read_op(i, 1)?;
    let len = Core::op_bytes(i, 1);
    let d = i.op0_register();
    let crc = crc32c(core.reg(d) as u32, src, len);
    core.set_reg(d, crc as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sse_int_oracle::*;
    use iced_x86::{Code, Instruction, Register};

    fn check_all(codes: &[Code], seed: u64) {
        let mut rng = Rng::new(seed);
        for &code in codes {
            check_xmm_rm(code, 300, &mut rng);
        }
    }

    #[test]
    fn ssse3_arithmetic_matches_host() {
        check_all(
            &[
                Code::Phaddw_xmm_xmmm128,
                Code::Phaddd_xmm_xmmm128,
                Code::Phaddsw_xmm_xmmm128,
                Code::Phsubw_xmm_xmmm128,
                Code::Phsubd_xmm_xmmm128,
                Code::Phsubsw_xmm_xmmm128,
                Code::Pabsb_xmm_xmmm128,
                Code::Pabsw_xmm_xmmm128,
                Code::Pabsd_xmm_xmmm128,
                Code::Psignb_xmm_xmmm128,
                Code::Psignw_xmm_xmmm128,
                Code::Psignd_xmm_xmmm128,
                Code::Pmaddubsw_xmm_xmmm128,
                Code::Pmulhrsw_xmm_xmmm128,
            ],
            21,
        );
    }

    #[test]
    fn sse41_and_sse42_arithmetic_matches_host() {
        check_all(
            &[
                Code::Pminsb_xmm_xmmm128,
                Code::Pminsd_xmm_xmmm128,
                Code::Pminuw_xmm_xmmm128,
                Code::Pminud_xmm_xmmm128,
                Code::Pmaxsb_xmm_xmmm128,
                Code::Pmaxsd_xmm_xmmm128,
                Code::Pmaxuw_xmm_xmmm128,
                Code::Pmaxud_xmm_xmmm128,
                Code::Pmulld_xmm_xmmm128,
                Code::Pmuldq_xmm_xmmm128,
                Code::Pcmpeqq_xmm_xmmm128,
                Code::Pcmpgtq_xmm_xmmm128,
                Code::Packusdw_xmm_xmmm128,
                Code::Phminposuw_xmm_xmmm128,
            ],
            22,
        );
    }

    #[test]
    fn phminposuw_picks_the_lowest_index_of_equal_minima() {
        let mut rng = Rng::new(23);
        let mut o = Oracle::new(&xmm_rm(Code::Phminposuw_xmm_xmmm128, 1, Some(2), 0));
        for _ in 0..500 {
            let mut st = rng.state();
            // Few distinct word values, so ties are frequent.
            st.xmm[2] = (0..8).fold(0u128, |v, k| v | (rng.below(3) as u128) << (16 * k));
            o.check(&st);
        }
    }

    #[test]
    fn mpsadbw_with_every_imm8_matches_host() {
        let mut rng = Rng::new(24);
        check_xmm_rm_imm(Code::Mpsadbw_xmm_xmmm128_imm8, 0..=255, 3, &mut rng);
    }

    #[test]
    fn ptest_sets_zf_cf_and_clears_the_other_flags() {
        let mut rng = Rng::new(25);
        check_xmm_rm(Code::Ptest_xmm_xmmm128, 200, &mut rng);
        for (d, s) in PAIRS {
            let mut o = Oracle::new(&xmm_rm(Code::Ptest_xmm_xmmm128, d, Some(s), 0));
            for _ in 0..300 {
                let mut st = rng.state();
                let a = st.xmm[d as usize];
                // Sources related to the destination so ZF and CF take both values.
                st.xmm[s as usize] = match rng.below(5) {
                    0 => 0,
                    1 => a & rng.u128(),
                    2 => !a & rng.u128(),
                    3 => a,
                    _ => !a,
                };
                o.check(&st);
            }
        }
    }

    #[test]
    fn crc32_of_every_source_width_matches_host() {
        let mut rng = Rng::new(26);
        let forms = [
            (Code::Crc32_r32_rm8, Register::EAX, Register::CL),
            (Code::Crc32_r32_rm8, Register::EDX, Register::AH),
            (Code::Crc32_r32_rm8, Register::R11D, Register::SIL),
            (Code::Crc32_r64_rm8, Register::R9, Register::R15L),
            (Code::Crc32_r32_rm16, Register::ESI, Register::R8W),
            (Code::Crc32_r32_rm32, Register::EBP, Register::EAX),
            (Code::Crc32_r32_rm32, Register::ECX, Register::ECX),
            (Code::Crc32_r64_rm64, Register::RAX, Register::R12),
            (Code::Crc32_r64_rm64, Register::R13, Register::R13),
        ];
        for (code, d, s) in forms {
            let mut o = Oracle::new(&Instruction::with2(code, d, s).unwrap());
            for _ in 0..300 {
                o.check(&rng.state());
            }
            let ins = Instruction::with2(code, d, mem(DISP + 1)).unwrap();
            check_mem_form(&ins, 100, true, &mut rng);
        }
    }
}
