//! Host-oracle test support for the families `cond`, `exchange`, `flagops`,
//! `string`, `misc`, and the review tests of `alu`, `mov`, `branch`, `stack`.
//!
//! A test snippet (one or more encoded instructions) runs natively on the
//! host CPU (the oracle) and through [`Cpu`], from the same registers, RFLAGS
//! and memory, at the *same* virtual addresses: the host maps a fixed region
//! below 4 GiB (so 32-bit address-size forms work too) and the emulator maps
//! the same addresses. Pointers in registers therefore need no rebasing, and
//! every GPR including RSP is part of the state.
//!
//! Natively the snippet sits in an executable page between a generated
//! prologue (save the host's callee-saved registers, RSP and RFLAGS; load
//! RFLAGS and all sixteen GPRs from a context block) and an epilogue (store
//! them back, restore the host). The emulator gets the same page and runs
//! from the snippet's first byte to its end.
#![allow(unsafe_code)] // executes generated code on the host: the test oracle

use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::cpu::{Cpu, CpuConfig, Exit, Gpr, RunLimit};
use crate::mmu::builder::Prot;

/// Base of the fixed test region (same address natively and in the emulator).
pub const BASE: u64 = 0x3e00_0000;
/// The code page.
pub const CODE: u64 = BASE;
/// Native-only context block (registers in and out, host state).
const CTX: u64 = BASE + 0x1000;
/// Scratch data visible to both sides.
pub const DATA: u64 = BASE + 0x1_0000;
/// Size of the data area (4 pages).
pub const DATA_LEN: usize = 0x4000;
/// A stack area visible to both sides.
pub const STACK: u64 = BASE + 0x2_0000;
/// Size of the stack area.
pub const STACK_LEN: usize = 0x2000;
/// Default RSP: inside the stack area, with room above for pops.
pub const RSP_INIT: u64 = STACK + 0x1000;
const REGION_LEN: usize = 0x3_0000;

const CTX_GPR: u64 = CTX;
const CTX_RFLAGS: u64 = CTX + 16 * 8;
const CTX_HOST_RSP: u64 = CTX + 17 * 8;
const CTX_HOST_FLAGS: u64 = CTX + 18 * 8;
const CTX_SCRATCH_TOP: u64 = CTX + 0x1000 - 0x10;

/// Architectural state in and out of a snippet.
#[derive(Clone, PartialEq, Eq)]
pub struct State {
    /// GPRs in encoding order.
    pub gpr: [u64; 16],
    /// RFLAGS.
    pub rflags: u64,
    /// The bytes of `[DATA, DATA + DATA_LEN)`.
    pub data: Vec<u8>,
    /// The bytes of `[STACK, STACK + STACK_LEN)`.
    pub stack: Vec<u8>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, g) in Gpr::ALL.iter().enumerate() {
            write!(f, "{}={:#x} ", g.name(), self.gpr[i])?;
        }
        write!(f, "rflags={:#x}", self.rflags)
    }
}

impl State {
    /// GPRs from `rng`, RSP = [`RSP_INIT`], RFLAGS = IF plus `arith`, and data
    /// and stack filled from `rng`.
    pub fn random(rng: &mut Rng, arith: u64) -> Self {
        let mut gpr = [0u64; 16];
        for g in gpr.iter_mut() {
            *g = rng.next();
        }
        gpr[Gpr::Rsp as usize] = RSP_INIT;
        // Memory comes from one pool of random bytes at a random offset:
        // cheap even in unoptimized test builds.
        static POOL: OnceLock<Vec<u8>> = OnceLock::new();
        let pool = POOL.get_or_init(|| {
            let mut r = Rng::new(0x9e37_79b9_7f4a_7c15);
            (0..2 * (DATA_LEN + STACK_LEN) / 8)
                .flat_map(|_| r.next().to_le_bytes())
                .collect()
        });
        let off = (rng.next() % (DATA_LEN + STACK_LEN) as u64) as usize;
        let data = pool[off..off + DATA_LEN].to_vec();
        let stack = pool[off + DATA_LEN..off + DATA_LEN + STACK_LEN].to_vec();
        Self {
            gpr,
            rflags: 0x202 | (arith & crate::cpu::flags::bits::ARITH),
            data,
            stack,
        }
    }

    /// Sets a GPR.
    pub fn set(&mut self, r: Gpr, v: u64) -> &mut Self {
        self.gpr[r as usize] = v;
        self
    }

    /// Reads a GPR.
    pub fn get(&self, r: Gpr) -> u64 {
        self.gpr[r as usize]
    }

    /// Writes `bytes` little-endian bytes of `v` at data offset `off`.
    pub fn put(&mut self, off: usize, bytes: usize, v: u64) {
        self.data[off..off + bytes].copy_from_slice(&v.to_le_bytes()[..bytes]);
    }
}

/// A deterministic xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A value biased towards edge cases at `bits` width (0, 1, all ones,
    /// sign boundaries), otherwise uniform; zero-extended.
    pub fn edge(&mut self, bits: u32) -> u64 {
        let m = u64::MAX >> (64 - bits);
        let s = 1u64 << (bits - 1);
        match self.next() % 8 {
            0 => 0,
            1 => 1,
            2 => m,
            3 => s,
            4 => s - 1,
            _ => self.next() & m,
        }
    }
}

// ----- native side -----------------------------------------------------

fn region() -> MutexGuard<'static, ()> {
    static REGION: OnceLock<Mutex<()>> = OnceLock::new();
    let lock = REGION.get_or_init(|| {
        // SAFETY: a fresh anonymous mapping at a fixed address nobody else
        // uses; MAP_FIXED_NOREPLACE fails instead of replacing a mapping.
        let p = unsafe {
            libc::mmap(
                BASE as *mut libc::c_void,
                REGION_LEN,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        assert_eq!(p as u64, BASE, "cannot map the host-oracle region");
        Mutex::new(())
    });
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

/// `mov r64, [rip + target]` or `mov [rip + target], r64` at `code[pos..]`.
fn mov_rip(code: &mut Vec<u8>, reg: usize, target: u64, store: bool) {
    code.push(0x48 | ((reg >> 3) as u8) << 2);
    code.push(if store { 0x89 } else { 0x8b });
    code.push(0x05 | ((reg & 7) as u8) << 3);
    rip_disp(code, target);
}

/// Appends a rip-relative disp32 to `target` (the instruction ends here).
fn rip_disp(code: &mut Vec<u8>, target: u64) {
    let next = CODE + code.len() as u64 + 4;
    code.extend_from_slice(&(target.wrapping_sub(next) as i32).to_le_bytes());
}

/// Builds the native page: prologue, snippet, epilogue. Returns the page
/// and the offset of the snippet.
fn native_page(snippet: &[u8]) -> (Vec<u8>, usize) {
    let mut c = Vec::new();
    // push rbx, rbp, r12..r15
    c.extend_from_slice(&[0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57]);
    // pushfq; pop qword [rip+host_flags]
    c.extend_from_slice(&[0x9c, 0x8f, 0x05]);
    rip_disp(&mut c, CTX_HOST_FLAGS);
    mov_rip(&mut c, 4, CTX_HOST_RSP, true);
    // lea rsp, [rip+scratch]; push qword [rip+rflags]; popfq
    c.extend_from_slice(&[0x48, 0x8d, 0x25]);
    rip_disp(&mut c, CTX_SCRATCH_TOP);
    c.extend_from_slice(&[0xff, 0x35]);
    rip_disp(&mut c, CTX_RFLAGS);
    c.push(0x9d);
    for r in (0..16).filter(|&r| r != 4) {
        mov_rip(&mut c, r, CTX_GPR + 8 * r as u64, false);
    }
    mov_rip(&mut c, 4, CTX_GPR + 32, false);
    let at = c.len();
    c.extend_from_slice(snippet);
    for r in 0..16 {
        mov_rip(&mut c, r, CTX_GPR + 8 * r as u64, true);
    }
    c.extend_from_slice(&[0x48, 0x8d, 0x25]);
    rip_disp(&mut c, CTX_SCRATCH_TOP);
    c.extend_from_slice(&[0x9c, 0x8f, 0x05]);
    rip_disp(&mut c, CTX_RFLAGS);
    mov_rip(&mut c, 4, CTX_HOST_RSP, false);
    c.extend_from_slice(&[0xff, 0x35]);
    rip_disp(&mut c, CTX_HOST_FLAGS);
    c.push(0x9d);
    // pop r15..r12, rbp, rbx; ret
    c.extend_from_slice(&[
        0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3,
    ]);
    assert!(c.len() <= 0x1000);
    (c, at)
}

/// The snippet's address on both sides.
pub fn snippet_addr() -> u64 {
    CODE + native_page(&[]).1 as u64
}

/// Runs `snippet` on the host CPU from `s`. The snippet must not fault,
/// must not set TF, and must end with RSP inside the stack area or with
/// any value it does not use after the snippet.
pub fn run_native(snippet: &[u8], s: &State) -> State {
    let _guard = region();
    let (page, _) = native_page(snippet);
    let mut out = s.clone();
    // SAFETY: the region is mapped RWX above and owned by this module; the
    // guard serializes its use. The written ranges lie inside it.
    unsafe {
        std::ptr::copy_nonoverlapping(page.as_ptr(), CODE as *mut u8, page.len());
        std::ptr::copy_nonoverlapping(s.data.as_ptr(), DATA as *mut u8, DATA_LEN);
        std::ptr::copy_nonoverlapping(s.stack.as_ptr(), STACK as *mut u8, STACK_LEN);
        let ctx = CTX as *mut u64;
        for (i, g) in s.gpr.iter().enumerate() {
            ctx.add(i).write_volatile(*g);
        }
        ctx.add(16).write_volatile(s.rflags);
    }
    // SAFETY: the generated code saves and restores every callee-saved
    // register, RSP and RFLAGS (DF clear on return); the caller-saved ones
    // are declared clobbered. It touches only the fixed region.
    unsafe {
        core::arch::asm!("call {f}", f = in(reg) CODE, clobber_abi("C"));
    }
    // SAFETY: as above: reads inside the region, serialized by the guard.
    unsafe {
        let ctx = CTX as *const u64;
        for (i, g) in out.gpr.iter_mut().enumerate() {
            *g = ctx.add(i).read_volatile();
        }
        out.rflags = ctx.add(16).read_volatile();
        std::ptr::copy_nonoverlapping(DATA as *const u8, out.data.as_mut_ptr(), DATA_LEN);
        std::ptr::copy_nonoverlapping(STACK as *const u8, out.stack.as_mut_ptr(), STACK_LEN);
    }
    out
}

// ----- emulator side ---------------------------------------------------

/// A CPU at CPL 3 with the test region mapped (code RWX, `data_len` bytes of
/// data RW, the stack RW), loaded from `s`, RIP at the snippet.
pub fn emu_cpu(snippet: &[u8], s: &State, data_len: usize) -> Cpu {
    let mut cpu = Cpu::new(CpuConfig { ram_size: 4 << 20 }).expect("cpu");
    cpu.map(CODE, 0x1000, Prot::RWX).expect("map code");
    if data_len > 0 {
        cpu.map(DATA, data_len as u64, Prot::RW).expect("map data");
    }
    cpu.map(STACK, STACK_LEN as u64, Prot::RW)
        .expect("map stack");
    load(&mut cpu, snippet, s, data_len);
    cpu
}

/// Loads code, `data_len` bytes of data, the stack, GPRs, RFLAGS and RIP.
fn load(cpu: &mut Cpu, snippet: &[u8], s: &State, data_len: usize) {
    let (page, at) = native_page(snippet);
    cpu.write_virt(CODE, &page).expect("code");
    cpu.write_virt(DATA, &s.data[..data_len]).expect("data");
    cpu.write_virt(STACK, &s.stack).expect("stack");
    for (i, g) in Gpr::ALL.iter().enumerate() {
        cpu.set_gpr(*g, s.gpr[i]);
    }
    cpu.set_rflags(s.rflags);
    cpu.set_rip(CODE + at as u64);
}

/// Runs `cpu` until the end of `snippet` (or a fault, within 10000
/// instructions).
pub fn run_to_end(cpu: &mut Cpu, snippet: &[u8]) -> Exit {
    let end = snippet_addr() + snippet.len() as u64;
    cpu.run(RunLimit {
        max_instructions: 10_000,
        stop_at: Some(end),
    })
}

/// The state of `cpu` (unmapped data reads as zero).
pub fn emu_state(cpu: &Cpu) -> State {
    let mut gpr = [0u64; 16];
    for (i, g) in Gpr::ALL.iter().enumerate() {
        gpr[i] = cpu.gpr(*g);
    }
    let mut data = vec![0u8; DATA_LEN];
    for (i, page) in data.chunks_mut(0x1000).enumerate() {
        let _ = cpu.read_virt(DATA + (i * 0x1000) as u64, page);
    }
    let mut stack = vec![0u8; STACK_LEN];
    cpu.read_virt(STACK, &mut stack).expect("stack");
    State {
        gpr,
        rflags: cpu.rflags(),
        data,
        stack,
    }
}

/// Runs `snippet` through the emulator from `s` with all data mapped. The
/// CPU is reused per thread (its mappings never change; code, data, stack,
/// registers and flags are reloaded, which also invalidates decoded code).
pub fn run_emu(snippet: &[u8], s: &State) -> (State, Exit) {
    thread_local! {
        static CPU: std::cell::RefCell<Option<Cpu>> = const { std::cell::RefCell::new(None) };
    }
    CPU.with(|c| {
        let mut c = c.borrow_mut();
        let cpu = match c.as_mut() {
            Some(cpu) => {
                load(cpu, snippet, s, DATA_LEN);
                cpu
            }
            None => c.insert(emu_cpu(snippet, s, DATA_LEN)),
        };
        let exit = run_to_end(cpu, snippet);
        (emu_state(cpu), exit)
    })
}

/// Runs `snippet` on both sides from `s` and asserts equal GPRs, RFLAGS
/// (compared under `flags_mask`), data and stack. Returns the native state.
#[track_caller]
pub fn check(snippet: &[u8], s: &State, flags_mask: u64) -> State {
    let native = run_native(snippet, s);
    let (emu, exit) = run_emu(snippet, s);
    assert_eq!(exit, Exit::StopAddress, "snippet {snippet:02x?} from {s:?}");
    let ctx =
        || format!("snippet {snippet:02x?}\n from   {s:?}\n native {native:?}\n emu    {emu:?}");
    assert_eq!(native.gpr, emu.gpr, "GPRs differ: {}", ctx());
    assert_eq!(
        native.rflags & flags_mask,
        emu.rflags & flags_mask,
        "RFLAGS differ: {}",
        ctx()
    );
    if native.data != emu.data {
        let i = (0..DATA_LEN).find(|&i| native.data[i] != emu.data[i]);
        panic!("data differs at offset {i:#x?}: {}", ctx());
    }
    if native.stack != emu.stack {
        let i = (0..STACK_LEN).find(|&i| native.stack[i] != emu.stack[i]);
        panic!("stack differs at offset {i:#x?}: {}", ctx());
    }
    native
}

/// Every RFLAGS bit the host lets user code observe.
pub const ALL_FLAGS: u64 = u64::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_round_trips_state_through_an_empty_snippet() {
        let mut rng = Rng::new(7);
        let s = State::random(&mut rng, 0x8d5);
        let out = check(&[], &s, ALL_FLAGS);
        assert_eq!(out.gpr, s.gpr);
        assert_eq!(out.rflags, s.rflags);
    }

    #[test]
    fn oracle_sees_a_difference_in_add() {
        // add rax, rbx: the native result must differ from the input.
        let mut s = State::random(&mut Rng::new(3), 0);
        s.set(Gpr::Rax, 1).set(Gpr::Rbx, 2);
        let out = run_native(&[0x48, 0x01, 0xd8], &s);
        assert_eq!(out.get(Gpr::Rax), 3);
    }
}
