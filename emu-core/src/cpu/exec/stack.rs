//! Stack operations: push and pop of registers, memory, immediates and
//! FS/GS (SDM Vol. 2B, PUSH/POP). In 64-bit mode the operand size is 64
//! bits or, with 0x66, 16 bits; immediates are sign-extended to it.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::mov::{load_segment, selector};
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for a stack instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let gpr_or_mem_or_imm = i.op0_kind() != OpKind::Register || i.op0_register().is_gpr();
    let sreg = i.op0_kind() == OpKind::Register && i.op0_register().is_segment_register();
    Some(match i.mnemonic() {
        Mnemonic::Push if gpr_or_mem_or_imm => push,
        Mnemonic::Pop if gpr_or_mem_or_imm => pop,
        Mnemonic::Push if sreg => push_sreg,
        Mnemonic::Pop if sreg => pop_sreg,
        _ => return None,
    })
}

/// Operand size of `push fs/gs` / `pop fs/gs` in bytes.
#[inline(always)]
fn sreg_size(i: &Instruction) -> usize {
    use iced_x86::Code::*;
    match i.code() {
        Pushw_FS | Pushw_GS | Popw_FS | Popw_GS => 2,
        _ => 8,
    }
}

/// `push fs/gs`: the selector zero-extended to the operand size (the host
/// writes all 8 bytes of the slot).
fn push_sreg(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let sel = selector(core, i.op0_register()) as u64;
    core.push(sel, sreg_size(i))?;
    Ok(())
}

/// `pop fs/gs`: loads the low 16 bits of the popped value; RSP moves only
/// when the load succeeds.
fn pop_sreg(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let bytes = sreg_size(i);
    let v = core.read_stack(core.gpr[4], bytes)?;
    load_segment(core, i.op0_register(), v as u16)?;
    core.gpr[4] = core.gpr[4].wrapping_add(bytes as u64);
    Ok(())
}

/// Operand size of a push/pop in bytes (8, or 2 with a 66 prefix).
#[inline(always)]
fn size(i: &Instruction) -> usize {
    match i.op0_kind() {
        OpKind::Register => i.op0_register().size(),
        OpKind::Memory => i.memory_size().size(),
        OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
        _ => 8,
    }
}

fn push(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.read_op(i, 0)?;
    core.push(v, size(i))?;
    Ok(())
}

fn pop(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let bytes = size(i);
    let v = core.read_stack(core.gpr[4], bytes)?;
    if i.op0_kind() == OpKind::Register {
        core.gpr[4] = core.gpr[4].wrapping_add(bytes as u64);
        core.set_reg(i.op0_register(), v);
    } else {
        // A memory destination is addressed with RSP already incremented
        // (SDM Vol. 2B, POP); restore RSP if the store faults.
        let old = core.gpr[4];
        core.gpr[4] = old.wrapping_add(bytes as u64);
        let addr = core.ea(i);
        if let Err(e) = core.write_sized(addr, bytes, v) {
            core.gpr[4] = old;
            return Err(e.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{
        check, emu_cpu, run_to_end, Rng, State, ALL_FLAGS, DATA, DATA_LEN, RSP_INIT, STACK,
    };
    use crate::cpu::{Exit, Gpr};
    use crate::Exception;

    fn stack_state(rng: &mut Rng) -> State {
        let flags = rng.next();
        let mut s = State::random(rng, flags);
        s.set(Gpr::Rdi, DATA + 0x80);
        s
    }

    #[test]
    fn push_pop_forms_match_host_at_both_operand_sizes() {
        let codes: &[&[u8]] = &[
            &[0x51],                         // push rcx
            &[0x41, 0x57],                   // push r15
            &[0x66, 0x51],                   // push cx
            &[0x54],                         // push rsp
            &[0x66, 0x54],                   // push sp
            &[0x59],                         // pop rcx
            &[0x41, 0x5f],                   // pop r15
            &[0x66, 0x59],                   // pop cx
            &[0x5c],                         // pop rsp
            &[0x66, 0x5c],                   // pop sp
            &[0x6a, 0xff],                   // push -1 (imm8, sign-extended)
            &[0x6a, 0x7f],                   // push 0x7f
            &[0x66, 0x6a, 0x80],             // push word -128
            &[0x68, 0x00, 0x00, 0x00, 0x80], // push imm32 (sign-extended)
            &[0x66, 0x68, 0x34, 0x92],       // push word imm16
            &[0xff, 0x37],                   // push qword [rdi]
            &[0x66, 0xff, 0x37],             // push word [rdi]
            &[0xff, 0x34, 0x24],             // push qword [rsp]
            &[0xff, 0x74, 0x24, 0x08],       // push qword [rsp+8]
            &[0x8f, 0x07],                   // pop qword [rdi]
            &[0x66, 0x8f, 0x07],             // pop word [rdi]
            &[0x8f, 0x04, 0x24],             // pop qword [rsp]
            &[0x8f, 0x44, 0x24, 0x08],       // pop qword [rsp+8]
            &[0x66, 0x8f, 0x44, 0x24, 0xfe], // pop word [rsp-2]
            &[0x0f, 0xa0],                   // push fs
            &[0x0f, 0xa8],                   // push gs
            &[0x66, 0x0f, 0xa0],             // push word fs
            &[0x66, 0x0f, 0xa8],             // push word gs
        ];
        let mut rng = Rng::new(0x50);
        for code in codes {
            for _ in 0..16 {
                check(code, &stack_state(&mut rng), ALL_FLAGS);
            }
        }
    }

    #[test]
    fn pop_gs_matches_host_for_null_selectors() {
        let mut rng = Rng::new(0xa9);
        for code in [&[0x0f, 0xa9][..], &[0x66, 0x0f, 0xa9][..]] {
            for sel in [0u64, 1, 3] {
                let mut s = stack_state(&mut rng);
                let off = (RSP_INIT - STACK) as usize;
                let v = (rng.next() << 16) | sel;
                s.stack[off..off + 8].copy_from_slice(&v.to_le_bytes());
                // pop gs; mov ecx, gs
                let mut c = code.to_vec();
                c.extend_from_slice(&[0x8c, 0xe9]);
                check(&c, &s, ALL_FLAGS);
            }
        }
    }

    #[test]
    fn pop_fs_loads_the_selector_and_clears_the_base() {
        let code = [0x0f, 0xa1];
        let mut s = stack_state(&mut Rng::new(1));
        let off = (RSP_INIT - STACK) as usize;
        s.stack[off..off + 8].copy_from_slice(&0xffff_0000u64.to_le_bytes());
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        cpu.set_fs_base(0x7000_0000);
        assert_eq!(run_to_end(&mut cpu, &code), Exit::StopAddress);
        assert_eq!(cpu.fs_base(), 0);
        assert_eq!(cpu.core.seg.fs, 0);
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT + 8);
    }

    #[test]
    fn pop_to_a_faulting_memory_operand_leaves_rsp_unchanged() {
        let code = [0x8f, 0x07]; // pop qword [rdi]
        let mut s = stack_state(&mut Rng::new(2));
        s.set(Gpr::Rdi, 0x1000);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        let exit = run_to_end(&mut cpu, &code);
        assert!(matches!(exit, Exit::Exception(Exception::PageFault { .. })));
        assert_eq!(cpu.gpr(Gpr::Rsp), RSP_INIT);
    }
}
