//! The guest images, built by `build.rs` (a nested cargo, see
//! shared/docs/guest-build.md) and embedded in the library.
//!
//! emu-core never links guest *code*: these are byte images that the machine loads
//! (the kernel) or hands to the kernel (the vDSO). Their properties are pinned by
//! `tests/guest_images/`.

/// The guest kernel: a static ELF64 `ET_EXEC` for x86-64, linked at
/// [`emu_abi::layout::KERNEL_VIRT_BASE`] with physical load addresses from
/// [`emu_abi::layout::KERNEL_PHYS_BASE`], no relocations. Entered in 64-bit mode at
/// CPL 0 with RDI = physical address of the boot information.
pub const KERNEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest-kernel.elf"));

/// `linux-vdso.so.1`: an ELF64 `ET_DYN` linked at 0 with one read-only, executable
/// PT_LOAD whose file offsets equal its addresses, so it is mapped as it is; its `[vvar]`
/// page(s) ([`emu_abi::layout::VVAR_PAGES`]) go directly below it.
pub const VDSO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/linux-vdso.so.1"));
