//! Near control transfers: jmp, jcc, call, ret (with imm16).
//!
//! Targets are checked for canonical form before the transfer: a
//! non-canonical target raises #GP(0) at the branch (SDM and AMD APM: "the
//! target offset is non-canonical"), before call pushes anything.
//!
//! In 64-bit mode near branches use 64-bit operands. Only a decoder in AMD
//! mode produces the 16-bit (0x66) forms; for those, call pushes and ret
//! pops 2 bytes and targets are 16-bit (the decoder already truncates
//! relative targets).

use iced_x86::{Code, Instruction, Mnemonic, OpKind};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};

/// The handler for a branch instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let near = matches!(
        i.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    );
    let call16 = matches!(i.code(), Code::Call_rel16 | Code::Call_rm16);
    Some(match i.mnemonic() {
        Mnemonic::Jmp if near => jmp_rel,
        Mnemonic::Jmp if !i.is_jmp_far_indirect() && !i.is_jmp_far() => jmp_indirect,
        Mnemonic::Call if near && call16 => call_rel::<2>,
        Mnemonic::Call if near => call_rel::<8>,
        Mnemonic::Call if i.is_call_far_indirect() || i.is_call_far() => return None,
        Mnemonic::Call if call16 => call_indirect::<2>,
        Mnemonic::Call => call_indirect::<8>,
        Mnemonic::Ret => match i.code() {
            Code::Retnw | Code::Retnw_imm16 => ret::<2>,
            _ => ret::<8>,
        },
        m if i.is_jcc_short_or_near() && m != Mnemonic::INVALID => jcc,
        _ => return None,
    })
}

/// `target` if it is canonical (48-bit linear addresses), else #GP(0).
#[inline(always)]
pub(super) fn canonical(target: u64) -> Result<u64, Stop> {
    if ((target as i64) << 16 >> 16) as u64 == target {
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
