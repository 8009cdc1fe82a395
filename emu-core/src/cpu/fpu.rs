//! x87 FPU and SSE control state, and the FXSAVE64 image (SDM Vol. 1, 10.5.1).
//!
//! The x87 registers are stored physically (R0..R7) as 80-bit values in the
//! low bits of a `u128`; ST(i) is R[(TOP + i) mod 8]. The tag word is kept in
//! its full 2-bit-per-register form (as `fnstenv` stores it).

/// The x87 state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fpu {
    /// Control word (FCW).
    pub fcw: u16,
    /// Status word (FSW), TOP in bits 13:11.
    pub fsw: u16,
    /// Full tag word: 2 bits per physical register (00 valid, 01 zero, 10 special, 11 empty).
    pub ftw: u16,
    /// Physical registers R0..R7, 80 bits each in the low bits.
    pub regs: [u128; 8],
    /// Last x87 opcode (11 bits).
    pub fop: u16,
    /// Last x87 instruction pointer.
    pub fip: u64,
    /// Last x87 data pointer.
    pub fdp: u64,
}

impl Default for Fpu {
    /// The state after `fninit`.
    fn default() -> Self {
        Self {
            fcw: 0x037f,
            fsw: 0,
            ftw: 0xffff,
            regs: [0; 8],
            fop: 0,
            fip: 0,
            fdp: 0,
        }
    }
}

/// Tag values.
pub mod tag {
    /// Valid number.
    pub const VALID: u16 = 0b00;
    /// Zero.
    pub const ZERO: u16 = 0b01;
    /// NaN, infinity, denormal or unsupported encoding.
    pub const SPECIAL: u16 = 0b10;
    /// Empty.
    pub const EMPTY: u16 = 0b11;
}

/// MXCSR bits that may be set (DAZ supported): the MXCSR_MASK we report.
pub const MXCSR_MASK: u32 = 0xffff;

impl Fpu {
    /// TOP (the physical index of ST(0)).
    #[inline]
    pub fn top(&self) -> usize {
        ((self.fsw >> 11) & 7) as usize
    }

    /// The tag a register's contents imply (used when restoring from an abridged tag).
    pub fn classify(value: u128) -> u16 {
        let exp = ((value >> 64) & 0x7fff) as u16;
        let mant = value as u64;
        if exp == 0 && mant == 0 {
            tag::ZERO
        } else if exp == 0x7fff || exp == 0 || mant >> 63 == 0 {
            tag::SPECIAL
        } else {
            tag::VALID
        }
    }

    /// The abridged (one bit per register, 1 = not empty) tag byte of FXSAVE.
    pub fn abridged_tag(&self) -> u8 {
        (0..8).fold(0u8, |acc, i| {
            if (self.ftw >> (2 * i)) & 3 != tag::EMPTY {
                acc | (1 << i)
            } else {
                acc
            }
        })
    }

    /// Rebuilds the full tag word from an abridged tag byte and the registers.
    pub fn set_abridged_tag(&mut self, abridged: u8) {
        self.ftw = (0..8).fold(0u16, |acc, i| {
            let t = if abridged & (1 << i) == 0 {
                tag::EMPTY
            } else {
                Self::classify(self.regs[i])
            };
            acc | (t << (2 * i))
        });
    }
}

/// Writes the 512-byte FXSAVE64 image of `fpu`, `mxcsr` and `xmm`.
pub fn fxsave_image(fpu: &Fpu, mxcsr: u32, xmm: &[u128; 16]) -> [u8; 512] {
    let mut img = [0u8; 512];
    img[0..2].copy_from_slice(&fpu.fcw.to_le_bytes());
    img[2..4].copy_from_slice(&fpu.fsw.to_le_bytes());
    img[4] = fpu.abridged_tag();
    img[6..8].copy_from_slice(&fpu.fop.to_le_bytes());
    img[8..16].copy_from_slice(&fpu.fip.to_le_bytes());
    img[16..24].copy_from_slice(&fpu.fdp.to_le_bytes());
    img[24..28].copy_from_slice(&mxcsr.to_le_bytes());
    img[28..32].copy_from_slice(&MXCSR_MASK.to_le_bytes());
    let top = fpu.top();
    for i in 0..8 {
        let r = fpu.regs[(top + i) & 7];
        let off = 32 + 16 * i;
        img[off..off + 10].copy_from_slice(&r.to_le_bytes()[..10]);
    }
    for (i, x) in xmm.iter().enumerate() {
        let off = 160 + 16 * i;
        img[off..off + 16].copy_from_slice(&x.to_le_bytes());
    }
    img
}

/// Error from restoring an FXSAVE image: MXCSR has reserved bits set (#GP(0)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedMxcsrBits(pub u32);

/// Restores `fpu`, `mxcsr` and `xmm` from a 512-byte FXSAVE64 image.
pub fn fxrstor_image(
    img: &[u8; 512],
    fpu: &mut Fpu,
    mxcsr: &mut u32,
    xmm: &mut [u128; 16],
) -> Result<(), ReservedMxcsrBits> {
    let le16 = |o: usize| u16::from_le_bytes([img[o], img[o + 1]]);
    let le32 = |o: usize| u32::from_le_bytes([img[o], img[o + 1], img[o + 2], img[o + 3]]);
    let le64 = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&img[o..o + 8]);
        u64::from_le_bytes(b)
    };
    let new_mxcsr = le32(24);
    if new_mxcsr & !MXCSR_MASK != 0 {
        return Err(ReservedMxcsrBits(new_mxcsr));
    }
    fpu.fcw = le16(0);
    fpu.fsw = le16(2);
    fpu.fop = le16(6) & 0x7ff;
    fpu.fip = le64(8);
    fpu.fdp = le64(16);
    let top = fpu.top();
    for i in 0..8 {
        let off = 32 + 16 * i;
        let mut b = [0u8; 16];
        b[..10].copy_from_slice(&img[off..off + 10]);
        fpu.regs[(top + i) & 7] = u128::from_le_bytes(b);
    }
    fpu.set_abridged_tag(img[4]);
    *mxcsr = new_mxcsr;
    for (i, x) in xmm.iter_mut().enumerate() {
        let off = 160 + 16 * i;
        let mut b = [0u8; 16];
        b.copy_from_slice(&img[off..off + 16]);
        *x = u128::from_le_bytes(b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fxsave_roundtrip_preserves_state_in_stack_order() {
        let mut fpu = Fpu {
            fsw: 3 << 11,
            ..Fpu::default()
        };
        fpu.regs[3] = 0x3fff_8000_0000_0000_0000; // 1.0 at ST(0)
        fpu.ftw = !(3u16 << 6); // R3 valid
        let xmm = [7u128; 16];
        let img = fxsave_image(&fpu, 0x1f80, &xmm);
        assert_eq!(img[4], 1 << 3);
        assert_eq!(
            &img[32..42],
            &0x3fff_8000_0000_0000_0000u128.to_le_bytes()[..10]
        );
        let (mut f2, mut m2, mut x2) = (Fpu::default(), 0, [0u128; 16]);
        fxrstor_image(&img, &mut f2, &mut m2, &mut x2).unwrap();
        assert_eq!(f2, fpu);
        assert_eq!((m2, x2), (0x1f80, xmm));
    }

    #[test]
    fn fxrstor_rejects_reserved_mxcsr_bits() {
        let mut img = [0u8; 512];
        img[24..28].copy_from_slice(&0x1_0000u32.to_le_bytes());
        let (mut f, mut m, mut x) = (Fpu::default(), 0, [0u128; 16]);
        assert_eq!(
            fxrstor_image(&img, &mut f, &mut m, &mut x),
            Err(ReservedMxcsrBits(0x1_0000))
        );
    }
}
