//! Fault tests against the host: code that faults (page faults on multi-part x87/FXSAVE images,
//! stores whose result an unmasked exception suppresses, #MF, #SS) runs natively in a forked
//! child, whose signal handler reports the trap number, faulting address and error code through
//! a shared page, and in the emulator over the same page layout; both outcomes must agree.
//!
//! Layout from `base`: page 0 read-write, page 1 read-only, page 2 absent, page 3 read-write,
//! page 4 absent. RDI points into it; RSI points at an FXSAVE image in page 0 that the code
//! loads first with FXRSTOR64.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::new_cpu;
use crate::{Exception, Exit, Gpr, Prot, RunLimit};

const PAGE: usize = 0x1000;
const PAGES: usize = 5;
/// Where the emulator maps the layout.
const EMU_BASE: u64 = 0x100_0000;
/// Offset of the FXSAVE image in page 0.
const IMAGE_AT: usize = 0xC00;

/// How a run ended: completed, or faulted with the vector, the faulting address relative to
/// the layout's base (page faults only) and the error code (P/W/U bits for page faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Completed,
    Fault { vector: u64, offset: i64, err: u64 },
}

fn fault(vector: u64, addr: u64, base: u64, err: u64) -> Outcome {
    let (offset, err) = if vector == 14 {
        (addr.wrapping_sub(base) as i64, err & 0x7)
    } else {
        (0, err)
    };
    Outcome::Fault {
        vector,
        offset,
        err,
    }
}

/// The shared result page of the current host run (one run at a time: [`HOST_RUN`]).
static RESULT: AtomicUsize = AtomicUsize::new(0);
static HOST_RUN: Mutex<()> = Mutex::new(());

extern "C" fn on_signal(_: libc::c_int, _: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext to an SA_SIGINFO handler; RESULT points at the
    // shared page mapped before the fork. Only plain stores and _exit (async-signal-safe).
    unsafe {
        let g = &(*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs;
        let r = RESULT.load(Ordering::Relaxed) as *mut u64;
        *r.add(1) = g[libc::REG_TRAPNO as usize] as u64;
        *r.add(2) = g[libc::REG_CR2 as usize] as u64;
        *r.add(3) = g[libc::REG_ERR as usize] as u64;
        *r = 2;
        libc::_exit(0);
    }
}

fn map(len: usize, prot: i32, flags: i32) -> *mut u8 {
    // SAFETY: a fresh anonymous mapping; checked for failure below.
    let p = unsafe { libc::mmap(core::ptr::null_mut(), len, prot, flags, -1, 0) };
    assert!(p != libc::MAP_FAILED, "mmap failed");
    p.cast()
}

/// The code run on both sides: FXRSTOR64 [RSI], `body`, FNINIT, RET.
fn wrap(body: &[u8]) -> Vec<u8> {
    let mut c = vec![0x48, 0x0F, 0xAE, 0x0E];
    c.extend_from_slice(body);
    c.extend_from_slice(&[0xDB, 0xE3, 0xC3]);
    c
}

/// Runs `body` natively with RDI = base + `rdi_off`, from the x87 state `img`.
fn host(body: &[u8], rdi_off: usize, img: &[u8; 512]) -> Outcome {
    let _one_at_a_time = HOST_RUN.lock().unwrap_or_else(|e| e.into_inner());
    let code = wrap(body);
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let private = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    let text = map(PAGE, rw | libc::PROT_EXEC, private);
    let data = map(PAGES * PAGE, rw, private);
    let result = map(PAGE, rw, libc::MAP_SHARED | libc::MAP_ANONYMOUS);
    assert!(code.len() <= PAGE);
    // SAFETY: the three mappings above are owned here and large enough for what is copied; the
    // child only makes async-signal-safe calls and runs the generated code (FXRSTOR64, the body,
    // FNINIT, RET) before _exit; the parent only waits for it.
    unsafe {
        core::ptr::copy_nonoverlapping(code.as_ptr(), text, code.len());
        core::ptr::copy_nonoverlapping(img.as_ptr(), data.add(IMAGE_AT), 512);
        libc::mprotect(data.add(PAGE).cast(), PAGE, libc::PROT_READ);
        libc::mprotect(data.add(2 * PAGE).cast(), PAGE, libc::PROT_NONE);
        libc::mprotect(data.add(4 * PAGE).cast(), PAGE, libc::PROT_NONE);
        RESULT.store(result as usize, Ordering::Relaxed);
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
                let mut sa: libc::sigaction = core::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO;
                libc::sigaction(sig, &sa, core::ptr::null_mut());
            }
            // Make the read-only page's PTE present, as the emulator's mapping always is.
            core::ptr::read_volatile(data.add(PAGE));
            let f: extern "sysv64" fn(*mut u8, *const u8) = core::mem::transmute(text);
            f(data.add(rdi_off), data.add(IMAGE_AT));
            *result.cast::<u64>() = 1;
            libc::_exit(0);
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        let r = result.cast::<u64>();
        let out = match *r {
            1 => Outcome::Completed,
            2 => fault(*r.add(1), *r.add(2), data as u64, *r.add(3)),
            other => panic!("host child ended without a report ({other}, status {status:#x})"),
        };
        libc::munmap(text.cast(), PAGE);
        libc::munmap(data.cast(), PAGES * PAGE);
        libc::munmap(result.cast(), PAGE);
        out
    }
}

/// Runs `body` in the emulator over the same layout.
fn emu(body: &[u8], rdi_off: usize, img: &[u8; 512]) -> Outcome {
    let code = wrap(body);
    let mut cpu = new_cpu();
    let b = EMU_BASE;
    let p = PAGE as u64;
    cpu.map(b, p, Prot::RW).unwrap();
    cpu.map(b + p, p, Prot::R).unwrap();
    cpu.map(b + 3 * p, p, Prot::RW).unwrap();
    cpu.write_virt(b + IMAGE_AT as u64, img).unwrap();
    cpu.write_virt(super::CODE, &code).unwrap();
    cpu.set_rip(super::CODE);
    cpu.set_gpr(Gpr::Rsp, super::STACK_TOP);
    cpu.set_gpr(Gpr::Rdi, b + rdi_off as u64);
    cpu.set_gpr(Gpr::Rsi, b + IMAGE_AT as u64);
    let exit = cpu.run(RunLimit {
        max_instructions: 1000,
        stop_at: Some(super::CODE + code.len() as u64 - 1),
    });
    match exit {
        Exit::StopAddress => Outcome::Completed,
        Exit::Exception(Exception::PageFault { addr, error_code }) => {
            fault(14, addr, b, u64::from(error_code))
        }
        Exit::Exception(e) => fault(
            u64::from(e.vector()),
            0,
            0,
            u64::from(e.error_code().unwrap_or(0)),
        ),
        other => panic!("unexpected exit {other:?}"),
    }
}

/// A quiet x87 state: all exceptions masked, empty stack.
fn quiet() -> [u8; 512] {
    let mut img = [0u8; 512];
    img[0..2].copy_from_slice(&0x037Fu16.to_le_bytes());
    img[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
    img
}

#[track_caller]
fn assert_same(body: &[u8], rdi_off: usize, img: &[u8; 512]) {
    let (h, e) = (host(body, rdi_off, img), emu(body, rdi_off, img));
    assert_eq!(h, e, "body {body:02x?} at base+{rdi_off:#x}");
}

#[test]
fn multi_part_images_fault_at_the_address_the_host_reports() {
    // (body with [rdi], image length, alignment step)
    let forms: [(&[u8], usize, usize); 10] = [
        (&[0xD9, 0x37], 28, 1),               // fnstenv [rdi]
        (&[0x66, 0xD9, 0x37], 14, 1),         // fnstenv m14 [rdi]
        (&[0xD9, 0x27], 28, 1),               // fldenv [rdi]
        (&[0x66, 0xD9, 0x27], 14, 1),         // fldenv m14 [rdi]
        (&[0xDD, 0x37], 108, 1),              // fnsave [rdi]
        (&[0x66, 0xDD, 0x37], 94, 1),         // fnsave m94 [rdi]
        (&[0xDD, 0x27], 108, 1),              // frstor [rdi]
        (&[0x66, 0xDD, 0x27], 94, 1),         // frstor m94 [rdi]
        (&[0x48, 0x0F, 0xAE, 0x07], 512, 16), // fxsave64 [rdi]
        (&[0x48, 0x0F, 0xAE, 0x0F], 512, 16), // fxrstor64 [rdi]
    ];
    let img = quiet();
    for (body, len, step) in forms {
        // Straddling each page transition by k bytes, and wholly inside each kind of page.
        for boundary in [PAGE, 2 * PAGE, 3 * PAGE, 4 * PAGE] {
            for k in [1, 2, 3, 4, 5, 13, 16, 27, len / 2, len - 1] {
                let k = (k / step).max(1) * step;
                if k < len {
                    assert_same(body, boundary - k, &img);
                }
            }
        }
        for start in [0x100, PAGE + 0x100, 2 * PAGE + 0x100] {
            assert_same(body, start, &img);
        }
    }
}

#[test]
fn suppressed_stores_still_fault_on_a_read_only_page() {
    // IE unmasked and ST(0) empty: the store is suppressed, but the page fault comes first.
    let mut img = quiet();
    img[0..2].copy_from_slice(&0x037Eu16.to_le_bytes());
    let stores: [&[u8]; 6] = [
        &[0xD9, 0x1F], // fstp dword [rdi]
        &[0xDD, 0x17], // fst qword [rdi]
        &[0xDB, 0x3F], // fstp tbyte [rdi]
        &[0xDF, 0x17], // fist word [rdi]
        &[0xDF, 0x37], // fbstp [rdi]
        &[0xDD, 0x0F], // fisttp qword [rdi]
    ];
    for body in stores {
        assert_same(body, PAGE + 0x40, &img);
        assert_same(body, PAGE - 3, &img);
        assert_same(body, 0x40, &img);
    }
}

#[test]
fn fldenv_and_frstor_raise_a_pending_exception_before_loading() {
    // ZE unmasked and pending (ES, B set).
    let mut img = quiet();
    img[0..2].copy_from_slice(&0x037Bu16.to_le_bytes());
    img[2..4].copy_from_slice(&0x8084u16.to_le_bytes());
    for body in [&[0xD9, 0x27][..], &[0xDD, 0x27], &[0x66, 0xDD, 0x27]] {
        assert_same(body, 0x100, &img);
        assert_same(body, 2 * PAGE + 0x100, &img);
    }
}

#[test]
fn fxsave_checks_a_non_canonical_address_before_alignment() {
    // push rbp; push rbx; mov rbp, imm64; mov rbx, imm64; fxsave64/fxrstor64 [rbp] or [rbx];
    // pop rbx; pop rbp. The misaligned, non-canonical address is #SS(0) through RBP.
    let nc: u64 = 0x9AAB_0F81_8716_5F3E;
    for modrm in [0x45, 0x4D, 0x03, 0x0B] {
        let mut body = vec![0x55, 0x53, 0x48, 0xBD];
        body.extend_from_slice(&nc.to_le_bytes());
        body.extend_from_slice(&[0x48, 0xBB]);
        body.extend_from_slice(&nc.to_le_bytes());
        body.extend_from_slice(&[0x48, 0x0F, 0xAE, modrm]);
        if modrm & 0xC0 == 0x40 {
            body.push(0); // disp8 for [rbp]
        }
        body.extend_from_slice(&[0x5B, 0x5D]);
        assert_same(&body, 0x100, &quiet());
    }
}
