//! Comparisons: the eight CMPPS/CMPSS predicates and the COMISS/UCOMISS
//! ordering.
//!
//! DAZ applies; a NaN operand suppresses DE. Quiet predicates and UCOMI*
//! raise IE only for SNaN operands; signaling predicates (LT, LE, NLT, NLE)
//! and COMI* raise IE for any NaN.

use super::arith::less;
use super::{is_denormal, is_nan, is_snan, mxcsr, Env, Format};

/// The relation between two operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// At least one operand is a NaN.
    Unordered,
    /// First < second.
    Less,
    /// Equal (including +0 = -0).
    Equal,
    /// First > second.
    Greater,
}

/// Compares `a` with `b`; IE for SNaNs, or for any NaN when `signaling`.
pub fn order<F: Format>(env: &mut Env, a: u64, b: u64, signaling: bool) -> Ordering {
    let a = env.operand::<F>(a);
    let b = env.operand::<F>(b);
    if is_nan::<F>(a) || is_nan::<F>(b) {
        if signaling || is_snan::<F>(a) || is_snan::<F>(b) {
            env.raise(mxcsr::IE);
        }
        return Ordering::Unordered;
    }
    if is_denormal::<F>(a) || is_denormal::<F>(b) {
        env.raise(mxcsr::DE);
    }
    if less::<F>(a, b) {
        Ordering::Less
    } else if less::<F>(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// The CMPPS/CMPSD predicate `pred` (imm8 bits 2:0; higher bits are
/// ignored by the legacy SSE encodings): EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD.
pub fn compare<F: Format>(env: &mut Env, a: u64, b: u64, pred: u8) -> bool {
    let pred = pred & 7;
    let signaling = matches!(pred & 3, 1 | 2);
    match order::<F>(env, a, b, signaling) {
        Ordering::Unordered => matches!(pred, 3..=6),
        Ordering::Less => matches!(pred, 1 | 2 | 4 | 7),
        Ordering::Equal => matches!(pred, 0 | 2 | 5 | 7),
        Ordering::Greater => matches!(pred, 4..=7),
    }
}
