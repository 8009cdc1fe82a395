//! `--trace FILE`: one line per executed instruction (emu-core's
//! `TraceRecord` format), plus marker lines starting with `--` where control
//! changes hands without an ordinary branch.
//!
//! The markers are derived from consecutive records alone:
//! - the privilege level follows the address: the kernel runs in the upper
//!   canonical half, user code in the lower one, so a change of half is a
//!   change between ring 3 and ring 0; the previous instruction names the
//!   cause (`syscall`, `int n`, `sysret`, `iretq`), otherwise it is an
//!   exception or an interrupt;
//! - within one ring, an instruction that falls through or branches to a
//!   known target but is followed by some other address was interrupted or
//!   faulted (a fault's record is that of the instruction that did not
//!   retire);
//! - a fault while fetching an instruction has its own record.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use emu_core::{Exception, TraceRecord, Tracer};
use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic};

/// First address of the upper canonical half (kernel space).
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// The ring an address belongs to.
fn ring(rip: u64) -> u8 {
    if rip >= KERNEL_HALF {
        0
    } else {
        3
    }
}

/// What the previous record allows the next one to be.
#[derive(Debug, Clone, Copy)]
struct Previous {
    rip: u64,
    insn: Instruction,
}

impl Previous {
    /// The addresses an ordinary execution continues at, or `None` when any
    /// address is possible (indirect branches, returns, interrupts).
    fn successors(&self) -> Option<[u64; 2]> {
        let i = &self.insn;
        let next = i.next_ip();
        match i.flow_control() {
            // A rep-prefixed string instruction may stop between iterations.
            FlowControl::Next if i.has_rep_prefix() || i.has_repne_prefix() => {
                Some([next, self.rip])
            }
            FlowControl::Next => Some([next, next]),
            FlowControl::UnconditionalBranch | FlowControl::Call => {
                let t = i.near_branch_target();
                Some([t, t])
            }
            FlowControl::ConditionalBranch => Some([i.near_branch_target(), next]),
            _ => None,
        }
    }

    /// Why control moved from ring `from` to ring `to` after this instruction.
    fn ring_change_cause(&self, from: u8) -> &'static str {
        match (from, self.insn.mnemonic()) {
            (3, Mnemonic::Syscall) => "syscall",
            (3, Mnemonic::Int | Mnemonic::Int3 | Mnemonic::Int1 | Mnemonic::Into) => {
                "software interrupt"
            }
            (3, _) => "exception or interrupt",
            (_, Mnemonic::Sysret | Mnemonic::Sysretq) => "sysret",
            (_, Mnemonic::Iret | Mnemonic::Iretd | Mnemonic::Iretq) => "iretq",
            _ => "return to user",
        }
    }
}

#[derive(Debug)]
struct State {
    out: BufWriter<File>,
    error: Option<std::io::Error>,
    prev: Option<Previous>,
}

impl State {
    fn line(&mut self, args: std::fmt::Arguments<'_>) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_fmt(args) {
                self.error = Some(e);
            }
        }
    }
}

/// The trace file; clones share it (one goes into the CPU).
#[derive(Debug, Clone)]
pub struct TraceFile(Arc<Mutex<State>>);

impl TraceFile {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self(Arc::new(Mutex::new(State {
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            error: None,
            prev: None,
        }))))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a final marker line and flushes; the error is the first one
    /// writing the file.
    pub fn finish(&self, summary: &str) -> std::io::Result<()> {
        let mut s = self.state();
        s.line(format_args!("-- end: {summary}\n"));
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        s.out.flush()
    }
}

impl Tracer for TraceFile {
    fn instruction(&mut self, record: &TraceRecord) {
        let mut s = self.state();
        if let Some(prev) = s.prev {
            let (from, to) = (ring(prev.rip), ring(record.rip));
            if from != to {
                let cause = prev.ring_change_cause(from);
                s.line(format_args!(
                    "-- ring {from} -> ring {to}: {cause} (after {:#x})\n",
                    prev.rip
                ));
            } else if prev
                .successors()
                .is_some_and(|next| !next.contains(&record.rip))
            {
                s.line(format_args!(
                    "-- exception or interrupt at {:#x}\n",
                    prev.rip
                ));
            }
        }
        s.line(format_args!("{record}\n"));
        let mut decoder = Decoder::with_ip(64, &record.bytes, record.rip, DecoderOptions::NONE);
        let insn = decoder.decode();
        s.prev = (!insn.is_invalid()).then_some(Previous {
            rip: record.rip,
            insn,
        });
    }

    fn fault(&mut self, rip: u64, exception: Exception) {
        let mut s = self.state();
        s.line(format_args!(
            "-- fault fetching the instruction at {rip:#x}: {exception:?}\n"
        ));
        // The next record is the handler: nothing more to say about it.
        s.prev = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], rip: u64) -> Previous {
        let insn = Decoder::with_ip(64, bytes, rip, DecoderOptions::NONE).decode();
        Previous { rip, insn }
    }

    #[test]
    fn successors_follow_flow_control() {
        // add rax, rbx
        assert_eq!(
            decode(&[0x48, 0x01, 0xd8], 0x1000).successors(),
            Some([0x1003; 2])
        );
        // jne +0x10
        assert_eq!(
            decode(&[0x75, 0x10], 0x1000).successors(),
            Some([0x1012, 0x1002])
        );
        // call +0
        assert_eq!(
            decode(&[0xe8, 0, 0, 0, 0], 0x1000).successors(),
            Some([0x1005; 2])
        );
        // rep movsb
        assert_eq!(
            decode(&[0xf3, 0xa4], 0x1000).successors(),
            Some([0x1002, 0x1000])
        );
        // ret, jmp rax
        assert_eq!(decode(&[0xc3], 0x1000).successors(), None);
        assert_eq!(decode(&[0xff, 0xe0], 0x1000).successors(), None);
    }

    fn record(rip: u64, bytes: &[u8]) -> TraceRecord {
        TraceRecord {
            rip,
            bytes: bytes.to_vec(),
            disasm: String::from("insn"),
            writes: Vec::new(),
            exit: None,
        }
    }

    #[test]
    fn markers_appear_where_control_changes_hands() {
        let path = std::env::temp_dir().join(format!("lockstep-trace-{}", std::process::id()));
        let file = TraceFile::create(&path).unwrap();
        let mut tracer = file.clone();
        let k = KERNEL_HALF + 0x1000;
        let steps: [(u64, &[u8]); 8] = [
            (k, &[0x48, 0x0f, 0x07]),         // sysretq
            (0x401000, &[0x0f, 0x05]),        // syscall
            (k + 0x100, &[0x48, 0xcf]),       // iretq
            (0x401002, &[0x8b, 0x00]),        // mov eax, [rax]: faults
            (k + 0x200, &[0x90]),             // nop (the #PF handler)
            (k + 0x201, &[0x48, 0x01, 0xd8]), // add rax, rbx: interrupted
            (k + 0x300, &[0x90]),             // nop (an interrupt handler)
            (k + 0x301, &[0x90]),             // nop
        ];
        for (rip, bytes) in steps {
            tracer.instruction(&record(rip, bytes));
        }
        tracer.fault(
            k + 0x302,
            Exception::PageFault {
                addr: 1,
                error_code: 0,
            },
        );
        tracer.instruction(&record(k + 0x400, &[0x90]));
        file.finish("done").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let markers: Vec<&str> = text.lines().filter(|l| l.starts_with("--")).collect();
        assert_eq!(
            markers,
            [
                "-- ring 0 -> ring 3: sysret (after 0xffff800000001000)",
                "-- ring 3 -> ring 0: syscall (after 0x401000)",
                "-- ring 0 -> ring 3: iretq (after 0xffff800000001100)",
                "-- ring 3 -> ring 0: exception or interrupt (after 0x401002)",
                "-- exception or interrupt at 0xffff800000001201",
                "-- fault fetching the instruction at 0xffff800000001302: PageFault { addr: 1, error_code: 0 }",
                "-- end: done",
            ]
        );
        assert_eq!(text.lines().count(), 9 + markers.len());
    }

    #[test]
    fn ring_changes_are_named_by_the_previous_instruction() {
        assert_eq!(
            decode(&[0x0f, 0x05], 0x1000).ring_change_cause(3),
            "syscall"
        );
        assert_eq!(
            decode(&[0xcd, 0x80], 0x1000).ring_change_cause(3),
            "software interrupt"
        );
        assert_eq!(
            decode(&[0x8b, 0x00], 0x1000).ring_change_cause(3),
            "exception or interrupt"
        );
        assert_eq!(
            decode(&[0x48, 0x0f, 0x07], KERNEL_HALF).ring_change_cause(0),
            "sysret"
        );
        assert_eq!(
            decode(&[0x48, 0xcf], KERNEL_HALF).ring_change_cause(0),
            "iretq"
        );
    }
}
