//! Instruction execution: one module per instruction family, each exporting
//! `resolve(&Instruction) -> Option<Handler>`. `resolve` below asks each
//! family in turn, once per decoded instruction; the handler is cached with
//! the instruction in the decode cache, so dispatch costs one indirect call.
//!
//! A handler runs with `core.rip` already advanced to the next instruction.
//! On a fault it returns `Err(Stop::Fault(..))` before changing any state.

use iced_x86::{Code, Instruction};

use super::core::Core;
use super::exception::Stop;

pub mod alu;
pub mod bit;
pub mod bmi;
pub mod branch;
pub mod cond;
pub mod exchange;
pub mod fast;
pub mod flagops;
#[cfg(test)]
pub(crate) mod int_a_testutil;
#[cfg(test)]
pub(crate) mod int_b_testutil;
pub mod misc;
pub mod mmx;
pub mod mov;
pub mod muldiv;
pub mod privileged;
pub mod shift;
pub mod sse42_string;
pub mod sse4_int;
pub mod sse4_int_shuffle;
pub mod sse_common;
pub mod sse_convert;
pub mod sse_float;
pub mod sse_fp;
pub mod sse_int;
pub mod sse_int_lanes;
#[cfg(test)]
pub mod sse_int_oracle;
pub mod sse_int_shuffle;
pub mod sse_move;
pub mod sse_shuffle;
pub mod stack;
pub mod string;
pub mod system;
pub mod x87;

/// An instruction handler.
pub type Handler = fn(&mut Core, &Instruction) -> Result<(), Stop>;

/// Finds the handler for a decoded instruction. Unknown and invalid
/// encodings get a handler that raises #UD.
pub fn resolve(insn: &Instruction) -> Handler {
    if insn.code() == Code::INVALID {
        return invalid;
    }
    // Most frequent families first: resolution happens once per decode.
    let families: [fn(&Instruction) -> Option<Handler>; 25] = [
        fast::resolve,
        mov::resolve,
        alu::resolve,
        branch::resolve,
        stack::resolve,
        cond::resolve,
        shift::resolve,
        muldiv::resolve,
        bit::resolve,
        bmi::resolve,
        exchange::resolve,
        flagops::resolve,
        string::resolve,
        misc::resolve,
        system::resolve,
        privileged::resolve,
        sse_move::resolve,
        sse_fp::resolve,
        sse_convert::resolve,
        sse_int::resolve,
        sse_shuffle::resolve,
        sse4_int::resolve,
        sse42_string::resolve,
        mmx::resolve,
        x87::resolve,
    ];
    families
        .iter()
        .find_map(|family| family(insn))
        .unwrap_or(invalid)
}

/// Raises #UD (invalid or not implemented: CPUID does not advertise it).
fn invalid(_: &mut Core, _: &Instruction) -> Result<(), Stop> {
    Err(Stop::Fault(super::exception::Exception::InvalidOpcode))
}

/// Operand width in bits of operand 0 (the destination for most families).
#[inline(always)]
pub fn width0(i: &Instruction) -> u32 {
    (Core::op_bytes(i, 0) * 8) as u32
}

/// Mask of a width in bits.
#[inline(always)]
pub fn mask(width: u32) -> u64 {
    u64::MAX >> (64 - width)
}
