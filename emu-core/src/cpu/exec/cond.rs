//! Conditional moves and sets: cmovcc, setcc (SDM Vol. 2A, CMOVcc; Vol. 2B,
//! SETcc). Conditions come from [`crate::cpu::flags::Flags::cond`].

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

/// The handler for cmovcc or setcc, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match i.mnemonic() {
        Cmovo | Cmovno | Cmovb | Cmovae | Cmove | Cmovne | Cmovbe | Cmova | Cmovs | Cmovns
        | Cmovp | Cmovnp | Cmovl | Cmovge | Cmovle | Cmovg => {
            if i.op1_kind() == OpKind::Register {
                cmov_rr
            } else {
                cmov_rm
            }
        }
        Seto | Setno | Setb | Setae | Sete | Setne | Setbe | Seta | Sets | Setns | Setp | Setnp
        | Setl | Setge | Setle | Setg => setcc,
        _ => return None,
    })
}

/// Writes the cmov result: the source when the condition holds; otherwise
/// the destination keeps its value, except that a 32-bit destination is
/// still written and so zero-extended (SDM: "In 64-bit mode, CMOVcc with a
/// 32-bit operand size will clear the upper 32 bits of the destination
/// register even if the condition is false").
#[inline(always)]
fn cmov_write(core: &mut Core, i: &Instruction, src: u64) {
    let dst = i.op0_register();
    if core.flags.cond(i.condition_code()) {
        core.set_reg(dst, src);
    } else if dst.size() == 4 {
        let v = core.reg(dst);
        core.set_reg(dst, v);
    }
}

fn cmov_rr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let src = core.reg(i.op1_register());
    cmov_write(core, i, src);
    Ok(())
}

/// Memory source: read (and possibly fault) whatever the condition.
fn cmov_rm(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let src = core.read_op(i, 1)?;
    cmov_write(core, i, src);
    Ok(())
}

fn setcc(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let v = core.flags.cond(i.condition_code()) as u64;
    core.write_op(i, 0, v)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{check, emu_cpu, run_to_end, Rng, State, DATA, DATA_LEN};
    use crate::cpu::flags::bits;
    use crate::cpu::{Exit, Gpr};
    use crate::Exception;

    /// The six arithmetic flags' 64 combinations.
    fn flag_combos() -> impl Iterator<Item = u64> {
        (0..64u64).map(|n| {
            let mut f = 0;
            for (k, b) in [bits::CF, bits::PF, bits::AF, bits::ZF, bits::SF, bits::OF]
                .iter()
                .enumerate()
            {
                if n >> k & 1 != 0 {
                    f |= b;
                }
            }
            f
        })
    }

    /// `[66|REX.W] 0f 40+cc modrm` for each width: reg form (dest r8/rax,
    /// src rcx/r9) and memory form (`[rdi]`).
    fn cmov_encodings(cc: u8) -> Vec<Vec<u8>> {
        let op = 0x40 + cc;
        vec![
            vec![0x0f, op, 0xc1],       // cmovcc eax, ecx
            vec![0x66, 0x0f, op, 0xc1], // cmovcc ax, cx
            vec![0x48, 0x0f, op, 0xc1], // cmovcc rax, rcx
            vec![0x4d, 0x0f, op, 0xc1], // cmovcc r8, r9
            vec![0x45, 0x0f, op, 0xc1], // cmovcc r8d, r9d
            vec![0x0f, op, 0x07],       // cmovcc eax, [rdi]
            vec![0x66, 0x0f, op, 0x07], // cmovcc ax, [rdi]
            vec![0x48, 0x0f, op, 0x07], // cmovcc rax, [rdi]
            vec![0x0f, op, 0x47, 0x7f], // cmovcc eax, [rdi+0x7f] (unaligned)
        ]
    }

    #[test]
    fn cmovcc_matches_host_for_every_condition_width_and_flag_combination() {
        let mut rng = Rng::new(0xc0c0);
        for cc in 0..16u8 {
            for code in cmov_encodings(cc) {
                for f in flag_combos() {
                    let mut s = State::random(&mut rng, f);
                    s.set(Gpr::Rdi, DATA + 0x100);
                    check(&code, &s, !0);
                }
            }
        }
    }

    #[test]
    fn setcc_matches_host_for_every_condition_and_flag_combination() {
        let mut rng = Rng::new(0x5e7c);
        for cc in 0..16u8 {
            let op = 0x90 + cc;
            let codes: [&[u8]; 5] = [
                &[0x0f, op, 0xc0],       // setcc al
                &[0x0f, op, 0xc4],       // setcc ah
                &[0x40, 0x0f, op, 0xc6], // setcc sil
                &[0x41, 0x0f, op, 0xc1], // setcc r9b
                &[0x0f, op, 0x07],       // setcc [rdi]
            ];
            for code in codes {
                for f in flag_combos() {
                    let mut s = State::random(&mut rng, f);
                    s.set(Gpr::Rdi, DATA + 0x333);
                    check(code, &s, !0);
                }
            }
        }
    }

    #[test]
    fn cmov_with_false_condition_still_faults_on_an_unmapped_source() {
        // cmovz eax, [rdi] with ZF = 0 and [rdi] in an unmapped page.
        let code = [0x0f, 0x44, 0x07];
        let mut s = State::random(&mut Rng::new(1), 0);
        s.set(Gpr::Rdi, DATA + 0x1000).set(Gpr::Rax, u64::MAX);
        let mut cpu = emu_cpu(&code, &s, 0x1000);
        let exit = run_to_end(&mut cpu, &code);
        assert_eq!(
            exit,
            Exit::Exception(Exception::PageFault {
                addr: DATA + 0x1000,
                error_code: 4
            })
        );
        assert_eq!(cpu.gpr(Gpr::Rax), u64::MAX);
    }

    #[test]
    fn setcc_to_read_only_memory_faults_and_changes_nothing() {
        let code = [0x0f, 0x94, 0x07]; // sete [rdi]
        let mut s = State::random(&mut Rng::new(2), bits::ZF);
        s.set(Gpr::Rdi, DATA);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        cpu.map(DATA, 0x1000, crate::Prot::R).unwrap();
        let exit = run_to_end(&mut cpu, &code);
        assert_eq!(
            exit,
            Exit::Exception(Exception::PageFault {
                addr: DATA,
                error_code: 7
            })
        );
        let mut b = [0u8; 1];
        cpu.read_virt(DATA, &mut b).unwrap();
        assert_eq!(b[0], s.data[0]);
    }
}
