//! BMI1, BMI2 and ADX: andn bextr blsi blsmsk blsr (BMI1; tzcnt is in
//! `bit`), bzhi mulx pdep pext rorx sarx shlx shrx (BMI2), adcx adox (ADX)
//! (SDM Vol. 2A/2B, each instruction's page). All are 32- or 64-bit.
//!
//! Flags the SDM leaves undefined follow the host (AMD Zen 4), as measured
//! by the oracle tests below: andn/blsi/blsmsk/blsr/bzhi compute PF from the
//! result and clear AF; bextr computes PF from the result, sets AF and
//! clears SF. The BMI2 instructions other than bzhi write no flags; adcx changes
//! only CF and adox only OF.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{mask, width0, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::flags::bits;

const ANDN: u8 = 0;
const BEXTR: u8 = 1;
const BLSI: u8 = 2;
const BLSMSK: u8 = 3;
const BLSR: u8 = 4;
const BZHI: u8 = 5;
const MULX: u8 = 6;
const PDEP: u8 = 7;
const PEXT: u8 = 8;
const RORX: u8 = 9;
const SARX: u8 = 10;
const SHLX: u8 = 11;
const SHRX: u8 = 12;
const ADCX: u8 = 13;
const ADOX: u8 = 14;

/// The handler for a BMI1/BMI2/ADX instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let op = match i.mnemonic() {
        Mnemonic::Andn => ANDN,
        Mnemonic::Bextr => BEXTR,
        Mnemonic::Blsi => BLSI,
        Mnemonic::Blsmsk => BLSMSK,
        Mnemonic::Blsr => BLSR,
        Mnemonic::Bzhi => BZHI,
        Mnemonic::Mulx => MULX,
        Mnemonic::Pdep => PDEP,
        Mnemonic::Pext => PEXT,
        Mnemonic::Rorx => RORX,
        Mnemonic::Sarx => SARX,
        Mnemonic::Shlx => SHLX,
        Mnemonic::Shrx => SHRX,
        Mnemonic::Adcx => ADCX,
        Mnemonic::Adox => ADOX,
        _ => return None,
    };
    let wide = width0(i) == 64;
    let mem = (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory);
    macro_rules! pick {
        ($($op:ident),*) => {
            match (op, wide, mem) {
                $(
                    ($op, false, false) => exec::<$op, 32, false> as Handler,
                    ($op, false, true) => exec::<$op, 32, true>,
                    ($op, true, false) => exec::<$op, 64, false>,
                    ($op, true, true) => exec::<$op, 64, true>,
                )*
                _ => return None,
            }
        };
    }
    Some(pick!(
        ANDN, BEXTR, BLSI, BLSMSK, BLSR, BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX, ADCX, ADOX
    ))
}

/// The operand index of the r/m operand of `OP` (the others are registers).
const fn rm_index(op: u8) -> u32 {
    match op {
        ANDN | MULX | PDEP | PEXT => 2,
        _ => 1,
    }
}

/// Reads the r/m operand (operand `n`) of width `W`.
#[inline(always)]
fn read_rm<const W: u32, const MEM: bool>(
    core: &mut Core,
    i: &Instruction,
    n: u32,
) -> Result<u64, Stop> {
    if MEM {
        let addr = core.ea(i);
        Ok(core.read_sized(addr, (W / 8) as usize)?)
    } else {
        Ok(core.reg_w::<W>(i.op_register(n)))
    }
}

/// Executes `OP` at width `W` with the r/m operand in a register or in `MEM`ory.
fn exec<const OP: u8, const W: u32, const MEM: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let m = mask(W);
    let rm = read_rm::<W, MEM>(core, i, rm_index(OP))?;
    let dst = i.op0_register();
    // The register-only source (VEX.vvvv or ModRM.reg), where there is one.
    let other = |core: &Core, n: u32| core.reg_w::<W>(i.op_register(n));
    match OP {
        ANDN => {
            let res = !other(core, 1) & rm & m;
            core.set_reg_w::<W>(dst, res);
            core.flags.set_szp(W, res, false, false, false);
        }
        BEXTR => {
            let ctl = other(core, 2);
            let (start, len) = ((ctl & 0xff) as u32, ((ctl >> 8) & 0xff) as u32);
            let shifted = if start < W { rm >> start } else { 0 };
            let res = if len < W {
                shifted & ((1u64 << len) - 1)
            } else {
                shifted
            };
            core.set_reg_w::<W>(dst, res);
            // As the host: ZF and PF from the result, AF set, SF/CF/OF clear.
            let mut f = bits::AF;
            if res == 0 {
                f |= bits::ZF;
            }
            if (res as u8).count_ones().is_multiple_of(2) {
                f |= bits::PF;
            }
            core.flags.set_all_arith(f);
        }
        BLSI | BLSMSK | BLSR => {
            let res = match OP {
                BLSI => rm.wrapping_neg() & rm,
                BLSMSK => rm.wrapping_sub(1) ^ rm,
                _ => rm.wrapping_sub(1) & rm,
            } & m;
            let cf = if OP == BLSI { rm != 0 } else { rm == 0 };
            core.set_reg_w::<W>(dst, res);
            core.flags.set_szp(W, res, cf, false, false);
        }
        BZHI => {
            let n = (other(core, 2) & 0xff) as u32;
            let res = if n < W { rm & ((1u64 << n) - 1) } else { rm };
            core.set_reg_w::<W>(dst, res);
            core.flags.set_szp(W, res, n > W - 1, false, false);
        }
        MULX => {
            let p = u128::from(core.gpr[2] & m) * u128::from(rm);
            // The low half first: when both destinations are one register, it holds the high half.
            core.set_reg_w::<W>(i.op1_register(), p as u64 & m);
            core.set_reg_w::<W>(dst, (p >> W) as u64 & m);
        }
        PDEP | PEXT => {
            let src = other(core, 1);
            let res = if OP == PDEP {
                deposit(src, rm)
            } else {
                extract(src, rm)
            };
            core.set_reg_w::<W>(dst, res);
        }
        RORX => {
            let r = u32::from(i.immediate8()) & (W - 1);
            let res = if r == 0 {
                rm
            } else {
                ((rm >> r) | (rm << (W - r))) & m
            };
            core.set_reg_w::<W>(dst, res);
        }
        SARX | SHLX | SHRX => {
            let count = (other(core, 2) as u32) & (W - 1);
            let res = match OP {
                SARX => ((((rm << (64 - W)) as i64) >> (64 - W)) >> count) as u64 & m,
                SHLX => (rm << count) & m,
                _ => rm >> count,
            };
            core.set_reg_w::<W>(dst, res);
        }
        _ => {
            // ADCX (carry in and out through CF) or ADOX (through OF).
            let flag = if OP == ADCX { bits::CF } else { bits::OF };
            let carry_in = if OP == ADCX {
                core.flags.cf()
            } else {
                core.flags.of()
            };
            let a = core.reg_w::<W>(dst);
            let sum = u128::from(a) + u128::from(rm) + u128::from(carry_in);
            core.set_reg_w::<W>(dst, sum as u64 & m);
            let carry = (sum >> W) & 1 != 0;
            core.flags.set_arith(flag, if carry { flag } else { 0 });
        }
    }
    Ok(())
}

/// pdep: scatters the low bits of `src` to the set bit positions of `sel`.
#[inline]
fn deposit(src: u64, sel: u64) -> u64 {
    let (mut sel, mut res, mut k) = (sel, 0u64, 0u32);
    while sel != 0 {
        let lowest = sel & sel.wrapping_neg();
        if (src >> k) & 1 != 0 {
            res |= lowest;
        }
        k += 1;
        sel &= sel - 1;
    }
    res
}

/// pext: gathers the bits of `src` at the set positions of `sel` into the low bits.
#[inline]
fn extract(src: u64, sel: u64) -> u64 {
    let (mut sel, mut res, mut k) = (sel, 0u64, 0u32);
    while sel != 0 {
        let lowest = sel & sel.wrapping_neg();
        if src & lowest != 0 {
            res |= 1 << k;
        }
        k += 1;
        sel &= sel - 1;
    }
    res
}

#[cfg(test)]
mod tests {
    use iced_x86::Code;

    use super::super::int_a_testutil::*;

    /// The operand shapes of the forms under test.
    #[derive(Debug, Clone, Copy)]
    enum Shape {
        /// dst, reg, r/m (andn mulx pdep pext).
        RegRm,
        /// dst, r/m, reg (bextr bzhi sarx shlx shrx).
        RmReg,
        /// dst, r/m (blsi blsmsk blsr adcx adox).
        Rm,
        /// dst, r/m, imm8 (rorx).
        RmImm,
    }

    fn check(code: Code, w: u32, shape: Shape, rng: &mut Rng) {
        for mem in [false, true] {
            for _ in 0..8 {
                let regs = pick_regs(rng, 3);
                // Sometimes reuse a register across operands (mulx with one destination, etc.).
                let r1 = if rng.below(5) == 0 { regs[0] } else { regs[1] };
                let r2 = if rng.below(5) == 0 { regs[0] } else { regs[2] };
                let rm = if mem { Op::M(2) } else { Op::R(gpr_reg(r2, w)) };
                let d = Op::R(gpr_reg(regs[0], w));
                let imm = rng.below(256) as u32;
                let ops = match shape {
                    Shape::RegRm => vec![d, Op::R(gpr_reg(r1, w)), rm],
                    Shape::RmReg => vec![d, rm, Op::R(gpr_reg(r1, w))],
                    Shape::Rm => vec![d, rm],
                    Shape::RmImm => vec![d, rm, Op::I(imm)],
                };
                let mut o = Oracle::new(&insn(code, &ops));
                for k in 0..150 {
                    let mut s = State::random(rng, 0xffc);
                    for r in [regs[0], regs[1], regs[2], 2] {
                        s.gpr[r] = rng.operand(64);
                    }
                    if k % 3 == 0 {
                        // Control operands (bextr start/len, bzhi index, shift counts) near the edges.
                        let a =
                            [0u64, 1, 7, 8, 31, 32, 33, 63, 64, 65, 0xff][rng.below(11) as usize];
                        let b =
                            [0u64, 1, 7, 8, 31, 32, 33, 63, 64, 65, 0xff][rng.below(11) as usize];
                        s.gpr[r1] = (rng.next() & !0xffff) | (b << 8) | a;
                    }
                    let v = rng.operand(w);
                    s.put_mem(0xffc + 2, (w / 8) as usize, v);
                    o.check(&s, 0);
                }
            }
        }
    }

    fn forms(list: &[(Code, Code, Shape)], seed: u64) {
        let mut rng = Rng::new(seed);
        for &(c32, c64, shape) in list {
            check(c32, 32, shape, &mut rng);
            check(c64, 64, shape, &mut rng);
        }
    }

    #[test]
    fn bmi1_matches_host() {
        forms(
            &[
                (
                    Code::VEX_Andn_r32_r32_rm32,
                    Code::VEX_Andn_r64_r64_rm64,
                    Shape::RegRm,
                ),
                (
                    Code::VEX_Bextr_r32_rm32_r32,
                    Code::VEX_Bextr_r64_rm64_r64,
                    Shape::RmReg,
                ),
                (Code::VEX_Blsi_r32_rm32, Code::VEX_Blsi_r64_rm64, Shape::Rm),
                (
                    Code::VEX_Blsmsk_r32_rm32,
                    Code::VEX_Blsmsk_r64_rm64,
                    Shape::Rm,
                ),
                (Code::VEX_Blsr_r32_rm32, Code::VEX_Blsr_r64_rm64, Shape::Rm),
            ],
            41,
        );
    }

    #[test]
    fn bmi2_matches_host() {
        forms(
            &[
                (
                    Code::VEX_Bzhi_r32_rm32_r32,
                    Code::VEX_Bzhi_r64_rm64_r64,
                    Shape::RmReg,
                ),
                (
                    Code::VEX_Mulx_r32_r32_rm32,
                    Code::VEX_Mulx_r64_r64_rm64,
                    Shape::RegRm,
                ),
                (
                    Code::VEX_Pdep_r32_r32_rm32,
                    Code::VEX_Pdep_r64_r64_rm64,
                    Shape::RegRm,
                ),
                (
                    Code::VEX_Pext_r32_r32_rm32,
                    Code::VEX_Pext_r64_r64_rm64,
                    Shape::RegRm,
                ),
                (
                    Code::VEX_Rorx_r32_rm32_imm8,
                    Code::VEX_Rorx_r64_rm64_imm8,
                    Shape::RmImm,
                ),
                (
                    Code::VEX_Sarx_r32_rm32_r32,
                    Code::VEX_Sarx_r64_rm64_r64,
                    Shape::RmReg,
                ),
                (
                    Code::VEX_Shlx_r32_rm32_r32,
                    Code::VEX_Shlx_r64_rm64_r64,
                    Shape::RmReg,
                ),
                (
                    Code::VEX_Shrx_r32_rm32_r32,
                    Code::VEX_Shrx_r64_rm64_r64,
                    Shape::RmReg,
                ),
            ],
            42,
        );
    }

    #[test]
    fn adx_matches_host() {
        forms(
            &[
                (Code::Adcx_r32_rm32, Code::Adcx_r64_rm64, Shape::Rm),
                (Code::Adox_r32_rm32, Code::Adox_r64_rm64, Shape::Rm),
            ],
            43,
        );
    }
}
