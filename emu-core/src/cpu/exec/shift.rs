//! Shifts and rotates: shl/sal shr sar rol ror rcl rcr (by 1, imm8, CL) and
//! the double shifts shld shrd (SDM Vol. 2B, "SAL/SAR/SHL/SHR", "RCL/RCR/
//! ROL/ROR", "SHLD", "SHRD").
//!
//! The count is masked to 5 bits (6 for 64-bit operands); a masked count of 0
//! changes no flags (a memory destination is still written back unchanged:
//! the host faults on a read-only page even then). Where the SDM leaves
//! flags undefined, this follows the host (AMD Zen 4), measured by the
//! oracle tests below:
//! - shifts: AF = 1; OF is computed at every count with the count-1 formula
//!   applied to the result (left: MSB(result) XOR CF; right: XOR of the two
//!   top result bits, which is 0 for sar and for shr by more than 1);
//! - rotates: OF likewise at every count; SF/ZF/AF/PF unchanged;
//! - 16-bit shld/shrd by 17..31: the result rotates the source as if the
//!   operands were concatenated dest:src:src (shld) or src:src:dest (shrd),
//!   CF = 0, and shld's OF uses the destination shifted alone.
//!
//! Handlers are monomorphized per operation, width, destination kind and
//! count source at resolve time.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{mask, width0, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::flags::bits;

const SHL: u8 = 0;
const SHR: u8 = 1;
const SAR: u8 = 2;
const ROL: u8 = 3;
const ROR: u8 = 4;
const RCL: u8 = 5;
const RCR: u8 = 6;
const SHLD: u8 = 7;
const SHRD: u8 = 8;

/// The handler for a shift or rotate, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let w = width0(i);
    let mem = i.op0_kind() == OpKind::Memory;
    Some(match i.mnemonic() {
        Mnemonic::Shl | Mnemonic::Sal => pick::<SHL>(w, mem, i.op1_kind() == OpKind::Register),
        Mnemonic::Shr => pick::<SHR>(w, mem, i.op1_kind() == OpKind::Register),
        Mnemonic::Sar => pick::<SAR>(w, mem, i.op1_kind() == OpKind::Register),
        Mnemonic::Rol => pick::<ROL>(w, mem, i.op1_kind() == OpKind::Register),
        Mnemonic::Ror => pick::<ROR>(w, mem, i.op1_kind() == OpKind::Register),
        Mnemonic::Rcl => pick::<RCL>(w, mem, i.op1_kind() == OpKind::Register),
        Mnemonic::Rcr => pick::<RCR>(w, mem, i.op1_kind() == OpKind::Register),
        Mnemonic::Shld => pick::<SHLD>(w, mem, i.op2_kind() == OpKind::Register),
        Mnemonic::Shrd => pick::<SHRD>(w, mem, i.op2_kind() == OpKind::Register),
        _ => return None,
    })
}

/// The instantiation of [`exec`] for an operation, width, destination and count source.
fn pick<const OP: u8>(w: u32, mem: bool, cl: bool) -> Handler {
    macro_rules! table {
        ($($w:literal),*) => {
            match (w, mem, cl) {
                $(
                    ($w, false, false) => exec::<OP, $w, false, false>,
                    ($w, false, true) => exec::<OP, $w, false, true>,
                    ($w, true, false) => exec::<OP, $w, true, false>,
                    ($w, true, true) => exec::<OP, $w, true, true>,
                )*
                (_, false, false) => exec::<OP, 64, false, false>,
                (_, false, true) => exec::<OP, 64, false, true>,
                (_, true, false) => exec::<OP, 64, true, false>,
                (_, true, true) => exec::<OP, 64, true, true>,
            }
        };
    }
    table!(8, 16, 32)
}

/// Executes `OP` on a `W`-bit destination (register or `MEM`ory), with the
/// count in CL (`CL`) or an immediate (the by-1 forms decode with immediate 1).
fn exec<const OP: u8, const W: u32, const MEM: bool, const CL: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let double = OP == SHLD || OP == SHRD;
    let raw = if CL {
        core.gpr[1]
    } else {
        u64::from(i.immediate8())
    };
    let count = (raw as u32) & if W == 64 { 63 } else { 31 };
    let src = if double {
        core.reg_w::<W>(i.op1_register())
    } else {
        0
    };
    if MEM {
        let addr = core.ea(i);
        let bytes = (W / 8) as usize;
        // Read-modify-write: the access is checked for writing first.
        core.probe_write(addr, bytes as u64)?;
        let a = core.read_sized(addr, bytes)?;
        if count == 0 {
            // No change, but the store still happens (and may fault).
            core.write_sized(addr, bytes, a)?;
            return Ok(());
        }
        let (res, which, flags) = compute::<OP, W>(a, src, count, core.flags.cf());
        core.write_sized(addr, bytes, res)?;
        set_flags(core, which, flags);
    } else {
        let r = i.op0_register();
        if count == 0 {
            // The register is still written: a 32-bit destination is zero-extended.
            let a = core.reg_w::<W>(r);
            core.set_reg_w::<W>(r, a);
            return Ok(());
        }
        let a = core.reg_w::<W>(r);
        let (res, which, flags) = compute::<OP, W>(a, src, count, core.flags.cf());
        core.set_reg_w::<W>(r, res);
        set_flags(core, which, flags);
    }
    Ok(())
}

#[inline(always)]
fn set_flags(core: &mut Core, which: u64, flags: u64) {
    if which == bits::ARITH {
        core.flags.set_all_arith(flags);
    } else {
        core.flags.set_arith(which, flags);
    }
}

/// SF, ZF and PF of a `W`-bit result.
#[inline(always)]
fn szp<const W: u32>(res: u64) -> u64 {
    let mut f = ((res >> (W - 1)) & 1) << 7;
    if res == 0 {
        f |= bits::ZF;
    }
    if (res as u8).count_ones().is_multiple_of(2) {
        f |= bits::PF;
    }
    f
}

/// Bit `n` of `v` as 0 or 1.
#[inline(always)]
fn bit(v: u64, n: u32) -> u64 {
    (v >> n) & 1
}

/// Computes `OP` on the `W`-bit value `a` (and `src` for the double shifts)
/// with a masked count in 1..=63. Returns the result, the mask of flags the
/// operation writes, and their values.
#[inline(always)]
fn compute<const OP: u8, const W: u32>(
    a: u64,
    src: u64,
    count: u32,
    cf_in: bool,
) -> (u64, u64, u64) {
    let m = mask(W);
    let top = W - 1;
    // (result, CF, OF): shifts also set SF/ZF/PF from the result and AF = 1.
    let (res, cf, of, shift) = match OP {
        SHL => {
            let (res, cf) = if W == 64 {
                (a << count, bit(a, 64 - count))
            } else {
                // count <= 31 and a < 2^32: the wide shift keeps the carry bit.
                let wide = a << count;
                (wide & m, bit(wide, W))
            };
            (res, cf, bit(res, top) ^ cf, true)
        }
        SHR => {
            let res = a >> count;
            (
                res,
                bit(a, count - 1),
                bit(res, top) ^ bit(res, top - 1),
                true,
            )
        }
        SAR => {
            let sx = (((a << (64 - W)) as i64) >> (64 - W)) as u64;
            let res = ((sx as i64) >> count) as u64 & m;
            (res, bit(sx, count - 1), 0, true)
        }
        ROL | ROR => {
            let r = count % W;
            let res = if r == 0 {
                a
            } else if OP == ROL {
                ((a << r) | (a >> (W - r))) & m
            } else {
                ((a >> r) | (a << (W - r))) & m
            };
            if OP == ROL {
                let cf = res & 1;
                (res, cf, bit(res, top) ^ cf, false)
            } else {
                (res, bit(res, top), bit(res, top) ^ bit(res, top - 1), false)
            }
        }
        RCL | RCR => {
            // Rotate the (W+1)-bit value CF:a; 8- and 16-bit counts wrap at 9 and 17.
            let n = W + 1;
            let r = match W {
                8 => count % 9,
                16 => count % 17,
                _ => count,
            };
            let v = (u128::from(cf_in) << W) | u128::from(a);
            let nm = (1u128 << n) - 1;
            let rot = if r == 0 {
                v
            } else if OP == RCL {
                ((v << r) | (v >> (n - r))) & nm
            } else {
                ((v >> r) | (v << (n - r))) & nm
            };
            let res = rot as u64 & m;
            let cf = (rot >> W) as u64 & 1;
            if OP == RCL {
                (res, cf, bit(res, top) ^ cf, false)
            } else {
                (res, cf, bit(res, top) ^ bit(res, top - 1), false)
            }
        }
        SHLD => {
            let (res, cf, dest_top) = if W == 16 {
                // dest:src:src, so counts 17..31 rotate the source.
                let v = (a << 32) | (src << 16) | src;
                let wide = a << count;
                ((v >> (32 - count)) & m, bit(wide, 16), bit(wide, 15))
            } else {
                let res = ((a << count) | (src >> (W - count))) & m;
                (res, bit(a, W - count), bit(res, top))
            };
            (res, cf, dest_top ^ cf, true)
        }
        _ => {
            // SHRD.
            let (res, cf) = if W == 16 {
                // src:src:dest, so counts 17..31 rotate the source.
                let v = (src << 32) | (src << 16) | a;
                ((v >> count) & m, bit(a, count - 1))
            } else {
                let res = ((a >> count) | (src << (W - count))) & m;
                (res, bit(a, count - 1))
            };
            (res, cf, bit(res, top) ^ bit(res, top - 1), true)
        }
    };
    let co = cf | (of << 11);
    if shift {
        (res, bits::ARITH, co | szp::<W>(res) | bits::AF)
    } else {
        (res, bits::CF | bits::OF, co)
    }
}

#[cfg(test)]
mod tests {
    use iced_x86::{Code, Register};

    use super::super::int_a_testutil::*;
    use crate::cpu::flags::bits;

    /// Counts worth testing at `width`: the edges around 0, 1, the width, the
    /// rcl/rcr moduli and the 5/6-bit masks.
    fn edge_counts(width: u32) -> Vec<u32> {
        let mut c = vec![
            0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 18, 24, 31, 32, 33, 63, 64, 65, 0x81, 0xff,
        ];
        c.extend([width - 1, width, width + 1]);
        c
    }

    /// Tests every form of `codes` (one per width, all with the same operand
    /// shape `shape`) against the host with random operands.
    fn check_forms(codes: &[(Code, u32)], shape: Shape, seed: u64) {
        let mut rng = Rng::new(seed);
        for &(code, width) in codes {
            for mem in [false, true] {
                let dest_idx = pick_regs(&mut rng, 1)[0];
                let dest = if mem {
                    Op::M(rng.below(64) as i64)
                } else {
                    Op::R(gpr_reg(dest_idx, width))
                };
                // For the double shifts the source register (never RCX, so CL stays the count).
                let src = gpr_reg(if dest_idx == 2 { 6 } else { 2 }, width);
                let imms: Vec<u32> = match shape {
                    Shape::One | Shape::Cl | Shape::DoubleCl => vec![0],
                    Shape::Imm | Shape::DoubleImm => {
                        let mut v = edge_counts(width);
                        v.extend((0..6).map(|_| rng.below(256) as u32));
                        v
                    }
                };
                for imm in imms {
                    let ops: Vec<Op> = match shape {
                        Shape::One => vec![dest, Op::I(1)],
                        Shape::Cl => vec![dest, Op::R(Register::CL)],
                        Shape::Imm => vec![dest, Op::I(imm)],
                        Shape::DoubleCl => vec![dest, Op::R(src), Op::R(Register::CL)],
                        Shape::DoubleImm => vec![dest, Op::R(src), Op::I(imm)],
                    };
                    let mut o = Oracle::new(&insn(code, &ops));
                    let cases = if matches!(shape, Shape::Imm | Shape::DoubleImm) {
                        40
                    } else {
                        600
                    };
                    for k in 0..cases {
                        let off = 0xff0 + rng.below(16);
                        let mut s = State::random(&mut rng, off);
                        if !mem {
                            s.gpr[dest_idx] = rng.operand(64);
                        }
                        let counts = edge_counts(width);
                        s.gpr[1] = if k < counts.len() {
                            u64::from(counts[k]) | (rng.next() & !0xff)
                        } else {
                            rng.next()
                        };
                        o.check(&s, 0);
                    }
                }
            }
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Shape {
        One,
        Cl,
        Imm,
        DoubleCl,
        DoubleImm,
    }

    macro_rules! forms {
        ($($name:ident: $b:ident, $c:ident, $i:ident;)*) => {$(
            #[test]
            fn $name() {
                let w = [8, 16, 32, 64];
                let one: Vec<(Code, u32)> = w.iter().map(|&w| (width_code(Code::$b, w), w)).collect();
                let cl: Vec<(Code, u32)> = w.iter().map(|&w| (width_code(Code::$c, w), w)).collect();
                let imm: Vec<(Code, u32)> = w.iter().map(|&w| (width_code(Code::$i, w), w)).collect();
                check_forms(&one, Shape::One, 1);
                check_forms(&cl, Shape::Cl, 2);
                check_forms(&imm, Shape::Imm, 3);
            }
        )*};
    }

    /// The `width`-bit variant of an 8-bit-operand `Code`, found by name.
    fn width_code(code8: Code, width: u32) -> Code {
        let name = format!("{code8:?}").replace("rm8", &format!("rm{width}"));
        Code::values()
            .find(|c| format!("{c:?}") == name)
            .expect("width variant exists")
    }

    forms! {
        shl_matches_host_at_every_width_and_count: Shl_rm8_1, Shl_rm8_CL, Shl_rm8_imm8;
        sal_alias_matches_host: Sal_rm8_1, Sal_rm8_CL, Sal_rm8_imm8;
        shr_matches_host_at_every_width_and_count: Shr_rm8_1, Shr_rm8_CL, Shr_rm8_imm8;
        sar_matches_host_at_every_width_and_count: Sar_rm8_1, Sar_rm8_CL, Sar_rm8_imm8;
        rol_matches_host_at_every_width_and_count: Rol_rm8_1, Rol_rm8_CL, Rol_rm8_imm8;
        ror_matches_host_at_every_width_and_count: Ror_rm8_1, Ror_rm8_CL, Ror_rm8_imm8;
        rcl_matches_host_at_every_width_and_count: Rcl_rm8_1, Rcl_rm8_CL, Rcl_rm8_imm8;
        rcr_matches_host_at_every_width_and_count: Rcr_rm8_1, Rcr_rm8_CL, Rcr_rm8_imm8;
    }

    #[test]
    fn shld_shrd_match_host_including_16_bit_counts_above_16() {
        for (cl, imm) in [
            (Code::Shld_rm16_r16_CL, Code::Shld_rm16_r16_imm8),
            (Code::Shrd_rm16_r16_CL, Code::Shrd_rm16_r16_imm8),
        ] {
            let cls: Vec<(Code, u32)> = [16, 32, 64]
                .iter()
                .map(|&w| (width_code_n(cl, 16, w), w))
                .collect();
            let imms: Vec<(Code, u32)> = [16, 32, 64]
                .iter()
                .map(|&w| (width_code_n(imm, 16, w), w))
                .collect();
            check_forms(&cls, Shape::DoubleCl, 4);
            check_forms(&imms, Shape::DoubleImm, 5);
        }
    }

    fn width_code_n(code: Code, from: u32, width: u32) -> Code {
        let name = format!("{code:?}")
            .replace(&format!("rm{from}"), &format!("rm{width}"))
            .replace(&format!("r{from}"), &format!("r{width}"));
        Code::values()
            .find(|c| format!("{c:?}") == name)
            .expect("width variant exists")
    }

    #[test]
    fn high_byte_register_destination_matches_host() {
        let mut rng = Rng::new(11);
        // BH is part of RBX, the memory base of the oracle.
        for reg in [Register::AH, Register::CH, Register::DH] {
            for code in [Code::Rcl_rm8_CL, Code::Shl_rm8_CL, Code::Sar_rm8_CL] {
                let mut o = Oracle::new(&insn(code, &[Op::R(reg), Op::R(Register::CL)]));
                for _ in 0..200 {
                    let mut s = State::random(&mut rng, 0);
                    s.gpr[MEM_BASE] = 0;
                    s.gpr[1] = rng.below(40);
                    o.check(&s, 0);
                }
            }
        }
    }

    #[test]
    fn count_zero_leaves_flags_but_zero_extends_a_32_bit_register() {
        // shl eax, cl with cl = 0x20 (masked to 0): flags unchanged, RAX zero-extended.
        let mut o = Oracle::new(&insn(
            Code::Shl_rm32_CL,
            &[Op::R(Register::EAX), Op::R(Register::CL)],
        ));
        let mut s = State::random(&mut Rng::new(3), 0);
        s.gpr[0] = 0xdead_beef_8000_0001;
        s.gpr[1] = 0x20;
        s.rflags = bits::ARITH;
        let out = o.emulate(&s).expect("runs");
        assert_eq!(out.gpr[0], 0x8000_0001);
        assert_eq!(out.rflags, bits::ARITH);
        o.check(&s, 0);
    }

    #[test]
    fn store_to_read_only_memory_faults_precisely_even_for_count_zero() {
        let cases = [
            (Code::Shl_rm32_CL, vec![Op::M(4), Op::R(Register::CL)]),
            (Code::Rcr_rm8_imm8, vec![Op::M(4), Op::I(3)]),
            (
                Code::Shld_rm64_r64_CL,
                vec![Op::M(4), Op::R(Register::RDX), Op::R(Register::CL)],
            ),
        ];
        for (code, ops) in cases {
            let mut o = Oracle::new(&insn(code, &ops));
            o.protect_data(crate::mmu::builder::Prot::R);
            for count in [0u64, 1, 5] {
                let mut s = State::random(&mut Rng::new(count + 1), 0x100);
                s.gpr[1] = count;
                let addr = Oracle::data_addr(0x104);
                o.assert_faults(
                    &s,
                    crate::cpu::Exception::PageFault {
                        addr,
                        error_code: 7,
                    },
                );
            }
        }
    }
}
