//! x87 transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X and FYL2XP1
//! (SDM Vol. 2). Out-of-range trigonometric operands (|x| >= 2^63) set C2 and change nothing.

use iced_x86::{Instruction, Mnemonic};

use super::arith::{commit, underflow};
use super::{enter, writes_reg, X87};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::exec::Handler;
use crate::softfloat::{transcend, Control, Flags, Res, F80};

/// The handler for an x87 transcendental instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match i.mnemonic() {
        Fsin => fsin,
        Fcos => fcos,
        Fsincos => fsincos,
        Fptan => fptan,
        Fpatan => fpatan,
        F2xm1 => f2xm1,
        Fyl2x => fyl2x,
        Fyl2xp1 => fyl2xp1,
        _ => return None,
    })
}

/// ST(0) <- f(ST(0)) for FSIN/FCOS (`cc` = C1 | C2: C2 reports an out-of-range operand and is
/// cleared on a stack fault too) and F2XM1 (`cc` = C1: the host keeps C2).
fn trig(
    core: &mut Core,
    i: &Instruction,
    f: fn(F80, Control) -> Res<F80>,
    cc: u16,
) -> Result<(), Stop> {
    enter(core, i)?;
    if core.fpu.is_empty(0) {
        core.fpu.fsw &= !(cc & Flags::C2);
        underflow(core, 0, false);
        return Ok(());
    }
    let fpu = &mut core.fpu;
    let r = f(fpu.st(0), fpu.ctl());
    fpu.report(r.flags, cc);
    if !r.flags.has(Flags::C2) && writes_reg(fpu.ctl(), r.flags) {
        fpu.set_st(0, r.value);
    }
    Ok(())
}

fn fsin(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    trig(core, i, transcend::sin, Flags::C1 | Flags::C2)
}

fn fcos(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    trig(core, i, transcend::cos, Flags::C1 | Flags::C2)
}

fn f2xm1(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    trig(core, i, transcend::exp2m1, Flags::C1)
}

/// ST(0) <- first, then push second (FSINCOS, FPTAN); stack faults give indefinites and clear
/// C2.
fn two_results(
    core: &mut Core,
    i: &Instruction,
    f: fn(F80, Control) -> Res<(F80, F80)>,
) -> Result<(), Stop> {
    enter(core, i)?;
    let fpu = &mut core.fpu;
    if fpu.is_empty(0) || !fpu.is_empty(7) {
        let overflow = !fpu.is_empty(0);
        fpu.fsw &= !Flags::C2;
        if fpu.stack_fault(overflow) {
            fpu.set_st(0, F80::INDEFINITE);
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    let r = f(fpu.st(0), fpu.ctl());
    fpu.report(r.flags, Flags::C1 | Flags::C2);
    if !r.flags.has(Flags::C2) && writes_reg(fpu.ctl(), r.flags) {
        let (first, second) = r.value;
        fpu.set_st(0, first);
        fpu.push(second);
    }
    Ok(())
}

fn fsincos(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    two_results(core, i, transcend::sincos)
}

fn fptan(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    two_results(core, i, transcend::tan)
}

/// ST(1) <- f(ST(1), ST(0)), then pop (FPATAN, FYL2X, FYL2XP1).
fn st1_op(
    core: &mut Core,
    i: &Instruction,
    f: fn(F80, F80, Control) -> Res<F80>,
) -> Result<(), Stop> {
    enter(core, i)?;
    if core.fpu.is_empty(0) || core.fpu.is_empty(1) {
        underflow(core, 1, true);
        return Ok(());
    }
    let r = f(core.fpu.st(1), core.fpu.st(0), core.fpu.ctl());
    commit(core, 1, r, true);
    Ok(())
}

fn fpatan(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    st1_op(core, i, transcend::atan2)
}

fn fyl2x(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    st1_op(core, i, transcend::ylog2x)
}

fn fyl2xp1(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    st1_op(core, i, transcend::ylog2xp1)
}
