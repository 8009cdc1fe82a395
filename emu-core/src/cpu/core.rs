//! `Core`: the architectural state the instruction handlers operate on (GPRs,
//! RIP, RFLAGS, SSE and x87 state, segments, control registers through the
//! MMU) plus guest RAM, and the operand and memory helpers every handler uses.
//!
//! All guest memory accesses go through `read_*`/`write_*` here, which
//! translate through the MMU (one page at a time, both pages checked before a
//! page-crossing write) and notice writes to pages holding decoded code.

use iced_x86::{Instruction, OpKind, Register};

use super::code_map::CodeMap;
use super::exception::{Exception, Stop};
use super::flags::Flags;
use super::fpu::Fpu;
use super::regs;
use super::system_regs::{Io, NoIo, SystemRegs};
use crate::memory::GuestRam;
use crate::mmu::{Access, Mmu, Privilege};

/// Segment selectors and the FS/GS bases (the only segment bases used in 64-bit mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Segments {
    /// Selectors ES, CS, SS, DS, FS, GS.
    pub es: u16,
    /// Code segment selector; its RPL is the CPL.
    pub cs: u16,
    /// Stack segment selector.
    pub ss: u16,
    /// Data segment selector.
    pub ds: u16,
    /// FS selector.
    pub fs: u16,
    /// GS selector.
    pub gs: u16,
    /// FS base (IA32_FS_BASE).
    pub fs_base: u64,
    /// GS base (IA32_GS_BASE).
    pub gs_base: u64,
    /// IA32_KERNEL_GS_BASE (swapped by `swapgs`).
    pub kernel_gs_base: u64,
}

/// The CPU state plus memory.
#[derive(Debug)]
pub struct Core {
    /// RAX..R15 in encoding order.
    pub gpr: [u64; 16],
    /// The instruction pointer. While a handler runs it already holds the
    /// address of the next instruction.
    pub rip: u64,
    /// RFLAGS.
    pub flags: Flags,
    /// XMM0..XMM15.
    pub xmm: [u128; 16],
    /// MXCSR.
    pub mxcsr: u32,
    /// x87 state.
    pub fpu: Fpu,
    /// Segment registers.
    pub seg: Segments,
    /// Current privilege level (CS.RPL).
    pub cpl: u8,
    /// Paging and the TLB (CR0, CR3, CR4 and EFER live there).
    pub mmu: Mmu,
    /// Guest physical RAM.
    pub ram: GuestRam,
    /// Physical pages that hold decoded code, and their generations.
    pub code: CodeMap,
    /// Set by an instruction after which the run loop must leave the block
    /// and re-check its conditions: a store hit a code page, a watchpoint
    /// fired, or RFLAGS.IF went from 0 to 1 (an interrupt may be due).
    pub end_block: bool,
    /// Instructions retired so far.
    pub icount: u64,
    /// Virtual cycles on top of `icount` (event costs); TSC = icount + extra.
    pub extra_cycles: u64,
    /// `syscall` stops the run with `Exit::Syscall` instead of using LSTAR.
    pub syscall_exits: bool,
    /// Exceptions and interrupts are delivered through the IDT (system
    /// mode) instead of stopping the run (library mode).
    pub deliver_exceptions: bool,
    /// Descriptor tables, TSS, syscall MSRs, CR2, CR8.
    pub sys: SystemRegs,
    /// Ports, device MSRs and interrupt lines.
    pub io: Box<dyn Io>,
    /// Set by `ea` when an SS-relative operand (RSP/RBP base) has a
    /// non-canonical address: the access then raises #SS(0), not #GP(0).
    pub stack_fault_pending: std::cell::Cell<bool>,
    /// Debugger watchpoints (empty in normal runs: one length check per access).
    pub watchpoints: Vec<super::debug::Watchpoint>,
    /// The first watchpoint hit by the current instruction.
    pub watch_hit: Option<super::debug::WatchHit>,
}

/// A value read from or written to a sized operand.
pub type Width = u32;

impl Core {
    /// A core with reset-like state over `ram`.
    pub fn new(ram: GuestRam) -> Self {
        let pages = (ram.size() / 4096) as usize;
        Self {
            gpr: [0; 16],
            rip: 0,
            flags: Flags::default(),
            xmm: [0; 16],
            mxcsr: 0x1f80,
            fpu: Fpu::default(),
            seg: Segments::default(),
            cpl: 0,
            mmu: Mmu::new(),
            ram,
            code: CodeMap::new(pages),
            end_block: false,
            icount: 0,
            extra_cycles: 0,
            syscall_exits: true,
            deliver_exceptions: false,
            sys: SystemRegs::default(),
            io: Box::new(NoIo),
            stack_fault_pending: std::cell::Cell::new(false),
            watchpoints: Vec::new(),
            watch_hit: None,
        }
    }

    /// The privilege of data accesses at the current CPL.
    #[inline(always)]
    pub fn privilege(&self) -> Privilege {
        if self.cpl == 3 {
            Privilege::User
        } else {
            Privilege::Supervisor
        }
    }

    /// The virtual TSC: retired instructions plus event costs.
    #[inline]
    pub fn tsc(&self) -> u64 {
        self.icount.wrapping_add(self.extra_cycles)
    }

    // ----- registers -------------------------------------------------------

    /// Reads a general-purpose register operand.
    #[inline(always)]
    pub fn reg(&self, r: Register) -> u64 {
        regs::read(&self.gpr, r)
    }

    /// Writes a general-purpose register operand (sub-register rules applied).
    #[inline(always)]
    pub fn set_reg(&mut self, r: Register, v: u64) {
        regs::write(&mut self.gpr, r, v);
    }

    /// Reads GPR operand `r` whose width `W` (8, 16, 32 or 64 bits) is known
    /// at resolve time; 32- and 64-bit registers index the file directly.
    #[inline(always)]
    pub fn reg_w<const W: u32>(&self, r: Register) -> u64 {
        match W {
            64 => self.gpr[(r as usize).wrapping_sub(Register::RAX as usize) & 15],
            32 => self.gpr[(r as usize).wrapping_sub(Register::EAX as usize) & 15] & 0xffff_ffff,
            _ => self.reg(r),
        }
    }

    /// Writes GPR operand `r` of width `W` (see [`Core::reg_w`]); 32-bit
    /// writes zero-extend, 8- and 16-bit writes merge.
    #[inline(always)]
    pub fn set_reg_w<const W: u32>(&mut self, r: Register, v: u64) {
        match W {
            64 => self.gpr[(r as usize).wrapping_sub(Register::RAX as usize) & 15] = v,
            32 => {
                self.gpr[(r as usize).wrapping_sub(Register::EAX as usize) & 15] = v & 0xffff_ffff;
            }
            _ => self.set_reg(r, v),
        }
    }

    // ----- memory ------------------------------------------------------------

    /// Translates virtual `addr` for a data `access` at the current CPL into a
    /// guest physical address (bulk operations translate once per page).
    #[inline(always)]
    pub(crate) fn translate(&mut self, addr: u64, access: Access) -> Result<u64, Exception> {
        let p = self.privilege();
        match self.mmu.translate(&mut self.ram, addr, access, p) {
            Ok(phys) => Ok(phys),
            Err(e) => Err(self.stack_fault_for(e)),
        }
    }

    /// A non-canonical SS-relative access is #SS(0) rather than #GP(0) (SDM
    /// Vol. 3A, 6.15 "Interrupt 12").
    #[cold]
    fn stack_fault_for(&self, e: Exception) -> Exception {
        if e == Exception::GeneralProtection(0) && self.stack_fault_pending.replace(false) {
            Exception::StackFault(0)
        } else {
            e
        }
    }

    /// Reads a quadword as a supervisor-mode (implicit) access: descriptor
    /// tables, the TSS, interrupt frames.
    pub fn read_u64_sys(&mut self, addr: u64) -> Result<u64, Exception> {
        let cpl = std::mem::replace(&mut self.cpl, 0);
        let r = self.read_u64(addr);
        self.cpl = cpl;
        r
    }

    /// Writes a quadword as a supervisor-mode (implicit) access.
    pub fn write_u64_sys(&mut self, addr: u64, v: u64) -> Result<(), Exception> {
        let cpl = std::mem::replace(&mut self.cpl, 0);
        let r = self.write_u64(addr, v);
        self.cpl = cpl;
        r
    }

    /// Copies RFLAGS.AC into the MMU (SMAP); call after any RFLAGS change
    /// that can flip AC (popf, iretq, sysret, stac, clac, delivery).
    #[inline]
    pub fn sync_ac(&mut self) {
        let ac = self.flags.bit(super::flags::bits::AC);
        self.mmu.set_ac(ac);
    }

    /// Reads `N` bytes at virtual `addr`.
    #[inline(always)]
    pub fn read_bytes<const N: usize>(&mut self, addr: u64) -> Result<[u8; N], Exception> {
        let phys = self.translate(addr, Access::Read)?;
        if !self.watchpoints.is_empty() {
            self.check_watch(addr, N as u64, false);
        }
        if (addr & 0xfff) as usize + N <= 4096 {
            Ok(self.ram.read_array::<N>(phys).unwrap_or([0xff; N]))
        } else {
            self.read_crossing::<N>(addr, phys)
        }
    }

    #[cold]
    fn read_crossing<const N: usize>(
        &mut self,
        addr: u64,
        phys: u64,
    ) -> Result<[u8; N], Exception> {
        let first = 4096 - (addr & 0xfff) as usize;
        let second = addr.wrapping_add(first as u64);
        let phys2 = self.translate(second, Access::Read)?;
        let mut out = [0xffu8; N];
        for (i, b) in out.iter_mut().enumerate() {
            let p = if i < first {
                phys + i as u64
            } else {
                phys2 + (i - first) as u64
            };
            if let Some(s) = self.ram.slice(p, 1) {
                *b = s[0];
            }
        }
        Ok(out)
    }

    /// Writes `N` bytes at virtual `addr`. Both pages of a crossing write are
    /// translated before any byte is written, so a fault leaves memory intact.
    #[inline(always)]
    pub fn write_bytes<const N: usize>(
        &mut self,
        addr: u64,
        bytes: [u8; N],
    ) -> Result<(), Exception> {
        let phys = self.translate(addr, Access::Write)?;
        if !self.watchpoints.is_empty() {
            self.check_watch(addr, N as u64, true);
        }
        if (addr & 0xfff) as usize + N <= 4096 {
            self.note_write(phys);
            self.ram.write_array(phys, bytes);
            Ok(())
        } else {
            self.write_crossing(addr, phys, bytes)
        }
    }

    #[cold]
    fn write_crossing<const N: usize>(
        &mut self,
        addr: u64,
        phys: u64,
        bytes: [u8; N],
    ) -> Result<(), Exception> {
        let first = 4096 - (addr & 0xfff) as usize;
        let second = addr.wrapping_add(first as u64);
        let phys2 = self.translate(second, Access::Write)?;
        self.note_write(phys);
        self.note_write(phys2);
        for (i, &b) in bytes.iter().enumerate() {
            let p = if i < first {
                phys + i as u64
            } else {
                phys2 + (i - first) as u64
            };
            if let Some(s) = self.ram.slice_mut(p, 1) {
                s[0] = b;
            }
        }
        Ok(())
    }

    /// Records the first watchpoint that `[addr, addr + len)` triggers; the
    /// run loop reports it after the instruction completes (a trap, as #DB).
    #[cold]
    fn check_watch(&mut self, addr: u64, len: u64, write: bool) {
        if self.watch_hit.is_some() {
            return;
        }
        if let Some(w) = self
            .watchpoints
            .iter()
            .find(|w| w.triggers(addr, len, write))
        {
            self.watch_hit = Some(super::debug::WatchHit {
                addr: w.addr,
                kind: w.kind,
            });
            self.end_block = true;
        }
    }

    /// Records a store to physical `phys`: invalidates decoded code there.
    /// Bulk stores call it once per physical page they touch.
    #[inline(always)]
    pub(crate) fn note_write(&mut self, phys: u64) {
        if self.code.is_code(phys) {
            self.code.invalidate(phys);
            self.end_block = true;
        }
    }

    /// Checks that `[addr, addr + len)` is writable without writing (for
    /// multi-part stores that must fault before changing anything). Like a
    /// split access, a fault on the second page reports its first byte.
    pub fn probe_write(&mut self, addr: u64, len: u64) -> Result<(), Exception> {
        self.translate(addr, Access::Write)?;
        let last = addr.wrapping_add(len.saturating_sub(1));
        if last >> 12 != addr >> 12 {
            // The fault address is the first byte of the second page.
            self.translate(last & !0xfff, Access::Write)?;
        }
        Ok(())
    }

    /// Reads a byte.
    #[inline(always)]
    pub fn read_u8(&mut self, addr: u64) -> Result<u8, Exception> {
        Ok(self.read_bytes::<1>(addr)?[0])
    }
    /// Reads a little-endian word.
    #[inline(always)]
    pub fn read_u16(&mut self, addr: u64) -> Result<u16, Exception> {
        self.read_bytes(addr).map(u16::from_le_bytes)
    }
    /// Reads a little-endian doubleword.
    #[inline(always)]
    pub fn read_u32(&mut self, addr: u64) -> Result<u32, Exception> {
        self.read_bytes(addr).map(u32::from_le_bytes)
    }
    /// Reads a little-endian quadword.
    #[inline(always)]
    pub fn read_u64(&mut self, addr: u64) -> Result<u64, Exception> {
        self.read_bytes(addr).map(u64::from_le_bytes)
    }
    /// Reads a little-endian 128-bit value.
    #[inline(always)]
    pub fn read_u128(&mut self, addr: u64) -> Result<u128, Exception> {
        self.read_bytes(addr).map(u128::from_le_bytes)
    }
    /// Writes a byte.
    #[inline(always)]
    pub fn write_u8(&mut self, addr: u64, v: u8) -> Result<(), Exception> {
        self.write_bytes(addr, [v])
    }
    /// Writes a little-endian word.
    #[inline(always)]
    pub fn write_u16(&mut self, addr: u64, v: u16) -> Result<(), Exception> {
        self.write_bytes(addr, v.to_le_bytes())
    }
    /// Writes a little-endian doubleword.
    #[inline(always)]
    pub fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), Exception> {
        self.write_bytes(addr, v.to_le_bytes())
    }
    /// Writes a little-endian quadword.
    #[inline(always)]
    pub fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Exception> {
        self.write_bytes(addr, v.to_le_bytes())
    }
    /// Writes a little-endian 128-bit value.
    #[inline(always)]
    pub fn write_u128(&mut self, addr: u64, v: u128) -> Result<(), Exception> {
        self.write_bytes(addr, v.to_le_bytes())
    }

    /// Reads `bytes` (1, 2, 4 or 8) bytes, zero-extended.
    #[inline(always)]
    pub fn read_sized(&mut self, addr: u64, bytes: usize) -> Result<u64, Exception> {
        match bytes {
            1 => self.read_u8(addr).map(u64::from),
            2 => self.read_u16(addr).map(u64::from),
            4 => self.read_u32(addr).map(u64::from),
            _ => self.read_u64(addr),
        }
    }

    /// Writes the low `bytes` (1, 2, 4 or 8) bytes of `v`.
    #[inline(always)]
    pub fn write_sized(&mut self, addr: u64, bytes: usize, v: u64) -> Result<(), Exception> {
        match bytes {
            1 => self.write_u8(addr, v as u8),
            2 => self.write_u16(addr, v as u16),
            4 => self.write_u32(addr, v as u32),
            _ => self.write_u64(addr, v),
        }
    }

    /// Reads an arbitrary-length range (slow path: fxsave areas, string ops).
    pub fn read_slice(&mut self, addr: u64, out: &mut [u8]) -> Result<(), Exception> {
        for (i, b) in out.iter_mut().enumerate() {
            *b = self.read_u8(addr.wrapping_add(i as u64))?;
        }
        Ok(())
    }

    /// Writes an arbitrary-length range after checking all of it is writable.
    pub fn write_slice(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        let len = data.len() as u64;
        let mut page = addr & !0xfff;
        let end = addr.wrapping_add(len);
        while len > 0 && page != (end.wrapping_sub(1) & !0xfff).wrapping_add(0x1000) {
            self.translate(page.max(addr), Access::Write)?;
            page = page.wrapping_add(0x1000);
        }
        for (i, &b) in data.iter().enumerate() {
            self.write_u8(addr.wrapping_add(i as u64), b)?;
        }
        Ok(())
    }

    // ----- operands ------------------------------------------------------

    /// The effective (linear) address of the memory operand of `i`: base +
    /// index * scale + displacement (RIP-relative already resolved by the
    /// decoder), truncated for 32-bit address size, plus the FS/GS base.
    #[inline(always)]
    pub fn ea(&self, i: &Instruction) -> u64 {
        let mut addr = i.memory_displacement64();
        let base = i.memory_base();
        let index = i.memory_index();
        let mut addr32 = false;
        if base != Register::None && base != Register::RIP {
            if base == Register::EIP {
                addr32 = true;
            } else {
                addr = addr.wrapping_add(self.reg(base));
                addr32 = base.size() == 4;
            }
        }
        if index != Register::None {
            addr = addr.wrapping_add(self.reg(index).wrapping_mul(i.memory_index_scale() as u64));
            addr32 |= index.size() == 4;
        }
        if addr32 {
            addr &= 0xffff_ffff;
        }
        match i.memory_segment() {
            Register::FS => addr.wrapping_add(self.seg.fs_base),
            Register::GS => addr.wrapping_add(self.seg.gs_base),
            // CS/DS/ES/SS overrides are ignored in 64-bit mode: RSP/RBP-based
            // operands use SS, whose non-canonical accesses raise #SS.
            _ => {
                let stack = matches!(
                    base,
                    Register::RSP | Register::RBP | Register::ESP | Register::EBP
                );
                if stack && !crate::mmu::is_canonical(addr) {
                    self.stack_fault_pending.set(true);
                }
                addr
            }
        }
    }

    /// Reads memory operand `n` of a read-modify-write instruction: the
    /// access is checked for writing first, so a read-only or absent page
    /// faults with the W bit set, as on hardware.
    #[inline(always)]
    pub fn read_op_rmw(&mut self, i: &Instruction, n: u32) -> Result<u64, Exception> {
        match i.op_kind(n) {
            OpKind::Memory => {
                let addr = self.ea(i);
                let bytes = i.memory_size().size();
                self.probe_write(addr, bytes as u64)?;
                self.read_sized(addr, bytes)
            }
            _ => self.read_op(i, n),
        }
    }

    /// The width in bytes of operand `n` (register size or memory size).
    #[inline(always)]
    pub fn op_bytes(i: &Instruction, n: u32) -> usize {
        match i.op_kind(n) {
            OpKind::Register => i.op_register(n).size(),
            OpKind::Memory => i.memory_size().size(),
            OpKind::Immediate8 => 1,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
            OpKind::Immediate32 | OpKind::Immediate8to32 => 4,
            _ => 8,
        }
    }

    /// Reads integer operand `n` (register, memory or immediate), zero-extended
    /// from its width (immediates come sign-extended to 64 bits).
    #[inline(always)]
    pub fn read_op(&mut self, i: &Instruction, n: u32) -> Result<u64, Exception> {
        match i.op_kind(n) {
            OpKind::Register => Ok(self.reg(i.op_register(n))),
            OpKind::Memory => {
                let addr = self.ea(i);
                self.read_sized(addr, i.memory_size().size())
            }
            _ => Ok(i.immediate(n)),
        }
    }

    /// Writes integer operand `n` (register or memory) with its width.
    #[inline(always)]
    pub fn write_op(&mut self, i: &Instruction, n: u32, v: u64) -> Result<(), Exception> {
        match i.op_kind(n) {
            OpKind::Register => {
                self.set_reg(i.op_register(n), v);
                Ok(())
            }
            _ => {
                let addr = self.ea(i);
                self.write_sized(addr, i.memory_size().size(), v)
            }
        }
    }

    // ----- stack -------------------------------------------------------------

    /// Pushes a value of `bytes` (2 or 8) bytes.
    #[inline(always)]
    pub fn push(&mut self, v: u64, bytes: usize) -> Result<(), Exception> {
        let rsp = self.gpr[4].wrapping_sub(bytes as u64);
        if !crate::mmu::is_canonical(rsp) {
            return Err(Exception::StackFault(0));
        }
        self.write_sized(rsp, bytes, v)?;
        self.gpr[4] = rsp;
        Ok(())
    }

    /// Reads `bytes` (1, 2, 4 or 8) at the stack address `addr` (RSP- or
    /// RBP-based, SS-relative) without moving RSP: a non-canonical address
    /// is #SS(0), not #GP(0).
    #[inline(always)]
    pub fn read_stack(&mut self, addr: u64, bytes: usize) -> Result<u64, Exception> {
        if !crate::mmu::is_canonical(addr) {
            return Err(Exception::StackFault(0));
        }
        self.read_sized(addr, bytes)
    }

    /// Checks that `len` bytes at the stack address `addr` are writable
    /// (#SS(0) when non-canonical), without writing.
    pub fn probe_stack_write(&mut self, addr: u64, len: u64) -> Result<(), Exception> {
        if !crate::mmu::is_canonical(addr) {
            return Err(Exception::StackFault(0));
        }
        self.probe_write(addr, len)
    }

    /// Pops a value of `bytes` (2 or 8) bytes.
    #[inline(always)]
    pub fn pop(&mut self, bytes: usize) -> Result<u64, Exception> {
        let rsp = self.gpr[4];
        if !crate::mmu::is_canonical(rsp) {
            return Err(Exception::StackFault(0));
        }
        let v = self.read_sized(rsp, bytes)?;
        self.gpr[4] = self.gpr[4].wrapping_add(bytes as u64);
        Ok(v)
    }

    /// Raises #UD.
    #[inline]
    pub fn ud<T>(&self) -> Result<T, Stop> {
        Err(Stop::Fault(Exception::InvalidOpcode))
    }
}
