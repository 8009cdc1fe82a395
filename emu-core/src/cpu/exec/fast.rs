//! Specialized handlers for the hottest instruction forms compiled code uses:
//! 32- and 64-bit ALU ops, moves, lea, inc/dec, movzx, push/pop with register,
//! immediate or simple memory operands (base + displacement, or base + index *
//! scale + displacement, no FS/GS override). The generic handlers of each
//! family cover everything else; `resolve` here is consulted first.
//!
//! Widths and operations are const generics, so each handler compiles to a
//! few loads and stores without operand-kind dispatch. Semantics are those of
//! the generic handlers (the difftest covers both).

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use super::alu::{self, ADC, ADD, AND, CMP, OR, SBB, SUB, TEST, XOR};
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// Memory operand shapes with a specialized address computation.
const EA_BASE: u8 = 0;
const EA_BASE_INDEX: u8 = 1;

#[inline(always)]
fn gpr<const W: u32>(r: Register) -> usize {
    let first = if W == 64 {
        Register::RAX
    } else {
        Register::EAX
    };
    (r as usize).wrapping_sub(first as usize) & 15
}

#[inline(always)]
fn get<const W: u32>(core: &Core, r: Register) -> u64 {
    let v = core.gpr[gpr::<W>(r)];
    if W == 64 {
        v
    } else {
        v & 0xffff_ffff
    }
}

#[inline(always)]
fn set<const W: u32>(core: &mut Core, r: Register, v: u64) {
    core.gpr[gpr::<W>(r)] = if W == 64 { v } else { v & 0xffff_ffff };
}

#[inline(always)]
fn ea<const EA: u8>(core: &Core, i: &Instruction) -> u64 {
    let base = core.gpr[gpr::<64>(i.memory_base())];
    let mut addr = base.wrapping_add(i.memory_displacement64());
    if EA == EA_BASE_INDEX {
        let index = core.gpr[gpr::<64>(i.memory_index())];
        addr = addr.wrapping_add(index << (i.memory_index_scale().trailing_zeros()));
    }
    // Non-canonical RSP/RBP-based accesses are #SS(0) (see Core::ea).
    if ((addr as i64) << 16 >> 16) as u64 != addr
        && matches!(i.memory_base(), Register::RSP | Register::RBP)
    {
        core.stack_fault_pending.set(true);
    }
    addr
}

#[inline(always)]
fn load<const W: u32>(core: &mut Core, addr: u64) -> Result<u64, Stop> {
    Ok(if W == 64 {
        core.read_u64(addr)?
    } else {
        u64::from(core.read_u32(addr)?)
    })
}

#[inline(always)]
fn store<const W: u32>(core: &mut Core, addr: u64, v: u64) -> Result<(), Stop> {
    if W == 64 {
        core.write_u64(addr, v)?;
    } else {
        core.write_u32(addr, v as u32)?;
    }
    Ok(())
}

const fn writes(op: u8) -> bool {
    op != CMP && op != TEST
}

fn alu_rr<const OP: u8, const W: u32>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (d, s) = (i.op0_register(), i.op1_register());
    let r = alu::compute::<OP>(core, W, get::<W>(core, d), get::<W>(core, s));
    if writes(OP) {
        set::<W>(core, d, r);
    }
    Ok(())
}

fn alu_ri<const OP: u8, const W: u32>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let d = i.op0_register();
    let imm = i.immediate(1) & (u64::MAX >> (64 - W));
    let r = alu::compute::<OP>(core, W, get::<W>(core, d), imm);
    if writes(OP) {
        set::<W>(core, d, r);
    }
    Ok(())
}

fn alu_rm<const OP: u8, const W: u32, const EA: u8>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let b = load::<W>(core, ea::<EA>(core, i))?;
    let d = i.op0_register();
    let r = alu::compute::<OP>(core, W, get::<W>(core, d), b);
    if writes(OP) {
        set::<W>(core, d, r);
    }
    Ok(())
}

fn alu_mr<const OP: u8, const W: u32, const EA: u8>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let addr = ea::<EA>(core, i);
    if writes(OP) {
        core.probe_write(addr, u64::from(W / 8))?;
    }
    let a = load::<W>(core, addr)?;
    let b = get::<W>(core, i.op1_register());
    let saved = core.flags;
    let r = alu::compute::<OP>(core, W, a, b);
    if writes(OP) {
        if let Err(e) = store::<W>(core, addr, r) {
            core.flags = saved;
            return Err(e);
        }
    }
    Ok(())
}

fn alu_mi<const OP: u8, const W: u32, const EA: u8>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let addr = ea::<EA>(core, i);
    if writes(OP) {
        core.probe_write(addr, u64::from(W / 8))?;
    }
    let a = load::<W>(core, addr)?;
    let b = i.immediate(1) & (u64::MAX >> (64 - W));
    let saved = core.flags;
    let r = alu::compute::<OP>(core, W, a, b);
    if writes(OP) {
        if let Err(e) = store::<W>(core, addr, r) {
            core.flags = saved;
            return Err(e);
        }
    }
    Ok(())
}

fn mov_rr<const W: u32>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = get::<W>(core, i.op1_register());
    set::<W>(core, i.op0_register(), v);
    Ok(())
}

fn mov_ri<const W: u32>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    set::<W>(core, i.op0_register(), i.immediate(1));
    Ok(())
}

fn mov_rm<const W: u32, const EA: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = load::<W>(core, ea::<EA>(core, i))?;
    set::<W>(core, i.op0_register(), v);
    Ok(())
}

fn mov_mr<const W: u32, const EA: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = get::<W>(core, i.op1_register());
    store::<W>(core, ea::<EA>(core, i), v)
}

fn mov_mi<const W: u32, const EA: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    store::<W>(core, ea::<EA>(core, i), i.immediate(1))
}

fn lea<const W: u32, const EA: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let a = ea::<EA>(core, i);
    set::<W>(core, i.op0_register(), a);
    Ok(())
}

fn inc_dec<const INC: bool, const W: u32>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let r = i.op0_register();
    let a = get::<W>(core, r);
    let m = u64::MAX >> (64 - W);
    let res = if INC {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    } & m;
    set::<W>(core, r, res);
    if INC {
        core.flags.set_inc(W, a, res);
    } else {
        core.flags.set_dec(W, a, res);
    }
    Ok(())
}

fn movzx_rm8<const EA: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_u8(ea::<EA>(core, i))?;
    set::<32>(core, i.op0_register(), u64::from(v));
    Ok(())
}

fn push_r64(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = get::<64>(core, i.op0_register());
    let rsp = core.gpr[4].wrapping_sub(8);
    core.write_u64(rsp, v)?;
    core.gpr[4] = rsp;
    Ok(())
}

fn pop_r64(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_u64(core.gpr[4])?;
    core.gpr[4] = core.gpr[4].wrapping_add(8);
    set::<64>(core, i.op0_register(), v);
    Ok(())
}

/// The memory operand's specialized shape, if it has one.
fn ea_shape(i: &Instruction) -> Option<u8> {
    let is_q = |r: Register| r.is_gpr64();
    let seg_ok = matches!(i.memory_segment(), Register::DS | Register::SS);
    if !seg_ok || !is_q(i.memory_base()) {
        return None;
    }
    match i.memory_index() {
        Register::None => Some(EA_BASE),
        r if is_q(r) => Some(EA_BASE_INDEX),
        _ => None,
    }
}

fn width_of_reg(r: Register) -> Option<u32> {
    if r.is_gpr64() {
        Some(64)
    } else if r.is_gpr32() {
        Some(32)
    } else {
        None
    }
}

macro_rules! by_width {
    ($w:expr, $f:ident) => {
        match $w {
            64 => $f::<64> as Handler,
            _ => $f::<32> as Handler,
        }
    };
    ($w:expr, $f:ident :: < $($g:tt),* >) => {
        match $w {
            64 => $f::<$($g,)* 64> as Handler,
            _ => $f::<$($g,)* 32> as Handler,
        }
    };
}

macro_rules! by_width_ea {
    ($w:expr, $ea:expr, $f:ident) => {
        match ($w, $ea) {
            (64, EA_BASE) => $f::<64, EA_BASE> as Handler,
            (64, _) => $f::<64, EA_BASE_INDEX> as Handler,
            (_, EA_BASE) => $f::<32, EA_BASE> as Handler,
            (_, _) => $f::<32, EA_BASE_INDEX> as Handler,
        }
    };
    ($w:expr, $ea:expr, $f:ident :: < $($g:tt),* >) => {
        match ($w, $ea) {
            (64, EA_BASE) => $f::<$($g,)* 64, EA_BASE> as Handler,
            (64, _) => $f::<$($g,)* 64, EA_BASE_INDEX> as Handler,
            (_, EA_BASE) => $f::<$($g,)* 32, EA_BASE> as Handler,
            (_, _) => $f::<$($g,)* 32, EA_BASE_INDEX> as Handler,
        }
    };
}

fn alu_handler<const OP: u8>(i: &Instruction) -> Option<Handler> {
    let k1 = i.op1_kind();
    if i.op0_kind() == OpKind::Register {
        let w = width_of_reg(i.op0_register())?;
        return Some(match k1 {
            OpKind::Register if width_of_reg(i.op1_register()) == Some(w) => {
                by_width!(w, alu_rr::<OP>)
            }
            OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32
            | OpKind::Immediate32to64 => {
                by_width!(w, alu_ri::<OP>)
            }
            OpKind::Memory => {
                let s = ea_shape(i)?;
                by_width_ea!(w, s, alu_rm::<OP>)
            }
            _ => return None,
        });
    }
    if i.op0_kind() != OpKind::Memory || i.has_lock_prefix() {
        return None;
    }
    let w = match i.memory_size().size() {
        8 => 64,
        4 => 32,
        _ => return None,
    };
    let s = ea_shape(i)?;
    Some(match k1 {
        OpKind::Register if width_of_reg(i.op1_register()) == Some(w) => {
            by_width_ea!(w, s, alu_mr::<OP>)
        }
        OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32
        | OpKind::Immediate32to64 => {
            by_width_ea!(w, s, alu_mi::<OP>)
        }
        _ => return None,
    })
}

fn mov_handler(i: &Instruction) -> Option<Handler> {
    match (i.op0_kind(), i.op1_kind()) {
        (OpKind::Register, OpKind::Register) => {
            let w = width_of_reg(i.op0_register())?;
            (width_of_reg(i.op1_register()) == Some(w)).then_some(by_width!(w, mov_rr))
        }
        (OpKind::Register, OpKind::Immediate32 | OpKind::Immediate64 | OpKind::Immediate32to64) => {
            let w = width_of_reg(i.op0_register())?;
            Some(by_width!(w, mov_ri))
        }
        (OpKind::Register, OpKind::Memory) => {
            let w = width_of_reg(i.op0_register())?;
            let s = ea_shape(i)?;
            Some(by_width_ea!(w, s, mov_rm))
        }
        (OpKind::Memory, OpKind::Register) => {
            let w = width_of_reg(i.op1_register())?;
            let s = ea_shape(i)?;
            Some(by_width_ea!(w, s, mov_mr))
        }
        (OpKind::Memory, OpKind::Immediate32 | OpKind::Immediate32to64) => {
            let w = match i.memory_size().size() {
                8 => 64,
                4 => 32,
                _ => return None,
            };
            let s = ea_shape(i)?;
            Some(by_width_ea!(w, s, mov_mi))
        }
        _ => None,
    }
}

/// The specialized handler for `i`, if its form has one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    match i.mnemonic() {
        Mnemonic::Add => alu_handler::<ADD>(i),
        Mnemonic::Or => alu_handler::<OR>(i),
        Mnemonic::Adc => alu_handler::<ADC>(i),
        Mnemonic::Sbb => alu_handler::<SBB>(i),
        Mnemonic::And => alu_handler::<AND>(i),
        Mnemonic::Sub => alu_handler::<SUB>(i),
        Mnemonic::Xor => alu_handler::<XOR>(i),
        Mnemonic::Cmp => alu_handler::<CMP>(i),
        Mnemonic::Test => alu_handler::<TEST>(i),
        Mnemonic::Mov => mov_handler(i),
        Mnemonic::Lea => {
            let w = width_of_reg(i.op0_register())?;
            // A 32-bit destination truncates; the shapes only take 64-bit registers.
            let s = ea_shape(i).filter(|_| i.memory_base() != Register::RIP)?;
            Some(by_width_ea!(w, s, lea))
        }
        Mnemonic::Inc | Mnemonic::Dec if i.op0_kind() == OpKind::Register => {
            let w = width_of_reg(i.op0_register())?;
            Some(match (i.mnemonic() == Mnemonic::Inc, w) {
                (true, 64) => inc_dec::<true, 64> as Handler,
                (true, _) => inc_dec::<true, 32> as Handler,
                (false, 64) => inc_dec::<false, 64> as Handler,
                (false, _) => inc_dec::<false, 32> as Handler,
            })
        }
        Mnemonic::Movzx
            if i.op1_kind() == OpKind::Memory
                && i.memory_size().size() == 1
                && i.op0_register().is_gpr32() =>
        {
            let s = ea_shape(i)?;
            Some(if s == EA_BASE {
                movzx_rm8::<EA_BASE>
            } else {
                movzx_rm8::<EA_BASE_INDEX>
            })
        }
        Mnemonic::Push if i.code() == Code::Push_r64 => Some(push_r64),
        Mnemonic::Pop if i.code() == Code::Pop_r64 => Some(pop_r64),
        _ => None,
    }
}
