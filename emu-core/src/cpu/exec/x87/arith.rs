//! x87 arithmetic: FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in their register, popping, m32/m64 and
//! integer (FI*) forms, and the one-operand FSQRT, FCHS, FABS, FRNDINT, FSCALE, FXTRACT, FPREM
//! and FPREM1 (SDM Vol. 2). Values come from [`crate::softfloat`].

use iced_x86::{Instruction, MemorySize, Mnemonic, OpKind};

use super::{enter, st_reg, writes_reg, X87};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::exec::Handler;
use crate::softfloat::convert::{f32_operand, f64_operand, from_i64};
use crate::softfloat::{arith, rem, scale, Control, Flags, Res, F80};

const ADD: u8 = 0;
const MUL: u8 = 1;
const SUB: u8 = 2;
const SUBR: u8 = 3;
const DIV: u8 = 4;
const DIVR: u8 = 5;

/// The handler for an x87 arithmetic instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let mem = i.op_count() >= 1 && i.op0_kind() == OpKind::Memory;
    Some(match i.mnemonic() {
        Fadd | Fiadd if mem => arith_mem::<ADD>,
        Fmul | Fimul if mem => arith_mem::<MUL>,
        Fsub | Fisub if mem => arith_mem::<SUB>,
        Fsubr | Fisubr if mem => arith_mem::<SUBR>,
        Fdiv | Fidiv if mem => arith_mem::<DIV>,
        Fdivr | Fidivr if mem => arith_mem::<DIVR>,
        Fadd => arith_rr::<ADD, false>,
        Fmul => arith_rr::<MUL, false>,
        Fsub => arith_rr::<SUB, false>,
        Fsubr => arith_rr::<SUBR, false>,
        Fdiv => arith_rr::<DIV, false>,
        Fdivr => arith_rr::<DIVR, false>,
        Faddp => arith_rr::<ADD, true>,
        Fmulp => arith_rr::<MUL, true>,
        Fsubp => arith_rr::<SUB, true>,
        Fsubrp => arith_rr::<SUBR, true>,
        Fdivp => arith_rr::<DIV, true>,
        Fdivrp => arith_rr::<DIVR, true>,
        Fsqrt => fsqrt,
        Frndint => frndint,
        Fchs => fchs,
        Fabs => fabs,
        Fscale => fscale,
        Fxtract => fxtract,
        Fprem => fprem,
        Fprem1 => fprem1,
        _ => return None,
    })
}

/// `dest op src` for the operation `op` (the reversed forms swap the operands).
fn apply(op: u8, dest: F80, src: F80, ctl: Control) -> Res<F80> {
    match op {
        ADD => arith::add(dest, src, ctl),
        MUL => arith::mul(dest, src, ctl),
        SUB => arith::sub(dest, src, ctl),
        SUBR => arith::sub(src, dest, ctl),
        DIV => arith::div(dest, src, ctl),
        _ => arith::div(src, dest, ctl),
    }
}

/// Stores `r` into ST(d) as a register-destination result (C1 from the rounding), popping
/// afterwards when asked; returns whether the result was written.
pub(crate) fn commit(core: &mut Core, d: usize, r: Res<F80>, pop: bool) -> bool {
    let fpu = &mut core.fpu;
    fpu.report(r.flags, Flags::C1);
    if !writes_reg(fpu.ctl(), r.flags) {
        return false;
    }
    fpu.set_st(d, r.value);
    if pop {
        fpu.pop();
    }
    true
}

/// The masked stack-underflow response for a register destination: the real indefinite.
pub(crate) fn underflow(core: &mut Core, d: usize, pop: bool) {
    let fpu = &mut core.fpu;
    if fpu.stack_fault(false) {
        fpu.set_st(d, F80::INDEFINITE);
        if pop {
            fpu.pop();
        }
    }
}

fn arith_rr<const OP: u8, const POP: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let (d, s) = (st_reg(i.op0_register()), st_reg(i.op1_register()));
    if core.fpu.is_empty(d) || core.fpu.is_empty(s) {
        underflow(core, d, POP);
        return Ok(());
    }
    let r = apply(OP, core.fpu.st(d), core.fpu.st(s), core.fpu.ctl());
    commit(core, d, r, POP);
    Ok(())
}

/// Reads a memory arithmetic operand: (value, denormal source).
pub(crate) fn mem_operand(core: &mut Core, i: &Instruction) -> Result<(F80, bool), Stop> {
    let addr = core.ea(i);
    Ok(match i.memory_size() {
        MemorySize::Float32 => f32_operand(core.read_u32(addr)?),
        MemorySize::Float64 => f64_operand(core.read_u64(addr)?),
        MemorySize::Int16 => (from_i64(i64::from(core.read_u16(addr)? as i16)), false),
        MemorySize::Int32 => (from_i64(i64::from(core.read_u32(addr)? as i32)), false),
        _ => return core.ud(),
    })
}

/// Adds the denormal-operand exception of a memory source to `r` unless a higher-priority
/// condition holds: an invalid operation or zero divide, or a NaN register operand `other` (a
/// QNaN operand takes precedence over #D, SDM Vol. 1 §4.9.2); an unmasked #D suppresses the
/// operation.
pub(crate) fn with_source_denormal(r: Res<F80>, denormal: bool, other: F80) -> Res<F80> {
    if !denormal || other.is_nan() || r.flags.has(Flags::IE | Flags::ZE) {
        return r;
    }
    Res::new(r.value, Flags(r.flags.0 | Flags::DE))
}

fn arith_mem<const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let (v, denormal) = mem_operand(core, i)?;
    if core.fpu.is_empty(0) {
        underflow(core, 0, false);
        return Ok(());
    }
    let ctl = core.fpu.ctl();
    let st0 = core.fpu.st(0);
    let r = with_source_denormal(apply(OP, st0, v, ctl), denormal, st0);
    if denormal && r.flags.has(Flags::DE) && !ctl.masked(Flags(Flags::DE)) {
        // An unmasked #D of the source (no invalid operation, zero divide or NaN register
        // operand first) suppresses the operation: only DE is reported, and C1 cleared.
        core.fpu.report(Flags(Flags::DE), Flags::C1);
        return Ok(());
    }
    commit(core, 0, r, false);
    Ok(())
}

/// ST(0) <- f(ST(0)).
fn unary(core: &mut Core, i: &Instruction, f: fn(F80, Control) -> Res<F80>) -> Result<(), Stop> {
    enter(core, i)?;
    if core.fpu.is_empty(0) {
        underflow(core, 0, false);
        return Ok(());
    }
    let r = f(core.fpu.st(0), core.fpu.ctl());
    commit(core, 0, r, false);
    Ok(())
}

fn fsqrt(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    unary(core, i, arith::sqrt)
}

fn frndint(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    unary(core, i, scale::round_to_int)
}

fn fchs(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    unary(core, i, |a, _| Res::new(a.negated(), Flags::NONE))
}

fn fabs(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    unary(core, i, |a, _| Res::new(a.abs(), Flags::NONE))
}

/// ST(0) <- f(ST(0), ST(1)), condition codes in `cc_mask` from the result.
fn with_st1(
    core: &mut Core,
    i: &Instruction,
    f: fn(F80, F80, Control) -> Res<F80>,
    cc_mask: u16,
) -> Result<(), Stop> {
    enter(core, i)?;
    if core.fpu.is_empty(0) || core.fpu.is_empty(1) {
        underflow(core, 0, false);
        return Ok(());
    }
    let fpu = &mut core.fpu;
    let r = f(fpu.st(0), fpu.st(1), fpu.ctl());
    fpu.report(r.flags, cc_mask);
    if writes_reg(fpu.ctl(), r.flags) {
        fpu.set_st(0, r.value);
    }
    Ok(())
}

fn fscale(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    with_st1(core, i, scale::scale, Flags::C1)
}

/// FPREM/FPREM1: the quotient bits go to C0/C3/C1 and completion to C2. Without a quotient
/// (NaN operands, invalid operation, stack underflow) the host clears C1 and C2 and keeps C0
/// and C3.
fn remainder(
    core: &mut Core,
    i: &Instruction,
    f: fn(F80, F80, Control) -> Res<F80>,
) -> Result<(), Stop> {
    enter(core, i)?;
    let fpu = &mut core.fpu;
    if fpu.is_empty(0) || fpu.is_empty(1) {
        fpu.fsw &= !Flags::C2;
        underflow(core, 0, false);
        return Ok(());
    }
    let (a, b) = (fpu.st(0), fpu.st(1));
    let r = f(a, b, fpu.ctl());
    // An unmasked denormal operand suppresses the operation like an invalid one.
    let no_quotient =
        r.flags.has(Flags::IE) || a.is_nan() || b.is_nan() || !writes_reg(fpu.ctl(), r.flags);
    fpu.report(
        r.flags,
        if no_quotient {
            Flags::C1 | Flags::C2
        } else {
            Flags::CC
        },
    );
    if writes_reg(fpu.ctl(), r.flags) {
        fpu.set_st(0, r.value);
    }
    Ok(())
}

fn fprem(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    remainder(core, i, rem::fprem)
}

fn fprem1(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    remainder(core, i, rem::fprem1)
}

fn fxtract(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let fpu = &mut core.fpu;
    if fpu.is_empty(0) || !fpu.is_empty(7) {
        let overflow = !fpu.is_empty(0);
        if fpu.stack_fault(overflow) {
            fpu.set_st(0, F80::INDEFINITE);
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    let r = scale::extract(fpu.st(0), fpu.ctl());
    fpu.report(r.flags, Flags::C1);
    if writes_reg(fpu.ctl(), r.flags) {
        let (exponent, significand) = r.value;
        fpu.set_st(0, exponent);
        fpu.push(significand);
    }
    Ok(())
}
