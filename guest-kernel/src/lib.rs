//! lockstep's guest kernel: a small `no_std` Rust kernel that speaks the Linux
//! x86-64 syscall ABI inside the emulated machine.
//!
//! Dual-mode crate (see `shared/docs/guest-build.md`): this library holds the kernel's
//! host-testable logic and never touches hardware; `src/main.rs` built with
//! `--cfg guest_kernel` (by emu-core's build.rs) is the freestanding kernel, whose
//! `arch` and `rt` modules hold the instructions that do.
//!
//! - [`console`]: the serial console and the debug-exit port, over a [`console::PortIo`]
//!   that the kernel implements with `in`/`out` and tests with a recorder.
#![cfg_attr(not(test), no_std)]

pub mod console;

/// The emulator ABI version this kernel is built against.
pub const BUILT_FOR_ABI: u32 = emu_abi::ABI_VERSION;

/// The first line the kernel prints on its console.
pub const BOOT_BANNER: &str = "lockstep kernel: booted\n";
