//! Moving the register file between the CPU and gdb's [`X86Regs`].
//!
//! Reads are a snapshot. Writes keep the CPU's invariants: values a `mov`
//! to the same register would reject (reserved CR/EFER/MXCSR bits, leaving
//! long mode, non-canonical bases, oversized selectors) fail the whole
//! write; only registers whose value changed are written, through the same
//! setters instructions use (RFLAGS via `set_rflags` plus the SMAP copy of
//! AC, CRs and EFER via the MMU so that the TLB is flushed as the SDM
//! requires), so writing back an unchanged register file is a no-op.

use super::arch::{X86Reg, X86Regs};
use crate::cpu::exec::privileged::CR4_SUPPORTED;
use crate::cpu::fpu::MXCSR_MASK;
use crate::cpu::Cpu;
use crate::mmu::{cr0, cr4, efer, MAX_PHYS_BITS};

const MASK80: u128 = (1 << 80) - 1;

/// A snapshot of the CPU's registers.
pub fn capture(cpu: &Cpu) -> X86Regs {
    let c = cpu.core();
    let f = &c.fpu;
    let top = f.top();
    let s = &c.seg;
    X86Regs {
        gpr: c.gpr,
        rip: c.rip,
        eflags: c.flags.rflags() as u32,
        seg: [s.cs, s.ss, s.ds, s.es, s.fs, s.gs].map(u32::from),
        st: std::array::from_fn(|i| f.regs[(top + i) & 7] & MASK80),
        // FXSAVE64 layout as gdb's amd64 code reads it: fiseg/foseg are the
        // upper halves of the 64-bit FPU instruction and data pointers.
        fpu: [
            f.fcw.into(),
            f.fsw.into(),
            f.ftw.into(),
            (f.fip >> 32) as u32,
            f.fip as u32,
            (f.fdp >> 32) as u32,
            f.fdp as u32,
            f.fop.into(),
        ],
        xmm: c.xmm,
        mxcsr: c.mxcsr,
        fs_base: s.fs_base,
        gs_base: s.gs_base,
        k_gs_base: s.kernel_gs_base,
        cr0: c.mmu.cr0(),
        cr2: c.sys.cr2,
        cr3: c.mmu.cr3(),
        cr4: c.mmu.cr4(),
        cr8: c.sys.cr8,
        efer: c.mmu.efer(),
    }
}

fn canonical(v: u64) -> bool {
    crate::mmu::is_canonical(v)
}

/// Checks `r`'s value in `regs` against what the CPU accepts.
fn check(regs: &X86Regs, r: X86Reg) -> Result<(), X86Reg> {
    let v = regs.get(r);
    let ok = match r {
        X86Reg::Seg(_) => v <= 0xffff,
        X86Reg::Fpu(0..=2) => v <= 0xffff,
        X86Reg::Fpu(7) => v <= 0x7ff,
        X86Reg::Mxcsr => v as u32 & !MXCSR_MASK == 0,
        X86Reg::FsBase | X86Reg::GsBase | X86Reg::KGsBase => canonical(v as u64),
        // As `mov cr0`: bits 63:32 reserved, long mode cannot be left.
        X86Reg::Cr0 => v >> 32 == 0 && v as u64 & (cr0::PG | cr0::PE) == cr0::PG | cr0::PE,
        X86Reg::Cr3 => v >> MAX_PHYS_BITS == 0,
        X86Reg::Cr4 => v as u64 & !CR4_SUPPORTED == 0 && v as u64 & cr4::PAE != 0,
        X86Reg::Cr8 => v <= 15,
        X86Reg::Efer => {
            let allowed = efer::SCE | efer::LME | efer::LMA | efer::NXE;
            v as u64 & !allowed == 0 && v as u64 & efer::LME != 0
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(r)
    }
}

/// Writes `regs` to the CPU. On error (the first register the CPU would
/// reject) nothing is written.
pub fn apply(cpu: &mut Cpu, regs: &X86Regs) -> Result<(), X86Reg> {
    let old = capture(cpu);
    let changed: Vec<X86Reg> = X86Reg::ALL
        .into_iter()
        .filter(|&r| regs.get(r) != old.get(r))
        .collect();
    for &r in &changed {
        check(regs, r)?;
    }
    let c = cpu.core_mut();
    let mut fpu_changed = false;
    for r in changed {
        let q = regs.get(r) as u64;
        match r {
            X86Reg::Gpr(_) => c.gpr = regs.gpr,
            X86Reg::Rip => c.rip = q,
            X86Reg::Eflags => {
                c.flags.set_rflags(q);
                c.sync_ac();
            }
            X86Reg::Seg(i) => {
                let sel = q as u16;
                match i {
                    0 => {
                        c.seg.cs = sel;
                        // CS.RPL is the CPL.
                        c.cpl = (sel & 3) as u8;
                    }
                    1 => c.seg.ss = sel,
                    2 => c.seg.ds = sel,
                    3 => c.seg.es = sel,
                    4 => c.seg.fs = sel,
                    _ => c.seg.gs = sel,
                }
            }
            X86Reg::St(_) | X86Reg::Fpu(_) => fpu_changed = true,
            X86Reg::Xmm(i) => c.xmm[i as usize & 15] = regs.xmm[i as usize & 15],
            X86Reg::Mxcsr => c.mxcsr = q as u32,
            X86Reg::FsBase => c.seg.fs_base = q,
            X86Reg::GsBase => c.seg.gs_base = q,
            X86Reg::KGsBase => c.seg.kernel_gs_base = q,
            X86Reg::Cr0 => c.mmu.set_cr0(q | cr0::ET),
            X86Reg::Cr2 => c.sys.cr2 = q,
            X86Reg::Cr3 => c.mmu.set_cr3(q),
            X86Reg::Cr4 => c.mmu.set_cr4(q),
            X86Reg::Cr8 => c.sys.cr8 = q,
            // LMA is read-only and set: we only run in long mode.
            X86Reg::Efer => c.mmu.set_efer(q | efer::LMA),
        }
    }
    if fpu_changed {
        let f = &mut c.fpu;
        let [fcw, fsw, ftw, fiseg, fioff, foseg, fooff, fop] = regs.fpu;
        f.fcw = fcw as u16;
        f.fsw = fsw as u16;
        f.ftw = ftw as u16;
        f.fip = (u64::from(fiseg) << 32) | u64::from(fioff);
        f.fdp = (u64::from(foseg) << 32) | u64::from(fooff);
        f.fop = fop as u16;
        // ST(i) is R[(TOP + i) mod 8] with the TOP just written.
        let top = f.top();
        for (i, &st) in regs.st.iter().enumerate() {
            f.regs[(top + i) & 7] = st & MASK80;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CpuConfig, Gpr};

    fn cpu() -> Cpu {
        Cpu::new(CpuConfig { ram_size: 1 << 20 }).unwrap()
    }

    #[test]
    fn capture_uses_gdb_order_and_the_x87_stack_view() {
        let mut cpu = cpu();
        cpu.set_gpr(Gpr::Rbx, 0xb);
        cpu.set_gpr(Gpr::Rsp, 0x5);
        cpu.set_fs_base(0x1234);
        {
            let f = &mut cpu.core_mut().fpu;
            f.fsw = 6 << 11; // TOP = 6
            f.regs[6] = 0x3fff_8000_0000_0000_0000; // 1.0 in R6 = ST(0)
            f.regs[7] = 0x4000_8000_0000_0000_0000; // 2.0 in R7 = ST(1)
            f.fip = 0x1_2345_6789;
        }
        let r = capture(&cpu);
        assert_eq!(r.get(X86Reg::Gpr(1)), 0xb, "gdb reg 1 is rbx");
        assert_eq!(r.get(X86Reg::Gpr(7)), 0x5, "gdb reg 7 is rsp");
        assert_eq!(r.get(X86Reg::FsBase), 0x1234);
        assert_eq!(r.st[0], 0x3fff_8000_0000_0000_0000);
        assert_eq!(r.st[1], 0x4000_8000_0000_0000_0000);
        assert_eq!((r.fpu[3], r.fpu[4]), (1, 0x2345_6789));
        assert_eq!(r.eflags, 0x202);
        assert_eq!(r.cr3, cpu.core().mmu.cr3());
    }

    #[test]
    fn apply_round_trips_and_writes_only_changes() {
        let mut cpu = cpu();
        let gen = cpu.core().mmu.generation();
        let mut r = capture(&cpu);
        apply(&mut cpu, &r).unwrap();
        assert_eq!(cpu.core().mmu.generation(), gen, "no TLB flush for a no-op");
        r.set(X86Reg::Gpr(0), 42);
        r.set(X86Reg::Eflags, 0x4_0aff);
        r.set(X86Reg::St(0), 0x3fff_8000_0000_0000_0000);
        r.set(X86Reg::Fpu(1), 3 << 11);
        r.set(X86Reg::Cr8, 7);
        apply(&mut cpu, &r).unwrap();
        assert_eq!(cpu.gpr(Gpr::Rax), 42);
        // Reserved bits 3 and 5 cleared, bit 1 forced.
        assert_eq!(cpu.rflags(), 0x4_0ad7 & !0x28 | 2);
        assert_eq!(cpu.core().fpu.regs[3], 0x3fff_8000_0000_0000_0000);
        assert_eq!(cpu.core().sys.cr8, 7);
        assert_eq!(capture(&cpu), {
            let mut want = r.clone();
            want.eflags = 0x4_0ad7 & !0x28 | 2;
            want
        });
    }

    #[test]
    fn apply_rejects_what_the_cpu_rejects_and_writes_nothing() {
        let mut cpu = cpu();
        let before = capture(&cpu);
        let bad: [(X86Reg, u128); 9] = [
            (X86Reg::Cr0, before.cr0 as u128 & !(cr0::PG as u128)),
            (X86Reg::Cr0, before.cr0 as u128 | 1 << 32),
            (X86Reg::Cr3, 1 << 40),
            (X86Reg::Cr4, before.cr4 as u128 & !(cr4::PAE as u128)),
            (X86Reg::Cr8, 16),
            (X86Reg::Efer, 0),
            (X86Reg::Mxcsr, 0x1_0000),
            (X86Reg::FsBase, 0x8000_0000_0000),
            (X86Reg::Seg(0), 0x1_0000),
        ];
        for (reg, v) in bad {
            let mut r = before.clone();
            r.set(X86Reg::Gpr(0), 99);
            r.set(reg, v);
            assert_eq!(apply(&mut cpu, &r), Err(reg), "{reg:?} = {v:#x}");
            assert_eq!(capture(&cpu), before);
        }
    }

    #[test]
    fn cr_and_cs_writes_go_through_their_setters() {
        let mut cpu = cpu();
        let gen = cpu.core().mmu.generation();
        let mut r = capture(&cpu);
        r.cr3 += 0x1000;
        r.efer &= !(efer::LMA);
        r.seg[0] = 0x08;
        apply(&mut cpu, &r).unwrap();
        assert_eq!(cpu.core().mmu.cr3(), r.cr3);
        assert_ne!(
            cpu.core().mmu.generation(),
            gen,
            "CR3 write flushed the TLB"
        );
        assert_ne!(cpu.core().mmu.efer() & efer::LMA, 0, "LMA stays set");
        assert_eq!(cpu.core().cpl, 0);
    }
}
