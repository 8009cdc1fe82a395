//! The guest address map that both the loader (emu-core) and the kernel rely on.
//!
//! The kernel image is linked at `KERNEL_VIRT_OFFSET + physical address` (Linux's
//! `__START_KERNEL_map` scheme) by `guest-kernel/kernel.ld`; a test in emu-core pins
//! the built image to these numbers. The `[vvar]` page(s) lie directly below the vDSO text.

/// Offset of the kernel image's virtual addresses from its physical ones
/// (the top 2 GiB of the address space, reachable with `-C code-model=kernel`).
pub const KERNEL_VIRT_OFFSET: u64 = 0xffff_ffff_8000_0000;

/// Lowest physical address of the kernel image (2 MiB: one large page, above low memory).
pub const KERNEL_PHYS_BASE: u64 = 0x20_0000;

/// Lowest virtual address of the kernel image (its first PT_LOAD).
pub const KERNEL_VIRT_BASE: u64 = KERNEL_VIRT_OFFSET + KERNEL_PHYS_BASE;

/// Number of `[vvar]` pages mapped directly below the vDSO text.
pub const VVAR_PAGES: u64 = 1;

/// Size of a small page.
pub const PAGE_SIZE: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_image_sits_in_the_top_two_gib_on_a_large_page() {
        assert_eq!(KERNEL_VIRT_BASE, 0xffff_ffff_8020_0000);
        assert_eq!(KERNEL_VIRT_BASE % 0x20_0000, 0);
        assert!(KERNEL_VIRT_BASE >= 0u64.wrapping_sub(1 << 31));
    }
}
