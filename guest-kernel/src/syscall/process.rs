//! Process syscalls: arch_prctl, prctl, futex for one thread, robust lists, and signal
//! dispositions. Signal handlers are recorded but not yet run: a signal the process
//! sends itself takes its default action (terminate, or ignore for SIGCHLD, SIGURG,
//! SIGWINCH, SIGCONT), as does a handled one, with a kernel-log line.

use super::{copy_in, copy_out, read_u64};
use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::klog;
use crate::mm::USER_END;
use crate::platform::Platform;
use crate::process::{sig, SigAction, NSIG};
use emu_abi::ports::DebugExit;

/// arch_prctl(2): FS/GS bases.
pub fn arch_prctl<P: Platform>(k: &mut Kernel<P>, code: u64, addr: u64) -> SysResult<u64> {
    const ARCH_SET_GS: u64 = 0x1001;
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    const ARCH_GET_GS: u64 = 0x1004;
    match code {
        ARCH_SET_FS | ARCH_SET_GS => {
            if addr >= USER_END {
                return Err(Errno::EPERM);
            }
            if code == ARCH_SET_FS {
                k.proc.fs_base = addr;
                k.p.set_fs_base(addr);
            } else {
                k.proc.gs_base = addr;
                k.p.set_gs_base(addr);
            }
            Ok(0)
        }
        ARCH_GET_FS => {
            let v = k.proc.fs_base;
            copy_out(k, addr, &v.to_le_bytes())?;
            Ok(0)
        }
        ARCH_GET_GS => {
            let v = k.proc.gs_base;
            copy_out(k, addr, &v.to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// prctl(2): the name options; the rest EINVAL.
pub fn prctl<P: Platform>(k: &mut Kernel<P>, a: [u64; 6]) -> SysResult<u64> {
    const PR_GET_DUMPABLE: u64 = 3;
    const PR_SET_DUMPABLE: u64 = 4;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    const PR_GET_NO_NEW_PRIVS: u64 = 39;
    const PR_SET_NO_NEW_PRIVS: u64 = 38;
    match a[0] {
        PR_SET_NAME => {
            let mut b = [0u8; 16];
            copy_in(k, a[1], &mut b)?;
            let n = b.iter().position(|&c| c == 0).unwrap_or(15).min(15);
            k.proc.comm = b[..n].to_vec();
            Ok(0)
        }
        PR_GET_NAME => {
            let mut b = [0u8; 16];
            let n = k.proc.comm.len().min(15);
            b[..n].copy_from_slice(&k.proc.comm[..n]);
            copy_out(k, a[1], &b)?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(1),
        PR_SET_DUMPABLE if a[1] <= 1 => Ok(0),
        PR_SET_NO_NEW_PRIVS if a[1] == 1 => Ok(0),
        PR_GET_NO_NEW_PRIVS => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// get_robust_list(2).
pub fn get_robust_list<P: Platform>(
    k: &mut Kernel<P>,
    pid: u64,
    head: u64,
    len: u64,
) -> SysResult<u64> {
    if pid != 0 && pid != u64::from(k.proc.pid) {
        return Err(Errno::ESRCH);
    }
    let (h, l) = k.proc.robust_list;
    copy_out(k, head, &h.to_le_bytes())?;
    copy_out(k, len, &l.to_le_bytes())?;
    Ok(0)
}

/// futex(2) with a single thread: WAKE wakes nobody, WAIT on a changed value is
/// EAGAIN, WAIT with a timeout sleeps it out (ETIMEDOUT); an untimed WAIT could never
/// return, which ends the run.
pub fn futex<P: Platform>(k: &mut Kernel<P>, a: [u64; 6]) -> SysResult<u64> {
    const FUTEX_WAIT: u64 = 0;
    const FUTEX_WAKE: u64 = 1;
    const FUTEX_REQUEUE: u64 = 3;
    const FUTEX_CMP_REQUEUE: u64 = 4;
    const FUTEX_WAKE_OP: u64 = 5;
    const FUTEX_WAIT_BITSET: u64 = 9;
    const FUTEX_WAKE_BITSET: u64 = 10;
    const FUTEX_CMD_MASK: u64 = !(128 | 256);
    let (uaddr, op, val, timeout) = (a[0], a[1] & FUTEX_CMD_MASK, a[2] as u32, a[3]);
    if uaddr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    match op {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            if op == FUTEX_WAIT_BITSET && a[5] as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            let mut b = [0u8; 4];
            copy_in(k, uaddr, &mut b)?;
            if u32::from_le_bytes(b) != val {
                return Err(Errno::EAGAIN);
            }
            if timeout == 0 {
                let comm = alloc::string::String::from(k.comm());
                klog!(
                    k,
                    "{comm}[{}]: futex wait with no other thread to wake it: deadlock",
                    k.proc.pid
                );
                k.pending_exit = Some(DebugExit::Killed(sig::SIGKILL));
                return Err(Errno::EINTR);
            }
            let t = super::time::read_timespec(k, timeout)?;
            if op == FUTEX_WAIT_BITSET {
                // An absolute CLOCK_MONOTONIC (or REALTIME with FUTEX_CLOCK_REALTIME) time.
                let id = if a[1] & 256 != 0 { 0 } else { 1 };
                let now = super::time::clock_now(k, id)?;
                let rel = (t.sec - now.sec) as i128 * 1_000_000_000 + (t.nsec - now.nsec) as i128;
                if rel > 0 {
                    super::time::sleep_for(
                        k,
                        crate::fs::Timespec {
                            sec: (rel / 1_000_000_000) as i64,
                            nsec: (rel % 1_000_000_000) as i64,
                        },
                    );
                }
            } else {
                super::time::sleep_for(k, t);
            }
            Err(Errno::ETIMEDOUT)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET | FUTEX_REQUEUE => Ok(0),
        FUTEX_CMP_REQUEUE => {
            let mut b = [0u8; 4];
            copy_in(k, uaddr, &mut b)?;
            if u32::from_le_bytes(b) != a[5] as u32 {
                return Err(Errno::EAGAIN);
            }
            Ok(0)
        }
        FUTEX_WAKE_OP => futex_wake_op(k, a[4], a[5] as u32),
        _ => Err(Errno::ENOSYS),
    }
}

/// FUTEX_WAKE_OP: applies the operation to `*uaddr2` (nobody to wake).
fn futex_wake_op<P: Platform>(k: &mut Kernel<P>, uaddr2: u64, encoded: u32) -> SysResult<u64> {
    let op = (encoded >> 28) & 7;
    let shift = encoded & (8 << 28) != 0;
    let mut oparg = (encoded >> 12) & 0xfff;
    if shift {
        oparg = 1u32.checked_shl(oparg).unwrap_or(0);
    }
    let mut b = [0u8; 4];
    copy_in(k, uaddr2, &mut b)?;
    let old = u32::from_le_bytes(b);
    let new = match op {
        0 => oparg,
        1 => old.wrapping_add(oparg),
        2 => old | oparg,
        3 => old & !oparg,
        4 => old ^ oparg,
        _ => return Err(Errno::ENOSYS),
    };
    copy_out(k, uaddr2, &new.to_le_bytes())?;
    Ok(0)
}

fn valid_signal(s: u64) -> SysResult<usize> {
    if s == 0 || s > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(s as usize)
}

/// rt_sigaction(2): records the disposition.
pub fn rt_sigaction<P: Platform>(
    k: &mut Kernel<P>,
    signum: u64,
    act: u64,
    oact: u64,
    setsize: u64,
) -> SysResult<u64> {
    if setsize != 8 {
        return Err(Errno::EINVAL);
    }
    let s = valid_signal(signum)?;
    let unblockable = s == usize::from(sig::SIGKILL) || s == usize::from(sig::SIGSTOP);
    let mut new = None;
    if act != 0 {
        if unblockable {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 32];
        copy_in(k, act, &mut b)?;
        let w = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8]));
        new = Some(SigAction {
            handler: w(0),
            flags: w(1),
            restorer: w(2),
            mask: w(3) & !((1 << (sig::SIGKILL - 1)) | (1 << (sig::SIGSTOP - 1))),
        });
    }
    if oact != 0 {
        let o = k.proc.actions[s - 1];
        let mut b = [0u8; 32];
        for (i, v) in [o.handler, o.flags, o.restorer, o.mask].iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        copy_out(k, oact, &b)?;
    }
    if let Some(n) = new {
        k.proc.actions[s - 1] = n;
    }
    Ok(0)
}

/// rt_sigprocmask(2).
pub fn rt_sigprocmask<P: Platform>(
    k: &mut Kernel<P>,
    how: u64,
    set: u64,
    oset: u64,
    setsize: u64,
) -> SysResult<u64> {
    const SIG_BLOCK: u64 = 0;
    const SIG_UNBLOCK: u64 = 1;
    const SIG_SETMASK: u64 = 2;
    if setsize != 8 {
        return Err(Errno::EINVAL);
    }
    let old = k.proc.sigmask;
    if set != 0 {
        let new = read_u64(k, set)?;
        let mask = match how {
            SIG_BLOCK => old | new,
            SIG_UNBLOCK => old & !new,
            SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        };
        k.proc.sigmask = mask & !((1 << (sig::SIGKILL - 1)) | (1 << (sig::SIGSTOP - 1)));
    }
    if oset != 0 {
        copy_out(k, oset, &old.to_le_bytes())?;
    }
    Ok(0)
}

/// rt_sigpending(2): nothing is ever pending.
pub fn rt_sigpending<P: Platform>(k: &mut Kernel<P>, set: u64, setsize: u64) -> SysResult<u64> {
    if setsize > 8 {
        return Err(Errno::EINVAL);
    }
    copy_out(k, set, &[0u8; 8][..setsize as usize])?;
    Ok(0)
}

/// sigaltstack(2): records the alternate stack.
pub fn sigaltstack<P: Platform>(k: &mut Kernel<P>, ss: u64, old: u64) -> SysResult<u64> {
    const SS_ONSTACK: u32 = 1;
    const SS_DISABLE: u32 = 2;
    const SS_AUTODISARM: u32 = 1 << 31;
    const MINSIGSTKSZ: u64 = 2048;
    let mut new = None;
    if ss != 0 {
        let mut b = [0u8; 24];
        copy_in(k, ss, &mut b)?;
        let sp = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let flags = u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let size = u64::from_le_bytes(b[16..24].try_into().unwrap_or([0; 8]));
        let mode = flags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        if mode == SS_DISABLE {
            new = Some((0, SS_DISABLE, 0));
        } else {
            if size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            new = Some((sp, flags & SS_AUTODISARM, size));
        }
    }
    if old != 0 {
        let (sp, flags, size) = k.proc.altstack;
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&sp.to_le_bytes());
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&size.to_le_bytes());
        copy_out(k, old, &b)?;
    }
    if let Some(n) = new {
        k.proc.altstack = n;
    }
    Ok(0)
}

/// getitimer(2): no timer is ever armed.
pub fn getitimer<P: Platform>(k: &mut Kernel<P>, which: u64, buf: u64) -> SysResult<u64> {
    if which > 2 {
        return Err(Errno::EINVAL);
    }
    copy_out(k, buf, &[0u8; 32])?;
    Ok(0)
}

/// Signals whose default action is to ignore them.
fn ignored_by_default(s: u8) -> bool {
    matches!(s, 17 | 18 | 23 | 28)
}

/// Name of a classic signal for log lines.
pub fn signal_name(s: u8) -> &'static str {
    match (s, emu_abi::signals::name(s)) {
        (_, Some(name)) => name,
        (0, None) => "0",
        _ => "SIGRT",
    }
}

/// Delivers signal `s` to the process itself: default actions only for now.
pub fn send_self<P: Platform>(k: &mut Kernel<P>, s: u8) {
    let idx = usize::from(s) - 1;
    let action = k.proc.actions[idx];
    let blocked = k.proc.sigmask & (1 << idx) != 0 && s != sig::SIGKILL && s != sig::SIGSTOP;
    if blocked || action.handler == 1 || (action.handler == 0 && ignored_by_default(s)) {
        return;
    }
    let comm = alloc::string::String::from(k.comm());
    if action.handler > 1 {
        klog!(
            k,
            "{comm}[{}]: {} has a handler, but signal delivery is not implemented: default action",
            k.proc.pid,
            signal_name(s)
        );
        if ignored_by_default(s) {
            return;
        }
    }
    klog!(k, "{comm}[{}]: killed by {}", k.proc.pid, signal_name(s));
    k.pending_exit = Some(DebugExit::Killed(s));
}

/// kill(2): only the process itself (pid 1, 0 or -1) exists.
pub fn kill<P: Platform>(k: &mut Kernel<P>, pid: i64, signum: u64) -> SysResult<u64> {
    if signum > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    if pid != i64::from(k.proc.pid) && pid != 0 && pid != -1 && pid != -i64::from(k.proc.pid) {
        return Err(Errno::ESRCH);
    }
    if signum != 0 {
        send_self(k, signum as u8);
    }
    Ok(0)
}

/// tgkill(2) / tkill(2).
pub fn tgkill<P: Platform>(k: &mut Kernel<P>, tgid: u64, tid: u64, signum: u64) -> SysResult<u64> {
    if signum > NSIG as u64 || tgid as i64 <= 0 || tid as i64 <= 0 {
        return Err(Errno::EINVAL);
    }
    if tgid != u64::from(k.proc.pid) || tid != u64::from(k.proc.pid) {
        return Err(Errno::ESRCH);
    }
    if signum != 0 {
        send_self(k, signum as u8);
    }
    Ok(0)
}

/// personality(2): records the persona (0xffffffff only queries); returns the old one.
pub fn personality<P: Platform>(k: &mut Kernel<P>, persona: u64) -> u64 {
    let old = u64::from(k.proc.personality);
    if persona as u32 != u32::MAX {
        k.proc.personality = persona as u32;
    }
    old
}
