//! Lane views of 128-bit XMM values for the packed-integer families
//! (`sse_int`, `sse_int_shuffle`, `sse4_int`, `sse42_string`): byte and word
//! arrays, lane-wise maps, and the signed/unsigned saturations of the pack
//! and saturating-arithmetic instructions (SDM Vol. 1, 4.6.2).
//!
//! Everything is plain array code that the compiler turns into host SIMD
//! where it can; lane 0 is the least significant.

// The views below split the value into its two 64-bit halves and shift:
// compilers turn that into plain scalar loads and stores, whereas byte-array
// views of a u128 (`to_le_bytes`) compile into long shuffle sequences.

/// The sixteen bytes.
#[inline(always)]
pub fn bytes(v: u128) -> [u8; 16] {
    let (lo, hi) = (v as u64, (v >> 64) as u64);
    std::array::from_fn(|k| if k < 8 { lo >> (8 * k) } else { hi >> (8 * (k - 8)) } as u8)
}

/// Packs sixteen bytes.
#[inline(always)]
pub fn from_bytes(b: [u8; 16]) -> u128 {
    let half = |h: usize| (0..8).fold(0u64, |m, k| m | (b[8 * h + k] as u64) << (8 * k));
    half(0) as u128 | (half(1) as u128) << 64
}

/// The eight 16-bit words.
#[inline(always)]
pub fn words(v: u128) -> [u16; 8] {
    let (lo, hi) = (v as u64, (v >> 64) as u64);
    std::array::from_fn(|k| if k < 4 { lo >> (16 * k) } else { hi >> (16 * (k - 4)) } as u16)
}

/// Packs eight words.
#[inline(always)]
pub fn from_words(w: [u16; 8]) -> u128 {
    let half = |h: usize| (0..4).fold(0u64, |m, k| m | (w[4 * h + k] as u64) << (16 * k));
    half(0) as u128 | (half(1) as u128) << 64
}

/// The four doublewords.
#[inline(always)]
pub fn dwords(v: u128) -> [u32; 4] {
    [
        v as u32,
        (v >> 32) as u32,
        (v >> 64) as u32,
        (v >> 96) as u32,
    ]
}

/// Packs four doublewords.
#[inline(always)]
pub fn from_dwords(d: [u32; 4]) -> u128 {
    d[0] as u128 | (d[1] as u128) << 32 | (d[2] as u128) << 64 | (d[3] as u128) << 96
}

/// The two quadwords.
#[inline(always)]
pub fn qwords(v: u128) -> [u64; 2] {
    [v as u64, (v >> 64) as u64]
}

/// Packs two quadwords.
#[inline(always)]
pub fn from_qwords(q: [u64; 2]) -> u128 {
    q[0] as u128 | (q[1] as u128) << 64
}

/// Byte-wise `f(a[k], b[k])`.
#[inline(always)]
pub fn map8(a: u128, b: u128, f: impl Fn(u8, u8) -> u8) -> u128 {
    let (a, b) = (bytes(a), bytes(b));
    from_bytes(std::array::from_fn(|k| f(a[k], b[k])))
}

/// Word-wise `f(a[k], b[k])`.
#[inline(always)]
pub fn map16(a: u128, b: u128, f: impl Fn(u16, u16) -> u16) -> u128 {
    let (a, b) = (words(a), words(b));
    from_words(std::array::from_fn(|k| f(a[k], b[k])))
}

/// Doubleword-wise `f(a[k], b[k])`.
#[inline(always)]
pub fn map32(a: u128, b: u128, f: impl Fn(u32, u32) -> u32) -> u128 {
    let (a, b) = (dwords(a), dwords(b));
    from_dwords(std::array::from_fn(|k| f(a[k], b[k])))
}

/// Quadword-wise `f(a[k], b[k])`.
#[inline(always)]
pub fn map64(a: u128, b: u128, f: impl Fn(u64, u64) -> u64) -> u128 {
    let (a, b) = (qwords(a), qwords(b));
    from_qwords([f(a[0], b[0]), f(a[1], b[1])])
}

/// All ones when `c`, else zero (a compare-result lane).
#[inline(always)]
pub fn ones8(c: bool) -> u8 {
    (c as u8).wrapping_neg()
}

/// All ones when `c`, else zero.
#[inline(always)]
pub fn ones16(c: bool) -> u16 {
    (c as u16).wrapping_neg()
}

/// All ones when `c`, else zero.
#[inline(always)]
pub fn ones32(c: bool) -> u32 {
    (c as u32).wrapping_neg()
}

/// All ones when `c`, else zero.
#[inline(always)]
pub fn ones64(c: bool) -> u64 {
    (c as u64).wrapping_neg()
}

/// Signed word to signed byte with saturation.
#[inline(always)]
pub fn sat_i8(x: i32) -> u8 {
    x.clamp(i8::MIN as i32, i8::MAX as i32) as u8
}

/// Signed value to unsigned byte with saturation.
#[inline(always)]
pub fn sat_u8(x: i32) -> u8 {
    x.clamp(0, u8::MAX as i32) as u8
}

/// Signed value to signed word with saturation.
#[inline(always)]
pub fn sat_i16(x: i32) -> u16 {
    x.clamp(i16::MIN as i32, i16::MAX as i32) as u16
}

/// Signed value to unsigned word with saturation.
#[inline(always)]
pub fn sat_u16(x: i32) -> u16 {
    x.clamp(0, u16::MAX as i32) as u16
}

// ----- SIMD within a register -------------------------------------------
//
// The hot byte and word operations work on all lanes at once with carries
// kept inside each lane: the low bits of the lanes are combined with the top
// bit of each lane masked off, and the top bits are fixed up separately.
// `W` is the lane width in bits (8 or 16); `H` has the top bit of each lane.

/// The top bit of every `w`-bit lane.
const fn lane_tops(w: u32) -> u128 {
    let mut h = 0u128;
    let mut k = 0;
    while k < 128 {
        h |= 1 << (k + w - 1);
        k += w;
    }
    h
}

/// Widens lane top bits (`hi` has only top bits set) to all-ones lanes.
#[inline(always)]
pub fn lanes_expand<const W: u32>(hi: u128) -> u128 {
    (hi - (hi >> (W - 1))) | hi
}

/// Lane-wise wrapping `a + b`.
#[inline(always)]
pub fn lanes_add<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    ((a & !h) + (b & !h)) ^ ((a ^ b) & h)
}

/// Lane-wise wrapping `a - b`.
#[inline(always)]
pub fn lanes_sub<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    ((a | h) - (b & !h)) ^ ((a ^ !b) & h)
}

/// All-ones lanes where `a == b`.
#[inline(always)]
pub fn lanes_eq<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    let x = a ^ b;
    // Top bit set where the lane is nonzero.
    let nonzero = (((x & !h) + !h) | x) & h;
    lanes_expand::<W>(!nonzero & h)
}

/// Top bits set where `a >= b` as unsigned lanes.
#[inline(always)]
fn lanes_ge_u_tops<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    // Top bit of t: low bits of a >= low bits of b (no borrow leaves a lane).
    let t = (a | h) - (b & !h);
    ((a & !b) | (!(a ^ b) & t)) & h
}

/// All-ones lanes where `a > b` as signed lanes.
#[inline(always)]
pub fn lanes_gt_s<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    lanes_expand::<W>(!lanes_ge_u_tops::<W>(b ^ h, a ^ h) & h)
}

/// Lane-wise unsigned minimum (`MAX` = false) or maximum.
#[inline(always)]
pub fn lanes_minmax_u<const W: u32, const MAX: bool>(a: u128, b: u128) -> u128 {
    let a_ge = lanes_expand::<W>(lanes_ge_u_tops::<W>(a, b));
    let pick_b = if MAX { !a_ge } else { a_ge };
    (b & pick_b) | (a & !pick_b)
}

/// Lane-wise signed minimum (`MAX` = false) or maximum.
#[inline(always)]
pub fn lanes_minmax_s<const W: u32, const MAX: bool>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    let a_ge = lanes_expand::<W>(lanes_ge_u_tops::<W>(a ^ h, b ^ h));
    let pick_b = if MAX { !a_ge } else { a_ge };
    (b & pick_b) | (a & !pick_b)
}

/// Lane-wise unsigned saturating `a + b`.
#[inline(always)]
pub fn lanes_adds_u<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    let s = lanes_add::<W>(a, b);
    let carry = ((a & b) | ((a | b) & !s)) & h;
    s | lanes_expand::<W>(carry)
}

/// Lane-wise unsigned saturating `a - b`.
#[inline(always)]
pub fn lanes_subs_u<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    let d = lanes_sub::<W>(a, b);
    let borrow = ((!a & b) | (!(a ^ b) & d)) & h;
    d & !lanes_expand::<W>(borrow)
}

/// Replaces overflowed lanes (top bits in `overflow`) of `r` by the signed
/// limit with the sign of `a`: 0x7f.. for positive `a`, 0x80.. for negative.
#[inline(always)]
fn lanes_saturate_s<const W: u32>(r: u128, a: u128, overflow: u128) -> u128 {
    let h = const { lane_tops(W) };
    let m = lanes_expand::<W>(overflow);
    let limit = !h ^ lanes_expand::<W>(a & h);
    (r & !m) | (limit & m)
}

/// Lane-wise signed saturating `a + b`.
#[inline(always)]
pub fn lanes_adds_s<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    let s = lanes_add::<W>(a, b);
    lanes_saturate_s::<W>(s, a, !(a ^ b) & (a ^ s) & h)
}

/// Lane-wise signed saturating `a - b`.
#[inline(always)]
pub fn lanes_subs_s<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    let d = lanes_sub::<W>(a, b);
    lanes_saturate_s::<W>(d, a, (a ^ b) & (a ^ d) & h)
}

/// Lane-wise unsigned rounded average `(a + b + 1) >> 1`.
#[inline(always)]
pub fn lanes_avg_u<const W: u32>(a: u128, b: u128) -> u128 {
    let h = const { lane_tops(W) };
    (a | b) - (((a ^ b) >> 1) & !h)
}

/// The sign bits of the sixteen bytes as a 16-bit mask (bit k = byte k).
#[inline(always)]
pub fn byte_signs(v: u128) -> u32 {
    // Each byte's sign bit moved to bit 0 of the byte, then gathered into the
    // top byte by a multiply whose partial products never overlap.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let half = |x: u64| (((x >> 7) & 0x0101_0101_0101_0101).wrapping_mul(GATHER) >> 56) as u32;
    half(v as u64) | half((v >> 64) as u64) << 8
}

/// Defines `op xmm1, xmm2/m128` handlers: `xmm1 = body(a = xmm1, b = source)`,
/// with a 16-byte aligned memory source (legacy SSE rule, else #GP(0)).
macro_rules! xmm_binops {
    ($($(#[$m:meta])* fn $name:ident($a:ident, $b:ident) $body:block)*) => {$(
        $(#[$m])*
        fn $name(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
            check_sse(core)?;
            let $b = read_xmm_m128(core, i, 1, true)?;
            let d = xmm_index(i.op0_register());
            let $a = core.xmm[d];
            core.xmm[d] = $body;
            Ok(())
        }
    )*};
}
pub(crate) use xmm_binops;

/// Defines `op xmm1, xmm2/m128, imm8` handlers: `xmm1 = body(a, b, imm)`,
/// with a 16-byte aligned memory source.
macro_rules! xmm_binops_imm {
    ($($(#[$m:meta])* fn $name:ident($a:ident, $b:ident, $imm:ident) $body:block)*) => {$(
        $(#[$m])*
        fn $name(core: &mut Core, i: &Instruction) -> Result<(), Stop> {
            check_sse(core)?;
            let $b = read_xmm_m128(core, i, 1, true)?;
            let d = xmm_index(i.op0_register());
            let $a = core.xmm[d];
            let $imm = i.immediate8();
            core.xmm[d] = $body;
            Ok(())
        }
    )*};
}
pub(crate) use xmm_binops_imm;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_views_round_trip_in_little_endian_order() {
        let v = 0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100u128;
        assert_eq!(bytes(v)[3], 3);
        assert_eq!(words(v)[1], 0x0302);
        assert_eq!(dwords(v)[3], 0x0f0e_0d0c);
        assert_eq!(from_words(words(v)), v);
        assert_eq!(from_dwords(dwords(v)), v);
        assert_eq!(from_qwords(qwords(v)), v);
    }

    #[test]
    fn byte_signs_gathers_each_sign_bit_in_place() {
        for k in 0..16 {
            assert_eq!(byte_signs(0x80u128 << (8 * k)), 1 << k);
            assert_eq!(byte_signs(!(0x80u128 << (8 * k))), 0xffff ^ (1 << k));
        }
        assert_eq!(byte_signs(0x7f7f_7f7f_7f7f_7f7f_7f7f_7f7f_7f7f_7f7f), 0);
    }

    /// Each SWAR operation against its lane-by-lane definition.
    #[test]
    fn lane_parallel_ops_match_lane_by_lane_definitions() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let edges = [0u8, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff];
        for n in 0..20_000 {
            let mut pick = || {
                let r = (next() as u128) << 64 | next() as u128;
                if n % 2 == 0 {
                    r
                } else {
                    // Lanes built from edge bytes.
                    from_bytes(std::array::from_fn(|k| {
                        edges[((r >> (4 * k)) % 7) as usize]
                    }))
                }
            };
            let (a, b) = (pick(), pick());
            let s8 = |x: u8| x as i8;
            let s16 = |x: u16| x as i16;
            assert_eq!(lanes_add::<8>(a, b), map8(a, b, u8::wrapping_add));
            assert_eq!(lanes_sub::<16>(a, b), map16(a, b, u16::wrapping_sub));
            assert_eq!(lanes_eq::<8>(a, b), map8(a, b, |x, y| ones8(x == y)));
            assert_eq!(
                lanes_eq::<16>(a, a ^ (b & 0xff)),
                map16(a, a ^ (b & 0xff), |x, y| ones16(x == y))
            );
            assert_eq!(
                lanes_gt_s::<8>(a, b),
                map8(a, b, |x, y| ones8(s8(x) > s8(y)))
            );
            assert_eq!(
                lanes_gt_s::<16>(a, b),
                map16(a, b, |x, y| ones16(s16(x) > s16(y)))
            );
            assert_eq!(lanes_minmax_u::<8, false>(a, b), map8(a, b, u8::min));
            assert_eq!(lanes_minmax_u::<16, true>(a, b), map16(a, b, u16::max));
            assert_eq!(
                lanes_minmax_s::<8, true>(a, b),
                map8(a, b, |x, y| s8(x).max(s8(y)) as u8)
            );
            assert_eq!(
                lanes_minmax_s::<16, false>(a, b),
                map16(a, b, |x, y| s16(x).min(s16(y)) as u16)
            );
            assert_eq!(lanes_adds_u::<8>(a, b), map8(a, b, u8::saturating_add));
            assert_eq!(lanes_subs_u::<16>(a, b), map16(a, b, u16::saturating_sub));
            assert_eq!(
                lanes_adds_s::<8>(a, b),
                map8(a, b, |x, y| s8(x).saturating_add(s8(y)) as u8)
            );
            assert_eq!(
                lanes_subs_s::<16>(a, b),
                map16(a, b, |x, y| s16(x).saturating_sub(s16(y)) as u16)
            );
            assert_eq!(
                lanes_avg_u::<8>(a, b),
                map8(a, b, |x, y| ((x as u16 + y as u16 + 1) >> 1) as u8)
            );
        }
    }

    #[test]
    fn saturations_clamp_to_the_target_range() {
        assert_eq!(sat_i8(-129), 0x80);
        assert_eq!(sat_i8(128), 0x7f);
        assert_eq!(sat_u8(-1), 0);
        assert_eq!(sat_u8(256), 0xff);
        assert_eq!(sat_i16(40000), 0x7fff);
        assert_eq!(sat_u16(-5), 0);
    }
}
