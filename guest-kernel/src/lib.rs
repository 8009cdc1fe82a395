//! lockstep's guest kernel: a small `no_std` Rust kernel that speaks the Linux
//! x86-64 syscall ABI inside the emulated machine.
//!
//! Dual-mode crate (see `shared/docs/guest-build.md`): a plain host library whose
//! logic is unit-tested on the host, and a freestanding kernel when built with
//! `--cfg guest_kernel`. The kernel itself arrives with the machine/kernel issue;
//! until then this crate only pins the ABI version it is built against.
#![cfg_attr(not(test), no_std)]

/// The emulator ABI version this kernel is built against.
pub const BUILT_FOR_ABI: u32 = emu_abi::ABI_VERSION;
