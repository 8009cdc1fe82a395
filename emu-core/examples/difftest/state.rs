//! The machine state a difftest case starts from and ends in, the fixed address layout shared
//! by the native runner and the emulator, the deterministic PRNG, and state randomization.
//!
//! Neighbours: `gen.rs` fills a [`Case`] (code + [`CpuState`] + data pages), `native.rs` and
//! `emu.rs` run it and return a [`RunResult`], `compare.rs` diffs two results.

/// Base of the code page (one page, the prologue/epilogue live here natively too).
pub const CODE_BASE: u64 = 0x1000_0000;
/// Address of the first byte of the instruction(s) under test.
pub const SNIPPET: u64 = CODE_BASE + 0x800;
/// Largest snippet (instruction plus branch filler) in bytes.
pub const MAX_SNIPPET: usize = 0x100;
/// Base of the shared state block used by the native runner.
pub const STATE_BASE: u64 = 0x2000_0000;
/// Base of the data pages a case's memory operands touch.
pub const DATA_BASE: u64 = 0x3000_0000;
/// Number of read-write data pages starting at [`DATA_BASE`].
pub const DATA_RW_PAGES: u64 = 4;
/// The read-only page, right after the read-write pages (writes to it #PF with P|W).
pub const DATA_RO: u64 = DATA_BASE + DATA_RW_PAGES * PAGE;
/// A page that is never mapped (accesses #PF with P=0), right after the read-only page.
pub const DATA_UNMAPPED: u64 = DATA_RO + PAGE;
/// Bytes of data compared after a run: the read-write pages and the read-only page.
pub const DATA_LEN: usize = ((DATA_RW_PAGES + 1) * PAGE) as usize;
/// Page size.
pub const PAGE: u64 = 0x1000;

/// RFLAGS bits (EFLAGS numbering).
pub mod fl {
    pub const CF: u64 = 1 << 0;
    pub const PF: u64 = 1 << 2;
    pub const AF: u64 = 1 << 4;
    pub const ZF: u64 = 1 << 6;
    pub const SF: u64 = 1 << 7;
    pub const TF: u64 = 1 << 8;
    pub const IF: u64 = 1 << 9;
    pub const DF: u64 = 1 << 10;
    pub const OF: u64 = 1 << 11;
    pub const RF: u64 = 1 << 16;
    pub const AC: u64 = 1 << 18;
    /// Arithmetic status flags.
    pub const STATUS: u64 = CF | PF | AF | ZF | SF | OF;
}

/// GPR names in iced/hardware encoding order.
pub const GPR_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// Offsets inside an FXSAVE64 image (SDM Vol. 1, 10.5.1).
pub mod fx {
    pub const FCW: usize = 0;
    pub const FSW: usize = 2;
    pub const FTW: usize = 4;
    pub const MXCSR: usize = 24;
    pub const ST0: usize = 32;
    pub const XMM0: usize = 160;
}

/// Architectural state compared between the host and the emulator.
#[derive(Clone, PartialEq, Eq)]
pub struct CpuState {
    /// RAX..R15 in encoding order.
    pub gpr: [u64; 16],
    /// Instruction pointer (start for inputs, end or faulting instruction for outputs).
    pub rip: u64,
    /// RFLAGS.
    pub rflags: u64,
    /// FS base.
    pub fs_base: u64,
    /// GS base.
    pub gs_base: u64,
    /// x87/MXCSR/XMM state in FXSAVE64 layout.
    pub fx: [u8; 512],
}

impl Default for CpuState {
    fn default() -> Self {
        let mut fx = [0u8; 512];
        put16(&mut fx, fx::FCW, 0x037f);
        put32(&mut fx, fx::MXCSR, 0x1f80);
        Self {
            gpr: [0; 16],
            rip: SNIPPET,
            rflags: 0x202,
            fs_base: 0,
            gs_base: 0,
            fx,
        }
    }
}

impl std::fmt::Debug for CpuState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, v) in GPR_NAMES.iter().zip(self.gpr) {
            write!(f, "{n}={v:#x} ")?;
        }
        write!(
            f,
            "rip={:#x} rflags={:#x} fcw={:#x} fsw={:#x} ftw={:#x} mxcsr={:#x}",
            self.rip,
            self.rflags,
            self.fcw(),
            self.fsw(),
            self.ftw(),
            self.mxcsr()
        )
    }
}

impl CpuState {
    /// x87 control word.
    pub fn fcw(&self) -> u16 {
        get16(&self.fx, fx::FCW)
    }
    /// x87 status word.
    pub fn fsw(&self) -> u16 {
        get16(&self.fx, fx::FSW)
    }
    /// Abridged x87 tag word (1 = valid).
    pub fn ftw(&self) -> u8 {
        self.fx[fx::FTW]
    }
    /// MXCSR.
    pub fn mxcsr(&self) -> u32 {
        get32(&self.fx, fx::MXCSR)
    }
    /// XMM register `i`.
    pub fn xmm(&self, i: usize) -> u128 {
        let o = fx::XMM0 + 16 * i;
        u128::from_le_bytes(self.fx[o..o + 16].try_into().unwrap_or([0; 16]))
    }
    /// Sets XMM register `i`.
    pub fn set_xmm(&mut self, i: usize, v: u128) {
        let o = fx::XMM0 + 16 * i;
        self.fx[o..o + 16].copy_from_slice(&v.to_le_bytes());
    }
    /// The 80-bit x87 register slot `i` (ST(i) relative to TOP) as (mantissa, sign|exponent).
    pub fn st(&self, i: usize) -> (u64, u16) {
        let o = fx::ST0 + 16 * i;
        (get64(&self.fx, o), get16(&self.fx, o + 8))
    }
    /// Sets x87 register slot `i`.
    pub fn set_st(&mut self, i: usize, mant: u64, se: u16) {
        let o = fx::ST0 + 16 * i;
        self.fx[o..o + 8].copy_from_slice(&mant.to_le_bytes());
        put16(&mut self.fx, o + 8, se);
    }
}

/// Little-endian helpers on byte buffers.
pub fn get16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
/// Reads a little-endian u32.
pub fn get32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
/// Reads a little-endian u64.
pub fn get64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}
/// Writes a little-endian u16.
pub fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
/// Writes a little-endian u32.
pub fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
/// Writes a little-endian u64.
pub fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// A fault, normalized so that host signals and emulator exceptions compare directly.
#[allow(clippy::enum_variant_names)] // the SDM's names (#SS "stack fault", #PF "page fault")
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// #DE.
    DivideError,
    /// #DB.
    Debug,
    /// #BP (int3); the state's rip is the instruction after int3.
    Breakpoint,
    /// #UD.
    InvalidOpcode,
    /// #NM.
    DeviceNotAvailable,
    /// #GP(error code).
    GeneralProtection(u32),
    /// #SS(error code).
    StackFault(u32),
    /// #PF at `addr` with the P/W/U/I error bits.
    PageFault { addr: u64, err: u32 },
    /// #MF.
    X87Float,
    /// #AC.
    AlignmentCheck,
    /// #XM.
    SimdFloat,
    /// hlt executed (emulator only; the host raises #GP at CPL 3).
    Halt,
    /// A signal or exit that has no exception mapping.
    Other(String),
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Reached the end of the snippet.
    Completed,
    /// Faulted; the state is the one at the faulting instruction.
    Fault(Fault),
}

/// The result of running a case on one side.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// How the run ended.
    pub outcome: Outcome,
    /// Registers at the end or at the fault.
    pub state: CpuState,
    /// The data pages after the run ([`DATA_LEN`] bytes from [`DATA_BASE`]).
    pub mem: Vec<u8>,
}

/// One generated test case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Index of the form in the catalogue.
    pub form: usize,
    /// Bytes of the snippet placed at [`SNIPPET`].
    pub code: Vec<u8>,
    /// Initial state (rip = [`SNIPPET`]).
    pub init: CpuState,
    /// Initial contents of the data pages.
    pub mem: Vec<u8>,
    /// Extra RFLAGS bits not to compare (count-dependent undefined flags etc).
    pub flags_undefined: u64,
    /// Extra FSW bits not to compare (x87 condition codes iced reports undefined).
    pub fsw_undefined: u16,
    /// Byte ranges of the data pages (offsets from [`DATA_BASE`]) not to compare.
    pub mem_ignore: Vec<(usize, usize)>,
    /// Approximate instruction (rcpps/rsqrtps...): XMM lanes compared with a tolerance.
    pub approx: bool,
    /// x87 transcendental: ST registers may differ by one ulp and FSW.C1 may differ (see
    /// `compare.rs` and the exclusions in `forms.rs`).
    pub ulp_tolerance: bool,
}

/// xoshiro256** seeded through splitmix64: small, fast, and stable across versions.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

/// One splitmix64 step (used for seeding and for deriving per-case seeds).
pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for case `index` of run `seed`.
    pub fn for_case(seed: u64, index: u64) -> Self {
        let mut x = seed ^ index.wrapping_mul(0xd134_2543_de82_ef95);
        let mut s = [0u64; 4];
        for v in &mut s {
            *v = splitmix64(&mut x);
        }
        Self { s }
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform index into a slice of length `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    /// A random element.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.index(xs.len())]
    }
    /// A 64-bit value biased towards edge cases (0, ±1, sign bits, small numbers).
    pub fn interesting_u64(&mut self) -> u64 {
        match self.below(16) {
            0 => 0,
            1 => u64::MAX,
            2 => 1,
            3 => self.pick(&[
                0x80,
                0x7f,
                0xff,
                0x8000,
                0x7fff,
                0xffff,
                0x8000_0000,
                0x7fff_ffff,
                0xffff_ffff,
                0x8000_0000_0000_0000,
                0x7fff_ffff_ffff_ffff,
                0x1_0000_0000,
            ]),
            4 => self.below(64),
            5 => 1u64 << self.below(64),
            6 => (1u64 << self.below(64)).wrapping_sub(1),
            7 => (self.below(256) as i64 - 128) as u64,
            8 => self.next_u64() & 0xff,
            9 => self.next_u64() & 0xffff,
            10 => self.next_u64() & 0xffff_ffff,
            _ => self.next_u64(),
        }
    }
    /// 32 bits of an interesting f32 pattern.
    pub fn float32(&mut self) -> u32 {
        let sign = (self.below(2) as u32) << 31;
        sign | match self.below(14) {
            0 => 0,                                                                            // zero
            1 => (self.next_u64() as u32) & 0x007f_ffff, // denormal
            2 => 0x7f80_0000,                            // inf
            3 => 0x7fc0_0000 | (self.next_u64() as u32 & 0x3f_ffff), // qnan
            4 => 0x7f80_0001 | (self.next_u64() as u32 & 0x3f_ffff), // snan
            5 => 0x3f80_0000,                            // 1.0
            6 => ((self.below(32) as u32 + 127) << 23) | (self.next_u64() as u32 & 0x7f_0000), // integer-ish
            7 => 0x4f00_0000 | (self.next_u64() as u32 & 0xff_ffff), // near 2^31
            8 => 0x0080_0000 | (self.next_u64() as u32 & 0x7f_ffff), // smallest normals
            9 => 0x7f7f_ffff,                                        // max
            _ => (self.next_u64() as u32) & 0x7fff_ffff,
        }
    }
    /// 64 bits of an interesting f64 pattern.
    pub fn float64(&mut self) -> u64 {
        let sign = self.below(2) << 63;
        sign | match self.below(14) {
            0 => 0,
            1 => self.next_u64() & 0x000f_ffff_ffff_ffff,
            2 => 0x7ff0_0000_0000_0000,
            3 => 0x7ff8_0000_0000_0000 | (self.next_u64() & 0x7_ffff_ffff_ffff),
            4 => 0x7ff0_0000_0000_0001 | (self.next_u64() & 0x7_ffff_ffff_ffff),
            5 => 0x3ff0_0000_0000_0000,
            6 => ((self.below(64) + 1023) << 52) | (self.next_u64() & 0x000f_0000_0000_0000),
            7 => 0x43e0_0000_0000_0000 | (self.next_u64() & 0xf_ffff_ffff_ffff), // near 2^63
            8 => 0x41e0_0000_0000_0000 | (self.next_u64() & 0xf_ffff_ffff_ffff), // near 2^31
            9 => 0x0010_0000_0000_0000 | (self.next_u64() & 0xf_ffff_ffff_ffff),
            10 => 0x7fef_ffff_ffff_ffff,
            _ => self.next_u64() & 0x7fff_ffff_ffff_ffff,
        }
    }
    /// An interesting 80-bit extended value as (mantissa, sign|exponent).
    pub fn float80(&mut self) -> (u64, u16) {
        let sign = (self.below(2) as u16) << 15;
        let (m, e) = match self.below(14) {
            0 => (0, 0),                                           // zero
            1 => (self.next_u64() >> 1, 0),                        // denormal
            2 => (1 << 63, 0x7fff),                                // inf
            3 => ((3 << 62) | (self.next_u64() >> 2), 0x7fff),     // qnan
            4 => ((1 << 63) | (self.next_u64() >> 2) | 1, 0x7fff), // snan
            5 => (1 << 63, 0x3fff),                                // 1.0
            6 => (
                (1 << 63) | (self.next_u64() & 0x7fff_0000_0000_0000),
                0x3fff + self.below(64) as u16,
            ),
            7 => (
                (1 << 63) | (self.next_u64() >> 1),
                0x3fff + self.below(8) as u16 - 4,
            ),
            8 => ((1 << 63) | (self.next_u64() >> 1), 1), // smallest normals
            9 => ((1 << 63) | (self.next_u64() >> 1), 0x3fff + 62), // near 2^63
            10 => (self.next_u64() >> 1, self.below(0x7fff) as u16 + 1), // unnormal (rare)
            _ => (
                (1 << 63) | (self.next_u64() >> 1),
                0x3fff - 64 + self.below(128) as u16,
            ),
        };
        (m, sign | e)
    }
}

/// Random initial state: GPRs, status flags and DF, XMM, MXCSR and x87.
pub fn random_state(rng: &mut Rng) -> CpuState {
    let mut s = CpuState::default();
    for g in &mut s.gpr {
        *g = rng.interesting_u64();
    }
    s.rflags = 0x202 | (rng.next_u64() & (fl::STATUS | fl::DF));
    if rng.chance(1, 2) {
        s.rflags &= !fl::DF;
    }
    for i in 0..16 {
        let v = match rng.below(5) {
            0 => {
                (rng.float32() as u128)
                    | ((rng.float32() as u128) << 32)
                    | ((rng.float32() as u128) << 64)
                    | ((rng.float32() as u128) << 96)
            }
            1 => (rng.float64() as u128) | ((rng.float64() as u128) << 64),
            2 => (rng.interesting_u64() as u128) | ((rng.interesting_u64() as u128) << 64),
            _ => (rng.next_u64() as u128) | ((rng.next_u64() as u128) << 64),
        };
        s.set_xmm(i, v);
    }
    // MXCSR: random rounding, DAZ, FTZ and sticky flags; exceptions masked most of the time.
    let mut mxcsr = 0x1f80u32;
    if rng.chance(1, 2) {
        mxcsr |= (rng.below(4) as u32) << 13;
    }
    if rng.chance(1, 4) {
        mxcsr |= 1 << 6; // DAZ
    }
    if rng.chance(1, 4) {
        mxcsr |= 1 << 15; // FTZ
    }
    if rng.chance(1, 4) {
        mxcsr |= rng.next_u64() as u32 & 0x3f;
    }
    if rng.chance(1, 8) {
        mxcsr &= !((rng.next_u64() as u32 & 0x3f) << 7);
    }
    put32(&mut s.fx, fx::MXCSR, mxcsr);
    random_x87(rng, &mut s);
    s
}

/// Random x87 state: FCW precision/rounding/masks, TOP, condition codes, tags and registers.
fn random_x87(rng: &mut Rng, s: &mut CpuState) {
    let mut fcw: u16 = 0x037f;
    if rng.chance(1, 2) {
        fcw = (fcw & !0x0c00) | ((rng.below(4) as u16) << 10);
    }
    if rng.chance(1, 3) {
        fcw = (fcw & !0x0300) | (rng.pick(&[0u16, 2, 3]) << 8);
    }
    if rng.chance(1, 10) {
        fcw &= !(rng.next_u64() as u16 & 0x3f);
    }
    put16(&mut s.fx, fx::FCW, fcw);
    let mut fsw: u16 = (rng.below(8) as u16) << 11; // TOP
    fsw |= rng.next_u64() as u16 & 0x4700; // C0..C3
    if rng.chance(1, 4) {
        // Sticky flags, only for exceptions that are masked (no pending #MF).
        fsw |= rng.next_u64() as u16 & 0x3f & fcw;
    }
    if rng.chance(1, 50) {
        // A pending unmasked exception (ES and B set): the next waiting x87 instruction #MFs.
        fcw &= !0x3f;
        put16(&mut s.fx, fx::FCW, fcw);
        fsw |= 1 << rng.below(6) | 0x8080;
    }
    put16(&mut s.fx, fx::FSW, fsw);
    let tags = match rng.below(4) {
        0 => 0,
        1 => 0xff,
        _ => rng.next_u64() as u8,
    };
    s.fx[fx::FTW] = tags;
    for i in 0..8 {
        let (m, e) = rng.float80();
        s.set_st(i, m, e);
    }
}
