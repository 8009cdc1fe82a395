//! MMX technology (SDM Vol. 1 ch. 9, Vol. 2 "P*" pages): the packed-integer
//! instructions on the eight 64-bit MM registers, MOVD/MOVQ to and from MM,
//! and EMMS. The SSE/SSE2/SSSE3 instructions on MM registers (PSHUFW,
//! PAVG*, PSADBW, PSHUFB, PALIGNR, MASKMOVQ, CVTPI2PS, MOVQ2DQ, ...) live in
//! [`ext`].
//!
//! Register aliasing (SDM Vol. 1, 9.5 and Table 9-2): MMn is bits 63:0 of
//! the x87 physical register Rn. Every MMX instruction except EMMS sets
//! TOP = 0 and tags all eight registers non-empty (the full tag word, as
//! FNSTENV reports it, classifies each register's contents); a write to MMn
//! also sets the exponent field (bits 79:64) of Rn to all ones. EMMS tags
//! all registers empty (and, on the host, also clears TOP). The transition
//! happens once the operands are read: a fault on a memory source or
//! destination leaves the x87 state unchanged, but the host performs it
//! before MASKMOVQ's store and before a conversion's #XM.
//!
//! Lane arithmetic reuses the 128-bit SSE helpers on zero-extended values.

use iced_x86::{Code, Instruction, OpKind, Register};

use super::sse4_int::horizontal16;
use super::sse_int_lanes::*;
use super::sse_int_shuffle::{
    pack_ssdw, pack_sswb, pack_uswb, shift, unpack, SLLD, SLLQ, SLLW, SRAD, SRAW, SRLD, SRLQ, SRLW,
};
use super::x87::ES;
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::fpu::{tag, Fpu};
use crate::mmu::cr0;

pub mod ext;

#[cfg(test)]
mod tests;

/// The handler for an MMX instruction (or an SSE one on MM registers), if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.code() {
        Code::Movd_mm_rm32 | Code::Movq_mm_rm64 | Code::Movq_mm_mmm64 => mov_to_mm,
        Code::Movd_rm32_mm | Code::Movq_rm64_mm | Code::Movq_mmm64_mm => mov_from_mm,
        Code::Emms => emms,
        Code::Paddb_mm_mmm64 => paddb,
        Code::Paddw_mm_mmm64 => paddw,
        Code::Paddd_mm_mmm64 => paddd,
        Code::Paddq_mm_mmm64 => paddq,
        Code::Paddsb_mm_mmm64 => paddsb,
        Code::Paddsw_mm_mmm64 => paddsw,
        Code::Paddusb_mm_mmm64 => paddusb,
        Code::Paddusw_mm_mmm64 => paddusw,
        Code::Psubb_mm_mmm64 => psubb,
        Code::Psubw_mm_mmm64 => psubw,
        Code::Psubd_mm_mmm64 => psubd,
        Code::Psubq_mm_mmm64 => psubq,
        Code::Psubsb_mm_mmm64 => psubsb,
        Code::Psubsw_mm_mmm64 => psubsw,
        Code::Psubusb_mm_mmm64 => psubusb,
        Code::Psubusw_mm_mmm64 => psubusw,
        Code::Pmullw_mm_mmm64 => pmullw,
        Code::Pmulhw_mm_mmm64 => pmulhw,
        Code::Pmaddwd_mm_mmm64 => pmaddwd,
        Code::Pcmpeqb_mm_mmm64 => pcmpeqb,
        Code::Pcmpeqw_mm_mmm64 => pcmpeqw,
        Code::Pcmpeqd_mm_mmm64 => pcmpeqd,
        Code::Pcmpgtb_mm_mmm64 => pcmpgtb,
        Code::Pcmpgtw_mm_mmm64 => pcmpgtw,
        Code::Pcmpgtd_mm_mmm64 => pcmpgtd,
        Code::Pand_mm_mmm64 => pand,
        Code::Pandn_mm_mmm64 => pandn,
        Code::Por_mm_mmm64 => por,
        Code::Pxor_mm_mmm64 => pxor,
        Code::Packsswb_mm_mmm64 => packsswb,
        Code::Packssdw_mm_mmm64 => packssdw,
        Code::Packuswb_mm_mmm64 => packuswb,
        Code::Punpcklbw_mm_mmm32 => punpcklbw,
        Code::Punpcklwd_mm_mmm32 => punpcklwd,
        Code::Punpckldq_mm_mmm32 => punpckldq,
        Code::Punpckhbw_mm_mmm64 => punpckhbw,
        Code::Punpckhwd_mm_mmm64 => punpckhwd,
        Code::Punpckhdq_mm_mmm64 => punpckhdq,
        Code::Psllw_mm_imm8 => shift_imm::<SLLW>,
        Code::Pslld_mm_imm8 => shift_imm::<SLLD>,
        Code::Psllq_mm_imm8 => shift_imm::<SLLQ>,
        Code::Psrlw_mm_imm8 => shift_imm::<SRLW>,
        Code::Psrld_mm_imm8 => shift_imm::<SRLD>,
        Code::Psrlq_mm_imm8 => shift_imm::<SRLQ>,
        Code::Psraw_mm_imm8 => shift_imm::<SRAW>,
        Code::Psrad_mm_imm8 => shift_imm::<SRAD>,
        Code::Psllw_mm_mmm64 => shift_mm::<SLLW>,
        Code::Pslld_mm_mmm64 => shift_mm::<SLLD>,
        Code::Psllq_mm_mmm64 => shift_mm::<SLLQ>,
        Code::Psrlw_mm_mmm64 => shift_mm::<SRLW>,
        Code::Psrld_mm_mmm64 => shift_mm::<SRLD>,
        Code::Psrlq_mm_mmm64 => shift_mm::<SRLQ>,
        Code::Psraw_mm_mmm64 => shift_mm::<SRAW>,
        Code::Psrad_mm_mmm64 => shift_mm::<SRAD>,
        _ => return ext::resolve(i),
    })
}

// ----- MMX state ---------------------------------------------------------

/// Exponent field written into Rn by a write to MMn (bits 79:64 all ones).
const MM_EXP: u128 = 0xffff << 64;

/// Index 0..7 of an MM register.
#[inline(always)]
pub(crate) fn mm_index(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::MM0 as usize) & 7
}

/// Checks that an MMX instruction may execute: #UD when CR0.EM, #NM when
/// CR0.TS, then #MF for a pending unmasked x87 exception (FSW.ES).
#[inline(always)]
pub(crate) fn check_mmx(core: &Core) -> Result<(), Stop> {
    let c0 = core.mmu.cr0();
    if c0 & cr0::EM != 0 {
        return Err(Stop::Fault(Exception::InvalidOpcode));
    }
    if c0 & cr0::TS != 0 {
        return Err(Stop::Fault(Exception::DeviceNotAvailable));
    }
    if core.fpu.fsw & ES != 0 {
        return Err(Stop::Fault(Exception::X87Float));
    }
    Ok(())
}

/// The x87-to-MMX transition of a completing MMX instruction: TOP = 0 and
/// no register tagged empty. Tags of non-empty registers already describe
/// their contents (the x87 family and FXRSTOR keep them so), so only an
/// empty tag or a nonzero TOP needs the full rebuild.
#[inline(always)]
pub(crate) fn transition(fpu: &mut Fpu) {
    let empty = fpu.ftw & (fpu.ftw >> 1) & 0x5555;
    if empty != 0 || fpu.fsw & (7 << 11) != 0 {
        fpu.fsw &= !(7 << 11);
        fpu.set_abridged_tag(0xff);
    }
}

/// MM register `n`.
#[inline(always)]
pub(crate) fn mm(core: &Core, n: usize) -> u64 {
    core.fpu.regs[n] as u64
}

/// Writes MM register `n` (exponent all ones, so its tag is special) and
/// completes the transition.
#[inline(always)]
pub(crate) fn set_mm(core: &mut Core, n: usize, v: u64) {
    transition(&mut core.fpu);
    core.fpu.regs[n] = MM_EXP | v as u128;
    let sh = 2 * n;
    core.fpu.ftw = (core.fpu.ftw & !(3 << sh)) | (tag::SPECIAL << sh);
}

/// Reads operand `n`: an MM register, or a memory operand of its own size
/// (8 or 4 bytes, no alignment requirement), zero-extended.
#[inline(always)]
pub(crate) fn read_mm_mem(core: &mut Core, i: &Instruction, n: u32) -> Result<u64, Stop> {
    match i.op_kind(n) {
        OpKind::Register => Ok(mm(core, mm_index(i.op_register(n)))),
        _ => {
            let addr = core.ea(i);
            Ok(core.read_sized(addr, i.memory_size().size())?)
        }
    }
}

/// A 64-bit value zero-extended for the 128-bit lane helpers.
#[inline(always)]
pub(crate) fn x(v: u64) -> u128 {
    v as u128
}

/// Defines `op mm, mm/m64` handlers: `mm = body(a = mm, b = source)`.
macro_rules! mm_binops {
    ($($(#[$m:meta])* fn $name:ident($a:ident, $b:ident) $body:block)*) => {$(
        $(#[$m])*
        fn $name(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
            check_mmx(core)?;
            let $b: u64 = read_mm_mem(core, i, 1)?;
            let d = mm_index(i.op0_register());
            let $a: u64 = mm(core, d);
            let r: u64 = $body;
            set_mm(core, d, r);
            Ok(())
        }
    )*};
}
pub(crate) use mm_binops;

// ----- moves ---------------------------------------------------------------

/// `movd mm, r/m32`, `movq mm, r/m64`, `movq mm, mm/m64` (zero-extended).
fn mov_to_mm(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let v = match i.op1_kind() {
        OpKind::Register if i.op1_register().is_mm() => mm(core, mm_index(i.op1_register())),
        _ => core.read_op(i, 1)?,
    };
    set_mm(core, mm_index(i.op0_register()), v);
    Ok(())
}

/// `movd r/m32, mm`, `movq r/m64, mm`, `movq mm/m64, mm`.
fn mov_from_mm(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let v = mm(core, mm_index(i.op1_register()));
    match i.op0_kind() {
        OpKind::Register if i.op0_register().is_mm() => {
            set_mm(core, mm_index(i.op0_register()), v);
        }
        _ => {
            core.write_op(i, 0, v)?;
            transition(&mut core.fpu);
        }
    }
    Ok(())
}

/// `emms`: every x87 register tagged empty and TOP = 0 (as the host does;
/// contents unchanged).
fn emms(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    core.fpu.fsw &= !(7 << 11);
    core.fpu.ftw = 0xffff;
    Ok(())
}

// ----- arithmetic, comparison, logic, packs and unpacks ----------------------

mm_binops! {
    fn paddb(a, b) { lanes_add::<8>(x(a), x(b)) as u64 }
    fn paddw(a, b) { lanes_add::<16>(x(a), x(b)) as u64 }
    fn paddd(a, b) { map32(x(a), x(b), u32::wrapping_add) as u64 }
    fn paddq(a, b) { a.wrapping_add(b) }
    fn paddsb(a, b) { lanes_adds_s::<8>(x(a), x(b)) as u64 }
    fn paddsw(a, b) { lanes_adds_s::<16>(x(a), x(b)) as u64 }
    fn paddusb(a, b) { lanes_adds_u::<8>(x(a), x(b)) as u64 }
    fn paddusw(a, b) { lanes_adds_u::<16>(x(a), x(b)) as u64 }
    fn psubb(a, b) { lanes_sub::<8>(x(a), x(b)) as u64 }
    fn psubw(a, b) { lanes_sub::<16>(x(a), x(b)) as u64 }
    fn psubd(a, b) { map32(x(a), x(b), u32::wrapping_sub) as u64 }
    fn psubq(a, b) { a.wrapping_sub(b) }
    fn psubsb(a, b) { lanes_subs_s::<8>(x(a), x(b)) as u64 }
    fn psubsw(a, b) { lanes_subs_s::<16>(x(a), x(b)) as u64 }
    fn psubusb(a, b) { lanes_subs_u::<8>(x(a), x(b)) as u64 }
    fn psubusw(a, b) { lanes_subs_u::<16>(x(a), x(b)) as u64 }

    fn pmullw(a, b) { map16(x(a), x(b), u16::wrapping_mul) as u64 }
    fn pmulhw(a, b) {
        map16(x(a), x(b), |p, q| ((p as i16 as i32 * q as i16 as i32) >> 16) as u16) as u64
    }
    /// Signed word products summed in pairs (only 0x8000 * 0x8000 * 2 wraps).
    fn pmaddwd(a, b) {
        let (a, b) = (words(x(a)), words(x(b)));
        let p = |j: usize| a[j] as i16 as i32 * b[j] as i16 as i32;
        let d = |k: usize| p(2 * k).wrapping_add(p(2 * k + 1)) as u32 as u64;
        d(0) | d(1) << 32
    }

    fn pcmpeqb(a, b) { lanes_eq::<8>(x(a), x(b)) as u64 }
    fn pcmpeqw(a, b) { lanes_eq::<16>(x(a), x(b)) as u64 }
    fn pcmpeqd(a, b) { map32(x(a), x(b), |p, q| ones32(p == q)) as u64 }
    fn pcmpgtb(a, b) { lanes_gt_s::<8>(x(a), x(b)) as u64 }
    fn pcmpgtw(a, b) { lanes_gt_s::<16>(x(a), x(b)) as u64 }
    fn pcmpgtd(a, b) { map32(x(a), x(b), |p, q| ones32(p as i32 > q as i32)) as u64 }

    fn pand(a, b) { a & b }
    fn pandn(a, b) { !a & b }
    fn por(a, b) { a | b }
    fn pxor(a, b) { a ^ b }

    /// The four words of the destination, then of the source, saturated to bytes.
    fn packsswb(a, b) { pack_sswb(x(a) | x(b) << 64, 0) as u64 }
    fn packuswb(a, b) { pack_uswb(x(a) | x(b) << 64, 0) as u64 }
    fn packssdw(a, b) { pack_ssdw(x(a) | x(b) << 64, 0) as u64 }
    /// Interleaves the low doublewords (the memory source is 32 bits).
    fn punpcklbw(a, b) { unpack::<1, false>(x(a), x(b)) as u64 }
    fn punpcklwd(a, b) { unpack::<2, false>(x(a), x(b)) as u64 }
    fn punpckldq(a, b) { unpack::<4, false>(x(a), x(b)) as u64 }
    /// Interleaves the high doublewords: the upper half of the 128-bit
    /// interleave of the low quadwords.
    fn punpckhbw(a, b) { (unpack::<1, false>(x(a), x(b)) >> 64) as u64 }
    fn punpckhwd(a, b) { (unpack::<2, false>(x(a), x(b)) >> 64) as u64 }
    fn punpckhdq(a, b) { (unpack::<4, false>(x(a), x(b)) >> 64) as u64 }
}

/// Horizontal word ops of MM operands: pairs of `a`, then pairs of `b`.
#[inline(always)]
pub(crate) fn hwords(a: u64, b: u64, f: impl Fn(u16, u16) -> u16) -> u64 {
    horizontal16(x(a) | x(b) << 64, 0, f) as u64
}

// ----- shifts ----------------------------------------------------------------

/// `psxx mm, imm8`.
fn shift_imm<const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let d = mm_index(i.op0_register());
    let r = shift::<OP>(x(mm(core, d)), i.immediate8() as u64) as u64;
    set_mm(core, d, r);
    Ok(())
}

/// `psxx mm, mm/m64`: the count is the whole source quadword (unsigned,
/// not masked).
fn shift_mm<const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_mmx(core)?;
    let n = read_mm_mem(core, i, 1)?;
    let d = mm_index(i.op0_register());
    let r = shift::<OP>(x(mm(core, d)), n) as u64;
    set_mm(core, d, r);
    Ok(())
}
