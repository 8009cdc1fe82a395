//! Privileged and system instructions (SDM Vol. 2 and Vol. 3A ch. 5): moves
//! to and from control registers, rdmsr/wrmsr, lgdt/lidt/ltr and their
//! stores, invlpg, swapgs, sysret, iretq, in/out, stac/clac, wbinvd. Each
//! raises #GP(0) at CPL > 0 where the SDM says so.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::flags::bits;
use crate::cpu::interrupt;
use crate::cpu::system_regs::{msr, PortWrite};
use crate::mmu::{cr0, cr4, efer};

/// The handler for a privileged instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let cr_operand = |n| i.op_kind(n) == OpKind::Register && i.op_register(n).is_cr();
    Some(match i.mnemonic() {
        Mnemonic::Mov if cr_operand(0) => mov_to_cr,
        Mnemonic::Mov if cr_operand(1) => mov_from_cr,
        Mnemonic::Rdmsr => rdmsr,
        Mnemonic::Wrmsr => wrmsr,
        Mnemonic::Lgdt => lgdt_lidt::<true>,
        Mnemonic::Lidt => lgdt_lidt::<false>,
        Mnemonic::Sgdt => sgdt_sidt::<true>,
        Mnemonic::Sidt => sgdt_sidt::<false>,
        Mnemonic::Ltr => ltr,
        Mnemonic::Str => str_insn,
        Mnemonic::Invlpg => invlpg,
        Mnemonic::Swapgs => swapgs,
        Mnemonic::Sysretq => sysretq,
        Mnemonic::Iretq => iretq,
        Mnemonic::In => port_in,
        Mnemonic::Out => port_out,
        Mnemonic::Stac => stac_clac::<true>,
        Mnemonic::Clac => stac_clac::<false>,
        Mnemonic::Wbinvd | Mnemonic::Invd => cpl0_nop,
        Mnemonic::Lmsw => lmsw,
        Mnemonic::Clts => clts,
        Mnemonic::Lldt => lldt,
        Mnemonic::Insb | Mnemonic::Insw | Mnemonic::Insd => ins,
        Mnemonic::Outsb | Mnemonic::Outsw | Mnemonic::Outsd => outs,
        _ => return None,
    })
}

const GP0: Stop = Stop::Fault(Exception::GeneralProtection(0));

#[inline]
fn require_cpl0(core: &Core) -> Result<(), Stop> {
    if core.cpl == 0 {
        Ok(())
    } else {
        Err(GP0)
    }
}

fn canonical(v: u64) -> bool {
    crate::mmu::is_canonical(v)
}

fn cpl0_nop(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)
}

fn cr_number(r: Register) -> u32 {
    r as u32 - Register::CR0 as u32
}

fn mov_from_cr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let v = match cr_number(i.op1_register()) {
        0 => core.mmu.cr0(),
        2 => core.sys.cr2,
        3 => core.mmu.cr3(),
        4 => core.mmu.cr4(),
        8 => core.sys.cr8,
        _ => return core.ud(),
    };
    core.set_reg(i.op0_register(), v);
    Ok(())
}

/// CR4 bits this CPU implements.
pub(crate) const CR4_SUPPORTED: u64 = cr4::PSE
    | cr4::PAE
    | cr4::PGE
    | cr4::OSFXSR
    | cr4::OSXMMEXCPT
    | cr4::SMEP
    | cr4::SMAP
    | (1 << 2) /* TSD */
    | (1 << 3) /* DE */;

fn mov_to_cr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let v = core.reg(i.op1_register());
    match cr_number(i.op0_register()) {
        0 => {
            // Bits 63:32 reserved; long mode cannot be left; PG needs PE.
            if v >> 32 != 0 || v & cr0::PG == 0 || v & cr0::PE == 0 {
                return Err(GP0);
            }
            core.mmu.set_cr0(v | cr0::ET);
        }
        2 => core.sys.cr2 = v,
        3 => {
            if v >> crate::mmu::MAX_PHYS_BITS != 0 {
                return Err(GP0);
            }
            core.mmu.set_cr3(v);
        }
        4 => {
            if v & !CR4_SUPPORTED != 0 || v & cr4::PAE == 0 {
                return Err(GP0);
            }
            core.mmu.set_cr4(v);
        }
        8 => {
            if v >> 4 != 0 {
                return Err(GP0);
            }
            core.sys.cr8 = v;
        }
        _ => return core.ud(),
    }
    Ok(())
}

/// LMSW: loads CR0 bits 3:0 (PE, MP, EM, TS); it can set PE but never clear it.
fn lmsw(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let v = core.read_op(i, 0)? & 0xf;
    let old = core.mmu.cr0();
    let new = (old & !0xe) | (v & 0xe) | (old & cr0::PE) | (v & cr0::PE);
    core.mmu.set_cr0(new);
    Ok(())
}

/// CLTS: clears CR0.TS.
fn clts(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let v = core.mmu.cr0() & !cr0::TS;
    core.mmu.set_cr0(v);
    Ok(())
}

/// LLDT: only the null selector is supported (this CPU has no LDT use);
/// anything else is #GP(selector).
fn lldt(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let sel = core.read_op(i, 0)? as u16;
    if sel & !3 != 0 {
        return Err(Stop::Fault(Exception::GeneralProtection(u32::from(
            sel & !3,
        ))));
    }
    core.sys.ldtr = 0;
    Ok(())
}

/// Element size of a string I/O instruction.
fn io_string_size(i: &Instruction) -> u8 {
    match i.mnemonic() {
        Mnemonic::Insb | Mnemonic::Outsb => 1,
        Mnemonic::Insw | Mnemonic::Outsw => 2,
        _ => 4,
    }
}

/// INS/OUTS with an optional rep prefix: one port access per element,
/// RCX/RSI/RDI updated per element so a fault leaves a resumable state
/// (with a 0x67 prefix, ECX/ESI/EDI: 32-bit writes zero-extend).
fn string_io<const OUT: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    io_allowed(core)?;
    let size = io_string_size(i);
    let addr32 = matches!(i.op0_kind(), OpKind::MemorySegEDI)
        || matches!(i.op1_kind(), OpKind::MemorySegESI);
    let rep = i.has_rep_prefix() || i.has_repne_prefix();
    let step = if core.flags.df() {
        0u64.wrapping_sub(u64::from(size))
    } else {
        u64::from(size)
    };
    let mask = if addr32 { 0xffff_ffff } else { u64::MAX };
    let port = core.gpr[2] as u16;
    loop {
        if rep && core.gpr[1] & mask == 0 {
            return Ok(());
        }
        let reg = if OUT { 6 } else { 7 };
        let mut addr = core.gpr[reg] & mask;
        if OUT {
            addr = match i.memory_segment() {
                Register::FS => addr.wrapping_add(core.seg.fs_base),
                Register::GS => addr.wrapping_add(core.seg.gs_base),
                _ => addr,
            };
            let v = core.read_sized(addr, usize::from(size))? as u32;
            if core.io.port_out(port, size, v, &mut core.ram) == PortWrite::Stop {
                core.gpr[reg] = core.gpr[reg].wrapping_add(step) & mask;
                return Err(Stop::Io);
            }
        } else {
            core.probe_write(addr, u64::from(size))?;
            let v = core.io.port_in(port, size, &mut core.ram);
            core.write_sized(addr, usize::from(size), u64::from(v))?;
        }
        core.gpr[reg] = core.gpr[reg].wrapping_add(step) & mask;
        if !rep {
            return Ok(());
        }
        core.gpr[1] = core.gpr[1].wrapping_sub(1) & mask;
    }
}

fn ins(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    string_io::<false>(core, i)
}

fn outs(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    string_io::<true>(core, i)
}

fn rdmsr(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let index = core.gpr[1] as u32;
    let v = match index {
        msr::EFER => core.mmu.efer(),
        msr::STAR => core.sys.star,
        msr::LSTAR => core.sys.lstar,
        msr::CSTAR => core.sys.cstar,
        msr::FMASK => core.sys.fmask,
        msr::FS_BASE => core.seg.fs_base,
        msr::GS_BASE => core.seg.gs_base,
        msr::KERNEL_GS_BASE => core.seg.kernel_gs_base,
        msr::TSC_AUX => core.sys.tsc_aux,
        msr::TSC => core.tsc(),
        msr::PAT => core.sys.pat,
        other => {
            let tsc = core.tsc();
            core.io.rdmsr(other, tsc).ok_or(GP0)?
        }
    };
    core.gpr[0] = v & 0xffff_ffff;
    core.gpr[2] = v >> 32;
    Ok(())
}

fn wrmsr(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let index = core.gpr[1] as u32;
    let v = (core.gpr[2] << 32) | (core.gpr[0] & 0xffff_ffff);
    let need_canonical = matches!(
        index,
        msr::LSTAR | msr::CSTAR | msr::FS_BASE | msr::GS_BASE | msr::KERNEL_GS_BASE
    );
    if need_canonical && !canonical(v) {
        return Err(GP0);
    }
    match index {
        msr::EFER => {
            let allowed = efer::SCE | efer::LME | efer::LMA | efer::NXE;
            if v & !allowed != 0 || v & efer::LME == 0 {
                return Err(GP0);
            }
            // LMA is read-only: keep it set (we only run in long mode).
            core.mmu.set_efer(v | efer::LMA);
        }
        msr::STAR => core.sys.star = v,
        msr::LSTAR => core.sys.lstar = v,
        msr::CSTAR => core.sys.cstar = v,
        msr::FMASK => core.sys.fmask = v & 0xffff_ffff,
        msr::FS_BASE => core.seg.fs_base = v,
        msr::GS_BASE => core.seg.gs_base = v,
        msr::KERNEL_GS_BASE => core.seg.kernel_gs_base = v,
        msr::TSC_AUX => {
            if v >> 32 != 0 {
                return Err(GP0);
            }
            core.sys.tsc_aux = v;
        }
        msr::PAT => core.sys.pat = v,
        // The TSC counts retired instructions: writing it is not supported.
        msr::TSC => return Err(GP0),
        other => {
            let tsc = core.tsc();
            if !core.io.wrmsr(other, v, tsc) {
                return Err(GP0);
            }
        }
    }
    Ok(())
}

fn lgdt_lidt<const GDT: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let addr = core.ea(i);
    let limit = core.read_u16(addr)?;
    let base = core.read_u64(addr.wrapping_add(2))?;
    if !canonical(base) {
        return Err(GP0);
    }
    let reg = crate::cpu::system_regs::TableReg { base, limit };
    if GDT {
        core.sys.gdtr = reg;
    } else {
        core.sys.idtr = reg;
    }
    Ok(())
}

fn sgdt_sidt<const GDT: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let reg = if GDT { core.sys.gdtr } else { core.sys.idtr };
    let addr = core.ea(i);
    core.probe_write(addr, 10)?;
    core.write_u16(addr, reg.limit)?;
    core.write_u64(addr.wrapping_add(2), reg.base)?;
    Ok(())
}

fn ltr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let sel = core.read_op(i, 0)? as u16;
    let gp = Stop::Fault(Exception::GeneralProtection(u32::from(sel & !3)));
    let lo = interrupt::read_descriptor(core, sel)?;
    let index = u64::from(sel & !7);
    if index + 15 > u64::from(core.sys.gdtr.limit) {
        return Err(gp);
    }
    let hi = core.read_u64_sys(core.sys.gdtr.base.wrapping_add(index + 8))?;
    // Available 64-bit TSS (type 9), system descriptor (S = 0).
    if (lo >> 40) & 0x1f != 0x09 {
        return Err(gp);
    }
    if lo & (1 << 47) == 0 {
        return Err(Stop::Fault(Exception::SegmentNotPresent(u32::from(
            sel & !3,
        ))));
    }
    let base = ((lo >> 16) & 0xff_ffff) | (((lo >> 56) & 0xff) << 24) | ((hi & 0xffff_ffff) << 32);
    let mut limit = ((lo & 0xffff) | (((lo >> 48) & 0xf) << 16)) as u32;
    if lo & (1 << 55) != 0 {
        limit = (limit << 12) | 0xfff;
    }
    // Mark the descriptor busy (type 0xb).
    core.write_u64_sys(core.sys.gdtr.base.wrapping_add(index), lo | (1 << 41))?;
    core.sys.tr = sel;
    core.sys.tss_base = base;
    core.sys.tss_limit = limit;
    Ok(())
}

fn str_insn(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = u64::from(core.sys.tr);
    core.write_op(i, 0, v)?;
    Ok(())
}

fn invlpg(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    let addr = core.ea(i);
    core.mmu.invlpg(addr);
    Ok(())
}

fn swapgs(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    require_cpl0(core)?;
    std::mem::swap(&mut core.seg.gs_base, &mut core.seg.kernel_gs_base);
    Ok(())
}

fn sysretq(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    if core.mmu.efer() & efer::SCE == 0 {
        return core.ud();
    }
    require_cpl0(core)?;
    let target = core.gpr[1];
    if !canonical(target) {
        return Err(GP0);
    }
    let base = (core.sys.star >> 48) as u16;
    core.rip = target;
    core.flags
        .set_rflags((core.gpr[11] & 0x3c_7fd7) | bits::FIXED);
    core.seg.cs = base.wrapping_add(16) | 3;
    core.seg.ss = base.wrapping_add(8) | 3;
    core.cpl = 3;
    core.sync_ac();
    Ok(())
}

fn iretq(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let rsp = core.gpr[4];
    let rip = core.read_u64(rsp)?;
    let cs = core.read_u64(rsp.wrapping_add(8))? as u16;
    let flags = core.read_u64(rsp.wrapping_add(16))?;
    let new_rsp = core.read_u64(rsp.wrapping_add(24))?;
    let ss = core.read_u64(rsp.wrapping_add(32))? as u16;
    let rpl = (cs & 3) as u8;
    if rpl < core.cpl {
        return Err(Stop::Fault(Exception::GeneralProtection(u32::from(
            cs & !3,
        ))));
    }
    let seg = interrupt::code_segment(core, cs)?;
    if seg.dpl != rpl {
        return Err(Stop::Fault(Exception::GeneralProtection(u32::from(
            cs & !3,
        ))));
    }
    if !canonical(rip) {
        return Err(GP0);
    }
    let old = core.flags.rflags();
    let iopl = (old & bits::IOPL) >> 12;
    let mut writable =
        bits::ARITH | bits::TF | bits::DF | bits::NT | bits::RF | bits::AC | bits::ID;
    if core.cpl == 0 {
        writable |= bits::IOPL | bits::VIF | bits::VIP;
    }
    if u64::from(core.cpl) <= iopl {
        writable |= bits::IF;
    }
    core.flags
        .set_rflags((old & !writable) | (flags & writable));
    core.rip = rip;
    core.seg.cs = cs;
    core.seg.ss = ss;
    core.gpr[4] = new_rsp;
    core.cpl = rpl;
    core.sync_ac();
    Ok(())
}

fn io_allowed(core: &Core) -> Result<(), Stop> {
    let iopl = (core.flags.rflags() & bits::IOPL) >> 12;
    if u64::from(core.cpl) > iopl {
        return Err(GP0);
    }
    Ok(())
}

fn port_of(core: &Core, i: &Instruction, n: u32) -> u16 {
    match i.op_kind(n) {
        OpKind::Register => core.gpr[2] as u16,
        _ => u16::from(i.immediate8()),
    }
}

fn port_in(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    io_allowed(core)?;
    let port = port_of(core, i, 1);
    let size = i.op0_register().size() as u8;
    let v = core.io.port_in(port, size, &mut core.ram);
    core.set_reg(i.op0_register(), u64::from(v));
    Ok(())
}

fn port_out(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    io_allowed(core)?;
    let port = port_of(core, i, 0);
    let size = i.op1_register().size() as u8;
    let v = core.reg(i.op1_register()) as u32;
    match core.io.port_out(port, size, v, &mut core.ram) {
        PortWrite::Continue => Ok(()),
        PortWrite::Stop => Err(Stop::Io),
    }
}

fn stac_clac<const SET: bool>(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    if core.mmu.cr4() & cr4::SMAP == 0 {
        return core.ud();
    }
    require_cpl0(core)?;
    core.flags.set_bit(bits::AC, SET);
    core.sync_ac();
    Ok(())
}
