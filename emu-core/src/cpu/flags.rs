//! RFLAGS with lazily computed arithmetic flags.
//!
//! Most instructions that write CF/PF/AF/ZF/SF/OF only record their operands
//! and result (`Lazy`); the six flags are computed when something reads them
//! (a `jcc`, `pushf`, `adc`...). Conditions used by branches have fast paths
//! for the common producers (`cmp`/`sub`, logic ops).

use iced_x86::ConditionCode;

/// RFLAGS bit positions (SDM Vol. 1, 3.4.3).
pub mod bits {
    /// Carry flag.
    pub const CF: u64 = 1 << 0;
    /// Reserved, always 1.
    pub const FIXED: u64 = 1 << 1;
    /// Parity flag.
    pub const PF: u64 = 1 << 2;
    /// Auxiliary carry flag.
    pub const AF: u64 = 1 << 4;
    /// Zero flag.
    pub const ZF: u64 = 1 << 6;
    /// Sign flag.
    pub const SF: u64 = 1 << 7;
    /// Trap flag.
    pub const TF: u64 = 1 << 8;
    /// Interrupt enable flag.
    pub const IF: u64 = 1 << 9;
    /// Direction flag.
    pub const DF: u64 = 1 << 10;
    /// Overflow flag.
    pub const OF: u64 = 1 << 11;
    /// I/O privilege level (2 bits).
    pub const IOPL: u64 = 3 << 12;
    /// Nested task.
    pub const NT: u64 = 1 << 14;
    /// Resume flag.
    pub const RF: u64 = 1 << 16;
    /// Virtual-8086 mode.
    pub const VM: u64 = 1 << 17;
    /// Alignment check.
    pub const AC: u64 = 1 << 18;
    /// Virtual interrupt flag.
    pub const VIF: u64 = 1 << 19;
    /// Virtual interrupt pending.
    pub const VIP: u64 = 1 << 20;
    /// CPUID available.
    pub const ID: u64 = 1 << 21;
    /// The six arithmetic status flags.
    pub const ARITH: u64 = CF | PF | AF | ZF | SF | OF;
}

/// Which instruction produced the pending arithmetic flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Lazy {
    /// `arith` holds the flags.
    None,
    Add,
    /// `a + b + carry`: carry-in in `arith` bit 0.
    Adc,
    Sub,
    /// `a - b - borrow`: borrow-in in `arith` bit 0.
    Sbb,
    Logic,
    /// Like Add with b = 1; CF kept in `arith`.
    Inc,
    /// Like Sub with b = 1; CF kept in `arith`.
    Dec,
}

/// RFLAGS.
#[derive(Debug, Clone, Copy)]
pub struct Flags {
    /// Non-arithmetic bits (DF, IF, TF, AC, ID, ... and the fixed bit 1).
    other: u64,
    /// Materialized arithmetic bits when `kind == None`; carry/CF otherwise.
    arith: u64,
    kind: Lazy,
    /// Operand width in bits: 8, 16, 32 or 64.
    width: u32,
    a: u64,
    b: u64,
    res: u64,
}

impl Default for Flags {
    fn default() -> Self {
        Self::new(bits::FIXED)
    }
}

#[inline(always)]
fn mask(width: u32) -> u64 {
    u64::MAX >> (64 - width)
}

#[inline(always)]
fn sign(width: u32) -> u64 {
    1u64 << (width - 1)
}

#[inline(always)]
fn parity(v: u64) -> bool {
    (v as u8).count_ones().is_multiple_of(2)
}

impl Flags {
    /// Flags holding `rflags`.
    pub fn new(rflags: u64) -> Self {
        let mut f = Self {
            other: bits::FIXED,
            arith: 0,
            kind: Lazy::None,
            width: 64,
            a: 0,
            b: 0,
            res: 0,
        };
        f.set_rflags(rflags);
        f
    }

    #[inline(always)]
    fn record(&mut self, kind: Lazy, width: u32, a: u64, b: u64, res: u64) {
        self.kind = kind;
        self.width = width;
        self.a = a & mask(width);
        self.b = b & mask(width);
        self.res = res & mask(width);
    }

    /// Flags of `a + b` (result `res`) at `width` bits.
    #[inline(always)]
    pub fn set_add(&mut self, width: u32, a: u64, b: u64, res: u64) {
        self.record(Lazy::Add, width, a, b, res);
    }

    /// Flags of `a + b + carry`.
    #[inline(always)]
    pub fn set_adc(&mut self, width: u32, a: u64, b: u64, carry: bool, res: u64) {
        self.arith = carry as u64;
        self.record(Lazy::Adc, width, a, b, res);
    }

    /// Flags of `a - b` (also `cmp`, and `neg` with a = 0).
    #[inline(always)]
    pub fn set_sub(&mut self, width: u32, a: u64, b: u64, res: u64) {
        self.record(Lazy::Sub, width, a, b, res);
    }

    /// Flags of `a - b - borrow`.
    #[inline(always)]
    pub fn set_sbb(&mut self, width: u32, a: u64, b: u64, borrow: bool, res: u64) {
        self.arith = borrow as u64;
        self.record(Lazy::Sbb, width, a, b, res);
    }

    /// Flags of a logic op (and/or/xor/test): CF = OF = 0, AF = 0.
    #[inline(always)]
    pub fn set_logic(&mut self, width: u32, res: u64) {
        self.record(Lazy::Logic, width, 0, 0, res);
    }

    /// Flags of `inc` (CF unchanged).
    #[inline(always)]
    pub fn set_inc(&mut self, width: u32, a: u64, res: u64) {
        self.arith = self.cf() as u64;
        self.record(Lazy::Inc, width, a, 1, res);
    }

    /// Flags of `dec` (CF unchanged).
    #[inline(always)]
    pub fn set_dec(&mut self, width: u32, a: u64, res: u64) {
        self.arith = self.cf() as u64;
        self.record(Lazy::Dec, width, a, 1, res);
    }

    /// Sets the arithmetic flags in `which` (a mask of `bits::ARITH`) to the
    /// bits of `values`, leaving the others as they are.
    #[inline]
    pub fn set_arith(&mut self, which: u64, values: u64) {
        let current = self.arith_bits();
        self.arith = (current & !which) | (values & which);
        self.kind = Lazy::None;
    }

    /// Sets the six arithmetic flags to exactly `values & ARITH`.
    #[inline]
    pub fn set_all_arith(&mut self, values: u64) {
        self.arith = values & bits::ARITH;
        self.kind = Lazy::None;
    }

    /// Sets ZF/SF/PF from `res` at `width`, and CF, OF, AF explicitly.
    #[inline]
    pub fn set_szp(&mut self, width: u32, res: u64, cf: bool, of: bool, af: bool) {
        let r = res & mask(width);
        let mut f = 0;
        if cf {
            f |= bits::CF;
        }
        if parity(r) {
            f |= bits::PF;
        }
        if af {
            f |= bits::AF;
        }
        if r == 0 {
            f |= bits::ZF;
        }
        if r & sign(width) != 0 {
            f |= bits::SF;
        }
        if of {
            f |= bits::OF;
        }
        self.set_all_arith(f);
    }

    /// CF.
    #[inline(always)]
    pub fn cf(&self) -> bool {
        match self.kind {
            Lazy::None | Lazy::Inc | Lazy::Dec => self.arith & bits::CF != 0,
            Lazy::Add => self.res < self.a,
            Lazy::Adc => {
                if self.arith & 1 != 0 {
                    self.res <= self.a
                } else {
                    self.res < self.a
                }
            }
            Lazy::Sub => self.a < self.b,
            Lazy::Sbb => {
                if self.arith & 1 != 0 {
                    self.a <= self.b
                } else {
                    self.a < self.b
                }
            }
            Lazy::Logic => false,
        }
    }

    /// ZF.
    #[inline(always)]
    pub fn zf(&self) -> bool {
        match self.kind {
            Lazy::None => self.arith & bits::ZF != 0,
            _ => self.res == 0,
        }
    }

    /// SF.
    #[inline(always)]
    pub fn sf(&self) -> bool {
        match self.kind {
            Lazy::None => self.arith & bits::SF != 0,
            _ => self.res & sign(self.width) != 0,
        }
    }

    /// OF.
    #[inline(always)]
    pub fn of(&self) -> bool {
        let s = sign(self.width);
        match self.kind {
            Lazy::None => self.arith & bits::OF != 0,
            Lazy::Add | Lazy::Adc | Lazy::Inc => (self.a ^ self.res) & (self.b ^ self.res) & s != 0,
            Lazy::Sub | Lazy::Sbb | Lazy::Dec => (self.a ^ self.b) & (self.a ^ self.res) & s != 0,
            Lazy::Logic => false,
        }
    }

    /// PF (parity of the low byte of the result).
    #[inline(always)]
    pub fn pf(&self) -> bool {
        match self.kind {
            Lazy::None => self.arith & bits::PF != 0,
            _ => parity(self.res),
        }
    }

    /// AF (carry out of bit 3).
    #[inline(always)]
    pub fn af(&self) -> bool {
        match self.kind {
            Lazy::None => self.arith & bits::AF != 0,
            Lazy::Logic => false,
            _ => (self.a ^ self.b ^ self.res) & 0x10 != 0,
        }
    }

    /// The six arithmetic flags as RFLAGS bits.
    #[inline]
    pub fn arith_bits(&self) -> u64 {
        if self.kind == Lazy::None {
            return self.arith & bits::ARITH;
        }
        let mut f = 0;
        if self.cf() {
            f |= bits::CF;
        }
        if self.pf() {
            f |= bits::PF;
        }
        if self.af() {
            f |= bits::AF;
        }
        if self.zf() {
            f |= bits::ZF;
        }
        if self.sf() {
            f |= bits::SF;
        }
        if self.of() {
            f |= bits::OF;
        }
        f
    }

    /// The whole RFLAGS value.
    #[inline]
    pub fn rflags(&self) -> u64 {
        self.other | self.arith_bits()
    }

    /// Replaces the whole RFLAGS value (bit 1 forced to 1, reserved bits 0).
    #[inline]
    pub fn set_rflags(&mut self, value: u64) {
        const WRITABLE: u64 = bits::ARITH
            | bits::TF
            | bits::IF
            | bits::DF
            | bits::IOPL
            | bits::NT
            | bits::RF
            | bits::VM
            | bits::AC
            | bits::VIF
            | bits::VIP
            | bits::ID;
        let v = value & WRITABLE;
        self.other = (v & !bits::ARITH) | bits::FIXED;
        self.arith = v & bits::ARITH;
        self.kind = Lazy::None;
    }

    /// DF.
    #[inline(always)]
    pub fn df(&self) -> bool {
        self.other & bits::DF != 0
    }

    /// Sets or clears one non-arithmetic flag (DF, IF, TF, AC...).
    #[inline]
    pub fn set_bit(&mut self, bit: u64, on: bool) {
        debug_assert_eq!(bit & bits::ARITH, 0);
        if on {
            self.other |= bit;
        } else {
            self.other &= !bit;
        }
    }

    /// Whether a non-arithmetic flag is set.
    #[inline(always)]
    pub fn bit(&self, bit: u64) -> bool {
        self.other & bit != 0
    }

    /// Evaluates a condition code (`jcc`, `setcc`, `cmovcc`).
    #[inline(always)]
    pub fn cond(&self, cc: ConditionCode) -> bool {
        if self.kind == Lazy::Sub {
            // Fast path for `cmp`/`sub`: compare the recorded operands directly.
            let sh = 64 - self.width;
            let (sa, sb) = (((self.a << sh) as i64) >> sh, ((self.b << sh) as i64) >> sh);
            match cc {
                ConditionCode::e => return self.a == self.b,
                ConditionCode::ne => return self.a != self.b,
                ConditionCode::b => return self.a < self.b,
                ConditionCode::ae => return self.a >= self.b,
                ConditionCode::be => return self.a <= self.b,
                ConditionCode::a => return self.a > self.b,
                ConditionCode::l => return sa < sb,
                ConditionCode::ge => return sa >= sb,
                ConditionCode::le => return sa <= sb,
                ConditionCode::g => return sa > sb,
                _ => {}
            }
        }
        match cc {
            ConditionCode::None => true,
            ConditionCode::o => self.of(),
            ConditionCode::no => !self.of(),
            ConditionCode::b => self.cf(),
            ConditionCode::ae => !self.cf(),
            ConditionCode::e => self.zf(),
            ConditionCode::ne => !self.zf(),
            ConditionCode::be => self.cf() || self.zf(),
            ConditionCode::a => !self.cf() && !self.zf(),
            ConditionCode::s => self.sf(),
            ConditionCode::ns => !self.sf(),
            ConditionCode::p => self.pf(),
            ConditionCode::np => !self.pf(),
            ConditionCode::l => self.sf() != self.of(),
            ConditionCode::ge => self.sf() == self.of(),
            ConditionCode::le => self.zf() || self.sf() != self.of(),
            ConditionCode::g => !self.zf() && self.sf() == self.of(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_8bit_overflow_sets_cf_of_af_zf() {
        // 0x80 + 0x80 = 0x100: CF=1, OF=1 (neg+neg=pos), ZF=1, PF=1; AF=0.
        let mut f = Flags::default();
        f.set_add(8, 0x80, 0x80, 0x100);
        assert_eq!(f.arith_bits(), bits::CF | bits::OF | bits::ZF | bits::PF);
    }

    #[test]
    fn sub_borrow_and_signed_compare() {
        // 1 - 2 at 32 bits: CF=1, SF=1, AF=1, PF: 0xff -> even parity.
        let mut f = Flags::default();
        f.set_sub(32, 1, 2, 1u64.wrapping_sub(2));
        assert_eq!(f.arith_bits(), bits::CF | bits::SF | bits::AF | bits::PF);
        assert!(f.cond(ConditionCode::l));
        assert!(f.cond(ConditionCode::b));
        assert!(!f.cond(ConditionCode::g));
    }

    #[test]
    fn inc_keeps_carry() {
        let mut f = Flags::new(bits::CF);
        f.set_inc(16, 0x7fff, 0x8000);
        assert!(f.cf());
        assert!(f.of());
        assert!(f.sf());
    }

    #[test]
    fn rflags_roundtrip_keeps_fixed_bit_and_drops_reserved() {
        let f = Flags::new(u64::MAX);
        assert_eq!(f.rflags() & bits::FIXED, bits::FIXED);
        assert_eq!(f.rflags() & (1 << 3 | 1 << 5 | 1 << 15 | 1 << 22), 0);
    }

    #[test]
    fn sbb_with_borrow_equal_operands_borrows() {
        let mut f = Flags::default();
        f.set_sbb(64, 5, 5, true, u64::MAX);
        assert!(f.cf());
        assert!(f.sf());
    }
}
