//! `BootInfo`: what the emulator's loader tells the kernel at boot.
//!
//! The loader writes one `BootInfo` into guest RAM and starts the kernel in
//! 64-bit mode at CPL 0 with RDI = its physical address. Every pointer here
//! is a guest *physical* address; the boot page tables identity-map
//! `[0, identity_map_end)` and map the kernel image at its linked addresses.

/// `BootInfo::magic`.
pub const BOOT_MAGIC: u64 = u64::from_le_bytes(*b"LOCKSTEP");

/// How the legacy vsyscall page behaves (the `--vsyscall` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum VsyscallMode {
    /// Executable legacy page (pre-3.1 Linux; teaching mode).
    Native = 0,
    /// Readable, not executable; calls are emulated (Linux 3.1 to 5.2 default).
    Emulate = 1,
    /// Not readable; calls are emulated (Linux default since 5.3).
    Xonly = 2,
    /// No page at all.
    None = 3,
}

impl VsyscallMode {
    /// Decodes the value stored in `BootInfo::vsyscall_mode`.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Native),
            1 => Some(Self::Emulate),
            2 => Some(Self::Xonly),
            3 => Some(Self::None),
            _ => None,
        }
    }
}

/// A physical memory range `[phys, phys + len)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct PhysRange {
    /// Guest physical start address.
    pub phys: u64,
    /// Length in bytes.
    pub len: u64,
}

/// The boot information block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BootInfo {
    /// [`BOOT_MAGIC`].
    pub magic: u64,
    /// [`crate::ABI_VERSION`] of the loader.
    pub abi_version: u32,
    /// [`VsyscallMode`] as u32.
    pub vsyscall_mode: u32,
    /// Size of guest RAM in bytes; RAM is `[0, ram_size)`.
    pub ram_size: u64,
    /// Physical memory the loader used (kernel image, boot page tables,
    /// this block, the initramfs, strings): the kernel must not allocate it.
    pub reserved: PhysRange,
    /// End of the identity map the boot page tables provide.
    pub identity_map_end: u64,
    /// The initramfs (cpio "newc").
    pub initramfs: PhysRange,
    /// argv of the first program: `argc` NUL-terminated strings back to back.
    pub argv: PhysRange,
    /// Number of strings in `argv`.
    pub argc: u64,
    /// envp of the first program: `envc` NUL-terminated strings back to back.
    pub envp: PhysRange,
    /// Number of strings in `envp`.
    pub envc: u64,
    /// The seed of all guest-visible randomness.
    pub seed: u64,
    /// Wall-clock time at boot: seconds since the Unix epoch.
    pub epoch_secs: i64,
    /// Wall-clock time at boot: nanoseconds.
    pub epoch_nsec: u64,
    /// TSC frequency in Hz (also in CPUID leaf 0x15).
    pub tsc_hz: u64,
    /// Non-zero: randomize the address-space layout.
    pub aslr: u32,
    /// Kernel log verbosity (0 = quiet).
    pub log_level: u32,
}

impl BootInfo {
    /// An empty block with the magic and ABI version filled in.
    pub const fn new() -> Self {
        Self {
            magic: BOOT_MAGIC,
            abi_version: crate::ABI_VERSION,
            vsyscall_mode: VsyscallMode::Xonly as u32,
            ram_size: 0,
            reserved: PhysRange { phys: 0, len: 0 },
            identity_map_end: 0,
            initramfs: PhysRange { phys: 0, len: 0 },
            argv: PhysRange { phys: 0, len: 0 },
            argc: 0,
            envp: PhysRange { phys: 0, len: 0 },
            envc: 0,
            seed: 0,
            epoch_secs: 0,
            epoch_nsec: 0,
            tsc_hz: 0,
            aslr: 1,
            log_level: 0,
        }
    }
}

impl Default for BootInfo {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_is_pinned() {
        assert_eq!(size_of::<PhysRange>(), 16);
        assert_eq!(offset_of!(BootInfo, abi_version), 8);
        assert_eq!(offset_of!(BootInfo, ram_size), 16);
        assert_eq!(offset_of!(BootInfo, reserved), 24);
        assert_eq!(offset_of!(BootInfo, initramfs), 48);
        assert_eq!(offset_of!(BootInfo, seed), 112);
        assert_eq!(offset_of!(BootInfo, tsc_hz), 136);
        assert_eq!(size_of::<BootInfo>(), 152);
    }

    #[test]
    fn vsyscall_modes_round_trip() {
        for m in [
            VsyscallMode::Native,
            VsyscallMode::Emulate,
            VsyscallMode::Xonly,
            VsyscallMode::None,
        ] {
            assert_eq!(VsyscallMode::from_u32(m as u32), Some(m));
        }
        assert_eq!(VsyscallMode::from_u32(4), None);
    }
}
