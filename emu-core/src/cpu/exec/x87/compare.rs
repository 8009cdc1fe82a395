//! x87 comparisons: FCOM/FCOMP/FCOMPP, FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP, FCOMI/FCOMIP,
//! FUCOMI/FUCOMIP, FTST and FXAM (SDM Vol. 2). FCOM-style results go to C3/C2/C0, FCOMI-style
//! results to ZF/PF/CF (OF, SF and AF cleared).

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::arith::mem_operand;
use super::{enter, st_reg, writes_reg, X87};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::exec::Handler;
use crate::softfloat::compare::{compare, examine, Relation};
use crate::softfloat::{Flags, F80};

/// The handler for an x87 comparison, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let mem = i.op_count() >= 1 && i.op0_kind() == OpKind::Memory;
    Some(match i.mnemonic() {
        Fcom | Ficom if mem => cmp_mem::<0>,
        Fcomp | Ficomp if mem => cmp_mem::<1>,
        Fcom => cmp_reg::<false, 0, false>,
        Fcomp => cmp_reg::<false, 1, false>,
        Fcompp => cmp_reg::<false, 2, false>,
        Fucom => cmp_reg::<true, 0, false>,
        Fucomp => cmp_reg::<true, 1, false>,
        Fucompp => cmp_reg::<true, 2, false>,
        Fcomi => cmp_reg::<false, 0, true>,
        Fcomip => cmp_reg::<false, 1, true>,
        Fucomi => cmp_reg::<true, 0, true>,
        Fucomip => cmp_reg::<true, 1, true>,
        Ftst => ftst,
        Fxam => fxam,
        _ => return None,
    })
}

/// Publishes a comparison result (FSW condition codes or RFLAGS) and pops `pops` times unless
/// an unmasked exception stopped the instruction.
fn finish(core: &mut Core, rel: Relation, f: Flags, pops: u8, to_rflags: bool) {
    if to_rflags {
        // FCOMI leaves C1 alone (the host keeps it; only a stack underflow clears it).
        core.flags.set_all_arith(rel.rflags());
        core.fpu.report(f, 0);
    } else {
        core.fpu.report(Flags(f.0 | rel.fsw_cc()), Flags::CC);
    }
    if writes_reg(core.fpu.ctl(), f) {
        for _ in 0..pops {
            core.fpu.pop();
        }
    }
}

/// The stack-underflow response of a comparison: unordered, popping when masked.
fn cmp_underflow(core: &mut Core, pops: u8, to_rflags: bool) {
    let masked = core.fpu.ctl().masked(Flags(Flags::IE));
    finish(core, Relation::Unordered, Flags(Flags::IE), 0, to_rflags);
    core.fpu.stack_fault(false);
    if masked {
        for _ in 0..pops {
            core.fpu.pop();
        }
    }
}

fn cmp_reg<const QUIET: bool, const POPS: u8, const RFLAGS: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    enter(core, i)?;
    let s = if i.op_count() >= 2 {
        st_reg(i.op1_register())
    } else {
        1
    };
    if core.fpu.is_empty(0) || core.fpu.is_empty(s) {
        cmp_underflow(core, POPS, RFLAGS);
        return Ok(());
    }
    let r = compare(core.fpu.st(0), core.fpu.st(s), QUIET);
    finish(core, r.value, r.flags, POPS, RFLAGS);
    Ok(())
}

fn cmp_mem<const POPS: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let (v, denormal) = mem_operand(core, i)?;
    if core.fpu.is_empty(0) {
        cmp_underflow(core, POPS, false);
        return Ok(());
    }
    let mut r = compare(core.fpu.st(0), v, false);
    if denormal && !r.flags.has(Flags::IE) {
        r.flags.set(Flags::DE);
    }
    finish(core, r.value, r.flags, POPS, false);
    Ok(())
}

fn ftst(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    if core.fpu.is_empty(0) {
        cmp_underflow(core, 0, false);
        return Ok(());
    }
    let r = compare(core.fpu.st(0), F80::ZERO, false);
    finish(core, r.value, r.flags, 0, false);
    Ok(())
}

fn fxam(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let v = core.fpu.st(0);
    let cc = if core.fpu.is_empty(0) {
        Flags::C3 | Flags::C0 | if v.sign() { Flags::C1 } else { 0 }
    } else {
        examine(v)
    };
    core.fpu.report(Flags(cc), Flags::CC);
    Ok(())
}
