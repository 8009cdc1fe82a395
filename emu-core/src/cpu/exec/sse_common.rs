//! Helpers shared by the SSE families: XMM register indexing, 128-bit and
//! scalar operand access with the alignment rules of aligned moves, lane
//! views, and the SSE availability checks.

use iced_x86::{Instruction, OpKind, Register};

use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::mmu::{cr0, cr4};

/// Index 0..15 of an XMM register.
#[inline(always)]
pub fn xmm_index(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::XMM0 as usize) & 15
}

/// Checks that SSE instructions may execute: CR0.EM = 0 and CR4.OSFXSR = 1
/// (else #UD), CR0.TS = 0 (else #NM). SDM Vol. 3A, 13.1.
#[inline(always)]
pub fn check_sse(core: &Core) -> Result<(), Stop> {
    let c0 = core.mmu.cr0();
    if c0 & cr0::EM != 0 || core.mmu.cr4() & cr4::OSFXSR == 0 {
        return Err(Stop::Fault(Exception::InvalidOpcode));
    }
    if c0 & cr0::TS != 0 {
        return Err(Stop::Fault(Exception::DeviceNotAvailable));
    }
    Ok(())
}

/// Reads operand `n` as 128 bits: an XMM register, or a 16-byte memory
/// operand that must be 16-byte aligned when `aligned` (else #GP(0)).
#[inline(always)]
pub fn read_xmm_m128(
    core: &mut Core,
    i: &Instruction,
    n: u32,
    aligned: bool,
) -> Result<u128, Stop> {
    match i.op_kind(n) {
        OpKind::Register => Ok(core.xmm[xmm_index(i.op_register(n))]),
        _ => {
            let addr = core.ea(i);
            if aligned && addr & 15 != 0 {
                return Err(Stop::Fault(Exception::GeneralProtection(0)));
            }
            Ok(core.read_u128(addr)?)
        }
    }
}

/// Reads operand `n`: a whole XMM register, or a memory operand of its own
/// size (4, 8 or 16 bytes, no alignment check) zero-extended to 128 bits.
#[inline(always)]
pub fn read_xmm_mem(core: &mut Core, i: &Instruction, n: u32) -> Result<u128, Stop> {
    match i.op_kind(n) {
        OpKind::Register => Ok(core.xmm[xmm_index(i.op_register(n))]),
        _ => {
            let addr = core.ea(i);
            Ok(match i.memory_size().size() {
                1 => core.read_u8(addr)? as u128,
                2 => core.read_u16(addr)? as u128,
                4 => core.read_u32(addr)? as u128,
                8 => core.read_u64(addr)? as u128,
                _ => core.read_u128(addr)?,
            })
        }
    }
}

/// Writes a 16-byte memory operand (aligned check when `aligned`).
#[inline(always)]
pub fn write_m128(core: &mut Core, i: &Instruction, v: u128, aligned: bool) -> Result<(), Stop> {
    let addr = core.ea(i);
    if aligned && addr & 15 != 0 {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    core.write_u128(addr, v)?;
    Ok(())
}

/// The four 32-bit lanes of a 128-bit value, lane 0 lowest.
#[inline(always)]
pub fn u32x4(v: u128) -> [u32; 4] {
    [
        v as u32,
        (v >> 32) as u32,
        (v >> 64) as u32,
        (v >> 96) as u32,
    ]
}

/// Packs four 32-bit lanes.
#[inline(always)]
pub fn from_u32x4(l: [u32; 4]) -> u128 {
    l[0] as u128 | (l[1] as u128) << 32 | (l[2] as u128) << 64 | (l[3] as u128) << 96
}

/// The two 64-bit lanes.
#[inline(always)]
pub fn u64x2(v: u128) -> [u64; 2] {
    [v as u64, (v >> 64) as u64]
}

/// Packs two 64-bit lanes.
#[inline(always)]
pub fn from_u64x2(l: [u64; 2]) -> u128 {
    l[0] as u128 | (l[1] as u128) << 64
}
