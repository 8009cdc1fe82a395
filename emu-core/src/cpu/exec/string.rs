//! String instructions: movs, stos, lods, cmps, scas in byte, word,
//! doubleword and quadword forms, with rep/repe/repne (SDM Vol. 2B, REP/
//! REPE/REPZ/REPNE/REPNZ and each instruction's page).
//!
//! - Address size: RSI/RDI/RCX, or ESI/EDI/ECX with a 0x67 prefix (their
//!   updates then zero-extend into the full registers). The source
//!   (DS:RSI) takes an FS/GS override; the destination is always ES:RDI.
//! - Repeats are restartable: each completed element updates RCX, RSI and
//!   RDI, so a fault mid-way leaves RIP at the instruction and the
//!   registers describing the elements still to do. `rep` with a count of
//!   zero touches nothing. F2 (repne) repeats movs/stos/lods like F3 does,
//!   as hardware does.
//! - Fault order follows the host (AMD Zen 4), which is deterministic: movs
//!   reads `[RSI]` before it writes `[RDI]`; cmps reads `[RDI]` before `[RSI]`
//!   (flags are still those of `[rsi] - [rdi]`), except `repe cmpsb`, which
//!   reads `[RSI]` first.
//! - `rep movs` and `rep stos` run in bulk: they translate the source and
//!   destination once per page, then copy or fill inside guest RAM. Copies
//!   whose ranges overlap in the direction that differs from `memmove`
//!   replay the element-by-element order, so results are exact. Each bulk
//!   store marks its page written (self-modifying code is seen).

use iced_x86::{Code, Instruction, OpKind, Register};

use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::{Exception, Stop};
use crate::mmu::Access;

/// The handler for a string instruction, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    use Code::*;
    let rep = i.has_rep_prefix() || i.has_repne_prefix();
    let ne = i.has_repne_prefix();
    macro_rules! pick {
        ($one:ident, $many:ident, $s:literal) => {
            if rep {
                $many::<$s>
            } else {
                $one::<$s>
            }
        };
    }
    macro_rules! pick_cc {
        ($one:ident, $many:ident, $s:literal) => {
            match (rep, ne) {
                (false, _) => $one::<$s>,
                (true, false) => $many::<$s, false>,
                (true, true) => $many::<$s, true>,
            }
        };
    }
    Some(match i.code() {
        Movsb_m8_m8 => pick!(movs, rep_movs, 1),
        Movsw_m16_m16 => pick!(movs, rep_movs, 2),
        Movsd_m32_m32 => pick!(movs, rep_movs, 4),
        Movsq_m64_m64 => pick!(movs, rep_movs, 8),
        Stosb_m8_AL => pick!(stos, rep_stos, 1),
        Stosw_m16_AX => pick!(stos, rep_stos, 2),
        Stosd_m32_EAX => pick!(stos, rep_stos, 4),
        Stosq_m64_RAX => pick!(stos, rep_stos, 8),
        Lodsb_AL_m8 => pick!(lods, rep_lods, 1),
        Lodsw_AX_m16 => pick!(lods, rep_lods, 2),
        Lodsd_EAX_m32 => pick!(lods, rep_lods, 4),
        Lodsq_RAX_m64 => pick!(lods, rep_lods, 8),
        Cmpsb_m8_m8 => pick_cc!(cmps, rep_cmps, 1),
        Cmpsw_m16_m16 => pick_cc!(cmps, rep_cmps, 2),
        Cmpsd_m32_m32 => pick_cc!(cmps, rep_cmps, 4),
        Cmpsq_m64_m64 => pick_cc!(cmps, rep_cmps, 8),
        Scasb_AL_m8 => pick_cc!(scas, rep_scas, 1),
        Scasw_AX_m16 => pick_cc!(scas, rep_scas, 2),
        Scasd_EAX_m32 => pick_cc!(scas, rep_scas, 4),
        Scasq_RAX_m64 => pick_cc!(scas, rep_scas, 8),
        _ => return None,
    })
}

const RAX: usize = 0;
const RCX: usize = 1;
const RSI: usize = 6;
const RDI: usize = 7;
const PAGE: u64 = 4096;

/// The string registers at the instruction's address size.
#[derive(Clone, Copy)]
struct Ptrs {
    /// 0x67: ESI/EDI/ECX.
    a32: bool,
}

impl Ptrs {
    #[inline(always)]
    fn of(i: &Instruction) -> Self {
        let is32 = |k| matches!(k, OpKind::MemorySegESI | OpKind::MemoryESEDI);
        Self {
            a32: is32(i.op0_kind()) || is32(i.op1_kind()),
        }
    }

    #[inline(always)]
    fn mask(self) -> u64 {
        if self.a32 {
            0xffff_ffff
        } else {
            u64::MAX
        }
    }

    #[inline(always)]
    fn get(self, core: &Core, r: usize) -> u64 {
        core.gpr[r] & self.mask()
    }

    /// Writes a string register (a 32-bit write zero-extends).
    #[inline(always)]
    fn set(self, core: &mut Core, r: usize, v: u64) {
        core.gpr[r] = v & self.mask();
    }

    /// Advances `r` by `n` elements of `size` bytes in the DF direction.
    #[inline(always)]
    fn advance(self, core: &mut Core, r: usize, n: u64, size: usize) {
        let delta = n.wrapping_mul(size as u64);
        let v = if core.flags.df() {
            core.gpr[r].wrapping_sub(delta)
        } else {
            core.gpr[r].wrapping_add(delta)
        };
        self.set(core, r, v);
    }

    /// How many whole elements starting at offset `off` (in the DF
    /// direction) stay below the 4 GiB wrap of a 32-bit address.
    #[inline(always)]
    fn offset_room(self, off: u64, size: usize, df: bool) -> u64 {
        if !self.a32 {
            return u64::MAX;
        }
        room(off, size, df, 1 << 32)
    }
}

/// How many whole elements of `size` bytes starting at `addr` (going up, or
/// down with `df`) fit inside the aligned block of `span` bytes holding it.
#[inline(always)]
fn room(addr: u64, size: usize, df: bool, span: u64) -> u64 {
    let off = addr & (span - 1);
    let size = size as u64;
    if off + size > span {
        0
    } else if df {
        off / size + 1
    } else {
        (span - off) / size
    }
}

/// The FS/GS base for the source operand (other segments have base 0).
#[inline(always)]
fn src_base(core: &Core, i: &Instruction) -> u64 {
    match i.memory_segment() {
        Register::FS => core.seg.fs_base,
        Register::GS => core.seg.gs_base,
        _ => 0,
    }
}

/// The accumulator of an element size.
#[inline(always)]
fn acc(size: usize) -> Register {
    match size {
        1 => Register::AL,
        2 => Register::AX,
        4 => Register::EAX,
        _ => Register::RAX,
    }
}

// ----- one element ---------------------------------------------------------

#[inline(always)]
fn movs_one<const S: usize>(core: &mut Core, p: Ptrs, base: u64) -> Result<(), Exception> {
    let (si, di) = (p.get(core, RSI), p.get(core, RDI));
    let v = core.read_sized(base.wrapping_add(si), S)?;
    core.write_sized(di, S, v)?;
    p.advance(core, RSI, 1, S);
    p.advance(core, RDI, 1, S);
    Ok(())
}

#[inline(always)]
fn stos_one<const S: usize>(core: &mut Core, p: Ptrs) -> Result<(), Exception> {
    let di = p.get(core, RDI);
    core.write_sized(di, S, core.gpr[RAX])?;
    p.advance(core, RDI, 1, S);
    Ok(())
}

#[inline(always)]
fn lods_one<const S: usize>(core: &mut Core, p: Ptrs, base: u64) -> Result<(), Exception> {
    let si = p.get(core, RSI);
    let v = core.read_sized(base.wrapping_add(si), S)?;
    core.set_reg(acc(S), v);
    p.advance(core, RSI, 1, S);
    Ok(())
}

/// Compares [RSI] with [RDI] (flags of `[rsi] - [rdi]`), reading [RDI]
/// first unless `SRC_FIRST` (see the module notes on fault order).
#[inline(always)]
fn cmps_one<const S: usize, const SRC_FIRST: bool>(
    core: &mut Core,
    p: Ptrs,
    base: u64,
) -> Result<(), Exception> {
    let (si, di) = (p.get(core, RSI), p.get(core, RDI));
    let (a, b) = if SRC_FIRST {
        let a = core.read_sized(base.wrapping_add(si), S)?;
        (a, core.read_sized(di, S)?)
    } else {
        let b = core.read_sized(di, S)?;
        (core.read_sized(base.wrapping_add(si), S)?, b)
    };
    let w = (S * 8) as u32;
    core.flags.set_sub(w, a, b, a.wrapping_sub(b));
    p.advance(core, RSI, 1, S);
    p.advance(core, RDI, 1, S);
    Ok(())
}

/// Compares the accumulator with [RDI] (flags of `acc - [rdi]`).
#[inline(always)]
fn scas_one<const S: usize>(core: &mut Core, p: Ptrs) -> Result<(), Exception> {
    let di = p.get(core, RDI);
    let b = core.read_sized(di, S)?;
    let a = core.reg(acc(S));
    let w = (S * 8) as u32;
    core.flags.set_sub(w, a, b, a.wrapping_sub(b));
    p.advance(core, RDI, 1, S);
    Ok(())
}

// ----- unrepeated forms ----------------------------------------------------

fn movs<const S: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let base = src_base(core, i);
    movs_one::<S>(core, Ptrs::of(i), base)?;
    Ok(())
}

fn stos<const S: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    stos_one::<S>(core, Ptrs::of(i))?;
    Ok(())
}

fn lods<const S: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let base = src_base(core, i);
    lods_one::<S>(core, Ptrs::of(i), base)?;
    Ok(())
}

fn cmps<const S: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let base = src_base(core, i);
    cmps_one::<S, false>(core, Ptrs::of(i), base)?;
    Ok(())
}

fn scas<const S: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    scas_one::<S>(core, Ptrs::of(i))?;
    Ok(())
}

// ----- repeated forms ------------------------------------------------------

/// Completes one element of a repeat: RCX -= 1.
#[inline(always)]
fn count_down(core: &mut Core, p: Ptrs, cnt: u64) {
    p.set(core, RCX, cnt.wrapping_sub(1));
}

fn rep_movs<const S: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let p = Ptrs::of(i);
    let base = src_base(core, i);
    loop {
        let cnt = p.get(core, RCX);
        if cnt == 0 {
            return Ok(());
        }
        if movs_bulk::<S>(core, p, base, cnt)? == 0 {
            movs_one::<S>(core, p, base)?;
            count_down(core, p, cnt);
        }
    }
}

fn rep_stos<const S: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let p = Ptrs::of(i);
    loop {
        let cnt = p.get(core, RCX);
        if cnt == 0 {
            return Ok(());
        }
        if stos_bulk::<S>(core, p, cnt)? == 0 {
            stos_one::<S>(core, p)?;
            count_down(core, p, cnt);
        }
    }
}

fn rep_lods<const S: usize>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let p = Ptrs::of(i);
    let base = src_base(core, i);
    loop {
        let cnt = p.get(core, RCX);
        if cnt == 0 {
            return Ok(());
        }
        lods_one::<S>(core, p, base)?;
        count_down(core, p, cnt);
    }
}

/// repe (NE = false) stops when ZF = 0, repne when ZF = 1, after the count.
fn rep_cmps<const S: usize, const NE: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let p = Ptrs::of(i);
    let base = src_base(core, i);
    loop {
        let cnt = p.get(core, RCX);
        if cnt == 0 {
            return Ok(());
        }
        // Only `repe cmpsb` reads the source first on the host.
        if S == 1 && !NE {
            cmps_one::<S, true>(core, p, base)?;
        } else {
            cmps_one::<S, false>(core, p, base)?;
        }
        count_down(core, p, cnt);
        if core.flags.zf() == NE {
            return Ok(());
        }
    }
}

fn rep_scas<const S: usize, const NE: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    let p = Ptrs::of(i);
    loop {
        let cnt = p.get(core, RCX);
        if cnt == 0 {
            return Ok(());
        }
        scas_one::<S>(core, p)?;
        count_down(core, p, cnt);
        if core.flags.zf() == NE {
            return Ok(());
        }
    }
}

// ----- bulk paths ----------------------------------------------------------

/// How many elements a bulk step can do from `src`/`dst` (0 or 1: use the
/// single-element path, which handles page-straddling elements).
#[inline(always)]
fn bulk_count<const S: usize>(p: Ptrs, cnt: u64, df: bool, offs: &[u64], lins: &[u64]) -> u64 {
    let mut n = cnt;
    for &lin in lins {
        n = n.min(room(lin, S, df, PAGE));
    }
    for &off in offs {
        n = n.min(p.offset_room(off, S, df));
    }
    n
}

/// The lowest physical byte of `n` elements whose first element is at
/// `phys` (elements go down with DF).
#[inline(always)]
fn low_end<const S: usize>(phys: u64, n: u64, df: bool) -> u64 {
    if df {
        phys - (n - 1) * S as u64
    } else {
        phys
    }
}

/// Copies up to a page worth of elements at once; returns how many.
fn movs_bulk<const S: usize>(
    core: &mut Core,
    p: Ptrs,
    base: u64,
    cnt: u64,
) -> Result<u64, Exception> {
    let df = core.flags.df();
    let (si, di) = (p.get(core, RSI), p.get(core, RDI));
    let src = base.wrapping_add(si);
    let n = bulk_count::<S>(p, cnt, df, &[si, di], &[src, di]);
    if n < 2 {
        return Ok(0);
    }
    // Same order as one element: the source is read before the
    // destination is written.
    let ps = core.translate(src, Access::Read)?;
    let pd = core.translate(di, Access::Write)?;
    let len = n * S as u64;
    let (ps, pd) = (low_end::<S>(ps, n, df), low_end::<S>(pd, n, df));
    let (lo, hi) = (ps.min(pd), ps.max(pd) + len);
    let Some(ram) = core.ram.slice_mut(lo, (hi - lo) as usize) else {
        return Ok(0);
    };
    let (s, d, len) = ((ps - lo) as usize, (pd - lo) as usize, len as usize);
    // Overlap in the direction of travel: later elements read bytes that
    // earlier ones wrote, unlike memmove. Replay element by element.
    let replay = if df {
        d < s && d + len > s
    } else {
        d > s && d < s + len
    };
    if replay {
        for k in 0..n as usize {
            let off = if df { (n as usize - 1 - k) * S } else { k * S };
            let mut e = [0u8; S];
            e.copy_from_slice(&ram[s + off..s + off + S]);
            ram[d + off..d + off + S].copy_from_slice(&e);
        }
    } else {
        ram.copy_within(s..s + len, d);
    }
    core.note_write(pd);
    p.advance(core, RSI, n, S);
    p.advance(core, RDI, n, S);
    p.set(core, RCX, cnt - n);
    Ok(n)
}

/// Fills up to a page worth of elements at once; returns how many.
fn stos_bulk<const S: usize>(core: &mut Core, p: Ptrs, cnt: u64) -> Result<u64, Exception> {
    let df = core.flags.df();
    let di = p.get(core, RDI);
    let n = bulk_count::<S>(p, cnt, df, &[di], &[di]);
    if n < 2 {
        return Ok(0);
    }
    let pd = core.translate(di, Access::Write)?;
    let pd = low_end::<S>(pd, n, df);
    let len = (n * S as u64) as usize;
    let value = core.gpr[RAX].to_le_bytes();
    let Some(ram) = core.ram.slice_mut(pd, len) else {
        return Ok(0);
    };
    if S == 1 {
        ram.fill(value[0]);
    } else {
        for e in ram.chunks_exact_mut(S) {
            e.copy_from_slice(&value[..S]);
        }
    }
    core.note_write(pd);
    p.advance(core, RDI, n, S);
    p.set(core, RCX, cnt - n);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::int_b_testutil::{
        check, emu_cpu, emu_state, run_native, run_to_end, Rng, State, ALL_FLAGS, DATA,
    };
    use crate::cpu::flags::bits;
    use crate::cpu::{Exit, Gpr};
    use crate::Exception;

    const MOVS: u8 = 0xa4;
    const CMPS: u8 = 0xa6;
    const STOS: u8 = 0xaa;
    const LODS: u8 = 0xac;
    const SCAS: u8 = 0xae;

    /// Encodes `[67] [rep] [66|48] op` for an element size.
    fn encode(op: u8, size: usize, rep: Option<u8>, a32: bool) -> Vec<u8> {
        let mut c = Vec::new();
        if a32 {
            c.push(0x67);
        }
        if let Some(r) = rep {
            c.push(r);
        }
        match size {
            1 => c.push(op),
            2 => c.extend_from_slice(&[0x66, op + 1]),
            4 => c.push(op + 1),
            _ => c.extend_from_slice(&[0x48, op + 1]),
        }
        c
    }

    /// Reads element `k` of `size` bytes at data offset `off` (DF direction).
    fn elem_off(off: usize, k: usize, size: usize, df: bool) -> usize {
        if df {
            off - k * size
        } else {
            off + k * size
        }
    }

    /// A state for `op` with `count` elements from data offsets `src`/`dst`,
    /// arranged so that repe/repne stop at element `stop` (when < count).
    #[allow(clippy::too_many_arguments)]
    fn string_state(
        rng: &mut Rng,
        op: u8,
        size: usize,
        rep: Option<u8>,
        a32: bool,
        df: bool,
        count: u64,
        (src, dst): (usize, usize),
        stop: usize,
    ) -> State {
        let flags = rng.next();
        let mut s = State::random(rng, flags);
        if df {
            s.rflags |= bits::DF;
        }
        let upper = |rng: &mut Rng| if a32 { rng.next() << 32 } else { 0 };
        let rcx = upper(rng) | count;
        let rsi = upper(rng) | (DATA + src as u64);
        let rdi = upper(rng) | (DATA + dst as u64);
        s.set(Gpr::Rcx, rcx).set(Gpr::Rsi, rsi).set(Gpr::Rdi, rdi);
        let n = count.min(600) as usize;
        let acc = s.get(Gpr::Rax).to_le_bytes();
        let ne = rep == Some(0xf2);
        for k in 0..n {
            let d = elem_off(dst, k, size, df);
            let make_equal = (k != stop) != ne;
            match op {
                CMPS => {
                    let si = elem_off(src, k, size, df);
                    for b in 0..size {
                        let v = s.data[si + b];
                        s.data[d + b] = if make_equal || b != 0 { v } else { v ^ 0x5a };
                    }
                }
                SCAS => {
                    for (b, &a) in acc.iter().enumerate().take(size) {
                        s.data[d + b] = if make_equal || b != 0 { a } else { a ^ 0x81 };
                    }
                }
                _ => {}
            }
        }
        s
    }

    #[test]
    fn string_ops_match_host_for_sizes_prefixes_directions_and_counts() {
        let mut rng = Rng::new(0x5711);
        for op in [MOVS, CMPS, STOS, LODS, SCAS] {
            for size in [1usize, 2, 4, 8] {
                for rep in [None, Some(0xf3), Some(0xf2)] {
                    for a32 in [false, true] {
                        for df in [false, true] {
                            let many = (0x1e00 / size) as u64;
                            for count in [0u64, 1, 2, 5, 77, many] {
                                let jitter = (rng.next() % 16) as usize;
                                let (src, dst) = if df {
                                    (0x1ff0 - jitter, 0x3ff0 - jitter * 3 % 16)
                                } else {
                                    (0x10 + jitter, 0x2000 + jitter * 5 % 16)
                                };
                                let stop = (rng.next() % (count + 2)) as usize;
                                let code = encode(op, size, rep, a32);
                                let s = string_state(
                                    &mut rng,
                                    op,
                                    size,
                                    rep,
                                    a32,
                                    df,
                                    count,
                                    (src, dst),
                                    stop,
                                );
                                check(&code, &s, ALL_FLAGS);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn overlapping_rep_movs_matches_host_in_both_directions() {
        let mut rng = Rng::new(0x0e1a);
        for size in [1usize, 2, 4, 8] {
            for df in [false, true] {
                for dist in (-17i64..=17).chain([-64, 64, -300, 300]) {
                    let flags = rng.next() & bits::ARITH;
                    let mut s = State::random(&mut rng, flags);
                    if df {
                        s.rflags |= bits::DF;
                    }
                    let src = DATA + 0x1800;
                    let dst = src.wrapping_add(dist as u64);
                    s.set(Gpr::Rsi, src).set(Gpr::Rdi, dst).set(Gpr::Rcx, 90);
                    check(&encode(MOVS, size, Some(0xf3), false), &s, ALL_FLAGS);
                }
            }
        }
    }

    /// Runs `code` in the emulator with only `mapped` bytes of data mapped
    /// and expects `fault`, with the state of a native run of the same code
    /// limited to `done` elements (RCX then holds the rest of the count).
    fn check_fault_midway(code: &[u8], s: &State, mapped: usize, done: u64, fault: Exception) {
        let mut cpu = emu_cpu(code, s, mapped);
        let exit = run_to_end(&mut cpu, code);
        assert_eq!(exit, Exit::Exception(fault), "{code:02x?}");
        let emu = emu_state(&cpu);
        let mut partial = s.clone();
        let count = s.get(Gpr::Rcx);
        partial.set(Gpr::Rcx, (count & !0xffff_ffff) | done);
        let native = run_native(code, &partial);
        let mut expected = native.gpr;
        expected[Gpr::Rcx as usize] = count - done;
        assert_eq!(emu.gpr, expected, "{code:02x?}: registers after the fault");
        assert_eq!(
            emu.data[..mapped],
            native.data[..mapped],
            "{code:02x?}: memory"
        );
        assert_eq!(emu.rflags & ALL_FLAGS, native.rflags, "{code:02x?}: flags");
        assert_eq!(cpu.rip(), super::super::int_b_testutil::snippet_addr());
    }

    fn fault_state(rsi: u64, rdi: u64, rcx: u64, df: bool) -> State {
        let mut s = State::random(&mut Rng::new(rsi ^ rdi ^ rcx), 0);
        s.set(Gpr::Rsi, rsi).set(Gpr::Rdi, rdi).set(Gpr::Rcx, rcx);
        if df {
            s.rflags |= bits::DF;
        }
        s
    }

    const NOT_PRESENT_WRITE: u32 = 0b110;
    const NOT_PRESENT_READ: u32 = 0b100;

    #[test]
    fn rep_movsb_faulting_on_the_destination_page_is_restartable() {
        let s = fault_state(DATA + 0x100, DATA + 0x2000 - 0x80, 0x200, false);
        let fault = Exception::PageFault {
            addr: DATA + 0x2000,
            error_code: NOT_PRESENT_WRITE,
        };
        check_fault_midway(&[0xf3, 0xa4], &s, 0x2000, 0x80, fault);
    }

    #[test]
    fn rep_movsq_with_an_element_straddling_into_a_missing_page_stops_before_it() {
        let s = fault_state(DATA + 0x100, DATA + 0x2000 - 0x84, 0x40, false);
        let fault = Exception::PageFault {
            addr: DATA + 0x2000,
            error_code: NOT_PRESENT_WRITE,
        };
        check_fault_midway(&[0xf3, 0x48, 0xa5], &s, 0x2000, 16, fault);
    }

    #[test]
    fn rep_movsd_faulting_on_the_source_page_is_restartable() {
        let s = fault_state(DATA + 0x2000 - 0x40, DATA + 0x100, 0x100, false);
        let fault = Exception::PageFault {
            addr: DATA + 0x2000,
            error_code: NOT_PRESENT_READ,
        };
        check_fault_midway(&[0xf3, 0xa5], &s, 0x2000, 0x10, fault);
    }

    #[test]
    fn rep_stosb_backwards_below_the_mapping_is_restartable() {
        let s = fault_state(0, DATA + 0x40, 0x100, true);
        let fault = Exception::PageFault {
            addr: DATA - 1,
            error_code: NOT_PRESENT_WRITE,
        };
        check_fault_midway(&[0xf3, 0xaa], &s, 0x4000, 0x41, fault);
    }

    #[test]
    fn addr32_rep_stosq_faulting_keeps_ecx_edi_consistent() {
        let mut s = fault_state(0, DATA + 0x1000 - 0x18, 0x20, false);
        s.set(Gpr::Rcx, 0xdead_0000_0000_0020);
        let fault = Exception::PageFault {
            addr: DATA + 0x1000,
            error_code: NOT_PRESENT_WRITE,
        };
        // Registers after the fault have zero upper halves (32-bit writes).
        let code = [0x67, 0xf3, 0x48, 0xab];
        let mut cpu = emu_cpu(&code, &s, 0x1000);
        assert_eq!(run_to_end(&mut cpu, &code), Exit::Exception(fault));
        assert_eq!(cpu.gpr(Gpr::Rcx), 0x20 - 3);
        assert_eq!(cpu.gpr(Gpr::Rdi), DATA + 0x1000);
    }

    #[test]
    fn repe_cmpsb_faulting_mid_way_is_restartable() {
        // Equal bytes up to the end of the mapping: the compare walks into
        // the unmapped page.
        let mut s = fault_state(DATA + 0x1000 - 0x20, DATA + 0x100, 0x100, false);
        let (src, dst) = (0x1000 - 0x20, 0x100);
        for k in 0..0x20 {
            s.data[dst + k] = s.data[src + k];
        }
        let fault = Exception::PageFault {
            addr: DATA + 0x1000,
            error_code: NOT_PRESENT_READ,
        };
        check_fault_midway(&[0xf3, 0xa6], &s, 0x1000, 0x20, fault);
    }

    #[test]
    fn cmps_reads_the_destination_first_except_repe_cmpsb_like_the_host() {
        // Both operands unmapped: the host reports ES:[RDI], except for
        // repe cmpsb, which reports DS:[RSI].
        for (code, src_first) in [
            (&[0xf3, 0x66, 0xa7][..], false), // repe cmpsw
            (&[0xa6][..], false),             // cmpsb
            (&[0xf2, 0xa6][..], false),       // repne cmpsb
            (&[0x67, 0xf3, 0xa6][..], true),  // repe cmpsb, a32
            (&[0xf3, 0xa6][..], true),        // repe cmpsb
        ] {
            let s = fault_state(DATA + 0x1d74, DATA + 0x1000, 2, false);
            let mut cpu = emu_cpu(code, &s, 0x1000);
            let exit = run_to_end(&mut cpu, code);
            let addr = if src_first {
                DATA + 0x1d74
            } else {
                DATA + 0x1000
            };
            let fault = Exception::PageFault {
                addr,
                error_code: NOT_PRESENT_READ,
            };
            assert_eq!(exit, Exit::Exception(fault), "{code:02x?}");
        }
        // RDI non-canonical, RSI crossing into an unmapped page: #GP(0).
        let s = fault_state(DATA + 0xfff, 0xa8e4_e65c_ff6a_9ed5, 3, false);
        let mut cpu = emu_cpu(&[0xa7], &s, 0x1000);
        let exit = run_to_end(&mut cpu, &[0xa7]);
        assert_eq!(exit, Exit::Exception(Exception::GeneralProtection(0)));
        assert_eq!(emu_state(&cpu).gpr, s.gpr);
    }

    #[test]
    fn movs_reads_the_source_first_like_the_host() {
        // RSI unmapped, RDI non-canonical: the host reports the read #PF.
        let s = fault_state(DATA + 0x1000, 0x9d5f_b630_e715_8d67, 1, false);
        let mut cpu = emu_cpu(&[0xa5], &s, 0x1000);
        let exit = run_to_end(&mut cpu, &[0xa5]);
        let fault = Exception::PageFault {
            addr: DATA + 0x1000,
            error_code: NOT_PRESENT_READ,
        };
        assert_eq!(exit, Exit::Exception(fault));
    }

    #[test]
    fn source_segment_override_adds_the_fs_or_gs_base() {
        // Natively with RSI = base + off; in the emulator with RSI = off and
        // the base in FS or GS. Everything but RSI must agree.
        let base = DATA + 0x800;
        let cases: [(&[u8], &[u8], bool); 4] = [
            (&[0xf3, 0xa4], &[0x64, 0xf3, 0xa4], true), // fs rep movsb
            (&[0xac], &[0x65, 0xac], false),            // gs lodsb
            (&[0xf3, 0xa6], &[0x64, 0xf3, 0xa6], true), // fs repe cmpsb
            (&[0x67, 0xa5], &[0x67, 0x65, 0xa5], false), // gs addr32 movsd
        ];
        for (plain, over, fs) in cases {
            let s = fault_state(0x40, DATA + 0x2000, 0x30, false);
            let mut native_in = s.clone();
            native_in.set(Gpr::Rsi, base + 0x40);
            let native = run_native(plain, &native_in);
            let mut cpu = emu_cpu(over, &s, 0x4000);
            if fs {
                cpu.set_fs_base(base);
            } else {
                cpu.set_gs_base(base);
            }
            assert_eq!(run_to_end(&mut cpu, over), Exit::StopAddress);
            let mut emu = emu_state(&cpu);
            emu.gpr[Gpr::Rsi as usize] += base;
            assert_eq!(emu.gpr, native.gpr, "{over:02x?}");
            assert_eq!(emu.data, native.data, "{over:02x?}");
            assert_eq!(emu.rflags, native.rflags, "{over:02x?}");
        }
    }

    #[test]
    fn rep_movsb_over_the_following_code_is_executed_as_new_code() {
        // rep movsb copies `inc ebx` (ff c3) over the two nops after it.
        let code = [0xf3, 0xa4, 0x90, 0x90];
        let mut s = fault_state(DATA, 0, 2, false);
        s.data[0] = 0xff;
        s.data[1] = 0xc3;
        s.set(Gpr::Rdi, super::super::int_b_testutil::snippet_addr() + 2);
        let out = check(&code, &s, ALL_FLAGS);
        assert_eq!(
            out.get(Gpr::Rbx),
            s.get(Gpr::Rbx).wrapping_add(1) & 0xffff_ffff
        );
    }
}
