//! The vDSO data page (`[vvar]`): [`VvarData`], its clock ids and its seqlock protocol.
//!
//! The guest kernel's timekeeping writes this page; guest-vdso's `__vdso_*` functions
//! read it from user space. The layout follows Linux's `struct vdso_data`
//! (include/vdso/datapage.h) for one clock-source base; fields are atomics so that
//! both sides, and host tests with real threads, follow the protocol without data races
//! (on x86-64 every access below is a plain `mov`).
//!
//! # Seqlock protocol
//! Writer (one at a time): `seq += 1` (odd: update in progress), release fence, store
//! the fields, then `seq += 1` with release ordering. Reader: load `seq` with acquire
//! ordering and retry while odd; load the fields; acquire fence; re-load `seq` and retry
//! if it changed. Relaxed loads and stores suffice for the fields.
//!
//! # Time arithmetic
//! For a high-resolution clock `id` and a TSC reading `tsc`:
//! `ns = (basetime[id].nsec + ((tsc - cycle_last) & mask) * mult) >> shift`,
//! then `sec = basetime[id].sec + ns / 1e9`, `nsec = ns % 1e9`. High-resolution bases
//! store `nsec << shift`; coarse bases store plain nanoseconds and need no TSC.
//! `CLOCK_MONOTONIC_RAW` shares `mult`/`shift`: nothing slews lockstep's virtual clock.
//!
//! # What the reader serves (as Linux's lib/vdso/gettimeofday.c)
//! - High-resolution clocks ([`VDSO_HRES`]) and `gettimeofday`: only in
//!   [`VDSO_CLOCKMODE_TSC`]; in [`VDSO_CLOCKMODE_NONE`] they make the real syscall.
//! - Coarse clocks ([`VDSO_COARSE`]), `time()` (the `CLOCK_REALTIME_COARSE` seconds) and
//!   `clock_getres`: in every clock mode. So the kernel keeps the coarse bases,
//!   `hrtimer_res` and `coarse_res` current even while the mode is NONE.
//! - Any other clock id: the real syscall.

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};

/// `CLOCK_REALTIME` (include/uapi/linux/time.h).
pub const CLOCK_REALTIME: i32 = 0;
/// `CLOCK_MONOTONIC`.
pub const CLOCK_MONOTONIC: i32 = 1;
/// `CLOCK_PROCESS_CPUTIME_ID` (never served by the vDSO).
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
/// `CLOCK_THREAD_CPUTIME_ID` (never served by the vDSO).
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
/// `CLOCK_MONOTONIC_RAW`.
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
/// `CLOCK_REALTIME_COARSE`.
pub const CLOCK_REALTIME_COARSE: i32 = 5;
/// `CLOCK_MONOTONIC_COARSE`.
pub const CLOCK_MONOTONIC_COARSE: i32 = 6;
/// `CLOCK_BOOTTIME`.
pub const CLOCK_BOOTTIME: i32 = 7;
/// `CLOCK_TAI`.
pub const CLOCK_TAI: i32 = 11;

/// Number of [`VvarData::basetime`] slots: indexed by clock id, up to `CLOCK_TAI`
/// (Linux's `VDSO_BASES`).
pub const VDSO_BASES: usize = CLOCK_TAI as usize + 1;

/// Clock ids read from the TSC (bit `id` set), Linux's `VDSO_HRES`.
pub const VDSO_HRES: u32 = (1 << CLOCK_REALTIME)
    | (1 << CLOCK_MONOTONIC)
    | (1 << CLOCK_MONOTONIC_RAW)
    | (1 << CLOCK_BOOTTIME)
    | (1 << CLOCK_TAI);

/// Clock ids served from the last tick's values (bit `id` set), Linux's `VDSO_COARSE`.
pub const VDSO_COARSE: u32 = (1 << CLOCK_REALTIME_COARSE) | (1 << CLOCK_MONOTONIC_COARSE);

/// [`VvarData::clock_mode`]: the vDSO must make the real syscall (Linux `VDSO_CLOCKMODE_NONE`).
pub const VDSO_CLOCKMODE_NONE: u32 = 0;
/// [`VvarData::clock_mode`]: high-resolution clocks come from `rdtsc` (`VDSO_CLOCKMODE_TSC`).
pub const VDSO_CLOCKMODE_TSC: u32 = 1;

/// One clock's base time: seconds and (possibly shifted) nanoseconds.
#[derive(Debug)]
#[repr(C)]
pub struct VdsoTimestamp {
    /// Seconds.
    pub sec: AtomicU64,
    /// Nanoseconds, left-shifted by [`VvarData::shift`] for high-resolution clocks.
    pub nsec: AtomicU64,
}

impl VdsoTimestamp {
    /// A zero timestamp.
    pub const fn new() -> Self {
        VdsoTimestamp {
            sec: AtomicU64::new(0),
            nsec: AtomicU64::new(0),
        }
    }
}

impl Default for VdsoTimestamp {
    fn default() -> Self {
        Self::new()
    }
}

/// The data at the start of the `[vvar]` page (the page directly below the vDSO text).
#[derive(Debug)]
#[repr(C)]
pub struct VvarData {
    /// Sequence count: odd while the kernel writes (see the module's protocol).
    pub seq: AtomicU32,
    /// [`VDSO_CLOCKMODE_TSC`] or [`VDSO_CLOCKMODE_NONE`].
    pub clock_mode: AtomicU32,
    /// TSC value at which the high-resolution bases were taken.
    pub cycle_last: AtomicU64,
    /// Mask applied to the TSC delta (all ones for the 64-bit TSC).
    pub mask: AtomicU64,
    /// Nanoseconds per TSC cycle, times `2^shift`.
    pub mult: AtomicU32,
    /// Fixed-point shift of `mult` and of the high-resolution `nsec` bases.
    pub shift: AtomicU32,
    /// Base times indexed by clock id (unused slots stay zero).
    pub basetime: [VdsoTimestamp; VDSO_BASES],
    /// `struct timezone` minutes west of Greenwich, for `gettimeofday`.
    pub tz_minuteswest: AtomicI32,
    /// `struct timezone` type of DST correction, for `gettimeofday`.
    pub tz_dsttime: AtomicI32,
    /// Resolution of the high-resolution clocks in nanoseconds (`clock_getres`).
    pub hrtimer_res: AtomicU32,
    /// Resolution of the coarse clocks in nanoseconds: the tick length.
    pub coarse_res: AtomicU32,
}

impl VvarData {
    /// An all-zero page header (clock mode NONE: every call falls back to the syscall).
    pub const fn new() -> Self {
        VvarData {
            seq: AtomicU32::new(0),
            clock_mode: AtomicU32::new(VDSO_CLOCKMODE_NONE),
            cycle_last: AtomicU64::new(0),
            mask: AtomicU64::new(0),
            mult: AtomicU32::new(0),
            shift: AtomicU32::new(0),
            basetime: [const { VdsoTimestamp::new() }; VDSO_BASES],
            tz_minuteswest: AtomicI32::new(0),
            tz_dsttime: AtomicI32::new(0),
            hrtimer_res: AtomicU32::new(0),
            coarse_res: AtomicU32::new(0),
        }
    }
}

impl Default for VvarData {
    fn default() -> Self {
        Self::new()
    }
}

const _: () = assert!(core::mem::size_of::<VvarData>() as u64 <= crate::layout::PAGE_SIZE);

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn vvar_layout_is_pinned() {
        assert_eq!(offset_of!(VvarData, seq), 0);
        assert_eq!(offset_of!(VvarData, clock_mode), 4);
        assert_eq!(offset_of!(VvarData, cycle_last), 8);
        assert_eq!(offset_of!(VvarData, mask), 16);
        assert_eq!(offset_of!(VvarData, mult), 24);
        assert_eq!(offset_of!(VvarData, shift), 28);
        assert_eq!(offset_of!(VvarData, basetime), 32);
        assert_eq!(offset_of!(VvarData, tz_minuteswest), 32 + 16 * 12);
        assert_eq!(offset_of!(VvarData, tz_dsttime), 228);
        assert_eq!(offset_of!(VvarData, hrtimer_res), 232);
        assert_eq!(offset_of!(VvarData, coarse_res), 236);
        assert_eq!(size_of::<VvarData>(), 240);
        assert_eq!(align_of::<VvarData>(), 8);
    }

    #[test]
    fn timestamp_layout_is_sec_then_nsec() {
        assert_eq!(offset_of!(VdsoTimestamp, sec), 0);
        assert_eq!(offset_of!(VdsoTimestamp, nsec), 8);
        assert_eq!(size_of::<VdsoTimestamp>(), 16);
    }

    #[test]
    fn clock_ids_and_masks_match_linux() {
        assert_eq!(
            [
                CLOCK_REALTIME,
                CLOCK_MONOTONIC,
                CLOCK_PROCESS_CPUTIME_ID,
                CLOCK_THREAD_CPUTIME_ID,
                CLOCK_MONOTONIC_RAW,
                CLOCK_REALTIME_COARSE,
                CLOCK_MONOTONIC_COARSE,
                CLOCK_BOOTTIME,
                CLOCK_TAI
            ],
            [0, 1, 2, 3, 4, 5, 6, 7, 11]
        );
        assert_eq!(VDSO_BASES, 12);
        assert_eq!(VDSO_HRES, 0b1000_1001_0011);
        assert_eq!(VDSO_COARSE, 0b0110_0000);
        assert_eq!(VDSO_HRES & VDSO_COARSE, 0);
    }

    #[test]
    fn new_page_is_zero_and_mode_none() {
        let page = VvarData::new();
        assert_eq!(page.clock_mode.into_inner(), VDSO_CLOCKMODE_NONE);
        assert_eq!(page.seq.into_inner(), 0);
    }
}
