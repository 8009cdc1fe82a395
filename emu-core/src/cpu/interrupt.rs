//! Delivery of exceptions and interrupts through the 64-bit IDT (SDM Vol. 3A,
//! 6.12-6.14): gate checks, privilege and IST stack switch, the interrupt
//! frame, double faults, triple faults; plus descriptor reads shared with
//! `iretq`.

use super::core::Core;
use super::exception::Exception;
use super::flags::bits;

/// What is being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A fault or trap raised by an instruction.
    Exception(Exception),
    /// `int n`, `int3`: software interrupts check the gate's DPL.
    Software(u8),
    /// An external interrupt from a device.
    External(u8),
}

/// Delivery failed twice: the CPU shuts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TripleFault;

/// A code-segment descriptor's relevant fields.
#[derive(Debug, Clone, Copy)]
pub struct CodeSegment {
    /// Descriptor privilege level.
    pub dpl: u8,
}

/// Reads the 8-byte GDT descriptor for `selector` (no LDT support).
pub fn read_descriptor(core: &mut Core, selector: u16) -> Result<u64, Exception> {
    let gp = Exception::GeneralProtection(u32::from(selector & !3));
    if selector & 4 != 0 {
        return Err(gp);
    }
    let index = u64::from(selector & !7);
    if selector & !3 == 0 || index + 7 > u64::from(core.sys.gdtr.limit) {
        return Err(gp);
    }
    core.read_u64_sys(core.sys.gdtr.base.wrapping_add(index))
}

/// Checks that `selector` names a present 64-bit code segment.
pub fn code_segment(core: &mut Core, selector: u16) -> Result<CodeSegment, Exception> {
    let d = read_descriptor(core, selector)?;
    let gp = Exception::GeneralProtection(u32::from(selector & !3));
    let is_code = d & (1 << 44) != 0 && d & (1 << 43) != 0;
    let long = d & (1 << 53) != 0;
    if !is_code || !long {
        return Err(gp);
    }
    if d & (1 << 47) == 0 {
        return Err(Exception::SegmentNotPresent(u32::from(selector & !3)));
    }
    Ok(CodeSegment {
        dpl: ((d >> 45) & 3) as u8,
    })
}

/// Reads a 64-bit field of the current TSS.
fn tss_u64(core: &mut Core, offset: u64) -> Result<u64, Exception> {
    if offset + 7 > u64::from(core.sys.tss_limit) {
        return Err(Exception::InvalidTss(u32::from(core.sys.tr & !3)));
    }
    core.read_u64_sys(core.sys.tss_base.wrapping_add(offset))
}

/// Delivers one event with `return_rip` as the saved RIP. On failure returns
/// the exception that delivery itself raised; nothing has changed then.
pub fn deliver(core: &mut Core, event: Event, return_rip: u64) -> Result<(), Exception> {
    let (vector, error_code, software) = match event {
        Event::Exception(e) => (e.vector(), e.error_code(), e == Exception::Breakpoint),
        Event::Software(v) => (v, None, true),
        Event::External(v) => (v, None, false),
    };
    let ext = u32::from(
        matches!(event, Event::External(_))
            || matches!(event, Event::Exception(e) if e != Exception::Breakpoint),
    );
    let idt_code = u32::from(vector) * 8 + 2 + ext;
    let offset = u64::from(vector) * 16;
    if offset + 15 > u64::from(core.sys.idtr.limit) {
        return Err(Exception::GeneralProtection(idt_code));
    }
    let base = core.sys.idtr.base.wrapping_add(offset);
    let lo = core.read_u64_sys(base)?;
    let hi = core.read_u64_sys(base.wrapping_add(8))?;
    let gate_type = (lo >> 40) & 0xf;
    let gate_dpl = ((lo >> 45) & 3) as u8;
    if gate_type != 0xe && gate_type != 0xf {
        return Err(Exception::GeneralProtection(idt_code));
    }
    if software && core.cpl > gate_dpl {
        return Err(Exception::GeneralProtection(u32::from(vector) * 8 + 2));
    }
    if lo & (1 << 47) == 0 {
        return Err(Exception::SegmentNotPresent(idt_code));
    }
    let selector = (lo >> 16) as u16;
    let target = (lo & 0xffff) | ((lo >> 32) & 0xffff_0000) | (hi << 32);
    let cs = code_segment(core, selector)?;
    if cs.dpl > core.cpl {
        return Err(Exception::GeneralProtection(u32::from(selector & !3)));
    }
    let ist = (lo >> 32) & 7;
    let old_rsp = core.gpr[4];
    let mut rsp = if ist != 0 {
        tss_u64(core, 0x24 + (ist - 1) * 8)?
    } else if cs.dpl < core.cpl {
        tss_u64(core, 4 + u64::from(cs.dpl) * 8)?
    } else {
        old_rsp
    };
    rsp &= !0xf;
    let old_flags = core.flags.rflags();
    let mut frame = [
        u64::from(core.seg.ss),
        old_rsp,
        old_flags,
        u64::from(core.seg.cs),
        return_rip,
        0,
    ];
    let words = if let Some(code) = error_code {
        frame[5] = u64::from(code);
        6
    } else {
        5
    };
    // Write the frame with the new privilege (all writes as supervisor).
    let new_rsp = rsp.wrapping_sub(8 * words as u64);
    for (k, value) in frame[..words].iter().enumerate() {
        core.write_u64_sys(rsp.wrapping_sub(8 * (k as u64 + 1)), *value)?;
    }
    // Commit.
    if cs.dpl != core.cpl {
        core.seg.ss = u16::from(cs.dpl);
    }
    core.gpr[4] = new_rsp;
    core.seg.cs = (selector & !3) | u16::from(cs.dpl);
    core.cpl = cs.dpl;
    let mut f = old_flags & !(bits::TF | bits::NT | bits::RF | bits::VM);
    if gate_type == 0xe {
        f &= !bits::IF;
    }
    core.flags.set_rflags(f);
    core.sync_ac();
    core.rip = target;
    if let Event::Exception(Exception::PageFault { addr, .. }) = event {
        core.sys.cr2 = addr;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Benign,
    Contributory,
    PageFault,
}

fn class(e: Exception) -> Class {
    match e {
        Exception::DivideError
        | Exception::InvalidTss(_)
        | Exception::SegmentNotPresent(_)
        | Exception::StackFault(_)
        | Exception::GeneralProtection(_) => Class::Contributory,
        Exception::PageFault { .. } => Class::PageFault,
        _ => Class::Benign,
    }
}

/// Delivers `event`, applying the SDM's double-fault rules (Vol. 3A, Table
/// 6-5) when delivery itself faults; a fault while delivering #DF is a
/// triple fault. `return_rip` is saved for `event`; exceptions raised by
/// the delivery itself save `fault_rip` (the instruction that caused it).
pub fn raise(
    core: &mut Core,
    event: Event,
    return_rip: u64,
    fault_rip: u64,
) -> Result<(), TripleFault> {
    let mut current = event;
    let mut rip = return_rip;
    loop {
        let second = match deliver(core, current, rip) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if let Exception::PageFault { addr, .. } = second {
            core.sys.cr2 = addr;
        }
        rip = fault_rip;
        let first = match current {
            Event::Exception(e) => Some(e),
            _ => None,
        };
        current = match first {
            Some(Exception::DoubleFault) => return Err(TripleFault),
            Some(f) => {
                let (a, b) = (class(f), class(second));
                let double = (a == Class::Contributory && b == Class::Contributory)
                    || (a == Class::PageFault && b != Class::Benign);
                if double {
                    Event::Exception(Exception::DoubleFault)
                } else {
                    Event::Exception(second)
                }
            }
            None => Event::Exception(second),
        };
    }
}
