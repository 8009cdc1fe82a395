//! Lane views of 128-bit XMM values for the packed-integer families
//! (`sse_int`, `sse_int_shuffle`, `sse4_int`, `sse42_string`): byte and word
//! arrays, lane-wise maps, and the signed/unsigned saturations of the pack
//! and saturating-arithmetic instructions (SDM Vol. 1, 4.6.2).
//!
//! Everything is plain array code that the compiler turns into host SIMD
//! where it can; lane 0 is the least significant.

/// The sixteen bytes.
#[inline(always)]
pub fn bytes(v: u128) -> [u8; 16] {
    v.to_le_bytes()
}

/// Packs sixteen bytes.
#[inline(always)]
pub fn from_bytes(b: [u8; 16]) -> u128 {
    u128::from_le_bytes(b)
}

/// The eight 16-bit words.
#[inline(always)]
pub fn words(v: u128) -> [u16; 8] {
    let b = v.to_le_bytes();
    std::array::from_fn(|k| u16::from_le_bytes([b[2 * k], b[2 * k + 1]]))
}

/// Packs eight words.
#[inline(always)]
pub fn from_words(w: [u16; 8]) -> u128 {
    let mut b = [0u8; 16];
    for (k, x) in w.iter().enumerate() {
        b[2 * k..2 * k + 2].copy_from_slice(&x.to_le_bytes());
    }
    u128::from_le_bytes(b)
}

/// The four doublewords.
#[inline(always)]
pub fn dwords(v: u128) -> [u32; 4] {
    let b = v.to_le_bytes();
    std::array::from_fn(|k| {
        u32::from_le_bytes([b[4 * k], b[4 * k + 1], b[4 * k + 2], b[4 * k + 3]])
    })
}

/// Packs four doublewords.
#[inline(always)]
pub fn from_dwords(d: [u32; 4]) -> u128 {
    let mut b = [0u8; 16];
    for (k, x) in d.iter().enumerate() {
        b[4 * k..4 * k + 4].copy_from_slice(&x.to_le_bytes());
    }
    u128::from_le_bytes(b)
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
