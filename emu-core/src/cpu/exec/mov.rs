//! Data movement: mov (register, memory, immediate, moffs), movzx, movsx,
//! movsxd, lea.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for a move instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.mnemonic() {
        Mnemonic::Mov => {
            // Segment and control/debug register moves belong to the system layer.
            let is_plain = |n| i.op_kind(n) != OpKind::Register || i.op_register(n).is_gpr();
            if !(is_plain(0) && is_plain(1)) {
                return None;
            }
            if i.op0_kind() == OpKind::Register && i.op1_kind() == OpKind::Register {
                mov_rr
            } else {
                mov
            }
        }
        Mnemonic::Movzx => movzx,
        Mnemonic::Movsx | Mnemonic::Movsxd => movsx,
        Mnemonic::Lea => lea,
        _ => return None,
    })
}

fn mov_rr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.reg(i.op1_register());
    core.set_reg(i.op0_register(), v);
    Ok(())
}

fn mov(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 1)?;
    core.write_op(i, 0, v)?;
    Ok(())
}

fn movzx(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 1)?;
    core.set_reg(i.op0_register(), v);
    Ok(())
}

fn movsx(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 1)?;
    let src_bits = Core::op_bytes(i, 1) * 8;
    let sh = 64 - src_bits;
    let ext = (((v << sh) as i64) >> sh) as u64;
    core.set_reg(i.op0_register(), ext);
    Ok(())
}

fn lea(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    // LEA ignores segment bases: compute base + index * scale + disp only.
    let mut addr = i.memory_displacement64();
    let base = i.memory_base();
    if base != Register::None && base != Register::RIP && base != Register::EIP {
        addr = addr.wrapping_add(core.reg(base));
    }
    let index = i.memory_index();
    if index != Register::None {
        addr = addr.wrapping_add(core.reg(index).wrapping_mul(i.memory_index_scale() as u64));
    }
    if base.size() == 4 || index.size() == 4 {
        addr &= 0xffff_ffff;
    }
    core.set_reg(i.op0_register(), addr);
    Ok(())
}
