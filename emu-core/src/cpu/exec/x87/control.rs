//! x87 control and state: FLDCW/FNSTCW, FNSTSW, FNCLEX, FNINIT, FNSTENV/FLDENV, FNSAVE/FRSTOR,
//! FNOP, FWAIT and FXSAVE/FXRSTOR (SDM Vol. 1 §8.1, Vol. 2). The FN* forms do not check for
//! pending exceptions; their waiting forms (FSTCW, FINIT, ...) check first, as FWAIT would.

use iced_x86::{Instruction, MemorySize, Mnemonic};

use super::load_store::probe_store;
use super::{nm_check, BUSY, ES, SF, X87};
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::exec::Handler;
use crate::cpu::fpu::{self, tag, Fpu};
use crate::mmu::cr0;
use crate::softfloat::Flags;

/// The handler for an x87 control instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match i.mnemonic() {
        Fldcw => fldcw,
        Fnstcw => fnstcw::<false>,
        Fstcw => fnstcw::<true>,
        Fnstsw => fnstsw::<false>,
        Fstsw => fnstsw::<true>,
        Fnclex => fnclex::<false>,
        Fclex => fnclex::<true>,
        Fninit => fninit::<false>,
        Finit => fninit::<true>,
        Fnstenv => fnstenv::<false>,
        Fstenv => fnstenv::<true>,
        Fldenv => fldenv,
        Fnsave => fnsave::<false>,
        Fsave => fnsave::<true>,
        Frstor => frstor,
        Fnop => fnop,
        Wait => fwait,
        // 8087/80287 leftovers: no-ops on later FPUs (the waiting forms wait first).
        Fndisi | Fneni | Fnsetpm => fnop_legacy,
        Fdisi | Feni | Fsetpm => fwait,
        Fxsave | Fxsave64 => fxsave,
        Fxrstor | Fxrstor64 => fxrstor,
        _ => return None,
    })
}

/// Delivers a pending unmasked exception (#MF) for the waiting forms.
fn wait_check(core: &Core) -> Result<(), Stop> {
    if core.fpu.fsw & ES != 0 {
        Err(Stop::Fault(Exception::X87Float))
    } else {
        Ok(())
    }
}

/// FCW as stored: reserved bit 6 reads as 1, bits 7 and 13..15 as 0.
fn stored_fcw(v: u16) -> u16 {
    (v & 0x1F3F) | 0x0040
}

fn fldcw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    wait_check(core)?;
    let v = core.read_u16(core.ea(i))?;
    core.fpu.fcw = stored_fcw(v);
    core.fpu.sync_es();
    Ok(())
}

fn fnstcw<const WAIT: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    if WAIT {
        wait_check(core)?;
    }
    core.write_u16(core.ea(i), core.fpu.fcw)?;
    Ok(())
}

fn fnstsw<const WAIT: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    if WAIT {
        wait_check(core)?;
    }
    let v = core.fpu.fsw;
    if i.op0_kind() == iced_x86::OpKind::Register {
        core.set_reg(i.op0_register(), u64::from(v));
    } else {
        core.write_u16(core.ea(i), v)?;
    }
    Ok(())
}

fn fnclex<const WAIT: bool>(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    if WAIT {
        wait_check(core)?;
    }
    core.fpu.fsw &= !(Flags::EXCEPTIONS | SF | ES | BUSY);
    Ok(())
}

fn fninit<const WAIT: bool>(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    if WAIT {
        wait_check(core)?;
    }
    let regs = core.fpu.regs;
    core.fpu = Fpu {
        regs,
        ..Fpu::default()
    };
    Ok(())
}

fn fnop(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    super::enter(core, i)
}

/// FNENI, FNDISI, FNSETPM (DB E0, DB E1, DB E4): no-ops that do not check for pending
/// exceptions (SDM Vol. 1 §8.3.1 lists them as 8087/80287-only).
fn fnop_legacy(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    nm_check(core)
}

fn fwait(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    // WAIT faults with #NM only when both CR0.TS and CR0.MP are set.
    let c0 = core.mmu.cr0();
    if c0 & cr0::TS != 0 && c0 & cr0::MP != 0 {
        return Err(Stop::Fault(Exception::DeviceNotAvailable));
    }
    wait_check(core)
}

/// Size of the environment image: 28 bytes, or 14 with a 16-bit operand size.
fn env_len(i: &Instruction) -> usize {
    if matches!(
        i.memory_size(),
        MemorySize::FpuEnv14 | MemorySize::FpuState94
    ) {
        14
    } else {
        28
    }
}

/// The last non-control x87 instruction's opcode (FOP, SDM Vol. 1 §8.1.10): the low three bits
/// of its first opcode byte and its ModR/M byte. Only FIP is tracked per instruction; the opcode
/// is read back from the code at FIP when an image is stored (0 if it is no longer readable).
fn last_opcode(core: &mut Core) -> u16 {
    let mut addr = core.fpu.fip;
    if addr == 0 {
        return 0;
    }
    for _ in 0..14 {
        let Ok(b) = core.read_u8(addr) else {
            return 0;
        };
        match b {
            0xD8..=0xDF => {
                return core
                    .read_u8(addr.wrapping_add(1))
                    .map_or(0, |modrm| (u16::from(b & 7) << 8) | u16::from(modrm));
            }
            0x40..=0x4F
            | 0x66
            | 0x67
            | 0xF2
            | 0xF3
            | 0x26
            | 0x2E
            | 0x36
            | 0x3E
            | 0x64
            | 0x65
            | 0x9B => {
                addr = addr.wrapping_add(1);
            }
            _ => return 0,
        }
    }
    0
}

/// The protected-mode environment image (SDM Vol. 1 Figures 8-9/8-10): control, status and
/// full tag words, then the last instruction pointer with the code selector and opcode, and
/// the last data pointer.
fn env_image(core: &mut Core, len: usize) -> [u8; 28] {
    let fop = last_opcode(core);
    // After FNINIT (no x87 instruction since) the pointer fields, selector included, are zero.
    let cs = if core.fpu.fip == 0 { 0 } else { core.seg.cs };
    let f = &core.fpu;
    let mut b = [0u8; 28];
    let put16 = |b: &mut [u8; 28], o: usize, v: u16| b[o..o + 2].copy_from_slice(&v.to_le_bytes());
    if len == 14 {
        put16(&mut b, 0, f.fcw);
        put16(&mut b, 2, f.fsw);
        put16(&mut b, 4, f.ftw);
        put16(&mut b, 6, f.fip as u16);
        put16(&mut b, 8, fop);
        put16(&mut b, 10, f.fdp as u16);
        return b;
    }
    // The reserved upper halves of the first three doublewords read as ones on the host.
    put16(&mut b, 0, f.fcw);
    put16(&mut b, 2, 0xFFFF);
    put16(&mut b, 4, f.fsw);
    put16(&mut b, 6, 0xFFFF);
    put16(&mut b, 8, f.ftw);
    put16(&mut b, 10, 0xFFFF);
    b[12..16].copy_from_slice(&(f.fip as u32).to_le_bytes());
    put16(&mut b, 16, cs);
    put16(&mut b, 18, fop);
    b[20..24].copy_from_slice(&(f.fdp as u32).to_le_bytes());
    put16(&mut b, 26, 0xFFFF);
    b
}

/// Loads an environment image; tags other than empty are recomputed from the registers.
fn load_env(f: &mut Fpu, b: &[u8], len: usize) {
    let get16 = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let (cw, sw, tw) = if len == 14 {
        (get16(0), get16(2), get16(4))
    } else {
        (get16(0), get16(4), get16(8))
    };
    f.fcw = stored_fcw(cw);
    f.fsw = sw;
    // The pointers are restored too; the opcode is re-read from the code at FIP when stored.
    let get32 = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    (f.fip, f.fop, f.fdp) = if len == 14 {
        (u64::from(get16(6)), get16(8) & 0x7FF, u64::from(get16(10)))
    } else {
        (
            u64::from(get32(12)),
            get16(18) & 0x7FF,
            u64::from(get32(20)),
        )
    };
    f.ftw = (0..8).fold(0u16, |acc, p| {
        let t = if (tw >> (2 * p)) & 3 == tag::EMPTY {
            tag::EMPTY
        } else {
            Fpu::classify(f.regs[p])
        };
        acc | (t << (2 * p))
    });
    f.sync_es();
}

/// The order in which the host accesses an environment (`env_len` bytes) or state image
/// (`len` bytes) at `addr` (FLDENV/FNSTENV/FRSTOR/FNSAVE): its first field (FCW, a word in
/// the 16-bit format and a doubleword in the 32-bit one), then its last byte, then the rest; a
/// fault reports the first inaccessible byte of the first field, else the last byte.
fn check_image(
    core: &mut Core,
    addr: u64,
    env_len: usize,
    len: usize,
    write: bool,
) -> Result<(), Stop> {
    let first = if env_len == 14 { 2 } else { 4 };
    let last = addr.wrapping_add(len as u64 - 1);
    if write {
        probe_store(core, addr, first)?;
        core.probe_write(last, 1)?;
    } else {
        let mut b = [0u8; 4];
        core.read_slice(addr, &mut b[..first])?;
        core.read_u8(last)?;
    }
    Ok(())
}

fn fnstenv<const WAIT: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    if WAIT {
        wait_check(core)?;
    }
    let len = env_len(i);
    let addr = core.ea(i);
    check_image(core, addr, len, len, true)?;
    let img = env_image(core, len);
    core.write_slice(addr, &img[..len])?;
    // FNSTENV masks all floating-point exceptions after saving.
    core.fpu.fcw |= Flags::EXCEPTIONS;
    core.fpu.sync_es();
    Ok(())
}

fn fldenv(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    wait_check(core)?;
    let len = env_len(i);
    let addr = core.ea(i);
    check_image(core, addr, len, len, false)?;
    let mut b = [0u8; 28];
    core.read_slice(addr, &mut b[..len])?;
    load_env(&mut core.fpu, &b, len);
    Ok(())
}

fn fnsave<const WAIT: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    if WAIT {
        wait_check(core)?;
    }
    let len = env_len(i);
    let addr = core.ea(i);
    check_image(core, addr, len, len + 80, true)?;
    let mut img = [0u8; 108];
    img[..len].copy_from_slice(&env_image(core, len)[..len]);
    for r in 0..8 {
        let o = len + 10 * r;
        img[o..o + 10].copy_from_slice(&core.fpu.st(r).to_bytes());
    }
    core.write_slice(addr, &img[..len + 80])?;
    let regs = core.fpu.regs;
    core.fpu = Fpu {
        regs,
        ..Fpu::default()
    };
    Ok(())
}

fn frstor(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    wait_check(core)?;
    let len = env_len(i);
    let addr = core.ea(i);
    check_image(core, addr, len, len + 80, false)?;
    let mut img = [0u8; 108];
    core.read_slice(addr, &mut img[..len + 80])?;
    // Registers are in stack order relative to the TOP being loaded.
    let top = usize::from(
        (u16::from_le_bytes([
            img[if len == 14 { 2 } else { 4 }],
            img[if len == 14 { 3 } else { 5 }],
        ]) >> 11)
            & 7,
    );
    for r in 0..8 {
        let o = len + 10 * r;
        let mut b = [0u8; 16];
        b[..10].copy_from_slice(&img[o..o + 10]);
        core.fpu.regs[(top + r) & 7] = u128::from_le_bytes(b);
    }
    load_env(&mut core.fpu, &img, len);
    Ok(())
}

/// Bytes of the FXSAVE image the processor writes (464..511 belong to software).
const FXSAVE_WRITTEN: usize = 416;

/// The checks of FXSAVE/FXRSTOR before any access, in the host's order: a non-canonical
/// address (#GP(0), or #SS(0) when RSP/RBP-based) before misalignment (#GP(0)), then the last
/// byte of the 512-byte area and then its first byte (the area spans at most two pages).
fn check_fx_area(core: &mut Core, addr: u64, write: bool) -> Result<(), Stop> {
    if !crate::mmu::is_canonical(addr) {
        // The access faults in translation, with the error the addressing mode calls for.
        core.read_u8(addr)?;
    }
    if addr & 15 != 0 {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    for a in [addr.wrapping_add(511), addr] {
        if write {
            core.probe_write(a, 1)?;
        } else {
            core.read_u8(a)?;
        }
    }
    Ok(())
}

fn fxsave(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    let addr = core.ea(i);
    check_fx_area(core, addr, true)?;
    // As on the (AMD) host, the last-instruction pointers and opcode are saved only while an
    // unmasked exception is pending (ES set); otherwise they are stored as zero.
    let mut f = core.fpu;
    if f.fsw & ES != 0 {
        f.fop = last_opcode(core);
    } else {
        (f.fop, f.fip, f.fdp) = (0, 0, 0);
    }
    let img = fpu::fxsave_image(&f, core.mxcsr, &core.xmm);
    core.write_slice(addr, &img[..FXSAVE_WRITTEN])?;
    Ok(())
}

fn fxrstor(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    let addr = core.ea(i);
    check_fx_area(core, addr, false)?;
    let mut img = [0u8; 512];
    core.read_slice(addr, &mut img)?;
    let (mut f, mut mxcsr, mut xmm) = (core.fpu, core.mxcsr, core.xmm);
    if fpu::fxrstor_image(&img, &mut f, &mut mxcsr, &mut xmm).is_err() {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    f.sync_es();
    (core.fpu, core.mxcsr, core.xmm) = (f, mxcsr, xmm);
    Ok(())
}
