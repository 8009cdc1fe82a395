//! Flag instructions: lahf, sahf, pushf/pushfq, popf/popfq, clc, stc, cmc,
//! cld, std, cli, sti (SDM Vol. 2A/2B for each; the POPF table of
//! "Operation" decides which bits a pop may change).
//!
//! `sti` that sets IF opens the one-instruction interrupt shadow
//! (`SystemRegs::shadow_until`). Not modelled: the single-step trap after a
//! popf that sets TF.

use iced_x86::{Instruction, Mnemonic};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::flags::bits;

/// CR4.PVI: protected-mode virtual interrupts (cli/sti at CPL 3 change VIF).
const CR4_PVI: u64 = 1 << 1;

/// The handler for a flag instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.mnemonic() {
        Mnemonic::Lahf => lahf,
        Mnemonic::Sahf => sahf,
        Mnemonic::Pushf => pushf::<2>,
        Mnemonic::Pushfq => pushf::<8>,
        Mnemonic::Popf => popf::<2>,
        Mnemonic::Popfq => popf::<8>,
        Mnemonic::Clc => clc,
        Mnemonic::Stc => stc,
        Mnemonic::Cmc => cmc,
        Mnemonic::Cld => cld,
        Mnemonic::Std => std_,
        Mnemonic::Cli => cli_sti::<false>,
        Mnemonic::Sti => cli_sti::<true>,
        _ => return None,
    })
}

/// The flags lahf/sahf move: SF, ZF, AF, PF, CF.
const LAHF_MASK: u64 = bits::SF | bits::ZF | bits::AF | bits::PF | bits::CF;

/// AH = SF:ZF:0:AF:0:PF:1:CF.
fn lahf(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let ah = (core.flags.arith_bits() & LAHF_MASK) | bits::FIXED;
    core.gpr[0] = (core.gpr[0] & !0xff00) | (ah << 8);
    Ok(())
}

/// SF, ZF, AF, PF, CF = AH bits 7, 6, 4, 2, 0; OF unchanged.
fn sahf(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let ah = (core.gpr[0] >> 8) & 0xff;
    core.flags.set_arith(LAHF_MASK, ah);
    Ok(())
}

/// Pushes RFLAGS (8 bytes) or FLAGS (2 bytes); the image has VM and RF clear.
fn pushf<const BYTES: usize>(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let image = core.flags.rflags() & !(bits::VM | bits::RF);
    core.push(image, BYTES)?;
    Ok(())
}

/// The current IOPL.
#[inline(always)]
fn iopl(core: &Core) -> u8 {
    ((core.flags.rflags() & bits::IOPL) >> 12) as u8
}

/// Pops RFLAGS (8 bytes) or FLAGS (2 bytes). In 64-bit mode (SDM POPF):
/// IOPL changes only at CPL 0, IF only when CPL <= IOPL; VIP, VIF, VM and
/// the reserved bits never change; a 64-bit pop clears RF, a 16-bit pop
/// replaces bits 15:0 only.
fn popf<const BYTES: usize>(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let popped = core.pop(BYTES)?;
    let old = core.flags.rflags();
    let mut writable = bits::ARITH | bits::TF | bits::DF | bits::NT | bits::AC | bits::ID;
    if core.cpl == 0 {
        writable |= bits::IOPL | bits::IF;
    } else if core.cpl <= iopl(core) {
        writable |= bits::IF;
    }
    let mut new;
    if BYTES == 2 {
        writable &= 0xffff;
        new = (old & !writable) | (popped & writable);
    } else {
        new = (old & !writable) | (popped & writable);
        new &= !bits::RF;
    }
    let enabled = new & bits::IF != 0 && old & bits::IF == 0;
    core.flags.set_rflags(new);
    core.sync_ac();
    if enabled {
        // Interrupts may be due now: let the run loop re-check.
        core.end_block = true;
    }
    Ok(())
}

fn clc(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    core.flags.set_arith(bits::CF, 0);
    Ok(())
}

fn stc(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    core.flags.set_arith(bits::CF, bits::CF);
    Ok(())
}

fn cmc(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    let cf = core.flags.cf();
    core.flags
        .set_arith(bits::CF, if cf { 0 } else { bits::CF });
    Ok(())
}

fn cld(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    core.flags.set_bit(bits::DF, false);
    Ok(())
}

fn std_(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    core.flags.set_bit(bits::DF, true);
    Ok(())
}

/// cli/sti in protected mode (SDM CLI/STI): IF changes when CPL <= IOPL;
/// otherwise, at CPL 3 with CR4.PVI, VIF changes; otherwise #GP(0). An sti
/// that sets IF delays interrupts until after the next instruction.
fn cli_sti<const SET: bool>(core: &mut Core, _: &Instruction) -> Result<(), Stop> {
    if core.cpl <= iopl(core) {
        if SET && !core.flags.bit(bits::IF) {
            core.sys.shadow_until = core.icount + 2;
            // Interrupts may be due after the shadow: let the run loop re-check.
            core.end_block = true;
        }
        core.flags.set_bit(bits::IF, SET);
    } else if core.cpl == 3 && core.mmu.cr4() & CR4_PVI != 0 {
        // sti with VIP set faults instead of setting VIF.
        if SET && core.flags.bit(bits::VIP) {
            return Err(Stop::Fault(Exception::GeneralProtection(0)));
        }
        core.flags.set_bit(bits::VIF, SET);
    } else {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{
        check, emu_cpu, run_to_end, Rng, State, ALL_FLAGS, DATA_LEN, RSP_INIT, STACK,
    };
    use crate::cpu::flags::bits;
    use crate::cpu::{Exit, Gpr};
    use crate::Exception;

    /// Writes `v` at the default RSP.
    fn put_stack(s: &mut State, v: u64) {
        let off = (RSP_INIT - STACK) as usize;
        s.stack[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn lahf_sahf_and_carry_ops_match_host() {
        let codes: &[&[u8]] = &[
            &[0x9f],       // lahf
            &[0x9e],       // sahf
            &[0xf8],       // clc
            &[0xf9],       // stc
            &[0xf5],       // cmc
            &[0xfc],       // cld
            &[0xfd],       // std
            &[0xfd, 0x9f], // std; lahf
        ];
        let mut rng = Rng::new(0x1af);
        for code in codes {
            for _ in 0..128 {
                let flags = rng.next();
                let mut s = State::random(&mut rng, flags);
                if rng.next() & 1 == 0 {
                    s.rflags |= bits::DF;
                }
                check(code, &s, ALL_FLAGS);
            }
        }
    }

    #[test]
    fn lahf_after_lazy_arithmetic_matches_host() {
        // add/sub/inc at several widths, then lahf: AH must hold the lazily
        // computed flags.
        let codes: &[&[u8]] = &[
            &[0x00, 0xd8, 0x9f],       // add al, bl; lahf
            &[0x66, 0x29, 0xd8, 0x9f], // sub ax, bx; lahf
            &[0x48, 0xff, 0xc3, 0x9f], // inc rbx; lahf
            &[0x48, 0x19, 0xd9, 0x9f], // sbb rcx, rbx; lahf
        ];
        let mut rng = Rng::new(0x1a2);
        for code in codes {
            for _ in 0..128 {
                let flags = rng.next();
                let mut s = State::random(&mut rng, flags);
                s.set(Gpr::Rbx, rng.edge(64)).set(Gpr::Rax, rng.edge(64));
                check(code, &s, ALL_FLAGS);
            }
        }
    }

    #[test]
    fn pushf_matches_host_for_both_sizes() {
        let mut rng = Rng::new(0x9c);
        for code in [&[0x9c][..], &[0x66, 0x9c][..]] {
            for _ in 0..64 {
                let flags = rng.next();
                let mut s = State::random(&mut rng, flags);
                s.rflags |= rng.next() & (bits::DF | bits::AC | bits::ID | bits::NT);
                check(code, &s, ALL_FLAGS);
            }
        }
    }

    #[test]
    fn popf_at_cpl3_matches_host_for_random_images() {
        // Every bit but TF (a native single-step trap would kill the test).
        let mut rng = Rng::new(0x9d);
        for code in [&[0x9d][..], &[0x66, 0x9d][..]] {
            for _ in 0..256 {
                let mut s = State::random(&mut rng, 0);
                put_stack(&mut s, rng.next() & !bits::TF);
                s.rflags |= rng.next() & (bits::DF | bits::AC | bits::ID | bits::NT);
                check(code, &s, ALL_FLAGS);
            }
        }
    }

    /// Runs `code` in the emulator at `cpl` with RFLAGS = `rflags` and
    /// `image` at the top of the stack.
    fn emu_popf(code: &[u8], cpl: u8, rflags: u64, image: u64) -> (Exit, u64) {
        let mut s = State::random(&mut Rng::new(5), 0);
        s.rflags = rflags;
        put_stack(&mut s, image);
        let mut cpu = emu_cpu(code, &s, DATA_LEN);
        cpu.core.cpl = cpl;
        let exit = run_to_end(&mut cpu, code);
        (exit, cpu.rflags())
    }

    #[test]
    fn popfq_at_cpl0_changes_iopl_and_if_but_not_vm_vif_vip_rf() {
        let image = bits::IOPL | bits::VM | bits::VIF | bits::VIP | bits::RF | bits::CF;
        let (exit, f) = emu_popf(&[0x9d], 0, 0x202 | bits::RF, image);
        assert_eq!(exit, Exit::StopAddress);
        assert_eq!(f, 0x2 | bits::IOPL | bits::CF);
    }

    #[test]
    fn popfq_at_cpl3_with_iopl3_changes_if_but_not_iopl() {
        let (_, f) = emu_popf(&[0x9d], 3, 0x202 | bits::IOPL, 0);
        assert_eq!(f, 0x2 | bits::IOPL);
        let (_, f) = emu_popf(&[0x9d], 3, 0x202, bits::IOPL);
        assert_eq!(f, 0x202);
    }

    #[test]
    fn popfw_replaces_only_the_low_16_bits() {
        let (_, f) = emu_popf(
            &[0x66, 0x9d],
            0,
            0x202 | bits::AC | bits::RF,
            0xffff_0000 | 0x3000,
        );
        assert_eq!(f, 0x2 | bits::AC | bits::RF | bits::IOPL);
    }

    #[test]
    fn cli_sti_at_cpl3_with_iopl0_raise_general_protection() {
        for code in [[0xfa], [0xfb]] {
            let (exit, f) = emu_popf(&code, 3, 0x202, 0);
            assert_eq!(exit, Exit::Exception(Exception::GeneralProtection(0)));
            assert_eq!(f, 0x202);
        }
    }

    #[test]
    fn cli_sti_change_if_at_cpl0_and_when_iopl_allows() {
        assert_eq!(emu_popf(&[0xfa], 0, 0x202, 0).1, 0x2);
        assert_eq!(emu_popf(&[0xfb], 0, 0x2, 0).1, 0x202);
        assert_eq!(
            emu_popf(&[0xfa], 3, 0x202 | bits::IOPL, 0).1,
            0x2 | bits::IOPL
        );
    }

    #[test]
    fn sti_setting_if_opens_a_one_instruction_interrupt_shadow() {
        let mut s = State::random(&mut Rng::new(7), 0);
        s.rflags = 0x2;
        let mut cpu = emu_cpu(&[0xfb], &s, DATA_LEN);
        cpu.core.cpl = 0;
        let before = cpu.instructions_retired();
        assert_eq!(run_to_end(&mut cpu, &[0xfb]), Exit::StopAddress);
        assert_eq!(cpu.core.sys.shadow_until, before + 2);
    }

    #[test]
    fn popf_with_a_non_canonical_rsp_is_a_stack_fault() {
        let mut s = State::random(&mut Rng::new(8), 0);
        s.set(Gpr::Rsp, 0x8000_0000_0000);
        let mut cpu = emu_cpu(&[0x9d], &s, DATA_LEN);
        let exit = run_to_end(&mut cpu, &[0x9d]);
        assert_eq!(exit, Exit::Exception(Exception::StackFault(0)));
    }

    #[test]
    fn popf_that_faults_on_the_stack_changes_nothing() {
        let code = [0x9d];
        let mut s = State::random(&mut Rng::new(6), bits::CF);
        s.set(Gpr::Rsp, 0x1000);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        let exit = run_to_end(&mut cpu, &code);
        assert!(matches!(exit, Exit::Exception(Exception::PageFault { .. })));
        assert_eq!(cpu.gpr(Gpr::Rsp), 0x1000);
        assert_eq!(cpu.rflags(), s.rflags);
    }
}
