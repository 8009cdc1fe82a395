//! The constants the x87 loads with FLD1, FLDZ, FLDPI, FLDL2E, FLDL2T, FLDLG2 and FLDLN2 (SDM
//! Vol. 2 "FLD1/FLDL2T/FLDL2E/FLDPI/FLDLG2/FLDLN2/FLDZ"): rounded to the register format under
//! the rounding control, without reporting #P or C1.

use super::f80::F80;
use super::round::EXT;
use super::xfloat::{Xf, LN_2, LOG10_2, LOG2_10, LOG2_E, PI};
use super::{Control, Flags, Res};

/// A loadable constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constant {
    /// +1.0 (FLD1).
    One,
    /// +0.0 (FLDZ).
    Zero,
    /// pi (FLDPI).
    Pi,
    /// log2(e) (FLDL2E).
    Log2E,
    /// log2(10) (FLDL2T).
    Log2Ten,
    /// log10(2) (FLDLG2).
    Log10Two,
    /// ln(2) (FLDLN2).
    LnTwo,
}

/// The constant rounded under `ctl`'s rounding control; no flags are raised.
pub fn load(c: Constant, ctl: Control) -> Res<F80> {
    let x: Xf = match c {
        Constant::One => return Res::new(F80::ONE, Flags::NONE),
        Constant::Zero => return Res::new(F80::ZERO, Flags::NONE),
        Constant::Pi => PI,
        Constant::Log2E => LOG2_E,
        Constant::Log2Ten => LOG2_10,
        Constant::Log10Two => LOG10_2,
        Constant::LnTwo => LN_2,
    };
    // Rounded once from the 128-bit value (the host does not round through 66 bits first).
    let r = x.to_f80(EXT, ctl);
    Res::new(r.value, Flags::NONE)
}

#[cfg(test)]
mod tests {
    use super::super::host;
    use super::*;

    fn check(name: &str, c: Constant, h: fn(u16, F80, F80) -> host::HostOut) {
        for cw in host::control_words() {
            let out = h(cw, F80::ONE, F80::ONE);
            let r = load(c, Control(cw));
            assert_eq!(
                (out.st0, out.fsw & host::COMPARED),
                (r.value, r.flags.0),
                "{name} cw={cw:04x}"
            );
        }
    }

    #[test]
    fn constants_match_host_in_every_rounding_mode() {
        check("fld1", Constant::One, host::fld1);
        check("fldz", Constant::Zero, host::fldz);
        check("fldpi", Constant::Pi, host::fldpi);
        check("fldl2e", Constant::Log2E, host::fldl2e);
        check("fldl2t", Constant::Log2Ten, host::fldl2t);
        check("fldlg2", Constant::Log10Two, host::fldlg2);
        check("fldln2", Constant::LnTwo, host::fldln2);
    }
}
