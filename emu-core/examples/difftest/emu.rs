//! Runs a difftest case in the emulator through emu-core's public API, with the same layout
//! as the native runner: code page at [`CODE_BASE`] (RX), read-write data pages, one read-only
//! page, and nothing mapped at [`DATA_UNMAPPED`](crate::state::DATA_UNMAPPED).
//!
//! Neighbours: `native.rs` is the other side; `compare.rs` diffs the two [`RunResult`]s.

use emu_core::{Cpu, CpuConfig, Exception, Exit, Gpr, Prot, RunLimit};

use crate::state::{
    CpuState, Fault, Outcome, RunResult, CODE_BASE, DATA_BASE, DATA_LEN, DATA_RO, DATA_RW_PAGES,
    MAX_SNIPPET, PAGE, SNIPPET,
};

/// The emulator side of the differential tester.
#[derive(Debug)]
pub struct EmuRunner {
    cpu: Cpu,
}

/// Maps an emulator exception to the normalized fault.
pub fn map_exception(e: Exception) -> Fault {
    match e {
        Exception::DivideError => Fault::DivideError,
        Exception::Debug => Fault::Debug,
        Exception::Breakpoint => Fault::Breakpoint,
        Exception::InvalidOpcode => Fault::InvalidOpcode,
        Exception::DeviceNotAvailable => Fault::DeviceNotAvailable,
        Exception::StackFault(c) => Fault::StackFault(c),
        Exception::GeneralProtection(c) => Fault::GeneralProtection(c),
        Exception::PageFault { addr, error_code } => Fault::PageFault {
            addr,
            err: error_code & 0x1f,
        },
        Exception::X87Float => Fault::X87Float,
        Exception::AlignmentCheck(_) => Fault::AlignmentCheck,
        Exception::SimdFloat => Fault::SimdFloat,
        other => Fault::Other(format!("{other:?}")),
    }
}

impl EmuRunner {
    /// A CPU with the difftest pages mapped.
    pub fn new() -> Result<Self, emu_core::Error> {
        let mut cpu = Cpu::new(CpuConfig::default())?;
        cpu.map(CODE_BASE, PAGE, Prot::RX)?;
        cpu.map(DATA_BASE, DATA_RW_PAGES * PAGE, Prot::RW)?;
        cpu.map(DATA_RO, PAGE, Prot::R)?;
        Ok(Self { cpu })
    }

    /// The emulator's CPUID.
    pub fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
        emu_core::cpu::cpuid::cpuid(leaf, sub)
    }

    /// Runs `code` at [`SNIPPET`] from `init` with the data pages holding `mem`.
    pub fn run(&mut self, code: &[u8], init: &CpuState, mem: &[u8]) -> RunResult {
        let end = SNIPPET + code.len() as u64;
        // int3 padding after the snippet: never executed (the run stops at `end`), but keeps
        // the block decoder from reading a previous case's bytes.
        let mut bytes = code.to_vec();
        bytes.resize(MAX_SNIPPET + 16, 0xcc);
        let setup = self
            .cpu
            .write_virt(SNIPPET, &bytes)
            .and_then(|()| self.cpu.write_virt(DATA_BASE, &mem[..DATA_LEN]));
        if let Err(e) = setup {
            return RunResult {
                outcome: Outcome::Fault(Fault::Other(format!("emulator setup: {e}"))),
                state: init.clone(),
                mem: mem.to_vec(),
            };
        }
        for (g, v) in Gpr::ALL.iter().zip(init.gpr) {
            self.cpu.set_gpr(*g, v);
        }
        self.cpu.set_rip(init.rip);
        self.cpu.set_rflags(init.rflags);
        self.cpu.set_fs_base(init.fs_base);
        self.cpu.set_gs_base(init.gs_base);
        let restored = self.cpu.fxrstor_image(&init.fx);
        let exit = match restored {
            Ok(()) => self.cpu.run(RunLimit {
                max_instructions: 10_000,
                stop_at: Some(end),
            }),
            Err(e) => Exit::Exception(e),
        };
        let outcome = match exit {
            Exit::StopAddress => Outcome::Completed,
            Exit::Exception(e) => Outcome::Fault(map_exception(e)),
            Exit::Breakpoint => Outcome::Fault(Fault::Breakpoint),
            Exit::Halt => Outcome::Fault(Fault::Halt),
            other => Outcome::Fault(Fault::Other(format!("{other:?}"))),
        };
        let mut state = CpuState::default();
        for (i, g) in Gpr::ALL.iter().enumerate() {
            state.gpr[i] = self.cpu.gpr(*g);
        }
        state.rip = self.cpu.rip();
        state.rflags = self.cpu.rflags();
        state.fs_base = self.cpu.fs_base();
        state.gs_base = self.cpu.gs_base();
        state.fx = self.cpu.fxsave_image();
        let mut out = vec![0u8; DATA_LEN];
        if self.cpu.read_virt(DATA_BASE, &mut out).is_err() {
            out.clear();
        }
        RunResult {
            outcome,
            state,
            mem: out,
        }
    }
}
