//! SSE/SSE2 floating-point shuffles and interleaves: shufps, shufpd,
//! unpcklps, unpckhps, unpcklpd, unpckhpd (128-bit memory operands must be
//! 16-byte aligned).

use iced_x86::{Instruction, Mnemonic};

use super::sse_common::{
    check_sse, from_u32x4, from_u64x2, read_xmm_m128, u32x4, u64x2, xmm_index,
};
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for a floating-point shuffle, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.mnemonic() {
        Mnemonic::Shufps => shufps,
        Mnemonic::Shufpd => shufpd,
        Mnemonic::Unpcklps => unpcklps,
        Mnemonic::Unpckhps => unpckhps,
        Mnemonic::Unpcklpd => unpcklpd,
        Mnemonic::Unpckhpd => unpckhpd,
        _ => return None,
    })
}

/// Reads the destination register and the aligned 128-bit source.
#[inline(always)]
fn operands(core: &mut Core, i: &Instruction) -> Result<(usize, u128, u128), Stop> {
    check_sse(core)?;
    let d = xmm_index(i.op0_register());
    let b = read_xmm_m128(core, i, 1, true)?;
    Ok((d, core.xmm[d], b))
}

/// SHUFPS: two lanes of the destination, then two of the source, each
/// chosen by a 2-bit field of imm8.
fn shufps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (d, a, b) = operands(core, i)?;
    let (a, b) = (u32x4(a), u32x4(b));
    let imm = i.immediate8() as usize;
    core.xmm[d] = from_u32x4([
        a[imm & 3],
        a[imm >> 2 & 3],
        b[imm >> 4 & 3],
        b[imm >> 6 & 3],
    ]);
    Ok(())
}

/// SHUFPD: lane imm8[0] of the destination, lane imm8[1] of the source.
fn shufpd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (d, a, b) = operands(core, i)?;
    let (a, b) = (u64x2(a), u64x2(b));
    let imm = i.immediate8() as usize;
    core.xmm[d] = from_u64x2([a[imm & 1], b[imm >> 1 & 1]]);
    Ok(())
}

fn unpcklps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (d, a, b) = operands(core, i)?;
    let (a, b) = (u32x4(a), u32x4(b));
    core.xmm[d] = from_u32x4([a[0], b[0], a[1], b[1]]);
    Ok(())
}

fn unpckhps(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (d, a, b) = operands(core, i)?;
    let (a, b) = (u32x4(a), u32x4(b));
    core.xmm[d] = from_u32x4([a[2], b[2], a[3], b[3]]);
    Ok(())
}

fn unpcklpd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (d, a, b) = operands(core, i)?;
    core.xmm[d] = from_u64x2([u64x2(a)[0], u64x2(b)[0]]);
    Ok(())
}

fn unpckhpd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (d, a, b) = operands(core, i)?;
    core.xmm[d] = from_u64x2([u64x2(a)[1], u64x2(b)[1]]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::check_insn;
    use crate::cpu::exec::sse_float::oracle::{Emu, Rng, State};
    use crate::Exception;

    macro_rules! fuzz {
        ($name:ident, $insn:literal) => {
            #[test]
            fn $name() {
                let mut emu = Emu::new();
                let mut rng = Rng::new(0x5417 ^ line!() as u64);
                for _ in 0..200 {
                    let r = |rng: &mut Rng| rng.bits() as u128 | (rng.bits() as u128) << 64;
                    let mut st = State::new(r(&mut rng), r(&mut rng), 0x1f80);
                    st.mem[..16].copy_from_slice(&r(&mut rng).to_le_bytes());
                    check_insn!(emu, $insn, &st);
                }
            }
        };
    }

    fuzz!(shufps_matches_host, "shufps xmm0, xmm1, 0x1b");
    fuzz!(shufps_mem_matches_host, "shufps xmm0, [rdi], 0xc6");
    fuzz!(shufpd_matches_host, "shufpd xmm0, xmm1, 1");
    fuzz!(shufpd_other_matches_host, "shufpd xmm0, [rdi], 2");
    fuzz!(unpcklps_matches_host, "unpcklps xmm0, xmm1");
    fuzz!(unpckhps_matches_host, "unpckhps xmm0, [rdi]");
    fuzz!(unpcklpd_matches_host, "unpcklpd xmm0, xmm1");
    fuzz!(unpckhpd_matches_host, "unpckhpd xmm0, xmm1");

    #[test]
    fn misaligned_memory_operand_is_a_general_protection_fault() {
        // shufps xmm0, [rdi + 8], 0
        let mut emu = Emu::new();
        let st = State::new(1, 2, 0x1f80);
        assert_eq!(
            emu.run(&[0x0f, 0xc6, 0x47, 0x08, 0x00], &st),
            Err(Exception::GeneralProtection(0))
        );
    }
}
