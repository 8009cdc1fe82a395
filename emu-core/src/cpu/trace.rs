//! The per-instruction trace: for each executed instruction, its address,
//! bytes, Intel-syntax disassembly and the registers and flags it changed.
//! The base of `lockstep run --trace`.

use std::fmt::Write as _;

use iced_x86::{Formatter, Instruction, IntelFormatter};

use super::core::Core;
use super::exception::Exception;
use super::regs::Gpr;
use super::Exit;

/// Receives trace records. Implement it to log, filter or collect.
pub trait Tracer {
    /// Called after each executed (or faulting) instruction.
    fn instruction(&mut self, record: &TraceRecord);
    /// Called when fetching at `rip` faults before any instruction runs.
    fn fault(&mut self, rip: u64, exception: Exception) {
        let _ = (rip, exception);
    }
}

/// Register state compared before and after an instruction.
#[derive(Debug, Clone)]
pub struct Snapshot {
    gpr: [u64; 16],
    rflags: u64,
    xmm: [u128; 16],
    mxcsr: u32,
}

impl Snapshot {
    /// Captures the registers of `core`.
    pub fn take(core: &Core) -> Self {
        Self {
            gpr: core.gpr,
            rflags: core.flags.rflags(),
            xmm: core.xmm,
            mxcsr: core.mxcsr,
        }
    }
}

/// A register whose value an instruction changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegWrite {
    /// A general-purpose register and its new value.
    Gpr(Gpr, u64),
    /// RFLAGS and its new value.
    Rflags(u64),
    /// An XMM register and its new value.
    Xmm(usize, u128),
    /// MXCSR and its new value.
    Mxcsr(u32),
}

/// One traced instruction.
#[derive(Debug, Clone)]
pub struct TraceRecord {
    /// Address of the instruction.
    pub rip: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Intel-syntax disassembly.
    pub disasm: String,
    /// Registers it changed.
    pub writes: Vec<RegWrite>,
    /// The exit it caused, if any (fault or event).
    pub exit: Option<Exit>,
}

impl TraceRecord {
    pub(crate) fn new(
        insn: &Instruction,
        bytes: &[u8],
        before: &Snapshot,
        core: &Core,
        exit: Option<Exit>,
    ) -> Self {
        let mut disasm = String::new();
        IntelFormatter::new().format(insn, &mut disasm);
        let after = Snapshot::take(core);
        let mut writes = Vec::new();
        for (i, (a, b)) in before.gpr.iter().zip(after.gpr.iter()).enumerate() {
            if a != b {
                writes.push(RegWrite::Gpr(Gpr::ALL[i], *b));
            }
        }
        if before.rflags != after.rflags {
            writes.push(RegWrite::Rflags(after.rflags));
        }
        for (i, (a, b)) in before.xmm.iter().zip(after.xmm.iter()).enumerate() {
            if a != b {
                writes.push(RegWrite::Xmm(i, *b));
            }
        }
        if before.mxcsr != after.mxcsr {
            writes.push(RegWrite::Mxcsr(after.mxcsr));
        }
        Self {
            rip: insn.ip(),
            bytes: bytes.to_vec(),
            disasm,
            writes,
            exit,
        }
    }
}

impl std::fmt::Display for TraceRecord {
    /// `0000000000401000  48 01 d8            add rax,rbx      rax=0x3 rflags=0x206`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut hex = String::new();
        for b in &self.bytes {
            let _ = write!(hex, "{b:02x} ");
        }
        write!(
            f,
            "{:016x}  {:<30} {:<32}",
            self.rip,
            hex.trim_end(),
            self.disasm
        )?;
        for w in &self.writes {
            match w {
                RegWrite::Gpr(r, v) => write!(f, " {}={v:#x}", r.name())?,
                RegWrite::Rflags(v) => write!(f, " rflags={v:#x}")?,
                RegWrite::Xmm(i, v) => write!(f, " xmm{i}={v:#034x}")?,
                RegWrite::Mxcsr(v) => write!(f, " mxcsr={v:#x}")?,
            }
        }
        if let Some(exit) = &self.exit {
            write!(f, "  -> {exit:?}")?;
        }
        Ok(())
    }
}
