//! A 128-bit-significand binary float used as the internal precision of the transcendental
//! instructions: enough guard bits that rounding the final result to 64 bits is almost always
//! the correctly rounded one. Operations truncate; each loses at most a couple of ulps of 2^-127.

use super::f80::F80;
use super::round::{round_ext_fmt, Format};
use super::{Control, Res};

/// `(-1)^neg * m * 2^(exp - 127)`; `m` has bit 127 set unless the value is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Xf {
    pub neg: bool,
    pub exp: i32,
    pub m: u128,
}

/// pi, pi/2, 2/pi, ln 2, log2 e, log2 10 and log10 2 to 128 bits (truncated).
pub(crate) const PI: Xf = Xf::c(0xc90f_daa2_2168_c234_c4c6_628b_80dc_1cd1, 1);
pub(crate) const PI_2: Xf = Xf::c(0xc90f_daa2_2168_c234_c4c6_628b_80dc_1cd1, 0);
pub(crate) const FRAC_2_PI: Xf = Xf::c(0xa2f9_836e_4e44_1529_fc27_57d1_f534_ddc0, -1);
pub(crate) const LN_2: Xf = Xf::c(0xb172_17f7_d1cf_79ab_c9e3_b398_03f2_f6af, -1);
pub(crate) const LOG2_E: Xf = Xf::c(0xb8aa_3b29_5c17_f0bb_be87_fed0_691d_3e88, 0);
pub(crate) const LOG2_10: Xf = Xf::c(0xd49a_784b_cd1b_8afe_492b_f6ff_4daf_db4c, 1);
pub(crate) const LOG10_2: Xf = Xf::c(0x9a20_9a84_fbcf_f798_8f89_59ac_0b7c_9178, -2);
/// 1.0.
pub(crate) const ONE: Xf = Xf::c(1 << 127, 0);

impl Xf {
    pub const ZERO: Xf = Xf {
        neg: false,
        exp: 0,
        m: 0,
    };

    /// A positive constant from a normalized significand and exponent.
    pub const fn c(m: u128, exp: i32) -> Xf {
        Xf { neg: false, exp, m }
    }

    /// Normalizes and, when `sticky`, sets the last bit to record lost nonzero bits.
    fn jam(neg: bool, exp: i32, m: u128, sticky: bool) -> Xf {
        let x = Xf::norm(neg, exp, m);
        Xf {
            m: x.m | u128::from(sticky && x.m != 0),
            ..x
        }
    }

    fn norm(neg: bool, exp: i32, m: u128) -> Xf {
        if m == 0 {
            return Xf::ZERO;
        }
        let lz = m.leading_zeros();
        Xf {
            neg,
            exp: exp - lz as i32,
            m: m << lz,
        }
    }

    /// A finite F80 (zero, denormal or normal); other classes give zero.
    pub fn from_f80(x: F80) -> Xf {
        match x.unpack() {
            Some(u) => Xf {
                neg: u.sign,
                exp: u.exp,
                m: u128::from(u.sig) << 64,
            },
            None => Xf::ZERO,
        }
    }

    pub fn from_i64(v: i64) -> Xf {
        Xf::norm(v < 0, 127, u128::from(v.unsigned_abs()))
    }

    /// True if `|self| > |o|`.
    pub fn mag_gt(self, o: Xf) -> bool {
        self.m != 0 && (o.m == 0 || (self.exp, self.m) > (o.exp, o.m))
    }

    pub fn neg(self) -> Xf {
        Xf {
            neg: !self.neg && self.m != 0,
            ..self
        }
    }

    pub fn abs(self) -> Xf {
        Xf { neg: false, ..self }
    }

    /// Multiplies by 2^n.
    pub fn scale(self, n: i32) -> Xf {
        if self.m == 0 {
            self
        } else {
            Xf {
                exp: self.exp + n,
                ..self
            }
        }
    }

    pub fn add(self, o: Xf) -> Xf {
        if self.m == 0 {
            return o;
        }
        if o.m == 0 {
            return self;
        }
        let (a, b) = if (self.exp, self.m) >= (o.exp, o.m) {
            (self, o)
        } else {
            (o, self)
        };
        // Two guard bits of headroom; bits shifted out are remembered as sticky so the final
        // rounding still sees which side of a representable value the exact result lies.
        let d = (a.exp - b.exp) as u32 + 2;
        let am = a.m >> 2;
        let sa = a.m & 3 != 0;
        let (bm, sb) = if d >= 128 {
            (0, true)
        } else {
            (b.m >> d, b.m & ((1u128 << d) - 1) != 0)
        };
        if a.neg == b.neg {
            Xf::jam(a.neg, a.exp + 2, am + bm, sa || sb)
        } else {
            // The exact difference lies below am - bm when only b lost bits.
            let m = am - bm - u128::from(sb);
            Xf::jam(a.neg, a.exp + 2, m, sa || sb)
        }
    }

    pub fn sub(self, o: Xf) -> Xf {
        self.add(o.neg())
    }

    pub fn mul(self, o: Xf) -> Xf {
        if self.m == 0 || o.m == 0 {
            return Xf::ZERO;
        }
        let mask = u128::from(u64::MAX);
        let (ah, al) = (self.m >> 64, self.m & mask);
        let (bh, bl) = (o.m >> 64, o.m & mask);
        let (hh, hl, lh, ll) = (ah * bh, ah * bl, al * bh, al * bl);
        let mid = (hl & mask) + (lh & mask) + (ll >> 64);
        let high = hh + (hl >> 64) + (lh >> 64) + (mid >> 64);
        let neg = self.neg != o.neg;
        let low = ((mid & mask) << 64) | (ll & mask);
        if high >> 127 == 1 {
            Xf {
                neg,
                exp: self.exp + o.exp + 1,
                m: high | u128::from(low != 0),
            }
        } else {
            let m = (high << 1) | (low >> 127) | u128::from(low << 1 != 0);
            Xf {
                neg,
                exp: self.exp + o.exp,
                m,
            }
        }
    }

    pub fn div(self, o: Xf) -> Xf {
        if self.m == 0 || o.m == 0 {
            return Xf::ZERO;
        }
        // Restoring division producing 128 quotient bits of m_a / m_b (in (1/2, 2)).
        let mut rem = self.m;
        let mut q: u128 = 0;
        if rem >= o.m {
            q = 1;
            rem -= o.m;
        }
        for _ in 0..127 {
            let carry = rem >> 127 == 1;
            rem <<= 1;
            q <<= 1;
            if carry || rem >= o.m {
                rem = rem.wrapping_sub(o.m);
                q |= 1;
            }
        }
        Xf::jam(self.neg != o.neg, self.exp - o.exp, q, rem != 0)
    }

    /// Division by a small positive integer.
    pub fn div_u64(self, d: u64) -> Xf {
        let d = u128::from(d);
        let (q1, r) = (self.m / d, self.m % d);
        let (q2, r2) = ((r << 64) / d, (r << 64) % d);
        let lz = q1.leading_zeros().min(64);
        let (m, lost) = if lz == 0 {
            (q1, q2 != 0)
        } else {
            ((q1 << lz) | (q2 >> (64 - lz)), q2 << lz != 0 && lz < 64)
        };
        Xf::jam(self.neg, self.exp - lz as i32, m, lost || r2 != 0)
    }

    /// Square root of a nonnegative value by Newton's iteration from a binary64 estimate.
    pub fn sqrt(self) -> Xf {
        if self.m == 0 {
            return Xf::ZERO;
        }
        let odd = self.exp & 1 != 0;
        let top = (self.m >> 64) as f64 / 2f64.powi(63) * if odd { 2.0 } else { 1.0 };
        let half_exp = (self.exp - i32::from(odd)) / 2;
        let est = top.sqrt();
        let mut y = Xf::norm(false, 127, (est * 2f64.powi(62)) as u128).scale(half_exp - 62);
        for _ in 0..3 {
            y = y.add(self.div(y)).scale(-1);
        }
        y
    }

    /// Rounds to the 80-bit register format.
    pub fn to_f80(self, fmt: Format, ctl: Control) -> Res<F80> {
        round_ext_fmt(self.neg, self.exp, self.m, fmt, ctl)
    }
}
