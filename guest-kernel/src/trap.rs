//! The exception policy for faults in user mode: a #PF inside an area is demand
//! paging (or stack growth); anything else the process cannot handle becomes a signal
//! whose default action ends the run (arch/x86/kernel/traps.c, arch/x86/mm/fault.c),
//! with a kernel-log line in Linux's style.

use alloc::string::String;

use emu_abi::ports::DebugExit;

use crate::kernel::{Flow, Kernel};
use crate::klog;
use crate::mm::aspace::{Access, FaultError};
use crate::platform::Platform;
use crate::process::sig;
use crate::syscall::process::signal_name;
use crate::trapframe::TrapFrame;

/// #PF error-code bits (SDM Vol. 3A, 4.7).
pub mod pf {
    /// The page was present (protection violation).
    pub const PRESENT: u64 = 1;
    /// A write.
    pub const WRITE: u64 = 2;
    /// From user mode.
    pub const USER: u64 = 4;
    /// An instruction fetch.
    pub const FETCH: u64 = 16;
}

/// Exception vectors.
pub mod vector {
    /// #DE.
    pub const DIVIDE: u64 = 0;
    /// #DB.
    pub const DEBUG: u64 = 1;
    /// #BP.
    pub const BREAKPOINT: u64 = 3;
    /// #OF.
    pub const OVERFLOW: u64 = 4;
    /// #BR.
    pub const BOUND: u64 = 5;
    /// #UD.
    pub const INVALID_OPCODE: u64 = 6;
    /// #NM.
    pub const DEVICE_NOT_AVAILABLE: u64 = 7;
    /// #TS.
    pub const INVALID_TSS: u64 = 10;
    /// #NP.
    pub const SEGMENT_NOT_PRESENT: u64 = 11;
    /// #SS.
    pub const STACK: u64 = 12;
    /// #GP.
    pub const GENERAL_PROTECTION: u64 = 13;
    /// #PF.
    pub const PAGE_FAULT: u64 = 14;
    /// #MF.
    pub const X87: u64 = 16;
    /// #AC.
    pub const ALIGNMENT: u64 = 17;
    /// #XM.
    pub const SIMD: u64 = 19;
}

impl<P: Platform> Kernel<P> {
    /// Runs the syscall in `frame`.
    pub fn syscall(&mut self, frame: &mut TrapFrame) -> Flow {
        crate::syscall::dispatch(self, frame)
    }

    /// Handles an exception raised in user mode; `cr2` is the #PF address.
    pub fn user_trap(&mut self, frame: &mut TrapFrame, cr2: u64) -> Flow {
        use vector::*;
        if self.cfg.log_level >= 3 {
            klog!(
                self,
                "trap {} error {:#x} ip {:#x} cr2 {cr2:#x}",
                frame.vector,
                frame.error,
                frame.rip
            );
        }
        let (signal, what) = match frame.vector {
            PAGE_FAULT => {
                let access = Access {
                    write: frame.error & pf::WRITE != 0,
                    exec: frame.error & pf::FETCH != 0,
                };
                return match self.proc.aspace.handle_fault(&mut self.p, cr2, access) {
                    Ok(()) => Flow::Continue,
                    Err(FaultError::OutOfMemory) => {
                        let comm = String::from(self.comm());
                        klog!(
                            self,
                            "Out of memory: killed process {} ({comm}) faulting at {cr2:#x}",
                            self.proc.pid
                        );
                        Flow::Exit(DebugExit::Killed(sig::SIGKILL))
                    }
                    Err(_) => {
                        let comm = String::from(self.comm());
                        klog!(
                            self,
                            "{comm}[{}]: segfault at {cr2:x} ip {:016x} sp {:016x} error {:x}",
                            self.proc.pid,
                            frame.rip,
                            frame.rsp,
                            frame.error
                        );
                        self.fatal(sig::SIGSEGV)
                    }
                };
            }
            DIVIDE => (sig::SIGFPE, "divide error"),
            DEBUG => (sig::SIGTRAP, "debug"),
            BREAKPOINT => (sig::SIGTRAP, "int3"),
            OVERFLOW => (sig::SIGSEGV, "overflow"),
            BOUND => (sig::SIGSEGV, "bounds"),
            INVALID_OPCODE => (sig::SIGILL, "invalid opcode"),
            DEVICE_NOT_AVAILABLE => (sig::SIGSEGV, "device not available"),
            INVALID_TSS => (sig::SIGSEGV, "invalid TSS"),
            SEGMENT_NOT_PRESENT => (sig::SIGBUS, "segment not present"),
            STACK => (sig::SIGBUS, "stack segment"),
            GENERAL_PROTECTION => (sig::SIGSEGV, "general protection fault"),
            X87 => (sig::SIGFPE, "x87 floating point"),
            ALIGNMENT => (sig::SIGBUS, "alignment check"),
            SIMD => (sig::SIGFPE, "SIMD floating point"),
            _ => (sig::SIGKILL, "unexpected exception"),
        };
        let comm = String::from(self.comm());
        klog!(
            self,
            "traps: {comm}[{}] trap {what} (vector {}) ip:{:x} sp:{:x} error:{:x}",
            self.proc.pid,
            frame.vector,
            frame.rip,
            frame.rsp,
            frame.error
        );
        self.fatal(signal)
    }

    /// A fault signal with its default action (handlers are not run yet).
    fn fatal(&mut self, signal: u8) -> Flow {
        let comm = String::from(self.comm());
        klog!(
            self,
            "{comm}[{}]: killed by {}",
            self.proc.pid,
            signal_name(signal)
        );
        Flow::Exit(DebugExit::Killed(signal))
    }
}
