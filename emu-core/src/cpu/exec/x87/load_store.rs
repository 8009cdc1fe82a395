//! x87 data movement: FLD/FILD/FBLD, FST/FSTP/FIST/FISTP/FISTTP/FBSTP, FXCH, the load-constant
//! instructions, FCMOVcc, FFREE(P), FINCSTP and FDECSTP (SDM Vol. 2). Stores to memory are made
//! before any x87 state changes so a page fault leaves the instruction restartable.

use iced_x86::{Code, Instruction, MemorySize, Mnemonic, OpKind};

use super::{enter, st_reg, X87};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::exec::Handler;
use crate::softfloat::consts::{self, Constant};
use crate::softfloat::convert::{
    self, from_bcd, from_f32, from_f64, from_i64, to_bcd, to_f32, to_f64, to_int, BCD_INDEFINITE,
};
use crate::softfloat::{Flags, Res, F80};

/// The handler for an x87 load/store/stack instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let mem = i.op_count() >= 1 && i.op0_kind() == OpKind::Memory;
    Some(match i.mnemonic() {
        Fld if i.code() == Code::Fld_m80fp => fld_m80,
        Fld if mem => fld_mem,
        Fld => fld_st,
        Fild => fild,
        Fbld => fbld,
        Fst if mem => fst_mem::<false>,
        Fstp if i.code() == Code::Fstp_m80fp => fstp_m80,
        Fstp if mem => fst_mem::<true>,
        Fst => fst_st::<false, false>,
        Fstp => fst_st::<true, false>,
        Fstpnce => fst_st::<true, true>,
        Fist => fist::<false, false>,
        Fistp => fist::<true, false>,
        Fisttp => fist::<true, true>,
        Fbstp => fbstp,
        Fxch => fxch,
        Fld1 => fld_const::<0>,
        Fldz => fld_const::<1>,
        Fldpi => fld_const::<2>,
        Fldl2e => fld_const::<3>,
        Fldl2t => fld_const::<4>,
        Fldlg2 => fld_const::<5>,
        Fldln2 => fld_const::<6>,
        Fcmovb | Fcmove | Fcmovbe | Fcmovu | Fcmovnb | Fcmovne | Fcmovnbe | Fcmovnu => fcmov,
        Ffree => ffree::<false>,
        Ffreep => ffree::<true>,
        Fincstp => fincstp,
        Fdecstp => fdecstp,
        _ => return None,
    })
}

/// Pushes `v`, or applies the stack-overflow response when ST(7) is in use. C1 reports
/// overflow (and is cleared otherwise).
pub(crate) fn push_checked(core: &mut Core, v: F80) {
    let fpu = &mut core.fpu;
    if !fpu.is_empty(7) {
        if fpu.stack_fault(true) {
            fpu.push(F80::INDEFINITE);
        }
        return;
    }
    fpu.report(Flags::NONE, Flags::C1);
    fpu.push(v);
}

fn fld_st(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let s = st_reg(i.op0_register());
    // An empty source is reported as underflow even when the push would also overflow.
    if core.fpu.is_empty(s) {
        if core.fpu.stack_fault(false) {
            core.fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    let v = core.fpu.st(s);
    push_checked(core, v);
    Ok(())
}

fn fld_mem(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let addr = core.ea(i);
    let ctl = core.fpu.ctl();
    let r: Res<F80> = match i.memory_size() {
        MemorySize::Float32 => from_f32(core.read_u32(addr)?, ctl),
        _ => from_f64(core.read_u64(addr)?, ctl),
    };
    if !core.fpu.is_empty(7) {
        push_checked(core, r.value);
        return Ok(());
    }
    core.fpu.report(r.flags, Flags::C1);
    // As on the host, an unmasked denormal-operand exception does not suppress the load (an
    // unmasked invalid operation, from an SNaN, does).
    if ctl.masked(Flags(r.flags.0 & Flags::IE)) {
        core.fpu.push(r.value);
    }
    Ok(())
}

fn fld_m80(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let b = core.read_bytes::<10>(core.ea(i))?;
    push_checked(core, F80::from_bytes(b));
    Ok(())
}

fn fild(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let addr = core.ea(i);
    let v = match i.memory_size() {
        MemorySize::Int16 => i64::from(core.read_u16(addr)? as i16),
        MemorySize::Int32 => i64::from(core.read_u32(addr)? as i32),
        _ => core.read_u64(addr)? as i64,
    };
    push_checked(core, from_i64(v));
    Ok(())
}

fn fbld(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let b = core.read_bytes::<10>(core.ea(i))?;
    push_checked(core, from_bcd(b));
    Ok(())
}

/// FST/FSTP ST(i); `NCE` is FSTPNCE ST(i) (D9 D8+i, an undocumented alias of FSTP ST(i)) on
/// which, as on the host, an empty ST(0) is not a stack fault: nothing is copied, C1 is cleared
/// and the stack is popped.
fn fst_st<const POP: bool, const NCE: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let d = st_reg(i.op0_register());
    let fpu = &mut core.fpu;
    if NCE && fpu.is_empty(0) {
        fpu.report(Flags::NONE, Flags::C1);
        fpu.pop();
        return Ok(());
    }
    if fpu.is_empty(0) {
        if fpu.stack_fault(false) {
            fpu.set_st(d, F80::INDEFINITE);
            if POP {
                fpu.pop();
            }
        }
        return Ok(());
    }
    let v = fpu.st(0);
    fpu.report(Flags::NONE, Flags::C1);
    fpu.set_st(d, v);
    if POP {
        fpu.pop();
    }
    Ok(())
}

/// Checks that the `len`-byte memory destination at `addr` is writable before anything is
/// computed: the host raises the page fault even when an unmasked exception would suppress the
/// store. A fault is reported at the first inaccessible byte.
pub(crate) fn probe_store(core: &mut Core, addr: u64, len: usize) -> Result<(), Stop> {
    core.probe_write(addr, len as u64)?;
    Ok(())
}

/// Stores `bytes` (the low `len` of them) at the memory operand, then reports `f` and pops.
fn store_then<const POP: bool>(
    core: &mut Core,
    i: &Instruction,
    bytes: [u8; 10],
    len: usize,
    f: Flags,
    cc_mask: u16,
) -> Result<(), Stop> {
    core.write_slice(core.ea(i), &bytes[..len])?;
    core.fpu.report(f, cc_mask);
    if POP {
        core.fpu.pop();
    }
    Ok(())
}

/// The masked stack-underflow response of a store: the format's indefinite is stored.
fn store_underflow<const POP: bool>(
    core: &mut Core,
    i: &Instruction,
    indefinite: [u8; 10],
    len: usize,
) -> Result<(), Stop> {
    if core.fpu.ctl().masked(Flags(Flags::IE)) {
        core.write_slice(core.ea(i), &indefinite[..len])?;
    }
    if core.fpu.stack_fault(false) && POP {
        core.fpu.pop();
    }
    Ok(())
}

fn widen_bytes(v: u64) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&v.to_le_bytes());
    b
}

fn fst_mem<const POP: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let single = i.memory_size() == MemorySize::Float32;
    let len = if single { 4 } else { 8 };
    probe_store(core, core.ea(i), len)?;
    if core.fpu.is_empty(0) {
        let indef = if single {
            0xFFC0_0000
        } else {
            0xFFF8_0000_0000_0000
        };
        return store_underflow::<POP>(core, i, widen_bytes(indef), len);
    }
    let ctl = core.fpu.ctl();
    let a = core.fpu.st(0);
    let r = if single {
        let r = to_f32(a, ctl);
        Res::new(u64::from(r.value), r.flags)
    } else {
        to_f64(a, ctl)
    };
    if !convert::writes(ctl, r.flags) {
        core.fpu.report(r.flags, Flags::C1);
        return Ok(());
    }
    store_then::<POP>(core, i, widen_bytes(r.value), len, r.flags, Flags::C1)
}

fn fstp_m80(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    probe_store(core, core.ea(i), 10)?;
    if core.fpu.is_empty(0) {
        return store_underflow::<true>(core, i, F80::INDEFINITE.to_bytes(), 10);
    }
    let b = core.fpu.st(0).to_bytes();
    store_then::<true>(core, i, b, 10, Flags::NONE, Flags::C1)
}

fn fist<const POP: bool, const TRUNC: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let len = i.memory_size().size();
    probe_store(core, core.ea(i), len)?;
    let bits = (len * 8) as u32;
    let indefinite = widen_bytes((i64::MIN >> (64 - bits)) as u64);
    if core.fpu.is_empty(0) {
        return store_underflow::<POP>(core, i, indefinite, len);
    }
    let ctl = core.fpu.ctl();
    let r = to_int(core.fpu.st(0), bits, TRUNC, ctl);
    if !convert::writes(ctl, r.flags) {
        core.fpu.report(r.flags, Flags::C1);
        return Ok(());
    }
    store_then::<POP>(
        core,
        i,
        widen_bytes(r.value as u64),
        len,
        r.flags,
        Flags::C1,
    )
}

fn fbstp(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    probe_store(core, core.ea(i), 10)?;
    if core.fpu.is_empty(0) {
        return store_underflow::<true>(core, i, BCD_INDEFINITE, 10);
    }
    let ctl = core.fpu.ctl();
    let r = to_bcd(core.fpu.st(0), ctl);
    if !convert::writes(ctl, r.flags) {
        core.fpu.report(r.flags, Flags::C1);
        return Ok(());
    }
    store_then::<true>(core, i, r.value, 10, r.flags, Flags::C1)
}

fn fxch(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let s = st_reg(i.op1_register());
    let fpu = &mut core.fpu;
    if fpu.is_empty(0) || fpu.is_empty(s) {
        if !fpu.stack_fault(false) {
            return Ok(());
        }
        for r in [0, s] {
            if fpu.is_empty(r) {
                fpu.set_st(r, F80::INDEFINITE);
            }
        }
    } else {
        fpu.report(Flags::NONE, Flags::C1);
    }
    let (a, b) = (fpu.st(0), fpu.st(s));
    fpu.set_st(0, b);
    fpu.set_st(s, a);
    Ok(())
}

fn fld_const<const C: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let c = match C {
        0 => Constant::One,
        1 => Constant::Zero,
        2 => Constant::Pi,
        3 => Constant::Log2E,
        4 => Constant::Log2Ten,
        5 => Constant::Log10Two,
        _ => Constant::LnTwo,
    };
    let v = consts::load(c, core.fpu.ctl()).value;
    push_checked(core, v);
    Ok(())
}

fn fcmov(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let s = st_reg(i.op1_register());
    if core.fpu.is_empty(0) || core.fpu.is_empty(s) {
        if core.fpu.stack_fault(false) {
            core.fpu.set_st(0, F80::INDEFINITE);
        }
        return Ok(());
    }
    let f = &core.flags;
    let take = match i.mnemonic() {
        Mnemonic::Fcmovb => f.cf(),
        Mnemonic::Fcmove => f.zf(),
        Mnemonic::Fcmovbe => f.cf() || f.zf(),
        Mnemonic::Fcmovu => f.pf(),
        Mnemonic::Fcmovnb => !f.cf(),
        Mnemonic::Fcmovne => !f.zf(),
        Mnemonic::Fcmovnbe => !(f.cf() || f.zf()),
        _ => !f.pf(),
    };
    if take {
        let v = core.fpu.st(s);
        core.fpu.set_st(0, v);
    }
    Ok(())
}

/// FFREE ST(i), and FFREEP ST(i) (DF C0+i, undocumented: FFREE then pop, which also tags ST(0)
/// empty).
fn ffree<const POP: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    let p = core.fpu.phys(st_reg(i.op0_register()));
    core.fpu.ftw |= 3 << (2 * p);
    // The host clears C1 (the SDM leaves the condition codes undefined).
    core.fpu.fsw &= !Flags::C1;
    if POP {
        core.fpu.pop();
    }
    Ok(())
}

fn fincstp(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    core.fpu.rotate_top(1);
    core.fpu.report(Flags::NONE, Flags::C1);
    Ok(())
}

fn fdecstp(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    enter(core, i)?;
    core.fpu.rotate_top(7);
    core.fpu.report(Flags::NONE, Flags::C1);
    Ok(())
}
