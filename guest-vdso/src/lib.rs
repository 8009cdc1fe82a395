//! lockstep's `linux-vdso.so.1`: the vvar reader and the `__vdso_*` entry points.
//!
//! Dual-mode crate (see `shared/docs/guest-build.md`): host-testable seqlock and
//! time arithmetic, and a freestanding shared object when built with
//! `--cfg guest_vdso`. Arrives with the vDSO issue.
#![cfg_attr(not(test), no_std)]

/// The symbol version node glibc and musl look up.
pub const VERSION_NODE: &str = "LINUX_2.6";
