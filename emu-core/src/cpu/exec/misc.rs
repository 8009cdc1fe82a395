//! Integer leftovers: sign extension of the accumulator (cbw, cwde, cdqe,
//! cwd, cdq, cqo), stack frames (enter, leave), counted branches (loop,
//! loope, loopne, jrcxz, jecxz), table lookup (xlat), rdtscp, the fences
//! (lfence, sfence, mfence) and the reserved-nop space 0F 18..1F that no
//! hint claims (SDM Vol. 2A/2B for each).

use iced_x86::{Code, Instruction, Mnemonic, OpKind};

use super::branch::canonical;
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};

/// The handler for one of these instructions, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Code::*;
    Some(match i.mnemonic() {
        Mnemonic::Cbw => cbw,
        Mnemonic::Cwde => cwde,
        Mnemonic::Cdqe => cdqe,
        Mnemonic::Cwd => cwd::<2>,
        Mnemonic::Cdq => cwd::<4>,
        Mnemonic::Cqo => cwd::<8>,
        Mnemonic::Enter => match i.code() {
            Enterw_imm16_imm8 => enter::<2>,
            _ => enter::<8>,
        },
        Mnemonic::Leave => match i.code() {
            Leavew => leave::<2>,
            _ => leave::<8>,
        },
        Mnemonic::Loop => match i.code() {
            Loop_rel8_64_ECX | Loop_rel8_16_ECX => counted::<true, LOOP>,
            _ => counted::<false, LOOP>,
        },
        Mnemonic::Loope => match i.code() {
            Loope_rel8_64_ECX | Loope_rel8_16_ECX => counted::<true, LOOPE>,
            _ => counted::<false, LOOPE>,
        },
        Mnemonic::Loopne => match i.code() {
            Loopne_rel8_64_ECX | Loopne_rel8_16_ECX => counted::<true, LOOPNE>,
            _ => counted::<false, LOOPNE>,
        },
        Mnemonic::Jrcxz => jcxz::<false>,
        Mnemonic::Jecxz => jcxz::<true>,
        Mnemonic::Xlatb => xlat,
        Mnemonic::Rdtscp => rdtscp,
        // One CPU executing in program order: memory is always ordered.
        // A reserved nop with a memory operand does not access it.
        Mnemonic::Lfence | Mnemonic::Sfence | Mnemonic::Mfence => nop,
        // 0F 0D is the prefetch group on the host (AMD): its register forms
        // are #UD there, so they stay invalid here.
        Mnemonic::Reservednop if i.op0_kind() == OpKind::Register && is_0f0d(i) => return None,
        Mnemonic::Reservednop => nop,
        _ => return None,
    })
}

/// Whether `i` is one of the reserved nops of opcode 0F 0D.
fn is_0f0d(i: &Instruction) -> bool {
    use Code::*;
    matches!(
        i.code(),
        Reservednop_rm16_r16_0F0D | Reservednop_rm32_r32_0F0D | Reservednop_rm64_r64_0F0D
    )
}

const RAX: usize = 0;
const RCX: usize = 1;
const RDX: usize = 2;
const RSP: usize = 4;
const RBP: usize = 5;

/// AX = sign-extend(AL).
fn cbw(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let v = core.gpr[RAX] as u8 as i8 as u16 as u64;
    core.gpr[RAX] = (core.gpr[RAX] & !0xffff) | v;
    Ok(())
}

/// EAX = sign-extend(AX), zero-extending into RAX.
fn cwde(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    core.gpr[RAX] = core.gpr[RAX] as u16 as i16 as u32 as u64;
    Ok(())
}

/// RAX = sign-extend(EAX).
fn cdqe(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    core.gpr[RAX] = core.gpr[RAX] as u32 as i32 as u64;
    Ok(())
}

/// DX/EDX/RDX = the sign of AX/EAX/RAX replicated (cwd, cdq, cqo).
fn cwd<const BYTES: usize>(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let sign = (core.gpr[RAX] >> (8 * BYTES - 1)) & 1;
    let fill = 0u64.wrapping_sub(sign);
    core.gpr[RDX] = match BYTES {
        2 => (core.gpr[RDX] & !0xffff) | (fill & 0xffff),
        4 => fill & 0xffff_ffff,
        _ => fill,
    };
    Ok(())
}

/// `enter imm16, imm8` with a 64-bit stack (SDM ENTER, "Operation"): push
/// RBP (BP for the 16-bit form); for nesting level L > 0 copy L - 1 frame
/// pointers from below RBP and push the new frame pointer; then RBP =
/// frame pointer (a 16-bit form writes only BP) and RSP -= imm16. The final
/// RSP must be writable ("#PF if a write using the final value of the stack
/// pointer would cause a page fault"); on the host that check comes after
/// the pushes and copies. Faults leave RSP and RBP unchanged.
fn enter<const BYTES: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (rsp, rbp) = (core.gpr[RSP], core.gpr[RBP]);
    let result = enter_steps::<BYTES>(core, i.immediate16() as u64, i.immediate8_2nd() % 32);
    if result.is_err() {
        core.gpr[RSP] = rsp;
        core.gpr[RBP] = rbp;
    }
    result.map_err(Stop::Fault)
}

fn enter_steps<const BYTES: usize>(
    core: &mut Core,
    alloc: u64,
    level: u8,
) -> Result<(), Exception> {
    core.push(core.gpr[RBP], BYTES)?;
    let frame = core.gpr[RSP];
    if level > 0 {
        for _ in 1..level {
            core.gpr[RBP] = core.gpr[RBP].wrapping_sub(BYTES as u64);
            let v = core.read_stack(core.gpr[RBP], BYTES)?;
            core.push(v, BYTES)?;
        }
        core.push(frame, BYTES)?;
    }
    let rsp = core.gpr[RSP].wrapping_sub(alloc);
    core.probe_stack_write(rsp, BYTES as u64)?;
    core.gpr[RBP] = if BYTES == 2 {
        (core.gpr[RBP] & !0xffff) | (frame & 0xffff)
    } else {
        frame
    };
    core.gpr[RSP] = rsp;
    Ok(())
}

/// `leave`: RSP = RBP, then pop RBP (BP for the 16-bit form).
fn leave<const BYTES: usize>(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let frame = core.gpr[RBP];
    let v = core.read_stack(frame, BYTES)?;
    core.gpr[RSP] = frame.wrapping_add(BYTES as u64);
    core.gpr[RBP] = if BYTES == 2 {
        (core.gpr[RBP] & !0xffff) | v
    } else {
        v
    };
    Ok(())
}

const LOOP: u8 = 0;
const LOOPE: u8 = 1;
const LOOPNE: u8 = 2;

/// loop/loope/loopne: decrement RCX (ECX with a 0x67 prefix, which
/// zero-extends into RCX), then branch if the count is not zero (and ZF is
/// 1 for loope, 0 for loopne). Flags are not changed.
fn counted<const ECX: bool, const KIND: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let count = if ECX {
        (core.gpr[RCX] as u32).wrapping_sub(1) as u64
    } else {
        core.gpr[RCX].wrapping_sub(1)
    };
    let taken = count != 0
        && match KIND {
            LOOP => true,
            LOOPE => core.flags.zf(),
            _ => !core.flags.zf(),
        };
    if taken {
        core.rip = canonical(i.near_branch_target())?;
    }
    core.gpr[RCX] = count;
    Ok(())
}

/// jrcxz/jecxz: branch if RCX (ECX) is zero.
fn jcxz<const ECX: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let zero = if ECX {
        core.gpr[RCX] as u32 == 0
    } else {
        core.gpr[RCX] == 0
    };
    if zero {
        core.rip = canonical(i.near_branch_target())?;
    }
    Ok(())
}

/// `xlat`: AL = [seg:RBX + zero-extended AL] (EBX + AL with 0x67). The
/// decoder describes the operand as `[rbx + al]`, so `ea` applies.
fn xlat(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 0)?;
    core.gpr[RAX] = (core.gpr[RAX] & !0xff) | (v & 0xff);
    Ok(())
}

/// `rdtscp`: EDX:EAX = TSC (as rdtsc) and ECX = IA32_TSC_AUX[31:0] (0
/// until the system writes the MSR). CR4.TSD makes it privileged.
fn rdtscp(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    const CR4_TSD: u64 = 1 << 2;
    if core.mmu.cr4() & CR4_TSD != 0 && core.cpl != 0 {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    let tsc = core.tsc();
    core.gpr[RAX] = tsc & 0xffff_ffff;
    core.gpr[RDX] = tsc >> 32;
    core.gpr[RCX] = core.sys.tsc_aux & 0xffff_ffff;
    Ok(())
}

fn nop(_: &mut Core, _: &Instruction) -> Result<(), Stop> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{
        check, emu_cpu, run_to_end, Rng, State, ALL_FLAGS, DATA, DATA_LEN, RSP_INIT, STACK,
    };
    use crate::cpu::{Exit, Gpr};
    use crate::Exception;

    #[test]
    fn accumulator_sign_extensions_match_host() {
        let codes: &[&[u8]] = &[
            &[0x66, 0x98], // cbw
            &[0x98],       // cwde
            &[0x48, 0x98], // cdqe
            &[0x66, 0x99], // cwd
            &[0x99],       // cdq
            &[0x48, 0x99], // cqo
        ];
        let mut rng = Rng::new(0x98);
        for code in codes {
            for _ in 0..64 {
                let mut s = State::random(&mut rng, 0);
                let bits = [8, 16, 32, 64][(rng.next() % 4) as usize];
                let v = rng.edge(bits) | (rng.next() << bits.min(63));
                s.set(Gpr::Rax, v);
                check(code, &s, ALL_FLAGS);
            }
        }
    }

    /// A stack with RBP a little above RSP, so nested levels copy real data.
    fn frame_state(rng: &mut Rng) -> State {
        let mut s = State::random(rng, 0);
        let rbp = RSP_INIT + 0x400 + (rng.next() % 0x100);
        s.set(Gpr::Rbp, rbp);
        s
    }

    #[test]
    fn enter_matches_host_for_sizes_levels_and_allocations() {
        let mut rng = Rng::new(0xc8);
        for level in [0u8, 1, 2, 3, 7, 31, 32, 33, 255] {
            for alloc in [0u16, 8, 0x18, 0xfff8, 0xffff] {
                let [lo, hi] = alloc.to_le_bytes();
                for prefix in [&[][..], &[0x66][..]] {
                    let mut code = prefix.to_vec();
                    code.extend_from_slice(&[0xc8, lo, hi, level]);
                    let s = frame_state(&mut rng);
                    check(&code, &s, ALL_FLAGS);
                }
            }
        }
    }

    #[test]
    fn leave_matches_host_for_both_sizes() {
        let mut rng = Rng::new(0xc9);
        for code in [&[0xc9][..], &[0x66, 0xc9][..]] {
            for _ in 0..32 {
                let s = frame_state(&mut rng);
                check(code, &s, ALL_FLAGS);
            }
        }
    }

    #[test]
    fn enter_leave_pair_restores_rsp_and_rbp() {
        // enter 0x20, 0; leave
        let code = [0xc8, 0x20, 0x00, 0x00, 0xc9];
        let s = frame_state(&mut Rng::new(1));
        let out = check(&code, &s, ALL_FLAGS);
        assert_eq!(out.get(Gpr::Rsp), s.get(Gpr::Rsp));
        assert_eq!(out.get(Gpr::Rbp), s.get(Gpr::Rbp));
    }

    #[test]
    fn enter_faulting_on_a_nested_read_leaves_rsp_and_rbp_unchanged() {
        // enter 0, 3 with RBP at the bottom of the stack area: the copy of
        // the first outer frame pointer reads below it and faults.
        let code = [0xc8, 0x00, 0x00, 0x03];
        let mut s = State::random(&mut Rng::new(2), 0);
        s.set(Gpr::Rbp, STACK + 4);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        let exit = run_to_end(&mut cpu, &code);
        assert!(matches!(exit, Exit::Exception(Exception::PageFault { .. })));
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT);
        assert_eq!(cpu.gpr(Gpr::Rbp), STACK + 4);
    }

    /// `op rel8 = +2; mov al, 1`: AL becomes 1 only if the branch falls through.
    fn branch_over(prefix: &[u8], op: u8) -> Vec<u8> {
        let mut code = prefix.to_vec();
        code.extend_from_slice(&[op, 0x02, 0xb0, 0x01]);
        code
    }

    #[test]
    fn loop_family_matches_host_for_both_address_sizes() {
        let counts = [
            0u64,
            1,
            2,
            0x1_0000_0000,
            0x1_0000_0001,
            0xffff_ffff,
            u64::MAX,
        ];
        let mut rng = Rng::new(0xe2);
        for prefix in [&[][..], &[0x67][..]] {
            for op in [0xe0, 0xe1, 0xe2, 0xe3] {
                for &c in &counts {
                    for zf in [0, crate::cpu::flags::bits::ZF] {
                        let mut s = State::random(&mut rng, zf);
                        s.set(Gpr::Rcx, c);
                        check(&branch_over(prefix, op), &s, ALL_FLAGS);
                    }
                }
            }
        }
    }

    #[test]
    fn xlat_matches_host_with_both_address_sizes_and_a_gs_override() {
        let mut rng = Rng::new(0xd7);
        for code in [&[0xd7][..], &[0x67, 0xd7][..]] {
            for _ in 0..64 {
                let mut s = State::random(&mut rng, 0);
                // RBX's upper half is ignored by the 0x67 form.
                let upper = if code.len() == 2 { rng.next() << 32 } else { 0 };
                s.set(Gpr::Rbx, upper | (DATA + 0x100));
                check(code, &s, ALL_FLAGS);
            }
        }
        // gs: override, emulator only (the host's GS base is not ours to move).
        let code = [0x65, 0xd7];
        let mut s = State::random(&mut rng, 0);
        s.set(Gpr::Rbx, 0x10).set(Gpr::Rax, 0x5);
        s.data[0x15] = 0xa5;
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        cpu.set_gs_base(DATA);
        assert_eq!(run_to_end(&mut cpu, &code), Exit::StopAddress);
        assert_eq!(cpu.gpr(Gpr::Rax), 0xa5);
    }

    #[test]
    fn rdtscp_returns_the_tsc_and_tsc_aux() {
        let code = [0x0f, 0x01, 0xf9];
        let mut s = State::random(&mut Rng::new(3), 0);
        s.set(Gpr::Rcx, u64::MAX);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        cpu.core.sys.tsc_aux = 0xdead_0000_0000_0102;
        let tsc = cpu.tsc();
        assert_eq!(run_to_end(&mut cpu, &code), Exit::StopAddress);
        assert_eq!(cpu.gpr(Gpr::Rax), tsc & 0xffff_ffff);
        assert_eq!(cpu.gpr(Gpr::Rdx), tsc >> 32);
        assert_eq!(cpu.gpr(Gpr::Rcx), 0x102);
    }

    #[test]
    fn fences_and_reserved_nops_match_host() {
        let codes: &[&[u8]] = &[
            &[0x0f, 0xae, 0xe8],                   // lfence
            &[0x0f, 0xae, 0xef],                   // lfence (other modrm)
            &[0x0f, 0xae, 0xf0],                   // mfence
            &[0x0f, 0xae, 0xf8],                   // sfence
            &[0x0f, 0x19, 0xc0],                   // nop eax, eax (reserved)
            &[0x48, 0x0f, 0x1e, 0xd8],             // nop rax, rbx (reserved)
            &[0x0f, 0x1f, 0x04, 0x25, 0, 0, 0, 0], // nop [0] (no access)
            &[0x66, 0x0f, 0x18, 0xc1],             // reserved prefetch-space nop
        ];
        let mut rng = Rng::new(0xae);
        for code in codes {
            for _ in 0..4 {
                let flags = rng.next();
                check(code, &State::random(&mut rng, flags), ALL_FLAGS);
            }
        }
    }

    #[test]
    fn enter_faults_when_the_final_stack_pointer_is_not_writable() {
        // enter 0x2000, 2: pushes and the copied frame pointer are mapped,
        // the final RSP (below the stack area) is not. The host reports
        // the final RSP after the pushes succeed.
        let code = [0xc8, 0x00, 0x20, 0x02];
        let s = frame_state(&mut Rng::new(4));
        let rbp = s.get(Gpr::Rbp);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        let final_rsp = RSP_INIT - 24 - 0x2000;
        assert_eq!(
            run_to_end(&mut cpu, &code),
            Exit::Exception(Exception::PageFault {
                addr: final_rsp,
                error_code: 6
            })
        );
        assert_eq!((cpu.gpr(Gpr::Rsp), cpu.gpr(Gpr::Rbp)), (RSP_INIT, rbp));
    }

    #[test]
    fn leave_with_a_non_canonical_rbp_is_a_stack_fault() {
        let code = [0xc9];
        let mut s = State::random(&mut Rng::new(5), 0);
        s.set(Gpr::Rbp, 0x8000_0000_0000);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        assert_eq!(
            run_to_end(&mut cpu, &code),
            Exit::Exception(Exception::StackFault(0))
        );
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT);
    }
}
