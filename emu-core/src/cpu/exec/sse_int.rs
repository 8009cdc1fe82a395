//! SSE2 packed-integer arithmetic, comparison and logic on XMM registers
//! (SDM Vol. 2: PADD*, PSUB*, PMUL*, PMADDWD, PSADBW, PAVG*, PMIN*/PMAX*,
//! PCMPEQ*/PCMPGT*, PAND/PANDN/POR/PXOR). Shifts, packs, unpacks, shuffles,
//! PMOVMSKB and PINSRW/PEXTRW live in `sse_int_shuffle`; SSSE3 and SSE4 in
//! `sse4_int`. Lane helpers come from `sse_int_lanes`.
//!
//! Only the XMM forms are here: the MMX encodings (and MOVQ2DQ/MOVDQ2Q) live
//! in `mmx`. Every memory source is 16 bytes and must be 16-byte aligned
//! (#GP(0) otherwise).

use iced_x86::{Code, Instruction};

use super::sse_common::{check_sse, read_xmm_m128, xmm_index};
use super::sse_int_lanes::*;
use super::{sse_int_shuffle, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for an SSE2 packed-integer instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.code() {
        Code::Paddb_xmm_xmmm128 => paddb,
        Code::Paddw_xmm_xmmm128 => paddw,
        Code::Paddd_xmm_xmmm128 => paddd,
        Code::Paddq_xmm_xmmm128 => paddq,
        Code::Paddsb_xmm_xmmm128 => paddsb,
        Code::Paddsw_xmm_xmmm128 => paddsw,
        Code::Paddusb_xmm_xmmm128 => paddusb,
        Code::Paddusw_xmm_xmmm128 => paddusw,
        Code::Psubb_xmm_xmmm128 => psubb,
        Code::Psubw_xmm_xmmm128 => psubw,
        Code::Psubd_xmm_xmmm128 => psubd,
        Code::Psubq_xmm_xmmm128 => psubq,
        Code::Psubsb_xmm_xmmm128 => psubsb,
        Code::Psubsw_xmm_xmmm128 => psubsw,
        Code::Psubusb_xmm_xmmm128 => psubusb,
        Code::Psubusw_xmm_xmmm128 => psubusw,
        Code::Pmullw_xmm_xmmm128 => pmullw,
        Code::Pmulhw_xmm_xmmm128 => pmulhw,
        Code::Pmulhuw_xmm_xmmm128 => pmulhuw,
        Code::Pmuludq_xmm_xmmm128 => pmuludq,
        Code::Pmaddwd_xmm_xmmm128 => pmaddwd,
        Code::Psadbw_xmm_xmmm128 => psadbw,
        Code::Pavgb_xmm_xmmm128 => pavgb,
        Code::Pavgw_xmm_xmmm128 => pavgw,
        Code::Pminub_xmm_xmmm128 => pminub,
        Code::Pmaxub_xmm_xmmm128 => pmaxub,
        Code::Pminsw_xmm_xmmm128 => pminsw,
        Code::Pmaxsw_xmm_xmmm128 => pmaxsw,
        Code::Pcmpeqb_xmm_xmmm128 => pcmpeqb,
        Code::Pcmpeqw_xmm_xmmm128 => pcmpeqw,
        Code::Pcmpeqd_xmm_xmmm128 => pcmpeqd,
        Code::Pcmpgtb_xmm_xmmm128 => pcmpgtb,
        Code::Pcmpgtw_xmm_xmmm128 => pcmpgtw,
        Code::Pcmpgtd_xmm_xmmm128 => pcmpgtd,
        Code::Pand_xmm_xmmm128 => pand,
        Code::Pandn_xmm_xmmm128 => pandn,
        Code::Por_xmm_xmmm128 => por,
        Code::Pxor_xmm_xmmm128 => pxor,
        _ => return sse_int_shuffle::resolve(i),
    })
}

xmm_binops! {
    fn paddb(a, b) { lanes_add::<8>(a, b) }
    fn paddw(a, b) { lanes_add::<16>(a, b) }
    fn paddd(a, b) { map32(a, b, u32::wrapping_add) }
    fn paddq(a, b) { map64(a, b, u64::wrapping_add) }
    fn paddsb(a, b) { lanes_adds_s::<8>(a, b) }
    fn paddsw(a, b) { lanes_adds_s::<16>(a, b) }
    fn paddusb(a, b) { lanes_adds_u::<8>(a, b) }
    fn paddusw(a, b) { lanes_adds_u::<16>(a, b) }
    fn psubb(a, b) { lanes_sub::<8>(a, b) }
    fn psubw(a, b) { lanes_sub::<16>(a, b) }
    fn psubd(a, b) { map32(a, b, u32::wrapping_sub) }
    fn psubq(a, b) { map64(a, b, u64::wrapping_sub) }
    fn psubsb(a, b) { lanes_subs_s::<8>(a, b) }
    fn psubsw(a, b) { lanes_subs_s::<16>(a, b) }
    fn psubusb(a, b) { lanes_subs_u::<8>(a, b) }
    fn psubusw(a, b) { lanes_subs_u::<16>(a, b) }

    fn pmullw(a, b) { map16(a, b, u16::wrapping_mul) }
    fn pmulhw(a, b) { map16(a, b, |x, y| ((x as i16 as i32 * y as i16 as i32) >> 16) as u16) }
    fn pmulhuw(a, b) { map16(a, b, |x, y| ((x as u32 * y as u32) >> 16) as u16) }
    /// Unsigned 32x32->64 products of doublewords 0 and 2.
    fn pmuludq(a, b) { map64(a, b, |x, y| (x as u32 as u64) * (y as u32 as u64)) }
    /// Signed word products summed in pairs (only 0x8000 * 0x8000 * 2 wraps).
    fn pmaddwd(a, b) {
        let (a, b) = (words(a), words(b));
        let p = |j: usize| a[j] as i16 as i32 * b[j] as i16 as i32;
        from_dwords(std::array::from_fn(|k| p(2 * k).wrapping_add(p(2 * k + 1)) as u32))
    }
    /// Sum of absolute byte differences of each half in its low word.
    fn psadbw(a, b) {
        let (a, b) = (bytes(a), bytes(b));
        let sad = |h: usize| (0..8).map(|k| a[8 * h + k].abs_diff(b[8 * h + k]) as u64).sum();
        from_qwords([sad(0), sad(1)])
    }
    fn pavgb(a, b) { lanes_avg_u::<8>(a, b) }
    fn pavgw(a, b) { lanes_avg_u::<16>(a, b) }

    fn pminub(a, b) { lanes_minmax_u::<8, false>(a, b) }
    fn pmaxub(a, b) { lanes_minmax_u::<8, true>(a, b) }
    fn pminsw(a, b) { lanes_minmax_s::<16, false>(a, b) }
    fn pmaxsw(a, b) { lanes_minmax_s::<16, true>(a, b) }

    fn pcmpeqb(a, b) { lanes_eq::<8>(a, b) }
    fn pcmpeqw(a, b) { lanes_eq::<16>(a, b) }
    fn pcmpeqd(a, b) { map32(a, b, |x, y| ones32(x == y)) }
    fn pcmpgtb(a, b) { lanes_gt_s::<8>(a, b) }
    fn pcmpgtw(a, b) { lanes_gt_s::<16>(a, b) }
    fn pcmpgtd(a, b) { map32(a, b, |x, y| ones32(x as i32 > y as i32)) }

    fn pand(a, b) { a & b }
    fn pandn(a, b) { !a & b }
    fn por(a, b) { a | b }
    fn pxor(a, b) { a ^ b }
}

#[cfg(test)]
mod tests {
    use super::super::sse_int_oracle::{check_xmm_rm, Rng};
    use crate::Exception;
    use iced_x86::Code;

    fn check_all(codes: &[Code], seed: u64) {
        let mut rng = Rng::new(seed);
        for &code in codes {
            check_xmm_rm(code, 300, &mut rng);
        }
    }

    #[test]
    fn wrapping_add_sub_match_host() {
        check_all(
            &[
                Code::Paddb_xmm_xmmm128,
                Code::Paddw_xmm_xmmm128,
                Code::Paddd_xmm_xmmm128,
                Code::Paddq_xmm_xmmm128,
                Code::Psubb_xmm_xmmm128,
                Code::Psubw_xmm_xmmm128,
                Code::Psubd_xmm_xmmm128,
                Code::Psubq_xmm_xmmm128,
            ],
            1,
        );
    }

    #[test]
    fn saturating_add_sub_match_host() {
        check_all(
            &[
                Code::Paddsb_xmm_xmmm128,
                Code::Paddsw_xmm_xmmm128,
                Code::Paddusb_xmm_xmmm128,
                Code::Paddusw_xmm_xmmm128,
                Code::Psubsb_xmm_xmmm128,
                Code::Psubsw_xmm_xmmm128,
                Code::Psubusb_xmm_xmmm128,
                Code::Psubusw_xmm_xmmm128,
            ],
            2,
        );
    }

    #[test]
    fn multiplies_sad_and_averages_match_host() {
        check_all(
            &[
                Code::Pmullw_xmm_xmmm128,
                Code::Pmulhw_xmm_xmmm128,
                Code::Pmulhuw_xmm_xmmm128,
                Code::Pmuludq_xmm_xmmm128,
                Code::Pmaddwd_xmm_xmmm128,
                Code::Psadbw_xmm_xmmm128,
                Code::Pavgb_xmm_xmmm128,
                Code::Pavgw_xmm_xmmm128,
            ],
            3,
        );
    }

    #[test]
    fn min_max_compare_and_logic_match_host() {
        check_all(
            &[
                Code::Pminub_xmm_xmmm128,
                Code::Pmaxub_xmm_xmmm128,
                Code::Pminsw_xmm_xmmm128,
                Code::Pmaxsw_xmm_xmmm128,
                Code::Pcmpeqb_xmm_xmmm128,
                Code::Pcmpeqw_xmm_xmmm128,
                Code::Pcmpeqd_xmm_xmmm128,
                Code::Pcmpgtb_xmm_xmmm128,
                Code::Pcmpgtw_xmm_xmmm128,
                Code::Pcmpgtd_xmm_xmmm128,
                Code::Pand_xmm_xmmm128,
                Code::Pandn_xmm_xmmm128,
                Code::Por_xmm_xmmm128,
                Code::Pxor_xmm_xmmm128,
            ],
            4,
        );
    }

    #[test]
    fn lock_prefix_raises_invalid_opcode() {
        use crate::{Cpu, CpuConfig, Exit, Prot, RunLimit};
        // lock pxor xmm0, xmm1; lock pcmpistri xmm1, xmm2, 0; lock crc32 eax, cl
        for code in [
            &[0xf0, 0x66, 0x0f, 0xef, 0xc1][..],
            &[0xf0, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x00],
            &[0xf0, 0xf2, 0x0f, 0x38, 0xf0, 0xc1],
        ] {
            let mut cpu = Cpu::new(CpuConfig { ram_size: 1 << 20 }).unwrap();
            cpu.map(0x1000, 0x1000, Prot::RX).unwrap();
            cpu.write_virt(0x1000, code).unwrap();
            cpu.set_rip(0x1000);
            let exit = cpu.run(RunLimit::default());
            assert_eq!(exit, Exit::Exception(Exception::InvalidOpcode));
        }
    }
}
