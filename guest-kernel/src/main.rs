//! The guest kernel binary.
//!
//! Built by emu-core's build.rs with `--cfg guest_kernel` and the kernel flags of
//! shared/docs/guest-build.md, this is a freestanding ELF linked by `kernel.ld` at
//! `emu_abi::layout::KERNEL_VIRT_BASE`: `rt` has the entry point, `boot` the Rust main.
//! Without the cfg it is an empty host program, so `cargo build --workspace` works; the
//! kernel's logic is unit-tested in the library instead.
#![cfg_attr(guest_kernel, no_std, no_main)]

#[cfg(guest_kernel)]
mod arch;
#[cfg(guest_kernel)]
mod boot;
#[cfg(guest_kernel)]
mod rt;

// The mem* builtins are plain functions on the host, so their asm is unit-tested there.
#[cfg(all(test, not(guest_kernel)))]
#[path = "rt/mem.rs"]
mod mem;

#[cfg(not(guest_kernel))]
fn main() {
    eprintln!("guest-kernel: the kernel is built freestanding by emu-core's build.rs; this host build does nothing");
}
