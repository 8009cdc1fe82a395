//! Stack operations: push and pop of registers, memory and immediates.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for a stack instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let gpr_or_mem_or_imm = i.op0_kind() != OpKind::Register || i.op0_register().is_gpr();
    Some(match i.mnemonic() {
        Mnemonic::Push if gpr_or_mem_or_imm => push,
        Mnemonic::Pop if gpr_or_mem_or_imm => pop,
        _ => return None,
    })
}

/// Operand size of a push/pop in bytes (8, or 2 with a 66 prefix).
#[inline(always)]
fn size(i: &Instruction) -> usize {
    match i.op0_kind() {
        OpKind::Register => i.op0_register().size(),
        OpKind::Memory => i.memory_size().size(),
        OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
        _ => 8,
    }
}

fn push(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 0)?;
    core.push(v, size(i))?;
    Ok(())
}

fn pop(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let bytes = size(i);
    let v = core.read_sized(core.gpr[4], bytes)?;
    if i.op0_kind() == OpKind::Register {
        core.gpr[4] = core.gpr[4].wrapping_add(bytes as u64);
        core.set_reg(i.op0_register(), v);
    } else {
        // A memory destination is addressed with RSP already incremented
        // (SDM Vol. 2B, POP); restore RSP if the store faults.
        let old = core.gpr[4];
        core.gpr[4] = old.wrapping_add(bytes as u64);
        let addr = core.ea(i);
        if let Err(e) = core.write_sized(addr, bytes, v) {
            core.gpr[4] = old;
            return Err(e.into());
        }
    }
    Ok(())
}
