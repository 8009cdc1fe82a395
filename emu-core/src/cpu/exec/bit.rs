//! Bit instructions: bt bts btr btc, bsf bsr, popcnt lzcnt tzcnt, bswap
//! (SDM Vol. 2A/2B, "BT", "BTS", "BTR", "BTC", "BSF", "BSR", "POPCNT",
//! "LZCNT", "TZCNT", "BSWAP").
//!
//! bt* with a register bit offset and a memory operand address the bit
//! string outside the operand: the offset is signed, the operand at
//! `ea + (offset >> log2(W)) * W/8` is accessed and bit `offset mod W` of
//! it is used. Register operands and immediate offsets use `offset mod W`.
//!
//! Flags the SDM leaves undefined follow the host (AMD Zen 4), as measured
//! by the oracle tests below: bt* change only CF; bsf/bsr set ZF = (source
//! = 0), PF from the index (0 for a zero source) and clear CF/OF/SF/AF;
//! lzcnt/tzcnt leave OF unchanged and clear SF/AF/PF. A zero source leaves
//! the bsf/bsr destination entirely unchanged (no 32-bit zero-extension).
//! `bswap r16` (undefined) clears the low 16 bits as the host does.

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::{width0, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::flags::bits;

const BT: u8 = 0;
const BTS: u8 = 1;
const BTR: u8 = 2;
const BTC: u8 = 3;
const BSF: u8 = 4;
const BSR: u8 = 5;
const POPCNT: u8 = 6;
const LZCNT: u8 = 7;
const TZCNT: u8 = 8;

/// Picks the `<OP, W, MEM>` instantiation of `$f` (16, 32 or 64 bits).
macro_rules! by_width {
    ($f:ident, $op:expr, $w:expr, $mem:expr) => {
        match ($w, $mem) {
            (16, false) => $f::<{ $op }, 16, false> as Handler,
            (16, true) => $f::<{ $op }, 16, true>,
            (32, false) => $f::<{ $op }, 32, false>,
            (32, true) => $f::<{ $op }, 32, true>,
            (_, false) => $f::<{ $op }, 64, false>,
            (_, true) => $f::<{ $op }, 64, true>,
        }
    };
}

/// The handler for a bit instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    let w = width0(i);
    let mnemonic = i.mnemonic();
    if let Some(op) = match mnemonic {
        Mnemonic::Bt => Some(BT),
        Mnemonic::Bts => Some(BTS),
        Mnemonic::Btr => Some(BTR),
        Mnemonic::Btc => Some(BTC),
        _ => None,
    } {
        let mem = i.op0_kind() == OpKind::Memory;
        // A register bit offset reaches outside a memory operand.
        let far = mem && i.op1_kind() == OpKind::Register;
        return Some(match (op, far) {
            (BT, false) => by_width!(bit_test, BT, w, mem),
            (BTS, false) => by_width!(bit_test, BTS, w, mem),
            (BTR, false) => by_width!(bit_test, BTR, w, mem),
            (BTC, false) => by_width!(bit_test, BTC, w, mem),
            (BT, true) => by_width!(bit_test_far, BT, w, true),
            (BTS, true) => by_width!(bit_test_far, BTS, w, true),
            (BTR, true) => by_width!(bit_test_far, BTR, w, true),
            _ => by_width!(bit_test_far, BTC, w, true),
        });
    }
    let mem = i.op1_kind() == OpKind::Memory;
    Some(match mnemonic {
        Mnemonic::Bsf => by_width!(scan, BSF, w, mem),
        Mnemonic::Bsr => by_width!(scan, BSR, w, mem),
        Mnemonic::Popcnt => by_width!(scan, POPCNT, w, mem),
        Mnemonic::Lzcnt => by_width!(scan, LZCNT, w, mem),
        Mnemonic::Tzcnt => by_width!(scan, TZCNT, w, mem),
        Mnemonic::Bswap => match w {
            16 => bswap::<16>,
            32 => bswap::<32>,
            _ => bswap::<64>,
        },
        _ => return None,
    })
}

/// Applies `OP` to bit `n` of `v`: returns the new value (unchanged for bt).
#[inline(always)]
fn modify<const OP: u8>(v: u64, n: u32) -> u64 {
    let b = 1u64 << n;
    match OP {
        BTS => v | b,
        BTR => v & !b,
        BTC => v ^ b,
        _ => v,
    }
}

/// Sets CF to the tested bit; the host leaves the other flags unchanged.
#[inline(always)]
fn set_cf(core: &mut Core, v: u64, n: u32) {
    core.flags.set_arith(bits::CF, (v >> n) & 1);
}

/// bt* on a register, or on memory with an immediate offset: bit `offset mod W`.
fn bit_test<const OP: u8, const W: u32, const MEM: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let offset = if i.op1_kind() == OpKind::Register {
        core.reg_w::<W>(i.op1_register())
    } else {
        u64::from(i.immediate8())
    };
    let n = (offset as u32) & (W - 1);
    if MEM {
        let addr = core.ea(i);
        if OP != BT {
            // Read-modify-write: the access is checked for writing first.
            core.probe_write(addr, u64::from(W / 8))?;
        }
        let v = core.read_sized(addr, (W / 8) as usize)?;
        if OP != BT {
            core.write_sized(addr, (W / 8) as usize, modify::<OP>(v, n))?;
        }
        set_cf(core, v, n);
    } else {
        let r = i.op0_register();
        let v = core.reg_w::<W>(r);
        if OP != BT {
            core.set_reg_w::<W>(r, modify::<OP>(v, n));
        }
        set_cf(core, v, n);
    }
    Ok(())
}

/// bt* on memory with a register offset: the signed offset selects the
/// `W`-bit unit at `ea + (offset >> log2 W) * W/8` and the bit within it.
fn bit_test_far<const OP: u8, const W: u32, const MEM: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let raw = core.reg_w::<W>(i.op1_register());
    let offset = ((raw << (64 - W)) as i64) >> (64 - W);
    let n = (offset as u32) & (W - 1);
    let disp = (offset >> W.trailing_zeros()).wrapping_mul(i64::from(W / 8)) as u64;
    let addr = far_address(core, i, disp);
    if OP != BT {
        core.probe_write(addr, u64::from(W / 8))?;
    }
    let v = core.read_sized(addr, (W / 8) as usize)?;
    if OP != BT {
        core.write_sized(addr, (W / 8) as usize, modify::<OP>(v, n))?;
    }
    set_cf(core, v, n);
    Ok(())
}

/// `ea + disp`, wrapping at 32 bits when the instruction uses 32-bit addressing.
#[inline(always)]
fn far_address(core: &Core, i: &Instruction, disp: u64) -> u64 {
    let ea = core.ea(i);
    let addr32 = i.memory_base() == Register::EIP
        || i.memory_base().size() == 4
        || i.memory_index().size() == 4;
    if !addr32 {
        return ea.wrapping_add(disp);
    }
    let seg = match i.memory_segment() {
        Register::FS => core.seg.fs_base,
        Register::GS => core.seg.gs_base,
        _ => 0,
    };
    let linear = ea.wrapping_sub(seg).wrapping_add(disp) & 0xffff_ffff;
    linear.wrapping_add(seg)
}

/// bsf bsr popcnt lzcnt tzcnt r, r/m.
fn scan<const OP: u8, const W: u32, const MEM: bool>(
    core: &mut Core,
    i: &Instruction,
) -> Result<(), Stop> {
    let src = if MEM {
        let addr = core.ea(i);
        core.read_sized(addr, (W / 8) as usize)?
    } else {
        core.reg_w::<W>(i.op1_register())
    };
    let dst = i.op0_register();
    let zero = src == 0;
    match OP {
        BSF | BSR => {
            let index = if zero {
                0
            } else if OP == BSF {
                src.trailing_zeros()
            } else {
                63 - src.leading_zeros()
            };
            if !zero {
                core.set_reg_w::<W>(dst, u64::from(index));
            }
            let mut f = if zero { bits::ZF } else { 0 };
            if index.count_ones().is_multiple_of(2) {
                f |= bits::PF;
            }
            core.flags.set_all_arith(f);
        }
        POPCNT => {
            core.set_reg_w::<W>(dst, u64::from(src.count_ones()));
            core.flags.set_all_arith(if zero { bits::ZF } else { 0 });
        }
        _ => {
            let count = if OP == LZCNT {
                src.leading_zeros() - (64 - W)
            } else {
                src.trailing_zeros().min(W)
            };
            core.set_reg_w::<W>(dst, u64::from(count));
            let mut f = if zero { bits::CF } else { 0 };
            if count == 0 {
                f |= bits::ZF;
            }
            core.flags.set_arith(bits::ARITH & !bits::OF, f);
        }
    }
    Ok(())
}

/// bswap r32/r64; the undefined 16-bit form clears the register's low word.
fn bswap<const W: u32>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let r = i.op0_register();
    let v = core.reg_w::<W>(r);
    let res = match W {
        16 => 0,
        32 => u64::from((v as u32).swap_bytes()),
        _ => v.swap_bytes(),
    };
    core.set_reg_w::<W>(r, res);
    Ok(())
}

#[cfg(test)]
mod tests {
    use iced_x86::{Code, Register};

    use super::super::int_a_testutil::*;
    use crate::cpu::flags::bits;

    fn width_code(code16: Code, width: u32) -> Code {
        let name = format!("{code16:?}").replace("16", &width.to_string());
        Code::values()
            .find(|c| format!("{c:?}") == name)
            .expect("width variant exists")
    }

    #[test]
    fn bt_family_register_and_immediate_forms_match_host() {
        let mut rng = Rng::new(31);
        for base in [
            Code::Bt_rm16_r16,
            Code::Bts_rm16_r16,
            Code::Btr_rm16_r16,
            Code::Btc_rm16_r16,
        ] {
            for w in [16, 32, 64] {
                let code = width_code(base, w);
                for _ in 0..6 {
                    let regs = pick_regs(&mut rng, 2);
                    // Same register as operand and offset sometimes.
                    let off = if rng.below(4) == 0 { regs[0] } else { regs[1] };
                    let mut o = Oracle::new(&insn(
                        code,
                        &[Op::R(gpr_reg(regs[0], w)), Op::R(gpr_reg(off, w))],
                    ));
                    for _ in 0..150 {
                        let mut s = State::random(&mut rng, 0);
                        s.gpr[regs[0]] = rng.operand(64);
                        o.check(&s, 0);
                    }
                }
                let imm = width_code(
                    match base {
                        Code::Bt_rm16_r16 => Code::Bt_rm16_imm8,
                        Code::Bts_rm16_r16 => Code::Bts_rm16_imm8,
                        Code::Btr_rm16_r16 => Code::Btr_rm16_imm8,
                        _ => Code::Btc_rm16_imm8,
                    },
                    w,
                );
                for bit in [0u32, 1, 7, 15, 16, 31, 32, 63, 64, 0x85, 0xff] {
                    for mem in [false, true] {
                        let r = pick_regs(&mut rng, 1)[0];
                        let dst = if mem { Op::M(3) } else { Op::R(gpr_reg(r, w)) };
                        let mut o = Oracle::new(&insn(imm, &[dst, Op::I(bit)]));
                        for _ in 0..20 {
                            let s = State::random(&mut rng, 0xffc);
                            o.check(&s, 0);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bt_family_memory_with_register_offset_addresses_outside_the_operand() {
        let mut rng = Rng::new(32);
        for base in [
            Code::Bt_rm16_r16,
            Code::Bts_rm16_r16,
            Code::Btr_rm16_r16,
            Code::Btc_rm16_r16,
        ] {
            for w in [16, 32, 64] {
                let code = width_code(base, w);
                let off = pick_regs(&mut rng, 1)[0];
                let mut o = Oracle::new(&insn(code, &[Op::M(5), Op::R(gpr_reg(off, w))]));
                for k in 0..400 {
                    let mut s = State::random(&mut rng, 0x1000);
                    // Signed bit offsets within +-30000 bits (the buffer is +-4 KiB).
                    let edge = [
                        0i64, 1, -1, 15, 16, -16, -17, 31, 32, -32, -33, 63, 64, -64, -65, 30000,
                        -30000,
                    ];
                    let v = if k < edge.len() {
                        edge[k]
                    } else {
                        rng.below(60001) as i64 - 30000
                    };
                    let m = u64::MAX >> (64 - w);
                    s.gpr[off] = (s.gpr[off] & !m) | (v as u64 & m);
                    o.check(&s, 0);
                }
            }
        }
    }

    #[test]
    fn scans_and_counts_match_host() {
        let mut rng = Rng::new(33);
        let bases = [
            Code::Bsf_r16_rm16,
            Code::Bsr_r16_rm16,
            Code::Popcnt_r16_rm16,
            Code::Lzcnt_r16_rm16,
            Code::Tzcnt_r16_rm16,
        ];
        for base in bases {
            for w in [16, 32, 64] {
                let code = width_code(base, w);
                for mem in [false, true] {
                    let regs = pick_regs(&mut rng, 2);
                    let src = if mem {
                        Op::M(6)
                    } else {
                        Op::R(gpr_reg(regs[1], w))
                    };
                    let mut o = Oracle::new(&insn(code, &[Op::R(gpr_reg(regs[0], w)), src]));
                    for k in 0..400 {
                        let mut s = State::random(&mut rng, 0xffc);
                        let v = if k < 20 { 0 } else { rng.operand(w) };
                        s.gpr[regs[1]] = (s.gpr[regs[1]] & !(u64::MAX >> (64 - w))) | v;
                        s.put_mem(0xffc + 6, (w / 8) as usize, v);
                        o.check(&s, 0);
                    }
                }
            }
        }
    }

    #[test]
    fn bsf_with_zero_source_leaves_the_whole_destination_unchanged() {
        let mut o = Oracle::new(&insn(
            Code::Bsf_r32_rm32,
            &[Op::R(Register::EAX), Op::R(Register::ECX)],
        ));
        let mut s = State::random(&mut Rng::new(1), 0);
        s.gpr[0] = 0x1234_5678_9abc_def0;
        s.gpr[1] = 0xffff_ffff_0000_0000;
        let out = o.emulate(&s).expect("runs");
        assert_eq!(out.gpr[0], 0x1234_5678_9abc_def0);
        assert_ne!(out.rflags & bits::ZF, 0);
        o.check(&s, 0);
    }

    #[test]
    fn bswap_matches_host_including_the_16_bit_form() {
        let mut rng = Rng::new(34);
        for (code, w) in [
            (Code::Bswap_r16, 16),
            (Code::Bswap_r32, 32),
            (Code::Bswap_r64, 64),
        ] {
            for r in 0..16 {
                if r == RSP || r == MEM_BASE {
                    continue;
                }
                let mut o = Oracle::new(&insn(code, &[Op::R(gpr_reg(r, w))]));
                for _ in 0..20 {
                    let s = State::random(&mut rng, 0);
                    o.check(&s, 0);
                }
            }
        }
    }

    #[test]
    fn bts_on_read_only_memory_faults_precisely_and_bt_does_not() {
        let mut bts = Oracle::new(&insn(Code::Bts_rm32_r32, &[Op::M(0), Op::R(Register::ECX)]));
        let mut bt = Oracle::new(&insn(Code::Bt_rm32_r32, &[Op::M(0), Op::R(Register::ECX)]));
        bts.protect_data(crate::mmu::builder::Prot::R);
        bt.protect_data(crate::mmu::builder::Prot::R);
        let mut s = State::random(&mut Rng::new(9), 0x100);
        // Bit offset -33: the doubleword 8 bytes below the operand.
        s.gpr[1] = (-33i64) as u64;
        let addr = Oracle::data_addr(0x100 - 8);
        bts.assert_faults(
            &s,
            crate::cpu::Exception::PageFault {
                addr,
                error_code: 7,
            },
        );
        assert!(bt.emulate(&s).is_ok());
    }

    #[test]
    fn far_bit_offset_wraps_at_32_bits_with_32_bit_addressing() {
        // 67 0f a3 0b: bt dword [ebx], ecx. EBX = 0 and a bit offset of -64
        // address the doubleword at 0 - 8, which wraps to 0xffff_fff8 (unmapped).
        let mut o = Oracle::from_bytes(&[0x67, 0x0f, 0xa3, 0x0b]);
        let mut s = State::random(&mut Rng::new(5), 0);
        s.gpr[1] = (-64i64) as u64;
        // RBX holds DATA + offset in the emulator: make EBX zero there.
        s.gpr[MEM_BASE] = 0xdead_0000_0000_0000u64.wrapping_sub(Oracle::data_addr(0));
        o.assert_faults(
            &s,
            crate::cpu::Exception::PageFault {
                addr: 0xffff_fff8,
                error_code: 4,
            },
        );
    }
}
