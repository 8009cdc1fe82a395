//! Control transfers: near jmp, jcc, call, ret (with imm16), and the far
//! forms jmp m16:xx, call m16:xx and retf.
//!
//! Targets are checked for canonical form before the transfer: a
//! non-canonical target raises #GP(0) at the branch (SDM and AMD APM: "the
//! target offset is non-canonical"), before call pushes anything.
//!
//! In 64-bit mode near branches use 64-bit operands. Only a decoder in AMD
//! mode produces the 16-bit (0x66) forms; for those, call pushes and ret
//! pops 2 bytes and targets are 16-bit (the decoder already truncates
//! relative targets).
//!
//! Far transfers follow the protected-mode checks of SDM JMP/CALL/RET on
//! the GDT code descriptor. This CPU runs only 64-bit code, so a target
//! segment must be a 64-bit code segment (L = 1, D = 0): a compatibility-
//! mode target, and call or task gates, raise #GP(selector) instead of
//! switching modes. `retf` returns to the same or an outer privilege level
//! (popping SS:RSP for the latter); `jmp`/`call` far stay at the CPL.

use iced_x86::{Code, Instruction, Mnemonic, OpKind};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::interrupt::read_descriptor;

/// The handler for a branch instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let near = matches!(
        i.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    );
    let call16 = matches!(i.code(), Code::Call_rel16 | Code::Call_rm16);
    Some(match i.mnemonic() {
        Mnemonic::Jmp if near => jmp_rel,
        Mnemonic::Jmp if i.is_jmp_far_indirect() => far::<false>,
        Mnemonic::Jmp if !i.is_jmp_far() => jmp_indirect,
        Mnemonic::Call if near && call16 => call_rel::<2>,
        Mnemonic::Call if near => call_rel::<8>,
        Mnemonic::Call if i.is_call_far_indirect() => far::<true>,
        Mnemonic::Call if i.is_call_far() => return None,
        Mnemonic::Call if call16 => call_indirect::<2>,
        Mnemonic::Call => call_indirect::<8>,
        Mnemonic::Ret => match i.code() {
            Code::Retnw | Code::Retnw_imm16 => ret::<2>,
            _ => ret::<8>,
        },
        Mnemonic::Retf => match i.code() {
            Code::Retfw | Code::Retfw_imm16 => retf::<2>,
            Code::Retfd | Code::Retfd_imm16 => retf::<4>,
            _ => retf::<8>,
        },
        m if i.is_jcc_short_or_near() && m != Mnemonic::INVALID => jcc,
        _ => return None,
    })
}

/// `target` if it is canonical (48-bit linear addresses), else #GP(0).
#[inline(always)]
pub(super) fn canonical(target: u64) -> Result<u64, Stop> {
    if crate::mmu::is_canonical(target) {
        Ok(target)
    } else {
        Err(Stop::Fault(Exception::GeneralProtection(0)))
    }
}

fn jmp_rel(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    core.rip = canonical(i.near_branch_target())?;
    Ok(())
}

fn jcc(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    if core.flags.cond(i.condition_code()) {
        core.rip = canonical(i.near_branch_target())?;
    }
    Ok(())
}

fn jmp_indirect(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = canonical(core.read_op(i, 0)?)?;
    core.rip = target;
    Ok(())
}

fn call_rel<const BYTES: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = canonical(i.near_branch_target())?;
    let ret = core.rip;
    core.push(ret, BYTES)?;
    core.rip = target;
    Ok(())
}

/// `call r/m`: the target is read (with RSP before the push) first.
fn call_indirect<const BYTES: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = canonical(core.read_op(i, 0)?)?;
    let ret = core.rip;
    core.push(ret, BYTES)?;
    core.rip = target;
    Ok(())
}

/// `ret` / `ret imm16`: pop the target, then release imm16 more bytes.
fn ret<const BYTES: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let target = core.read_stack(core.gpr[4], BYTES)?;
    let target = canonical(target)?;
    let extra = if i.op_count() == 1 {
        i.immediate16() as u64
    } else {
        0
    };
    core.gpr[4] = core.gpr[4].wrapping_add(BYTES as u64).wrapping_add(extra);
    core.rip = target;
    Ok(())
}

/// Fields of a code-segment descriptor that far transfers check.
struct CodeDescriptor {
    conforming: bool,
    dpl: u8,
}

/// #GP(selector) for `sel`.
fn gp_sel(sel: u16) -> Exception {
    Exception::GeneralProtection(u32::from(sel & !3))
}

/// Reads the descriptor of far target `sel`: it must be a present 64-bit
/// code segment (see the module notes); privilege checks are the caller's.
fn code_descriptor(core: &mut Core, sel: u16) -> Result<CodeDescriptor, Exception> {
    if sel & !3 == 0 {
        return Err(Exception::GeneralProtection(0));
    }
    let d = read_descriptor(core, sel)?;
    let bit = |n: u32| d & (1 << n) != 0;
    // S = 1 and code; L = 1, D = 0 (a 64-bit segment).
    if !bit(44) || !bit(43) || !bit(53) || bit(54) {
        return Err(gp_sel(sel));
    }
    let desc = CodeDescriptor {
        conforming: bit(42),
        dpl: ((d >> 45) & 3) as u8,
    };
    Ok(desc)
}

/// #NP(selector) unless descriptor `sel` is present (checked last, as the
/// SDM orders it after the type and privilege checks).
fn require_present(core: &mut Core, sel: u16) -> Result<(), Exception> {
    if read_descriptor(core, sel)? & (1 << 47) == 0 {
        return Err(Exception::SegmentNotPresent(u32::from(sel & !3)));
    }
    Ok(())
}

/// `jmp m16:xx` / `call m16:xx` to a code segment at the current privilege
/// level (conforming: DPL <= CPL; non-conforming: RPL <= CPL and DPL = CPL).
/// CS takes the selector with RPL = CPL; a call pushes CS then the return
/// RIP, each in an operand-size slot.
fn far<const CALL: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let off_bytes = i.memory_size().size() - 2;
    let addr = core.ea(i);
    let offset = core.read_sized(addr, off_bytes)?;
    let sel = core.read_u16(addr.wrapping_add(off_bytes as u64))?;
    let d = code_descriptor(core, sel)?;
    let cpl = core.cpl;
    let allowed = if d.conforming {
        d.dpl <= cpl
    } else {
        (sel & 3) as u8 <= cpl && d.dpl == cpl
    };
    if !allowed {
        return Err(gp_sel(sel).into());
    }
    require_present(core, sel)?;
    let target = canonical(offset)?;
    if CALL {
        let (rsp, cs, ret) = (core.gpr[4], core.seg.cs, core.rip);
        let pushed = core
            .push(u64::from(cs), off_bytes)
            .and_then(|()| core.push(ret, off_bytes));
        if let Err(e) = pushed {
            core.gpr[4] = rsp;
            return Err(e.into());
        }
    }
    core.seg.cs = (sel & !3) | u16::from(cpl);
    core.rip = target;
    Ok(())
}

/// `retf` / `retf imm16` (SDM RET, far return in protected mode): pops RIP
/// and CS (operand-size slots), checks the code descriptor (RPL >= CPL;
/// conforming: DPL <= RPL; else DPL = RPL), releases imm16 bytes, and for a
/// return to an outer level (RPL > CPL) also pops RSP and SS, checks SS,
/// switches the CPL, releases imm16 bytes of the outer stack and nulls data
/// segment registers the new CPL may not use.
fn retf<const BYTES: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let b = BYTES as u64;
    let rsp = core.gpr[4];
    let rip = core.read_stack(rsp, BYTES)?;
    let cs = core.read_stack(rsp.wrapping_add(b), BYTES)? as u16;
    let imm = if i.op_count() == 1 {
        u64::from(i.immediate16())
    } else {
        0
    };
    let d = code_descriptor(core, cs)?;
    let rpl = (cs & 3) as u8;
    let allowed = rpl >= core.cpl
        && if d.conforming {
            d.dpl <= rpl
        } else {
            d.dpl == rpl
        };
    if !allowed {
        return Err(gp_sel(cs).into());
    }
    require_present(core, cs)?;
    let rip = match BYTES {
        2 => rip & 0xffff,
        4 => rip & 0xffff_ffff,
        _ => rip,
    };
    let after = rsp.wrapping_add(2 * b).wrapping_add(imm);
    if rpl == core.cpl {
        let rip = canonical(rip)?;
        core.seg.cs = cs;
        core.rip = rip;
        core.gpr[4] = after;
        return Ok(());
    }
    let new_rsp = core.read_stack(after, BYTES)?;
    let ss = core.read_stack(after.wrapping_add(b), BYTES)? as u16;
    check_return_ss(core, ss, rpl)?;
    let rip = canonical(rip)?;
    core.cpl = rpl;
    core.seg.cs = cs;
    core.seg.ss = ss;
    core.rip = rip;
    let new_rsp = match BYTES {
        2 => (core.gpr[4] & !0xffff) | (new_rsp & 0xffff),
        4 => new_rsp & 0xffff_ffff,
        _ => new_rsp,
    };
    core.gpr[4] = new_rsp.wrapping_add(imm);
    null_inaccessible_data_segments(core);
    Ok(())
}

/// The SS checks of a return to outer level `rpl` in 64-bit mode: a null SS
/// is allowed unless the new CPL is 3; otherwise a present writable data
/// segment with RPL = DPL = `rpl`.
fn check_return_ss(core: &mut Core, ss: u16, rpl: u8) -> Result<(), Exception> {
    if ss & !3 == 0 {
        return if rpl == 3 {
            Err(Exception::GeneralProtection(0))
        } else {
            Ok(())
        };
    }
    let d = read_descriptor(core, ss)?;
    let bit = |n: u32| d & (1 << n) != 0;
    let dpl = ((d >> 45) & 3) as u8;
    if (ss & 3) as u8 != rpl || !bit(44) || bit(43) || !bit(41) || dpl != rpl {
        return Err(gp_sel(ss));
    }
    if !bit(47) {
        return Err(Exception::StackFault(u32::from(ss & !3)));
    }
    Ok(())
}

/// After a return to an outer level: ES, DS, FS and GS holding a data or
/// non-conforming code segment with DPL < CPL become null (the descriptor
/// is re-read from the GDT; the CPU keeps no hidden copy).
fn null_inaccessible_data_segments(core: &mut Core) {
    let cpl = core.cpl;
    for which in 0..4 {
        let sel = match which {
            0 => core.seg.es,
            1 => core.seg.ds,
            2 => core.seg.fs,
            _ => core.seg.gs,
        };
        if sel & !3 == 0 {
            continue;
        }
        let keep = match read_descriptor(core, sel) {
            Ok(d) => {
                let conforming_code = d & (1 << 43) != 0 && d & (1 << 42) != 0;
                conforming_code || ((d >> 45) & 3) as u8 >= cpl
            }
            Err(_) => false,
        };
        if !keep {
            match which {
                0 => core.seg.es = 0,
                1 => core.seg.ds = 0,
                2 => core.seg.fs = 0,
                _ => core.seg.gs = 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{
        check, emu_cpu, run_to_end, snippet_addr, Rng, State, ALL_FLAGS, DATA, DATA_LEN, RSP_INIT,
        STACK,
    };
    use crate::cpu::{Exit, Gpr};
    use crate::Exception;
    use iced_x86::{Decoder, DecoderOptions};

    fn branch_state(rng: &mut Rng) -> State {
        let flags = rng.next();
        let mut s = State::random(rng, flags);
        s.set(Gpr::Rdi, DATA + 0x80);
        s
    }

    #[test]
    fn jcc_matches_host_for_every_condition_and_flag_combination() {
        let mut rng = Rng::new(0x70);
        for cc in 0..16u8 {
            // jcc +2 over `mov al, 1`, in rel8 and rel32 forms.
            let short = [0x70 + cc, 0x02, 0xb0, 0x01];
            let near = [0x0f, 0x80 + cc, 0x02, 0, 0, 0, 0xb0, 0x01];
            for flags in 0..64u64 {
                let f = (flags & 1)
                    | (flags & 2) << 1
                    | (flags & 4) << 2
                    | (flags & 8) << 3
                    | (flags & 16) << 3
                    | (flags & 32) << 6;
                let mut s = branch_state(&mut rng);
                s.rflags = 0x202 | f;
                check(&short, &s, ALL_FLAGS);
                check(&near, &s, ALL_FLAGS);
            }
        }
    }

    #[test]
    fn calls_returns_and_jumps_match_host() {
        let here = snippet_addr();
        // call next; pop rcx
        let call_rel = vec![0xe8, 0, 0, 0, 0, 0x59];
        // call rcx (rcx -> the pop); pop rdx
        let call_reg = vec![0xff, 0xd1, 0x5a];
        // call [rdi] ([rdi] -> the pop); pop rdx
        let call_mem = vec![0xff, 0x17, 0x5a];
        // lea rax, [rip+2]; push rax; ret
        let ret = vec![0x48, 0x8d, 0x05, 0x02, 0, 0, 0, 0x50, 0xc3];
        // lea rax, [rip+4]; push rax; ret 0x18
        let ret_imm = vec![0x48, 0x8d, 0x05, 0x04, 0, 0, 0, 0x50, 0xc2, 0x18, 0x00];
        // jmp rcx over `mov al, 1`; jmp [rdi] likewise; jmp rel32
        let jmp_reg = vec![0xff, 0xe1, 0xb0, 0x01];
        let jmp_mem = vec![0xff, 0x27, 0xb0, 0x01];
        let jmp_rel = vec![0xe9, 0x02, 0, 0, 0, 0xb0, 0x01];
        let mut rng = Rng::new(0xe8);
        for (code, target) in [
            (&call_rel, 0),
            (&call_reg, here + 2),
            (&call_mem, here + 2),
            (&ret, 0),
            (&ret_imm, 0),
            (&jmp_reg, here + 4),
            (&jmp_mem, here + 4),
            (&jmp_rel, 0),
        ] {
            for _ in 0..8 {
                let mut s = branch_state(&mut rng);
                s.set(Gpr::Rcx, target);
                s.put(0x80, 8, target);
                check(code, &s, ALL_FLAGS);
            }
        }
    }

    #[test]
    fn non_canonical_targets_fault_at_the_branch_without_side_effects() {
        let bad = 0x0000_8000_0000_0000u64;
        let cases: [&[u8]; 4] = [
            &[0xff, 0xe1], // jmp rcx
            &[0xff, 0xd1], // call rcx
            &[0xff, 0x17], // call [rdi]
            &[0xc3],       // ret
        ];
        for code in cases {
            let mut s = branch_state(&mut Rng::new(3));
            s.set(Gpr::Rcx, bad);
            s.put(0x80, 8, bad);
            let off = (RSP_INIT - STACK) as usize;
            s.stack[off..off + 8].copy_from_slice(&bad.to_le_bytes());
            let mut cpu = emu_cpu(code, &s, DATA_LEN);
            let exit = run_to_end(&mut cpu, code);
            assert_eq!(exit, Exit::Exception(Exception::GeneralProtection(0)));
            assert_eq!(cpu.rip(), snippet_addr());
            assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT);
        }
    }

    /// Runs the handler for `bytes` decoded in AMD mode (where 0x66 gives
    /// 16-bit near branches) directly on the core.
    fn run_amd(
        cpu: &mut crate::Cpu,
        bytes: &[u8],
        ip: u64,
    ) -> Result<(), crate::cpu::exception::Stop> {
        let insn = Decoder::with_ip(64, bytes, ip, DecoderOptions::AMD).decode();
        let handler = super::resolve(&insn).expect("a branch");
        cpu.core.rip = insn.next_ip();
        handler(&mut cpu.core, &insn)
    }

    #[test]
    fn sixteen_bit_call_and_ret_move_two_bytes_of_stack() {
        let s = branch_state(&mut Rng::new(4));
        let mut cpu = emu_cpu(&[], &s, DATA_LEN);
        let ip = 0x1_2340;
        // call rel16 +0x10 (66 e8 10 00): pushes the 16-bit return address.
        run_amd(&mut cpu, &[0x66, 0xe8, 0x10, 0x00], ip).unwrap();
        assert_eq!(cpu.rip(), (ip + 4 + 0x10) & 0xffff);
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT - 2);
        let mut w = [0u8; 2];
        cpu.read_virt(RSP_INIT - 2, &mut w).unwrap();
        assert_eq!(u16::from_le_bytes(w) as u64, (ip + 4) & 0xffff);
        // ret (66 c3): pops it back.
        run_amd(&mut cpu, &[0x66, 0xc3], 0x2000).unwrap();
        assert_eq!(cpu.rip(), (ip + 4) & 0xffff);
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT);
    }
}

#[cfg(test)]
mod far_tests {
    use super::super::int_b_testutil::{
        emu_cpu, run_to_end, snippet_addr, Rng, State, DATA, DATA_LEN, RSP_INIT, STACK,
    };
    use crate::cpu::system_regs::TableReg;
    use crate::cpu::{Exit, Gpr};
    use crate::{Cpu, Exception};

    const GDT: u64 = DATA + 0x3000;

    /// 0x08 kernel code, 0x10 kernel data, 0x18 32-bit user code, 0x28
    /// user data, 0x30 user code, 0x38 user code not present, 0x40
    /// conforming kernel code.
    fn cpu_with_gdt(code: &[u8], cpl: u8, stack: &[u64], mem: &[u64]) -> Cpu {
        let mut s = State::random(&mut Rng::new(11), 0);
        for (k, v) in stack.iter().enumerate() {
            let off = (RSP_INIT - STACK) as usize + 8 * k;
            s.stack[off..off + 8].copy_from_slice(&v.to_le_bytes());
        }
        for (k, v) in mem.iter().enumerate() {
            s.put(0x100 + 8 * k, 8, *v);
        }
        s.set(Gpr::Rdi, DATA + 0x100);
        let gdt: [(usize, u64); 7] = [
            (1, 0x00af_9b00_0000_ffff),
            (2, 0x00cf_9300_0000_ffff),
            (3, 0x00cf_fb00_0000_ffff),
            (5, 0x00cf_f300_0000_ffff),
            (6, 0x00af_fb00_0000_ffff),
            (7, 0x00af_7b00_0000_ffff),
            (8, 0x00af_9f00_0000_ffff),
        ];
        for (index, d) in gdt {
            s.put(0x3000 + index * 8, 8, d);
        }
        let mut cpu = emu_cpu(code, &s, DATA_LEN);
        cpu.core.sys.gdtr = TableReg {
            base: GDT,
            limit: 9 * 8 - 1,
        };
        cpu.core.cpl = cpl;
        cpu.core.seg.cs = if cpl == 0 { 0x08 } else { 0x33 };
        cpu.core.seg.ss = if cpl == 0 { 0x10 } else { 0x2b };
        cpu
    }

    /// Runs one instruction; returns its exit (`InstructionLimit` = retired).
    fn step(cpu: &mut Cpu) -> Exit {
        cpu.run(crate::RunLimit {
            max_instructions: 1,
            stop_at: None,
        })
    }

    #[test]
    fn retfq_to_the_same_level_pops_rip_and_cs_and_releases_imm16() {
        let target = DATA + 0x40;
        let mut cpu = cpu_with_gdt(&[0x48, 0xcb], 3, &[target, 0x33], &[]);
        assert_eq!(step(&mut cpu), Exit::InstructionLimit);
        assert_eq!((cpu.rip(), cpu.core.seg.cs), (target, 0x33));
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT + 16);
        // retfq 0x20
        let mut cpu = cpu_with_gdt(&[0x48, 0xca, 0x20, 0x00], 3, &[target, 0x33], &[]);
        assert_eq!(step(&mut cpu), Exit::InstructionLimit);
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT + 16 + 0x20);
        // retf (32-bit operand size): EIP and CS in 4-byte slots.
        let slot = (0x33u64 << 32) | (target & 0xffff_ffff);
        let mut cpu = cpu_with_gdt(&[0xcb], 3, &[slot], &[]);
        assert_eq!(step(&mut cpu), Exit::InstructionLimit);
        assert_eq!((cpu.rip(), cpu.gpr(Gpr::Rsp)), (target, RSP_INIT + 8));
    }

    #[test]
    fn retfq_to_an_outer_level_switches_stack_and_cpl_and_nulls_kernel_data() {
        let (target, user_rsp) = (DATA + 0x40, 0x7000_0000);
        let mut cpu = cpu_with_gdt(&[0x48, 0xcb], 0, &[target, 0x33, user_rsp, 0x2b], &[]);
        cpu.core.seg.ds = 0x10;
        cpu.core.seg.es = 0x2b;
        assert_eq!(step(&mut cpu), Exit::InstructionLimit);
        assert_eq!(cpu.core.cpl, 3);
        assert_eq!((cpu.core.seg.cs, cpu.core.seg.ss), (0x33, 0x2b));
        assert_eq!((cpu.rip(), cpu.gpr(Gpr::Rsp)), (target, user_rsp));
        assert_eq!((cpu.core.seg.ds, cpu.core.seg.es), (0, 0x2b));
    }

    #[test]
    fn retfq_checks_the_code_descriptor() {
        let t = DATA + 0x40;
        let gp = |sel| Exit::Exception(Exception::GeneralProtection(sel));
        let cases: [(u8, u64, Exit); 5] = [
            (3, 0x1b, gp(0x18)), // 32-bit code: compatibility mode not modelled
            (3, 0x08, gp(0x08)), // RPL < CPL
            (3, 0x2b, gp(0x28)), // data segment
            (3, 0x3b, Exit::Exception(Exception::SegmentNotPresent(0x38))),
            (3, 0x00, gp(0)), // null
        ];
        for (cpl, cs, exit) in cases {
            let mut cpu = cpu_with_gdt(&[0x48, 0xcb], cpl, &[t, cs], &[]);
            assert_eq!(step(&mut cpu), exit, "cs {cs:#x}");
            assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT);
            assert_eq!(cpu.rip(), snippet_addr());
        }
    }

    #[test]
    fn far_jmp_and_call_through_memory_load_cs_at_the_current_level() {
        let t = DATA + 0x40;
        // jmp far [rdi] (m16:64)
        let mut cpu = cpu_with_gdt(&[0x48, 0xff, 0x2f], 3, &[], &[t, 0x33]);
        assert_eq!(step(&mut cpu), Exit::InstructionLimit);
        assert_eq!((cpu.rip(), cpu.core.seg.cs), (t, 0x33));
        // call far [rdi] (m16:64): pushes CS, then the return RIP.
        let code = [0x48, 0xff, 0x1f];
        let mut cpu = cpu_with_gdt(&code, 3, &[], &[t, 0x33]);
        assert_eq!(step(&mut cpu), Exit::InstructionLimit);
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT - 16);
        let mut b = [0u8; 16];
        cpu.read_virt(RSP_INIT - 16, &mut b).unwrap();
        let ret = u64::from_le_bytes(b[..8].try_into().unwrap());
        let cs = u64::from_le_bytes(b[8..].try_into().unwrap());
        assert_eq!((ret, cs), (snippet_addr() + 3, 0x33));
        // Kernel code from CPL 3: #GP; conforming kernel code: allowed, RPL = CPL.
        let mut cpu = cpu_with_gdt(&[0x48, 0xff, 0x2f], 3, &[], &[t, 0x08]);
        assert_eq!(
            step(&mut cpu),
            Exit::Exception(Exception::GeneralProtection(0x08))
        );
        let mut cpu = cpu_with_gdt(&[0x48, 0xff, 0x2f], 3, &[], &[t, 0x40]);
        assert_eq!(step(&mut cpu), Exit::InstructionLimit);
        assert_eq!(cpu.core.seg.cs, 0x43);
    }

    #[test]
    fn push_lea_push_retfq_reloads_cs_in_the_kernel() {
        // push 8; lea rax, [rip+3]; push rax; retfq; (target)
        let code = [
            0x6a, 0x08, 0x48, 0x8d, 0x05, 0x03, 0, 0, 0, 0x50, 0x48, 0xcb,
        ];
        let mut cpu = cpu_with_gdt(&code, 0, &[], &[]);
        cpu.core.seg.cs = 0x10; // anything: the retfq reloads it
        assert_eq!(run_to_end(&mut cpu, &code), Exit::StopAddress);
        assert_eq!(cpu.core.seg.cs, 0x08);
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT);
    }

    #[test]
    fn without_a_gdt_far_returns_fault() {
        let s = State::random(&mut Rng::new(12), 0);
        let mut cpu = emu_cpu(&[0x48, 0xcb], &s, DATA_LEN);
        let mut slot = [0u8; 16];
        slot[8] = 0x33;
        cpu.write_virt(RSP_INIT, &slot).unwrap();
        assert_eq!(
            run_to_end(&mut cpu, &[0x48, 0xcb]),
            Exit::Exception(Exception::GeneralProtection(0x30))
        );
    }
}
