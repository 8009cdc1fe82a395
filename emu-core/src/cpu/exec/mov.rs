//! Data movement: mov (register, memory, immediate, moffs, and to/from the
//! segment registers), movzx, movsx, movsxd, lea.
//!
//! Segment loads (`mov sreg, r/m`, also used by `pop fs/gs`) follow SDM
//! Vol. 2B, MOV, in 64-bit mode: a null selector may go into DS, ES, FS and
//! GS (and into SS only at CPL < 3 with RPL = CPL) and clears an FS/GS base,
//! as the host (AMD Zen 4) and Intel parts do; a non-null selector names a
//! GDT descriptor (no LDT) that must be a present readable segment of a
//! suitable privilege, or a present writable data segment at DPL = RPL =
//! CPL for SS. FS and GS take the descriptor's 32-bit base. Without a GDT
//! (library mode) only null selectors load.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::interrupt;

/// The handler for a move instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.mnemonic() {
        Mnemonic::Mov => {
            let is_sreg =
                |n| i.op_kind(n) == OpKind::Register && i.op_register(n).is_segment_register();
            if is_sreg(1) {
                return Some(mov_from_sreg);
            }
            if is_sreg(0) {
                return Some(mov_to_sreg);
            }
            // Control and debug register moves belong to the system layer.
            let is_plain = |n| i.op_kind(n) != OpKind::Register || i.op_register(n).is_gpr();
            if !(is_plain(0) && is_plain(1)) {
                return None;
            }
            if i.op0_kind() == OpKind::Register && i.op1_kind() == OpKind::Register {
                mov_rr
            } else {
                mov
            }
        }
        Mnemonic::Movzx => movzx,
        Mnemonic::Movsx | Mnemonic::Movsxd => movsx,
        Mnemonic::Lea => lea,
        _ => return None,
    })
}

fn mov_rr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.reg(i.op1_register());
    core.set_reg(i.op0_register(), v);
    Ok(())
}

fn mov(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 1)?;
    core.write_op(i, 0, v)?;
    Ok(())
}

fn movzx(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 1)?;
    core.set_reg(i.op0_register(), v);
    Ok(())
}

fn movsx(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 1)?;
    let src_bits = Core::op_bytes(i, 1) * 8;
    let sh = 64 - src_bits;
    let ext = (((v << sh) as i64) >> sh) as u64;
    core.set_reg(i.op0_register(), ext);
    Ok(())
}

fn lea(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    // LEA ignores segment bases: compute base + index * scale + disp only.
    let mut addr = i.memory_displacement64();
    let base = i.memory_base();
    if base != Register::None && base != Register::RIP && base != Register::EIP {
        addr = addr.wrapping_add(core.reg(base));
    }
    let index = i.memory_index();
    if index != Register::None {
        addr = addr.wrapping_add(core.reg(index).wrapping_mul(i.memory_index_scale() as u64));
    }
    if base.size() == 4 || index.size() == 4 {
        addr &= 0xffff_ffff;
    }
    core.set_reg(i.op0_register(), addr);
    Ok(())
}

/// The selector held by a segment register.
pub(super) fn selector(core: &Core, sreg: Register) -> u16 {
    match sreg {
        Register::ES => core.seg.es,
        Register::CS => core.seg.cs,
        Register::SS => core.seg.ss,
        Register::DS => core.seg.ds,
        Register::FS => core.seg.fs,
        _ => core.seg.gs,
    }
}

/// Loads `sel` into the data or stack segment register `sreg` (see the
/// module notes). Faults before changing anything.
pub(super) fn load_segment(core: &mut Core, sreg: Register, sel: u16) -> Result<(), Stop> {
    const RPL: u16 = 0b11;
    let rpl = (sel & RPL) as u8;
    let index = u32::from(sel & !RPL);
    let gp = Stop::Fault(Exception::GeneralProtection(index));
    let mut base = 0;
    if index == 0 {
        if sreg == Register::SS && (core.cpl == 3 || rpl != core.cpl) {
            return Err(Stop::Fault(Exception::GeneralProtection(0)));
        }
    } else {
        let d = interrupt::read_descriptor(core, sel)?;
        let bit = |n: u32| d & (1 << n) != 0;
        let (user, code, conforming, rw, present) = (bit(44), bit(43), bit(42), bit(41), bit(47));
        let dpl = ((d >> 45) & 3) as u8;
        if sreg == Register::SS {
            if rpl != core.cpl || !user || code || !rw || dpl != core.cpl {
                return Err(gp);
            }
            if !present {
                return Err(Stop::Fault(Exception::StackFault(index)));
            }
        } else {
            let readable = user && (!code || rw);
            let privileged = (!code || !conforming) && (rpl > dpl || core.cpl > dpl);
            if !readable || privileged {
                return Err(gp);
            }
            if !present {
                return Err(Stop::Fault(Exception::SegmentNotPresent(index)));
            }
        }
        base = ((d >> 16) & 0xff_ffff) | (((d >> 56) & 0xff) << 24);
    }
    match sreg {
        Register::SS => {
            core.seg.ss = sel;
            // Interrupts wait until after the next instruction (SDM MOV).
            core.sys.shadow_until = core.icount + 2;
        }
        Register::DS => core.seg.ds = sel,
        Register::ES => core.seg.es = sel,
        Register::FS => {
            core.seg.fs = sel;
            core.seg.fs_base = base;
        }
        Register::GS => {
            core.seg.gs = sel;
            core.seg.gs_base = base;
        }
        // CS cannot be loaded by mov or pop (the decoder rejects it).
        _ => return Err(Stop::Fault(Exception::InvalidOpcode)),
    }
    Ok(())
}

/// `mov r/m, sreg`: a register destination gets the selector zero-extended
/// to its size (a 16-bit one merges); a memory destination is always 16 bits.
fn mov_from_sreg(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let sel = selector(core, i.op1_register()) as u64;
    core.write_op(i, 0, sel)?;
    Ok(())
}

/// `mov sreg, r/m16` (the low 16 bits of a register source).
fn mov_to_sreg(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let sel = core.read_op(i, 1)? as u16;
    load_segment(core, i.op0_register(), sel)
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{
        check, emu_cpu, run_to_end, snippet_addr, Rng, State, ALL_FLAGS, DATA, DATA_LEN,
    };
    use crate::cpu::{Exit, Gpr};
    use crate::Exception;

    fn mov_state(rng: &mut Rng) -> State {
        let flags = rng.next();
        let mut s = State::random(rng, flags);
        s.set(Gpr::Rdi, DATA + 0x80).set(Gpr::Rsi, 0x10);
        s
    }

    fn run_all(codes: &[Vec<u8>], seed: u64) {
        let mut rng = Rng::new(seed);
        for code in codes {
            for _ in 0..16 {
                check(code, &mov_state(&mut rng), ALL_FLAGS);
            }
        }
    }

    #[test]
    fn mov_register_memory_and_immediate_forms_match_host() {
        let codes: Vec<Vec<u8>> = vec![
            vec![0x88, 0xd1],                            // mov cl, dl
            vec![0x88, 0xf1],                            // mov cl, dh
            vec![0x40, 0x88, 0xf7],                      // mov dil, sil
            vec![0x66, 0x89, 0xd1],                      // mov cx, dx
            vec![0x89, 0xd1],                            // mov ecx, edx
            vec![0x48, 0x89, 0xd1],                      // mov rcx, rdx
            vec![0x88, 0x17],                            // mov [rdi], dl
            vec![0x66, 0x89, 0x17],                      // mov [rdi], dx
            vec![0x89, 0x54, 0xb7, 0x04],                // mov [rdi+rsi*4+4], edx
            vec![0x4c, 0x89, 0x07],                      // mov [rdi], r8
            vec![0x8a, 0x37],                            // mov dh, [rdi]
            vec![0x66, 0x8b, 0x17],                      // mov dx, [rdi]
            vec![0x8b, 0x17],                            // mov edx, [rdi]
            vec![0x48, 0x8b, 0x57, 0xf9],                // mov rdx, [rdi-7]
            vec![0xb1, 0x85],                            // mov cl, 0x85
            vec![0x66, 0xb9, 0x34, 0x82],                // mov cx, 0x8234
            vec![0xb9, 1, 2, 3, 0x84],                   // mov ecx, imm32
            vec![0x48, 0xb9, 1, 2, 3, 4, 5, 6, 7, 0x88], // mov rcx, imm64
            vec![0x48, 0xc7, 0xc1, 0, 0, 0, 0x80],       // mov rcx, sign-extended imm32
            vec![0xc6, 0x07, 0x99],                      // mov byte [rdi], 0x99
            vec![0x66, 0xc7, 0x07, 0x11, 0x99],          // mov word [rdi], imm16
            vec![0x48, 0xc7, 0x07, 1, 2, 3, 0xf4],       // mov qword [rdi], imm32
        ];
        run_all(&codes, 0x88);
    }

    #[test]
    fn moffs_forms_match_host_with_both_address_sizes() {
        let a64 = (DATA + 0x123).to_le_bytes();
        let a32 = ((DATA + 0x321) as u32).to_le_bytes();
        let mut codes = Vec::new();
        for (op, prefix) in [
            (0xa0u8, &[][..]),
            (0xa1, &[0x66][..]),
            (0xa1, &[][..]),
            (0xa1, &[0x48][..]),
            (0xa2, &[][..]),
            (0xa3, &[0x66][..]),
            (0xa3, &[][..]),
            (0xa3, &[0x48][..]),
        ] {
            codes.push([prefix, &[op], &a64[..]].concat());
            codes.push([&[0x67], prefix, &[op], &a32[..]].concat());
        }
        run_all(&codes, 0xa0);
    }

    #[test]
    fn movzx_movsx_movsxd_match_host_at_every_width() {
        let codes: Vec<Vec<u8>> = vec![
            vec![0x0f, 0xb6, 0xca],       // movzx ecx, dl
            vec![0x0f, 0xb6, 0xce],       // movzx ecx, dh
            vec![0x66, 0x0f, 0xb6, 0xca], // movzx cx, dl
            vec![0x48, 0x0f, 0xb6, 0x0f], // movzx rcx, byte [rdi]
            vec![0x0f, 0xb7, 0xca],       // movzx ecx, dx
            vec![0x48, 0x0f, 0xb7, 0x0f], // movzx rcx, word [rdi]
            vec![0x0f, 0xbe, 0xca],       // movsx ecx, dl
            vec![0x66, 0x0f, 0xbe, 0xca], // movsx cx, dl
            vec![0x48, 0x0f, 0xbe, 0x0f], // movsx rcx, byte [rdi]
            vec![0x0f, 0xbf, 0xca],       // movsx ecx, dx
            vec![0x48, 0x0f, 0xbf, 0xca], // movsx rcx, dx
            vec![0x48, 0x63, 0xca],       // movsxd rcx, edx
            vec![0x48, 0x63, 0x0f],       // movsxd rcx, [rdi]
            vec![0x63, 0xca],             // movsxd ecx, edx (no REX.W)
            vec![0x66, 0x63, 0xca],       // movsxd cx, dx
        ];
        run_all(&codes, 0xb6);
    }

    #[test]
    fn lea_matches_host_for_operand_and_address_sizes() {
        let codes: Vec<Vec<u8>> = vec![
            vec![0x48, 0x8d, 0x4c, 0xb7, 0xf0], // lea rcx, [rdi+rsi*4-16]
            vec![0x8d, 0x4c, 0xb7, 0xf0],       // lea ecx, [rdi+rsi*4-16]
            vec![0x66, 0x8d, 0x4c, 0xb7, 0xf0], // lea cx, [rdi+rsi*4-16]
            vec![0x67, 0x48, 0x8d, 0x4c, 0xb7, 0xf0], // lea rcx, [edi+esi*4-16]
            vec![0x67, 0x8d, 0x48, 0xff],       // lea ecx, [eax-1]
            vec![0x48, 0x8d, 0x0d, 0x10, 0, 0, 0], // lea rcx, [rip+16]
            vec![0x67, 0x48, 0x8d, 0x0d, 0x10, 0, 0, 0x80], // lea rcx, [eip+disp]
            vec![0x48, 0x8d, 0x0c, 0x25, 0, 0, 0, 0x80], // lea rcx, [disp32] (sign-extended)
            vec![0x67, 0x48, 0x8d, 0x0c, 0x25, 0, 0, 0, 0x80], // lea rcx, [disp32] (a32)
            vec![0x48, 0x8d, 0x04, 0x00],       // lea rax, [rax+rax]
            vec![0x64, 0x48, 0x8d, 0x0f],       // lea rcx, fs:[rdi] (no base)
            vec![0x4a, 0x8d, 0x0c, 0xe5, 8, 0, 0, 0], // lea rcx, [r12*8+8]
        ];
        let mut rng = Rng::new(0x8d);
        for code in &codes {
            for _ in 0..32 {
                let mut s = mov_state(&mut rng);
                s.set(Gpr::Rsi, rng.edge(64)).set(Gpr::Rax, rng.edge(64));
                s.set(Gpr::Rdi, rng.next()).set(Gpr::R12, rng.edge(64));
                check(code, &s, ALL_FLAGS);
            }
        }
        assert_ne!(snippet_addr(), 0);
    }

    #[test]
    fn mov_from_segment_registers_matches_host() {
        let codes: Vec<Vec<u8>> = vec![
            vec![0x8c, 0xd9],       // mov ecx, ds
            vec![0x66, 0x8c, 0xd1], // mov cx, ss
            vec![0x48, 0x8c, 0xc9], // mov rcx, cs
            vec![0x8c, 0xe1],       // mov ecx, fs
            vec![0x8c, 0xe9],       // mov ecx, gs
            vec![0x8c, 0xc1],       // mov ecx, es
            vec![0x8c, 0x17],       // mov [rdi], ss
            vec![0x48, 0x8c, 0x0f], // mov [rdi], cs (still 16 bits)
        ];
        run_all(&codes, 0x8c);
    }

    #[test]
    fn mov_null_to_data_segment_registers_matches_host() {
        // Null selectors (any RPL): loads the host allows at CPL 3 without
        // the emulator needing the host's GDT. FS is left alone natively:
        // the host keeps TLS there.
        let mut rng = Rng::new(0x8e);
        for code in [
            &[0x8e, 0xd9][..],             // mov ds, ecx
            &[0x8e, 0xc1][..],             // mov es, ecx
            &[0x8e, 0xe9][..],             // mov gs, ecx
            &[0x66, 0x8e, 0xd9][..],       // mov ds, cx
            &[0x48, 0x8e, 0xd9][..],       // mov ds, rcx
            &[0x8e, 0x1f][..],             // mov ds, [rdi]
            &[0x8e, 0xd9, 0x8c, 0xda][..], // mov ds, ecx; mov edx, ds
            &[0x8e, 0xe9, 0x8c, 0xea][..], // mov gs, ecx; mov edx, gs
        ] {
            for sel in [0u64, 1, 3] {
                let mut s = mov_state(&mut rng);
                s.set(Gpr::Rcx, (rng.next() << 16) | sel);
                s.put(0x80, 2, sel);
                check(code, &s, ALL_FLAGS);
            }
        }
    }

    /// A CPU running `code` at `cpl` with a GDT: 0x10 kernel data, 0x28
    /// user data, 0x30 user code, 0x38 user data with base 0x12345678,
    /// 0x40 user data not present, 0x48 user read-only data.
    fn cpu_with_gdt(code: &[u8], cpl: u8, rcx: u64) -> crate::Cpu {
        const GDT: u64 = DATA + 0x3000;
        let mut s = mov_state(&mut Rng::new(9));
        s.set(Gpr::Rcx, rcx);
        let descriptors: [(usize, u64); 6] = [
            (2, 0x00cf_9300_0000_ffff),
            (5, 0x00cf_f300_0000_ffff),
            (6, 0x00af_fb00_0000_ffff),
            (7, 0x12cf_f334_5678_ffff),
            (8, 0x00cf_7300_0000_ffff),
            (9, 0x00cf_f100_0000_ffff),
        ];
        for (index, d) in descriptors {
            s.put(0x3000 + index * 8, 8, d);
        }
        let mut cpu = emu_cpu(code, &s, DATA_LEN);
        cpu.core.sys.gdtr = crate::cpu::system_regs::TableReg {
            base: GDT,
            limit: 10 * 8 - 1,
        };
        cpu.core.cpl = cpl;
        cpu
    }

    fn load(code: &[u8], cpl: u8, sel: u64) -> (Exit, crate::Cpu) {
        let mut cpu = cpu_with_gdt(code, cpl, sel);
        let exit = run_to_end(&mut cpu, code);
        (exit, cpu)
    }

    #[test]
    fn segment_loads_check_the_gdt_descriptor() {
        let mov_ds = [0x8e, 0xd9];
        let mov_ss = [0x8e, 0xd1];
        let mov_fs = [0x8e, 0xe1];
        let gp = |sel| Exit::Exception(Exception::GeneralProtection(sel));
        // User data at CPL 3 loads into DS and SS.
        let (exit, cpu) = load(&mov_ds, 3, 0x2b);
        assert_eq!((exit, cpu.core.seg.ds), (Exit::StopAddress, 0x2b));
        let (exit, cpu) = load(&mov_ss, 3, 0x2b);
        assert_eq!((exit, cpu.core.seg.ss), (Exit::StopAddress, 0x2b));
        // Kernel data from CPL 3, RPL 0 into SS at CPL 3, code into SS.
        assert_eq!(load(&mov_ds, 3, 0x10).0, gp(0x10));
        assert_eq!(load(&mov_ss, 3, 0x28).0, gp(0x28));
        assert_eq!(load(&mov_ss, 3, 0x33).0, gp(0x30));
        // Read-only data is fine for DS but not for SS.
        assert_eq!(load(&mov_ds, 3, 0x4b).0, Exit::StopAddress);
        assert_eq!(load(&mov_ss, 3, 0x4b).0, gp(0x48));
        // Readable code may go into DS; beyond the limit, LDT selectors fail.
        assert_eq!(load(&mov_ds, 3, 0x33).0, Exit::StopAddress);
        assert_eq!(load(&mov_ds, 3, 0x53).0, gp(0x50));
        assert_eq!(load(&mov_ds, 3, 0x2f).0, gp(0x2c));
        // Not present: #NP for data registers, #SS for SS.
        assert_eq!(
            load(&mov_ds, 3, 0x43).0,
            Exit::Exception(Exception::SegmentNotPresent(0x40))
        );
        // At CPL 0, kernel data loads into SS, and a null SS is allowed.
        assert_eq!(load(&mov_ss, 0, 0x10).0, Exit::StopAddress);
        assert_eq!(load(&mov_ss, 0, 0).0, Exit::StopAddress);
        // FS takes the descriptor's base.
        let (exit, cpu) = load(&mov_fs, 3, 0x3b);
        assert_eq!((exit, cpu.fs_base()), (Exit::StopAddress, 0x1234_5678));
    }

    #[test]
    fn mov_null_to_ss_at_cpl3_is_general_protection() {
        let code = [0x8e, 0xd1]; // mov ss, ecx
        let mut s = mov_state(&mut Rng::new(1));
        s.set(Gpr::Rcx, 0);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        let exit = run_to_end(&mut cpu, &code);
        assert_eq!(exit, Exit::Exception(Exception::GeneralProtection(0)));
        assert_eq!(cpu.core.seg.ss, 0x2b);
    }

    #[test]
    fn loading_fs_or_gs_clears_the_base_like_the_host() {
        for code in [[0x8e, 0xe1], [0x8e, 0xe9]] {
            let mut s = mov_state(&mut Rng::new(2));
            s.set(Gpr::Rcx, 0);
            let mut cpu = emu_cpu(&code, &s, DATA_LEN);
            cpu.set_fs_base(0x1234_5000);
            cpu.set_gs_base(0x1234_5000);
            assert_eq!(run_to_end(&mut cpu, &code), Exit::StopAddress);
            let (fs, gs) = (cpu.fs_base(), cpu.gs_base());
            assert_eq!(fs.min(gs), 0);
            assert_eq!(fs.max(gs), 0x1234_5000);
        }
    }
}
