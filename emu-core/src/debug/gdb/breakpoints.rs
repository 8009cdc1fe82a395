//! gdb's breakpoints and watchpoints (`Z0`..`Z4`) mapped onto the CPU's
//! debugger breakpoints and watchpoints. Software and hardware breakpoints
//! are the same thing here (an address the run loop stops before): no guest
//! memory is patched, so reads of code show the real bytes and self-checking
//! or self-modifying guests are not disturbed. Both kinds are unlimited.
//!
//! gdb may insert the same address more than once (e.g. a `break` and an
//! `hbreak` at one place); each insertion is counted, and the CPU's sets are
//! rebuilt after every change.

use gdbstub::target::ext::breakpoints::{
    Breakpoints, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint,
    SwBreakpointOps, WatchKind as GdbWatchKind,
};
use gdbstub::target::TargetResult;

use super::target::GdbTarget;
use crate::cpu::debug::{WatchKind, Watchpoint};
use crate::cpu::Cpu;
use crate::debug::Debuggee;

/// The breakpoints and watchpoints gdb has inserted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebugPoints {
    sw: Vec<u64>,
    hw: Vec<u64>,
    watch: Vec<Watchpoint>,
}

fn remove_one<T: PartialEq>(v: &mut Vec<T>, x: &T) -> bool {
    match v.iter().position(|y| y == x) {
        Some(i) => {
            v.swap_remove(i);
            true
        }
        None => false,
    }
}

impl DebugPoints {
    /// Whether a software breakpoint is at `addr`.
    pub fn has_sw(&self, addr: u64) -> bool {
        self.sw.contains(&addr)
    }

    /// Whether a hardware breakpoint is at `addr`.
    pub fn has_hw(&self, addr: u64) -> bool {
        self.hw.contains(&addr)
    }

    /// Installs the current sets in the CPU.
    pub fn sync(&self, cpu: &mut Cpu) {
        let all: Vec<u64> = self.sw.iter().chain(&self.hw).copied().collect();
        cpu.set_breakpoints(&all);
        cpu.set_watchpoints(&self.watch);
    }

    /// Forgets everything and clears the CPU's sets (end of a session).
    pub fn clear(&mut self, cpu: &mut Cpu) {
        *self = Self::default();
        self.sync(cpu);
    }
}

fn watchpoint(addr: u64, len: u64, kind: GdbWatchKind) -> Watchpoint {
    Watchpoint {
        addr,
        len,
        kind: match kind {
            GdbWatchKind::Write => WatchKind::Write,
            GdbWatchKind::Read => WatchKind::Read,
            GdbWatchKind::ReadWrite => WatchKind::Access,
        },
    }
}

impl<D: Debuggee> GdbTarget<'_, D> {
    fn changed(&mut self, ok: bool) -> TargetResult<bool, Self> {
        self.points.sync(self.debuggee.cpu_mut());
        Ok(ok)
    }
}

impl<D: Debuggee> Breakpoints for GdbTarget<'_, D> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> SwBreakpoint for GdbTarget<'_, D> {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.points.sw.push(addr);
        self.changed(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let ok = remove_one(&mut self.points.sw, &addr);
        self.changed(ok)
    }
}

impl<D: Debuggee> HwBreakpoint for GdbTarget<'_, D> {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.points.hw.push(addr);
        self.changed(true)
    }

    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let ok = remove_one(&mut self.points.hw, &addr);
        self.changed(ok)
    }
}

impl<D: Debuggee> HwWatchpoint for GdbTarget<'_, D> {
    fn add_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: GdbWatchKind,
    ) -> TargetResult<bool, Self> {
        if len == 0 {
            return Ok(false);
        }
        self.points.watch.push(watchpoint(addr, len, kind));
        self.changed(true)
    }

    fn remove_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: GdbWatchKind,
    ) -> TargetResult<bool, Self> {
        let ok = remove_one(&mut self.points.watch, &watchpoint(addr, len, kind));
        self.changed(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debug::LibraryDebuggee;
    use crate::CpuConfig;

    #[test]
    fn insertions_are_counted_and_mirrored_in_the_cpu() {
        let mut cpu = Cpu::new(CpuConfig { ram_size: 1 << 20 }).unwrap();
        let mut d = LibraryDebuggee::new(&mut cpu);
        let mut t = GdbTarget::new(&mut d);
        assert_eq!(t.add_sw_breakpoint(0x10, 1).ok(), Some(true));
        assert_eq!(t.add_hw_breakpoint(0x10, 1).ok(), Some(true));
        assert_eq!(t.add_sw_breakpoint(0x20, 1).ok(), Some(true));
        assert_eq!(t.debuggee.cpu().breakpoints(), &[0x10, 0x20]);
        assert_eq!(t.remove_sw_breakpoint(0x10, 1).ok(), Some(true));
        assert!(t.points.has_hw(0x10) && !t.points.has_sw(0x10));
        assert_eq!(t.debuggee.cpu().breakpoints(), &[0x10, 0x20]);
        assert_eq!(t.remove_hw_breakpoint(0x10, 1).ok(), Some(true));
        assert_eq!(t.remove_hw_breakpoint(0x10, 1).ok(), Some(false));
        assert_eq!(t.debuggee.cpu().breakpoints(), &[0x20]);

        assert_eq!(
            t.add_hw_watchpoint(0x100, 8, GdbWatchKind::Write).ok(),
            Some(true)
        );
        assert_eq!(
            t.add_hw_watchpoint(0x100, 0, GdbWatchKind::Read).ok(),
            Some(false)
        );
        assert_eq!(
            t.remove_hw_watchpoint(0x100, 8, GdbWatchKind::Read).ok(),
            Some(false),
            "kind must match"
        );
        assert_eq!(t.debuggee.cpu().core().watchpoints.len(), 1);
        let mut points = t.points.clone();
        points.clear(t.debuggee.cpu_mut());
        assert!(t.debuggee.cpu().breakpoints().is_empty());
        assert!(t.debuggee.cpu().core().watchpoints.is_empty());
    }
}
