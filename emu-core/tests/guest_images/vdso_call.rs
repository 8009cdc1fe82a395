//! The strongest vDSO test: map the real image at random addresses in this process with
//! a `[vvar]` page directly below it, fill the page with guest-vdso's writer, resolve
//! `name@LINUX_2.6` from PT_DYNAMIC alone, call the functions natively, and check the
//! answers against what was written (and the fallbacks against the host's syscalls).
#![allow(unsafe_code)] // mapping memory, executing the image and calling through raw addresses

use std::collections::hash_map::RandomState;
use std::ffi::c_void;
use std::hash::{BuildHasher, Hasher};

use emu_abi::layout::{PAGE_SIZE, VVAR_PAGES};
use emu_abi::vvar::*;
use emu_core::guest_images::VDSO;
use guest_vdso::time::{Timespec, Timeval, Timezone};
use guest_vdso::writer::{ClockSnapshot, VvarWriter};

use crate::dynlink::lookup;

type ClockGettime = unsafe extern "C" fn(i32, *mut Timespec) -> i32;
type Gettimeofday = unsafe extern "C" fn(*mut Timeval, *mut Timezone) -> i32;
type Time = unsafe extern "C" fn(*mut i64) -> i64;
type Getcpu = unsafe extern "C" fn(*mut u32, *mut u32, *mut c_void) -> i64;
type ClockGetres = unsafe extern "C" fn(i32, *mut Timespec) -> i32;

const EINVAL: i32 = 22;

/// The vDSO image mapped read+execute at a random address, its vvar page(s) below it
/// (left writable here so that the test can keep publishing).
struct MappedVdso {
    region: *mut c_void,
    region_len: usize,
    image: *const u8,
    image_len: usize,
}

impl MappedVdso {
    fn map(rng: &mut Rng) -> Self {
        let vvar_len = (VVAR_PAGES * PAGE_SIZE) as usize;
        let image_len = VDSO.len().next_multiple_of(PAGE_SIZE as usize);
        let region_len = vvar_len + image_len;
        let region = loop {
            let hint = (0x1000_0000_0000 + rng.next() % 0x5000_0000_0000) & !(PAGE_SIZE - 1);
            // SAFETY: a fresh anonymous mapping; MAP_FIXED_NOREPLACE never replaces one.
            let addr = unsafe {
                libc::mmap(
                    hint as *mut c_void,
                    region_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                    -1,
                    0,
                )
            };
            if addr != libc::MAP_FAILED {
                break addr;
            }
        };
        // SAFETY: the region is region_len bytes; the image starts vvar_len bytes in.
        let image = unsafe { region.cast::<u8>().add(vvar_len) };
        // SAFETY: VDSO.len() <= image_len bytes of the fresh, writable region.
        unsafe { std::ptr::copy_nonoverlapping(VDSO.as_ptr(), image, VDSO.len()) };
        // SAFETY: changes protection of our own mapping only.
        let rc =
            unsafe { libc::mprotect(image.cast(), image_len, libc::PROT_READ | libc::PROT_EXEC) };
        assert_eq!(rc, 0, "mprotect");
        MappedVdso {
            region,
            region_len,
            image,
            image_len,
        }
    }

    fn vvar(&self) -> &VvarData {
        // SAFETY: the region starts with the zeroed, writable, page-aligned vvar page, valid
        // while self lives; VvarData is all atomics, for which zero bytes are valid.
        unsafe { &*self.region.cast::<VvarData>() }
    }

    fn publish(&self, snap: &ClockSnapshot) {
        VvarWriter::new(self.vvar()).publish(snap);
    }

    /// The mapped image as memory (not the file): what a libc sees at AT_SYSINFO_EHDR.
    fn memory(&self) -> &[u8] {
        // SAFETY: image_len readable bytes, mapped while self lives.
        unsafe { std::slice::from_raw_parts(self.image, self.image_len) }
    }

    /// The address of `name@LINUX_2.6`.
    fn symbol(&self, name: &str) -> usize {
        let offset = lookup(self.memory(), name, "LINUX_2.6")
            .unwrap_or_else(|| panic!("{name}@LINUX_2.6 not found"));
        assert!(offset < self.image_len as u64, "{name} outside the image");
        self.image as usize + offset as usize
    }

    fn clock_gettime(&self) -> ClockGettime {
        // SAFETY: the address is the entry of __vdso_clock_gettime in the mapped image,
        // which has this C signature.
        unsafe { std::mem::transmute::<usize, ClockGettime>(self.symbol("__vdso_clock_gettime")) }
    }

    fn gettimeofday(&self) -> Gettimeofday {
        // SAFETY: as for clock_gettime.
        unsafe { std::mem::transmute::<usize, Gettimeofday>(self.symbol("__vdso_gettimeofday")) }
    }

    fn time(&self) -> Time {
        // SAFETY: as for clock_gettime.
        unsafe { std::mem::transmute::<usize, Time>(self.symbol("__vdso_time")) }
    }

    fn getcpu(&self) -> Getcpu {
        // SAFETY: as for clock_gettime.
        unsafe { std::mem::transmute::<usize, Getcpu>(self.symbol("__vdso_getcpu")) }
    }

    fn clock_getres(&self) -> ClockGetres {
        // SAFETY: as for clock_gettime.
        unsafe { std::mem::transmute::<usize, ClockGetres>(self.symbol("__vdso_clock_getres")) }
    }
}

impl Drop for MappedVdso {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `map`; nothing refers to it any more.
        unsafe { libc::munmap(self.region, self.region_len) };
    }
}

/// xorshift64*, seeded from std's per-process random keys (the seed is in failure messages).
struct Rng(u64);

impl Rng {
    fn from_entropy() -> Self {
        let seed = RandomState::new().build_hasher().finish() | 1;
        eprintln!("vdso_call seed: {seed:#x}");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn rdtsc() -> u64 {
    // SAFETY: rdtsc reads the time-stamp counter, user-readable on Linux x86-64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn host_clock(id: i32) -> Timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    assert_eq!(rc, 0, "host clock_gettime({id})");
    Timespec {
        tv_sec: ts.tv_sec,
        tv_nsec: ts.tv_nsec,
    }
}

fn key(ts: Timespec) -> (i64, i64) {
    (ts.tv_sec, ts.tv_nsec)
}

/// One nanosecond per TSC cycle, with a fraction-capable shift.
const SHIFT: u32 = 8;
const MULT: u32 = 1 << SHIFT;
const HRES_IDS: [i32; 5] = [
    CLOCK_REALTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_RAW,
    CLOCK_BOOTTIME,
    CLOCK_TAI,
];

/// High-resolution bases: a different second per clock, 1 µs before the next second so
/// that the carry into seconds is exercised.
fn base_of(id: i32) -> (u64, u64) {
    (1_700_000_000 + 1_000 * id as u64, 999_999_000)
}

fn snapshot(cycle_last: u64) -> ClockSnapshot {
    let mut snap = ClockSnapshot::tsc(cycle_last, MULT, SHIFT);
    for id in HRES_IDS {
        let (sec, nsec) = base_of(id);
        snap.set_hres(id, sec, nsec);
    }
    snap.set_coarse(CLOCK_REALTIME_COARSE, 1_700_000_123, 456_000_000);
    snap.set_coarse(CLOCK_MONOTONIC_COARSE, 77, 5);
    snap.tz_minuteswest = -120;
    snap.tz_dsttime = 1;
    snap.hrtimer_res = 1;
    snap.coarse_res = 4_000_000;
    snap
}

/// What clock `id` reads at TSC `tsc` under `snapshot(cycle_last)`, computed here from the
/// definition (1 ns per cycle), independently of guest-vdso's reader.
fn expected(id: i32, cycle_last: u64, tsc: u64) -> (i64, i64) {
    let (sec, nsec) = base_of(id);
    let ns = nsec + (tsc - cycle_last);
    (
        (sec + ns / 1_000_000_000) as i64,
        (ns % 1_000_000_000) as i64,
    )
}

#[test]
fn clock_gettime_serves_every_clock_from_vvar_at_random_addresses() {
    let mut rng = Rng::from_entropy();
    for _ in 0..3 {
        let vdso = MappedVdso::map(&mut rng);
        let cycle_last = rdtsc();
        vdso.publish(&snapshot(cycle_last));
        let clock_gettime = vdso.clock_gettime();

        for id in HRES_IDS {
            let mut ts = Timespec::default();
            let before = rdtsc();
            // SAFETY: valid clock id and out-pointer.
            let rc = unsafe { clock_gettime(id, &mut ts) };
            let after = rdtsc();

            assert_eq!(rc, 0, "clock {id}");
            let range = expected(id, cycle_last, before)..=expected(id, cycle_last, after);
            assert!(
                range.contains(&key(ts)),
                "clock {id}: {ts:?} not in {range:?} at {:p}",
                vdso.image
            );
        }
        let coarse = |id| {
            let mut ts = Timespec::default();
            // SAFETY: valid clock id and out-pointer.
            let rc = unsafe { clock_gettime(id, &mut ts) };
            (rc, key(ts))
        };
        assert_eq!(
            coarse(CLOCK_REALTIME_COARSE),
            (0, (1_700_000_123, 456_000_000))
        );
        assert_eq!(coarse(CLOCK_MONOTONIC_COARSE), (0, (77, 5)));
    }
}

#[test]
fn unprefixed_aliases_resolve_to_the_same_code() {
    let vdso = MappedVdso::map(&mut Rng::from_entropy());

    for name in [
        "clock_gettime",
        "gettimeofday",
        "time",
        "getcpu",
        "clock_getres",
    ] {
        assert_eq!(
            vdso.symbol(name),
            vdso.symbol(&format!("__vdso_{name}")),
            "{name}"
        );
    }
    assert_eq!(
        lookup(vdso.memory(), "__vdso_clock_gettime", "LINUX_2.5"),
        None
    );
    assert_eq!(
        lookup(vdso.memory(), "__vdso_nonexistent", "LINUX_2.6"),
        None
    );
}

#[test]
fn gettimeofday_time_getcpu_and_getres_answer_from_vvar() {
    let vdso = MappedVdso::map(&mut Rng::from_entropy());
    let cycle_last = rdtsc();
    vdso.publish(&snapshot(cycle_last));

    let mut tv = Timeval::default();
    let mut tz = Timezone::default();
    let before = rdtsc();
    // SAFETY: valid out-pointers.
    let rc = unsafe { vdso.gettimeofday()(&mut tv, &mut tz) };
    let after = rdtsc();
    assert_eq!(rc, 0);
    let usec = |(s, ns): (i64, i64)| (s, ns / 1000);
    let range = usec(expected(CLOCK_REALTIME, cycle_last, before))
        ..=usec(expected(CLOCK_REALTIME, cycle_last, after));
    assert!(
        range.contains(&(tv.tv_sec, tv.tv_usec)),
        "{tv:?} not in {range:?}"
    );
    assert_eq!((tz.tz_minuteswest, tz.tz_dsttime), (-120, 1));
    // SAFETY: NULL is allowed for both.
    let rc = unsafe { vdso.gettimeofday()(std::ptr::null_mut(), std::ptr::null_mut()) };
    assert_eq!(rc, 0);

    let mut t = 0i64;
    // SAFETY: valid out-pointer, then NULL (allowed).
    assert_eq!(unsafe { vdso.time()(&mut t) }, 1_700_000_123);
    assert_eq!(t, 1_700_000_123);
    // SAFETY: NULL is allowed.
    assert_eq!(unsafe { vdso.time()(std::ptr::null_mut()) }, 1_700_000_123);

    let (mut cpu, mut node) = (0xdead_u32, 0xbeef_u32);
    // SAFETY: valid out-pointers; the cache argument is unused.
    let rc = unsafe { vdso.getcpu()(&mut cpu, &mut node, std::ptr::null_mut()) };
    assert_eq!(rc, 0);
    assert_eq!((cpu, node), (0, 0));

    let getres = |id| {
        let mut res = Timespec {
            tv_sec: -1,
            tv_nsec: -1,
        };
        // SAFETY: valid clock id and out-pointer.
        let rc = unsafe { vdso.clock_getres()(id, &mut res) };
        (rc, key(res))
    };
    assert_eq!(getres(CLOCK_MONOTONIC), (0, (0, 1)));
    assert_eq!(getres(CLOCK_MONOTONIC_COARSE), (0, (0, 4_000_000)));
}

#[test]
fn unserved_clocks_and_mode_none_make_the_real_syscall() {
    let vdso = MappedVdso::map(&mut Rng::from_entropy());
    // Far-future bases: an answer from the page could not fall in the host's range.
    let mut snap = snapshot(rdtsc());
    for id in 0..VDSO_BASES as i32 {
        snap.set_hres(id, 4_000_000_000, 0);
    }
    vdso.publish(&snap);
    let clock_gettime = vdso.clock_gettime();
    let call = |id| {
        let mut ts = Timespec::default();
        // SAFETY: valid out-pointer.
        let rc = unsafe { clock_gettime(id, &mut ts) };
        (rc, ts)
    };

    // A CPU-time clock is never served from the page.
    let before = host_clock(CLOCK_PROCESS_CPUTIME_ID);
    let (rc, ts) = call(CLOCK_PROCESS_CPUTIME_ID);
    let after = host_clock(CLOCK_PROCESS_CPUTIME_ID);
    assert_eq!(rc, 0);
    assert!(
        (key(before)..=key(after)).contains(&key(ts)),
        "{before:?} {ts:?} {after:?}"
    );

    // An invalid id gets the kernel's EINVAL.
    assert_eq!(call(100).0, -EINVAL);
    assert_eq!(call(-1_000_000).0, -EINVAL);

    // Clock mode NONE: high-resolution clocks come from the kernel.
    snap.clock_mode = VDSO_CLOCKMODE_NONE;
    vdso.publish(&snap);
    let before = host_clock(CLOCK_MONOTONIC);
    let (rc, ts) = call(CLOCK_MONOTONIC);
    let after = host_clock(CLOCK_MONOTONIC);
    assert_eq!(rc, 0);
    assert!(
        (key(before)..=key(after)).contains(&key(ts)),
        "{before:?} {ts:?} {after:?}"
    );

    let mut tv = Timeval::default();
    let before = host_clock(CLOCK_REALTIME);
    // SAFETY: valid out-pointer, NULL timezone.
    let rc = unsafe { vdso.gettimeofday()(&mut tv, std::ptr::null_mut()) };
    let after = host_clock(CLOCK_REALTIME);
    assert_eq!(rc, 0);
    let usec = |t: Timespec| (t.tv_sec, t.tv_nsec / 1000);
    assert!(
        (usec(before)..=usec(after)).contains(&(tv.tv_sec, tv.tv_usec)),
        "{tv:?}"
    );

    // clock_getres of a CPU-time clock is the host's answer.
    let mut host = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    let rc = unsafe { libc::clock_getres(CLOCK_PROCESS_CPUTIME_ID, &mut host) };
    assert_eq!(rc, 0);
    let mut res = Timespec {
        tv_sec: -1,
        tv_nsec: -1,
    };
    // SAFETY: valid out-pointer.
    let rc = unsafe { vdso.clock_getres()(CLOCK_PROCESS_CPUTIME_ID, &mut res) };
    assert_eq!(rc, 0);
    assert_eq!(key(res), (host.tv_sec, host.tv_nsec));
}
