//! Comparisons and classification: FCOM/FUCOM/FCOMI/FUCOMI/FTST (SDM Vol. 2, Tables 3-21/3-22
//! "FCOM/FCOMP/FCOMPP results") and FXAM (Table 3-30 "FXAM results").

use super::f80::{Class, F80};
use super::{Flags, Res};

/// The outcome of comparing two values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// `a > b`.
    Greater,
    /// `a < b`.
    Less,
    /// `a == b` (zeros of either sign compare equal).
    Equal,
    /// At least one operand is a NaN or an unsupported encoding.
    Unordered,
}

impl Relation {
    /// The condition code bits FCOM/FUCOM/FTST set in FSW: C3, C2 and C0 (C1 is cleared).
    pub fn fsw_cc(self) -> u16 {
        match self {
            Relation::Greater => 0,
            Relation::Less => Flags::C0,
            Relation::Equal => Flags::C3,
            Relation::Unordered => Flags::C0 | Flags::C2 | Flags::C3,
        }
    }

    /// The RFLAGS bits FCOMI/FUCOMI set: ZF (bit 6), PF (bit 2) and CF (bit 0).
    pub fn rflags(self) -> u64 {
        match self {
            Relation::Greater => 0,
            Relation::Less => 1,
            Relation::Equal => 1 << 6,
            Relation::Unordered => (1 << 6) | (1 << 2) | 1,
        }
    }
}

/// Compares `a` with `b`. `quiet` selects the unordered compare (FUCOM*): QNaN operands then
/// raise no invalid-operation exception; SNaNs and unsupported encodings always do.
pub fn compare(a: F80, b: F80, quiet: bool) -> Res<Relation> {
    let (ca, cb) = (a.class(), b.class());
    let unsupported = ca == Class::Unsupported || cb == Class::Unsupported;
    if unsupported || a.is_nan() || b.is_nan() {
        let invalid = unsupported || a.is_snan() || b.is_snan() || !quiet;
        return Res::new(
            Relation::Unordered,
            Flags(if invalid { Flags::IE } else { 0 }),
        );
    }
    // The host sets the condition codes even when a denormal operand exception is unmasked.
    let flags = Flags(if a.is_denormal() || b.is_denormal() {
        Flags::DE
    } else {
        0
    });
    Res::new(order(a, b), flags)
}

/// Orders two non-NaN, supported values.
fn order(a: F80, b: F80) -> Relation {
    use core::cmp::Ordering;
    let key = |x: F80| -> (bool, i32, u64) {
        match x.class() {
            Class::Zero => (false, i32::MIN, 0),
            Class::Infinity => (x.sign(), i32::MAX, 0),
            _ => x
                .unpack()
                .map_or((false, i32::MIN, 0), |u| (u.sign, u.exp, u.sig)),
        }
    };
    let (ka, kb) = (key(a), key(b));
    if a.is_zero() && b.is_zero() {
        return Relation::Equal;
    }
    // Compare magnitudes, then apply the signs.
    let mag = (ka.1, ka.2).cmp(&(kb.1, kb.2));
    let (sa, sb) = (ka.0 && !a.is_zero(), kb.0 && !b.is_zero());
    let ord = match (sa, sb) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => mag,
        (true, true) => mag.reverse(),
    };
    match ord {
        Ordering::Greater => Relation::Greater,
        Ordering::Less => Relation::Less,
        Ordering::Equal => Relation::Equal,
    }
}

/// FXAM: the condition code bits (C3, C2, C0 class; C1 sign) for a non-empty register.
/// Empty registers are a tag matter handled by the caller (C3 and C0 set).
pub fn examine(a: F80) -> u16 {
    let class = match a.class() {
        Class::Unsupported => 0,
        Class::QNan | Class::SNan => Flags::C0,
        Class::Normal => Flags::C2,
        Class::Infinity => Flags::C2 | Flags::C0,
        Class::Zero => Flags::C3,
        Class::Denormal | Class::PseudoDenormal => Flags::C3 | Flags::C2,
    };
    class | if a.sign() { Flags::C1 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::super::host::{self, Rng};
    use super::super::Control;
    use super::*;

    fn soft_fsw(r: Res<Relation>, _ctl: Control) -> u16 {
        // The host sets the condition codes even when the exception raised is unmasked.
        r.flags.0 | r.value.fsw_cc()
    }

    fn gen(r: &mut Rng) -> (F80, F80) {
        let a = r.operand();
        let b = if r.below(4) == 0 {
            a.with_sign(r.bool())
        } else {
            r.related(a)
        };
        (a, b)
    }

    #[test]
    fn fcom_matches_host() {
        host::check(
            "fcom",
            40000,
            host::COMPARED,
            gen,
            host::fcom,
            |cw, a, b| {
                let ctl = Control(cw);
                (a, soft_fsw(compare(a, b, false), ctl))
            },
        );
    }

    #[test]
    fn fucom_matches_host() {
        host::check(
            "fucom",
            40000,
            host::COMPARED,
            gen,
            host::fucom,
            |cw, a, b| {
                let ctl = Control(cw);
                (a, soft_fsw(compare(a, b, true), ctl))
            },
        );
    }

    #[test]
    fn ftst_matches_host() {
        host::check(
            "ftst",
            20000,
            host::COMPARED,
            gen,
            host::ftst,
            |cw, a, _| {
                let ctl = Control(cw);
                (a, soft_fsw(compare(a, F80::ZERO, false), ctl))
            },
        );
    }

    #[test]
    fn fxam_matches_host() {
        host::check("fxam", 20000, host::COMPARED, gen, host::fxam, |_, a, _| {
            (a, examine(a))
        });
    }
}
