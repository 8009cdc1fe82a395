//! CPUID: the single source of truth for what the virtual CPU advertises.
//!
//! Every feature bit set here is implemented and difftested; glibc, musl and
//! Rust pick code paths from these bits, so a bit is set only when its whole
//! instruction set is complete. The vendor string is our own, so libraries
//! take their generic (vendor-neutral) paths.

/// Feature bits of leaf 1 EDX (SDM Vol. 2A, Table 3-11).
pub mod leaf1_edx {
    /// x87 FPU on chip.
    pub const FPU: u32 = 1 << 0;
    /// Time stamp counter.
    pub const TSC: u32 = 1 << 4;
    /// CMPXCHG8B.
    pub const CX8: u32 = 1 << 8;
    /// CMOVcc (and FCMOVcc/FCOMI with FPU).
    pub const CMOV: u32 = 1 << 15;
    /// MMX technology.
    pub const MMX: u32 = 1 << 23;
    /// FXSAVE/FXRSTOR.
    pub const FXSR: u32 = 1 << 24;
    /// SSE.
    pub const SSE: u32 = 1 << 25;
    /// SSE2.
    pub const SSE2: u32 = 1 << 26;
}

/// Feature bits of leaf 1 ECX (SDM Vol. 2A, Table 3-10).
pub mod leaf1_ecx {
    /// SSE3.
    pub const SSE3: u32 = 1 << 0;
    /// SSSE3.
    pub const SSSE3: u32 = 1 << 9;
    /// CMPXCHG16B.
    pub const CX16: u32 = 1 << 13;
    /// SSE4.1.
    pub const SSE41: u32 = 1 << 19;
    /// SSE4.2.
    pub const SSE42: u32 = 1 << 20;
    /// MOVBE.
    pub const MOVBE: u32 = 1 << 22;
    /// POPCNT.
    pub const POPCNT: u32 = 1 << 23;
}

/// Feature bits of leaf 7 subleaf 0 EBX.
pub mod leaf7_ebx {
    /// BMI1 (andn, bextr, blsi, blsmsk, blsr, tzcnt).
    pub const BMI1: u32 = 1 << 3;
    /// BMI2 (bzhi, mulx, pdep, pext, rorx, sarx, shlx, shrx).
    pub const BMI2: u32 = 1 << 8;
    /// ADX (adcx, adox).
    pub const ADX: u32 = 1 << 19;
    /// Supervisor-mode execution prevention (CR4.SMEP).
    pub const SMEP: u32 = 1 << 7;
    /// Supervisor-mode access prevention (CR4.SMAP, stac/clac).
    pub const SMAP: u32 = 1 << 20;
}

/// Feature bits of leaf 0x8000_0001 ECX.
pub mod ext1_ecx {
    /// LAHF/SAHF in 64-bit mode.
    pub const LAHF_LM: u32 = 1 << 0;
    /// LZCNT.
    pub const ABM: u32 = 1 << 5;
}

/// Feature bits of leaf 0x8000_0001 EDX.
pub mod ext1_edx {
    /// SYSCALL/SYSRET.
    pub const SYSCALL: u32 = 1 << 11;
    /// Execute disable.
    pub const NX: u32 = 1 << 20;
    /// RDTSCP.
    pub const RDTSCP: u32 = 1 << 27;
    /// Long mode.
    pub const LM: u32 = 1 << 29;
}

/// What this CPU advertises. Extend a mask only when its family is complete.
/// x87, MMX (mmx), SSE and SSE2 (floating point and moves: sse_move, sse_fp,
/// sse_convert, sse_shuffle; packed integer: sse_int).
pub const LEAF1_EDX: u32 = leaf1_edx::FPU
    | leaf1_edx::TSC
    | leaf1_edx::CX8
    | leaf1_edx::CMOV
    | leaf1_edx::MMX
    | leaf1_edx::FXSR
    | leaf1_edx::SSE
    | leaf1_edx::SSE2;
/// Leaf 1 ECX as advertised. SSE3: addsub, hadd/hsub, movddup/movshdup/
/// movsldup, lddqu (SSE families) and fisttp (x87). SSSE3 (sse4_int,
/// sse4_int_shuffle), SSE4.1 (those two plus sse_fp's round/dp/blend/
/// insertps/extractps) and SSE4.2 (pcmpgtq, crc32 in sse4_int; the string
/// compares in sse42_string). CMPXCHG16B and MOVBE: exchange. POPCNT: bit.
pub const LEAF1_ECX: u32 = leaf1_ecx::SSE3
    | leaf1_ecx::SSSE3
    | leaf1_ecx::SSE41
    | leaf1_ecx::SSE42
    | leaf1_ecx::CX16
    | leaf1_ecx::MOVBE
    | leaf1_ecx::POPCNT;
/// Leaf 7 EBX as advertised.
pub const LEAF7_EBX: u32 =
    leaf7_ebx::BMI1 | leaf7_ebx::BMI2 | leaf7_ebx::ADX | leaf7_ebx::SMEP | leaf7_ebx::SMAP;
/// Leaf 0x8000_0001 ECX as advertised.
pub const EXT1_ECX: u32 = ext1_ecx::LAHF_LM | ext1_ecx::ABM;
/// Leaf 0x8000_0001 EDX as advertised.
pub const EXT1_EDX: u32 = ext1_edx::SYSCALL | ext1_edx::NX | ext1_edx::RDTSCP | ext1_edx::LM;

/// The vendor string (leaf 0: EBX, EDX, ECX).
pub const VENDOR: &[u8; 12] = b"LockstepVCPU";

/// Returns EAX, EBX, ECX, EDX for `leaf`/`subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    let le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    match leaf {
        0 => [
            0x16,
            le(&VENDOR[0..4]),
            le(&VENDOR[8..12]),
            le(&VENDOR[4..8]),
        ],
        // Family 6, model 0x0f, stepping 1; CLFLUSH line size 8 (x8 = 64 bytes).
        1 => [0x0000_06f1, 0x0000_0800, LEAF1_ECX, LEAF1_EDX],
        7 if subleaf == 0 => [0, LEAF7_EBX, 0, 0],
        // TSC = crystal (ECX Hz) * EBX / EAX: 1 GHz, one cycle per nanosecond.
        0x15 => [1, 1, emu_abi::timekeeping::TSC_HZ as u32, 0],
        // Base, maximum and bus frequency in MHz.
        0x16 => [1000, 1000, 100, 0],
        0x8000_0000 => [0x8000_0008, 0, 0, 0],
        0x8000_0001 => [0, 0, EXT1_ECX, EXT1_EDX],
        0x8000_0002..=0x8000_0004 => {
            let name = b"lockstep virtual x86-64 CPU\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
            let off = ((leaf - 0x8000_0002) * 16) as usize;
            let b = &name[off..off + 16];
            [le(&b[0..4]), le(&b[4..8]), le(&b[8..12]), le(&b[12..16])]
        }
        // 40 physical, 48 linear address bits.
        0x8000_0008 => [0x0000_3028, 0, 0, 0],
        _ => [0, 0, 0, 0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_string_is_in_ebx_edx_ecx_order() {
        let [max, b, c, d] = cpuid(0, 0);
        assert!(max >= 1);
        let mut v = Vec::new();
        for r in [b, d, c] {
            v.extend_from_slice(&r.to_le_bytes());
        }
        assert_eq!(&v, VENDOR);
    }

    #[test]
    fn sse_sse2_sse3_are_advertised() {
        let [_, _, ecx, edx] = cpuid(1, 0);
        assert_ne!(edx & leaf1_edx::MMX, 0);
        assert_ne!(edx & leaf1_edx::SSE, 0);
        assert_ne!(edx & leaf1_edx::SSE2, 0);
        assert_ne!(ecx & leaf1_ecx::SSE3, 0);
    }

    #[test]
    fn ssse3_sse41_sse42_are_advertised() {
        let [_, _, ecx, _] = cpuid(1, 0);
        assert_ne!(ecx & leaf1_ecx::SSSE3, 0);
        assert_ne!(ecx & leaf1_ecx::SSE41, 0);
        assert_ne!(ecx & leaf1_ecx::SSE42, 0);
    }

    #[test]
    fn long_mode_and_nx_are_advertised() {
        let [_, _, _, edx] = cpuid(0x8000_0001, 0);
        assert_ne!(edx & ext1_edx::LM, 0);
        assert_ne!(edx & ext1_edx::NX, 0);
    }
}
