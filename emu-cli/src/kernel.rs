//! The guest kernel image `lockstep run` boots: the one emu-core's build
//! embeds (`emu_core::guest_images::KERNEL`, built from guest-kernel/).

/// The kernel ELF image.
pub fn image() -> &'static [u8] {
    emu_core::guest_images::KERNEL
}
