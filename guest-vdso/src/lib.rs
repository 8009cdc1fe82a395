//! lockstep's `linux-vdso.so.1`: the vvar reader and the `__vdso_*` entry points.
//!
//! Dual-mode crate (see `shared/docs/guest-build.md`):
//! - [`time`]: the seqlock reader and time arithmetic over [`emu_abi::vvar::VvarData`],
//!   pure functions of the page and a TSC source, unit-tested on the host.
//! - [`writer`]: the matching seqlock writer (the kernel's timekeeping side; host tests
//!   use it to fill a page for the real image).
//! - `entry` (only with `--cfg guest_vdso`): the exported `__vdso_*` functions and weak
//!   aliases, reading the `[vvar]` page below the image and falling back to `syscall`.
//!
//! emu-core's build.rs builds this crate as a staticlib and links it with `vdso.lds` and
//! `vdso.map` into the image that the guest kernel maps.
#![cfg_attr(not(test), no_std)]

#[cfg(guest_vdso)]
mod entry;
pub mod time;
pub mod writer;

/// The symbol version node glibc and musl look up.
pub const VERSION_NODE: &str = "LINUX_2.6";

/// The shared object's name (`DT_SONAME`).
pub const SONAME: &str = "linux-vdso.so.1";

/// The exported entry points; each also has a weak alias without the `__vdso_` prefix.
pub const EXPORTS: [&str; 5] = [
    "__vdso_clock_gettime",
    "__vdso_gettimeofday",
    "__vdso_time",
    "__vdso_getcpu",
    "__vdso_clock_getres",
];
