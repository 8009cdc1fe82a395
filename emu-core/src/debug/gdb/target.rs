//! `impl Target` for any [`Debuggee`] (the machine or a library-mode CPU):
//! registers through [`super::regs`], memory by virtual address through the
//! current page tables (every mapped page whatever its protection, SMAP
//! included; one page at a time; without touching A/D bits or the TLB;
//! writes invalidate decoded code), and resume/step requests recorded for
//! the event loop in [`super`].

use std::convert::Infallible;

use gdbstub::common::{Pid, Signal};
use gdbstub::stub::SingleThreadStopReason;
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{BreakpointsOps, WatchKind as GdbWatchKind};
use gdbstub::target::ext::extended_mode::{
    Args, AttachKind, ExtendedMode, ExtendedModeOps, ShouldTerminate,
};
use gdbstub::target::{Target, TargetError, TargetResult};

use super::arch::{LockstepX86_64, X86Reg, X86Regs};
use super::breakpoints::DebugPoints;
use super::regs;
use crate::cpu::debug::WatchKind;
use crate::debug::{Debuggee, StopEvent};
use crate::memory::PAGE_SIZE;

/// EFAULT: the reply gdb turns into "Cannot access memory at address …".
const EFAULT: u8 = 14;
/// EINVAL: a register value the CPU would reject.
const EINVAL: u8 = 22;

/// What the event loop does when gdb resumes the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMode {
    /// Run until an event (in chunks, polling the connection in between).
    Continue,
    /// Execute one instruction.
    Step,
}

/// A [`Debuggee`] driven by gdb.
pub struct GdbTarget<'a, D> {
    pub(super) debuggee: &'a mut D,
    pub(super) points: DebugPoints,
    pub(super) resume: ResumeMode,
}

impl<D> std::fmt::Debug for GdbTarget<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GdbTarget")
            .field("points", &self.points)
            .field("resume", &self.resume)
            .finish_non_exhaustive()
    }
}

impl<'a, D: Debuggee> GdbTarget<'a, D> {
    /// A target with no breakpoints, stopped.
    pub fn new(debuggee: &'a mut D) -> Self {
        Self {
            debuggee,
            points: DebugPoints::default(),
            resume: ResumeMode::Continue,
        }
    }

    /// Runs up to `max_instructions` and says what gdb must be told, if
    /// anything. A breakpoint at the address where the budget ran out
    /// counts as hit (the next `Cpu::run` would start there and skip it).
    pub fn run_chunk(&mut self, max_instructions: u64) -> Option<SingleThreadStopReason<u64>> {
        let before = self.debuggee.cpu().instructions_retired();
        let event = match self.debuggee.run_for(max_instructions) {
            Some(event) => event,
            None => {
                let cpu = self.debuggee.cpu();
                let at_bp = cpu.breakpoints().binary_search(&cpu.rip()).is_ok();
                if self.resume == ResumeMode::Step || cpu.instructions_retired() == before || !at_bp
                {
                    return None;
                }
                StopEvent::Breakpoint
            }
        };
        Some(self.stop_reason(event))
    }

    fn stop_reason(&self, event: StopEvent) -> SingleThreadStopReason<u64> {
        match event {
            StopEvent::Breakpoint => {
                let rip = self.debuggee.cpu().rip();
                if !self.points.has_sw(rip) && self.points.has_hw(rip) {
                    SingleThreadStopReason::HwBreak(())
                } else {
                    SingleThreadStopReason::SwBreak(())
                }
            }
            StopEvent::Watchpoint(hit) => SingleThreadStopReason::Watch {
                tid: (),
                kind: match hit.kind {
                    WatchKind::Write => GdbWatchKind::Write,
                    WatchKind::Read => GdbWatchKind::Read,
                    WatchKind::Access => GdbWatchKind::ReadWrite,
                },
                addr: hit.addr,
            },
            StopEvent::Signal(s) => SingleThreadStopReason::Signal(Signal(s)),
            StopEvent::Exited(code) => SingleThreadStopReason::Exited(code),
            StopEvent::Terminated(s) => SingleThreadStopReason::Terminated(Signal(s)),
        }
    }

    /// Whether the page holding `vaddr` is mapped to RAM.
    fn mapped(&self, vaddr: u64) -> bool {
        let mut b = [0u8; 1];
        self.debuggee.cpu().read_virt(vaddr, &mut b).is_ok()
    }
}

impl<D: Debuggee> Target for GdbTarget<'_, D> {
    type Arch = LockstepX86_64;
    type Error = Infallible;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_extended_mode(&mut self) -> Option<ExtendedModeOps<'_, Self>> {
        Some(self)
    }
}

/// Only the part of extended mode that makes `kill` clean: gdb sends
/// `vKill` even to a plain `target remote`, and without extended mode the
/// stub would hang up without the `OK` gdb waits for. There is one
/// program, already running: no `run`, `attach` or restart.
impl<D: Debuggee> ExtendedMode for GdbTarget<'_, D> {
    fn run(&mut self, _filename: Option<&[u8]>, _args: Args<'_, '_>) -> TargetResult<Pid, Self> {
        Err(TargetError::NonFatal)
    }

    fn attach(&mut self, _pid: Pid) -> TargetResult<(), Self> {
        Err(TargetError::NonFatal)
    }

    fn query_if_attached(&mut self, _pid: Pid) -> TargetResult<AttachKind, Self> {
        // Attached: quitting gdb detaches instead of killing.
        Ok(AttachKind::Attach)
    }

    fn kill(&mut self, _pid: Option<Pid>) -> TargetResult<ShouldTerminate, Self> {
        Ok(ShouldTerminate::Yes)
    }

    fn restart(&mut self) -> Result<(), Self::Error> {
        // `R` (extended-remote `run` again): nothing can be restarted.
        Ok(())
    }
}

impl<D: Debuggee> SingleThreadBase for GdbTarget<'_, D> {
    fn read_registers(&mut self, out: &mut X86Regs) -> TargetResult<(), Self> {
        *out = regs::capture(self.debuggee.cpu());
        Ok(())
    }

    fn write_registers(&mut self, new: &X86Regs) -> TargetResult<(), Self> {
        regs::apply(self.debuggee.cpu_mut(), new).map_err(|_| TargetError::Errno(EINVAL))
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, (), Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        // Page by page; a short read stops at the first unmapped page.
        let mut done = 0usize;
        while done < data.len() {
            let va = start.wrapping_add(done as u64);
            let n = ((PAGE_SIZE - (va & (PAGE_SIZE - 1))) as usize).min(data.len() - done);
            if self
                .debuggee
                .cpu()
                .read_virt(va, &mut data[done..done + n])
                .is_err()
            {
                break;
            }
            done += n;
        }
        if done == 0 && !data.is_empty() {
            return Err(TargetError::Errno(EFAULT));
        }
        Ok(done)
    }

    fn write_addrs(&mut self, start: u64, data: &[u8]) -> TargetResult<(), Self> {
        // All or nothing: every page must be mapped before any byte is written.
        let Some(last_byte) = (data.len() as u64).checked_sub(1) else {
            return Ok(());
        };
        let last = start.wrapping_add(last_byte) & !(PAGE_SIZE - 1);
        let mut page = start & !(PAGE_SIZE - 1);
        loop {
            if !self.mapped(page) {
                return Err(TargetError::Errno(EFAULT));
            }
            if page == last {
                break;
            }
            page = page.wrapping_add(PAGE_SIZE);
        }
        // Writes through the page tables ignoring write protection (as a
        // loader would) and invalidate any decoded code there.
        self.debuggee
            .cpu_mut()
            .write_virt(start, data)
            .map_err(|_| TargetError::Errno(EFAULT))
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> SingleRegisterAccess<()> for GdbTarget<'_, D> {
    fn read_register(&mut self, _: (), reg: X86Reg, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let n = regs::capture(self.debuggee.cpu()).read_bytes(reg, buf);
        if n == 0 {
            return Err(TargetError::NonFatal);
        }
        Ok(n)
    }

    fn write_register(&mut self, _: (), reg: X86Reg, val: &[u8]) -> TargetResult<(), Self> {
        let cpu = self.debuggee.cpu_mut();
        let mut r = regs::capture(cpu);
        r.write_bytes(reg, val)
            .map_err(|_| TargetError::Errno(EINVAL))?;
        regs::apply(cpu, &r).map_err(|_| TargetError::Errno(EINVAL))
    }
}

impl<D: Debuggee> SingleThreadResume for GdbTarget<'_, D> {
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        // Signals cannot be injected: the guest's own kernel (or the
        // embedder) decides what an exception means.
        self.resume = ResumeMode::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> SingleThreadSingleStep for GdbTarget<'_, D> {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.resume = ResumeMode::Step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debug::LibraryDebuggee;
    use crate::mmu::cr4;
    use crate::{Cpu, CpuConfig, Exit, Gpr, Prot, RunLimit};

    const CODE: u64 = 0x40_0000;

    fn cpu() -> Cpu {
        let mut cpu = Cpu::new(CpuConfig { ram_size: 1 << 20 }).unwrap();
        // Two mapped pages, then a hole.
        cpu.map(CODE, 0x2000, Prot::RX).unwrap();
        cpu.set_rip(CODE);
        cpu
    }

    #[test]
    fn memory_reads_cross_pages_and_stop_at_holes() {
        let mut cpu = cpu();
        cpu.write_virt(CODE + 0xffe, &[1, 2, 3, 4]).unwrap();
        let mut d = LibraryDebuggee::new(&mut cpu);
        let mut t = GdbTarget::new(&mut d);
        let mut buf = [0u8; 4];
        assert_eq!(t.read_addrs(CODE + 0xffe, &mut buf).ok(), Some(4));
        assert_eq!(buf, [1, 2, 3, 4]);
        assert_eq!(t.read_addrs(CODE + 0x1ffe, &mut buf).ok(), Some(2));
        assert!(matches!(
            t.read_addrs(CODE + 0x2000, &mut buf),
            Err(TargetError::Errno(EFAULT))
        ));
        assert!(matches!(
            t.read_addrs(0xffff_8000_0000_0000, &mut buf),
            Err(TargetError::Errno(EFAULT))
        ));
    }

    #[test]
    fn user_pages_stay_readable_under_smap() {
        let mut cpu = cpu();
        cpu.write_virt(CODE, &[0xaa]).unwrap();
        let c = cpu.core_mut();
        let cr4 = c.mmu.cr4() | cr4::SMAP;
        c.mmu.set_cr4(cr4);
        let mut d = LibraryDebuggee::new(&mut cpu);
        let mut t = GdbTarget::new(&mut d);
        let mut b = [0u8; 1];
        assert_eq!(t.read_addrs(CODE, &mut b).ok(), Some(1));
        assert_eq!(b, [0xaa]);
        assert!(t.write_addrs(CODE, &[0xbb]).is_ok());
    }

    #[test]
    fn writes_are_all_or_nothing_and_reach_decoded_code() {
        // mov eax, 1; int3
        let mut cpu = cpu();
        cpu.write_virt(CODE, &[0xb8, 1, 0, 0, 0, 0xcc]).unwrap();
        cpu.write_virt(CODE + 0x1ffe, &[7, 7]).unwrap();
        assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
        cpu.set_rip(CODE);
        let mut d = LibraryDebuggee::new(&mut cpu);
        let mut t = GdbTarget::new(&mut d);
        // Straddles the end of the mapping: refused, nothing written.
        assert!(matches!(
            t.write_addrs(CODE + 0x1ffe, &[9, 9, 9, 9]),
            Err(TargetError::Errno(EFAULT))
        ));
        // Patch the immediate of the already decoded `mov` (a read-only page).
        assert!(t.write_addrs(CODE + 1, &[2]).is_ok());
        assert!(t.write_addrs(CODE, &[]).is_ok());
        let mut tail = [0u8; 2];
        cpu.read_virt(CODE + 0x1ffe, &mut tail).unwrap();
        assert_eq!(tail, [7, 7]);
        assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
        assert_eq!(cpu.gpr(Gpr::Rax), 2, "the decode cache saw the write");
    }
}
