//! Clock syscalls on virtual time: the TSC (one cycle per nanosecond at the default
//! 1 GHz) counts from machine start; CLOCK_REALTIME adds the boot epoch. Coarse clocks
//! advance by timer ticks; sleeping halts until the deadline (virtual time jumps).

use super::{copy_in, copy_out};
use crate::abi;
use crate::errno::{Errno, SysResult};
use crate::fs::Timespec;
use crate::kernel::{ns_of, Kernel};
use crate::platform::Platform;

/// Clock ids (include/uapi/linux/time.h).
pub mod clock {
    /// Wall clock.
    pub const REALTIME: u64 = 0;
    /// Since boot, not counting suspend.
    pub const MONOTONIC: u64 = 1;
    /// CPU time of the process.
    pub const PROCESS_CPUTIME_ID: u64 = 2;
    /// CPU time of the thread.
    pub const THREAD_CPUTIME_ID: u64 = 3;
    /// Monotonic without slewing.
    pub const MONOTONIC_RAW: u64 = 4;
    /// Wall clock at tick resolution.
    pub const REALTIME_COARSE: u64 = 5;
    /// Monotonic at tick resolution.
    pub const MONOTONIC_COARSE: u64 = 6;
    /// Since boot, counting suspend.
    pub const BOOTTIME: u64 = 7;
    /// Realtime alarm clock.
    pub const REALTIME_ALARM: u64 = 8;
    /// Boottime alarm clock.
    pub const BOOTTIME_ALARM: u64 = 9;
    /// International atomic time.
    pub const TAI: u64 = 11;
}

const NS: u64 = 1_000_000_000;

fn split(ns: u64) -> Timespec {
    Timespec {
        sec: (ns / NS) as i64,
        nsec: (ns % NS) as i64,
    }
}

/// TSC cycles of `ns` nanoseconds.
pub fn ns_to_tsc(tsc_hz: u64, ns: u64) -> u64 {
    (u128::from(ns) * u128::from(tsc_hz) / u128::from(NS)).min(u128::from(u64::MAX / 2)) as u64
}

/// The value of clock `id` now.
pub fn clock_now<P: Platform>(k: &mut Kernel<P>, id: u64) -> SysResult<Timespec> {
    let tsc = k.p.tsc();
    let ns = ns_of(tsc, k.cfg.tsc_hz);
    let tick = NS / k.cfg.hz.max(1);
    let coarse = ns - ns % tick;
    let epoch_ns = |ns: u64| {
        let total = u128::from(ns) + k.cfg.epoch.nsec as u128;
        Timespec {
            sec: k.cfg.epoch.sec + (total / u128::from(NS)) as i64,
            nsec: (total % u128::from(NS)) as i64,
        }
    };
    Ok(match id {
        clock::REALTIME | clock::TAI | clock::REALTIME_ALARM => epoch_ns(ns),
        clock::REALTIME_COARSE => epoch_ns(coarse),
        clock::MONOTONIC | clock::MONOTONIC_RAW | clock::BOOTTIME | clock::BOOTTIME_ALARM => {
            split(ns)
        }
        clock::MONOTONIC_COARSE => split(coarse),
        clock::PROCESS_CPUTIME_ID | clock::THREAD_CPUTIME_ID => {
            split(ns_of(tsc.saturating_sub(k.proc.start_tsc), k.cfg.tsc_hz))
        }
        _ => return Err(Errno::EINVAL),
    })
}

/// clock_gettime(2).
pub fn clock_gettime<P: Platform>(k: &mut Kernel<P>, id: u64, tp: u64) -> SysResult<u64> {
    let t = clock_now(k, id)?;
    copy_out(k, tp, &abi::timespec(t))?;
    Ok(0)
}

/// clock_getres(2).
pub fn clock_getres<P: Platform>(k: &mut Kernel<P>, id: u64, res: u64) -> SysResult<u64> {
    let tick = NS / k.cfg.hz.max(1);
    let r = match id {
        clock::REALTIME_COARSE | clock::MONOTONIC_COARSE => tick,
        clock::REALTIME
        | clock::MONOTONIC
        | clock::PROCESS_CPUTIME_ID
        | clock::THREAD_CPUTIME_ID
        | clock::MONOTONIC_RAW
        | clock::BOOTTIME
        | clock::REALTIME_ALARM
        | clock::BOOTTIME_ALARM
        | clock::TAI => 1,
        _ => return Err(Errno::EINVAL),
    };
    if res != 0 {
        copy_out(k, res, &abi::timespec(split(r)))?;
    }
    Ok(0)
}

/// gettimeofday(2).
pub fn gettimeofday<P: Platform>(k: &mut Kernel<P>, tv: u64, tz: u64) -> SysResult<u64> {
    let t = clock_now(k, clock::REALTIME)?;
    if tv != 0 {
        copy_out(k, tv, &abi::timeval(t))?;
    }
    if tz != 0 {
        copy_out(k, tz, &[0u8; 8])?;
    }
    Ok(0)
}

/// time(2).
pub fn time<P: Platform>(k: &mut Kernel<P>, tloc: u64) -> SysResult<u64> {
    let t = clock_now(k, clock::REALTIME)?;
    if tloc != 0 {
        copy_out(k, tloc, &t.sec.to_le_bytes())?;
    }
    Ok(t.sec as u64)
}

/// Reads and validates a user `struct timespec` (EINVAL outside 0..1e9 ns or negative).
pub fn read_timespec<P: Platform>(k: &mut Kernel<P>, ptr: u64) -> SysResult<Timespec> {
    let mut b = [0u8; 16];
    copy_in(k, ptr, &mut b)?;
    let t = abi::parse_timespec(&b);
    if t.sec < 0 || !(0..NS as i64).contains(&t.nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(t)
}

/// Sleeps for `t` of virtual time.
pub fn sleep_for<P: Platform>(k: &mut Kernel<P>, t: Timespec) {
    let ns = (t.sec as u64)
        .saturating_mul(NS)
        .saturating_add(t.nsec as u64);
    let now = k.p.tsc();
    let deadline = now.saturating_add(ns_to_tsc(k.cfg.tsc_hz, ns));
    k.p.sleep_until(deadline);
}

/// nanosleep(2): sleeps the whole duration (nothing interrupts it), `rem` untouched.
pub fn nanosleep<P: Platform>(k: &mut Kernel<P>, req: u64, _rem: u64) -> SysResult<u64> {
    let t = read_timespec(k, req)?;
    sleep_for(k, t);
    Ok(0)
}

/// clock_nanosleep(2): relative or TIMER_ABSTIME sleeps on the clock's timeline.
pub fn clock_nanosleep<P: Platform>(
    k: &mut Kernel<P>,
    id: u64,
    flags: u64,
    req: u64,
    _rem: u64,
) -> SysResult<u64> {
    const TIMER_ABSTIME: u64 = 1;
    match id {
        clock::REALTIME
        | clock::MONOTONIC
        | clock::BOOTTIME
        | clock::TAI
        | clock::PROCESS_CPUTIME_ID => {}
        clock::THREAD_CPUTIME_ID => return Err(Errno::EINVAL),
        _ => return Err(Errno::EINVAL),
    }
    let t = read_timespec(k, req)?;
    if flags & TIMER_ABSTIME != 0 {
        let now = clock_now(k, id)?;
        let (a, b) = (
            t.sec as i128 * NS as i128 + t.nsec as i128,
            now.sec as i128 * NS as i128 + now.nsec as i128,
        );
        if a > b {
            sleep_for(k, split((a - b) as u64));
        }
    } else {
        sleep_for(k, t);
    }
    Ok(0)
}

/// times(2): CPU times in clock ticks (USER_HZ = 100); returns ticks since boot.
pub fn times<P: Platform>(k: &mut Kernel<P>, buf: u64) -> SysResult<u64> {
    let tsc = k.p.tsc();
    let cpu_ticks = ns_of(tsc.saturating_sub(k.proc.start_tsc), k.cfg.tsc_hz) / 10_000_000;
    if buf != 0 {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&cpu_ticks.to_le_bytes());
        copy_out(k, buf, &b)?;
    }
    Ok(ns_of(tsc, k.cfg.tsc_hz) / 10_000_000)
}

/// getrusage(2): user time is the process's virtual time, the rest zero.
pub fn getrusage<P: Platform>(k: &mut Kernel<P>, who: i64, buf: u64) -> SysResult<u64> {
    const RUSAGE_SELF: i64 = 0;
    const RUSAGE_CHILDREN: i64 = -1;
    const RUSAGE_THREAD: i64 = 1;
    let mut b = [0u8; 144];
    match who {
        RUSAGE_SELF | RUSAGE_THREAD => {
            let t = clock_now(k, clock::PROCESS_CPUTIME_ID)?;
            b[..16].copy_from_slice(&abi::timeval(t));
        }
        RUSAGE_CHILDREN => {}
        _ => return Err(Errno::EINVAL),
    }
    copy_out(k, buf, &b)?;
    Ok(0)
}
