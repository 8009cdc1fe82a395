//! XMM data movement: movaps/movapd/movdqa (aligned, #GP(0) otherwise),
//! movups/movupd/movdqu/lddqu, movss/movsd (register forms merge, loads
//! zero-extend), movd/movq (GPR and XMM forms, including 66 0F D6),
//! movhps/movlps/movhpd/movlpd, movhlps/movlhps, the non-temporal stores
//! (movntps/movntpd/movntdq/movnti, which behave as ordinary stores here),
//! movmskps/movmskpd, maskmovdqu, movddup/movshdup/movsldup, and
//! ldmxcsr/stmxcsr. MMX-register forms live in `mmx`.

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use super::sse_common::{
    check_sse, from_u32x4, read_xmm_m128, read_xmm_mem, u32x4, write_m128, xmm_index,
};
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::fpu::MXCSR_MASK;

const LOW64: u128 = u64::MAX as u128;
const HIGH64: u128 = LOW64 << 64;

/// The handler for an XMM move, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic as M;
    let mmx =
        (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Register && i.op_register(n).is_mm());
    if mmx {
        return None;
    }
    let reg0 = i.op0_kind() == OpKind::Register;
    let reg1 = i.op_count() > 1 && i.op1_kind() == OpKind::Register;
    Some(match i.mnemonic() {
        M::Movaps | M::Movapd | M::Movdqa => match (reg0, reg1) {
            (true, true) => mov_rr,
            (true, false) => load128::<true>,
            _ => store128::<true>,
        },
        M::Movups | M::Movupd | M::Movdqu | M::Lddqu => match (reg0, reg1) {
            (true, true) => mov_rr,
            (true, false) => load128::<false>,
            _ => store128::<false>,
        },
        M::Movntps | M::Movntpd | M::Movntdq => store128::<true>,
        M::Movnti => movnti,
        M::Movss => scalar_move::<4>,
        M::Movsd if matches!(i.code(), Code::Movsd_xmm_xmmm64 | Code::Movsd_xmmm64_xmm) => {
            scalar_move::<8>
        }
        M::Movd | M::Movq => match i.code() {
            Code::Movd_xmm_rm32 | Code::Movq_xmm_rm64 => movd_to_xmm,
            Code::Movd_rm32_xmm | Code::Movq_rm64_xmm => movd_from_xmm,
            Code::Movq_xmm_xmmm64 => movq_load,
            Code::Movq_xmmm64_xmm => movq_store,
            _ => return None,
        },
        M::Movhps | M::Movhpd => half_move::<true>,
        M::Movlps | M::Movlpd => half_move::<false>,
        M::Movhlps => movhlps,
        M::Movlhps => movlhps,
        M::Movmskps => movmsk::<4>,
        M::Movmskpd => movmsk::<8>,
        M::Maskmovdqu => maskmovdqu,
        M::Movddup => movddup,
        M::Movshdup => movdup32::<1>,
        M::Movsldup => movdup32::<0>,
        M::Ldmxcsr => ldmxcsr,
        M::Stmxcsr => stmxcsr,
        _ => return None,
    })
}

/// Register-to-register 128-bit move.
fn mov_rr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    core.xmm[xmm_index(i.op0_register())] = core.xmm[xmm_index(i.op1_register())];
    Ok(())
}

/// 128-bit load (aligned forms #GP(0) on a misaligned address).
fn load128<const ALIGNED: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = read_xmm_m128(core, i, 1, ALIGNED)?;
    core.xmm[xmm_index(i.op0_register())] = v;
    Ok(())
}

/// 128-bit store.
fn store128<const ALIGNED: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = core.xmm[xmm_index(i.op1_register())];
    write_m128(core, i, v, ALIGNED)
}

/// MOVNTI m32/m64, r32/r64 (a GPR store: no XMM state, no SSE check).
fn movnti(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.reg(i.op1_register());
    core.write_op(i, 0, v)?;
    Ok(())
}

/// MOVSS/MOVSD with `N`-byte lanes: xmm-xmm merges the low lane, a load
/// zero-extends, a store writes the low lane.
fn scalar_move<const N: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let mask = if N == 4 { u32::MAX as u128 } else { LOW64 };
    match (i.op0_kind(), i.op1_kind()) {
        (OpKind::Register, OpKind::Register) => {
            let d = xmm_index(i.op0_register());
            let s = core.xmm[xmm_index(i.op1_register())];
            core.xmm[d] = (core.xmm[d] & !mask) | (s & mask);
        }
        (OpKind::Register, _) => {
            let v = read_xmm_mem(core, i, 1)?;
            core.xmm[xmm_index(i.op0_register())] = v & mask;
        }
        _ => {
            let v = core.xmm[xmm_index(i.op1_register())];
            let addr = core.ea(i);
            core.write_sized(addr, N, v as u64)?;
        }
    }
    Ok(())
}

/// MOVD/MOVQ xmm, r/m32|r/m64: zero-extended into the whole register.
fn movd_to_xmm(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = core.read_op(i, 1)?;
    core.xmm[xmm_index(i.op0_register())] = v as u128;
    Ok(())
}

/// MOVD/MOVQ r/m32|r/m64, xmm.
fn movd_from_xmm(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = core.xmm[xmm_index(i.op1_register())] as u64;
    core.write_op(i, 0, v)?;
    Ok(())
}

/// MOVQ xmm, xmm/m64 (F3 0F 7E): the low quadword, upper zeroed.
fn movq_load(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = read_xmm_mem(core, i, 1)? & LOW64;
    core.xmm[xmm_index(i.op0_register())] = v;
    Ok(())
}

/// MOVQ xmm/m64, xmm (66 0F D6): a store, or a register move zeroing the upper half.
fn movq_store(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = core.xmm[xmm_index(i.op1_register())] & LOW64;
    if i.op0_kind() == OpKind::Register {
        core.xmm[xmm_index(i.op0_register())] = v;
    } else {
        let addr = core.ea(i);
        core.write_u64(addr, v as u64)?;
    }
    Ok(())
}

/// MOVHPS/MOVHPD (`HIGH`) and MOVLPS/MOVLPD: load a quadword into one half
/// (the other kept), or store that half.
fn half_move<const HIGH: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let shift = if HIGH { 64 } else { 0 };
    let addr = core.ea(i);
    if i.op0_kind() == OpKind::Register {
        let v = core.read_u64(addr)? as u128;
        let d = xmm_index(i.op0_register());
        core.xmm[d] = (core.xmm[d] & !(LOW64 << shift)) | v << shift;
    } else {
        let v = (core.xmm[xmm_index(i.op1_register())] >> shift) as u64;
        core.write_u64(addr, v)?;
    }
    Ok(())
}

/// MOVHLPS: the source's high quadword into the destination's low one.
fn movhlps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let s = core.xmm[xmm_index(i.op1_register())];
    core.xmm[d] = (core.xmm[d] & HIGH64) | s >> 64;
    Ok(())
}

/// MOVLHPS: the source's low quadword into the destination's high one.
fn movlhps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let s = core.xmm[xmm_index(i.op1_register())];
    core.xmm[d] = (core.xmm[d] & LOW64) | s << 64;
    Ok(())
}

/// MOVMSKPS/MOVMSKPD: the sign bits of the `N`-byte lanes into a GPR.
fn movmsk<const N: u32>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let s = core.xmm[xmm_index(i.op1_register())];
    let lanes = 16 / N;
    let m = (0..lanes).fold(0u64, |m, n| {
        m | (((s >> ((n + 1) * N * 8 - 1)) & 1) as u64) << n
    });
    core.set_reg(i.op0_register(), m);
    Ok(())
}

/// MASKMOVDQU: stores the bytes of the first operand whose mask byte (in
/// the second) has its top bit set, at DS:rDI. Every selected byte is
/// checked writable before any is written; an all-zero mask accesses nothing.
fn maskmovdqu(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let data = core.xmm[xmm_index(i.op1_register())].to_le_bytes();
    let mask = core.xmm[xmm_index(i.op2_register())].to_le_bytes();
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
    // The host (AMD Zen 4) checks the whole 16-byte destination for
    // writability first, whatever the mask: a fault reports RDI, or the
    // second page's first byte when only that page is inaccessible.
    core.probe_write(addr, 16)?;
    for n in (0..16).filter(|&n| mask[n] & 0x80 != 0) {
        core.write_u8(addr.wrapping_add(n as u64), data[n])?;
    }
    Ok(())
}

/// MOVDDUP: the low quadword (xmm or m64) into both halves.
fn movddup(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let v = read_xmm_mem(core, i, 1)? & LOW64;
    core.xmm[xmm_index(i.op0_register())] = v | v << 64;
    Ok(())
}

/// MOVSLDUP (`ODD` = 0) / MOVSHDUP (`ODD` = 1): even or odd doublewords duplicated.
fn movdup32<const ODD: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let s = u32x4(read_xmm_m128(core, i, 1, true)?);
    core.xmm[xmm_index(i.op0_register())] = from_u32x4([s[ODD], s[ODD], s[2 + ODD], s[2 + ODD]]);
    Ok(())
}

/// LDMXCSR: #GP(0) when a bit outside MXCSR_MASK is set.
fn ldmxcsr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let addr = core.ea(i);
    let v = core.read_u32(addr)?;
    if v & !MXCSR_MASK != 0 {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    core.mxcsr = v;
    Ok(())
}

fn stmxcsr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let addr = core.ea(i);
    core.write_u32(addr, core.mxcsr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::check_insn;
    use crate::cpu::exec::sse_float::oracle::{Emu, Rng, State, DATA};
    use crate::Exception;

    fn random_state(rng: &mut Rng) -> State {
        let r = |rng: &mut Rng| rng.bits() as u128 | (rng.bits() as u128) << 64;
        let mut st = State::new(r(rng), r(rng), 0x1f80);
        st.xmm[2] = r(rng);
        st.xmm[3] = r(rng);
        st.rax = rng.bits();
        st.rcx = rng.bits();
        for b in st.mem.iter_mut() {
            *b = rng.bits() as u8;
        }
        st
    }

    macro_rules! same {
        ($name:ident, $($insn:literal),+) => {
            #[test]
            fn $name() {
                let mut emu = Emu::new();
                let mut rng = Rng::new(0x30e ^ line!() as u64);
                for _ in 0..50 {
                    let st = random_state(&mut rng);
                    $(check_insn!(emu, $insn, &st);)+
                }
            }
        };
    }

    same!(
        aligned_moves_match_host,
        "movaps xmm0, xmm1",
        "movaps xmm0, [rdi + 16]",
        "movaps [rdi + 32], xmm1",
        "movapd xmm3, xmm2",
        "movapd xmm0, [rdi]",
        "movapd [rdi + 48], xmm2",
        "movdqa xmm1, xmm3",
        "movdqa xmm2, [rdi + 32]",
        "movdqa [rdi], xmm3"
    );
    same!(
        unaligned_moves_match_host,
        "movups xmm0, [rdi + 3]",
        "movups [rdi + 5], xmm1",
        "movupd xmm0, [rdi + 9]",
        "movupd [rdi + 1], xmm1",
        "movdqu xmm2, [rdi + 7]",
        "movdqu [rdi + 33], xmm3",
        "movdqu xmm0, xmm3",
        "lddqu xmm1, [rdi + 13]"
    );
    same!(
        non_temporal_stores_match_host,
        "movntps [rdi + 16], xmm1",
        "movntpd [rdi], xmm2",
        "movntdq [rdi + 48], xmm3",
        "movnti [rdi + 4], eax",
        "movnti [rdi + 8], rcx"
    );
    same!(
        movss_movsd_match_host,
        "movss xmm0, xmm1",
        "movss xmm0, [rdi + 4]",
        "movss [rdi + 8], xmm1",
        "movsd xmm0, xmm1",
        "movsd xmm0, [rdi + 4]",
        "movsd [rdi + 8], xmm1"
    );
    same!(
        movd_movq_match_host,
        "movd xmm0, eax",
        "movd xmm0, [rdi + 4]",
        "movq xmm1, rcx",
        "movq xmm1, qword ptr [rdi + 8]",
        "movd eax, xmm1",
        "movd [rdi + 12], xmm1",
        "movq rcx, xmm0",
        "movq qword ptr [rdi + 8], xmm0",
        "movq xmm0, xmm1",
        "movq xmm2, qword ptr [rdi + 3]",
        "movq qword ptr [rdi + 1], xmm2"
    );
    same!(
        movq_66_0f_d6_forms_match_host,
        ".byte 0x66, 0x0f, 0xd6, 0xc8",
        ".byte 0x66, 0x0f, 0xd6, 0x4f, 0x10"
    );
    same!(
        half_moves_match_host,
        "movhps xmm0, [rdi + 4]",
        "movhps [rdi + 8], xmm1",
        "movlps xmm0, [rdi + 4]",
        "movlps [rdi + 8], xmm1",
        "movhpd xmm2, [rdi + 12]",
        "movhpd [rdi + 20], xmm3",
        "movlpd xmm2, [rdi + 12]",
        "movlpd [rdi + 20], xmm3",
        "movhlps xmm0, xmm1",
        "movlhps xmm2, xmm3"
    );
    same!(
        masks_and_dups_match_host,
        "movmskps eax, xmm1",
        "movmskps rcx, xmm2",
        "movmskpd eax, xmm3",
        "movmskpd rcx, xmm0",
        "movddup xmm0, xmm1",
        "movddup xmm0, [rdi + 8]",
        "movshdup xmm1, xmm2",
        "movshdup xmm1, [rdi + 16]",
        "movsldup xmm3, xmm0",
        "movsldup xmm3, [rdi + 32]"
    );
    same!(
        maskmovdqu_matches_host,
        "maskmovdqu xmm1, xmm2",
        "maskmovdqu xmm0, xmm3"
    );

    #[test]
    fn ldmxcsr_and_stmxcsr_match_host() {
        let mut emu = Emu::new();
        let mut rng = Rng::new(99);
        for _ in 0..200 {
            let mut st = random_state(&mut rng);
            let v = (rng.bits() as u32) & 0xffff;
            st.mem[..4].copy_from_slice(&v.to_le_bytes());
            let out = check_insn!(emu, "ldmxcsr [rdi]", &st);
            assert_eq!(out.mxcsr, v);
            check_insn!(emu, "stmxcsr [rdi + 8]", &st);
        }
    }

    #[test]
    fn ldmxcsr_with_reserved_bits_is_a_general_protection_fault() {
        // ldmxcsr [rdi]
        let mut emu = Emu::new();
        let mut st = State::new(0, 0, 0x1f80);
        st.mem[..4].copy_from_slice(&0x0004_1f80u32.to_le_bytes());
        assert_eq!(
            emu.run(&[0x0f, 0xae, 0x17], &st),
            Err(Exception::GeneralProtection(0))
        );
    }

    #[test]
    fn aligned_forms_fault_on_misaligned_addresses() {
        let mut emu = Emu::new();
        let st = State::new(1, 2, 0x1f80);
        // movaps xmm0, [rdi+8]; movaps [rdi+8], xmm0; movdqa xmm0, [rdi+4];
        // movntdq [rdi+8], xmm0; movshdup xmm0, [rdi+8]; addps xmm0, [rdi+8]
        for code in [
            &[0x0f, 0x28, 0x47, 0x08][..],
            &[0x0f, 0x29, 0x47, 0x08],
            &[0x66, 0x0f, 0x6f, 0x47, 0x04],
            &[0x66, 0x0f, 0xe7, 0x47, 0x08],
            &[0xf3, 0x0f, 0x16, 0x47, 0x08],
            &[0x0f, 0x58, 0x47, 0x08],
        ] {
            assert_eq!(
                emu.run(code, &st),
                Err(Exception::GeneralProtection(0)),
                "{code:x?}"
            );
        }
        // movups xmm0, [rdi+8] is fine.
        assert!(emu.run(&[0x0f, 0x10, 0x47, 0x08], &st).is_ok());
    }

    #[test]
    fn store_to_unmapped_page_changes_nothing() {
        // movups [rdi + 0xff8], xmm1 crosses into an unmapped page.
        let mut emu = Emu::new();
        let st = State::new(0, u128::MAX, 0x1f80);
        let r = emu.run(&[0x0f, 0x11, 0x8f, 0xf8, 0x0f, 0x00, 0x00], &st);
        assert_eq!(
            r,
            Err(Exception::PageFault {
                addr: DATA + 0x1000,
                error_code: 6
            })
        );
    }
}
