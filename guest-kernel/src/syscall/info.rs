//! Identity and information syscalls: uname (emu_abi::identity), sysinfo, getrandom
//! (the seeded generator), CPU affinity (one CPU), resource limits, umask and ids.

use super::{copy_in, copy_out};
use crate::abi;
use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::platform::Platform;
use crate::process::{RLIMIT_STACK, RLIM_NLIMITS};

/// `uname -n`.
pub const NODENAME: &str = "lockstep";
/// `uname -v`.
pub const VERSION: &str = "#1 SMP PREEMPT_DYNAMIC lockstep";

/// uname(2).
pub fn uname<P: Platform>(k: &mut Kernel<P>, buf: u64) -> SysResult<u64> {
    let u = abi::utsname([
        "Linux",
        NODENAME,
        emu_abi::identity::LINUX_RELEASE,
        VERSION,
        "x86_64",
        "(none)",
    ]);
    copy_out(k, buf, &u)?;
    Ok(0)
}

/// sysinfo(2).
pub fn sysinfo<P: Platform>(k: &mut Kernel<P>, buf: u64) -> SysResult<u64> {
    let uptime = (k.uptime_ns() / 1_000_000_000) as i64;
    let (free, _) = k.p.frame_counts();
    let s = abi::SysInfo {
        uptime,
        totalram: k.cfg.ram_size,
        freeram: free * 4096,
        procs: 1,
    };
    copy_out(k, buf, &abi::sysinfo(&s))?;
    Ok(0)
}

/// getrandom(2): bytes of the seeded generator (never blocks).
pub fn getrandom<P: Platform>(k: &mut Kernel<P>, buf: u64, len: u64, flags: u64) -> SysResult<u64> {
    const GRND_NONBLOCK: u64 = 1;
    const GRND_RANDOM: u64 = 2;
    const GRND_INSECURE: u64 = 4;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_INSECURE | GRND_RANDOM) == (GRND_INSECURE | GRND_RANDOM)
    {
        return Err(Errno::EINVAL);
    }
    let len = len.min(0x01ff_ffff);
    let rng = &mut k.rng;
    k.proc
        .aspace
        .user_chunks(&mut k.p, buf, len, true, |p, pa, n| {
            let off = (pa & 0xfff) as usize;
            rng.fill(&mut p.frame(pa & !0xfff)[off..off + n]);
            Ok(())
        })?;
    Ok(len)
}

/// The one CPU's affinity mask size in bytes (nr_cpu_ids = 1, in longs).
const CPUMASK_BYTES: u64 = 8;

/// sched_getaffinity(2): CPU 0 only; returns the mask size.
pub fn sched_getaffinity<P: Platform>(
    k: &mut Kernel<P>,
    pid: u64,
    len: u64,
    mask: u64,
) -> SysResult<u64> {
    if pid != 0 && pid != u64::from(k.proc.pid) {
        return Err(Errno::ESRCH);
    }
    if len < CPUMASK_BYTES || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    copy_out(k, mask, &1u64.to_le_bytes())?;
    Ok(CPUMASK_BYTES)
}

/// sched_setaffinity(2): the mask must include CPU 0.
pub fn sched_setaffinity<P: Platform>(
    k: &mut Kernel<P>,
    pid: u64,
    len: u64,
    mask: u64,
) -> SysResult<u64> {
    if pid != 0 && pid != u64::from(k.proc.pid) {
        return Err(Errno::ESRCH);
    }
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 1];
    copy_in(k, mask, &mut b)?;
    if b[0] & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// getcpu(2): CPU 0, node 0.
pub fn getcpu<P: Platform>(k: &mut Kernel<P>, cpu: u64, node: u64) -> SysResult<u64> {
    if cpu != 0 {
        copy_out(k, cpu, &0u32.to_le_bytes())?;
    }
    if node != 0 {
        copy_out(k, node, &0u32.to_le_bytes())?;
    }
    Ok(0)
}

/// prlimit64(2) (and getrlimit/setrlimit with pid 0).
pub fn prlimit64<P: Platform>(
    k: &mut Kernel<P>,
    pid: u64,
    resource: u64,
    new: u64,
    old: u64,
) -> SysResult<u64> {
    if pid != 0 && pid != u64::from(k.proc.pid) {
        return Err(Errno::ESRCH);
    }
    let r = usize::try_from(resource).map_err(|_| Errno::EINVAL)?;
    if r >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let mut replacement = None;
    if new != 0 {
        let mut b = [0u8; 16];
        copy_in(k, new, &mut b)?;
        let cur = u64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let max = u64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if cur > max || max > k.proc.rlimits[r].1 {
            return Err(if cur > max {
                Errno::EINVAL
            } else {
                Errno::EPERM
            });
        }
        replacement = Some((cur, max));
    }
    if old != 0 {
        let (cur, max) = k.proc.rlimits[r];
        copy_out(k, old, &abi::rlimit(cur, max))?;
    }
    if let Some(v) = replacement {
        k.proc.rlimits[r] = v;
        if r == RLIMIT_STACK {
            k.proc.aspace.stack_limit = v.0;
        }
    }
    Ok(0)
}

/// umask(2): sets the mask, returns the old one.
pub fn umask<P: Platform>(k: &mut Kernel<P>, mask: u64) -> u64 {
    let old = k.proc.umask;
    k.proc.umask = mask as u32 & 0o777;
    u64::from(old)
}

/// getresuid(2) / getresgid(2): all zero (root).
pub fn getresid<P: Platform>(k: &mut Kernel<P>, r: u64, e: u64, s: u64) -> SysResult<u64> {
    for p in [r, e, s] {
        copy_out(k, p, &0u32.to_le_bytes())?;
    }
    Ok(0)
}

/// getpgid(2).
pub fn getpgid<P: Platform>(k: &mut Kernel<P>, pid: u64) -> SysResult<u64> {
    if pid != 0 && pid != u64::from(k.proc.pid) {
        return Err(Errno::ESRCH);
    }
    Ok(u64::from(k.proc.pid))
}
