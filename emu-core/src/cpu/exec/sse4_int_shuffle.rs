//! SSSE3 and SSE4.1 byte-moving instructions on XMM registers (SDM Vol. 2):
//! PSHUFB, PALIGNR, PBLENDW, PBLENDVB (implicit XMM0), PMOVZX*/PMOVSX*,
//! PEXTRB/W/D/Q, PINSRB/D/Q and MOVNTDQA. Resolved through `sse4_int`.
//!
//! PMOVZX/PMOVSX memory sources are only as wide as the bytes they use (8, 4
//! or 2) and need no alignment; the m128 sources of the others must be
//! 16-byte aligned (#GP(0) otherwise). Stores of PEXTR* to memory are the
//! element's width, unaligned.

use iced_x86::{Code, Instruction};

use super::sse_common::{check_sse, read_xmm_m128, read_xmm_mem, xmm_index};
use super::sse_int_lanes::*;
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for an SSSE3/SSE4.1 byte-moving instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.code() {
        Code::Pshufb_xmm_xmmm128 => pshufb,
        Code::Palignr_xmm_xmmm128_imm8 => palignr,
        Code::Pblendw_xmm_xmmm128_imm8 => pblendw,
        Code::Pblendvb_xmm_xmmm128 => pblendvb,
        Code::Pmovsxbw_xmm_xmmm64 => pmovx::<1, 2, true>,
        Code::Pmovsxbd_xmm_xmmm32 => pmovx::<1, 4, true>,
        Code::Pmovsxbq_xmm_xmmm16 => pmovx::<1, 8, true>,
        Code::Pmovsxwd_xmm_xmmm64 => pmovx::<2, 4, true>,
        Code::Pmovsxwq_xmm_xmmm32 => pmovx::<2, 8, true>,
        Code::Pmovsxdq_xmm_xmmm64 => pmovx::<4, 8, true>,
        Code::Pmovzxbw_xmm_xmmm64 => pmovx::<1, 2, false>,
        Code::Pmovzxbd_xmm_xmmm32 => pmovx::<1, 4, false>,
        Code::Pmovzxbq_xmm_xmmm16 => pmovx::<1, 8, false>,
        Code::Pmovzxwd_xmm_xmmm64 => pmovx::<2, 4, false>,
        Code::Pmovzxwq_xmm_xmmm32 => pmovx::<2, 8, false>,
        Code::Pmovzxdq_xmm_xmmm64 => pmovx::<4, 8, false>,
        Code::Pextrb_r32m8_xmm_imm8 | Code::Pextrb_r64m8_xmm_imm8 => pextr::<1>,
        Code::Pextrw_r32m16_xmm_imm8 | Code::Pextrw_r64m16_xmm_imm8 => pextr::<2>,
        Code::Pextrd_rm32_xmm_imm8 => pextr::<4>,
        Code::Pextrq_rm64_xmm_imm8 => pextr::<8>,
        Code::Pinsrb_xmm_r32m8_imm8 | Code::Pinsrb_xmm_r64m8_imm8 => pinsr::<1>,
        Code::Pinsrd_xmm_rm32_imm8 => pinsr::<4>,
        Code::Pinsrq_xmm_rm64_imm8 => pinsr::<8>,
        Code::Movntdqa_xmm_m128 => movntdqa,
        _ => return None,
    })
}

xmm_binops! {
    /// Byte k = destination byte (control & 15), or 0 when control bit 7 is set.
    fn pshufb(a, b) {
        let (a, b) = (bytes(a), bytes(b));
        from_bytes(std::array::from_fn(|k| {
            if b[k] & 0x80 != 0 { 0 } else { a[(b[k] & 15) as usize] }
        }))
    }
}

xmm_binops_imm! {
    /// The 32-byte concatenation destination:source shifted right by imm8
    /// bytes (zeros shifted in; imm8 >= 32 gives zero).
    fn palignr(a, b, imm) {
        let n = 8 * imm as u32;
        match n {
            0 => b,
            1..=127 => b >> n | a << (128 - n),
            128..=255 => a >> (n - 128),
            _ => 0,
        }
    }
    /// Word k from the source when imm8 bit k is set.
    fn pblendw(a, b, imm) {
        let (a, b) = (words(a), words(b));
        from_words(std::array::from_fn(|k| if imm >> k & 1 != 0 { b[k] } else { a[k] }))
    }
}

/// `pblendvb xmm1, xmm2/m128, <xmm0>`: byte k from the source when bit 7 of
/// XMM0 byte k is set.
fn pblendvb(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let b = read_xmm_m128(core, i, 1, true)?;
    let d = xmm_index(i.op0_register());
    // Each mask byte's sign spread over the byte selects source bits.
    let m = map8(core.xmm[0], 0, |x, _| ((x as i8) >> 7) as u8);
    core.xmm[d] = (core.xmm[d] & !m) | (b & m);
    Ok(())
}

/// `pmov{s,z}x`: the low `128 / TO` elements of `FROM` bytes, sign- or
/// zero-extended to `TO` bytes each.
fn pmovx<const FROM: usize, const TO: usize, const SIGNED: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    check_sse(core)?;
    let s = read_xmm_mem(core, i, 1)?;
    let (from_bits, to_bits) = (8 * FROM as u32, 8 * TO as u32);
    let mut r = 0u128;
    for k in 0..16 / TO as u32 {
        let x = (s >> (k * from_bits)) as u64 & (u64::MAX >> (64 - from_bits));
        let x = if SIGNED {
            // Sign-extend from `from_bits` to 64, then keep `to_bits`.
            (((x << (64 - from_bits)) as i64) >> (64 - from_bits)) as u64
        } else {
            x
        };
        r |= ((x & (u64::MAX >> (64 - to_bits))) as u128) << (k * to_bits);
    }
    core.xmm[xmm_index(i.op0_register())] = r;
    Ok(())
}

/// `pextr{b,w,d,q} r/m, xmm, imm8`: element imm8 mod (16 / N); a register
/// destination is zero-extended, a memory one gets N bytes.
fn pextr<const N: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = core.xmm[xmm_index(i.op1_register())];
    let k = i.immediate8() as usize % (16 / N);
    let x = (v >> (8 * N * k)) as u64 & (u64::MAX >> (64 - 8 * N));
    core.write_op(i, 0, x)?;
    Ok(())
}

/// `pinsr{b,d,q} xmm, r/m, imm8`: element imm8 mod (16 / N) = the source's
/// low N bytes.
fn pinsr<const N: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let x = core.read_op(i, 1)? & (u64::MAX >> (64 - 8 * N));
    let shift = 8 * N * (i.immediate8() as usize % (16 / N));
    let lane = (u128::MAX >> (128 - 8 * N)) << shift;
    let d = xmm_index(i.op0_register());
    core.xmm[d] = (core.xmm[d] & !lane) | (x as u128) << shift;
    Ok(())
}

/// `movntdqa xmm, m128`: an aligned load (the non-temporal hint has no
/// architectural effect here).
fn movntdqa(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = read_xmm_m128(core, i, 1, true)?;
    core.xmm[xmm_index(i.op0_register())] = v;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sse_int_oracle::*;
    use iced_x86::{Code, Instruction, Register};

    const PMOVX: [Code; 12] = [
        Code::Pmovsxbw_xmm_xmmm64,
        Code::Pmovsxbd_xmm_xmmm32,
        Code::Pmovsxbq_xmm_xmmm16,
        Code::Pmovsxwd_xmm_xmmm64,
        Code::Pmovsxwq_xmm_xmmm32,
        Code::Pmovsxdq_xmm_xmmm64,
        Code::Pmovzxbw_xmm_xmmm64,
        Code::Pmovzxbd_xmm_xmmm32,
        Code::Pmovzxbq_xmm_xmmm16,
        Code::Pmovzxwd_xmm_xmmm64,
        Code::Pmovzxwq_xmm_xmmm32,
        Code::Pmovzxdq_xmm_xmmm64,
    ];

    #[test]
    fn pshufb_and_pblendvb_match_host() {
        let mut rng = Rng::new(31);
        check_xmm_rm(Code::Pshufb_xmm_xmmm128, 300, &mut rng);
        check_xmm_rm(Code::Pblendvb_xmm_xmmm128, 300, &mut rng);
    }

    #[test]
    fn palignr_and_pblendw_with_every_imm8_match_host() {
        let mut rng = Rng::new(32);
        check_xmm_rm_imm(Code::Palignr_xmm_xmmm128_imm8, 0..=255, 2, &mut rng);
        check_xmm_rm_imm(Code::Pblendw_xmm_xmmm128_imm8, 0..=255, 2, &mut rng);
    }

    #[test]
    fn pmovzx_pmovsx_match_host_with_unaligned_memory() {
        let mut rng = Rng::new(33);
        for code in PMOVX {
            check_xmm_rm(code, 300, &mut rng);
        }
    }

    #[test]
    fn pmovzx_pmovsx_memory_forms_read_only_the_bytes_they_use() {
        let mut rng = Rng::new(34);
        for code in PMOVX {
            let ins = xmm_rm(code, 6, None, 0);
            let len = ins.memory_size().size();
            let mut o = Oracle::new(&ins);
            for _ in 0..20 {
                // Host: the operand inside the buffer.
                let st = rng.state();
                let want = o.host(&st);
                // Emulator: the same bytes at the very end of the mapped
                // data page; the next page is unmapped.
                let mut at_end = st;
                let off = 0x1000 - len as u64;
                at_end.gpr[3] = off;
                let data = &st.buf.0[..len];
                o.cpu_mut().write_virt(DATA + off, data).unwrap();
                let got = o.emu(&at_end).expect("no fault past the operand");
                assert_eq!(got.xmm, want.xmm, "{o:?}");
            }
        }
    }

    #[test]
    fn pextr_with_every_imm8_matches_host_for_registers_and_memory() {
        let mut rng = Rng::new(35);
        let forms = [
            (Code::Pextrb_r32m8_xmm_imm8, Register::EAX),
            (Code::Pextrb_r64m8_xmm_imm8, Register::R10),
            (Code::Pextrw_r32m16_xmm_imm8, Register::EDX),
            (Code::Pextrw_r64m16_xmm_imm8, Register::RSI),
            (Code::Pextrd_rm32_xmm_imm8, Register::R8D),
            (Code::Pextrq_rm64_xmm_imm8, Register::RCX),
        ];
        for imm in 0..=255u32 {
            for (n, (code, gpr)) in forms.into_iter().enumerate() {
                let reg = Instruction::with3(code, gpr, Register::XMM9, imm).unwrap();
                Oracle::new(&reg).check(&rng.state());
                if n != 1 && n != 3 {
                    let mem = Instruction::with3(code, mem(DISP + 5), Register::XMM9, imm);
                    check_mem_form(&mem.unwrap(), 1, imm == 0, &mut rng);
                }
            }
        }
    }

    #[test]
    fn pinsr_with_every_imm8_matches_host_for_registers_and_memory() {
        let mut rng = Rng::new(36);
        let forms = [
            (Code::Pinsrb_xmm_r32m8_imm8, Register::EAX),
            (Code::Pinsrb_xmm_r64m8_imm8, Register::R11),
            (Code::Pinsrd_xmm_rm32_imm8, Register::EBP),
            (Code::Pinsrq_xmm_rm64_imm8, Register::R14),
        ];
        for imm in 0..=255u32 {
            for (n, (code, gpr)) in forms.into_iter().enumerate() {
                let reg = Instruction::with3(code, Register::XMM14, gpr, imm).unwrap();
                Oracle::new(&reg).check(&rng.state());
                if n != 1 {
                    let mem = Instruction::with3(code, Register::XMM14, mem(DISP + 7), imm);
                    check_mem_form(&mem.unwrap(), 1, imm == 0, &mut rng);
                }
            }
        }
    }

    #[test]
    fn movntdqa_loads_aligned_and_faults_misaligned() {
        let mut rng = Rng::new(37);
        check_mem_form(
            &xmm_rm(Code::Movntdqa_xmm_m128, 3, None, DISP),
            50,
            true,
            &mut rng,
        );
    }
}
