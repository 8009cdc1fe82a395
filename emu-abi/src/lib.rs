//! The contract between the lockstep emulator and its guests (kernel and vDSO).
//!
//! A tiny `no_std` crate with no dependencies: both sides compile it, so the
//! layouts here are the single source of truth. The machine/kernel issue
//! fills in `BootInfo`.
//!
//! - [`boot`]: the boot information block the loader hands to the kernel.
//! - [`hostio`]: bulk stdout/stderr/stdin transfers of the first program.
//! - [`timekeeping`]: the virtual TSC, the TSC-deadline timer, the epoch.
//! - [`ports`]: I/O port numbers and the debug-exit protocol.
//! - [`layout`]: the guest address map (kernel image, vvar pages).
//! - [`vvar`]: the vDSO data page and its seqlock protocol.
//! - [`identity`]: the Linux release the guest presents.
#![no_std]
#![warn(missing_docs)]

pub mod boot;
pub mod hostio;
pub mod identity;
pub mod layout;
pub mod ports;
pub mod signals;
pub mod timekeeping;
pub mod vvar;

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
