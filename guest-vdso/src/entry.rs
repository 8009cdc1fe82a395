//! The exported entry points of `linux-vdso.so.1` (built only with `--cfg guest_vdso`).
//!
//! Each `__vdso_*` function reads the `[vvar]` page through [`crate::time`] and falls back
//! to the real `syscall` when the page cannot answer. The page's address comes from a
//! RIP-relative `lea` of `__vdso_vvar`, a symbol `vdso.lds` defines relative to the image,
//! so the image needs no relocation wherever the kernel maps it. Also here: the weak
//! unprefixed aliases, the `Linux` version note, and the panic handler (unreachable: the
//! reader has no panicking paths, and a test checks the image has no panic symbols).
#![allow(unsafe_code)] // exported C-ABI functions writing through caller pointers, raw asm

use core::arch::{asm, global_asm};
use core::ffi::c_void;

use emu_abi::identity::LINUX_VERSION_CODE;
use emu_abi::vvar::VvarData;

use crate::time::{self, Timespec, Timeval, Timezone};

/// Linux x86-64 syscall numbers of the fallbacks (arch/x86/entry/syscalls/syscall_64.tbl).
const SYS_GETTIMEOFDAY: u64 = 96;
const SYS_CLOCK_GETTIME: u64 = 228;
const SYS_CLOCK_GETRES: u64 = 229;

/// The `[vvar]` page, directly below this image.
fn vvar() -> &'static VvarData {
    let page: *const VvarData;
    // SAFETY: computes an address only; `__vdso_vvar` is defined by vdso.lds.
    unsafe {
        asm!(
            "lea {}, [rip + __vdso_vvar]",
            out(reg) page,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    // SAFETY: the kernel maps the vvar page readable below the image for as long as the
    // image is mapped, suitably aligned (page-aligned); all its fields are atomics.
    unsafe { &*page }
}

/// The TSC, read in program order with respect to the loads around it (`lfence; rdtsc`).
fn rdtsc_ordered() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reads the TSC; touches no memory.
    unsafe {
        asm!(
            "lfence",
            "rdtsc",
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack, preserves_flags)
        );
    }
    u64::from(hi) << 32 | u64::from(lo)
}

/// The real system call `nr` with two arguments; returns rax (a result or `-errno`).
fn syscall2(nr: u64, a0: u64, a1: u64) -> i64 {
    let ret: i64;
    // SAFETY: the kernel validates the arguments; it may write the memory they point to,
    // which the caller of the vDSO function handed us for exactly that.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as i64 => ret,
            in("rdi") a0,
            in("rsi") a1,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

/// `int clock_gettime(clockid_t, struct timespec *)`.
///
/// # Safety
/// `ts` must be valid for writes when the clock is served here (as for the syscall).
#[no_mangle]
pub unsafe extern "C" fn __vdso_clock_gettime(clock: i32, ts: *mut Timespec) -> i32 {
    match time::clock_gettime(vvar(), clock, rdtsc_ordered) {
        Some(now) => {
            // SAFETY: the caller passes a writable timespec, as clock_gettime(2) requires.
            unsafe { ts.write(now) };
            0
        }
        None => syscall2(SYS_CLOCK_GETTIME, clock as u64, ts as u64) as i32,
    }
}

/// `int gettimeofday(struct timeval *, struct timezone *)`; either pointer may be NULL.
///
/// # Safety
/// Non-NULL pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn __vdso_gettimeofday(tv: *mut Timeval, tz: *mut Timezone) -> i32 {
    let page = vvar();
    if !tv.is_null() {
        let Some(now) = time::gettimeofday(page, rdtsc_ordered) else {
            return syscall2(SYS_GETTIMEOFDAY, tv as u64, tz as u64) as i32;
        };
        // SAFETY: non-NULL and writable per the caller's contract.
        unsafe { tv.write(now) };
    }
    if !tz.is_null() {
        // SAFETY: as above.
        unsafe { tz.write(time::timezone(page)) };
    }
    0
}

/// `time_t time(time_t *)`; the pointer may be NULL.
///
/// # Safety
/// A non-NULL pointer must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn __vdso_time(t: *mut i64) -> i64 {
    let now = time::time(vvar());
    if !t.is_null() {
        // SAFETY: non-NULL and writable per the caller's contract.
        unsafe { t.write(now) };
    }
    now
}

/// `long getcpu(unsigned *cpu, unsigned *node, void *cache)`: lockstep has one CPU (0)
/// on node 0. Either pointer may be NULL; the cache argument is unused, as in Linux.
///
/// # Safety
/// Non-NULL pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn __vdso_getcpu(cpu: *mut u32, node: *mut u32, _cache: *mut c_void) -> i64 {
    if !cpu.is_null() {
        // SAFETY: non-NULL and writable per the caller's contract.
        unsafe { cpu.write(0) };
    }
    if !node.is_null() {
        // SAFETY: as above.
        unsafe { node.write(0) };
    }
    0
}

/// `int clock_getres(clockid_t, struct timespec *)`; the pointer may be NULL.
///
/// # Safety
/// A non-NULL pointer must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn __vdso_clock_getres(clock: i32, res: *mut Timespec) -> i32 {
    let Some(resolution) = time::clock_getres(vvar(), clock) else {
        return syscall2(SYS_CLOCK_GETRES, clock as u64, res as u64) as i32;
    };
    if !res.is_null() {
        // SAFETY: non-NULL and writable per the caller's contract.
        unsafe { res.write(resolution) };
    }
    0
}

// Weak aliases without the prefix (as Linux's vDSO exports them), and the `Linux` note
// (name "Linux", type 0, LINUX_VERSION_CODE) that glibc may read the kernel version from.
global_asm!(
    ".weak clock_gettime",
    ".type clock_gettime, @function",
    ".set clock_gettime, {clock_gettime}",
    ".weak gettimeofday",
    ".type gettimeofday, @function",
    ".set gettimeofday, {gettimeofday}",
    ".weak time",
    ".type time, @function",
    ".set time, {time}",
    ".weak getcpu",
    ".type getcpu, @function",
    ".set getcpu, {getcpu}",
    ".weak clock_getres",
    ".type clock_getres, @function",
    ".set clock_getres, {clock_getres}",
    ".pushsection .note.Linux, \"a\", @note",
    ".balign 4",
    ".long 2f - 1f",
    ".long 4f - 3f",
    ".long 0",
    "1: .asciz \"Linux\"",
    "2: .balign 4",
    "3: .long {version}",
    "4: .balign 4",
    ".popsection",
    clock_gettime = sym __vdso_clock_gettime,
    gettimeofday = sym __vdso_gettimeofday,
    time = sym __vdso_time,
    getcpu = sym __vdso_getcpu,
    clock_getres = sym __vdso_clock_getres,
    version = const LINUX_VERSION_CODE,
);

/// Unreachable (see the module doc); traps rather than loop if it ever runs.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        // SAFETY: ud2 raises #UD (SIGILL), touching nothing.
        unsafe { asm!("ud2", options(nomem, nostack)) };
    }
}
