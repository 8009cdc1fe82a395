//! Host-oracle tests of the MMX/x87 aliasing rules: the same code runs
//! natively and in the emulator from the same x87 register file (loaded
//! with FLD, then some registers freed and TOP moved), and the full tag
//! word and status word (FNSTENV), the physical register images (FXSAVE)
//! and stored results must agree. The #MF rule is checked against the SDM.
#![allow(unsafe_code)] // reason: the host oracle executes generated machine code natively

use iced_x86::code_asm::*;

use crate::{Cpu, CpuConfig, Exception, Exit, Gpr, Prot, RunLimit};

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;
const STACK_TOP: u64 = 0x7fff_0000;
const DATA_LEN: usize = 0x1000;

/// Offsets in the data block (base in RDI).
const FXSAVE_AT: i32 = 0x000;
const ENV_AT: i32 = 0x200;
const OUT_AT: i32 = 0x240;
const IN_AT: i32 = 0x400;

/// Eight 80-bit inputs covering every tag class: valid, zero, special
/// (NaN, infinity, denormal) and an MMX-looking image.
const INPUTS: [(u64, u16); 8] = [
    (0x8000_0000_0000_0000, 0x3fff),
    (0, 0),
    (0xc000_0000_0000_0000, 0x7fff),
    (0x1234_5678_9abc_def0, 0x0000),
    (0xa5a5_5a5a_0f0f_f0f0, 0xc005),
    (0x8000_0000_0000_0000, 0xffff),
    (0, 0x8000),
    (0xfedc_ba98_7654_3210, 0xffff),
];

/// The data block with the inputs at `IN_AT` and test operands after them.
fn data() -> [u8; DATA_LEN] {
    let mut d = [0u8; DATA_LEN];
    for (k, (m, e)) in INPUTS.iter().enumerate() {
        let o = IN_AT as usize + 16 * k;
        d[o..o + 8].copy_from_slice(&m.to_le_bytes());
        d[o + 8..o + 10].copy_from_slice(&e.to_le_bytes());
    }
    let o = IN_AT as usize + 0x100;
    d[o..o + 16].copy_from_slice(&0x8000_0001_7fff_ffff_0123_4567_89ab_cdefu128.to_le_bytes());
    d
}

/// Assembles: FNINIT and eight FLDs of the inputs (TOP = 0, all tagged),
/// FFREE of ST(5) and ST(6), three FINCSTPs (TOP = 3), then `body`, then
/// FNSTENV, FXSAVE64 and the stop point (returns it), FNINIT and RET.
fn program(body: impl FnOnce(&mut CodeAssembler)) -> (Vec<u8>, usize) {
    let mut a = CodeAssembler::new(64).unwrap();
    a.fninit().unwrap();
    for k in (0..8).rev() {
        a.fld(tword_ptr(rdi + IN_AT + 16 * k)).unwrap();
    }
    a.ffree(st5).unwrap();
    a.ffree(st6).unwrap();
    for _ in 0..3 {
        a.fincstp().unwrap();
    }
    body(&mut a);
    a.fnstenv(ptr(rdi + ENV_AT)).unwrap();
    a.fxsave64(ptr(rdi + FXSAVE_AT)).unwrap();
    let head = a.assemble(CODE).unwrap();
    let stop = head.len();
    let mut code = head;
    code.extend_from_slice(&[0xdb, 0xe3, 0xc3]); // fninit; ret
    (code, stop)
}

/// Runs `code` natively with RDI pointing at a copy of `data`.
fn run_host(code: &[u8], data: &mut [u8; DATA_LEN]) {
    // SAFETY: maps a fresh private anonymous page; checked for failure below.
    let page = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            0x1000,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(page != libc::MAP_FAILED, "mmap failed");
    assert!(code.len() <= 0x1000);
    // SAFETY: `page` is a writable mapping of 0x1000 bytes and `code` fits in it.
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), page.cast::<u8>(), code.len()) };
    // FXSAVE needs a 16-byte aligned block.
    let mut aligned = vec![0u128; DATA_LEN / 16];
    // SAFETY: `aligned` is DATA_LEN bytes long and plain old data.
    let bytes =
        unsafe { core::slice::from_raw_parts_mut(aligned.as_mut_ptr().cast::<u8>(), DATA_LEN) };
    bytes.copy_from_slice(data);
    // SAFETY: the generated code is a complete function: it keeps RSP balanced, ends in RET,
    // touches only RAX, RDI, XMM0/XMM1, RFLAGS, the x87/MMX state (left initialized by
    // FNINIT) and the data block at RDI.
    let f: extern "sysv64" fn(*mut u8) = unsafe { core::mem::transmute(page) };
    f(bytes.as_mut_ptr());
    data.copy_from_slice(bytes);
    // SAFETY: unmaps the page mapped above.
    unsafe { libc::munmap(page, 0x1000) };
}

/// Runs `code` in the emulator up to `stop` with RDI pointing at a copy of `data`.
fn run_emu(code: &[u8], stop: usize, data: &mut [u8; DATA_LEN]) -> (Exit, Cpu) {
    let mut cpu = Cpu::new(CpuConfig { ram_size: 1 << 20 }).unwrap();
    cpu.map(CODE, 0x1000, Prot::RWX).unwrap();
    cpu.map(DATA, 0x1000, Prot::RW).unwrap();
    cpu.map(STACK_TOP - 0x1000, 0x1000, Prot::RW).unwrap();
    cpu.write_virt(CODE, code).unwrap();
    cpu.write_virt(DATA, data).unwrap();
    cpu.set_rip(CODE);
    cpu.set_gpr(Gpr::Rsp, STACK_TOP);
    cpu.set_gpr(Gpr::Rdi, DATA);
    let exit = cpu.run(RunLimit {
        max_instructions: 1000,
        stop_at: Some(CODE + stop as u64),
    });
    cpu.read_virt(DATA, data).unwrap();
    (exit, cpu)
}

/// Byte ranges compared: FXSAVE FCW/FSW/abridged tag and the register
/// images, FNSTENV FCW/FSW/full tag word, and the output area (the
/// instruction and data pointers are not compared).
const COMPARED: [(usize, usize); 4] = [
    (FXSAVE_AT as usize, FXSAVE_AT as usize + 6),
    (FXSAVE_AT as usize + 32, FXSAVE_AT as usize + 160),
    (ENV_AT as usize, ENV_AT as usize + 12),
    (OUT_AT as usize, OUT_AT as usize + 32),
];

/// Runs `body` natively and emulated and compares the x87 state after it.
fn check(name: &str, body: impl Fn(&mut CodeAssembler)) -> [u8; DATA_LEN] {
    let (code, stop) = program(body);
    let mut host = data();
    run_host(&code, &mut host);
    let mut emu = data();
    let (exit, _) = run_emu(&code, stop, &mut emu);
    assert_eq!(exit, Exit::StopAddress, "{name}");
    for (from, to) in COMPARED {
        assert_eq!(
            host[from..to],
            emu[from..to],
            "{name}: bytes {from:#x}..{to:#x} differ"
        );
    }
    host
}

fn le16(d: &[u8], o: i32) -> u16 {
    u16::from_le_bytes([d[o as usize], d[o as usize + 1]])
}

#[test]
fn setup_has_empty_registers_and_nonzero_top() {
    let d = check("setup", |_| {});
    assert_eq!((le16(&d, ENV_AT + 4) >> 11) & 7, 3, "TOP");
    assert_eq!(le16(&d, ENV_AT + 8) & 0x3c00, 0x3c00, "R5, R6 empty");
}

#[test]
fn writing_mm_sets_top_zero_tags_and_exponent_as_host() {
    let d = check("movq mm3, m64", |a| {
        a.movq(mm3, qword_ptr(rdi + IN_AT + 0x100)).unwrap();
    });
    assert_eq!((le16(&d, ENV_AT + 4) >> 11) & 7, 0, "TOP");
    assert_eq!(d[FXSAVE_AT as usize + 4], 0xff, "abridged tags");
    check("paddb mm6, mm1", |a| a.paddb(mm6, mm1).unwrap());
    check("pxor mm0, mm0", |a| a.pxor(mm0, mm0).unwrap());
    check("psllq mm7, 70", |a| a.psllq(mm7, 70).unwrap());
    check("movdq2q mm5, xmm0", |a| {
        a.movdqu(xmm0, xmmword_ptr(rdi + IN_AT + 0x100)).unwrap();
        a.movdq2q(mm5, xmm0).unwrap();
    });
}

#[test]
fn reading_mm_transitions_without_changing_contents_as_host() {
    check("movd eax, mm5", |a| {
        a.movd(eax, mm5).unwrap();
        a.mov(dword_ptr(rdi + OUT_AT), eax).unwrap();
    });
    check("pextrw eax, mm2, 3", |a| {
        a.pextrw(eax, mm2, 3).unwrap();
        a.mov(dword_ptr(rdi + OUT_AT), eax).unwrap();
    });
    check("movq m64, mm6", |a| {
        a.movq(qword_ptr(rdi + OUT_AT), mm6).unwrap();
    });
    check("movq2dq xmm1, mm7", |a| {
        a.movq2dq(xmm1, mm7).unwrap();
        a.movdqu(xmmword_ptr(rdi + OUT_AT + 16), xmm1).unwrap();
    });
}

#[test]
fn emms_empties_every_tag_as_host() {
    let d = check("emms", |a| a.emms().unwrap());
    assert_eq!(le16(&d, ENV_AT + 8), 0xffff);
    check("movq mm2, mm4; emms", |a| {
        a.movq(mm2, mm4).unwrap();
        a.emms().unwrap();
    });
}

#[test]
fn conversions_transition_only_with_an_mm_operand_as_host() {
    let d = check("cvtpi2ps xmm1, m64", |a| {
        a.movdqu(xmm1, xmmword_ptr(rdi + IN_AT + 0x100)).unwrap();
        a.cvtpi2ps(xmm1, qword_ptr(rdi + IN_AT + 0x100)).unwrap();
        a.movdqu(xmmword_ptr(rdi + OUT_AT), xmm1).unwrap();
    });
    assert_eq!((le16(&d, ENV_AT + 4) >> 11) & 7, 3, "no transition");
    check("cvtpi2pd xmm1, mm1", |a| {
        a.cvtpi2pd(xmm1, mm1).unwrap();
        a.movdqu(xmmword_ptr(rdi + OUT_AT), xmm1).unwrap();
    });
    check("cvttps2pi mm4, m64", |a| {
        a.cvttps2pi(mm4, qword_ptr(rdi + IN_AT + 0x100)).unwrap();
    });
}

/// SDM Vol. 1, 9.6.4: an MMX instruction (EMMS included) with a pending
/// unmasked x87 exception raises #MF before changing any state.
#[test]
fn pending_x87_exception_raises_mf_before_the_transition() {
    for (name, mmx) in [
        ("paddb", vec![0x0f, 0xfc, 0xc1]), // paddb mm0, mm1
        ("emms", vec![0x0f, 0x77]),
        ("movd", vec![0x0f, 0x7e, 0xc0]), // movd eax, mm0
    ] {
        let mut a = CodeAssembler::new(64).unwrap();
        a.fninit().unwrap();
        a.fldcw(word_ptr(rdi + IN_AT + 0x110)).unwrap();
        a.fld1().unwrap();
        a.fldz().unwrap();
        a.fdivp(st1, st0).unwrap(); // 1 / 0 with ZE unmasked: pending
        let mut code = a.assemble(CODE).unwrap();
        let at = code.len();
        code.extend_from_slice(&mmx);
        code.push(0xc3);
        let mut d = data();
        // FCW 0x37b: ZE unmasked.
        let o = IN_AT as usize + 0x110;
        d[o..o + 2].copy_from_slice(&0x037bu16.to_le_bytes());
        let (exit, mut cpu) = run_emu(&code, at, &mut d);
        assert_eq!(exit, Exit::StopAddress, "{name}");
        let before = cpu.fxsave_image();
        assert_ne!(le16(&before, 2) & 0x80, 0, "{name}: ES set");
        let exit = cpu.run(RunLimit {
            max_instructions: 10,
            stop_at: Some(CODE + code.len() as u64 - 1),
        });
        assert_eq!(exit, Exit::Exception(Exception::X87Float), "{name}");
        assert_eq!(cpu.rip(), CODE + at as u64, "{name}");
        let after = cpu.fxsave_image();
        assert_eq!(before[..6], after[..6], "{name}: FCW, FSW, tags unchanged");
        assert_eq!(
            before[32..160],
            after[32..160],
            "{name}: registers unchanged"
        );
        assert_eq!(cpu.gpr(Gpr::Rax), 0, "{name}");
    }
}
