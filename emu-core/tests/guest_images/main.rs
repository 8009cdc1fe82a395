//! Properties of the embedded guest images (`emu_core::guest_images`), checked on the
//! bytes that the build produced: the kernel's ELF layout and code, the vDSO's dynamic
//! structure, the vDSO's behaviour when mapped and called in this process, and the
//! kernel booting on the machine.

mod boot;
mod dynlink;
mod elf;
mod kernel;
mod vdso;
mod vdso_call;
