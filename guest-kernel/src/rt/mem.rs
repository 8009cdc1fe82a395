//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` for the freestanding kernel.
//!
//! Precompiled `compiler_builtins` lacks them on this target (guest-build.md pitfall 1),
//! and a plain Rust loop may be compiled back into a call to itself, so the bodies are
//! string instructions. In the guest build they are exported under their C names; on
//! the host they are ordinary functions, unit-tested against slices.
#![allow(unsafe_code)] // C-ABI memory builtins work on raw pointers by definition

use core::arch::asm;

/// Copies `n` bytes from `src` to `dest` (forward `rep movsb`); returns `dest`.
///
/// # Safety
/// As C's `memcpy`: both ranges valid for `n` bytes and not overlapping.
#[cfg_attr(guest_kernel, no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges; DF is clear per the SysV ABI.
    unsafe {
        asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dest => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
    dest
}

/// Copies `n` bytes from `src` to `dest`, which may overlap; returns `dest`.
///
/// # Safety
/// As C's `memmove`: both ranges valid for `n` bytes.
#[cfg_attr(guest_kernel, no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // dest is below src or past its end: a forward copy never reads a byte it wrote.
        // SAFETY: the caller guarantees both ranges.
        return unsafe { memcpy(dest, src, n) };
    }
    // dest overlaps the tail of src: copy backwards from the last byte, then restore DF.
    // SAFETY: the caller guarantees both ranges; n > 0 here, so n - 1 is in range.
    unsafe {
        asm!(
            "std",
            "rep movsb",
            "cld",
            inout("rcx") n => _,
            inout("rdi") dest.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack)
        );
    }
    dest
}

/// Fills `n` bytes at `dest` with the low byte of `c` (`rep stosb`); returns `dest`.
///
/// # Safety
/// As C's `memset`: the range valid for `n` bytes.
#[cfg_attr(guest_kernel, no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees the range; DF is clear per the SysV ABI.
    unsafe {
        asm!(
            "rep stosb",
            inout("rcx") n => _,
            inout("rdi") dest => _,
            in("al") c as u8,
            options(nostack, preserves_flags)
        );
    }
    dest
}

/// Compares `n` bytes: negative, zero or positive as the first differing byte of `a` is
/// below, equal to or above that of `b` (as unsigned bytes).
///
/// # Safety
/// As C's `memcmp`: both ranges valid for `n` bytes.
#[cfg_attr(guest_kernel, no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let result: i32;
    // SAFETY: the caller guarantees both ranges. `repe cmpsb` compares [rsi] with [rdi] and
    // stops after the first difference, leaving both pointers one past it.
    unsafe {
        asm!(
            "xor eax, eax",
            "test rcx, rcx",
            "jz 2f",
            "repe cmpsb",
            "je 2f",
            "movzx eax, byte ptr [rsi - 1]",
            "movzx ecx, byte ptr [rdi - 1]",
            "sub eax, ecx",
            "2:",
            inout("rcx") n => _,
            inout("rsi") a => _,
            inout("rdi") b => _,
            out("eax") result,
            options(nostack, readonly)
        );
    }
    result
}

/// Compares `n` bytes for equality only: zero if equal, nonzero otherwise.
///
/// # Safety
/// As C's `bcmp`: both ranges valid for `n` bytes.
#[cfg_attr(guest_kernel, no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn memcpy_copies_exactly_n_bytes() {
        for n in [0, 1, 7, 64, 1000] {
            let src = pattern(n);
            let mut dst = vec![0xaa; n + 2];

            // SAFETY: src has n bytes, dst n + 2.
            let ret = unsafe { memcpy(dst.as_mut_ptr(), src.as_ptr(), n) };

            assert_eq!(ret, dst.as_mut_ptr());
            assert_eq!(&dst[..n], &src[..]);
            assert_eq!(&dst[n..], &[0xaa, 0xaa]);
        }
    }

    #[test]
    fn memmove_handles_overlap_both_ways() {
        for (from, to, n) in [(0, 5, 20), (5, 0, 20), (3, 4, 1), (0, 0, 10), (2, 9, 0)] {
            let mut buf = pattern(32);
            let mut expect = buf.clone();
            expect.copy_within(from..from + n, to);
            let base = buf.as_mut_ptr();

            // SAFETY: from + n and to + n are within the 32-byte buffer.
            unsafe { memmove(base.add(to), base.add(from), n) };

            assert_eq!(buf, expect, "from {from} to {to} n {n}");
        }
    }

    #[test]
    fn memmove_leaves_direction_flag_clear() {
        let mut buf = pattern(16);
        let base = buf.as_mut_ptr();
        // SAFETY: both ranges within the buffer.
        unsafe { memmove(base.add(1), base, 8) };
        let rflags: u64;
        // SAFETY: reads RFLAGS through the stack; no other effect.
        unsafe { asm!("pushfq", "pop {}", out(reg) rflags) };

        assert_eq!(rflags & (1 << 10), 0);
    }

    #[test]
    fn memset_fills_low_byte_of_value() {
        let mut buf = vec![0u8; 10];

        // SAFETY: 8 of the buffer's 10 bytes.
        unsafe { memset(buf.as_mut_ptr().add(1), 0x1ab, 8) };

        assert_eq!(buf, [0, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0]);
    }

    #[test]
    fn memcmp_orders_like_unsigned_bytes() {
        let cases: [(&[u8], &[u8], i32); 6] = [
            (b"", b"", 0),
            (b"abc", b"abc", 0),
            (b"abd", b"abc", 1),
            (b"abc", b"abd", -1),
            (&[0x80], &[0x7f], 1),
            (&[0, 0, 1], &[0, 0, 0xff], -1),
        ];
        for (a, b, sign) in cases {
            // SAFETY: both slices have a.len() bytes.
            let r = unsafe { memcmp(a.as_ptr(), b.as_ptr(), a.len()) };
            // SAFETY: as above.
            let eq = unsafe { bcmp(a.as_ptr(), b.as_ptr(), a.len()) };

            assert_eq!(r.signum(), sign, "{a:?} {b:?}");
            assert_eq!(eq == 0, sign == 0);
        }
    }

    #[test]
    fn memcmp_stops_at_n() {
        // SAFETY: 2 bytes of each.
        let r = unsafe { memcmp(b"abX".as_ptr(), b"abY".as_ptr(), 2) };

        assert_eq!(r, 0);
    }
}
