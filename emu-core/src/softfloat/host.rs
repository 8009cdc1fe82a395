//! Test-only oracle: runs real x87 instructions on the host CPU (inline assembly) and compares
//! the soft float against them over random and special operands under many control words.
#![allow(unsafe_code)] // reason: executing host x87 instructions is the test oracle

use core::arch::asm;

use super::{Control, Flags, Res, F80};

/// What the host produced: ST0 and ST1 after the instruction, and the status word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HostOut {
    pub st0: F80,
    pub st1: F80,
    pub fsw: u16,
}

/// Defines a host function that loads `b` then `a` (so ST0 = a, ST1 = b) under control word
/// `cw`, runs the instruction text, captures FSW and then ST0 and ST1.
macro_rules! host_op {
    ($name:ident, $($insn:literal),+) => {
        pub(crate) fn $name(cw: u16, a: F80, b: F80) -> HostOut {
            let ina = a.to_bytes();
            let inb = b.to_bytes();
            let mut out = [0u8; 20];
            let fsw: u16;
            let dflt: u16 = 0x037F;
            // SAFETY: the asm only reads the three input buffers and writes `out`, all live
            // locals of the stated sizes; it starts and ends with FNINIT, leaving the x87 stack
            // empty and the control word at its default as the Rust ABI requires.
            unsafe {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{b}]",
                    "fld tbyte ptr [{a}]",
                    $($insn,)+
                    "fnstsw ax",
                    "fnclex",
                    "fldcw word ptr [{d}]",
                    "fstp tbyte ptr [{o}]",
                    "fstp tbyte ptr [{o} + 10]",
                    "fninit",
                    cw = in(reg) &cw,
                    d = in(reg) &dflt,
                    a = in(reg) ina.as_ptr(),
                    b = in(reg) inb.as_ptr(),
                    o = in(reg) out.as_mut_ptr(),
                    out("ax") fsw,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            let mut lo = [0u8; 10];
            let mut hi = [0u8; 10];
            lo.copy_from_slice(&out[..10]);
            hi.copy_from_slice(&out[10..]);
            HostOut { st0: F80::from_bytes(lo), st1: F80::from_bytes(hi), fsw }
        }
    };
}

host_op!(fadd, "fadd st(0), st(1)");
host_op!(fsub, "fsub st(0), st(1)");
host_op!(fsubr, "fsubr st(0), st(1)");
host_op!(fmul, "fmul st(0), st(1)");
host_op!(fdiv, "fdiv st(0), st(1)");
host_op!(fdivr, "fdivr st(0), st(1)");
host_op!(fsqrt, "fsqrt");
host_op!(frndint, "frndint");
host_op!(fscale, "fscale");
host_op!(fxtract, "fxtract");
host_op!(fprem, "fprem");
host_op!(fprem1, "fprem1");
host_op!(fcom, "fcom st(1)");
host_op!(fucom, "fucom st(1)");
host_op!(ftst, "ftst");
host_op!(fxam, "fxam");
host_op!(fsin, "fsin");
host_op!(fcos, "fcos");
host_op!(fsincos, "fsincos");
host_op!(fptan, "fptan");
host_op!(fpatan, "fpatan");
host_op!(f2xm1, "f2xm1");
host_op!(fyl2x, "fyl2x");
host_op!(fyl2xp1, "fyl2xp1");
host_op!(fld1, "fld1");
host_op!(fldz, "fldz");
host_op!(fldpi, "fldpi");
host_op!(fldl2e, "fldl2e");
host_op!(fldl2t, "fldl2t");
host_op!(fldlg2, "fldlg2");
host_op!(fldln2, "fldln2");

/// A small deterministic xorshift generator.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bool(&mut self) -> bool {
        self.next() & 1 != 0
    }

    /// A significand with the integer bit set and a random bit pattern of a random style.
    pub fn sig(&mut self) -> u64 {
        let r = self.next();
        let k = self.below(64);
        let j = self.below(64);
        let s = match self.below(6) {
            0 => r & !((1u64 << k) - 1),
            1 => r | ((1u64 << k) - 1),
            2 => (1u64 << k) | (1u64 << j),
            3 => !0u64 << k,
            _ => r,
        };
        s | 1 << 63
    }

    /// A random operand mixing every encoding class, boundary exponents and ordinary values.
    pub fn operand(&mut self) -> F80 {
        let sign = self.bool();
        let sig = self.sig();
        let frac = sig & !(1 << 63);
        let exp = match self.below(24) {
            0 => return F80::zero(sign),
            1 => return F80::new(sign, 0, frac >> self.below(64)),
            2 => return F80::new(sign, 0, sig),
            3 => return F80::infinity(sign),
            4 => return F80::new(sign, 0x7FFF, sig | 1 << 62),
            5 => return F80::new(sign, 0x7FFF, (sig & !(1 << 62)) | 1),
            6 => return F80::INDEFINITE,
            7 => return F80::new(sign, self.below(0x8000) as u16, frac),
            8 => 1 + self.below(70) as u16,
            9 => 0x7FFE - self.below(70) as u16,
            10 => 0x3FFF + self.below(64) as u16,
            11..=15 => 0x3FFF - 80 + self.below(160) as u16,
            _ => 1 + self.below(0x7FFE) as u16,
        };
        F80::new(sign, exp, sig)
    }

    /// An operand related to `a` (near its exponent or value), or an independent one.
    pub fn related(&mut self, a: F80) -> F80 {
        match self.below(4) {
            0 if a.exp() > 70 && a.exp() < 0x7FFE - 70 => {
                let e = a.exp() + 70 - self.below(140) as u16;
                F80::new(self.bool(), e, self.sig())
            }
            1 => {
                let k = self.below(64);
                let m = self.below(1 << k) as i64;
                let d = if self.bool() { m } else { -m };
                F80::new(
                    self.bool(),
                    a.exp(),
                    a.signif.wrapping_add(d as u64) | (a.signif & 1 << 63),
                )
            }
            _ => self.operand(),
        }
    }
}

/// The control words a differential test cycles through: every RC and PC combination with all
/// exceptions masked, then with all unmasked, then with only overflow and underflow unmasked.
pub(crate) fn control_words() -> Vec<u16> {
    let mut v = Vec::new();
    for masks in [0x3F, 0x00, 0x27] {
        for pc in [0u16, 2, 3] {
            for rc in 0..4u16 {
                v.push(0x0040 | masks | (pc << 8) | (rc << 10));
            }
        }
    }
    v
}

/// Status bits compared: exceptions, stack fault and the four condition codes.
pub(crate) const COMPARED: u16 = 0x7F | Flags::CC;

fn show(x: F80) -> String {
    format!("{:04x}:{:016x}", x.sign_exp, x.signif)
}

/// Whether the host left its destination unwritten (an unmasked IE, ZE or DE).
fn unwritten(cw: u16, fsw: u16) -> bool {
    fsw & (Flags::IE | Flags::ZE | Flags::DE) & !cw != 0
}

/// Compares a one-result operation. `soft` returns the value the host leaves in ST0 and the
/// status bits; `compared` picks which status bits must agree.
pub(crate) fn check(
    name: &str,
    n: usize,
    compared: u16,
    gen: impl FnMut(&mut Rng) -> (F80, F80),
    host: impl Fn(u16, F80, F80) -> HostOut,
    soft: impl Fn(u16, F80, F80) -> (F80, u16),
) {
    check2(name, n, compared, gen, host, |cw, a, b| {
        let (v, f) = soft(cw, a, b);
        (v, None, f)
    });
}

/// Like [`check`], also comparing ST1 when `soft` returns it.
pub(crate) fn check2(
    name: &str,
    n: usize,
    compared: u16,
    mut gen: impl FnMut(&mut Rng) -> (F80, F80),
    host: impl Fn(u16, F80, F80) -> HostOut,
    soft: impl Fn(u16, F80, F80) -> (F80, Option<F80>, u16),
) {
    let cws = control_words();
    let seed = name.bytes().fold(0x9E37_79B9_7F4A_7C15u64, |h, c| {
        h.rotate_left(7) ^ u64::from(c)
    });
    let mut rng = Rng::new(seed);
    let mut bad = 0;
    let mut shown = String::new();
    for i in 0..n {
        let cw = cws[i % cws.len()];
        let (a, b) = gen(&mut rng);
        let h = host(cw, a, b);
        let (v, v1, f) = soft(cw, a, b);
        let skip = unwritten(cw, h.fsw);
        let value_ok = skip || (v == h.st0 && v1.is_none_or(|v1| v1 == h.st1));
        if !value_ok || (f ^ h.fsw) & compared != 0 {
            bad += 1;
            if bad <= 12 {
                shown += &format!(
                    "\n  cw={cw:04x} a={} b={} host={} {} fsw={:04x} soft={} {} flags={:04x}",
                    show(a),
                    show(b),
                    show(h.st0),
                    show(h.st1),
                    h.fsw & compared,
                    show(v),
                    v1.map_or(String::new(), show),
                    f & compared
                );
            }
        }
    }
    assert!(bad == 0, "{name}: {bad} of {n} cases differ:{shown}");
}

/// Differential test of a binary operation `ST0 <- op(ST0, ST1)`.
pub(crate) fn check_binary(
    name: &str,
    host: impl Fn(u16, F80, F80) -> HostOut,
    soft: impl Fn(F80, F80, Control) -> Res<F80>,
    n: usize,
) {
    check(
        name,
        n,
        0x7F | Flags::C1,
        |r| {
            let a = r.operand();
            (a, r.related(a))
        },
        host,
        |cw, a, b| {
            let r = soft(a, b, Control(cw));
            (r.value, r.flags.0)
        },
    );
}

/// Differential test of a unary operation `ST0 <- op(ST0)`.
pub(crate) fn check_unary(
    name: &str,
    host: impl Fn(u16, F80, F80) -> HostOut,
    soft: impl Fn(F80, Control) -> Res<F80>,
    n: usize,
) {
    check(
        name,
        n,
        0x7F | Flags::C1,
        |r| (r.operand(), F80::ONE),
        host,
        |cw, a, _| {
            let r = soft(a, Control(cw));
            (r.value, r.flags.0)
        },
    );
}

/// Defines a host function for memory-operand instructions: loads `a` (ST0 = a), runs the
/// instruction text with `{m}` pointing at a 16-byte buffer initialized from `m`, captures FSW,
/// ST0, ST1 and the buffer.
macro_rules! host_mem {
    ($name:ident, $($insn:literal),+) => {
        pub(crate) fn $name(cw: u16, a: F80, m: [u8; 16]) -> (HostOut, [u8; 16]) {
            let ina = a.to_bytes();
            let mut mem = m;
            let mut out = [0u8; 20];
            let fsw: u16;
            let dflt: u16 = 0x037F;
            // SAFETY: the asm reads `ina` and the 16-byte `mem`, writes `mem` and `out`, all live
            // locals; it starts and ends with FNINIT, leaving the x87 state as the ABI requires.
            unsafe {
                asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{a}]",
                    $($insn,)+
                    "fnstsw ax",
                    "fnclex",
                    "fldcw word ptr [{d}]",
                    "fstp tbyte ptr [{o}]",
                    "fstp tbyte ptr [{o} + 10]",
                    "fninit",
                    cw = in(reg) &cw,
                    d = in(reg) &dflt,
                    a = in(reg) ina.as_ptr(),
                    m = in(reg) mem.as_mut_ptr(),
                    o = in(reg) out.as_mut_ptr(),
                    out("ax") fsw,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    options(nostack),
                );
            }
            let mut lo = [0u8; 10];
            let mut hi = [0u8; 10];
            lo.copy_from_slice(&out[..10]);
            hi.copy_from_slice(&out[10..]);
            (HostOut { st0: F80::from_bytes(lo), st1: F80::from_bytes(hi), fsw }, mem)
        }
    };
}

host_mem!(fld_m32, "fld dword ptr [{m}]");
host_mem!(fld_m64, "fld qword ptr [{m}]");
host_mem!(fst_m32, "fst dword ptr [{m}]");
host_mem!(fst_m64, "fst qword ptr [{m}]");
host_mem!(fist_m16, "fist word ptr [{m}]");
host_mem!(fist_m32, "fist dword ptr [{m}]");
host_mem!(fistp_m64, "fistp qword ptr [{m}]");
host_mem!(fisttp_m16, "fisttp word ptr [{m}]");
host_mem!(fisttp_m32, "fisttp dword ptr [{m}]");
host_mem!(fisttp_m64, "fisttp qword ptr [{m}]");
host_mem!(fbld_m80, "fbld tbyte ptr [{m}]");
host_mem!(fbstp_m80, "fbstp tbyte ptr [{m}]");
host_mem!(fild_m64, "fild qword ptr [{m}]");
