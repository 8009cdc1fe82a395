//! Integer arithmetic and logic: add adc sub sbb and or xor cmp test inc dec
//! neg not (SDM Vol. 2; flags per each instruction's "Flags Affected").

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{mask, width0, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

pub(super) const ADD: u8 = 0;
pub(super) const OR: u8 = 1;
pub(super) const ADC: u8 = 2;
pub(super) const SBB: u8 = 3;
pub(super) const AND: u8 = 4;
pub(super) const SUB: u8 = 5;
pub(super) const XOR: u8 = 6;
pub(super) const CMP: u8 = 7;
pub(super) const TEST: u8 = 8;

/// The handler for an ALU instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.mnemonic() {
        Mnemonic::Add => binary::<ADD>,
        Mnemonic::Or => binary::<OR>,
        Mnemonic::Adc => binary::<ADC>,
        Mnemonic::Sbb => binary::<SBB>,
        Mnemonic::And => binary::<AND>,
        Mnemonic::Sub => binary::<SUB>,
        Mnemonic::Xor => binary::<XOR>,
        Mnemonic::Cmp => binary::<CMP>,
        Mnemonic::Test => binary::<TEST>,
        Mnemonic::Inc => inc_dec::<true>,
        Mnemonic::Dec => inc_dec::<false>,
        Mnemonic::Neg => neg,
        Mnemonic::Not => not,
        _ => return None,
    })
}

/// Computes `a OP b` and records the flags. Returns the result.
#[inline(always)]
pub(super) fn compute<const OP: u8>(core: &mut Core, w: u32, a: u64, b: u64) -> u64 {
    let m = mask(w);
    match OP {
        ADD => {
            let r = a.wrapping_add(b) & m;
            core.flags.set_add(w, a, b, r);
            r
        }
        ADC => {
            let c = core.flags.cf();
            let r = a.wrapping_add(b).wrapping_add(c as u64) & m;
            core.flags.set_adc(w, a, b, c, r);
            r
        }
        SUB | CMP => {
            let r = a.wrapping_sub(b) & m;
            core.flags.set_sub(w, a, b, r);
            r
        }
        SBB => {
            let c = core.flags.cf();
            let r = a.wrapping_sub(b).wrapping_sub(c as u64) & m;
            core.flags.set_sbb(w, a, b, c, r);
            r
        }
        AND | TEST => {
            let r = a & b & m;
            core.flags.set_logic(w, r);
            r
        }
        OR => {
            let r = (a | b) & m;
            core.flags.set_logic(w, r);
            r
        }
        _ => {
            let r = (a ^ b) & m;
            core.flags.set_logic(w, r);
            r
        }
    }
}

/// Two-operand ALU op: `op0 = op0 OP op1` (CMP and TEST only set flags).
fn binary<const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let writes = OP != CMP && OP != TEST;
    if i.op0_kind() == OpKind::Register {
        let b = core.read_op(i, 1)? & mask(w);
        let r0 = i.op0_register();
        let a = core.reg(r0);
        let res = compute::<OP>(core, w, a & mask(w), b);
        if writes {
            core.set_reg(r0, res);
        }
    } else {
        let b = core.read_op(i, 1)? & mask(w);
        let addr = core.ea(i);
        let bytes = (w / 8) as usize;
        if writes {
            core.probe_write(addr, bytes as u64)?;
        }
        let a = core.read_sized(addr, bytes)?;
        // Compute on a copy of the flags so a faulting store changes nothing.
        let saved = core.flags;
        let res = compute::<OP>(core, w, a, b);
        if writes {
            if let Err(e) = core.write_sized(addr, bytes, res) {
                core.flags = saved;
                return Err(e.into());
            }
        }
    }
    Ok(())
}

fn inc_dec<const INC: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let a = core.read_op_rmw(i, 0)?;
    let res = if INC {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    } & mask(w);
    core.write_op(i, 0, res)?;
    if INC {
        core.flags.set_inc(w, a, res);
    } else {
        core.flags.set_dec(w, a, res);
    }
    Ok(())
}

fn neg(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let a = core.read_op_rmw(i, 0)?;
    let res = 0u64.wrapping_sub(a) & mask(w);
    core.write_op(i, 0, res)?;
    core.flags.set_sub(w, 0, a, res);
    Ok(())
}

fn not(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let a = core.read_op_rmw(i, 0)?;
    core.write_op(i, 0, !a & mask(w))?;
    Ok(())
}
