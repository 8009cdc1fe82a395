//! SSE4.2 packed string compares: PCMPESTRI, PCMPESTRM, PCMPISTRI,
//! PCMPISTRM (SDM Vol. 2B, 4.1 "Imm8 Control Byte Operation for String
//! Compare Instructions", and the instruction pages).
//!
//! imm8 selects the element format (bits 1:0: unsigned/signed bytes/words),
//! the aggregation (3:2: equal any, ranges, equal each, equal ordered), the
//! polarity (5:4) and the output selection (6: most significant index, or
//! byte/word mask). The first operand (xmm1) is the set, range list or
//! needle; the second (xmm2/m128, no alignment requirement) is the text,
//! whose positions the result bits refer to. Explicit lengths come from
//! EAX/EDX (RAX/RDX with REX.W) as absolute values saturated to the element
//! count; implicit lengths end at the first zero element.

use iced_x86::{Code, Instruction};

use super::sse_common::{check_sse, read_xmm_m128, xmm_index};
use super::sse_int_lanes::{bytes, words};
use super::Handler;
use crate::cpu::core::Core;
use crate::cpu::exception::Stop;
use crate::cpu::flags::bits;

/// Lengths from EAX/EDX.
const EXPLICIT32: u8 = 0;
/// Lengths from RAX/RDX (REX.W).
const EXPLICIT64: u8 = 1;
/// Lengths from the first zero element.
const IMPLICIT: u8 = 2;

/// The handler for a packed string compare, if `i` is one.
pub fn resolve(i: &Instruction) -> Option<Handler> {
    Some(match i.code() {
        Code::Pcmpestri_xmm_xmmm128_imm8 => pcmpstr::<EXPLICIT32, false>,
        Code::Pcmpestri64_xmm_xmmm128_imm8 => pcmpstr::<EXPLICIT64, false>,
        Code::Pcmpestrm_xmm_xmmm128_imm8 => pcmpstr::<EXPLICIT32, true>,
        Code::Pcmpestrm64_xmm_xmmm128_imm8 => pcmpstr::<EXPLICIT64, true>,
        Code::Pcmpistri_xmm_xmmm128_imm8 => pcmpstr::<IMPLICIT, false>,
        Code::Pcmpistrm_xmm_xmmm128_imm8 => pcmpstr::<IMPLICIT, true>,
        _ => return None,
    })
}

/// Operand elements widened to i32 (so signed and unsigned compares are
/// both plain integer compares), with their count (16 or 8).
struct Elements {
    e: [i32; 16],
    n: usize,
}

impl Elements {
    /// Decodes `v` per imm8[1:0].
    #[inline(always)]
    fn new(v: u128, imm: u8) -> Self {
        let mut e = [0i32; 16];
        let n = match imm & 3 {
            0 => {
                for (x, b) in e.iter_mut().zip(bytes(v)) {
                    *x = b as i32;
                }
                16
            }
            1 => {
                for (x, w) in e.iter_mut().zip(words(v)) {
                    *x = w as i32;
                }
                8
            }
            2 => {
                for (x, b) in e.iter_mut().zip(bytes(v)) {
                    *x = b as i8 as i32;
                }
                16
            }
            _ => {
                for (x, w) in e.iter_mut().zip(words(v)) {
                    *x = w as i16 as i32;
                }
                8
            }
        };
        Self { e, n }
    }

    /// Implicit length: the index of the first zero element, or `n`.
    #[inline(always)]
    fn implicit_len(&self) -> usize {
        self.e[..self.n]
            .iter()
            .position(|&x| x == 0)
            .unwrap_or(self.n)
    }

    /// Bit j set where `pred(text[j])`, for all `n` positions.
    #[inline(always)]
    fn mask_where(&self, pred: impl Fn(i32) -> bool) -> u32 {
        self.e[..self.n]
            .iter()
            .enumerate()
            .fold(0, |m, (j, &x)| m | (pred(x) as u32) << j)
    }
}

/// Explicit length: |reg| saturated to `n` (reg is EAX/EDX, or RAX/RDX with
/// REX.W, as a signed value).
#[inline(always)]
fn explicit_len<const MODE: u8>(reg: u64, n: usize) -> usize {
    let abs = if MODE == EXPLICIT64 {
        (reg as i64).unsigned_abs()
    } else {
        (reg as i32).unsigned_abs() as u64
    };
    abs.min(n as u64) as usize
}

/// IntRes2 of the compare: bit j for text position j.
#[inline(always)]
fn int_res2(set: &Elements, text: &Elements, la: usize, lb: usize, imm: u8) -> u32 {
    let n = set.n;
    let all = (1u32 << n) - 1;
    let valid_b = (1u32 << lb) - 1;
    let res1 = match (imm >> 2) & 3 {
        // Equal any: text[j] is one of the valid set elements.
        0 => {
            set.e[..la]
                .iter()
                .fold(0, |m, &c| m | text.mask_where(|x| x == c))
                & valid_b
        }
        // Ranges: set[i] <= text[j] <= set[i + 1] for a valid pair (i even).
        1 => {
            (0..la / 2).fold(0, |m, p| {
                let (lo, hi) = (set.e[2 * p], set.e[2 * p + 1]);
                m | text.mask_where(|x| lo <= x && x <= hi)
            }) & valid_b
        }
        // Equal each: both valid and equal, or both invalid.
        2 => {
            let eq = text.e[..n]
                .iter()
                .zip(&set.e[..n])
                .enumerate()
                .fold(0, |m, (j, (x, y))| m | ((x == y) as u32) << j);
            let both_valid = (1u32 << la.min(lb)) - 1;
            let both_invalid = all & !((1u32 << la.max(lb)) - 1);
            (eq & both_valid) | both_invalid
        }
        // Equal ordered: the valid needle starts at text position j; needle
        // elements that would fall past the last position are not checked.
        _ => set.e[..la].iter().enumerate().fold(all, |m, (i, &c)| {
            let here = (text.mask_where(|x| x == c) & valid_b) >> i;
            let past_end = all & !(all >> i);
            m & (here | past_end)
        }),
    };
    match (imm >> 4) & 3 {
        1 => !res1 & all,
        3 => res1 ^ valid_b,
        _ => res1,
    }
}

/// All four instructions: `MODE` picks the lengths, `MASK` the output
/// (XMM0 mask, or the index in ECX).
fn pcmpstr<const MODE: u8, const MASK: bool>(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
    check_sse(core)?;
    let b = read_xmm_m128(core, i, 1, false)?;
    let imm = i.immediate8();
    let set = Elements::new(core.xmm[xmm_index(i.op0_register())], imm);
    let text = Elements::new(b, imm);
    let n = set.n;
    let (la, lb) = if MODE == IMPLICIT {
        (set.implicit_len(), text.implicit_len())
    } else {
        (
            explicit_len::<MODE>(core.gpr[0], n),
            explicit_len::<MODE>(core.gpr[2], n),
        )
    };
    let res2 = int_res2(&set, &text, la, lb, imm);
    let most_significant = imm & 0x40 != 0;
    if MASK {
        core.xmm[0] = if most_significant {
            expand(res2, n)
        } else {
            res2 as u128
        };
    } else {
        let index = match (res2, most_significant) {
            (0, _) => n as u32,
            (_, true) => 31 - res2.leading_zeros(),
            (_, false) => res2.trailing_zeros(),
        };
        // A 32-bit write: RCX's upper half is cleared.
        core.gpr[1] = index as u64;
    }
    let mut f = 0;
    if res2 != 0 {
        f |= bits::CF;
    }
    if lb < n {
        f |= bits::ZF;
    }
    if la < n {
        f |= bits::SF;
    }
    if res2 & 1 != 0 {
        f |= bits::OF;
    }
    core.flags.set_all_arith(f);
    Ok(())
}

/// The byte (n = 16) or word (n = 8) mask: element j all ones when bit j.
#[inline(always)]
fn expand(res: u32, n: usize) -> u128 {
    let width = 128 / n as u32;
    let ones = u128::MAX >> (128 - width);
    (0..n as u32).fold(0, |m, j| {
        m | if res >> j & 1 != 0 {
            ones << (j * width)
        } else {
            0
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::sse_int_oracle::*;
    use iced_x86::Code;

    const IMPLICIT_CODES: [Code; 2] = [
        Code::Pcmpistri_xmm_xmmm128_imm8,
        Code::Pcmpistrm_xmm_xmmm128_imm8,
    ];
    const EXPLICIT_CODES: [Code; 4] = [
        Code::Pcmpestri_xmm_xmmm128_imm8,
        Code::Pcmpestri64_xmm_xmmm128_imm8,
        Code::Pcmpestrm_xmm_xmmm128_imm8,
        Code::Pcmpestrm64_xmm_xmmm128_imm8,
    ];

    /// A string of nonzero elements from a small alphabet (so that equal
    /// elements and range hits are common), words when `imm` says so, with
    /// a zero element at `nul` (none when `nul` is past the end) and,
    /// sometimes, more zeros after it.
    fn string(rng: &mut Rng, imm: u8, nul: usize) -> u128 {
        const BYTES: [u128; 8] = [0x61, 0x62, 0x63, 0x01, 0x7f, 0x80, 0xfe, 0xff];
        const WORDS: [u128; 8] = [0x61, 0x62, 0x6100, 0x0001, 0x7fff, 0x8000, 0xfffe, 0xffff];
        let (width, n, alphabet) = if imm & 1 == 0 {
            (8, 16, BYTES)
        } else {
            (16, 8, WORDS)
        };
        let mut v = 0u128;
        for k in 0..n {
            let zero = k == nul || (k > nul && rng.below(4) == 0);
            if !zero {
                v |= alphabet[rng.below(8) as usize] << (k * width);
            }
        }
        v
    }

    /// A string with its first NUL anywhere (or none).
    fn any_string(rng: &mut Rng, imm: u8) -> u128 {
        let nul = rng.below(20) as usize;
        string(rng, imm, nul)
    }

    /// An explicit length register value: in range, negative, saturating,
    /// or with only high bits that the 32-bit forms must ignore.
    fn length(rng: &mut Rng) -> u64 {
        match rng.below(10) {
            0 => (-(rng.below(20) as i64)) as u64,
            1 => [
                i32::MIN as u64,
                i32::MAX as u64,
                1 << 31,
                u64::MAX,
                i64::MIN as u64,
            ][rng.below(5) as usize],
            2 => rng.bits() << 32 | rng.below(20),
            3 => rng.bits(),
            _ => rng.below(18),
        }
    }

    #[test]
    fn implicit_forms_match_host_for_every_control_and_nul_position() {
        let mut rng = Rng::new(41);
        for code in IMPLICIT_CODES {
            for imm in 0..=255u8 {
                let mut o = Oracle::new(&xmm_rm_imm(code, 3, Some(7), 0, imm));
                for nul_a in 0..=16 {
                    for nul_b in 0..=16 {
                        let mut st = rng.state();
                        st.xmm[3] = string(&mut rng, imm, nul_a);
                        st.xmm[7] = string(&mut rng, imm, nul_b);
                        o.check(&st);
                    }
                }
            }
        }
    }

    #[test]
    fn explicit_forms_match_host_for_every_control_and_length() {
        let mut rng = Rng::new(42);
        for code in EXPLICIT_CODES {
            for imm in 0..=255u8 {
                let mut o = Oracle::new(&xmm_rm_imm(code, 0, Some(12), 0, imm));
                for _ in 0..80 {
                    let mut st = rng.state();
                    // Embedded NULs are ordinary elements here.
                    st.xmm[0] = any_string(&mut rng, imm);
                    st.xmm[12] = any_string(&mut rng, imm);
                    st.gpr[0] = length(&mut rng);
                    st.gpr[2] = length(&mut rng);
                    o.check(&st);
                }
            }
        }
    }

    #[test]
    fn memory_forms_need_no_alignment() {
        let mut rng = Rng::new(43);
        for code in IMPLICIT_CODES.into_iter().chain(EXPLICIT_CODES) {
            for imm in [0x00, 0x0c, 0x1a, 0x44, 0x75] {
                let mut o = Oracle::new(&xmm_rm_imm(code, 9, None, 0, imm));
                for off in 0..32 {
                    let mut st = rng.state();
                    st.gpr[3] = off;
                    st.gpr[0] = length(&mut rng);
                    st.gpr[2] = length(&mut rng);
                    st.xmm[9] = any_string(&mut rng, imm);
                    let text = any_string(&mut rng, imm).to_le_bytes();
                    st.buf.0[off as usize..off as usize + 16].copy_from_slice(&text);
                    o.check_fault(&st);
                }
            }
        }
    }
}
