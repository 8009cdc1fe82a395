//! Integer arithmetic and logic: add adc sub sbb and or xor cmp test inc dec
//! neg not (SDM Vol. 2; flags per each instruction's "Flags Affected").

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{mask, width0, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;

pub(super) const ADD: u8 = 0;
pub(super) const OR: u8 = 1;
pub(super) const ADC: u8 = 2;
pub(super) const SBB: u8 = 3;
pub(super) const AND: u8 = 4;
pub(super) const SUB: u8 = 5;
pub(super) const XOR: u8 = 6;
pub(super) const CMP: u8 = 7;
pub(super) const TEST: u8 = 8;

/// The handler for an ALU instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.mnemonic() {
        Mnemonic::Add => binary::<ADD>,
        Mnemonic::Or => binary::<OR>,
        Mnemonic::Adc => binary::<ADC>,
        Mnemonic::Sbb => binary::<SBB>,
        Mnemonic::And => binary::<AND>,
        Mnemonic::Sub => binary::<SUB>,
        Mnemonic::Xor => binary::<XOR>,
        Mnemonic::Cmp => binary::<CMP>,
        Mnemonic::Test => binary::<TEST>,
        Mnemonic::Inc => inc_dec::<true>,
        Mnemonic::Dec => inc_dec::<false>,
        Mnemonic::Neg => neg,
        Mnemonic::Not => not,
        _ => return None,
    })
}

/// Computes `a OP b` and records the flags. Returns the result.
#[inline(always)]
pub(super) fn compute<const OP: u8>(core: &mut Core, w: u32, a: u64, b: u64) -> u64 {
    let m = mask(w);
    match OP {
        ADD => {
            let r = a.wrapping_add(b) & m;
            core.flags.set_add(w, a, b, r);
            r
        }
        ADC => {
            let c = core.flags.cf();
            let r = a.wrapping_add(b).wrapping_add(c as u64) & m;
            core.flags.set_adc(w, a, b, c, r);
            r
        }
        SUB | CMP => {
            let r = a.wrapping_sub(b) & m;
            core.flags.set_sub(w, a, b, r);
            r
        }
        SBB => {
            let c = core.flags.cf();
            let r = a.wrapping_sub(b).wrapping_sub(c as u64) & m;
            core.flags.set_sbb(w, a, b, c, r);
            r
        }
        AND | TEST => {
            let r = a & b & m;
            core.flags.set_logic(w, r);
            r
        }
        OR => {
            let r = (a | b) & m;
            core.flags.set_logic(w, r);
            r
        }
        _ => {
            let r = (a ^ b) & m;
            core.flags.set_logic(w, r);
            r
        }
    }
}

/// Two-operand ALU op: `op0 = op0 OP op1` (CMP and TEST only set flags).
fn binary<const OP: u8>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let writes = OP != CMP && OP != TEST;
    if i.op0_kind() == OpKind::Register {
        let b = core.read_op(i, 1)? & mask(w);
        let r0 = i.op0_register();
        let a = core.reg(r0);
        let res = compute::<OP>(core, w, a & mask(w), b);
        if writes {
            core.set_reg(r0, res);
        }
    } else {
        let b = core.read_op(i, 1)? & mask(w);
        let addr = core.ea(i);
        let bytes = (w / 8) as usize;
        if writes {
            core.probe_write(addr, bytes as u64)?;
        }
        let a = core.read_sized(addr, bytes)?;
        // Compute on a copy of the flags so a faulting store changes nothing.
        let saved = core.flags;
        let res = compute::<OP>(core, w, a, b);
        if writes {
            if let Err(e) = core.write_sized(addr, bytes, res) {
                core.flags = saved;
                return Err(e.into());
            }
        }
    }
    Ok(())
}

fn inc_dec<const INC: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let a = core.read_op_rmw(i, 0)?;
    let res = if INC {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    } & mask(w);
    core.write_op(i, 0, res)?;
    if INC {
        core.flags.set_inc(w, a, res);
    } else {
        core.flags.set_dec(w, a, res);
    }
    Ok(())
}

fn neg(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let a = core.read_op_rmw(i, 0)?;
    let res = 0u64.wrapping_sub(a) & mask(w);
    core.write_op(i, 0, res)?;
    core.flags.set_sub(w, 0, a, res);
    Ok(())
}

fn not(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let a = core.read_op_rmw(i, 0)?;
    core.write_op(i, 0, !a & mask(w))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{check, Rng, State, ALL_FLAGS, DATA};
    use crate::cpu::flags::bits;
    use crate::cpu::Gpr;

    /// An immediate of `bytes` bytes from `rng`, biased to edge values.
    fn imm(rng: &mut Rng, bytes: usize) -> Vec<u8> {
        rng.edge(8 * bytes as u32).to_le_bytes()[..bytes].to_vec()
    }

    /// Encodings of ALU group op `op` (0 = add .. 7 = cmp) in every form:
    /// register, memory (`[rdi]`), accumulator and r/m immediates, with
    /// 8/16/32/64-bit operands, and lock on the memory destinations.
    fn group1(op: u8, rng: &mut Rng) -> Vec<Vec<u8>> {
        let base = op * 8;
        let r = op << 3;
        let mut v: Vec<Vec<u8>> = vec![
            vec![base, 0xd1],                       // op cl, dl
            vec![base, 0xf1],                       // op cl, dh
            vec![0x40, base, 0xf7],                 // op dil, sil
            vec![base, 0x17],                       // op [rdi], dl
            vec![base + 2, 0x17],                   // op dl, [rdi]
            [vec![base + 4], imm(rng, 1)].concat(), // op al, imm8
            [vec![0x80, 0xc1 | r], imm(rng, 1)].concat(),
            [vec![0x80, 0x07 | r], imm(rng, 1)].concat(),
        ];
        for (prefix, ib) in [(&[0x66u8][..], 2usize), (&[][..], 4), (&[0x48][..], 4)] {
            let p = prefix.to_vec();
            v.push([p.clone(), vec![base + 1, 0xd1]].concat());
            v.push([p.clone(), vec![base + 3, 0xd1]].concat());
            v.push([p.clone(), vec![base + 1, 0x17]].concat());
            v.push([p.clone(), vec![base + 3, 0x17]].concat());
            v.push([p.clone(), vec![base + 5], imm(rng, ib)].concat());
            v.push([p.clone(), vec![0x81, 0xc1 | r], imm(rng, ib)].concat());
            v.push([p.clone(), vec![0x83, 0xc1 | r], imm(rng, 1)].concat());
            v.push([p.clone(), vec![0x81, 0x07 | r], imm(rng, ib)].concat());
            v.push([p.clone(), vec![0x83, 0x47 | r, 0x03], imm(rng, 1)].concat());
            if op != 7 {
                v.push([vec![0xf0], p.clone(), vec![base + 1, 0x17]].concat());
            }
        }
        v
    }

    /// Unary and test forms: inc, dec, neg, not, test at every width.
    fn unary_and_test(rng: &mut Rng) -> Vec<Vec<u8>> {
        let mut v = vec![
            vec![0xfe, 0xc1], // inc cl
            vec![0xfe, 0xcd], // dec ch
            vec![0xf6, 0xd9], // neg cl
            vec![0xf6, 0xd1], // not cl
            vec![0x84, 0xd1], // test cl, dl
            vec![0xfe, 0x07], // inc byte [rdi]
            vec![0xf6, 0x1f], // neg byte [rdi]
            [vec![0xa8], imm(rng, 1)].concat(),
            [vec![0xf6, 0xc1], imm(rng, 1)].concat(),
        ];
        for (prefix, ib) in [(&[0x66u8][..], 2usize), (&[][..], 4), (&[0x48][..], 4)] {
            let p = prefix.to_vec();
            for modrm in [0xc1u8, 0xc9, 0xd9, 0xd1, 0x07, 0x0f, 0x1f, 0x17] {
                let opc = if modrm & 0x30 == 0 { 0xff } else { 0xf7 };
                // ff /0 inc, ff /1 dec, f7 /3 neg, f7 /2 not
                v.push([p.clone(), vec![opc, modrm]].concat());
            }
            v.push([p.clone(), vec![0x85, 0xd1]].concat());
            v.push([p.clone(), vec![0x85, 0x17]].concat());
            v.push([p.clone(), vec![0xa9], imm(rng, ib)].concat());
            v.push([p.clone(), vec![0xf7, 0xc1], imm(rng, ib)].concat());
            v.push([vec![0xf0], p.clone(), vec![0xff, 0x07]].concat());
            v.push([vec![0xf0], p.clone(), vec![0xf7, 0x1f]].concat());
        }
        v
    }

    fn alu_state(rng: &mut Rng) -> State {
        let flags = rng.next();
        let mut s = State::random(rng, flags);
        let (a, b, m) = (rng.edge(64), rng.edge(64), rng.edge(64));
        s.set(Gpr::Rcx, a).set(Gpr::Rdx, b).set(Gpr::Rax, a ^ b);
        s.set(Gpr::Rdi, DATA + 0x40);
        s.put(0x40, 8, m);
        s
    }

    #[test]
    fn group1_ops_match_host_in_every_form_and_width() {
        let mut rng = Rng::new(0xa1);
        for op in 0..8 {
            for code in group1(op, &mut rng) {
                for _ in 0..48 {
                    check(&code, &alu_state(&mut rng), ALL_FLAGS);
                }
            }
        }
    }

    #[test]
    fn unary_ops_and_test_match_host_in_every_form_and_width() {
        let mut rng = Rng::new(0xa2);
        for code in unary_and_test(&mut rng) {
            for _ in 0..48 {
                check(&code, &alu_state(&mut rng), ALL_FLAGS);
            }
        }
    }

    #[test]
    fn adc_sbb_chains_consume_the_carry_of_lazy_flags() {
        // add rcx, rdx; adc rax, rdx; sbb ecx, eax; adc dl, cl
        let code = [0x48, 0x01, 0xd1, 0x48, 0x11, 0xd0, 0x19, 0xc1, 0x10, 0xca];
        let mut rng = Rng::new(0xa3);
        for _ in 0..256 {
            check(&code, &alu_state(&mut rng), ALL_FLAGS | bits::ARITH);
        }
    }
}
