//! Test-only host oracle for the packed-integer families (`sse_int`,
//! `sse4_int`, `sse42_string`): runs one encoded instruction natively on the
//! host CPU and through the emulator from the same register and memory state,
//! and compares every XMM register, every GPR, RFLAGS and the data buffer.
//!
//! The native side assembles a small trampoline (load state, `popfq`, the
//! instruction, `pushfq`, store state) into an executable page and calls it.
//! Fault behaviour (alignment #GP) is observed in a forked child, which dies
//! with SIGSEGV when the instruction faults.
#![allow(unsafe_code)] // executes generated code natively: that is the oracle

use iced_x86::code_asm::{
    qword_ptr, registers::*, xmmword_ptr, AsmRegister64, AsmRegisterXmm, CodeAssembler,
};
use iced_x86::{Code, Encoder, Instruction, MemoryOperand, Register};

use crate::{Cpu, CpuConfig, Exception, Exit, Gpr, Prot, RunLimit};

/// Size of the data buffer that memory operands point into.
pub const BUF: usize = 256;
/// Register used as the base of memory operands (holds an offset into the
/// buffer in [`State`]; each side adds its own buffer address).
pub const BASE: Register = Register::RBX;

/// RFLAGS value loaded before the instruction (IF and bit 1 set).
const FLAGS_BASE: u64 = 0x202;

/// Registers, flags and the data buffer around one instruction. Tested
/// instructions must not use RSP, RDI (the trampoline's) or RBX (the
/// memory base, an offset here) as operands.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct State {
    /// XMM0..XMM15.
    pub xmm: [u128; 16],
    /// RAX..R15 (RSP and RDI are not loaded: the trampoline needs them).
    pub gpr: [u64; 16],
    /// RFLAGS.
    pub rflags: u64,
    /// The memory that `[rbx + disp]` operands address (rbx is an offset).
    pub buf: Buf,
}

/// A 16-byte aligned data buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct Buf(pub [u8; BUF]);

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, x) in self.xmm.iter().enumerate() {
            writeln!(f, "xmm{k:<2} = {x:032x}")?;
        }
        for (k, g) in self.gpr.iter().enumerate() {
            writeln!(f, "{:<3} = {g:016x}", Gpr::ALL[k].name())?;
        }
        writeln!(f, "rflags = {:#x}", self.rflags)?;
        writeln!(f, "buf[0..64] = {:02x?}", &self.buf.0[..64])
    }
}

impl State {
    /// A state with the given XMM registers, zero GPRs and the given
    /// arithmetic flags (masked to CF PF AF ZF SF OF).
    pub fn new(xmm: [u128; 16], arith_flags: u64) -> Self {
        Self {
            xmm,
            gpr: [0; 16],
            rflags: FLAGS_BASE | (arith_flags & 0x8d5),
            buf: Buf([0; BUF]),
        }
    }
}

/// A deterministic xorshift64* generator for test inputs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a nonzero seed.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    /// The next 64 random bits.
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
    /// 128 random bits.
    pub fn u128(&mut self) -> u128 {
        (self.bits() as u128) << 64 | self.bits() as u128
    }
    /// 128 bits whose lanes (of a random width) are often edge values:
    /// 0, 1, -1, the signed and unsigned extremes and their neighbours.
    pub fn lanes(&mut self) -> u128 {
        let w = 8u32 << self.below(4);
        let m = u128::MAX >> (128 - w);
        let mut v = 0u128;
        for k in 0..128 / w {
            let top = 1u128 << (w - 1);
            let lane = match self.below(12) {
                0 => 0,
                1 => 1,
                2 => m,
                3 => top,
                4 => top - 1,
                5 => top + 1,
                6 => m - 1,
                7 => self.below(4) as u128,
                _ => self.u128() & m,
            };
            v |= lane << (k * w);
        }
        v
    }
    /// A mix of fully random and edge-lane values.
    pub fn xmm(&mut self) -> u128 {
        if self.below(3) == 0 {
            self.u128()
        } else {
            self.lanes()
        }
    }
    /// A random state: random XMM registers, buffer and arithmetic flags.
    pub fn state(&mut self) -> State {
        let mut xmm = [0u128; 16];
        for x in xmm.iter_mut() {
            *x = self.xmm();
        }
        let mut s = State::new(xmm, self.bits());
        for k in 0..BUF / 16 {
            let v = self.xmm().to_le_bytes();
            s.buf.0[k * 16..k * 16 + 16].copy_from_slice(&v);
        }
        for (k, g) in s.gpr.iter_mut().enumerate() {
            if k != 4 && k != 7 {
                *g = self.bits();
            }
        }
        s.gpr[Gpr::Rbx as usize] = 0;
        s
    }
}

/// Encodes one instruction at the emulator's code address.
pub fn encode(ins: &Instruction) -> Vec<u8> {
    let mut e = Encoder::new(64);
    e.encode(ins, CODE).expect("encodable test instruction");
    e.take_buffer()
}

/// `code xmm_d, xmm_s` (or with a memory source `[rbx + disp]` when `s` is None).
pub fn xmm_rm(code: Code, d: u32, s: Option<u32>, disp: i64) -> Instruction {
    let dst = xmm_reg(d);
    match s {
        Some(s) => Instruction::with2(code, dst, xmm_reg(s)),
        None => Instruction::with2(code, dst, mem(disp)),
    }
    .expect("valid operands")
}

/// `code xmm_d, xmm_s/[rbx + disp], imm8`.
pub fn xmm_rm_imm(code: Code, d: u32, s: Option<u32>, disp: i64, imm: u8) -> Instruction {
    let dst = xmm_reg(d);
    match s {
        Some(s) => Instruction::with3(code, dst, xmm_reg(s), imm as u32),
        None => Instruction::with3(code, dst, mem(disp), imm as u32),
    }
    .expect("valid operands")
}

/// XMM register `k`.
pub fn xmm_reg(k: u32) -> Register {
    Register::XMM0 + k
}

/// The memory operand `[rbx + disp]`.
pub fn mem(disp: i64) -> MemoryOperand {
    MemoryOperand::with_base_displ(BASE, disp)
}

/// Emulator code address.
pub const CODE: u64 = 0x40_0000;
/// Emulator data buffer address (16-byte aligned).
pub const DATA: u64 = 0x60_0000;

/// The same instruction prepared for both sides.
pub struct Oracle {
    page: *mut u8,
    len: usize,
    bytes: Vec<u8>,
    text: String,
    cpu: Cpu,
}

impl std::fmt::Debug for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

const XMMS: [AsmRegisterXmm; 16] = [
    xmm0, xmm1, xmm2, xmm3, xmm4, xmm5, xmm6, xmm7, xmm8, xmm9, xmm10, xmm11, xmm12, xmm13, xmm14,
    xmm15,
];
const GPRS: [AsmRegister64; 16] = [
    rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15,
];
const OFF_GPR: i32 = 256;
const OFF_FLAGS: i32 = 384;
const OFF_BUF: i32 = 400;

/// GPRs loaded and stored by the trampoline (all but RSP and RDI).
fn loaded(k: usize) -> bool {
    k != 4 && k != 7
}

fn trampoline(insn: &[u8]) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).expect("bitness");
    let st = rdi;
    (|| -> Result<(), iced_x86::IcedError> {
        for r in [rbx, rbp, r12, r13, r14, r15] {
            a.push(r)?;
        }
        for (k, &x) in XMMS.iter().enumerate() {
            a.movdqu(x, xmmword_ptr(st + 16 * k as i32))?;
        }
        for (k, &g) in GPRS.iter().enumerate() {
            if loaded(k) {
                a.mov(g, qword_ptr(st + OFF_GPR + 8 * k as i32))?;
            }
        }
        // The base register holds an offset into the buffer.
        a.lea(rbx, qword_ptr(st + rbx + OFF_BUF))?;
        a.push(qword_ptr(st + OFF_FLAGS))?;
        a.popfq()?;
        a.db(insn)?;
        a.pushfq()?;
        a.pop(qword_ptr(st + OFF_FLAGS))?;
        a.sub(rbx, rdi)?;
        a.sub(rbx, OFF_BUF)?;
        for (k, &g) in GPRS.iter().enumerate() {
            if loaded(k) {
                a.mov(qword_ptr(st + OFF_GPR + 8 * k as i32), g)?;
            }
        }
        for (k, &x) in XMMS.iter().enumerate() {
            a.movdqu(xmmword_ptr(st + 16 * k as i32), x)?;
        }
        for r in [r15, r14, r13, r12, rbp, rbx] {
            a.pop(r)?;
        }
        a.ret()?;
        Ok(())
    })()
    .expect("trampoline assembles");
    a.assemble(0).expect("trampoline assembles")
}

impl Oracle {
    /// Prepares `ins` (encoded at [`CODE`]) for native and emulated runs.
    pub fn new(ins: &Instruction) -> Self {
        assert_eq!(std::mem::offset_of!(State, gpr), OFF_GPR as usize);
        assert_eq!(std::mem::offset_of!(State, rflags), OFF_FLAGS as usize);
        assert_eq!(std::mem::offset_of!(State, buf), OFF_BUF as usize);
        let bytes = encode(ins);
        let code = trampoline(&bytes);
        let len = code.len().next_multiple_of(4096);
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED, "mmap of the trampoline page");
        let page = page.cast::<u8>();
        // SAFETY: `page` is a writable mapping of `len >= code.len()` bytes.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), page, code.len()) };
        let mut cpu = Cpu::new(CpuConfig { ram_size: 4 << 20 }).expect("cpu");
        cpu.map(CODE, 0x1000, Prot::RX).expect("map code");
        cpu.map(DATA, 0x1000, Prot::RW).expect("map data");
        let mut code = bytes.clone();
        code.push(0xcc);
        cpu.write_virt(CODE, &code).expect("code");
        Self {
            page,
            len,
            bytes,
            text: format!("{ins} ({:02x?})", encode(ins)),
            cpu,
        }
    }

    /// The emulator side, for tests that place data outside the buffer.
    pub fn cpu_mut(&mut self) -> &mut Cpu {
        &mut self.cpu
    }

    /// Runs the instruction natively.
    pub fn host(&self, s: &State) -> State {
        let mut out = *s;
        let st: *mut State = &mut out;
        // SAFETY: the page holds the trampoline built in `new`, which saves
        // and restores the callee-saved registers and RSP, reads and writes
        // only `*st` (through RDI), and returns with DF clear. The tested
        // instruction addresses only the buffer inside `*st`.
        unsafe {
            std::arch::asm!(
                "call {f}",
                f = in(reg) self.page,
                in("rdi") st,
                clobber_abi("C"),
            );
        }
        out
    }

    /// Whether the native instruction faults (it runs in a forked child).
    pub fn host_faults(&self, s: &State) -> bool {
        let mut copy = *s;
        let st: *mut State = &mut copy;
        let f = self.page;
        // SAFETY: fork has no memory-safety preconditions; the child only
        // runs the prepared trampoline (no allocation, no locks) and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // SAFETY: as in `host`; `_exit` never returns.
            unsafe {
                std::arch::asm!("call {f}", f = in(reg) f, in("rdi") st, clobber_abi("C"));
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child created above; `status` is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid, "waitpid");
        libc::WIFSIGNALED(status)
    }

    /// Runs the instruction in the emulator: the new state or the fault.
    pub fn emu(&mut self, s: &State) -> Result<State, Exception> {
        let cpu = &mut self.cpu;
        for (k, &x) in s.xmm.iter().enumerate() {
            cpu.set_xmm(k, x);
        }
        for (k, &g) in s.gpr.iter().enumerate() {
            cpu.set_gpr(Gpr::ALL[k], g);
        }
        cpu.set_gpr(Gpr::Rbx, DATA.wrapping_add(s.gpr[3]));
        cpu.set_rflags(s.rflags);
        cpu.write_virt(DATA, &s.buf.0).expect("data");
        cpu.set_rip(CODE);
        let exit = cpu.run(RunLimit {
            max_instructions: 1,
            stop_at: None,
        });
        match exit {
            Exit::InstructionLimit => {}
            Exit::Exception(e) => {
                assert_eq!(cpu.rip(), CODE, "fault not precise: {self:?}");
                return Err(e);
            }
            other => panic!("unexpected exit {other:?} for {self:?}"),
        }
        assert_eq!(cpu.rip(), CODE + self.bytes.len() as u64);
        let mut out = *s;
        for (k, x) in out.xmm.iter_mut().enumerate() {
            *x = cpu.xmm(k);
        }
        for (k, g) in out.gpr.iter_mut().enumerate() {
            if loaded(k) {
                *g = cpu.gpr(Gpr::ALL[k]);
            }
        }
        out.gpr[3] = cpu.gpr(Gpr::Rbx).wrapping_sub(DATA);
        out.rflags = cpu.rflags();
        cpu.read_virt(DATA, &mut out.buf.0).expect("data");
        Ok(out)
    }

    /// Runs both sides and asserts that they agree exactly.
    pub fn check(&mut self, s: &State) {
        let want = self.host(s);
        let got = self.emu(s);
        match got {
            Ok(got) => assert!(
                got == want,
                "{self:?}\ninput:\n{s:?}\nhost:\n{want:?}\nemulator:\n{got:?}"
            ),
            Err(e) => panic!("{self:?}: emulator raised {e:?}, host did not\ninput:\n{s:?}"),
        }
    }

    /// Asserts that the emulator raises #GP(0) exactly when the host faults.
    pub fn check_fault(&mut self, s: &State) {
        let host = self.host_faults(s);
        let emu = self.emu(s);
        match (host, emu) {
            (true, Err(Exception::GeneralProtection(0))) => {}
            (false, Ok(got)) => {
                let want = self.host(s);
                assert!(got == want, "{self:?}\nhost:\n{want:?}\nemulator:\n{got:?}");
            }
            (h, e) => panic!("{self:?}: host faults = {h}, emulator gives {e:?}\n{s:?}"),
        }
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `new`, no longer used.
        unsafe { libc::munmap(self.page.cast(), self.len) };
    }
}

/// Register pairs (destination, source) used for register forms, including
/// a register with itself and the high registers.
pub const PAIRS: [(u32, u32); 4] = [(1, 2), (3, 3), (15, 8), (0, 9)];

/// Displacement of the memory operands built by the `check_*` helpers.
pub const DISP: i64 = 0x20;

/// Checks an instruction in all its forms against the host: `make(d, s)`
/// builds the register form for `s = Some(src)` and the memory form
/// `[rbx + DISP]` for `None`. Register forms run `cases` random states for
/// each of [`PAIRS`]; the memory form runs `cases` aligned states, then
/// misaligned ones where the emulator must fault (#GP(0)) exactly when the
/// host does.
pub fn check_forms(make: impl Fn(u32, Option<u32>) -> Instruction, cases: usize, rng: &mut Rng) {
    check_reg_forms(&make, cases, rng);
    check_mem_form(&make(5, None), cases, true, rng);
}

/// The register-form half of [`check_forms`].
pub fn check_reg_forms(
    make: impl Fn(u32, Option<u32>) -> Instruction,
    cases: usize,
    rng: &mut Rng,
) {
    for (d, s) in PAIRS {
        let mut o = Oracle::new(&make(d, Some(s)));
        for _ in 0..cases {
            o.check(&rng.state());
        }
    }
}

/// The memory-form half of [`check_forms`] for one instruction; the
/// misaligned runs (one forked child each) only when `faults`.
pub fn check_mem_form(ins: &Instruction, cases: usize, faults: bool, rng: &mut Rng) {
    let mut o = Oracle::new(ins);
    for _ in 0..cases {
        let mut st = rng.state();
        st.gpr[3] = 16 * rng.below(4);
        o.check(&st);
    }
    if faults {
        for misalign in [1, 8, 15] {
            let mut st = rng.state();
            st.gpr[3] = 16 * rng.below(4) + misalign;
            o.check_fault(&st);
        }
    }
}

/// [`check_forms`] for `code xmm, xmm/m128`.
pub fn check_xmm_rm(code: Code, cases: usize, rng: &mut Rng) {
    check_forms(|d, s| xmm_rm(code, d, s, DISP), cases, rng);
}

/// [`check_forms`] for `code xmm, xmm/m128, imm8` with every imm8 in
/// `imms`; the misaligned-fault runs only for the first one.
pub fn check_xmm_rm_imm(code: Code, imms: impl Iterator<Item = u8>, cases: usize, rng: &mut Rng) {
    for (n, imm) in imms.enumerate() {
        let make = |d, s| xmm_rm_imm(code, d, s, DISP, imm);
        check_reg_forms(make, cases, rng);
        check_mem_form(&make(5, None), cases, n == 0, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_and_emulator_agree_on_add_flags() {
        let ins = Instruction::with2(Code::Add_r64_rm64, Register::RAX, Register::RCX).unwrap();
        let mut o = Oracle::new(&ins);
        let mut rng = Rng::new(1);
        for _ in 0..200 {
            o.check(&rng.state());
        }
    }

    #[test]
    fn oracle_sees_a_store_fault_in_the_child() {
        let ins = Instruction::with2(Code::Mov_rm64_r64, mem(0), Register::RAX).unwrap();
        let mut o = Oracle::new(&ins);
        let mut s = Rng::new(2).state();
        s.gpr[3] = 0x7000_0000_0000; // far outside the buffer: unmapped on both sides
        assert!(o.host_faults(&s));
        assert!(o.emu(&s).is_err());
    }
}
