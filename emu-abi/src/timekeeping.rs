//! Timekeeping: the virtual TSC and the timer the kernel programs.
//!
//! - The TSC counts virtual cycles: one per retired instruction plus the
//!   documented event costs. Its frequency is [`TSC_HZ`] (advertised in CPUID
//!   leaf 0x15 and in `BootInfo::tsc_hz`), so one cycle is one nanosecond.
//! - The timer is the local APIC in x2APIC mode, TSC-deadline mode: the kernel
//!   writes the vector to the LVT timer register ([`X2APIC_LVT_TIMER`], mode
//!   bits 18:17 = 0b10) and an absolute TSC value to [`IA32_TSC_DEADLINE`];
//!   the interrupt is raised when the TSC reaches it (0 disarms). The kernel
//!   acknowledges with a write of 0 to [`X2APIC_EOI`].
//! - Wall-clock time at boot is `BootInfo::epoch_secs`/`epoch_nsec`.

/// TSC frequency: 1 GHz (one virtual cycle per nanosecond).
pub const TSC_HZ: u64 = 1_000_000_000;

/// IA32_TSC_DEADLINE MSR.
pub const IA32_TSC_DEADLINE: u32 = 0x6e0;
/// IA32_APIC_BASE MSR (reads as enabled, x2APIC mode).
pub const IA32_APIC_BASE: u32 = 0x1b;
/// x2APIC ID register.
pub const X2APIC_ID: u32 = 0x802;
/// x2APIC version register.
pub const X2APIC_VERSION: u32 = 0x803;
/// x2APIC task priority register.
pub const X2APIC_TPR: u32 = 0x808;
/// x2APIC end-of-interrupt register.
pub const X2APIC_EOI: u32 = 0x80b;
/// x2APIC spurious interrupt vector register.
pub const X2APIC_SVR: u32 = 0x80f;
/// x2APIC LVT timer register.
pub const X2APIC_LVT_TIMER: u32 = 0x832;
/// LVT mask bit.
pub const LVT_MASKED: u32 = 1 << 16;
/// LVT timer mode: TSC-deadline (bits 18:17 = 0b10).
pub const LVT_TSC_DEADLINE: u32 = 0b10 << 17;
