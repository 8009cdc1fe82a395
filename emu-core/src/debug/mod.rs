//! Debugging front ends over the CPU: what a debugger needs from "something
//! that runs x86-64 code" ([`Debuggee`]), implemented for the whole
//! [`Machine`] (system mode) and for a bare library-mode [`Cpu`]
//! ([`LibraryDebuggee`]), and the gdb remote stub ([`gdb`]) built on it.
//!
//! Breakpoints and watchpoints themselves live in the CPU's run loop
//! ([`Cpu::set_breakpoints`], [`Cpu::set_watchpoints`]): no guest memory is
//! ever patched, so a debugger session leaves the guest's bytes untouched.

pub mod gdb;

use crate::cpu::debug::WatchHit;
use crate::cpu::exception::Exception;
use crate::cpu::{Cpu, Exit, RunLimit};
use crate::machine::{Machine, MachineExit};
use emu_abi::ports::DebugExit;

/// Signal numbers (Linux / gdb numbering) used to describe guest events.
pub mod signal {
    /// Interrupt (the debugger's Ctrl-C).
    pub const SIGINT: u8 = 2;
    /// Illegal instruction (#UD).
    pub const SIGILL: u8 = 4;
    /// Trace/breakpoint trap (`int3`, #DB, #BP).
    pub const SIGTRAP: u8 = 5;
    /// Abort (kernel panic, refused boot).
    pub const SIGABRT: u8 = 6;
    /// Bus error (#AC).
    pub const SIGBUS: u8 = 7;
    /// Arithmetic exception (#DE, #MF, #XM).
    pub const SIGFPE: u8 = 8;
    /// Segmentation fault (#PF, #GP, #SS, #NP, triple fault).
    pub const SIGSEGV: u8 = 11;
    /// Stopped: the CPU halted with nothing that could wake it.
    pub const SIGSTOP: u8 = 19;
    /// Bad system call (an unserviced `syscall`, a bad exit-port value).
    pub const SIGSYS: u8 = 31;
}

/// Something the debugger must report: the run stopped for a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopEvent {
    /// RIP reached a debugger breakpoint (not yet executed).
    Breakpoint,
    /// The last instruction accessed a watched range.
    Watchpoint(WatchHit),
    /// A guest event, described as a signal (see [`signal`]); the state stays
    /// inspectable and the debugger may resume.
    Signal(u8),
    /// The program (or the machine) exited with this status: the session ends.
    Exited(u8),
    /// The program was killed by this signal: the session ends.
    Terminated(u8),
}

/// What a debugger needs from a running target: its CPU (registers,
/// memory, breakpoints) and a way to run it for a bounded time.
pub trait Debuggee {
    /// The CPU.
    fn cpu(&self) -> &Cpu;
    /// The CPU, mutably.
    fn cpu_mut(&mut self) -> &mut Cpu;
    /// Runs at most `max_instructions`; `None` when the budget was spent
    /// with nothing to report.
    fn run_for(&mut self, max_instructions: u64) -> Option<StopEvent>;
}

/// The signal gdb should see for a CPU exception.
pub fn exception_signal(e: Exception) -> u8 {
    match e {
        Exception::DivideError | Exception::X87Float | Exception::SimdFloat => signal::SIGFPE,
        Exception::Debug | Exception::Breakpoint => signal::SIGTRAP,
        Exception::InvalidOpcode | Exception::DeviceNotAvailable => signal::SIGILL,
        Exception::AlignmentCheck(_) => signal::SIGBUS,
        _ => signal::SIGSEGV,
    }
}

/// The default meaning of a library-mode [`Exit`] for a debugger (`None`:
/// keep running). [`LibraryDebuggee::new`] uses it for every exit; custom
/// handlers can fall back to it.
///
/// | exit | event |
/// |---|---|
/// | `InstructionLimit`, `StopAddress`, `Io` | none (keep running) |
/// | `DebugBreakpoint` | `Breakpoint` |
/// | `Watchpoint` | `Watchpoint` |
/// | `Breakpoint` (`int3`) | `Signal(SIGTRAP)` |
/// | `Exception(e)` | `Signal` per [`exception_signal`] |
/// | `Syscall` | `Signal(SIGSYS)` (nobody services it) |
/// | `SoftwareInterrupt(_)`, `TripleFault` | `Signal(SIGSEGV)` |
/// | `Halt` | `Signal(SIGSTOP)` |
pub fn default_exit_event(exit: Exit) -> Option<StopEvent> {
    Some(match exit {
        Exit::InstructionLimit | Exit::StopAddress | Exit::Io => return None,
        Exit::DebugBreakpoint => StopEvent::Breakpoint,
        Exit::Watchpoint(hit) => StopEvent::Watchpoint(hit),
        Exit::Breakpoint => StopEvent::Signal(signal::SIGTRAP),
        Exit::Exception(e) => StopEvent::Signal(exception_signal(e)),
        Exit::Syscall => StopEvent::Signal(signal::SIGSYS),
        Exit::SoftwareInterrupt(_) | Exit::TripleFault => StopEvent::Signal(signal::SIGSEGV),
        Exit::Halt => StopEvent::Signal(signal::SIGSTOP),
    })
}

/// A library-mode [`Cpu`] under a debugger, with a handler for the exits
/// the embedder services itself (typically `syscall`).
pub struct LibraryDebuggee<'a, F> {
    cpu: &'a mut Cpu,
    on_exit: F,
}

impl<F> std::fmt::Debug for LibraryDebuggee<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibraryDebuggee")
            .field("cpu", &self.cpu)
            .finish_non_exhaustive()
    }
}

/// The handler type of [`LibraryDebuggee::new`].
pub type DefaultExitHandler = fn(&mut Cpu, Exit) -> Option<StopEvent>;

impl<'a> LibraryDebuggee<'a, DefaultExitHandler> {
    /// Every exit gets its [`default_exit_event`] meaning.
    pub fn new(cpu: &'a mut Cpu) -> Self {
        Self {
            cpu,
            on_exit: |_, exit| default_exit_event(exit),
        }
    }
}

impl<'a, F: FnMut(&mut Cpu, Exit) -> Option<StopEvent>> LibraryDebuggee<'a, F> {
    /// `on_exit` sees every exit other than the instruction limit, debugger
    /// breakpoints and watchpoints; it returns `None` to keep running (after
    /// servicing the exit, e.g. emulating a system call) or the event to
    /// report.
    pub fn with_handler(cpu: &'a mut Cpu, on_exit: F) -> Self {
        Self { cpu, on_exit }
    }
}

impl<F: FnMut(&mut Cpu, Exit) -> Option<StopEvent>> Debuggee for LibraryDebuggee<'_, F> {
    fn cpu(&self) -> &Cpu {
        self.cpu
    }

    fn cpu_mut(&mut self) -> &mut Cpu {
        self.cpu
    }

    fn run_for(&mut self, max_instructions: u64) -> Option<StopEvent> {
        let end = self
            .cpu
            .instructions_retired()
            .saturating_add(max_instructions);
        let mut serviced = false;
        loop {
            let left = end.saturating_sub(self.cpu.instructions_retired());
            if left == 0 {
                return None;
            }
            // `Cpu::run` never stops at the address it starts at (so that a
            // run can resume from a breakpoint): after a serviced exit the
            // breakpoint check is ours.
            if serviced
                && self
                    .cpu
                    .breakpoints()
                    .binary_search(&self.cpu.rip())
                    .is_ok()
            {
                return Some(StopEvent::Breakpoint);
            }
            let exit = self.cpu.run(RunLimit {
                max_instructions: left,
                stop_at: None,
            });
            match exit {
                Exit::InstructionLimit | Exit::StopAddress => return None,
                Exit::DebugBreakpoint | Exit::Watchpoint(_) => return default_exit_event(exit),
                other => {
                    if let Some(event) = (self.on_exit)(self.cpu, other) {
                        return Some(event);
                    }
                    serviced = true;
                }
            }
        }
    }
}

/// The machine under a debugger.
///
/// | machine exit | event |
/// |---|---|
/// | `Guest(Exited(n))` | `Exited(n)` |
/// | `Guest(Killed(s))` | `Terminated(s)` |
/// | `Guest(KernelPanic)`, `Guest(BootFailed(_))` | `Signal(SIGABRT)` |
/// | `BadExitValue(_)` | `Signal(SIGSYS)` |
/// | `TripleFault` | `Signal(SIGSEGV)` |
/// | `Deadlock` | `Signal(SIGSTOP)` |
///
/// The abnormal ends are stops rather than session ends so that the state
/// that led to them can be inspected.
impl Debuggee for Machine {
    fn cpu(&self) -> &Cpu {
        Machine::cpu(self)
    }

    fn cpu_mut(&mut self) -> &mut Cpu {
        Machine::cpu_mut(self)
    }

    fn run_for(&mut self, max_instructions: u64) -> Option<StopEvent> {
        Some(match self.run(max_instructions) {
            MachineExit::InstructionLimit => return None,
            MachineExit::Guest(DebugExit::Exited(n)) => StopEvent::Exited(n),
            MachineExit::Guest(DebugExit::Killed(s)) => StopEvent::Terminated(s),
            MachineExit::Guest(DebugExit::KernelPanic | DebugExit::BootFailed(_)) => {
                StopEvent::Signal(signal::SIGABRT)
            }
            MachineExit::BadExitValue(_) => StopEvent::Signal(signal::SIGSYS),
            MachineExit::TripleFault => StopEvent::Signal(signal::SIGSEGV),
            MachineExit::Deadlock => StopEvent::Signal(signal::SIGSTOP),
            MachineExit::Debug(exit) => return default_exit_event(exit),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CpuConfig, Gpr, Prot};

    const CODE: u64 = 0x40_0000;

    fn cpu_with(code: &[u8]) -> Cpu {
        let mut cpu = Cpu::new(CpuConfig { ram_size: 1 << 20 }).unwrap();
        cpu.map(CODE, 0x1000, Prot::RX).unwrap();
        cpu.write_virt(CODE, code).unwrap();
        cpu.set_rip(CODE);
        cpu
    }

    #[test]
    fn library_debuggee_runs_in_budget_and_maps_exits() {
        // nop; nop; ud2
        let mut cpu = cpu_with(&[0x90, 0x90, 0x0f, 0x0b]);
        let mut d = LibraryDebuggee::new(&mut cpu);
        assert_eq!(d.run_for(1), None);
        assert_eq!(d.cpu().rip(), CODE + 1);
        assert_eq!(
            d.run_for(100),
            Some(StopEvent::Signal(signal::SIGILL)),
            "#UD is SIGILL"
        );
        assert_eq!(d.cpu().rip(), CODE + 2);
    }

    #[test]
    fn handler_services_syscalls_and_keeps_running() {
        // syscall; syscall; int3
        let mut cpu = cpu_with(&[0x0f, 0x05, 0x0f, 0x05, 0xcc]);
        let mut d = LibraryDebuggee::with_handler(&mut cpu, |cpu, exit| {
            if exit == Exit::Syscall {
                let n = cpu.gpr(Gpr::Rax);
                cpu.set_gpr(Gpr::Rax, n + 1);
                return None;
            }
            default_exit_event(exit)
        });
        assert_eq!(d.run_for(1000), Some(StopEvent::Signal(signal::SIGTRAP)));
        assert_eq!(d.cpu().gpr(Gpr::Rax), 2);
        assert_eq!(d.cpu().instructions_retired(), 3);
    }

    #[test]
    fn breakpoint_right_after_a_serviced_exit_stops() {
        // syscall; nop; int3
        let mut cpu = cpu_with(&[0x0f, 0x05, 0x90, 0xcc]);
        cpu.set_breakpoints(&[CODE + 2]);
        let mut d = LibraryDebuggee::with_handler(&mut cpu, |_, exit| {
            (exit != Exit::Syscall)
                .then(|| default_exit_event(exit))
                .flatten()
        });
        assert_eq!(d.run_for(1000), Some(StopEvent::Breakpoint));
        assert_eq!(d.cpu().rip(), CODE + 2);
        // Resuming from it runs on (the breakpoint is the start address).
        assert_eq!(d.run_for(1000), Some(StopEvent::Signal(signal::SIGTRAP)));
    }

    #[test]
    fn exception_signals_follow_linux() {
        assert_eq!(exception_signal(Exception::DivideError), signal::SIGFPE);
        assert_eq!(
            exception_signal(Exception::PageFault {
                addr: 0,
                error_code: 0
            }),
            signal::SIGSEGV
        );
        assert_eq!(
            exception_signal(Exception::GeneralProtection(0)),
            signal::SIGSEGV
        );
        assert_eq!(
            exception_signal(Exception::AlignmentCheck(0)),
            signal::SIGBUS
        );
    }
}
