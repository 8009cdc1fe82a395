//! The x87 FPU instruction family (SDM Vol. 1 ch. 8, Vol. 2 "F*" pages): register stack, tags,
//! FSW/FCW bookkeeping and the unmasked-exception (#MF) protocol, on top of the exact soft float
//! in [`crate::softfloat`]. Submodules: [`arith`] (arithmetic and one-operand ops), [`load_store`]
//! (loads, stores, exchanges, constants, stack control), [`compare`] (FCOM family, FTST, FXAM),
//! [`control`] (control word, status, environment, FXSAVE) and [`transcend`].
//!
//! An unmasked exception sets FSW.ES and is delivered as [`Exception::X87Float`] by the next
//! waiting x87 instruction (or FWAIT), before that instruction changes any state.

use iced_x86::{Instruction, Register};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::cpu::fpu::{tag, Fpu};
use crate::mmu::cr0;
use crate::softfloat::{Control, Flags, F80};

pub mod arith;
pub mod compare;
pub mod control;
pub mod load_store;
pub mod transcend;

#[cfg(test)]
mod tests;

/// FSW stack fault bit.
pub const SF: u16 = 1 << 6;
/// FSW error summary bit.
pub const ES: u16 = 1 << 7;
/// FSW busy bit (mirrors ES).
pub const BUSY: u16 = 1 << 15;

/// The handler for an x87 instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    arith::resolve(i)
        .or_else(|| load_store::resolve(i))
        .or_else(|| compare::resolve(i))
        .or_else(|| control::resolve(i))
        .or_else(|| transcend::resolve(i))
}

/// Converts between the register image (80 bits in the low bits of a `u128`) and [`F80`].
fn to_f80(r: u128) -> F80 {
    F80 {
        signif: r as u64,
        sign_exp: (r >> 64) as u16,
    }
}

fn from_f80(v: F80) -> u128 {
    (u128::from(v.sign_exp) << 64) | u128::from(v.signif)
}

/// The stack index of an ST(i) register operand.
pub(crate) fn st_reg(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::ST0 as usize) & 7
}

/// Register-stack and status-word operations on the x87 state.
pub(crate) trait X87 {
    /// The control word as the soft float sees it.
    fn ctl(&self) -> Control;
    /// Physical register number of ST(i).
    fn phys(&self, i: usize) -> usize;
    /// True if ST(i) is tagged empty.
    fn is_empty(&self, i: usize) -> bool;
    /// The value of ST(i).
    fn st(&self, i: usize) -> F80;
    /// Writes ST(i) and its tag.
    fn set_st(&mut self, i: usize, v: F80);
    /// Decrements TOP and writes the new ST(0).
    fn push(&mut self, v: F80);
    /// Tags ST(0) empty and increments TOP.
    fn pop(&mut self);
    /// Adds TOP by `delta` (mod 8).
    fn rotate_top(&mut self, delta: usize);
    /// Merges the exception flags of `f`, replaces the condition codes in `cc_mask` with
    /// those of `f`, and updates the error summary bits.
    fn report(&mut self, f: Flags, cc_mask: u16);
    /// Records a stack fault (underflow, or overflow when `overflow`): IE and SF with C1 telling
    /// which. Returns true if invalid-operation is masked (the masked response applies).
    fn stack_fault(&mut self, overflow: bool) -> bool;
    /// Recomputes ES and B from the exception flags and masks.
    fn sync_es(&mut self);
}

impl X87 for Fpu {
    #[inline]
    fn ctl(&self) -> Control {
        Control(self.fcw)
    }

    #[inline]
    fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }

    #[inline]
    fn is_empty(&self, i: usize) -> bool {
        (self.ftw >> (2 * self.phys(i))) & 3 == tag::EMPTY
    }

    #[inline]
    fn st(&self, i: usize) -> F80 {
        to_f80(self.regs[self.phys(i)])
    }

    #[inline]
    fn set_st(&mut self, i: usize, v: F80) {
        let p = self.phys(i);
        let r = from_f80(v);
        self.regs[p] = r;
        self.ftw = (self.ftw & !(3 << (2 * p))) | (Fpu::classify(r) << (2 * p));
    }

    #[inline]
    fn push(&mut self, v: F80) {
        self.rotate_top(7);
        self.set_st(0, v);
    }

    #[inline]
    fn pop(&mut self) {
        let p = self.phys(0);
        self.ftw |= 3 << (2 * p);
        self.rotate_top(1);
    }

    #[inline]
    fn rotate_top(&mut self, delta: usize) {
        let top = ((self.top() + delta) & 7) as u16;
        self.fsw = (self.fsw & !(7 << 11)) | (top << 11);
    }

    #[inline]
    fn report(&mut self, f: Flags, cc_mask: u16) {
        self.fsw = (self.fsw & !cc_mask) | (f.0 & cc_mask) | (f.0 & Flags::EXCEPTIONS);
        self.sync_es();
    }

    fn stack_fault(&mut self, overflow: bool) -> bool {
        let c1 = if overflow { Flags::C1 } else { 0 };
        self.fsw = (self.fsw & !Flags::C1) | c1 | SF | Flags::IE;
        self.sync_es();
        self.ctl().masked(Flags(Flags::IE))
    }

    #[inline]
    fn sync_es(&mut self) {
        if self.fsw & !self.fcw & Flags::EXCEPTIONS != 0 {
            self.fsw |= ES | BUSY;
        } else {
            self.fsw &= !(ES | BUSY);
        }
    }
}

/// #NM when CR0.EM or CR0.TS is set (SDM Vol. 3A §2.5: x87 and FXSAVE/FXRSTOR availability).
#[inline]
pub(crate) fn nm_check(core: &Core) -> Result<(), Stop> {
    if core.mmu.cr0() & (cr0::EM | cr0::TS) != 0 {
        return Err(Stop::Fault(Exception::DeviceNotAvailable));
    }
    Ok(())
}

/// Entry of every waiting x87 instruction: #NM if the FPU is unavailable, then a pending
/// unmasked exception as #MF (before any state changes); records the instruction and data
/// pointers.
#[inline]
pub(crate) fn enter(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    nm_check(core)?;
    if core.fpu.fsw & ES != 0 {
        return Err(Stop::Fault(Exception::X87Float));
    }
    core.fpu.fip = i.ip();
    if i.op_count() > 0 && (0..i.op_count()).any(|n| i.op_kind(n) == iced_x86::OpKind::Memory) {
        core.fpu.fdp = core.ea(i);
    }
    Ok(())
}

/// True if an instruction writing a register destination does so after raising `f`: only
/// unmasked invalid-operation, zero-divide and denormal-operand exceptions suppress the write.
#[inline]
pub(crate) fn writes_reg(ctl: Control, f: Flags) -> bool {
    ctl.masked(Flags(f.0 & (Flags::IE | Flags::ZE | Flags::DE)))
}
