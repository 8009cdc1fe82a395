//! Properties of the embedded guest images (`emu_core::guest_images`), checked on the
//! bytes that the build produced: the kernel's ELF layout and code, the vDSO's dynamic
//! structure, and the vDSO's behaviour when mapped and called in this process.

mod dynlink;
mod elf;
mod kernel;
mod vdso;
mod vdso_call;
