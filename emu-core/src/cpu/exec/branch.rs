//! Near control transfers: jmp, jcc, call, ret (with imm16).
//!
//! Targets are checked for canonical form before the transfer: a
//! non-canonical target raises #GP(0) at the branch (Intel behaviour).

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};

/// The handler for a branch instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let near = matches!(
        i.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    );
    Some(match i.mnemonic() {
        Mnemonic::Jmp if near => jmp_rel,
        Mnemonic::Jmp if !i.is_jmp_far_indirect() && !i.is_jmp_far() => jmp_indirect,
        Mnemonic::Call if near => call_rel,
        Mnemonic::Call if !i.is_call_far_indirect() && !i.is_call_far() => call_indirect,
        Mnemonic::Ret => ret,
        m if i.is_jcc_short_or_near() && m != Mnemonic::INVALID => jcc,
        _ => return None,
    })
}

/// `target` if it is canonical (48-bit linear addresses), else #GP(0).
#[inline(always)]
pub(super) fn canonical(target: u64) -> Result<u64, Stop> {
    if ((target as i64) << 16 >> 16) as u64 == target {
        Ok(target)
    } else {
        Err(Stop::Fault(Exception::GeneralProtection(0)))
    }
}

fn jmp_rel(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    core.rip = i.near_branch_target();
    Ok(())
}

fn jcc(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    if core.flags.cond(i.condition_code()) {
        core.rip = i.near_branch_target();
    }
    Ok(())
}

fn jmp_indirect(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = canonical(core.read_op(i, 0)?)?;
    core.rip = target;
    Ok(())
}

fn call_rel(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let ret = core.rip;
    core.push(ret, 8)?;
    core.rip = i.near_branch_target();
    Ok(())
}

fn call_indirect(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = canonical(core.read_op(i, 0)?)?;
    let ret = core.rip;
    core.push(ret, 8)?;
    core.rip = target;
    Ok(())
}

fn ret(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = core.read_u64(core.gpr[4])?;
    let target = canonical(target)?;
    let extra = if i.op_count() == 1 {
        i.immediate16() as u64
    } else {
        0
    };
    core.gpr[4] = core.gpr[4].wrapping_add(8).wrapping_add(extra);
    core.rip = target;
    Ok(())
}
