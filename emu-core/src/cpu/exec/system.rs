//! System-facing instructions at user level: nop forms, syscall, int3, int n,
//! hlt, ud2, cpuid, rdtsc/rdtscp. In this layer syscall and software
//! interrupts surface as `Stop` events for the machine to handle.

use iced_x86::{Instruction, Mnemonic};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::cpuid;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::flags::bits;
use crate::mmu::efer;

/// The handler for a system instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.mnemonic() {
        Mnemonic::Nop | Mnemonic::Pause | Mnemonic::Endbr64 | Mnemonic::Endbr32 => nop,
        // CET's rdssp lives in the reserved-NOP space (0F 1E): without CET
        // (not advertised) it executes as a NOP and leaves its register
        // unchanged, which is how libgcc's unwinder detects "no shadow stack".
        Mnemonic::Rdsspd | Mnemonic::Rdsspq => nop,
        Mnemonic::Prefetchnta
        | Mnemonic::Prefetcht0
        | Mnemonic::Prefetcht1
        | Mnemonic::Prefetcht2
        | Mnemonic::Prefetchw => nop,
        Mnemonic::Syscall => syscall,
        Mnemonic::Int3 => int3,
        Mnemonic::Int => int_n,
        Mnemonic::Hlt => hlt,
        Mnemonic::Ud2 | Mnemonic::Ud0 | Mnemonic::Ud1 => ud,
        Mnemonic::Cpuid => cpuid_insn,
        Mnemonic::Rdtsc => rdtsc,
        _ => return None,
    })
}

fn nop(_: &mut Core, _: &Instruction) -> Result<(), Stop> {
    Ok(())
}

fn ud(_: &mut Core, _: &Instruction) -> Result<(), Stop> {
    Err(Stop::Fault(Exception::InvalidOpcode))
}

/// `syscall`: an event in library mode; in system mode the architectural
/// transfer to LSTAR at CPL 0 (SDM Vol. 2B, SYSCALL).
fn syscall(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    if core.syscall_exits {
        return Err(Stop::Syscall);
    }
    if core.mmu.efer() & efer::SCE == 0 {
        return Err(Stop::Fault(Exception::InvalidOpcode));
    }
    let flags = core.flags.rflags();
    core.gpr[1] = core.rip;
    core.gpr[11] = flags & !bits::RF;
    core.flags.set_rflags(flags & !(core.sys.fmask | bits::RF));
    let base = (core.sys.star >> 32) as u16;
    core.seg.cs = base & !3;
    core.seg.ss = base.wrapping_add(8) & !3;
    core.cpl = 0;
    core.rip = core.sys.lstar;
    core.sync_ac();
    Ok(())
}

fn int3(_: &mut Core, _: &Instruction) -> Result<(), Stop> {
    Err(Stop::Breakpoint)
}

fn int_n(_: &mut Core, i: &Instruction) -> Result<(), Stop> {
    Err(Stop::SoftwareInterrupt(i.immediate8()))
}

fn hlt(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    if core.cpl != 0 {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    Err(Stop::Halt)
}

fn cpuid_insn(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let [a, b, c, d] = cpuid::cpuid(core.gpr[0] as u32, core.gpr[1] as u32);
    core.gpr[0] = a as u64;
    core.gpr[3] = b as u64;
    core.gpr[1] = c as u64;
    core.gpr[2] = d as u64;
    Ok(())
}

fn rdtsc(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    const CR4_TSD: u64 = 1 << 2;
    if core.mmu.cr4() & CR4_TSD != 0 && core.cpl != 0 {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    let tsc = core.tsc();
    core.gpr[0] = tsc & 0xffff_ffff;
    core.gpr[2] = tsc >> 32;
    Ok(())
}
