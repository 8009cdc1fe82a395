//! Exchanges and atomics: xchg, cmpxchg, cmpxchg8b, cmpxchg16b, xadd, and
//! the byte-swapping moves movbe (SDM Vol. 2A/2B and 2D for each).
//!
//! There is one CPU, so the `lock` prefix needs no extra work: each handler
//! performs its read-modify-write without anything observing the middle.
//! Memory operands are read-modify-write accesses: they are checked for
//! writing before they are read, so a read-only or absent page faults with
//! the W bit set, as on hardware. The cmpxchg family stores to a memory
//! destination whether or not the comparison succeeds (the SDM's "the
//! destination operand is written back if the comparison fails"). Every
//! store happens before registers and flags change, keeping faults precise.

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

use super::{mask, width0, Handler};
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::flags::bits;

/// The handler for an exchange instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.mnemonic() {
        Mnemonic::Xchg => {
            if i.op0_kind() == OpKind::Register && i.op1_kind() == OpKind::Register {
                xchg_rr
            } else {
                xchg_mem
            }
        }
        Mnemonic::Cmpxchg => cmpxchg,
        Mnemonic::Cmpxchg8b => cmpxchg8b,
        Mnemonic::Cmpxchg16b => cmpxchg16b,
        Mnemonic::Xadd => xadd,
        Mnemonic::Movbe => match i.code() {
            Code::Movbe_r16_m16 | Code::Movbe_r32_m32 | Code::Movbe_r64_m64 => movbe_load,
            _ => movbe_store,
        },
        _ => return None,
    })
}

/// `xchg r, r`. Writing a 32-bit register zero-extends it, so `87 c0`
/// (`xchg eax, eax`) clears the upper half of RAX, unlike `90` (nop, which
/// the decoder reports as a nop).
fn xchg_rr(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let (r0, r1) = (i.op0_register(), i.op1_register());
    let (a, b) = (core.reg(r0), core.reg(r1));
    core.set_reg(r0, b);
    core.set_reg(r1, a);
    Ok(())
}

/// `xchg r/m, r` with a memory operand (implicitly locked).
fn xchg_mem(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let reg = if i.op0_kind() == OpKind::Register {
        i.op0_register()
    } else {
        i.op1_register()
    };
    let addr = core.ea(i);
    let bytes = reg.size();
    core.probe_write(addr, bytes as u64)?;
    let old = core.read_sized(addr, bytes)?;
    let v = core.reg(reg);
    core.write_sized(addr, bytes, v)?;
    core.set_reg(reg, old);
    Ok(())
}

/// The accumulator of a width in bytes.
fn accumulator(bytes: usize) -> Register {
    match bytes {
        1 => Register::AL,
        2 => Register::AX,
        4 => Register::EAX,
        _ => Register::RAX,
    }
}

/// `cmpxchg r/m, r`: compare the accumulator with the destination; equal:
/// ZF = 1 and destination = source; not equal: ZF = 0 and accumulator =
/// destination. Flags as `cmp acc, dest`.
///
/// A register destination is written only on success, and the accumulator
/// only on failure: a 32-bit register that is not written keeps its upper
/// half (as on the host, an AMD Zen 4, and on Intel parts).
fn cmpxchg(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let m = mask(w);
    let bytes = (w / 8) as usize;
    let acc_reg = accumulator(bytes);
    let acc = core.reg(acc_reg);
    let src = core.reg(i.op1_register());
    let equal;
    let dest;
    if i.op0_kind() == OpKind::Register {
        let r0 = i.op0_register();
        dest = core.reg(r0);
        equal = acc == dest;
        if equal {
            core.set_reg(r0, src);
        }
    } else {
        let addr = core.ea(i);
        core.probe_write(addr, bytes as u64)?;
        dest = core.read_sized(addr, bytes)?;
        equal = acc == dest;
        core.write_sized(addr, bytes, if equal { src } else { dest })?;
    }
    if !equal {
        core.set_reg(acc_reg, dest);
    }
    core.flags.set_sub(w, acc, dest, acc.wrapping_sub(dest) & m);
    Ok(())
}

/// `cmpxchg8b m64`: compare EDX:EAX with m64; equal: ZF = 1 and m64 =
/// ECX:EBX; otherwise ZF = 0 and EDX:EAX = m64 (zero-extending RDX and RAX).
/// Only ZF changes.
fn cmpxchg8b(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let addr = core.ea(i);
    core.probe_write(addr, 8)?;
    let old = core.read_u64(addr)?;
    let expected = (core.gpr[2] << 32) | (core.gpr[0] & 0xffff_ffff);
    let equal = old == expected;
    let new = if equal {
        (core.gpr[1] << 32) | (core.gpr[3] & 0xffff_ffff)
    } else {
        old
    };
    core.write_u64(addr, new)?;
    if !equal {
        core.gpr[0] = old & 0xffff_ffff;
        core.gpr[2] = old >> 32;
    }
    core.flags
        .set_arith(bits::ZF, if equal { bits::ZF } else { 0 });
    Ok(())
}

/// `cmpxchg16b m128` (REX.W): as cmpxchg8b with RDX:RAX and RCX:RBX; the
/// operand must be 16-byte aligned or #GP(0).
fn cmpxchg16b(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let addr = core.ea(i);
    if addr & 15 != 0 {
        return Err(Stop::Fault(Exception::GeneralProtection(0)));
    }
    core.probe_write(addr, 16)?;
    let old = core.read_u128(addr)?;
    let expected = ((core.gpr[2] as u128) << 64) | core.gpr[0] as u128;
    let equal = old == expected;
    let new = if equal {
        ((core.gpr[1] as u128) << 64) | core.gpr[3] as u128
    } else {
        old
    };
    core.write_u128(addr, new)?;
    if !equal {
        core.gpr[0] = old as u64;
        core.gpr[2] = (old >> 64) as u64;
    }
    core.flags
        .set_arith(bits::ZF, if equal { bits::ZF } else { 0 });
    Ok(())
}

/// `xadd r/m, r`: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP (so with the
/// same register twice, the sum wins). Flags as `add`.
fn xadd(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let w = width0(i);
    let m = mask(w);
    let src_reg = i.op1_register();
    let src = core.reg(src_reg);
    if i.op0_kind() == OpKind::Register {
        let r0 = i.op0_register();
        let dest = core.reg(r0);
        let sum = dest.wrapping_add(src) & m;
        core.set_reg(src_reg, dest);
        core.set_reg(r0, sum);
        core.flags.set_add(w, dest, src, sum);
    } else {
        let addr = core.ea(i);
        let bytes = (w / 8) as usize;
        core.probe_write(addr, bytes as u64)?;
        let dest = core.read_sized(addr, bytes)?;
        let sum = dest.wrapping_add(src) & m;
        core.write_sized(addr, bytes, sum)?;
        core.set_reg(src_reg, dest);
        core.flags.set_add(w, dest, src & m, sum);
    }
    Ok(())
}

/// Reverses the low `bytes` bytes of `v`.
#[inline(always)]
fn swap(v: u64, bytes: usize) -> u64 {
    v.swap_bytes() >> (64 - 8 * bytes)
}

/// `movbe r, m`: load with the bytes reversed (a 16-bit load merges).
fn movbe_load(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let r = i.op0_register();
    let v = core.read_op(i, 1)?;
    core.set_reg(r, swap(v, r.size()));
    Ok(())
}

/// `movbe m, r`: store with the bytes reversed.
fn movbe_store(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let r = i.op1_register();
    let v = swap(core.reg(r), r.size());
    core.write_op(i, 0, v)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{check, emu_cpu, run_to_end, Rng, State, DATA, DATA_LEN};
    use crate::cpu::flags::bits;
    use crate::cpu::{Exit, Gpr};
    use crate::{Exception, Prot};

    const ARITH_AND_DF: u64 = bits::ARITH | bits::DF;

    fn state(rng: &mut Rng) -> State {
        let flags = rng.next();
        let mut s = State::random(rng, flags);
        s.set(Gpr::Rdi, DATA + 0x200);
        s
    }

    #[test]
    fn xchg_all_forms_match_host() {
        let codes: &[&[u8]] = &[
            &[0x86, 0xc1],                   // xchg cl, al
            &[0x86, 0xe1],                   // xchg cl, ah
            &[0x40, 0x86, 0xf7],             // xchg dil, sil
            &[0x66, 0x87, 0xc1],             // xchg cx, ax
            &[0x87, 0xc1],                   // xchg ecx, eax
            &[0x48, 0x87, 0xc1],             // xchg rcx, rax
            &[0x87, 0xc0],                   // xchg eax, eax (zero-extends)
            &[0x66, 0x87, 0xc0],             // xchg ax, ax (87 form)
            &[0x90],                         // nop: rax untouched
            &[0x41, 0x90],                   // xchg r8d, eax
            &[0x49, 0x90],                   // xchg r8, rax
            &[0x66, 0x41, 0x90],             // xchg r8w, ax
            &[0x93],                         // xchg ebx, eax
            &[0x48, 0x93],                   // xchg rbx, rax
            &[0x86, 0x07],                   // xchg [rdi], al
            &[0x66, 0x87, 0x07],             // xchg [rdi], ax
            &[0x87, 0x07],                   // xchg [rdi], eax
            &[0x48, 0x87, 0x07],             // xchg [rdi], rax
            &[0xf0, 0x48, 0x87, 0x47, 0x05], // lock xchg [rdi+5], rax
            &[0x4c, 0x87, 0x3f],             // xchg [rdi], r15
        ];
        let mut rng = Rng::new(0x8c);
        for code in codes {
            for _ in 0..32 {
                check(code, &state(&mut rng), !0);
            }
        }
    }

    /// Sets the accumulator equal to the destination (register or `[rdi]`)
    /// in about half the cases.
    fn cmpxchg_state(rng: &mut Rng, dest: Option<Gpr>, bytes: usize) -> State {
        let mut s = state(rng);
        if rng.next() & 1 == 0 {
            let v = match dest {
                Some(r) => s.get(r),
                None => {
                    let off = (s.get(Gpr::Rdi) - DATA) as usize;
                    let mut b = [0u8; 8];
                    b[..bytes].copy_from_slice(&s.data[off..off + bytes]);
                    u64::from_le_bytes(b)
                }
            };
            let keep = if bytes == 8 { 0 } else { !0u64 << (8 * bytes) };
            let rax = (s.get(Gpr::Rax) & keep) | (v & !keep);
            s.set(Gpr::Rax, rax);
        }
        s
    }

    #[test]
    fn cmpxchg_all_widths_match_host_for_equal_and_unequal() {
        let cases: &[(&[u8], Option<Gpr>, usize)] = &[
            (&[0x0f, 0xb0, 0xd1], Some(Gpr::Rcx), 1), // cmpxchg cl, dl
            (&[0x0f, 0xb0, 0xf1], Some(Gpr::Rcx), 1), // cmpxchg cl, dh
            (&[0x66, 0x0f, 0xb1, 0xd1], Some(Gpr::Rcx), 2), // cmpxchg cx, dx
            (&[0x0f, 0xb1, 0xd1], Some(Gpr::Rcx), 4), // cmpxchg ecx, edx
            (&[0x48, 0x0f, 0xb1, 0xd1], Some(Gpr::Rcx), 8), // cmpxchg rcx, rdx
            (&[0x0f, 0xb1, 0xc8], Some(Gpr::Rax), 4), // cmpxchg eax, ecx
            (&[0x0f, 0xb0, 0x17], None, 1),           // cmpxchg [rdi], dl
            (&[0x66, 0x0f, 0xb1, 0x17], None, 2),     // cmpxchg [rdi], dx
            (&[0xf0, 0x0f, 0xb1, 0x17], None, 4),     // lock cmpxchg [rdi], edx
            (&[0xf0, 0x48, 0x0f, 0xb1, 0x17], None, 8), // lock cmpxchg [rdi], rdx
        ];
        let mut rng = Rng::new(0xc8);
        for (code, dest, bytes) in cases {
            for _ in 0..64 {
                let s = cmpxchg_state(&mut rng, *dest, *bytes);
                check(code, &s, ARITH_AND_DF);
            }
        }
    }

    #[test]
    fn cmpxchg8b_and_16b_match_host_for_equal_and_unequal() {
        let mut rng = Rng::new(0x816);
        for (code, bytes) in [
            (&[0x0f, 0xc7, 0x0f][..], 8usize),   // cmpxchg8b [rdi]
            (&[0xf0, 0x0f, 0xc7, 0x0f][..], 8),  // lock cmpxchg8b [rdi]
            (&[0x48, 0x0f, 0xc7, 0x0f][..], 16), // cmpxchg16b [rdi]
            (&[0xf0, 0x48, 0x0f, 0xc7, 0x0f][..], 16),
        ] {
            for _ in 0..64 {
                let mut s = state(&mut rng);
                let off = 0x200;
                if rng.next() & 1 == 0 {
                    let lo = u64::from_le_bytes(s.data[off..off + 8].try_into().unwrap());
                    if bytes == 8 {
                        let rax = (s.get(Gpr::Rax) & !0xffff_ffff) | (lo & 0xffff_ffff);
                        let rdx = (s.get(Gpr::Rdx) & !0xffff_ffff) | (lo >> 32);
                        s.set(Gpr::Rax, rax).set(Gpr::Rdx, rdx);
                    } else {
                        let hi = u64::from_le_bytes(s.data[off + 8..off + 16].try_into().unwrap());
                        s.set(Gpr::Rax, lo).set(Gpr::Rdx, hi);
                    }
                }
                check(code, &s, ARITH_AND_DF);
            }
        }
    }

    #[test]
    fn cmpxchg16b_misaligned_is_general_protection() {
        let code = [0x48, 0x0f, 0xc7, 0x0f];
        let mut s = state(&mut Rng::new(1));
        s.set(Gpr::Rdi, DATA + 8);
        let mut cpu = emu_cpu(&code, &s, DATA_LEN);
        let rax = cpu.gpr(Gpr::Rax);
        assert_eq!(
            run_to_end(&mut cpu, &code),
            Exit::Exception(Exception::GeneralProtection(0))
        );
        assert_eq!(cpu.gpr(Gpr::Rax), rax);
    }

    #[test]
    fn failing_cmpxchg_on_read_only_memory_still_faults_as_a_write() {
        for code in [
            &[0x0f, 0xb1, 0x17][..],       // cmpxchg [rdi], edx
            &[0x0f, 0xc7, 0x0f][..],       // cmpxchg8b [rdi]
            &[0x48, 0x0f, 0xc7, 0x0f][..], // cmpxchg16b [rdi]
        ] {
            let mut s = state(&mut Rng::new(2));
            s.set(Gpr::Rdi, DATA).put(0, 8, 0x1111);
            s.put(8, 8, 0x2222);
            s.set(Gpr::Rax, 0x5555).set(Gpr::Rdx, 0x6666);
            let mut cpu = emu_cpu(code, &s, DATA_LEN);
            cpu.map(DATA, 0x1000, Prot::R).unwrap();
            let before = cpu.rflags();
            assert_eq!(
                run_to_end(&mut cpu, code),
                Exit::Exception(Exception::PageFault {
                    addr: DATA,
                    error_code: 7
                })
            );
            assert_eq!(cpu.gpr(Gpr::Rax), 0x5555);
            assert_eq!(cpu.rflags(), before);
        }
    }

    #[test]
    fn memory_forms_fault_as_writes_on_an_absent_page() {
        for code in [
            &[0x87, 0x17][..],             // xchg [rdi], edx
            &[0x0f, 0xb1, 0x17][..],       // cmpxchg [rdi], edx
            &[0x0f, 0xc1, 0x17][..],       // xadd [rdi], edx
            &[0x0f, 0xc7, 0x0f][..],       // cmpxchg8b [rdi]
            &[0x48, 0x0f, 0xc7, 0x0f][..], // cmpxchg16b [rdi]
        ] {
            let mut s = state(&mut Rng::new(3));
            s.set(Gpr::Rdi, DATA + 0x1000);
            let mut cpu = emu_cpu(code, &s, 0x1000);
            assert_eq!(
                run_to_end(&mut cpu, code),
                Exit::Exception(Exception::PageFault {
                    addr: DATA + 0x1000,
                    error_code: 6
                }),
                "{code:02x?}"
            );
        }
    }

    #[test]
    fn xadd_all_widths_match_host() {
        let codes: &[&[u8]] = &[
            &[0x0f, 0xc0, 0xd1],             // xadd cl, dl
            &[0x0f, 0xc0, 0xe1],             // xadd cl, ah
            &[0x66, 0x0f, 0xc1, 0xd1],       // xadd cx, dx
            &[0x0f, 0xc1, 0xd1],             // xadd ecx, edx
            &[0x48, 0x0f, 0xc1, 0xd1],       // xadd rcx, rdx
            &[0x0f, 0xc1, 0xc0],             // xadd eax, eax
            &[0x48, 0x0f, 0xc1, 0xc0],       // xadd rax, rax
            &[0x0f, 0xc0, 0x17],             // xadd [rdi], dl
            &[0x66, 0x0f, 0xc1, 0x17],       // xadd [rdi], dx
            &[0xf0, 0x0f, 0xc1, 0x17],       // lock xadd [rdi], edx
            &[0xf0, 0x4c, 0x0f, 0xc1, 0x07], // lock xadd [rdi], r8
        ];
        let mut rng = Rng::new(0xadd);
        for code in codes {
            for _ in 0..64 {
                let mut s = state(&mut rng);
                let (a, b) = (rng.edge(64), rng.edge(64));
                s.set(Gpr::Rcx, a).set(Gpr::Rdx, b).set(Gpr::Rax, a);
                s.put(0x200, 8, b);
                check(code, &s, ARITH_AND_DF);
            }
        }
    }

    #[test]
    fn movbe_all_forms_match_host() {
        let codes: &[&[u8]] = &[
            &[0x66, 0x0f, 0x38, 0xf0, 0x07],       // movbe ax, [rdi]
            &[0x0f, 0x38, 0xf0, 0x07],             // movbe eax, [rdi]
            &[0x48, 0x0f, 0x38, 0xf0, 0x07],       // movbe rax, [rdi]
            &[0x4c, 0x0f, 0x38, 0xf0, 0x47, 0x03], // movbe r8, [rdi+3]
            &[0x66, 0x0f, 0x38, 0xf1, 0x07],       // movbe [rdi], ax
            &[0x0f, 0x38, 0xf1, 0x07],             // movbe [rdi], eax
            &[0x48, 0x0f, 0x38, 0xf1, 0x07],       // movbe [rdi], rax
            &[0x4c, 0x0f, 0x38, 0xf1, 0x7f, 0x01], // movbe [rdi+1], r15
        ];
        let mut rng = Rng::new(0xbe);
        for code in codes {
            for _ in 0..16 {
                check(code, &state(&mut rng), !0);
            }
        }
    }
}
