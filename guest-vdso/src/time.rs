//! Reading the clocks from the `[vvar]` page, as Linux's lib/vdso/gettimeofday.c does.
//!
//! Every function is pure over a [`VvarData`] and a TSC source, so the host tests drive
//! them with fixed pages, fake counters and real concurrent writers. `None` means "make
//! the real syscall" (an id the vDSO does not serve, or clock mode NONE). Nothing here
//! may panic: the vDSO has no panic machinery (a test checks the image's symbols).

use core::convert::Infallible;
use core::sync::atomic::{fence, Ordering};

use emu_abi::vvar::{
    VdsoTimestamp, VvarData, CLOCK_REALTIME, CLOCK_REALTIME_COARSE, VDSO_CLOCKMODE_TSC,
    VDSO_COARSE, VDSO_HRES,
};

/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;
/// Nanoseconds per microsecond.
pub const NSEC_PER_USEC: u64 = 1_000;

/// `struct __kernel_timespec` (x86-64 `struct timespec`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds, 0..1e9.
    pub tv_nsec: i64,
}

/// `struct timeval` (x86-64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Timeval {
    /// Seconds.
    pub tv_sec: i64,
    /// Microseconds, 0..1e6.
    pub tv_usec: i64,
}

/// `struct timezone`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Timezone {
    /// Minutes west of Greenwich.
    pub tz_minuteswest: i32,
    /// Type of DST correction.
    pub tz_dsttime: i32,
}

/// Runs `read` until it saw a consistent page: the seqlock read side of
/// [`emu_abi::vvar`]'s protocol. `read` may return early with `Err` (for example when the
/// page says "no vDSO"); that value is returned without retrying.
pub fn read_consistent<T, E>(
    vvar: &VvarData,
    mut read: impl FnMut(&VvarData) -> Result<T, E>,
) -> Result<T, E> {
    loop {
        let seq = vvar.seq.load(Ordering::Acquire);
        if seq & 1 != 0 {
            core::hint::spin_loop();
            continue;
        }
        let value = read(vvar)?;
        fence(Ordering::Acquire);
        if vvar.seq.load(Ordering::Relaxed) == seq {
            return Ok(value);
        }
    }
}

/// The bit of `id` in the [`VDSO_HRES`]/[`VDSO_COARSE`] masks, or 0 for ids past 31
/// (and negative ids, which name CPU-time clocks of other processes).
fn clock_bit(id: i32) -> u32 {
    u32::try_from(id)
        .ok()
        .and_then(|id| 1u32.checked_shl(id))
        .unwrap_or(0)
}

fn base(vvar: &VvarData, id: i32) -> Option<&VdsoTimestamp> {
    vvar.basetime.get(usize::try_from(id).ok()?)
}

/// Nanoseconds since `base`'s second: `(nsec + ((tsc - cycle_last) & mask) * mult) >> shift`,
/// without the 64-bit overflow Linux guards against separately.
pub fn scaled_ns(
    base_nsec: u64,
    tsc: u64,
    cycle_last: u64,
    mask: u64,
    mult: u32,
    shift: u32,
) -> u64 {
    let delta = tsc.wrapping_sub(cycle_last) & mask;
    let ns = u128::from(delta) * u128::from(mult) + u128::from(base_nsec);
    ns.wrapping_shr(shift) as u64
}

/// `sec` seconds plus `ns` nanoseconds (possibly more than a second), normalized.
pub fn normalize(sec: u64, ns: u64) -> Timespec {
    Timespec {
        tv_sec: sec.wrapping_add(ns / NSEC_PER_SEC) as i64,
        tv_nsec: (ns % NSEC_PER_SEC) as i64,
    }
}

/// A high-resolution clock: base time plus the scaled TSC delta since `cycle_last`.
fn hres(
    vvar: &VvarData,
    base: &VdsoTimestamp,
    rdtsc: &mut impl FnMut() -> u64,
) -> Option<Timespec> {
    read_consistent(vvar, |v| {
        if v.clock_mode.load(Ordering::Relaxed) != VDSO_CLOCKMODE_TSC {
            return Err(());
        }
        let tsc = rdtsc();
        let ns = scaled_ns(
            base.nsec.load(Ordering::Relaxed),
            tsc,
            v.cycle_last.load(Ordering::Relaxed),
            v.mask.load(Ordering::Relaxed),
            v.mult.load(Ordering::Relaxed),
            v.shift.load(Ordering::Relaxed),
        );
        Ok((base.sec.load(Ordering::Relaxed), ns))
    })
    .ok()
    .map(|(sec, ns)| normalize(sec, ns))
}

/// A coarse clock: the last tick's value, in any clock mode (as Linux's `do_coarse`).
fn coarse(vvar: &VvarData, base: &VdsoTimestamp) -> Timespec {
    let Ok((sec, nsec)) = read_consistent::<_, Infallible>(vvar, |_| {
        Ok((
            base.sec.load(Ordering::Relaxed),
            base.nsec.load(Ordering::Relaxed),
        ))
    });
    normalize(sec, nsec)
}

/// `clock_gettime(id)`; `rdtsc` is read inside the consistent section.
pub fn clock_gettime(vvar: &VvarData, id: i32, mut rdtsc: impl FnMut() -> u64) -> Option<Timespec> {
    let bit = clock_bit(id);
    if bit & VDSO_HRES != 0 {
        hres(vvar, base(vvar, id)?, &mut rdtsc)
    } else if bit & VDSO_COARSE != 0 {
        Some(coarse(vvar, base(vvar, id)?))
    } else {
        None
    }
}

/// `gettimeofday`'s time: `CLOCK_REALTIME` in microseconds.
pub fn gettimeofday(vvar: &VvarData, rdtsc: impl FnMut() -> u64) -> Option<Timeval> {
    let ts = clock_gettime(vvar, CLOCK_REALTIME, rdtsc)?;
    Some(Timeval {
        tv_sec: ts.tv_sec,
        tv_usec: ts.tv_nsec / NSEC_PER_USEC as i64,
    })
}

/// `gettimeofday`'s timezone.
pub fn timezone(vvar: &VvarData) -> Timezone {
    Timezone {
        tz_minuteswest: vvar.tz_minuteswest.load(Ordering::Relaxed),
        tz_dsttime: vvar.tz_dsttime.load(Ordering::Relaxed),
    }
}

/// `time()`: the coarse `CLOCK_REALTIME` seconds, one load without the seqlock (as Linux).
pub fn time(vvar: &VvarData) -> i64 {
    vvar.basetime
        .get(CLOCK_REALTIME_COARSE as usize)
        .map_or(0, |b| b.sec.load(Ordering::Relaxed) as i64)
}

/// `clock_getres(id)`: the high-resolution or tick resolution, `None` for other ids.
pub fn clock_getres(vvar: &VvarData, id: i32) -> Option<Timespec> {
    let bit = clock_bit(id);
    let ns = if bit & VDSO_HRES != 0 {
        vvar.hrtimer_res.load(Ordering::Relaxed)
    } else if bit & VDSO_COARSE != 0 {
        vvar.coarse_res.load(Ordering::Relaxed)
    } else {
        return None;
    };
    Some(Timespec {
        tv_sec: 0,
        tv_nsec: i64::from(ns),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::{ClockSnapshot, VvarWriter};
    use emu_abi::vvar::{
        CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW,
        CLOCK_PROCESS_CPUTIME_ID, CLOCK_TAI, CLOCK_THREAD_CPUTIME_ID, VDSO_CLOCKMODE_NONE,
    };
    use std::sync::atomic::{AtomicBool, AtomicU32};

    fn page_with(snap: &ClockSnapshot) -> VvarData {
        let page = VvarData::new();
        VvarWriter::new(&page).publish(snap);
        page
    }

    fn ts(tv_sec: i64, tv_nsec: i64) -> Timespec {
        Timespec { tv_sec, tv_nsec }
    }

    #[test]
    fn hres_adds_scaled_delta_and_carries_seconds() {
        // 1 ns per cycle (mult = 2^shift); 999_999_999 ns + 1_500_000_123 cycles.
        let mut snap = ClockSnapshot::tsc(1_000, 1 << 20, 20);
        snap.set_hres(CLOCK_MONOTONIC, 100, 999_999_999);
        let page = page_with(&snap);

        let got = clock_gettime(&page, CLOCK_MONOTONIC, || 1_000 + 1_500_000_123);

        assert_eq!(got, Some(ts(102, 500_000_122)));
    }

    #[test]
    fn hres_keeps_sub_nanosecond_fraction_of_base() {
        // 1.5 ns per cycle, base 7.5 ns: 3 cycles later it is exactly 12 ns.
        let mut snap = ClockSnapshot::tsc(50, 3 << 9, 10);
        snap.basetime[CLOCK_REALTIME as usize] = (5, (7 << 10) + 512);
        let page = page_with(&snap);

        assert_eq!(clock_gettime(&page, CLOCK_REALTIME, || 53), Some(ts(5, 12)));
        assert_eq!(clock_gettime(&page, CLOCK_REALTIME, || 52), Some(ts(5, 10)));
    }

    #[test]
    fn hres_masks_counter_delta() {
        let mut snap = ClockSnapshot::tsc(0xfff0, 1, 0);
        snap.mask = 0xffff;
        snap.set_hres(CLOCK_TAI, 1, 0);
        let page = page_with(&snap);

        let got = clock_gettime(&page, CLOCK_TAI, || 0x1_0005);

        assert_eq!(got, Some(ts(1, 0x15)));
    }

    #[test]
    fn hres_does_not_overflow_on_long_delta() {
        // 2^40 cycles at 1 ns/cycle with shift 31: the product is 2^71.
        let snap = ClockSnapshot::tsc(0, 1 << 31, 31);
        let page = page_with(&snap);

        let got = clock_gettime(&page, CLOCK_BOOTTIME, || 1 << 40);

        let ns = 1u64 << 40;
        assert_eq!(
            got,
            Some(ts((ns / NSEC_PER_SEC) as i64, (ns % NSEC_PER_SEC) as i64))
        );
    }

    #[test]
    fn every_hres_clock_reads_its_own_base() {
        let mut snap = ClockSnapshot::tsc(0, 1, 0);
        let ids = [
            CLOCK_REALTIME,
            CLOCK_MONOTONIC,
            CLOCK_MONOTONIC_RAW,
            CLOCK_BOOTTIME,
            CLOCK_TAI,
        ];
        for id in ids {
            snap.set_hres(id, 1000 + id as u64, 0);
        }
        let page = page_with(&snap);

        for id in ids {
            assert_eq!(
                clock_gettime(&page, id, || 7),
                Some(ts(1000 + i64::from(id), 7))
            );
        }
    }

    #[test]
    fn clock_mode_none_falls_back_for_hres_but_not_coarse() {
        let mut snap = ClockSnapshot::tsc(0, 1, 0);
        snap.clock_mode = VDSO_CLOCKMODE_NONE;
        snap.set_coarse(CLOCK_MONOTONIC_COARSE, 9, 8);
        let page = page_with(&snap);

        assert_eq!(clock_gettime(&page, CLOCK_MONOTONIC, || 0), None);
        assert_eq!(gettimeofday(&page, || 0), None);
        assert_eq!(
            clock_gettime(&page, CLOCK_MONOTONIC_COARSE, || 0),
            Some(ts(9, 8))
        );
    }

    #[test]
    fn coarse_clocks_never_read_the_counter() {
        let mut snap = ClockSnapshot::tsc(0, 1, 0);
        snap.set_coarse(CLOCK_REALTIME_COARSE, 1_700_000_000, 999_999_999);
        snap.set_coarse(CLOCK_MONOTONIC_COARSE, 42, 1);
        let page = page_with(&snap);
        let no_tsc = || -> u64 { panic!("coarse clock read the TSC") };

        assert_eq!(
            clock_gettime(&page, CLOCK_REALTIME_COARSE, no_tsc),
            Some(ts(1_700_000_000, 999_999_999))
        );
        assert_eq!(
            clock_gettime(&page, CLOCK_MONOTONIC_COARSE, no_tsc),
            Some(ts(42, 1))
        );
    }

    #[test]
    fn unserved_clock_ids_fall_back() {
        let page = page_with(&ClockSnapshot::tsc(0, 1, 0));
        let ids = [
            CLOCK_PROCESS_CPUTIME_ID,
            CLOCK_THREAD_CPUTIME_ID,
            8,
            9,
            10,
            12,
            31,
            32,
            -1,
            -6,
            i32::MIN,
            i32::MAX,
        ];

        for id in ids {
            assert_eq!(clock_gettime(&page, id, || 0), None, "id {id}");
            assert_eq!(clock_getres(&page, id), None, "id {id}");
        }
    }

    #[test]
    fn gettimeofday_truncates_to_microseconds_and_reports_zone() {
        let mut snap = ClockSnapshot::tsc(0, 1, 0);
        snap.set_hres(CLOCK_REALTIME, 1_234, 5_678_999);
        snap.tz_minuteswest = -60;
        snap.tz_dsttime = 1;
        let page = page_with(&snap);

        assert_eq!(
            gettimeofday(&page, || 0),
            Some(Timeval {
                tv_sec: 1_234,
                tv_usec: 5_678
            })
        );
        assert_eq!(
            timezone(&page),
            Timezone {
                tz_minuteswest: -60,
                tz_dsttime: 1
            }
        );
    }

    #[test]
    fn time_reads_coarse_realtime_seconds() {
        let mut snap = ClockSnapshot::tsc(0, 1, 0);
        snap.clock_mode = VDSO_CLOCKMODE_NONE;
        snap.set_hres(CLOCK_REALTIME, 111, 0);
        snap.set_coarse(CLOCK_REALTIME_COARSE, 222, 5);
        let page = page_with(&snap);

        assert_eq!(time(&page), 222);
    }

    #[test]
    fn getres_reports_hres_and_tick_resolution() {
        let mut snap = ClockSnapshot::tsc(0, 1, 0);
        snap.hrtimer_res = 1;
        snap.coarse_res = 4_000_000;
        let page = page_with(&snap);

        assert_eq!(clock_getres(&page, CLOCK_MONOTONIC_RAW), Some(ts(0, 1)));
        assert_eq!(
            clock_getres(&page, CLOCK_REALTIME_COARSE),
            Some(ts(0, 4_000_000))
        );
    }

    #[test]
    fn reader_retries_when_a_write_lands_inside_its_section() {
        let mut first = ClockSnapshot::tsc(0, 1, 0);
        first.set_hres(CLOCK_MONOTONIC, 1, 0);
        let mut second = ClockSnapshot::tsc(100, 1, 0);
        second.set_hres(CLOCK_MONOTONIC, 2, 0);
        let page = page_with(&first);
        let mut calls = 0;

        let got = clock_gettime(&page, CLOCK_MONOTONIC, || {
            calls += 1;
            if calls == 1 {
                VvarWriter::new(&page).publish(&second);
            }
            150
        });

        assert_eq!(calls, 2);
        assert_eq!(got, Some(ts(2, 50)));
    }

    #[test]
    fn reader_waits_while_sequence_is_odd() {
        let page = page_with(&ClockSnapshot::tsc(0, 1, 0));
        page.seq.store(7, Ordering::Relaxed);
        let done = AtomicBool::new(false);

        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                assert!(!done.load(Ordering::SeqCst), "reader did not wait");
                page.seq.store(8, Ordering::Release);
            });
            let got = clock_gettime(&page, CLOCK_MONOTONIC, || 3);
            done.store(true, Ordering::SeqCst);
            assert_eq!(got, Some(ts(0, 3)));
        });
    }

    /// Snapshot `k` of the concurrency tests: cycle_last = k * 1000 and the MONOTONIC base
    /// = k * 1000 ns, so a consistent read at a fixed TSC gives the same time for every k,
    /// and mixing fields of two snapshots does not.
    fn snapshot_k(k: u64) -> ClockSnapshot {
        let mut snap = ClockSnapshot::tsc(k * 1000, 1, 0);
        snap.set_hres(CLOCK_MONOTONIC, 0, k * 1000);
        snap
    }

    /// Sets the flag when dropped, so the writer thread also stops when the reader panics.
    struct StopOnDrop<'a>(&'a AtomicBool);

    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// Runs `reads` reads (`read` returns whether it saw a consistent snapshot) while
    /// another thread publishes snapshots 1, 2, ... The writer publishes once per read, so
    /// that a read is interrupted at most about once and always makes progress, however
    /// loaded the machine.
    fn with_busy_writer(page: &VvarData, reads: u32, mut read: impl FnMut() -> bool) {
        let stop = AtomicBool::new(false);
        let done = AtomicU32::new(0);
        VvarWriter::new(page).publish(&snapshot_k(0));
        std::thread::scope(|s| {
            s.spawn(|| {
                let writer = VvarWriter::new(page);
                for k in 1.. {
                    writer.publish(&snapshot_k(k));
                    let seen = done.load(Ordering::Acquire);
                    while done.load(Ordering::Acquire) == seen {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::yield_now();
                    }
                }
            });
            let _stop = StopOnDrop(&stop);
            for i in 0..reads {
                assert!(read(), "read {i} saw a torn snapshot");
                done.fetch_add(1, Ordering::Release);
            }
        });
    }

    #[test]
    fn read_consistent_never_returns_fields_of_two_snapshots() {
        // The reader dawdles between its two loads so that writes land inside its section.
        let page = VvarData::new();
        let mono = &page.basetime[CLOCK_MONOTONIC as usize];

        with_busy_writer(&page, 1_000, || {
            let Ok((last, nsec)) = read_consistent::<_, Infallible>(&page, |v| {
                let last = v.cycle_last.load(Ordering::Relaxed);
                std::thread::yield_now();
                Ok((last, mono.nsec.load(Ordering::Relaxed)))
            });
            last == nsec
        });
    }

    #[test]
    fn clock_gettime_under_a_busy_writer_is_always_consistent() {
        const TSC: u64 = 1 << 50;
        let page = VvarData::new();

        with_busy_writer(&page, 1_000, || {
            let got = clock_gettime(&page, CLOCK_MONOTONIC, || {
                std::thread::yield_now();
                TSC
            });
            got == Some(normalize(0, TSC))
        });
    }
}
