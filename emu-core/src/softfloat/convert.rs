//! Conversions between [`F80`] and the memory formats: binary32/binary64 (FLD/FST m32/m64),
//! signed integers (FILD/FIST/FISTTP) and packed BCD (FBLD/FBSTP); SDM Vol. 1 §4.2, §8.2.

use super::f80::{Class, F80, INT_BIT};

/// An exact conversion from a signed integer (FILD).
pub fn from_i64(v: i64) -> F80 {
    if v == 0 {
        return F80::ZERO;
    }
    let m = v.unsigned_abs();
    let lz = m.leading_zeros();
    F80::new(v < 0, (16383 + 63 - lz) as u16, m << lz)
}

/// True if `a` is an integer-valued finite number (used by tests and FBSTP).
pub(crate) fn is_finite(a: F80) -> bool {
    !matches!(
        a.class(),
        Class::Infinity | Class::QNan | Class::SNan | Class::Unsupported
    )
}

/// The integer bit, re-exported for conversions.
pub(crate) const _INT: u64 = INT_BIT;
