//! The write side of the `[vvar]` seqlock: publishing a [`ClockSnapshot`] into a page.
//!
//! The guest kernel's timekeeping publishes one snapshot per tick; host tests publish
//! their own to drive the reader and the real image. There is one writer at a time
//! (the kernel writes with interrupts off); readers never block it.

use core::sync::atomic::{fence, Ordering};

use emu_abi::vvar::{VvarData, VDSO_BASES, VDSO_CLOCKMODE_TSC};

/// Everything a tick publishes, in the page's own units (see [`emu_abi::vvar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSnapshot {
    /// `VDSO_CLOCKMODE_TSC` or `VDSO_CLOCKMODE_NONE`.
    pub clock_mode: u32,
    /// TSC value at which the high-resolution bases hold.
    pub cycle_last: u64,
    /// Mask of the TSC delta.
    pub mask: u64,
    /// Nanoseconds per cycle times `2^shift`.
    pub mult: u32,
    /// Fixed-point shift.
    pub shift: u32,
    /// `(sec, nsec)` per clock id; `nsec << shift` for high-resolution clocks, plain
    /// nanoseconds for coarse ones (use [`ClockSnapshot::set_hres`] / [`ClockSnapshot::set_coarse`]).
    pub basetime: [(u64, u64); VDSO_BASES],
    /// Timezone minutes west.
    pub tz_minuteswest: i32,
    /// Timezone DST type.
    pub tz_dsttime: i32,
    /// High-resolution clock resolution in nanoseconds.
    pub hrtimer_res: u32,
    /// Coarse clock resolution (tick length) in nanoseconds.
    pub coarse_res: u32,
}

impl ClockSnapshot {
    /// A TSC-mode snapshot with the given scale, all clocks at zero.
    pub const fn tsc(cycle_last: u64, mult: u32, shift: u32) -> Self {
        ClockSnapshot {
            clock_mode: VDSO_CLOCKMODE_TSC,
            cycle_last,
            mask: u64::MAX,
            mult,
            shift,
            basetime: [(0, 0); VDSO_BASES],
            tz_minuteswest: 0,
            tz_dsttime: 0,
            hrtimer_res: 1,
            coarse_res: 0,
        }
    }

    /// Sets high-resolution clock `id` to `sec` s + `nsec` ns at `cycle_last`
    /// (stored as `nsec << shift`). Ids outside the page are ignored.
    pub fn set_hres(&mut self, id: i32, sec: u64, nsec: u64) {
        let shifted = nsec.checked_shl(self.shift).unwrap_or(0);
        if let Some(slot) = usize::try_from(id)
            .ok()
            .and_then(|i| self.basetime.get_mut(i))
        {
            *slot = (sec, shifted);
        }
    }

    /// Sets coarse clock `id` to `sec` s + `nsec` ns. Ids outside the page are ignored.
    pub fn set_coarse(&mut self, id: i32, sec: u64, nsec: u64) {
        if let Some(slot) = usize::try_from(id)
            .ok()
            .and_then(|i| self.basetime.get_mut(i))
        {
            *slot = (sec, nsec);
        }
    }
}

/// The single writer of one `[vvar]` page.
#[derive(Debug)]
pub struct VvarWriter<'a> {
    page: &'a VvarData,
}

impl<'a> VvarWriter<'a> {
    /// The writer of `page`; the caller ensures there is no other writer.
    pub fn new(page: &'a VvarData) -> Self {
        VvarWriter { page }
    }

    /// Publishes `snap`: readers see either all of the previous values or all of these.
    pub fn publish(&self, snap: &ClockSnapshot) {
        let p = self.page;
        let seq = p.seq.load(Ordering::Relaxed);
        // Odd: an update is in progress. The release fence orders this store before the
        // field stores below for any reader that sees one of them.
        p.seq.store(seq.wrapping_add(1) | 1, Ordering::Relaxed);
        fence(Ordering::Release);
        p.clock_mode.store(snap.clock_mode, Ordering::Relaxed);
        p.cycle_last.store(snap.cycle_last, Ordering::Relaxed);
        p.mask.store(snap.mask, Ordering::Relaxed);
        p.mult.store(snap.mult, Ordering::Relaxed);
        p.shift.store(snap.shift, Ordering::Relaxed);
        for (slot, &(sec, nsec)) in p.basetime.iter().zip(&snap.basetime) {
            slot.sec.store(sec, Ordering::Relaxed);
            slot.nsec.store(nsec, Ordering::Relaxed);
        }
        p.tz_minuteswest
            .store(snap.tz_minuteswest, Ordering::Relaxed);
        p.tz_dsttime.store(snap.tz_dsttime, Ordering::Relaxed);
        p.hrtimer_res.store(snap.hrtimer_res, Ordering::Relaxed);
        p.coarse_res.store(snap.coarse_res, Ordering::Relaxed);
        // Even again; release makes the fields visible to a reader that sees this value.
        let odd = p.seq.load(Ordering::Relaxed);
        p.seq.store(odd.wrapping_add(1), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_abi::vvar::{
        CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME, VDSO_CLOCKMODE_NONE,
    };

    #[test]
    fn publish_stores_every_field_and_leaves_sequence_even() {
        let page = VvarData::new();
        let mut snap = ClockSnapshot::tsc(123, 456, 7);
        snap.set_hres(CLOCK_MONOTONIC, 5, 3);
        snap.set_coarse(CLOCK_MONOTONIC_COARSE, 6, 4);
        snap.tz_minuteswest = 30;
        snap.tz_dsttime = 2;
        snap.hrtimer_res = 1;
        snap.coarse_res = 4_000_000;

        VvarWriter::new(&page).publish(&snap);

        assert_eq!(page.seq.load(Ordering::Relaxed), 2);
        assert_eq!(page.clock_mode.load(Ordering::Relaxed), VDSO_CLOCKMODE_TSC);
        assert_eq!(page.cycle_last.load(Ordering::Relaxed), 123);
        assert_eq!(page.mask.load(Ordering::Relaxed), u64::MAX);
        assert_eq!(page.mult.load(Ordering::Relaxed), 456);
        assert_eq!(page.shift.load(Ordering::Relaxed), 7);
        let mono = &page.basetime[CLOCK_MONOTONIC as usize];
        assert_eq!(mono.sec.load(Ordering::Relaxed), 5);
        assert_eq!(mono.nsec.load(Ordering::Relaxed), 3 << 7);
        let coarse = &page.basetime[CLOCK_MONOTONIC_COARSE as usize];
        assert_eq!(coarse.nsec.load(Ordering::Relaxed), 4);
        assert_eq!(page.tz_minuteswest.load(Ordering::Relaxed), 30);
        assert_eq!(page.tz_dsttime.load(Ordering::Relaxed), 2);
        assert_eq!(page.hrtimer_res.load(Ordering::Relaxed), 1);
        assert_eq!(page.coarse_res.load(Ordering::Relaxed), 4_000_000);
    }

    #[test]
    fn sequence_advances_by_two_per_publish() {
        let page = VvarData::new();
        let writer = VvarWriter::new(&page);
        let mut snap = ClockSnapshot::tsc(0, 1, 0);
        snap.clock_mode = VDSO_CLOCKMODE_NONE;

        writer.publish(&snap);
        writer.publish(&snap);
        writer.publish(&snap);

        assert_eq!(page.seq.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn setters_ignore_ids_outside_the_page() {
        let mut snap = ClockSnapshot::tsc(0, 1, 0);
        let before = snap;

        snap.set_hres(-1, 1, 1);
        snap.set_coarse(12, 1, 1);

        assert_eq!(snap, before);
        snap.set_hres(CLOCK_REALTIME, 1, 1);
        assert_eq!(snap.basetime[0], (1, 1));
    }
}
