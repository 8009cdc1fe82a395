//! Test-only host oracle for the SSE families: runs one real instruction on
//! the host CPU with a given XMM/GPR/memory/MXCSR state (through inline
//! `asm!`), runs the same bytes through a [`Cpu`], and compares.
//!
//! Unmasked SIMD exceptions fault on the host too: a SIGFPE handler resumes
//! the stub after the instruction (at the address the stub left in R11) and
//! reports the fault, so the flags the host set and the unchanged destination
//! can be compared with the emulator's `#XM`.
#![allow(unsafe_code)] // inline asm and a signal handler are the oracle itself

use std::sync::Once;

use crate::cpu::{Cpu, CpuConfig, Exit, Gpr, RunLimit};
use crate::mmu::builder::Prot;
use crate::Exception;

/// Code address used for the emulated instruction.
pub const CODE: u64 = 0x40_0000;
/// Address of the 64-byte memory operand window (RDI points here).
pub const DATA: u64 = 0x60_0000;

/// The machine state an oracle run starts from and ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// XMM0..XMM3.
    pub xmm: [u128; 4],
    /// RAX.
    pub rax: u64,
    /// RCX.
    pub rcx: u64,
    /// The six arithmetic flags (RFLAGS & 0x8d5).
    pub flags: u64,
    /// MXCSR.
    pub mxcsr: u32,
    /// 64 bytes at RDI (16-byte aligned on both sides; add a displacement
    /// in the instruction text to test misalignment).
    pub mem: [u8; 64],
    /// The instruction raised #XM (host: SIGFPE).
    pub xm: bool,
}

impl State {
    /// A state with the given XMM0/XMM1 and MXCSR, everything else zero.
    pub fn new(x0: u128, x1: u128, mxcsr: u32) -> Self {
        Self {
            xmm: [x0, x1, 0, 0],
            rax: 0,
            rcx: 0,
            flags: 0,
            mxcsr,
            mem: [0; 64],
            xm: false,
        }
    }
}

#[repr(C, align(64))]
struct Buf {
    mem: [u8; 64],
    xmm: [u128; 4],
    rax: u64,
    rcx: u64,
    flags: u64,
    mxcsr: u32,
    mxcsr_out: u32,
    mxcsr_default: u32,
    faulted: u32,
}

const ARITH: u64 = 0x8d5;
const MARK: u64 = 0x5afe;
const FAULTED: u64 = 0xfa17;

extern "C" fn on_sigfpe(_sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
    let uc = unsafe { &mut *(ctx as *mut libc::ucontext_t) };
    let g = &mut uc.uc_mcontext.gregs;
    if g[libc::REG_R10 as usize] as u64 == MARK {
        g[libc::REG_RIP as usize] = g[libc::REG_R11 as usize];
        g[libc::REG_R10 as usize] = FAULTED as i64;
    } else {
        // Not from an oracle stub: restore the default action and fault again.
        // SAFETY: resetting a signal disposition is async-signal-safe.
        unsafe { libc::signal(libc::SIGFPE, libc::SIG_DFL) };
    }
}

fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // only touches the ucontext it is given.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigfpe as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGFPE, &sa, std::ptr::null_mut()), 0);
        }
    });
}

/// Runs `$insn` (Intel syntax; XMM0..XMM3, RAX, RCX and `[rdi]` are the
/// operands to use) on the host. Evaluates to `(State, Vec<u8>)`: the state
/// after the instruction and its encoding.
#[macro_export]
macro_rules! host_run {
    ($insn:literal, $st:expr) => {{
        $crate::cpu::exec::sse_float::oracle::run_host($st, |b: *mut u8| -> (usize, usize) {
            let start: usize;
            let end: usize;
            // SAFETY: the stub reads and writes only the oracle buffer `b`
            // points to; MXCSR is restored to its default before it ends.
            #[allow(unsafe_code)]
            unsafe {
                core::arch::asm!(
                    "movdqa xmm0, [r8 + 64]",
                    "movdqa xmm1, [r8 + 80]",
                    "movdqa xmm2, [r8 + 96]",
                    "movdqa xmm3, [r8 + 112]",
                    "mov rax, [r8 + 128]",
                    "mov rcx, [r8 + 136]",
                    "push qword ptr [r8 + 144]",
                    "popfq",
                    "mov rdi, r8",
                    "ldmxcsr [r8 + 152]",
                    "lea r11, [rip + 3f]",
                    "mov r10d, 0x5afe",
                    "lea {s}, [rip + 2f]",
                    "lea {e}, [rip + 3f]",
                    "2:",
                    $insn,
                    "3:",
                    "stmxcsr [r8 + 156]",
                    "ldmxcsr [r8 + 160]",
                    "mov [r8 + 164], r10d",
                    "pushfq",
                    "pop qword ptr [r8 + 144]",
                    "mov [r8 + 128], rax",
                    "mov [r8 + 136], rcx",
                    "movdqa [r8 + 64], xmm0",
                    "movdqa [r8 + 80], xmm1",
                    "movdqa [r8 + 96], xmm2",
                    "movdqa [r8 + 112], xmm3",
                    s = out(reg) start,
                    e = out(reg) end,
                    in("r8") b,
                    out("rax") _, out("rcx") _, out("rdi") _,
                    out("r10") _, out("r11") _,
                    out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
                );
            }
            (start, end)
        })
    }};
}

/// Drives a host stub produced by [`host_run!`]. Not for direct use.
pub fn run_host(st: &State, stub: impl Fn(*mut u8) -> (usize, usize)) -> (State, Vec<u8>) {
    install_handler();
    let mut b = Buf {
        mem: st.mem,
        xmm: st.xmm,
        rax: st.rax,
        rcx: st.rcx,
        flags: 0x202 | (st.flags & ARITH),
        mxcsr: st.mxcsr,
        mxcsr_out: 0,
        mxcsr_default: 0x1f80,
        faulted: 0,
    };
    let (start, end) = stub(&mut b as *mut Buf as *mut u8);
    // SAFETY: `start..end` are the bytes of the instruction in this binary's
    // text, which is mapped readable.
    let bytes = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) }.to_vec();
    let out = State {
        xmm: b.xmm,
        rax: b.rax,
        rcx: b.rcx,
        flags: b.flags & ARITH,
        mxcsr: b.mxcsr_out,
        mem: b.mem,
        xm: b.faulted as u64 == FAULTED,
    };
    (out, bytes)
}

/// An emulated CPU prepared for repeated single-instruction oracle runs.
#[derive(Debug)]
pub struct Emu {
    cpu: Cpu,
}

impl Default for Emu {
    fn default() -> Self {
        Self::new()
    }
}

impl Emu {
    /// A CPU with a code page and the memory-operand window mapped.
    pub fn new() -> Self {
        let mut cpu = Cpu::new(CpuConfig { ram_size: 4 << 20 }).expect("cpu");
        cpu.map(CODE, 0x1000, Prot::RWX).expect("map code");
        cpu.map(DATA, 0x1000, Prot::RW).expect("map data");
        Self { cpu }
    }

    /// Runs `bytes` once from `st`; returns the state after it, or the
    /// exception it raised other than #XM (state unchanged then).
    pub fn run(&mut self, bytes: &[u8], st: &State) -> Result<State, Exception> {
        let mut code = bytes.to_vec();
        code.push(0xcc);
        self.cpu.write_virt(CODE, &code).expect("write code");
        self.cpu.write_virt(DATA, &st.mem).expect("write data");
        for (i, &x) in st.xmm.iter().enumerate() {
            self.cpu.set_xmm(i, x);
        }
        self.cpu.set_gpr(Gpr::Rax, st.rax);
        self.cpu.set_gpr(Gpr::Rcx, st.rcx);
        self.cpu.set_gpr(Gpr::Rdi, DATA);
        self.cpu.set_rflags(0x202 | (st.flags & ARITH));
        self.cpu.set_mxcsr(st.mxcsr);
        self.cpu.set_rip(CODE);
        let exit = self.cpu.run(RunLimit {
            max_instructions: 1,
            stop_at: None,
        });
        let xm = match exit {
            Exit::InstructionLimit => false,
            Exit::Exception(Exception::SimdFloat) => true,
            Exit::Exception(e) => return Err(e),
            other => panic!("unexpected exit {other:?}"),
        };
        let mut out = *st;
        for (i, x) in out.xmm.iter_mut().enumerate() {
            *x = self.cpu.xmm(i);
        }
        out.rax = self.cpu.gpr(Gpr::Rax);
        out.rcx = self.cpu.gpr(Gpr::Rcx);
        out.flags = self.cpu.rflags() & ARITH;
        out.mxcsr = self.cpu.mxcsr();
        self.cpu.read_virt(DATA, &mut out.mem).expect("read data");
        out.xm = xm;
        Ok(out)
    }
}

/// Runs `$insn` on the host and through `$emu` from `$st` and asserts that
/// both end in the same state. Evaluates to the host's final state.
#[macro_export]
macro_rules! check_insn {
    ($emu:expr, $insn:literal, $st:expr) => {{
        let st: &$crate::cpu::exec::sse_float::oracle::State = $st;
        let (host, bytes) = $crate::host_run!($insn, st);
        let emu = $emu.run(&bytes, st);
        assert!(
            emu == Ok(host),
            "{}\n from {:x?}\n host {:x?}\n emu  {:x?}",
            $insn,
            st,
            host,
            emu
        );
        host
    }};
}

/// A small deterministic PRNG (xorshift64*) for random operands.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    /// Next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A value below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits() % n
    }
}

/// A random float of `frac` fraction bits and `exp` exponent bits, biased
/// towards the special and boundary encodings: zeros, denormals, the
/// smallest and largest normals, infinities, QNaN/SNaN with payloads,
/// exponents near the underflow and overflow thresholds, and fractions with
/// few or all bits set (rounding ties).
pub fn rand_float(rng: &mut Rng, exp: u32, frac: u32) -> u64 {
    let emax = (1u64 << exp) - 1;
    let bias = emax >> 1;
    let fmask = (1u64 << frac) - 1;
    let sign = rng.bits() & 1;
    let e = match rng.below(12) {
        0 => 0,
        1 => emax,
        2 => 1 + rng.below(3),
        3 => emax - 1 - rng.below(3),
        4 => bias + rng.below(3) - 1,
        5 => (frac as u64 + 2).min(bias) - rng.below(4),
        6 => bias - rng.below(bias / 2),
        _ => 1 + rng.below(emax - 1),
    };
    let f = match rng.below(8) {
        0 => 0,
        1 => fmask,
        2 => 1 << rng.below(frac as u64),
        3 => fmask >> rng.below(frac as u64),
        4 => (rng.bits() & fmask) & !((1u64 << rng.below(frac as u64)) - 1),
        5 => 1 << (frac - 1) | (rng.bits() & 3),
        _ => rng.bits() & fmask,
    };
    sign << (exp + frac) | e << frac | f
}

/// A random f32 bit pattern (see [`rand_float`]).
pub fn rand_f32(rng: &mut Rng) -> u32 {
    rand_float(rng, 8, 23) as u32
}

/// A random f64 bit pattern (see [`rand_float`]).
pub fn rand_f64(rng: &mut Rng) -> u64 {
    rand_float(rng, 11, 52)
}

/// A random MXCSR: any rounding mode, DAZ and FTZ, and either all
/// exceptions masked (most of the time) or a random mask; flags clear or random.
pub fn rand_mxcsr(rng: &mut Rng) -> u32 {
    let rc = (rng.below(4) as u32) << 13;
    let daz = (rng.below(2) as u32) << 6;
    let ftz = (rng.below(2) as u32) << 15;
    let masks = if rng.below(3) == 0 {
        (rng.bits() as u32) & 0x1f80
    } else {
        0x1f80
    };
    let flags = if rng.below(4) == 0 {
        (rng.bits() as u32) & 0x3f
    } else {
        0
    };
    rc | daz | ftz | masks | flags
}

/// Mode `k` (0..32) of an exhaustive sweep: the rounding mode (bits 1:0),
/// DAZ (bit 2), FTZ (bit 3), and all exceptions masked or all unmasked (bit 4).
pub fn sweep_mxcsr(k: u32) -> u32 {
    let masks = if k & 16 != 0 { 0 } else { 0x1f80 };
    ((k & 3) << 13) | ((k >> 2 & 1) * 0x40) | ((k >> 3 & 1) * 0x8000) | masks
}

/// Four random f32 lanes, sometimes sharing exponents with `other` so that
/// sums cancel and products land near the boundaries.
pub fn rand_ps(rng: &mut Rng) -> u128 {
    let l: [u32; 4] = std::array::from_fn(|_| rand_f32(rng));
    l[0] as u128 | (l[1] as u128) << 32 | (l[2] as u128) << 64 | (l[3] as u128) << 96
}

/// Two random f64 lanes.
pub fn rand_pd(rng: &mut Rng) -> u128 {
    rand_f64(rng) as u128 | (rand_f64(rng) as u128) << 64
}
