//! The contract between the lockstep emulator and its guests (kernel and vDSO).
//!
//! A tiny `no_std` crate with no dependencies: both sides compile it, so the
//! layouts here are the single source of truth. The machine/kernel issue
//! fills in `BootInfo`, the port map and the vvar page; for now it holds the
//! ABI version and the fixed guest addresses that are already settled.
#![no_std]
#![warn(missing_docs)]

/// Version of this contract; a kernel built against another refuses to boot.
pub const ABI_VERSION: u32 = 1;

/// Guest virtual address of the legacy vsyscall page (fixed by the Linux ABI).
pub const VSYSCALL_ADDR: u64 = 0xffff_ffff_ff60_0000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vsyscall_page_is_linux_fixed_address() {
        assert_eq!(VSYSCALL_ADDR, 0xffff_ffff_ff60_0000);
        assert_eq!(ABI_VERSION, 1);
    }
}
