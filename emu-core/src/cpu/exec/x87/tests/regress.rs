//! Regression tests for x87 behaviours the differential tester found, each checked against the
//! host: the same code runs natively and in the emulator from the same FXSAVE image (loaded with
//! FXRSTOR64), and the resulting images (minus the FOP/FIP/FDP and MXCSR_MASK fields, which
//! are not modelled bit-exactly) and the scratch memory must agree.

use super::{m, new_cpu, run_emu, run_host, DATA_LEN};
use crate::softfloat::F80;
use crate::Exit;

/// Offsets in the data block (base in RDI): input image, output image, scratch memory.
const IN: u32 = 0x000;
const OUT: u32 = 0x200;
const MEM: u32 = 0x400;

const ONE: F80 = F80::new(false, 0x3FFF, 1 << 63);
const THREE: F80 = F80::new(false, 0x4000, 0xC000_0000_0000_0000);
const PI: F80 = F80::new(false, 0x4000, 0xC90F_DAA2_2168_C235);
const QNAN: F80 = F80::new(false, 0x7FFF, 0xC123_4567_89AB_CDEF);
/// An extended-precision denormal (exponent field 0, integer bit clear).
const DENORMAL: F80 = F80::new(false, 0, 0x0000_1234_5678_9ABC);

/// FSW condition-code and TOP bits.
const C0: u16 = 1 << 8;
const C1: u16 = 1 << 9;
const C2: u16 = 1 << 10;
const C3: u16 = 1 << 14;
const fn top(t: u16) -> u16 {
    t << 11
}

/// An FXSAVE64 image: FCW, FSW, abridged tags (one bit per physical register, 1 = valid),
/// ST(0)..ST(7) relative to TOP, MXCSR at its default.
fn image(fcw: u16, fsw: u16, tags: u8, st: [F80; 8]) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[0..2].copy_from_slice(&fcw.to_le_bytes());
    b[2..4].copy_from_slice(&fsw.to_le_bytes());
    b[4] = tags;
    b[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
    for (i, v) in st.iter().enumerate() {
        b[32 + 16 * i..42 + 16 * i].copy_from_slice(&v.to_bytes());
    }
    b
}

/// Runs `body` natively and in the emulator from `img` with `mem` at [rdi + MEM]; returns a
/// description of the differences, empty when they agree.
fn differences(img: &[u8; 512], mem: &[u8], body: &[u8]) -> String {
    let mut data = [0u8; DATA_LEN];
    data[IN as usize..IN as usize + 512].copy_from_slice(img);
    data[MEM as usize..MEM as usize + mem.len()].copy_from_slice(mem);
    let mut code = vec![0x48, 0x0F, 0xAE, 0x0F]; // fxrstor64 [rdi]
    code.extend_from_slice(body);
    code.extend_from_slice(&[0x48, 0x0F, 0xAE, 0x87]); // fxsave64 [rdi + OUT]
    code.extend_from_slice(&OUT.to_le_bytes());
    let stop = code.len() as u64;
    code.extend_from_slice(&[0xDB, 0xE3, 0xC3]); // fninit; ret
    let mut host = data;
    run_host(&code, &mut host);
    let mut emu = data;
    let mut cpu = new_cpu();
    let exit = run_emu(&mut cpu, &code, &mut emu, super::CODE + stop);
    let mut out = String::new();
    if exit != Exit::StopAddress {
        out += &format!(" exit {exit:?};");
    }
    let compared = |o: usize| !(6..24).contains(&o) && !(28..32).contains(&o);
    let o = OUT as usize;
    for k in (0..512).filter(|k| compared(*k)) {
        if host[o + k] != emu[o + k] {
            out += &format!(
                " image[{k}]: host {:02x} emu {:02x};",
                host[o + k],
                emu[o + k]
            );
        }
    }
    if host[MEM as usize..] != emu[MEM as usize..] {
        out += " scratch memory differs;";
    }
    out
}

#[track_caller]
fn assert_same(img: &[u8; 512], mem: &[u8], body: &[u8]) {
    let d = differences(img, mem, body);
    assert!(d.is_empty(), "body {body:02x?}:{d}");
}

#[test]
fn fstpnce_with_empty_st0_only_pops_without_stack_fault() {
    // TOP=5: ST(0) = phys 5 empty, ST(1) = 1.0 and ST(2) = pi valid; C1 set beforehand.
    let st = [ONE, ONE, PI, ONE, ONE, ONE, ONE, ONE];
    for fcw in [0x037F, 0x037E] {
        let img = image(fcw, top(5) | C1 | C3, 0b1100_0000, st);
        assert_same(&img, &[], &[0xD9, 0xD9]); // fstpnce st(1), st
        assert_same(&img, &[], &[0xD9, 0xD8]); // fstpnce st(0), st
                                               // A valid ST(0) is stored and popped as by FSTP.
        let img = image(fcw, top(5) | C1, 0b1010_0000, st);
        assert_same(&img, &[], &[0xD9, 0xD9]);
    }
}

#[test]
fn ffreep_frees_sti_and_pops_which_frees_st0() {
    let st = [ONE, PI, THREE, ONE, ONE, ONE, ONE, ONE];
    let img = image(0x037F, top(5) | C1, 0b1110_0000, st);
    assert_same(&img, &[], &[0xDF, 0xC2]); // ffreep st(2)
    assert_same(&img, &[], &[0xDF, 0xC0]); // ffreep st(0)
}

#[test]
fn fneni_fndisi_fnsetpm_are_no_ops_even_with_a_pending_exception() {
    // IE unmasked and pending (ES and B set): the no-wait legacy forms do not raise #MF.
    let img = image(0x037E, 0x8081 | top(6) | C1, 0b1100_0000, [ONE; 8]);
    assert_same(&img, &[], &[0xDB, 0xE0, 0xDB, 0xE1, 0xDB, 0xE4]);
}

#[test]
fn denormal_memory_operand_with_a_qnan_register_raises_no_denormal_exception() {
    let img = image(
        0x037F,
        top(7),
        0b1000_0000,
        [QNAN, ONE, ONE, ONE, ONE, ONE, ONE, ONE],
    );
    let d64 = 0x0000_0000_0000_1234u64.to_le_bytes();
    let d32 = 0x0000_1234u32.to_le_bytes();
    let mut add64 = Vec::new();
    m(&mut add64, 0xDC, 0, MEM); // fadd st, qword [rdi + MEM]
    assert_same(&img, &d64, &add64);
    let mut sub32 = Vec::new();
    m(&mut sub32, 0xD8, 4, MEM); // fsub st, dword [rdi + MEM]
    assert_same(&img, &d32, &sub32);
}

#[test]
fn unmasked_denormal_memory_operand_clears_c1_and_leaves_st0() {
    // DM unmasked; C1 set beforehand.
    let img = image(0x037D, top(7) | C1, 0b1000_0000, [THREE; 8]);
    let mut body = Vec::new();
    m(&mut body, 0xD8, 0, MEM); // fadd st, dword [rdi + MEM]
    assert_same(&img, &0x0000_1234u32.to_le_bytes(), &body);
}

#[test]
fn invalid_and_zero_divide_take_priority_over_an_unmasked_denormal_source() {
    // ST(0) an unnormal (invalid operand), or zero for FDIVR (zero divide); DM unmasked, IM
    // and ZM masked or not.
    let unnormal = F80::new(false, 0x1D74, 0x737E_3699_6522_8226);
    let d32 = 0x0000_1234u32.to_le_bytes();
    for fcw in [0x0359, 0x037D, 0x037C, 0x0358] {
        for st0 in [unnormal, F80::new(true, 0, 0)] {
            let img = image(fcw, top(7), 0b1000_0000, [st0; 8]);
            for reg in [0, 4, 7] {
                let mut body = Vec::new();
                m(&mut body, 0xD8, reg, MEM); // fadd / fsub / fdivr st, dword [rdi + MEM]
                assert_same(&img, &d32, &body);
            }
        }
    }
}

#[test]
fn fld_of_a_denormal_with_the_exception_unmasked_still_pushes() {
    let img = image(0x037D, top(0), 0, [ONE; 8]);
    let mut fld64 = Vec::new();
    m(&mut fld64, 0xDD, 0, MEM); // fld qword [rdi + MEM]
    assert_same(&img, &0x0000_0000_0000_1234u64.to_le_bytes(), &fld64);
    let mut fld32 = Vec::new();
    m(&mut fld32, 0xD9, 0, MEM); // fld dword [rdi + MEM]
    assert_same(&img, &0x0000_1234u32.to_le_bytes(), &fld32);
}

#[test]
fn fprem_with_an_unmasked_denormal_operand_keeps_c0_and_c3() {
    // ST(0) = 3, ST(1) = denormal, DM unmasked: no quotient is produced.
    let st = [THREE, DENORMAL, ONE, ONE, ONE, ONE, ONE, ONE];
    let img = image(0x037D, top(6) | C0 | C1 | C2 | C3, 0b1100_0000, st);
    assert_same(&img, &[], &[0xD9, 0xF8]); // fprem
    assert_same(&img, &[], &[0xD9, 0xF5]); // fprem1
}

#[test]
fn trigonometric_stack_faults_clear_c2_and_f2xm1_keeps_it() {
    let cc = C0 | C1 | C2 | C3;
    for fcw in [0x037F, 0x037E] {
        // Underflow: ST(0) empty.
        let img = image(fcw, top(6) | cc, 0b1000_0000, [ONE; 8]);
        for op in [0xFE, 0xFF, 0xF2, 0xFB, 0xF0] {
            assert_same(&img, &[], &[0xD9, op]); // fsin fcos fptan fsincos f2xm1
        }
        // Overflow of the two-result forms: every register valid.
        let img = image(fcw, top(6) | cc, 0xFF, [ONE; 8]);
        for op in [0xF2, 0xFB] {
            assert_same(&img, &[], &[0xD9, op]);
        }
    }
    // F2XM1 of -1 (exactly -0.5) leaves C2 alone.
    let minus_one = F80::new(true, 0x3FFF, 1 << 63);
    let img = image(0x037F, top(7) | C2, 0b1000_0000, [minus_one; 8]);
    assert_same(&img, &[], &[0xD9, 0xF0]);
}
