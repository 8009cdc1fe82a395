//! System registers of the privileged architecture: descriptor-table
//! registers, the task register, syscall MSRs, CR2/CR8, and the `Io` trait
//! through which the CPU reaches I/O ports, device MSRs and interrupt lines
//! (the CPU knows no devices: the machine implements `Io`).

use crate::memory::GuestRam;

/// GDTR or IDTR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableReg {
    /// Linear base address.
    pub base: u64,
    /// Limit (last valid byte offset).
    pub limit: u16,
}

/// MSR numbers (SDM Vol. 4).
pub mod msr {
    /// IA32_TIME_STAMP_COUNTER.
    pub const TSC: u32 = 0x10;
    /// IA32_APIC_BASE.
    pub const APIC_BASE: u32 = 0x1b;
    /// IA32_PAT.
    pub const PAT: u32 = 0x277;
    /// IA32_EFER.
    pub const EFER: u32 = 0xc000_0080;
    /// IA32_STAR.
    pub const STAR: u32 = 0xc000_0081;
    /// IA32_LSTAR.
    pub const LSTAR: u32 = 0xc000_0082;
    /// IA32_CSTAR.
    pub const CSTAR: u32 = 0xc000_0083;
    /// IA32_FMASK.
    pub const FMASK: u32 = 0xc000_0084;
    /// IA32_FS_BASE.
    pub const FS_BASE: u32 = 0xc000_0100;
    /// IA32_GS_BASE.
    pub const GS_BASE: u32 = 0xc000_0101;
    /// IA32_KERNEL_GS_BASE.
    pub const KERNEL_GS_BASE: u32 = 0xc000_0102;
    /// IA32_TSC_AUX.
    pub const TSC_AUX: u32 = 0xc000_0103;
}

/// The privileged registers that are not paging controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemRegs {
    /// GDTR.
    pub gdtr: TableReg,
    /// IDTR.
    pub idtr: TableReg,
    /// TR selector.
    pub tr: u16,
    /// TSS base loaded by `ltr`.
    pub tss_base: u64,
    /// TSS limit loaded by `ltr`.
    pub tss_limit: u32,
    /// LDTR selector (always null here).
    pub ldtr: u16,
    /// IA32_STAR.
    pub star: u64,
    /// IA32_LSTAR.
    pub lstar: u64,
    /// IA32_CSTAR.
    pub cstar: u64,
    /// IA32_FMASK.
    pub fmask: u64,
    /// IA32_TSC_AUX.
    pub tsc_aux: u64,
    /// IA32_PAT (power-on default).
    pub pat: u64,
    /// CR2: the last page-fault linear address.
    pub cr2: u64,
    /// CR8: task priority (bits 3:0).
    pub cr8: u64,
    /// External interrupts are inhibited until this many instructions have
    /// retired (the one-instruction shadow after `sti` and `mov ss`).
    pub shadow_until: u64,
}

impl Default for SystemRegs {
    fn default() -> Self {
        Self {
            gdtr: TableReg::default(),
            idtr: TableReg {
                base: 0,
                limit: 0xffff,
            },
            tr: 0,
            tss_base: 0,
            tss_limit: 0,
            ldtr: 0,
            star: 0,
            lstar: 0,
            cstar: 0,
            fmask: 0,
            tsc_aux: 0,
            pat: 0x0007_0406_0007_0406,
            cr2: 0,
            cr8: 0,
            shadow_until: 0,
        }
    }
}

/// What a port write asks of the run loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortWrite {
    /// Continue executing.
    Continue,
    /// Return from `Cpu::run` with `Exit::Io` (for example the exit port was written).
    Stop,
}

/// The CPU's window onto the machine: I/O ports, device MSRs, interrupt lines.
/// All methods have inert defaults (ports read all ones, no interrupts).
pub trait Io: std::fmt::Debug + std::any::Any {
    /// `in` from `port` of `size` bytes (1, 2, 4).
    fn port_in(&mut self, port: u16, size: u8, ram: &mut GuestRam) -> u32 {
        let _ = (port, ram);
        u32::MAX >> (32 - 8 * u32::from(size))
    }
    /// `out` of `value` (`size` bytes) to `port`.
    fn port_out(&mut self, port: u16, size: u8, value: u32, ram: &mut GuestRam) -> PortWrite {
        let _ = (port, size, value, ram);
        PortWrite::Continue
    }
    /// `rdmsr` of an MSR the CPU does not implement itself; `None` is #GP(0).
    fn rdmsr(&mut self, msr: u32, tsc: u64) -> Option<u64> {
        let _ = (msr, tsc);
        None
    }
    /// `wrmsr` of an MSR the CPU does not implement itself; `false` is #GP(0).
    fn wrmsr(&mut self, msr: u32, value: u64, tsc: u64) -> bool {
        let _ = (msr, value, tsc);
        false
    }
    /// The vector of an interrupt that is pending at virtual time `tsc`, if
    /// any; called at instruction-block boundaries while RFLAGS.IF = 1. The
    /// device treats the returned interrupt as accepted.
    fn pending_interrupt(&mut self, tsc: u64) -> Option<u8> {
        let _ = tsc;
        None
    }
    /// The virtual time of the next interrupt, for `hlt` to jump to.
    fn next_deadline(&self) -> Option<u64> {
        None
    }
}

/// An `Io` with nothing attached.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIo;

impl Io for NoIo {}
