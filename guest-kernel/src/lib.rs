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
//! - [`errno`]: Linux error numbers.
//! - [`rng`]: the seeded generator behind all guest-visible randomness.
//! - [`mm`]: frames, page tables, VMAs, address spaces, uaccess.
//! - [`elf`], [`exec`]: the ELF parser, the layout, the initial stack, the loader.
//! - [`fs`]: the in-memory file system and the initramfs unpacker.
//! - [`kernel`], [`platform`], [`process`], [`trapframe`]: the kernel state over an
//!   abstract machine, the process, the saved registers.
//! - [`syscall`], [`trap`], [`abi`]: Linux syscalls, the user-fault policy, struct layouts.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod abi;
pub mod console;
pub mod elf;
pub mod errno;
pub mod exec;
pub mod fs;
pub mod kernel;
pub mod mm;
pub mod platform;
pub mod process;
pub mod rng;
pub mod syscall;
pub mod trap;
pub mod trapframe;

/// The emulator ABI version this kernel is built against.
pub const BUILT_FOR_ABI: u32 = emu_abi::ABI_VERSION;

/// The first line the kernel prints on its console.
pub const BOOT_BANNER: &str = "lockstep kernel: booted\n";
