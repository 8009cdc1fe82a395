//! The local APIC timer in x2APIC TSC-deadline mode (register map in
//! `emu_abi::timekeeping`): the only interrupt source of the machine.
//! Deterministic: it fires when the virtual TSC reaches the deadline.

use emu_abi::timekeeping::{
    IA32_APIC_BASE, IA32_TSC_DEADLINE, LVT_MASKED, X2APIC_EOI, X2APIC_ID, X2APIC_LVT_TIMER,
    X2APIC_SVR, X2APIC_TPR, X2APIC_VERSION,
};

/// APIC base MSR value: base 0xfee00000, BSP, enabled, x2APIC mode.
const APIC_BASE_VALUE: u64 = 0xfee0_0000 | (1 << 8) | (1 << 10) | (1 << 11);

/// The timer state.
#[derive(Debug, Clone, Default)]
pub struct ApicTimer {
    lvt_timer: u32,
    deadline: u64,
    svr: u32,
    tpr: u32,
    /// Timer interrupts raised so far.
    pub fired: u64,
}

impl ApicTimer {
    /// A reset timer (LVT masked, disarmed).
    pub fn new() -> Self {
        Self {
            lvt_timer: LVT_MASKED,
            ..Self::default()
        }
    }

    /// `rdmsr`; `None` for MSRs this device does not own.
    pub fn rdmsr(&self, msr: u32) -> Option<u64> {
        Some(match msr {
            IA32_APIC_BASE => APIC_BASE_VALUE,
            IA32_TSC_DEADLINE => self.deadline,
            X2APIC_ID => 0,
            // Version 0x14, 6 LVT entries.
            X2APIC_VERSION => 0x0005_0014,
            X2APIC_TPR => u64::from(self.tpr),
            X2APIC_SVR => u64::from(self.svr),
            X2APIC_LVT_TIMER => u64::from(self.lvt_timer),
            _ => return None,
        })
    }

    /// `wrmsr`; `false` for MSRs this device does not own.
    pub fn wrmsr(&mut self, msr: u32, value: u64) -> bool {
        match msr {
            IA32_APIC_BASE => {}
            IA32_TSC_DEADLINE => self.deadline = value,
            X2APIC_TPR => self.tpr = value as u32 & 0xff,
            X2APIC_SVR => self.svr = value as u32,
            X2APIC_EOI => {}
            X2APIC_LVT_TIMER => self.lvt_timer = value as u32,
            _ => return false,
        }
        true
    }

    /// The timer vector if it is due at `tsc` (and disarms it).
    pub fn poll(&mut self, tsc: u64) -> Option<u8> {
        if self.deadline == 0 || tsc < self.deadline || self.lvt_timer & LVT_MASKED != 0 {
            return None;
        }
        self.deadline = 0;
        self.fired += 1;
        Some(self.lvt_timer as u8)
    }

    /// The armed deadline, if the timer can fire.
    pub fn next_deadline(&self) -> Option<u64> {
        (self.deadline != 0 && self.lvt_timer & LVT_MASKED == 0).then_some(self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_abi::timekeeping::LVT_TSC_DEADLINE;

    #[test]
    fn fires_once_at_the_deadline_and_respects_the_mask() {
        let mut t = ApicTimer::new();
        assert!(t.wrmsr(IA32_TSC_DEADLINE, 1000));
        assert_eq!(t.poll(2000), None, "masked");
        assert!(t.wrmsr(X2APIC_LVT_TIMER, u64::from(LVT_TSC_DEADLINE | 0x20)));
        assert_eq!(t.next_deadline(), Some(1000));
        assert_eq!(t.poll(999), None);
        assert_eq!(t.poll(1000), Some(0x20));
        assert_eq!(t.poll(5000), None, "one shot");
        assert!(!t.wrmsr(0x1234, 0));
    }
}
