//! The Linux identity the guest presents: `uname -r` and the vDSO's version note.
//!
//! glibc may read the kernel version from the vDSO's `Linux` ELF note, so the note and
//! `uname` must agree; both take it from here (linux-abi.md section 8).

/// `uname -r` of the guest kernel.
pub const LINUX_RELEASE: &str = "6.1.0-lockstep";

/// `KERNEL_VERSION(major, minor, patch)` as Linux computes it (include/generated/uapi/linux/version.h).
pub const fn kernel_version(major: u32, minor: u32, patch: u32) -> u32 {
    (major << 16) + (minor << 8) + if patch > 255 { 255 } else { patch }
}

/// `LINUX_VERSION_CODE` of [`LINUX_RELEASE`], stored in the vDSO's `Linux` note.
pub const LINUX_VERSION_CODE: u32 = kernel_version(6, 1, 0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_code_matches_release_string() {
        let mut parts = LINUX_RELEASE
            .split(['.', '-'])
            .take(3)
            .map(|p| p.parse::<u32>().unwrap());
        let (a, b, c) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert_eq!(LINUX_VERSION_CODE, kernel_version(a, b, c));
        assert_eq!(LINUX_VERSION_CODE, 0x06_01_00);
    }
}
