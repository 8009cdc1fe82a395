//! Differential tests of whole x87 instruction sequences: the same machine code runs natively on
//! the host and in the emulator through the public `Cpu` API, and the final x87 state (FXSAVE
//! image), stored results, FSW, AX and the arithmetic flags must agree.
#![allow(unsafe_code)] // reason: the host oracle executes generated machine code natively

mod faults;
mod regress;

use crate::softfloat::host::Rng;
use crate::softfloat::F80;
use crate::{Cpu, CpuConfig, Exception, Exit, Gpr, Prot, RunLimit};

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;
const STACK_TOP: u64 = 0x7fff_0000;
const DATA_LEN: usize = 0x1000;

/// Offsets in the data block (base in RDI).
const FXSAVE_AT: u32 = 0x000;
const FSW_AT: u32 = 0x200;
const RFLAGS_AT: u32 = 0x208;
const RAX_AT: u32 = 0x210;
const ENV_AT: u32 = 0x300;
const IN_AT: u32 = 0x400;
const CW_AT: u32 = 0x600;
const OUT_AT: u32 = 0x800;

/// x87 memory operand `[rdi + disp32]` with ModRM.reg = `r`.
fn m(code: &mut Vec<u8>, op: u8, r: u8, disp: u32) {
    code.extend_from_slice(&[op, 0x80 | (r << 3) | 7]);
    code.extend_from_slice(&disp.to_le_bytes());
}

/// Runs `code` natively with RDI pointing at `data`.
fn run_host(code: &[u8], data: &mut [u8; DATA_LEN]) {
    // SAFETY: maps a fresh private anonymous page; checked for failure below.
    let page = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            0x2000,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(page != libc::MAP_FAILED, "mmap failed");
    assert!(code.len() <= 0x2000);
    // SAFETY: `page` is a writable mapping of 0x2000 bytes and `code` fits in it.
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), page.cast::<u8>(), code.len()) };
    // The data block must be 16-byte aligned for FXSAVE.
    let mut aligned = vec![0u128; DATA_LEN / 16];
    // SAFETY: `aligned` is DATA_LEN bytes long and plain old data.
    let bytes =
        unsafe { core::slice::from_raw_parts_mut(aligned.as_mut_ptr().cast::<u8>(), DATA_LEN) };
    bytes.copy_from_slice(data);
    // SAFETY: the generated code is a complete function (ends in RET, keeps RSP balanced, uses
    // only RAX, RDI, RFLAGS, the x87 state (left initialized) and the data block at RDI).
    let f: extern "sysv64" fn(*mut u8) = unsafe { core::mem::transmute(page) };
    f(bytes.as_mut_ptr());
    data.copy_from_slice(bytes);
    // SAFETY: unmaps the page mapped above.
    unsafe { libc::munmap(page, 0x2000) };
}

/// Runs `code` in the emulator with RDI pointing at a copy of `data`; returns the exit.
fn run_emu(cpu: &mut Cpu, code: &[u8], data: &mut [u8; DATA_LEN], ret_at: u64) -> Exit {
    cpu.write_virt(CODE, code).unwrap();
    cpu.write_virt(DATA, data).unwrap();
    cpu.set_rip(CODE);
    cpu.set_gpr(Gpr::Rsp, STACK_TOP);
    cpu.set_gpr(Gpr::Rdi, DATA);
    let exit = cpu.run(RunLimit {
        max_instructions: 10_000,
        stop_at: Some(ret_at),
    });
    cpu.read_virt(DATA, data).unwrap();
    let o = RFLAGS_AT as usize;
    data[o..o + 8].copy_from_slice(&cpu.rflags().to_le_bytes());
    exit
}

fn new_cpu() -> Cpu {
    let mut cpu = Cpu::new(CpuConfig { ram_size: 1 << 20 }).unwrap();
    cpu.map(CODE, 0x2000, Prot::RWX).unwrap();
    cpu.map(DATA, 0x2000, Prot::RW).unwrap();
    cpu.map(STACK_TOP - 0x4000, 0x4000, Prot::RW).unwrap();
    cpu
}

/// The common prologue (FNINIT, FLDCW initial) and epilogue (FNSTSW m16 and AX, FXSAVE64,
/// then PUSHFQ/POP/MOV of RFLAGS, FNINIT, RET). Returns the offset where the emulator stops
/// (the PUSHFQ: it reads RFLAGS through the API instead).
fn wrap(body: &[u8]) -> (Vec<u8>, usize) {
    // xor eax, eax gives both runs the same arithmetic flags.
    let mut c = vec![0x31, 0xC0, 0xDB, 0xE3];
    m(&mut c, 0xD9, 5, CW_AT);
    c.extend_from_slice(body);
    m(&mut c, 0xDD, 7, FSW_AT);
    c.extend_from_slice(&[0xDF, 0xE0]); // fnstsw ax
    c.extend_from_slice(&[0x48, 0x89, 0x87]); // mov [rdi+disp32], rax
    c.extend_from_slice(&RAX_AT.to_le_bytes());
    c.extend_from_slice(&[0x48, 0x0F, 0xAE, 0x87]); // fxsave64 [rdi+disp32]
    c.extend_from_slice(&FXSAVE_AT.to_le_bytes());
    let stop = c.len();
    c.extend_from_slice(&[0x9C, 0x58]); // pushfq; pop rax
    c.extend_from_slice(&[0x48, 0x89, 0x87]);
    c.extend_from_slice(&RFLAGS_AT.to_le_bytes());
    c.extend_from_slice(&[0xDB, 0xE3, 0xC3]); // fninit; ret
    (c, stop)
}

/// Describes the differences between host and emulator data blocks, ignoring the FXSAVE
/// pointer fields and the contents of empty registers (stale on the host).
fn diff(host: &[u8; DATA_LEN], emu: &[u8; DATA_LEN]) -> Option<String> {
    let mut out = String::new();
    let le16 = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    for (name, o) in [
        ("fcw", 0usize),
        ("fsw", 2),
        ("fnstsw", FSW_AT as usize),
        ("ax", RAX_AT as usize),
    ] {
        if le16(host, o) != le16(emu, o) {
            out += &format!(
                " {name}: host {:04x} emu {:04x};",
                le16(host, o),
                le16(emu, o)
            );
        }
    }
    if host[4] != emu[4] {
        out += &format!(" tags: host {:02x} emu {:02x};", host[4], emu[4]);
    }
    let flags_mask = 0x8C5u64;
    let fl = |b: &[u8]| {
        u64::from_le_bytes(
            b[RFLAGS_AT as usize..RFLAGS_AT as usize + 8]
                .try_into()
                .unwrap_or([0; 8]),
        ) & flags_mask
    };
    if fl(host) != fl(emu) {
        out += &format!(" rflags: host {:x} emu {:x};", fl(host), fl(emu));
    }
    let top = usize::from((le16(host, 2) >> 11) & 7);
    for st in 0..8 {
        let phys = (top + st) & 7;
        if host[4] & (1 << phys) == 0 {
            continue;
        }
        let o = 32 + 16 * st;
        if host[o..o + 10] != emu[o..o + 10] {
            let h = F80::from_bytes(host[o..o + 10].try_into().unwrap_or([0; 10]));
            let e = F80::from_bytes(emu[o..o + 10].try_into().unwrap_or([0; 10]));
            out += &format!(
                " st{st}: host {:04x}:{:016x} emu {:04x}:{:016x};",
                h.sign_exp, h.signif, e.sign_exp, e.signif
            );
        }
    }
    let env = ENV_AT as usize;
    for (name, o) in [
        ("env.fcw", env),
        ("env.r0", env + 2),
        ("env.fsw", env + 4),
        ("env.r1", env + 6),
        ("env.ftw", env + 8),
        ("env.r2", env + 10),
        ("env.fcs", env + 16),
        ("env.fop", env + 18),
        ("env.fds", env + 24),
        ("env.r3", env + 26),
    ] {
        if le16(host, o) != le16(emu, o) {
            out += &format!(
                " {name}: host {:04x} emu {:04x};",
                le16(host, o),
                le16(emu, o)
            );
        }
    }
    let outs = OUT_AT as usize..OUT_AT as usize + 0x100;
    if host[outs.clone()] != emu[outs.clone()] {
        for k in 0..16 {
            let r = OUT_AT as usize + 16 * k..OUT_AT as usize + 16 * k + 16;
            if host[r.clone()] != emu[r.clone()] {
                out += &format!(
                    " out{k}: host {:02x?} emu {:02x?};",
                    &host[r.clone()],
                    &emu[r]
                );
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

fn disasm(code: &[u8]) -> String {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
    let mut d = Decoder::with_ip(64, code, CODE, DecoderOptions::NONE);
    let mut f = IntelFormatter::new();
    let mut s = String::new();
    while d.can_decode() {
        let i = d.decode();
        s += "\n    ";
        f.format(&i, &mut s);
    }
    s
}

/// Fills the input slots: 8 F80 values, 4 m64, 2 m32, an integer and a BCD number.
fn fill_inputs(r: &mut Rng, data: &mut [u8; DATA_LEN]) {
    for k in 0..16 {
        let o = IN_AT as usize + 16 * k;
        let v: [u8; 16] = match k {
            0..=7 => {
                let mut b = [0u8; 16];
                b[..10].copy_from_slice(&r.operand().to_bytes());
                b
            }
            8..=13 => {
                let f = r.operand();
                let bits = match r.below(3) {
                    0 => r.next(),
                    _ => {
                        crate::softfloat::convert::to_f64(f, crate::softfloat::Control::DEFAULT)
                            .value
                    }
                };
                let bits = if k >= 12 {
                    u64::from(
                        crate::softfloat::convert::to_f32(f, crate::softfloat::Control::DEFAULT)
                            .value,
                    )
                } else {
                    bits
                };
                (u128::from(bits)).to_le_bytes()
            }
            14 => {
                let v = (r.next() as i64) >> r.below(64);
                (v as u128).to_le_bytes()
            }
            _ => {
                let mut b = [0u8; 16];
                for byte in b.iter_mut().take(9) {
                    *byte = ((r.below(10) as u8) << 4) | r.below(10) as u8;
                }
                b[9] = if r.bool() { 0x80 } else { 0 };
                b
            }
        };
        data[o..o + 16].copy_from_slice(&v);
    }
    for b in &mut data[OUT_AT as usize..OUT_AT as usize + 0x100] {
        *b = 0xA5;
    }
}

/// Appends one random x87 instruction; `depth` tracks the stack depth approximately.
fn random_insn(r: &mut Rng, c: &mut Vec<u8>, depth: &mut i32) {
    let st = r.below(if *depth > 1 {
        (*depth).min(8) as u64
    } else {
        2
    }) as u8;
    let slot = |r: &mut Rng, lo: u64, n: u64| IN_AT + 16 * (lo + r.below(n)) as u32;
    let out = |r: &mut Rng| OUT_AT + 16 * r.below(16) as u32;
    let choice = if *depth < 2 {
        r.below(6)
    } else if *depth >= 7 {
        6 + r.below(30)
    } else {
        r.below(36)
    };
    match choice {
        0 | 1 => {
            m(c, 0xDB, 5, slot(r, 0, 8)); // fld m80
            *depth += 1;
        }
        2 => {
            let s = slot(r, 8, 4);
            m(c, 0xDD, 0, s); // fld m64
            *depth += 1;
        }
        3 => {
            let s = slot(r, 12, 2);
            m(c, 0xD9, 0, s); // fld m32
            *depth += 1;
        }
        4 => {
            let (op, reg) = [(0xDF, 5), (0xDB, 0), (0xDF, 0), (0xDF, 4)][r.below(4) as usize];
            let s = if reg == 4 {
                IN_AT + 16 * 15
            } else {
                IN_AT + 16 * 14
            };
            m(c, op, reg, s); // fild m64/m32/m16, fbld
            *depth += 1;
        }
        5 => {
            c.extend_from_slice(&[0xD9, 0xE8 + r.below(7) as u8]); // constants
            *depth += 1;
        }
        6 => {
            c.extend_from_slice(&[0xD9, 0xC0 + st]); // fld st(i)
            *depth += 1;
        }
        7..=12 => {
            // Register arithmetic in all three encodings (st0,sti / sti,st0 / popping).
            let opc = [0xD8u8, 0xDC, 0xDE][r.below(3) as usize];
            let kind = [0u8, 1, 4, 5, 6, 7][r.below(6) as usize];
            c.extend_from_slice(&[opc, 0xC0 | (kind << 3) | st.max(u8::from(opc == 0xDE))]);
            if opc == 0xDE {
                *depth -= 1;
            }
        }
        13 | 14 => {
            // Memory arithmetic: m32, m64, m32int, m16int.
            let (opc, s) = [
                (0xD8u8, slot(r, 12, 2)),
                (0xDC, slot(r, 8, 4)),
                (0xDA, IN_AT + 16 * 14),
                (0xDE, IN_AT + 16 * 14),
            ][r.below(4) as usize];
            m(c, opc, [0u8, 1, 4, 5, 6, 7][r.below(6) as usize], s);
        }
        15 => c.extend_from_slice(&[
            0xD9,
            [0xE0u8, 0xE1, 0xFA, 0xFC, 0xFD, 0xF4, 0xF8, 0xF5][r.below(8) as usize],
        ]),
        16 => {
            let (op, reg, pops) = [
                (0xD9u8, 2u8, 0),
                (0xD9, 3, 1),
                (0xDD, 2, 0),
                (0xDD, 3, 1),
                (0xDB, 7, 1),
            ][r.below(5) as usize];
            m(c, op, reg, out(r));
            *depth -= pops;
        }
        17 => {
            let (op, reg, pops) = [
                (0xDF, 2, 0),
                (0xDF, 3, 1),
                (0xDB, 2, 0),
                (0xDB, 3, 1),
                (0xDF, 7, 1),
                (0xDF, 1, 1),
                (0xDB, 1, 1),
                (0xDD, 1, 1),
                (0xDF, 6, 1),
            ][r.below(9) as usize];
            m(c, op, reg, out(r));
            *depth -= pops;
        }
        18 => {
            c.extend_from_slice(&[0xDD, [0xD0u8, 0xD8][r.below(2) as usize] + st]); // fst/fstp st(i)
            if c[c.len() - 1] >= 0xD8 {
                *depth -= 1;
            }
        }
        19 | 20 => {
            // fcom/fcomp st(i), fucom/fucomp st(i), fcompp, fucompp, ftst, fxam.
            let (bytes, pops): ([u8; 2], i32) = match r.below(7) {
                0 => ([0xD8, 0xD0 + st], 0),
                1 => ([0xD8, 0xD8 + st], 1),
                2 => ([0xDD, 0xE0 + st], 0),
                3 => ([0xDD, 0xE8 + st], 1),
                4 => ([0xDE, 0xD9], 2),
                5 => ([0xDA, 0xE9], 2),
                _ => ([0xD9, 0xE4], 0),
            };
            c.extend_from_slice(&bytes);
            *depth -= pops;
        }
        21 => {
            let op =
                [(0xDBu8, 0xF0u8), (0xDB, 0xE8), (0xDF, 0xF0), (0xDF, 0xE8)][r.below(4) as usize];
            c.extend_from_slice(&[op.0, op.1 + st]); // fcomi/fucomi/fcomip/fucomip
            if op.0 == 0xDF {
                *depth -= 1;
            }
        }
        22 => c.extend_from_slice(&[
            [0xDAu8, 0xDB][r.below(2) as usize],
            0xC0 + 8 * r.below(4) as u8 + st,
        ]), // fcmovcc
        23 => c.extend_from_slice(&[0xD9, 0xC8 + st]), // fxch
        24 => m(
            c,
            [0xD8u8, 0xDC, 0xDE, 0xDA][r.below(4) as usize],
            2 + r.below(2) as u8,
            IN_AT + 16 * 14,
        ), // fcom/ficom m
        25 => c.extend_from_slice(&[0xDD, 0xC0 + st]), // ffree
        26 => c.extend_from_slice(&[0xD9, [0xF6u8, 0xF7][r.below(2) as usize]]), // fdecstp/fincstp
        27 => c.extend_from_slice(&[0xDB, 0xE2]),      // fnclex
        28 => {
            m(c, 0xD9, 5, CW_AT + 8); // fldcw (masked, other RC/PC)
        }
        29 => c.extend_from_slice(&[0xD9, 0xE5]), // fxam
        30 => {
            m(c, 0xD9, 6, ENV_AT); // fnstenv (masks everything afterwards)
        }
        31 => c.extend_from_slice(&[0xDF, 0xE0]), // fnstsw ax
        32 => {
            // Save and restore the whole state through memory in one of three ways.
            match r.below(4) {
                0 => {
                    m(c, 0xDD, 6, ENV_AT); // fnsave
                    m(c, 0xDD, 4, ENV_AT); // frstor
                }
                1 => {
                    m(c, 0xD9, 6, ENV_AT); // fnstenv
                    m(c, 0xD9, 4, ENV_AT); // fldenv
                }
                2 => {
                    c.extend_from_slice(&[0x48, 0x0F, 0xAE, 0x87]); // fxsave64
                    c.extend_from_slice(&0xC00u32.to_le_bytes());
                    c.extend_from_slice(&[0xDB, 0xE3]); // fninit
                    c.extend_from_slice(&[0x48, 0x0F, 0xAE, 0x8F]); // fxrstor64
                    c.extend_from_slice(&0xC00u32.to_le_bytes());
                }
                _ => {
                    m(c, 0xDD, 6, ENV_AT); // fnsave (reinitializes)
                    *depth = 0;
                }
            }
        }
        33 => {
            if r.bool() {
                c.extend_from_slice(&[0xD9, 0xD0]); // fnop
            } else {
                c.push(0x9B); // fwait
            }
        }
        34 | 35 => {
            let opc = [0xD8u8, 0xDC][r.below(2) as usize];
            c.extend_from_slice(&[
                opc,
                0xC0 | ([0u8, 1, 4, 5, 6, 7][r.below(6) as usize] << 3) | st,
            ]);
        }
        _ => {}
    }
    *depth = (*depth).clamp(0, 8);
}

fn masked_cw(r: &mut Rng) -> u16 {
    0x007F | ([0u16, 2, 3][r.below(3) as usize] << 8) | ((r.below(4) as u16) << 10)
}

fn check_sequences(n: usize, seed: u64, unmasked_tail: bool) {
    let mut r = Rng::new(seed);
    let mut cpu = new_cpu();
    let mut bad = 0;
    let mut shown = String::new();
    for _ in 0..n {
        let mut data = [0u8; DATA_LEN];
        fill_inputs(&mut r, &mut data);
        let cw = masked_cw(&mut r);
        let cw2 = masked_cw(&mut r);
        data[CW_AT as usize..CW_AT as usize + 2].copy_from_slice(&cw.to_le_bytes());
        data[CW_AT as usize + 8..CW_AT as usize + 10].copy_from_slice(&cw2.to_le_bytes());
        let mut body = Vec::new();
        let mut depth = 0;
        for _ in 0..2 + r.below(14) {
            random_insn(&mut r, &mut body, &mut depth);
        }
        if unmasked_tail {
            // One more instruction under a control word with some exceptions unmasked; it is
            // the last waiting x87 instruction, so the host reports instead of trapping.
            let unmask = (r.next() as u16) & 0x3F;
            let cw3 = (cw & !0x3F) | (0x3F & !unmask);
            data[CW_AT as usize + 16..CW_AT as usize + 18].copy_from_slice(&cw3.to_le_bytes());
            body.extend_from_slice(&[0xDB, 0xE2]);
            m(&mut body, 0xD9, 5, CW_AT + 16);
            let mut d2 = depth;
            let mut tail = Vec::new();
            random_insn(&mut r, &mut tail, &mut d2);
            if tail.first() == Some(&0xDB) && tail.get(1) == Some(&0xE2) {
                tail.clear();
            }
            body.extend_from_slice(&tail);
        }
        let (code, ret) = wrap(&body);
        let mut host = data;
        run_host(&code, &mut host);
        let mut emu = data;
        let exit = run_emu(&mut cpu, &code, &mut emu, CODE + ret as u64);
        let problem = if exit != Exit::StopAddress {
            Some(format!(" exit {exit:?}"))
        } else {
            diff(&host, &emu)
        };
        if let Some(p) = problem {
            bad += 1;
            if bad <= 6 {
                shown += &format!("\n  cw={cw:04x} cw2={cw2:04x}{}\n  ->{p}", disasm(&body));
            }
        }
    }
    assert!(bad == 0, "{bad} of {n} sequences differ:{shown}");
}

#[test]
fn random_sequences_match_host() {
    check_sequences(20000, 0x5EED_0001, false);
}

#[test]
fn unmasked_exception_responses_match_host() {
    check_sequences(20000, 0x5EED_0002, true);
}

#[test]
fn pending_unmasked_exception_raises_mf_at_next_waiting_instruction() {
    // fldcw [cw: ZE unmasked]; fld1; fldz; fdivp; fld1 <- #MF here
    let mut data = [0u8; DATA_LEN];
    data[CW_AT as usize..CW_AT as usize + 2].copy_from_slice(&0x037Bu16.to_le_bytes());
    let mut c = vec![0xDB, 0xE3];
    m(&mut c, 0xD9, 5, CW_AT);
    c.extend_from_slice(&[0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9]);
    let fault_at = CODE + c.len() as u64;
    c.extend_from_slice(&[0xD9, 0xE8, 0xC3]);
    let mut cpu = new_cpu();
    let exit = run_emu(&mut cpu, &c, &mut data, fault_at + 2);
    assert_eq!(exit, Exit::Exception(Exception::X87Float));
    assert_eq!(cpu.rip(), fault_at);
    let img = cpu.fxsave_image();
    let fsw = u16::from_le_bytes([img[2], img[3]]);
    assert_eq!(fsw & 0x80BF, 0x8084, "ES, B and ZE set, fsw={fsw:04x}");
}

#[test]
fn fxsave_to_misaligned_address_raises_gp() {
    let mut data = [0u8; DATA_LEN];
    let mut c = vec![0x48, 0x0F, 0xAE, 0x87];
    c.extend_from_slice(&8u32.to_le_bytes());
    let end = CODE + c.len() as u64;
    c.push(0xC3);
    let mut cpu = new_cpu();
    let exit = run_emu(&mut cpu, &c, &mut data, end);
    assert_eq!(exit, Exit::Exception(Exception::GeneralProtection(0)));
}

/// Distance in ulps between two register images of the same sign and class.
fn ulps(a: &[u8], b: &[u8]) -> u128 {
    let key = |x: &[u8]| {
        let mut v = [0u8; 16];
        v[..10].copy_from_slice(&x[..10]);
        let r = u128::from_le_bytes(v);
        let (sign, exp, sig) = (r >> 79 & 1, (r >> 64) & 0x7FFF, r as u64);
        (sign, (exp << 63) + u128::from(sig & !(1 << 63)))
    };
    let (ka, kb) = (key(a), key(b));
    if ka.0 != kb.0 {
        return u128::MAX;
    }
    ka.1.abs_diff(kb.1)
}

#[test]
fn transcendental_sequences_match_host_within_one_ulp() {
    // fsin, fcos, fsincos, fptan, fpatan, f2xm1, fyl2x, fyl2xp1
    const OPS: [u8; 8] = [0xFE, 0xFF, 0xFB, 0xF2, 0xF3, 0xF0, 0xF1, 0xF9];
    let mut r = Rng::new(0x7A25_0003);
    let mut cpu = new_cpu();
    let (mut exact, mut close, mut bad) = (0, 0, 0);
    let mut shown = String::new();
    let n = 4000;
    for k in 0..n {
        let op = OPS[k % OPS.len()];
        let mut data = [0u8; DATA_LEN];
        fill_inputs(&mut r, &mut data);
        for s in 0..2 {
            let e: i32 = match (op, r.below(8)) {
                // Keep the random special operand (also outside FYL2XP1's domain).
                (_, 0) => continue,
                (0xF0, _) => -(r.below(64) as i32) - 1,
                (0xF9, _) if s == 1 => -(r.below(64) as i32) - 3,
                (0xFE | 0xFF | 0xFB | 0xF2, _) => r.below(80) as i32 - 12,
                _ => r.below(200) as i32 - 100,
            };
            let sign = if op == 0xF1 && s == 1 {
                false
            } else {
                r.bool()
            };
            let v = F80::new(sign, (16383 + e) as u16, r.sig());
            let o = IN_AT as usize + 16 * s;
            data[o..o + 10].copy_from_slice(&v.to_bytes());
        }
        let cw = masked_cw(&mut r);
        data[CW_AT as usize..CW_AT as usize + 2].copy_from_slice(&cw.to_le_bytes());
        let mut body = Vec::new();
        m(&mut body, 0xDB, 5, IN_AT); // y (ST1 for the two-operand ones)
        m(&mut body, 0xDB, 5, IN_AT + 16); // x
        body.extend_from_slice(&[0xD9, op]);
        let (code, stop) = wrap(&body);
        let mut host = data;
        run_host(&code, &mut host);
        let mut emu = data;
        let exit = run_emu(&mut cpu, &code, &mut emu, CODE + stop as u64);
        // Everything but C1 and the register values must agree; values within one ulp.
        let (hf, ef) = (
            u16::from_le_bytes([host[2], host[3]]),
            u16::from_le_bytes([emu[2], emu[3]]),
        );
        let mut worst = 0;
        for st in 0..8 {
            if host[4] & (1 << ((usize::from(hf >> 11 & 7) + st) & 7)) != 0 {
                let o = 32 + 16 * st;
                worst = worst.max(ulps(&host[o..o + 10], &emu[o..o + 10]));
            }
        }
        let ok = exit == Exit::StopAddress
            && (hf ^ ef) & !0x0200 == 0
            && host[4] == emu[4]
            && worst <= 1;
        if !ok {
            bad += 1;
            if bad <= 6 {
                shown += &format!("\n  cw={cw:04x} fsw host {hf:04x} emu {ef:04x} worst {worst} exit {exit:?}{}{}", disasm(&body), diff(&host, &emu).unwrap_or_default());
            }
        } else if worst == 0 && hf == ef {
            exact += 1;
        } else {
            close += 1;
        }
    }
    println!("transcendental sequences: {exact} of {n} bit-exact, {close} within 1 ulp (or C1 only), {bad} worse");
    assert!(
        bad == 0,
        "{bad} of {n} transcendental sequences differ:{shown}"
    );
}

#[test]
fn x87_instruction_with_cr0_ts_raises_nm_and_fwait_needs_mp_too() {
    let mut data = [0u8; DATA_LEN];
    let mut cpu = new_cpu();
    let c0 = cpu.core.mmu.cr0();
    cpu.core
        .mmu
        .set_cr0((c0 | crate::mmu::cr0::TS) & !crate::mmu::cr0::MP);
    // fwait (no #NM without MP); fld1 <- #NM
    let exit = run_emu(&mut cpu, &[0x9B, 0xD9, 0xE8, 0xC3], &mut data, CODE + 3);
    assert_eq!(exit, Exit::Exception(Exception::DeviceNotAvailable));
    assert_eq!(cpu.rip(), CODE + 1);
}
