//! Compares the native and emulated results of one case: outcome (completion or the same
//! fault), GPRs, RIP, RFLAGS (masked by the instruction's undefined flags and RF), the x87
//! state (FCW, FSW minus undefined condition codes, abridged FTW, ST0-7; not FIP/FDP/FOP),
//! MXCSR, XMM0-15 and the data pages (minus ignored ranges).
//!
//! Two documented tolerances: rcp/rsqrt approximations (relative error), and the x87
//! transcendentals, whose results come from the host's internal approximations (AMD's are not
//! always correctly rounded): an ST register may hold the adjacent 80-bit value (one ulp away,
//! same sign, both finite) and, unless a stack fault was reported, FSW.C1 ("rounded up") may
//! differ.
//!
//! Neighbours: `main.rs` prints the returned differences.

use crate::state::{fl, fx, get16, get32, Case, RunResult, GPR_NAMES};

/// RFLAGS bits compared at all: the architectural flags, not RF (set in the saved image of
/// faults) nor bit 1 (always one).
const FLAGS_COMPARED: u64 = 0x3f_7fd5 & !fl::RF;

/// Relative tolerance for the approximate reciprocals (SDM: |rel err| <= 1.5 * 2^-12 each,
/// so two implementations may differ by up to 3 * 2^-12).
const APPROX_TOL: f64 = 3.0 / 4096.0;

fn approx_eq_f32(a: u32, b: u32) -> bool {
    if a == b {
        return true;
    }
    let (x, y) = (f32::from_bits(a), f32::from_bits(b));
    if !x.is_finite()
        || !y.is_finite()
        || x == 0.0
        || y == 0.0
        || x.is_sign_negative() != y.is_sign_negative()
    {
        return false;
    }
    ((x as f64 - y as f64) / x as f64).abs() <= APPROX_TOL
}

fn xmm_eq(a: u128, b: u128, approx: bool) -> bool {
    if !approx {
        return a == b;
    }
    (0..4).all(|i| approx_eq_f32((a >> (32 * i)) as u32, (b >> (32 * i)) as u32))
}

/// FSW stack-fault bit: C1 then reports overflow/underflow and is compared exactly.
const FSW_SF: u16 = 1 << 6;
/// FSW condition code C1.
const FSW_C1: u16 = 1 << 9;

/// Whether two x87 register images (significand, sign|exponent) are the same finite value or
/// adjacent finite values of the same sign (one unit apart in the significand's last place,
/// carrying into the exponent at a binade boundary).
pub fn within_one_ulp(a: (u64, u16), b: (u64, u16)) -> bool {
    let canonical = |(m, se): (u64, u16)| {
        let e = se & 0x7fff;
        e != 0x7fff && (m >> 63 == 1) == (e != 0)
    };
    if a == b {
        return true;
    }
    if !canonical(a) || !canonical(b) || (a.1 ^ b.1) & 0x8000 != 0 {
        return false;
    }
    // Exponent and fraction as one integer: consecutive values have consecutive keys.
    let key = |(m, se): (u64, u16)| (u128::from(se & 0x7fff) << 63) | u128::from(m & !(1 << 63));
    key(a).abs_diff(key(b)) == 1
}

/// The differing fields between `native` and `emu` for `case`, empty when they agree.
pub fn compare(case: &Case, native: &RunResult, emu: &RunResult) -> Vec<String> {
    compare_with(case, native, emu, case.ulp_tolerance)
}

/// Whether `case` agrees only thanks to the transcendental tolerance (counted separately).
pub fn tolerated(case: &Case, native: &RunResult, emu: &RunResult) -> bool {
    case.ulp_tolerance
        && compare_with(case, native, emu, true).is_empty()
        && !compare_with(case, native, emu, false).is_empty()
}

fn compare_with(case: &Case, native: &RunResult, emu: &RunResult, ulp: bool) -> Vec<String> {
    let mut d = Vec::new();
    if native.outcome != emu.outcome {
        d.push(format!(
            "outcome: native {:?} emu {:?}",
            native.outcome, emu.outcome
        ));
    }
    let (n, e) = (&native.state, &emu.state);
    for ((name, a), b) in GPR_NAMES.iter().zip(n.gpr).zip(e.gpr) {
        if a != b {
            d.push(format!("{name}: native {a:#x} emu {b:#x}"));
        }
    }
    if n.rip != e.rip {
        d.push(format!("rip: native {:#x} emu {:#x}", n.rip, e.rip));
    }
    let mask = FLAGS_COMPARED & !case.flags_undefined;
    if (n.rflags ^ e.rflags) & mask != 0 {
        d.push(format!(
            "rflags: native {:#x} emu {:#x} (diff {:#x}, undefined {:#x})",
            n.rflags,
            e.rflags,
            (n.rflags ^ e.rflags) & mask,
            case.flags_undefined
        ));
    }
    let (nf, ef) = (&n.fx, &e.fx);
    if get16(nf, fx::FCW) != get16(ef, fx::FCW) {
        d.push(format!(
            "fcw: native {:#x} emu {:#x}",
            get16(nf, fx::FCW),
            get16(ef, fx::FCW)
        ));
    }
    let mut fsw_mask = !case.fsw_undefined;
    if ulp && get16(&native.state.fx, fx::FSW) & FSW_SF == 0 {
        fsw_mask &= !FSW_C1;
    }
    if (get16(nf, fx::FSW) ^ get16(ef, fx::FSW)) & fsw_mask != 0 {
        d.push(format!(
            "fsw: native {:#x} emu {:#x}",
            get16(nf, fx::FSW),
            get16(ef, fx::FSW)
        ));
    }
    if nf[fx::FTW] != ef[fx::FTW] {
        d.push(format!(
            "ftw: native {:#x} emu {:#x}",
            nf[fx::FTW],
            ef[fx::FTW]
        ));
    }
    if get32(nf, fx::MXCSR) != get32(ef, fx::MXCSR) {
        d.push(format!(
            "mxcsr: native {:#x} emu {:#x}",
            get32(nf, fx::MXCSR),
            get32(ef, fx::MXCSR)
        ));
    }
    for i in 0..8 {
        let (a, b) = (n.st(i), e.st(i));
        if a != b && !(ulp && within_one_ulp(a, b)) {
            d.push(format!(
                "st{i}: native {:04x}:{:016x} emu {:04x}:{:016x}",
                a.1, a.0, b.1, b.0
            ));
        }
    }
    for i in 0..16 {
        if !xmm_eq(n.xmm(i), e.xmm(i), case.approx) {
            d.push(format!(
                "xmm{i}: native {:032x} emu {:032x}",
                n.xmm(i),
                e.xmm(i)
            ));
        }
    }
    let ignored = |o: usize| case.mem_ignore.iter().any(|(a, b)| (*a..*b).contains(&o));
    if native.mem.len() != emu.mem.len() {
        d.push("memory: emulator could not read the data pages".to_string());
    } else {
        let diffs: Vec<usize> = (0..native.mem.len())
            .filter(|o| native.mem[*o] != emu.mem[*o] && !ignored(*o))
            .collect();
        if let (Some(first), Some(last)) = (diffs.first(), diffs.last()) {
            let show = |m: &[u8]| {
                m[*first..=(*last).min(first + 31)]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            };
            d.push(format!(
                "memory: {} bytes differ in {:#x}..={:#x}: native {} emu {}",
                diffs.len(),
                crate::state::DATA_BASE + *first as u64,
                crate::state::DATA_BASE + *last as u64,
                show(&native.mem),
                show(&emu.mem)
            ));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::within_one_ulp;

    #[test]
    fn one_ulp_tolerance_accepts_only_adjacent_finite_values_of_one_sign() {
        let one = (1u64 << 63, 0x3fff);
        assert!(within_one_ulp(one, one));
        assert!(within_one_ulp(one, ((1 << 63) | 1, 0x3fff)));
        // Carry across a binade and across the denormal/normal boundary.
        assert!(within_one_ulp((u64::MAX, 0x3ffe), one));
        assert!(within_one_ulp((u64::MAX >> 1, 0), (1 << 63, 1)));
        assert!(!within_one_ulp(one, ((1 << 63) | 2, 0x3fff)));
        assert!(!within_one_ulp((0, 0), (0, 0x8000)));
        assert!(!within_one_ulp((1, 0), (1, 0x8000)));
        assert!(!within_one_ulp((1 << 63, 0x7fff), (u64::MAX, 0x7ffe)));
        // Unnormals are never tolerated.
        assert!(!within_one_ulp((1, 0x3fff), (2, 0x3fff)));
    }
}
