//! Places a workload's ELF image in an emu-core [`Cpu`] and calls its
//! `long run(long n)` the way the System V ABI would: RDI = n, a return
//! address on a 16-byte aligned stack, RIP = entry. The return address is
//! [`STOP_ADDR`], handed to the CPU as `stop_at`, so the call ends with
//! [`Exit::StopAddress`] and RAX holds the checksum.

use std::collections::BTreeMap;

use emu_core::{Cpu, CpuConfig, Exit, Gpr, Prot, RunLimit};
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use thiserror::Error;

use crate::elf::{ElfError, ElfImage, PF_W, PF_X};
use crate::workload::Workload;

/// Guest page size.
const PAGE: u64 = 0x1000;
/// One past the highest byte of the guest stack.
pub const STACK_TOP: u64 = 0x7fff_0000;
/// Size of the guest stack.
pub const STACK_SIZE: u64 = 0x1_0000;
/// The return address of `run`: reaching it ends the call. Its page is
/// mapped and filled with `int3`, so a CPU that missed the stop address
/// would report a breakpoint there rather than run on.
pub const STOP_ADDR: u64 = 0x7fe0_0000;
/// `int3`, the filler of the stop page.
const INT3: u8 = 0xcc;
/// Upper bound on one call, so a miscompiled loop cannot hang a bench.
pub const MAX_INSTRUCTIONS: u64 = 1 << 40;

/// Why a workload could not be loaded or did not return normally.
#[derive(Debug, Error)]
pub enum BenchError {
    /// No workload has this name.
    #[error("unknown workload {0:?}")]
    UnknownWorkload(String),
    /// The embedded image is not a loadable ELF.
    #[error("workload image: {0}")]
    Elf(#[from] ElfError),
    /// The emulator refused to create the CPU or to map or write memory.
    #[error("emulator: {0}")]
    Emu(#[from] emu_core::Error),
    /// The call ended with something other than the stop address.
    #[error("{workload}: run ended with {exit:?} at rip {rip:#x}: {instruction}")]
    UnexpectedExit {
        /// The workload.
        workload: Workload,
        /// How the run ended.
        exit: Exit,
        /// RIP when it ended (the faulting instruction for a fault).
        rip: u64,
        /// The instruction at `rip`: bytes and Intel-syntax disassembly.
        instruction: String,
    },
}

/// The outcome of one call of `run(n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunResult {
    /// `run`'s return value (RAX).
    pub checksum: u64,
    /// Guest instructions retired by the call, including its final `ret`.
    pub instructions: u64,
}

/// A writable segment, re-initialised before each call.
#[derive(Debug, Clone, Copy)]
struct DataSegment {
    vaddr: u64,
    data: &'static [u8],
    mem_size: u64,
}

/// A CPU with one workload loaded, ready to call `run` repeatedly.
#[derive(Debug)]
pub struct GuestRun {
    workload: Workload,
    cpu: Cpu,
    entry: u64,
    data_segments: Vec<DataSegment>,
}

impl GuestRun {
    /// Creates a CPU and loads `workload`: its segments, the stack and the stop page.
    pub fn new(workload: Workload) -> Result<Self, BenchError> {
        let elf = ElfImage::parse(workload.image())?;
        let mut cpu = Cpu::new(CpuConfig::default())?;
        for (start, len, flags) in page_runs(&elf) {
            cpu.map(start, len, prot(flags))?;
        }
        let mut data_segments = Vec::new();
        for seg in &elf.segments {
            cpu.write_virt(seg.vaddr, seg.data)?;
            if seg.flags & PF_W != 0 {
                data_segments.push(DataSegment {
                    vaddr: seg.vaddr,
                    data: seg.data,
                    mem_size: seg.mem_size,
                });
            }
        }
        cpu.map(STACK_TOP - STACK_SIZE, STACK_SIZE, Prot::RW)?;
        cpu.map(STOP_ADDR, PAGE, Prot::RX)?;
        cpu.write_virt(STOP_ADDR, &[INT3; PAGE as usize])?;
        Ok(Self {
            workload,
            cpu,
            entry: elf.entry,
            data_segments,
        })
    }

    /// The loaded workload.
    pub fn workload(&self) -> Workload {
        self.workload
    }

    /// The CPU, for inspection after a call.
    pub fn cpu(&self) -> &Cpu {
        &self.cpu
    }

    /// Calls `run(n)` from a fresh data state and returns its checksum and
    /// the number of guest instructions it took.
    pub fn run(&mut self, n: u64) -> Result<RunResult, BenchError> {
        self.reset_data()?;
        // At a function's first instruction RSP + 8 is 16-byte aligned (SysV ABI 3.2.2).
        let rsp = STACK_TOP - 16 - 8;
        self.cpu.write_virt(rsp, &STOP_ADDR.to_le_bytes())?;
        self.cpu.set_gpr(Gpr::Rsp, rsp);
        self.cpu.set_gpr(Gpr::Rdi, n);
        self.cpu.set_rip(self.entry);
        let before = self.cpu.instructions_retired();
        let exit = self.cpu.run(RunLimit {
            max_instructions: MAX_INSTRUCTIONS,
            stop_at: Some(STOP_ADDR),
        });
        let instructions = self.cpu.instructions_retired() - before;
        match exit {
            Exit::StopAddress => Ok(RunResult {
                checksum: self.cpu.gpr(Gpr::Rax),
                instructions,
            }),
            exit => {
                let rip = self.cpu.rip();
                Err(BenchError::UnexpectedExit {
                    workload: self.workload,
                    exit,
                    rip,
                    instruction: self.describe(rip),
                })
            }
        }
    }

    /// Rewrites the writable segments (data and zeroed bss).
    fn reset_data(&mut self) -> Result<(), BenchError> {
        for seg in &self.data_segments {
            self.cpu.write_virt(seg.vaddr, seg.data)?;
            let zeros = seg.mem_size.saturating_sub(seg.data.len() as u64);
            if zeros > 0 {
                let len = usize::try_from(zeros).map_err(|_| ElfError::BadSegment {
                    vaddr: seg.vaddr,
                    filesz: seg.data.len() as u64,
                    memsz: seg.mem_size,
                })?;
                self.cpu
                    .write_virt(seg.vaddr + seg.data.len() as u64, &vec![0u8; len])?;
            }
        }
        Ok(())
    }

    /// The bytes and disassembly of the instruction at `rip`, for reports.
    fn describe(&self, rip: u64) -> String {
        let mut bytes = Vec::with_capacity(15);
        for addr in rip..rip + 15 {
            let mut byte = [0u8; 1];
            if self.cpu.read_virt(addr, &mut byte).is_err() {
                break;
            }
            bytes.push(byte[0]);
        }
        let mut decoder = Decoder::with_ip(64, &bytes, rip, DecoderOptions::NONE);
        let insn = decoder.decode();
        let used = bytes.get(..insn.len()).unwrap_or(&bytes);
        let hex: Vec<String> = used.iter().map(|b| format!("{b:02x}")).collect();
        let mut text = String::new();
        IntelFormatter::new().format(&insn, &mut text);
        format!("{} ({text})", hex.join(" "))
    }
}

/// Calls `run(n)` of the workload called `name` in a fresh CPU and returns
/// `(checksum, instructions_retired)`.
pub fn run_workload(name: &str, n: u64) -> Result<(u64, u64), BenchError> {
    let workload =
        Workload::from_name(name).ok_or_else(|| BenchError::UnknownWorkload(name.to_owned()))?;
    let result = GuestRun::new(workload)?.run(n)?;
    Ok((result.checksum, result.instructions))
}

/// The pages covered by the image's segments as `(start, len, p_flags)` runs
/// of equal permissions; a page shared by two segments gets both's flags.
fn page_runs(elf: &ElfImage<'_>) -> Vec<(u64, u64, u32)> {
    let mut pages: BTreeMap<u64, u32> = BTreeMap::new();
    for seg in &elf.segments {
        let first = seg.vaddr & !(PAGE - 1);
        let end = (seg.vaddr + seg.mem_size).div_ceil(PAGE) * PAGE;
        for page in (first..end).step_by(PAGE as usize) {
            *pages.entry(page).or_insert(0) |= seg.flags;
        }
    }
    let mut runs: Vec<(u64, u64, u32)> = Vec::new();
    for (page, flags) in pages {
        match runs.last_mut() {
            Some((start, len, f)) if *start + *len == page && *f == flags => *len += PAGE,
            _ => runs.push((page, PAGE, flags)),
        }
    }
    runs
}

/// The emulator protection for ELF `p_flags` (x86 pages are always readable).
fn prot(flags: u32) -> Prot {
    match (flags & PF_W != 0, flags & PF_X != 0) {
        (false, false) => Prot::R,
        (false, true) => Prot::RX,
        (true, false) => Prot::RW,
        (true, true) => Prot::RWX,
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// `run(n)` of the host build of `workload`, as the guest returns it in RAX.
    fn native_checksum(workload: Workload, n: u64) -> u64 {
        let output = Command::new(workload.native_oracle())
            .arg(n.to_string())
            .output()
            .expect("native oracle runs");
        assert!(
            output.status.success(),
            "{workload} oracle failed: {output:?}"
        );
        let text = String::from_utf8(output.stdout).expect("oracle prints ASCII");
        text.trim().parse::<i64>().expect("oracle prints a decimal") as u64
    }

    /// Runs `workload` with `n` in the emulator and on the host and compares.
    fn assert_matches_native(workload: Workload, n: u64) {
        let expected = native_checksum(workload, n);

        let result = GuestRun::new(workload).and_then(|mut run| run.run(n));

        match result {
            Ok(got) => assert_eq!(
                got.checksum, expected,
                "{workload} run({n}) after {} instructions",
                got.instructions
            ),
            Err(err) => panic!("{err}"),
        }
    }

    #[test]
    fn intloop_checksum_matches_native() {
        assert_matches_native(Workload::IntLoop, 1000);
    }

    #[test]
    fn memstr_checksum_matches_native() {
        assert_matches_native(Workload::MemStr, 20);
    }

    #[test]
    fn sieve_checksum_matches_native() {
        assert_matches_native(Workload::Sieve, 2);
    }

    #[test]
    fn bytecode_checksum_matches_native() {
        assert_matches_native(Workload::Bytecode, 300);
    }

    #[test]
    fn repeated_calls_give_the_same_result() {
        let mut run = GuestRun::new(Workload::MemStr).expect("loads");

        let first = run.run(5).expect("first call");
        let second = run.run(5).expect("second call");

        assert_eq!(first, second);
    }

    #[test]
    fn run_workload_rejects_unknown_name() {
        let result = run_workload("nope", 1);

        assert!(matches!(result, Err(BenchError::UnknownWorkload(name)) if name == "nope"));
    }

    #[test]
    fn page_runs_merge_equal_neighbours_and_split_on_flags() {
        let elf = ElfImage {
            entry: 0x40_0000,
            segments: vec![
                crate::elf::Segment {
                    vaddr: 0x40_0000,
                    mem_size: 0x1800,
                    data: &[],
                    flags: PF_X,
                },
                crate::elf::Segment {
                    vaddr: 0x40_1800,
                    mem_size: 0x1000,
                    data: &[],
                    flags: PF_W,
                },
            ],
        };

        let runs = page_runs(&elf);

        assert_eq!(
            runs,
            vec![
                (0x40_0000, 0x1000, PF_X),
                (0x40_1000, 0x1000, PF_X | PF_W),
                (0x40_2000, 0x1000, PF_W)
            ]
        );
    }
}
