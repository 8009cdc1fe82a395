//! `Machine`: the CPU in system mode plus the devices, booted into the guest
//! kernel. `run` executes until the guest writes the exit port, an
//! instruction limit is reached, or the machine dies (triple fault, halt
//! with no possible wake-up).

use std::io::{Read, Write};

use emu_abi::ports::DebugExit;

use crate::cpu::{Cpu, Exit, RunLimit};
use crate::devices::{ApicTimer, Devices, HostIo, Serial};
use crate::error::Error;
use crate::loader::{self, BootParams};
use crate::mmu::{cr0, cr4, efer};

/// Host-side streams the machine's devices use.
pub struct HostStreams {
    /// The first program's stdout.
    pub stdout: Box<dyn Write>,
    /// The first program's stderr.
    pub stderr: Box<dyn Write>,
    /// The first program's stdin.
    pub stdin: Box<dyn Read>,
    /// The kernel log (COM1).
    pub kernel_log: Box<dyn Write>,
}

impl std::fmt::Debug for HostStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostStreams")
    }
}

/// Why `Machine::run` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineExit {
    /// The guest wrote a valid value to the exit port.
    Guest(DebugExit),
    /// The guest wrote a value outside the exit protocol.
    BadExitValue(u32),
    /// The instruction limit was reached.
    InstructionLimit,
    /// The CPU shut down (a fault while delivering a double fault).
    TripleFault,
    /// `hlt` with interrupts disabled or no timer armed: nothing can wake it.
    Deadlock,
    /// A debugger breakpoint or watchpoint stopped the run.
    Debug(Exit),
}

/// The machine.
#[derive(Debug)]
pub struct Machine {
    cpu: Cpu,
}

impl Machine {
    /// Boots: loads the kernel and boot data into fresh RAM of `ram_size`
    /// bytes and sets the CPU at the kernel entry (64-bit mode, CPL 0, IF = 0,
    /// RDI = physical address of BootInfo).
    pub fn new(
        ram_size: u64,
        params: &BootParams<'_>,
        streams: HostStreams,
    ) -> Result<Self, Error> {
        let mut cpu = Cpu::new_bare(ram_size)?;
        let loaded = loader::load(&mut cpu.core_mut().ram, params)?;
        let c = cpu.core_mut();
        c.mmu.set_efer(efer::LME | efer::LMA | efer::NXE);
        c.mmu.set_cr4(cr4::PAE | cr4::OSFXSR | cr4::OSXMMEXCPT);
        c.mmu.set_cr3(loaded.cr3);
        c.mmu
            .set_cr0(cr0::PE | cr0::MP | cr0::ET | cr0::NE | cr0::WP | cr0::PG);
        c.seg.cs = 0x08;
        c.seg.ss = 0x10;
        c.cpl = 0;
        c.gpr[7] = loaded.boot_info;
        c.rip = loaded.entry;
        c.flags.set_rflags(0x2);
        cpu.set_system_mode(true);
        cpu.set_io(Box::new(Devices {
            serial: Serial::new(streams.kernel_log),
            hostio: HostIo::new(streams.stdout, streams.stderr, streams.stdin),
            timer: ApicTimer::new(),
            exit: None,
        }));
        Ok(Self { cpu })
    }

    /// Runs until the guest exits or `max_instructions` more instructions retire.
    pub fn run(&mut self, max_instructions: u64) -> MachineExit {
        let exit = self.cpu.run(RunLimit {
            max_instructions,
            stop_at: None,
        });
        match exit {
            Exit::Io => match self.devices().exit {
                Some(v) => {
                    DebugExit::decode(v).map_or(MachineExit::BadExitValue(v), MachineExit::Guest)
                }
                None => MachineExit::Deadlock,
            },
            Exit::InstructionLimit | Exit::StopAddress => MachineExit::InstructionLimit,
            Exit::TripleFault => MachineExit::TripleFault,
            // In system mode faults and events are delivered, never returned;
            // `hlt` returns only when nothing can wake the CPU.
            Exit::Halt
            | Exit::Exception(_)
            | Exit::Syscall
            | Exit::Breakpoint
            | Exit::SoftwareInterrupt(_) => MachineExit::Deadlock,
            Exit::DebugBreakpoint | Exit::Watchpoint(_) => MachineExit::Debug(exit),
        }
    }

    /// The CPU (registers, counters).
    pub fn cpu(&self) -> &Cpu {
        &self.cpu
    }

    /// The CPU, mutably (debuggers).
    pub fn cpu_mut(&mut self) -> &mut Cpu {
        &mut self.cpu
    }

    /// The devices.
    pub fn devices(&mut self) -> &mut Devices {
        let io: &mut dyn std::any::Any = &mut *self.cpu.core_mut().io;
        match io.downcast_mut::<Devices>() {
            Some(d) => d,
            None => unreachable!("Machine::new installs Devices and nothing replaces them"),
        }
    }
}
