//! The local APIC timer in x2APIC TSC-deadline mode (emu_abi::timekeeping): a periodic
//! tick of `HZ` (the coarse clocks derive from the TSC at the same resolution), and
//! deadlines for sleeping.

use core::sync::atomic::{AtomicU64, Ordering};

use emu_abi::timekeeping::{
    IA32_TSC_DEADLINE, LVT_TSC_DEADLINE, X2APIC_EOI, X2APIC_LVT_TIMER, X2APIC_SVR,
};

use super::cpu;

/// The timer's vector (Linux's LOCAL_TIMER_VECTOR).
pub const TIMER_VECTOR: u64 = 0xec;
/// The spurious-interrupt vector.
pub const SPURIOUS_VECTOR: u64 = 0xff;
/// Ticks per second (Linux's CONFIG_HZ on Debian).
pub const HZ: u64 = 250;

static PERIOD: AtomicU64 = AtomicU64::new(0);
static NEXT_TICK: AtomicU64 = AtomicU64::new(0);

/// Enables the APIC and starts the tick.
pub fn init(tsc_hz: u64) {
    PERIOD.store(tsc_hz / HZ, Ordering::Relaxed);
    cpu::wrmsr(X2APIC_SVR, 0x100 | SPURIOUS_VECTOR);
    cpu::wrmsr(X2APIC_LVT_TIMER, u64::from(LVT_TSC_DEADLINE) | TIMER_VECTOR);
    let next = cpu::rdtsc() + PERIOD.load(Ordering::Relaxed);
    NEXT_TICK.store(next, Ordering::Relaxed);
    cpu::wrmsr(IA32_TSC_DEADLINE, next);
}

/// Handles the timer interrupt: counts ticks that are due and re-arms.
pub fn interrupt() {
    cpu::wrmsr(X2APIC_EOI, 0);
    let now = cpu::rdtsc();
    let period = PERIOD.load(Ordering::Relaxed).max(1);
    let mut next = NEXT_TICK.load(Ordering::Relaxed);
    while next <= now {
        next += period;
    }
    NEXT_TICK.store(next, Ordering::Relaxed);
    cpu::wrmsr(IA32_TSC_DEADLINE, next);
}

/// Halts until the TSC reaches `deadline` (ticks keep coming meanwhile).
pub fn sleep_until(deadline: u64) {
    loop {
        let now = cpu::rdtsc();
        if now >= deadline {
            break;
        }
        let next = NEXT_TICK.load(Ordering::Relaxed);
        cpu::wrmsr(IA32_TSC_DEADLINE, next.min(deadline));
        cpu::wait_for_interrupt();
    }
    cpu::wrmsr(IA32_TSC_DEADLINE, NEXT_TICK.load(Ordering::Relaxed));
}
