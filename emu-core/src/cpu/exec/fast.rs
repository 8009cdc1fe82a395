//! Specialized handlers for the hottest instruction forms compiled code uses:
//! 32- and 64-bit ALU ops, moves, lea, inc/dec, movzx, push/pop with register,
//! immediate or simple memory operands (base + displacement, or base + index *
//! scale + displacement, no FS/GS override). The generic handlers of each
//! family cover everything else; `resolve` here is consulted first.
//!
//! Widths and operations are const generics, so each handler compiles to a
//! few loads and stores without operand-kind dispatch. Semantics are those of
//! the generic handlers (the difftest covers both).

use iced_x86::{Code, ConditionCode, Instruction, Mnemonic, OpKind, Register};

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

/// Base + index * scale + displacement of a simple memory operand.
#[inline(always)]
fn address<const EA: u8>(core: &Core, i: &Instruction) -> u64 {
    // EA_BASE_INDEX also covers index-only operands (`[disp + index * scale]`).
    let base = match (EA, i.memory_base()) {
        (EA_BASE_INDEX, Register::None) => 0,
        (_, b) => core.gpr[gpr::<64>(b)],
    };
    let mut addr = base.wrapping_add(i.memory_displacement64());
    if EA == EA_BASE_INDEX {
        let index = core.gpr[gpr::<64>(i.memory_index())];
        addr = addr.wrapping_add(index << (i.memory_index_scale().trailing_zeros()));
    }
    addr
}

/// The address of a memory operand that is about to be accessed.
#[inline(always)]
fn ea<const EA: u8>(core: &Core, i: &Instruction) -> u64 {
    let addr = address::<EA>(core, i);
    // Non-canonical RSP/RBP-based accesses are #SS(0) (see Core::ea).
    let stack_base = matches!(i.memory_base(), Register::RSP | Register::RBP);
    if !crate::mmu::is_canonical(addr) && stack_base {
        core.stack_fault_pending.set(true);
    }
    addr
}

#[inline(always)]
fn load<const W: u32>(core: &mut Core, addr: u64) -> Result<u64, Stop> {
    Ok(match W {
        64 => core.read_u64(addr)?,
        32 => u64::from(core.read_u32(addr)?),
        16 => u64::from(core.read_u16(addr)?),
        _ => u64::from(core.read_u8(addr)?),
    })
}

#[inline(always)]
fn store<const W: u32>(core: &mut Core, addr: u64, v: u64) -> Result<(), Stop> {
    match W {
        64 => core.write_u64(addr, v)?,
        32 => core.write_u32(addr, v as u32)?,
        16 => core.write_u16(addr, v as u16)?,
        _ => core.write_u8(addr, v as u8)?,
    }
    Ok(())
}

/// The immediate operand 1, sign-extended as its kind says (a direct
/// match on the kind: cheaper than `Instruction::immediate(n)`).
#[inline(always)]
fn imm1(i: &Instruction) -> u64 {
    match i.op1_kind() {
        OpKind::Immediate8 => u64::from(i.immediate8()),
        OpKind::Immediate8to16 | OpKind::Immediate8to32 | OpKind::Immediate8to64 => {
            i.immediate8() as i8 as i64 as u64
        }
        OpKind::Immediate16 => u64::from(i.immediate16()),
        OpKind::Immediate32 => u64::from(i.immediate32()),
        OpKind::Immediate32to64 => i.immediate32() as i32 as i64 as u64,
        OpKind::Immediate64 => i.immediate64(),
        _ => 0,
    }
}

#[inline(always)]
fn jump_to(core: &mut Core, target: u64) -> Result<(), Stop> {
    if !crate::mmu::is_canonical(target) {
        return Err(Stop::Fault(
            crate::cpu::exception::Exception::GeneralProtection(0),
        ));
    }
    core.rip = target;
    Ok(())
}

fn jmp_r64(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = get::<64>(core, i.op0_register());
    jump_to(core, target)
}

fn jmp_m64<const EA: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = core.read_u64(ea::<EA>(core, i))?;
    jump_to(core, target)
}

/// `jcc` with a 64-bit target and the condition fixed at resolve time.
fn jcc<const CC: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    if core.flags.cond(CONDITIONS[CC as usize]) {
        let target = i.near_branch64();
        if !crate::mmu::is_canonical(target) {
            return Err(Stop::Fault(
                crate::cpu::exception::Exception::GeneralProtection(0),
            ));
        }
        core.rip = target;
    }
    Ok(())
}

const CONDITIONS: [ConditionCode; 17] = [
    ConditionCode::None,
    ConditionCode::o,
    ConditionCode::no,
    ConditionCode::b,
    ConditionCode::ae,
    ConditionCode::e,
    ConditionCode::ne,
    ConditionCode::be,
    ConditionCode::a,
    ConditionCode::s,
    ConditionCode::ns,
    ConditionCode::p,
    ConditionCode::np,
    ConditionCode::l,
    ConditionCode::ge,
    ConditionCode::le,
    ConditionCode::g,
];

fn jcc_handler(i: &Instruction) -> Option<Handler> {
    if !i.is_jcc_short_or_near() || i.op0_kind() != OpKind::NearBranch64 {
        return None;
    }
    Some(match i.condition_code() {
        ConditionCode::o => jcc::<1>,
        ConditionCode::no => jcc::<2>,
        ConditionCode::b => jcc::<3>,
        ConditionCode::ae => jcc::<4>,
        ConditionCode::e => jcc::<5>,
        ConditionCode::ne => jcc::<6>,
        ConditionCode::be => jcc::<7>,
        ConditionCode::a => jcc::<8>,
        ConditionCode::s => jcc::<9>,
        ConditionCode::ns => jcc::<10>,
        ConditionCode::p => jcc::<11>,
        ConditionCode::np => jcc::<12>,
        ConditionCode::l => jcc::<13>,
        ConditionCode::ge => jcc::<14>,
        ConditionCode::le => jcc::<15>,
        ConditionCode::g => jcc::<16>,
        ConditionCode::None => return None,
    })
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
    let imm = imm1(i) & (u64::MAX >> (64 - W));
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
    let b = imm1(i) & (u64::MAX >> (64 - W));
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
    set::<W>(core, i.op0_register(), imm1(i));
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
    let imm = match W {
        8 => u64::from(i.immediate8()),
        16 => u64::from(i.immediate16()),
        32 => u64::from(i.immediate32()),
        _ => i.immediate32to64() as u64,
    };
    store::<W>(core, ea::<EA>(core, i), imm)
}

fn lea<const W: u32, const EA: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    // lea accesses no memory: the address without the #SS bookkeeping.
    let a = address::<EA>(core, i);
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
    // CS/DS/ES/SS overrides are ignored in 64-bit mode; FS/GS add a base.
    let seg_ok = !matches!(i.memory_segment(), Register::FS | Register::GS);
    if !seg_ok {
        return None;
    }
    match (i.memory_base(), i.memory_index()) {
        (b, Register::None) if is_q(b) => Some(EA_BASE),
        (b, x) if is_q(x) && (is_q(b) || b == Register::None) => Some(EA_BASE_INDEX),
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

macro_rules! by_narrow_ea {
    ($w:expr, $ea:expr, $f:ident :: < $($g:tt),* >) => {
        match ($w, $ea) {
            (8, EA_BASE) => $f::<$($g,)* 8, EA_BASE> as Handler,
            (8, _) => $f::<$($g,)* 8, EA_BASE_INDEX> as Handler,
            (_, EA_BASE) => $f::<$($g,)* 16, EA_BASE> as Handler,
            (_, _) => $f::<$($g,)* 16, EA_BASE_INDEX> as Handler,
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
    let w = (i.memory_size().size() * 8) as u32;
    let s = ea_shape(i)?;
    if matches!(w, 8 | 16) {
        // Byte and word memory operands with an immediate (no 8-bit register rules involved).
        let imm = matches!(
            k1,
            OpKind::Immediate8 | OpKind::Immediate16 | OpKind::Immediate8to16
        );
        return imm.then_some(by_narrow_ea!(w, s, alu_mi::<OP>));
    }
    if !matches!(w, 32 | 64) {
        return None;
    }
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
        (OpKind::Memory, OpKind::Immediate8 | OpKind::Immediate16) => {
            let w = (i.memory_size().size() * 8) as u32;
            let s = ea_shape(i)?;
            Some(match (w, s) {
                (8, EA_BASE) => mov_mi::<8, EA_BASE> as Handler,
                (8, _) => mov_mi::<8, EA_BASE_INDEX> as Handler,
                (_, EA_BASE) => mov_mi::<16, EA_BASE> as Handler,
                (_, _) => mov_mi::<16, EA_BASE_INDEX> as Handler,
            })
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
        _ if i.is_jcc_short_or_near() => jcc_handler(i),
        Mnemonic::Jmp if i.code() == Code::Jmp_rm64 => match i.op0_kind() {
            OpKind::Register => Some(jmp_r64),
            _ => Some(match ea_shape(i)? {
                EA_BASE => jmp_m64::<EA_BASE> as Handler,
                _ => jmp_m64::<EA_BASE_INDEX> as Handler,
            }),
        },
        Mnemonic::Pop if i.code() == Code::Pop_r64 => Some(pop_r64),
        _ => None,
    }
}
