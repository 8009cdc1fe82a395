//! The x86-64 CPU: architectural state (`core`), decode cache, instruction
//! families (`exec`), and the public [`Cpu`] API with its run loop.
//!
//! The run loop looks up the basic block at RIP (decoding it on a miss) and
//! calls each cached instruction's handler in turn. It returns an [`Exit`]
//! when the instruction budget is spent, RIP reaches the stop address, or an
//! instruction faults or raises an event.

pub mod code_map;
pub mod core;
pub mod cpuid;
pub mod debug;
pub mod decode_cache;
pub mod exception;
pub mod exec;
pub mod flags;
pub mod fpu;
pub mod interrupt;
pub mod regs;
pub mod system_regs;
pub mod trace;

use self::core::Core;
use self::decode_cache::DecodeCache;
use self::exception::{Exception, Stop};
use crate::error::Error;
use crate::memory::{GuestRam, PAGE_SIZE};
use crate::mmu::builder::{self, FrameAllocator, Prot};
use crate::mmu::{cr0, cr4, efer, Access, Privilege};

pub use self::regs::Gpr;
pub use self::trace::{TraceRecord, Tracer};

/// Configuration of a [`Cpu`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuConfig {
    /// Guest RAM size in bytes (a multiple of 4096).
    pub ram_size: u64,
}

impl Default for CpuConfig {
    fn default() -> Self {
        Self { ram_size: 64 << 20 }
    }
}

/// Limits for one [`Cpu::run`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimit {
    /// Stop after this many retired instructions (counted from this call).
    pub max_instructions: u64,
    /// Stop when RIP reaches this address, before executing it.
    pub stop_at: Option<u64>,
}

impl Default for RunLimit {
    fn default() -> Self {
        Self {
            max_instructions: u64::MAX,
            stop_at: None,
        }
    }
}

/// Why [`Cpu::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// RIP reached `RunLimit::stop_at`.
    StopAddress,
    /// `RunLimit::max_instructions` retired.
    InstructionLimit,
    /// An instruction faulted; RIP points at it and it did not retire.
    Exception(Exception),
    /// `syscall` retired; RIP points after it. Handle it and run again.
    Syscall,
    /// `int3` retired; RIP points after it.
    Breakpoint,
    /// `int n` retired; RIP points after it.
    SoftwareInterrupt(u8),
    /// `hlt` retired (CPL 0 only) with no interrupt that could wake the CPU.
    Halt,
    /// A device asked the run to return (a port write, e.g. the exit port).
    Io,
    /// Exception delivery failed during a double fault: the CPU shut down.
    TripleFault,
    /// RIP reached a debugger breakpoint (before executing it).
    DebugBreakpoint,
    /// The last instruction accessed a watched range (it completed).
    Watchpoint(debug::WatchHit),
}

/// A deterministic x86-64 CPU with its own guest RAM.
///
/// ```
/// use emu_core::{Cpu, CpuConfig, Exit, Gpr, Prot, RunLimit};
///
/// let mut cpu = Cpu::new(CpuConfig::default()).unwrap();
/// // mov eax, 40; add eax, 2; int3
/// let code = [0xb8, 40, 0, 0, 0, 0x83, 0xc0, 2, 0xcc];
/// cpu.map(0x40_0000, 0x1000, Prot::RX).unwrap();
/// cpu.write_virt(0x40_0000, &code).unwrap();
/// cpu.set_rip(0x40_0000);
/// assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
/// assert_eq!(cpu.gpr(Gpr::Rax), 42);
/// assert_eq!(cpu.instructions_retired(), 3);
/// ```
pub struct Cpu {
    core: Core,
    cache: DecodeCache,
    frames: FrameAllocator,
    tracer: Option<Box<dyn Tracer>>,
    /// Debugger breakpoints, sorted.
    breakpoints: Vec<u64>,
}

impl std::fmt::Debug for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cpu")
            .field("rip", &format_args!("{:#x}", self.core.rip))
            .field("gpr", &self.core.gpr)
            .field("rflags", &format_args!("{:#x}", self.core.flags.rflags()))
            .field("icount", &self.core.icount)
            .finish_non_exhaustive()
    }
}

impl Cpu {
    /// A CPU in 64-bit mode at CPL 3 with paging on and an empty address space
    /// (use [`Cpu::map`] to add pages). RFLAGS = 0x202, MXCSR = 0x1f80, FCW = 0x37f.
    pub fn new(config: CpuConfig) -> Result<Self, Error> {
        let ram = GuestRam::new(config.ram_size)?;
        let mut frames = FrameAllocator::new(PAGE_SIZE, ram.size());
        let mut core = Core::new(ram);
        let pml4 = frames.alloc(&mut core.ram)?;
        core.mmu
            .set_efer(efer::SCE | efer::LME | efer::LMA | efer::NXE);
        core.mmu
            .set_cr4(cr4::PAE | cr4::PGE | cr4::OSFXSR | cr4::OSXMMEXCPT);
        core.mmu.set_cr3(pml4);
        core.mmu
            .set_cr0(cr0::PE | cr0::MP | cr0::ET | cr0::NE | cr0::WP | cr0::AM | cr0::PG);
        core.seg.cs = 0x33;
        core.seg.ss = 0x2b;
        core.cpl = 3;
        core.flags.set_rflags(0x202);
        Ok(Self {
            core,
            cache: DecodeCache::new(),
            frames,
            tracer: None,
            breakpoints: Vec::new(),
        })
    }

    /// A CPU over `ram_size` bytes of zeroed RAM with paging off and no
    /// page tables, for the machine's loader to set up (system use).
    pub fn new_bare(ram_size: u64) -> Result<Self, Error> {
        let ram = GuestRam::new(ram_size)?;
        let frames = FrameAllocator::new(ram.size(), ram.size());
        Ok(Self {
            core: Core::new(ram),
            cache: DecodeCache::new(),
            frames,
            tracer: None,
            breakpoints: Vec::new(),
        })
    }

    /// Maps `[vaddr, vaddr + len)` (page aligned) as user pages with `prot`,
    /// backed by fresh zeroed frames; already mapped pages only change protection.
    pub fn map(&mut self, vaddr: u64, len: u64, prot: Prot) -> Result<(), Error> {
        let cr3 = self.core.mmu.cr3();
        builder::map_range(&mut self.core.ram, &mut self.frames, cr3, vaddr, len, prot)?;
        self.core.mmu.flush_tlb();
        Ok(())
    }

    /// The physical address of any mapped `vaddr`: the supervisor view, or
    /// the user view for user pages that SMAP hides from the supervisor.
    fn host_phys(&self, vaddr: u64) -> Result<u64, Error> {
        let (mmu, ram) = (&self.core.mmu, &self.core.ram);
        mmu.probe(ram, vaddr, Access::Read, Privilege::Supervisor)
            .or_else(|| mmu.probe(ram, vaddr, Access::Read, Privilege::User))
            .ok_or(Error::NotMapped { addr: vaddr })
    }

    /// Writes guest memory through the page tables (ignoring write protection,
    /// as a loader would), invalidating any decoded code there.
    pub fn write_virt(&mut self, vaddr: u64, data: &[u8]) -> Result<(), Error> {
        let mut done = 0usize;
        while done < data.len() {
            let va = vaddr.wrapping_add(done as u64);
            let phys = self.host_phys(va)?;
            let n = ((PAGE_SIZE - (va & 0xfff)) as usize).min(data.len() - done);
            let ram_size = self.core.ram.size();
            let dst = self
                .core
                .ram
                .slice_mut(phys, n)
                .ok_or(Error::PhysOutOfRange {
                    addr: phys,
                    len: n as u64,
                    ram_size,
                })?;
            dst.copy_from_slice(&data[done..done + n]);
            self.core.code.invalidate(phys);
            done += n;
        }
        Ok(())
    }

    /// Reads guest memory through the page tables.
    pub fn read_virt(&self, vaddr: u64, out: &mut [u8]) -> Result<(), Error> {
        let mut done = 0usize;
        while done < out.len() {
            let va = vaddr.wrapping_add(done as u64);
            let phys = self.host_phys(va)?;
            let n = ((PAGE_SIZE - (va & 0xfff)) as usize).min(out.len() - done);
            let src = self.core.ram.slice(phys, n).ok_or(Error::PhysOutOfRange {
                addr: phys,
                len: n as u64,
                ram_size: self.core.ram.size(),
            })?;
            out[done..done + n].copy_from_slice(src);
            done += n;
        }
        Ok(())
    }

    /// Reads a general-purpose register.
    pub fn gpr(&self, r: Gpr) -> u64 {
        self.core.gpr[r as usize]
    }
    /// Writes a general-purpose register.
    pub fn set_gpr(&mut self, r: Gpr, v: u64) {
        self.core.gpr[r as usize] = v;
    }
    /// RIP.
    pub fn rip(&self) -> u64 {
        self.core.rip
    }
    /// Sets RIP.
    pub fn set_rip(&mut self, v: u64) {
        self.core.rip = v;
    }
    /// RFLAGS.
    pub fn rflags(&self) -> u64 {
        self.core.flags.rflags()
    }
    /// Sets RFLAGS (reserved bits are forced to their fixed values).
    pub fn set_rflags(&mut self, v: u64) {
        self.core.flags.set_rflags(v);
    }
    /// XMM register `i` (0..16).
    pub fn xmm(&self, i: usize) -> u128 {
        self.core.xmm[i & 15]
    }
    /// Sets XMM register `i` (0..16).
    pub fn set_xmm(&mut self, i: usize, v: u128) {
        self.core.xmm[i & 15] = v;
    }
    /// MXCSR.
    pub fn mxcsr(&self) -> u32 {
        self.core.mxcsr
    }
    /// Sets MXCSR (bits outside MXCSR_MASK are ignored).
    pub fn set_mxcsr(&mut self, v: u32) {
        self.core.mxcsr = v & fpu::MXCSR_MASK;
    }
    /// FS base.
    pub fn fs_base(&self) -> u64 {
        self.core.seg.fs_base
    }
    /// Sets the FS base.
    pub fn set_fs_base(&mut self, v: u64) {
        self.core.seg.fs_base = v;
    }
    /// GS base.
    pub fn gs_base(&self) -> u64 {
        self.core.seg.gs_base
    }
    /// Sets the GS base.
    pub fn set_gs_base(&mut self, v: u64) {
        self.core.seg.gs_base = v;
    }
    /// The x87, MXCSR and XMM state as a 512-byte FXSAVE64 image.
    pub fn fxsave_image(&self) -> [u8; 512] {
        fpu::fxsave_image(&self.core.fpu, self.core.mxcsr, &self.core.xmm)
    }
    /// Loads the x87, MXCSR and XMM state from an FXSAVE64 image. Fails with
    /// #GP(0) when the image's MXCSR has reserved bits set.
    pub fn fxrstor_image(&mut self, img: &[u8; 512]) -> Result<(), Exception> {
        let c = &mut self.core;
        fpu::fxrstor_image(img, &mut c.fpu, &mut c.mxcsr, &mut c.xmm)
            .map_err(|_| Exception::GeneralProtection(0))
    }
    /// Instructions retired since creation.
    pub fn instructions_retired(&self) -> u64 {
        self.core.icount
    }
    /// The virtual time-stamp counter.
    pub fn tsc(&self) -> u64 {
        self.core.tsc()
    }
    /// Installs (or removes) a per-instruction tracer. Tracing runs one
    /// instruction at a time and is much slower than normal execution.
    pub fn set_tracer(&mut self, tracer: Option<Box<dyn Tracer>>) {
        self.tracer = tracer;
    }
    /// Sets the debugger breakpoints: `run` stops with
    /// [`Exit::DebugBreakpoint`] before executing any of these addresses
    /// (except the instruction it starts at, so that it can resume).
    pub fn set_breakpoints(&mut self, addrs: &[u64]) {
        self.breakpoints = addrs.to_vec();
        self.breakpoints.sort_unstable();
        self.breakpoints.dedup();
    }

    /// The debugger breakpoints, sorted and without duplicates.
    pub fn breakpoints(&self) -> &[u64] {
        &self.breakpoints
    }

    /// Sets the watchpoints: `run` stops with [`Exit::Watchpoint`] after an
    /// instruction that accessed a watched range.
    pub fn set_watchpoints(&mut self, watchpoints: &[debug::Watchpoint]) {
        self.core.watchpoints = watchpoints.to_vec();
    }

    /// Number of basic blocks decoded so far (cache misses).
    pub fn decoded_blocks(&self) -> u64 {
        self.cache.decoded_blocks
    }

    /// Runs until a limit, a fault or an event. See [`Exit`].
    pub fn run(&mut self, limit: RunLimit) -> Exit {
        let plain = limit.stop_at.is_none()
            && self.tracer.is_none()
            && self.breakpoints.is_empty()
            && !self.core.deliver_exceptions;
        if plain {
            return self.run_plain(limit.max_instructions);
        }
        self.run_general(limit)
    }

    /// The run loop without stop address, tracer, breakpoints or interrupt
    /// delivery: only the instruction budget is checked between blocks.
    fn run_plain(&mut self, max_instructions: u64) -> Exit {
        let target = self.core.icount.saturating_add(max_instructions);
        let mut prev = u32::MAX;
        loop {
            let budget = target.saturating_sub(self.core.icount);
            if budget == 0 {
                return Exit::InstructionLimit;
            }
            let idx = match self.next_block(prev) {
                Ok(idx) => idx,
                Err(Some(exit)) => return exit,
                Err(None) => continue,
            };
            prev = idx;
            let b = &self.cache.blocks[idx as usize];
            let (start, n) = (b.start as usize, u64::from(b.len).min(budget) as usize);
            if let Some(exit) = self.execute(start, n) {
                return exit;
            }
        }
    }

    /// The run loop with every check: stop address, tracer, breakpoints,
    /// interrupt delivery.
    fn run_general(&mut self, limit: RunLimit) -> Exit {
        let target = self.core.icount.saturating_add(limit.max_instructions);
        let stop_at = limit.stop_at.unwrap_or(u64::MAX);
        let mut prev = u32::MAX;
        let entry = (self.core.rip, self.core.icount);
        loop {
            if self.core.icount >= target {
                return Exit::InstructionLimit;
            }
            if self.core.rip == stop_at {
                return Exit::StopAddress;
            }
            if !self.breakpoints.is_empty()
                && (self.core.rip, self.core.icount) != entry
                && self.breakpoints.binary_search(&self.core.rip).is_ok()
            {
                return Exit::DebugBreakpoint;
            }
            if self.core.deliver_exceptions {
                let rip = self.core.rip;
                if let Some(exit) = self.poll_interrupts() {
                    return exit;
                }
                if self.core.rip != rip {
                    // An interrupt was delivered: the handler's first
                    // instruction gets the stop and breakpoint checks.
                    continue;
                }
            }
            if self.tracer.is_some() {
                if let Some(exit) = self.traced_step() {
                    return exit;
                }
                continue;
            }
            let idx = match self.next_block(prev) {
                Ok(idx) => idx,
                Err(Some(exit)) => return exit,
                Err(None) => continue,
            };
            prev = idx;
            let b = &self.cache.blocks[idx as usize];
            let (start, len, b_lo, b_end) = (b.start as usize, b.len as usize, b.lo, b.end);
            let budget = target - self.core.icount;
            let mut n = (len as u64).min(budget) as usize;
            if stop_at >= b_lo && stop_at < b_end {
                // Stop address inside the block: run only the ops before it.
                let ops = &self.cache.ops[start..start + len];
                n = n.min(ops.iter().take_while(|op| op.insn.ip() != stop_at).count());
            }
            if self.core.deliver_exceptions {
                n = n.min(self.instructions_until_interrupt_check());
            }
            if !self.breakpoints.is_empty() {
                // Stop before any later instruction of the block with a breakpoint.
                let ops = &self.cache.ops[start + 1..start + len];
                let bps = &self.breakpoints;
                n = n.min(
                    1 + ops
                        .iter()
                        .take_while(|op| bps.binary_search(&op.insn.ip()).is_err())
                        .count(),
                );
            }
            if let Some(exit) = self.execute(start, n) {
                return exit;
            }
        }
    }

    /// The block to execute at RIP: through `prev`'s links, or a lookup
    /// (decoding on a miss). `Err(Some(exit))` ends the run; `Err(None)`
    /// means the fetch fault was delivered to the guest: look again.
    #[inline(always)]
    fn next_block(&mut self, prev: u32) -> Result<u32, Option<Exit>> {
        let rip = self.core.rip;
        let key = self.cache.link_key(&self.core);
        if let Some(idx) = self.cache.linked(prev, rip, key) {
            return Ok(idx);
        }
        match self.cache.block_at(&mut self.core) {
            Ok(idx) => {
                // Decoding may have cleared the cache: recompute the key.
                let key = self.cache.link_key(&self.core);
                self.cache.link(prev, rip, idx, key);
                Ok(idx)
            }
            Err(e) => Err(self.stop_exit(Stop::Fault(e), rip)),
        }
    }

    /// Executes `n` ops from arena index `start` (one block or its prefix);
    /// `Some` ends the run. Leaves the block early after a store to code, a
    /// watchpoint hit, or an event delivered to the guest.
    #[inline(always)]
    fn execute(&mut self, start: usize, n: usize) -> Option<Exit> {
        for op in &self.cache.ops[start..start + n] {
            self.core.rip = op.insn.next_ip();
            if let Err(stop) = (op.handler)(&mut self.core, &op.insn) {
                return self.stop_exit(stop, op.insn.ip());
            }
            self.core.icount += 1;
            if self.core.end_block {
                self.core.end_block = false;
                return self.core.watch_hit.take().map(Exit::Watchpoint);
            }
        }
        None
    }

    /// Executes one instruction with the tracer attached; `Some` ends the run.
    fn traced_step(&mut self) -> Option<Exit> {
        let b = match self.cache.block_at(&mut self.core) {
            Ok(b) => self.cache.blocks[b as usize],
            Err(e) => {
                if let Some(t) = self.tracer.as_mut() {
                    t.fault(self.core.rip, e);
                }
                return self.stop_exit(Stop::Fault(e), self.core.rip);
            }
        };
        let op = self.cache.ops[b.start as usize];
        let before = trace::Snapshot::take(&self.core);
        self.core.rip = op.insn.next_ip();
        let result = (op.handler)(&mut self.core, &op.insn);
        let exit = match result {
            Ok(()) => {
                self.core.icount += 1;
                self.core.end_block = false;
                None
            }
            Err(stop) => self.stop_exit(stop, op.insn.ip()),
        };
        let mut bytes = [0u8; 16];
        let len = op.insn.len().min(16);
        let _ = self.read_virt(op.insn.ip(), &mut bytes[..len]);
        let record = TraceRecord::new(&op.insn, &bytes[..len], &before, &self.core, exit);
        if let Some(t) = self.tracer.as_mut() {
            t.instruction(&record);
        }
        exit
    }

    /// Turns a handler's `Stop` into an `Exit`, or (in system mode) delivers
    /// it through the IDT and returns `None` so that execution continues.
    fn stop_exit(&mut self, stop: Stop, ip: u64) -> Option<Exit> {
        use self::interrupt::{raise, Event};
        let next = self.core.rip;
        self.core.stack_fault_pending.set(false);
        if let Stop::Fault(e) = stop {
            self.core.rip = ip;
            // A faulting instruction made no access: forget a watchpoint hit
            // recorded before its fault.
            self.core.watch_hit = None;
            if !self.core.deliver_exceptions {
                return Some(Exit::Exception(e));
            }
            return raise(&mut self.core, Event::Exception(e), ip, ip)
                .err()
                .map(|_| Exit::TripleFault);
        }
        self.core.icount += 1;
        let deliver = self.core.deliver_exceptions;
        let event = match stop {
            Stop::Fault(_) => unreachable!("handled above"),
            Stop::Syscall => return Some(Exit::Syscall),
            Stop::Io => return Some(Exit::Io),
            Stop::Breakpoint if deliver => Event::Exception(Exception::Breakpoint),
            Stop::Breakpoint => return Some(Exit::Breakpoint),
            Stop::SoftwareInterrupt(n) if deliver => Event::Software(n),
            Stop::SoftwareInterrupt(n) => return Some(Exit::SoftwareInterrupt(n)),
            Stop::Halt => return self.halt(),
        };
        raise(&mut self.core, event, next, ip)
            .err()
            .map(|_| Exit::TripleFault)
    }

    /// `hlt` in system mode: jump virtual time to the next device deadline
    /// (the interrupt is taken at the next check), or stop if none can come.
    fn halt(&mut self) -> Option<Exit> {
        let interruptible = self.core.flags.bit(flags::bits::IF);
        match self.core.io.next_deadline() {
            Some(deadline) if self.core.deliver_exceptions && interruptible => {
                let now = self.core.tsc();
                if deadline > now {
                    self.core.extra_cycles += deadline - now;
                }
                None
            }
            _ => Some(Exit::Halt),
        }
    }

    /// How many instructions may run before an interrupt could become
    /// deliverable (the timer deadline is reached with IF = 1, or an
    /// interrupt shadow ends), so that interrupts are taken at exactly the
    /// same instruction however a run is split into `run` calls or blocks.
    #[inline]
    fn instructions_until_interrupt_check(&self) -> usize {
        let c = &self.core;
        let mut n = usize::MAX;
        if c.sys.shadow_until > c.icount {
            n = (c.sys.shadow_until - c.icount) as usize;
        }
        if c.flags.bit(flags::bits::IF) {
            if let Some(deadline) = c.io.next_deadline() {
                let at = deadline.saturating_sub(c.extra_cycles);
                if at > c.icount {
                    n = n.min((at - c.icount).min(usize::MAX as u64) as usize);
                }
            }
        }
        n.max(1)
    }

    /// In system mode, takes a pending external interrupt if RFLAGS.IF allows.
    #[inline]
    fn poll_interrupts(&mut self) -> Option<Exit> {
        let c = &mut self.core;
        if !c.flags.bit(flags::bits::IF) || c.icount < c.sys.shadow_until {
            return None;
        }
        let tsc = c.tsc();
        let vector = c.io.pending_interrupt(tsc)?;
        let rip = c.rip;
        interrupt::raise(c, interrupt::Event::External(vector), rip, rip)
            .err()
            .map(|_| Exit::TripleFault)
    }

    /// Switches between library mode (faults, `syscall`, `int` stop the run:
    /// the default) and system mode (they go through the IDT and LSTAR, and
    /// device interrupts are taken), as the machine layer uses it.
    pub fn set_system_mode(&mut self, on: bool) {
        self.core.deliver_exceptions = on;
        self.core.syscall_exits = !on;
    }

    /// Attaches the machine's ports, device MSRs and interrupt lines.
    pub fn set_io(&mut self, io: Box<dyn system_regs::Io>) {
        self.core.io = io;
    }

    /// The whole architectural state, for the machine layer and debuggers.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Mutable architectural state. Change paging controls through the
    /// `core.mmu` setters so that the TLB is flushed as the SDM requires.
    pub fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}

#[cfg(test)]
mod system_tests;
#[cfg(test)]
mod tests;
