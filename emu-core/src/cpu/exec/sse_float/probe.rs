//! Temporary host experiments.
use super::oracle::State;
use crate::host_run;

fn p(name: &str, st: State, out: State) {
    println!(
        "{name:40} in mx={:04x} x0={:08x} x1={:08x} -> x0={:032x} mx={:04x} xm={} rax={:x}",
        st.mxcsr, st.xmm[0] as u32, st.xmm[1] as u32, out.xmm[0], out.mxcsr, out.xm, out.rax
    );
}

macro_rules! q {
    ($insn:literal, $a:expr, $b:expr, $mx:expr) => {{
        let st = State::new($a as u128, $b as u128, $mx);
        let (o, _) = host_run!($insn, &st);
        p(concat!($insn), st, o);
    }};
}

fn v4(a: u32, b: u32, c: u32, d: u32) -> u128 {
    a as u128 | (b as u128) << 32 | (c as u128) << 64 | (d as u128) << 96
}

macro_rules! q4 {
    ($insn:literal, $a:expr, $b:expr, $mx:expr) => {{
        let st = State::new($a, $b, $mx);
        let (o, _) = host_run!($insn, &st);
        println!(
            "{:30} mx={:04x} a={:032x} b={:032x} -> {:032x} mx={:04x} xm={}",
            $insn, st.mxcsr, st.xmm[0], st.xmm[1], o.xmm[0], o.mxcsr, o.xm
        );
    }};
}

#[test]
fn probe2() {
    let m = 0x1f80;
    q!("mulss xmm0, xmm1", 0x7f7fffffu32, 0x3fffffffu32, m & !0x400);
    q!("mulss xmm0, xmm1", 0x7f7fffffu32, 0x3fffffffu32, m & !0x400 & !0x1000);
    q!("mulss xmm0, xmm1", 0x00000000u32, 0x00000001u32, m);
    q!("addss xmm0, xmm1", 0x00000000u32, 0x00000001u32, m);
    q!("addss xmm0, xmm1", 0x3f800000u32, 0x00000001u32, m & !0x100);
    q!("addss xmm0, xmm1", 0x3f800000u32, 0x00000001u32, m & !0x1000);
    q!("sqrtss xmm0, xmm1", 0, 0x00000002u32, m);
    q!("sqrtss xmm0, xmm1", 0, 0x00000001u32, m);
    q!("cvtsd2ss xmm0, xmm1", 0, 0x7fe0000000000000u64, m);
    q!("cvtsd2ss xmm0, xmm1", 0, 0x7fe0000000000000u64, m & !0x400);
    q!("cvtsd2ss xmm0, xmm1", 0, 0x0000000000000001u64, m);
    q!("cvtsd2ss xmm0, xmm1", 0, 0x0000000000000001u64, m | 0x8000);
    q!("cvtsd2ss xmm0, xmm1", 0, 0x3800000000000001u64, m | 0x8000);
    q!("cvtsd2ss xmm0, xmm1", 0, 0x7ff0000000000001u64, m);
    q!("cvtsd2ss xmm0, xmm1", 0, 0x7ff8000020000001u64, m);
    let a = v4(0x7f800001, 0x3f800000, 0x7f7fffff, 0x3f800000);
    let b = v4(0x3f800000, 0x00000001, 0x7f7fffff, 0x3f800000);
    q4!("addps xmm0, xmm1", a, b, m);
    q4!("addps xmm0, xmm1", a, b, m & !0x80);
    q4!("addps xmm0, xmm1", a, b, m & !0x100);
    q4!("addps xmm0, xmm1", a, b, m & !0x400);
    q4!("addps xmm0, xmm1", a, b, m & !0x1000);
    let a = v4(0x3f800000, 0x3f800000, 0x7f7fffff, 0x3f800000);
    q4!("addps xmm0, xmm1", a, b, m & !0x100);
    q4!("addps xmm0, xmm1", a, b, m & !0x400);
    q4!("addps xmm0, xmm1", a, b, m & !0x1000);
    let b = v4(0x3f800000, 0x3f800000, 0x7f7fffff, 0x00000001);
    q4!("addps xmm0, xmm1", a, b, m & !0x100);
    q4!("addps xmm0, xmm1", a, b, m & !0x400);
    // tininess in directed rounding: RZ, RU
    q!("mulss xmm0, xmm1", 0x3f800001u32, 0x007fffffu32, m | 0x6000);
    q!("mulss xmm0, xmm1", 0x3f800001u32, 0x007fffffu32, m | 0x4000);
    q!("mulss xmm0, xmm1", 0x3f800001u32, 0x007fffffu32, m | 0x2000);
    // dpps
    q4!("dpps xmm0, xmm1, 0xff", v4(0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000), v4(0x3f800000, 0x4b800000, 0xcb800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0xf1", v4(0x7fc00001, 0x7fc00002, 0x7fc00003, 0x7fc00004), v4(0x7fc00005, 0x3f800000, 0x3f800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0xe1", v4(0x7fc00001, 0x7fc00002, 0x7fc00003, 0x7fc00004), v4(0x7fc00005, 0x3f800000, 0x3f800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0xc1", v4(0x7fc00001, 0x7fc00002, 0x7fc00003, 0x7fc00004), v4(0x7fc00005, 0x3f800000, 0x3f800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0x81", v4(0x7fc00001, 0x7fc00002, 0x7fc00003, 0x7fc00004), v4(0x7fc00005, 0x3f800000, 0x3f800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0xf1", v4(0x3f800000, 0x7f800001, 0x3f800000, 0x3f800000), v4(0x7fc00005, 0x3f800000, 0x3f800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0x11", v4(0x00000001, 0x7f800001, 0x3f800000, 0x3f800000), v4(0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0x01", v4(0x00000001, 0x7f800001, 0x3f800000, 0x3f800000), v4(0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0x31", v4(0x7f7fffff, 0x7f7fffff, 0x3f800000, 0x3f800000), v4(0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000), m);
    q4!("dpps xmm0, xmm1, 0x31", v4(0x7f7fffff, 0x7f7fffff, 0x3f800000, 0x3f800000), v4(0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000), m & !0x400);
    q4!("haddps xmm0, xmm1", v4(0x7fc00001, 0x7fc00002, 0x7f800001, 0x7fc00004), v4(0x7fc00005, 0x7f800006, 0x3f800000, 0x3f800000), m);
}

#[test]
fn probe() {
    let m = 0x1f80;
    let ftz = 0x8000;
    let daz = 0x40;
    // Q1 tininess after rounding
    q!("mulss xmm0, xmm1", 0x3f800001u32, 0x007fffffu32, m);
    q!("mulss xmm0, xmm1", 0x3f800001u32, 0x007fffffu32, m | ftz);
    q!("mulss xmm0, xmm1", 0x3f800001u32, 0x007fffffu32, m & !0x800);
    // exact tiny: 2^-100 * 2^-30
    q!("mulss xmm0, xmm1", 0x0d800000u32, 0x30800000u32, m);
    q!("mulss xmm0, xmm1", 0x0d800000u32, 0x30800000u32, m | ftz);
    q!("mulss xmm0, xmm1", 0x0d800000u32, 0x30800000u32, m & !0x800);
    q!("mulss xmm0, xmm1", 0x0d800000u32, 0x30800000u32, m & !0x800 | ftz);
    // inexact tiny unmasked
    q!("mulss xmm0, xmm1", 0x0d800001u32, 0x30800001u32, m & !0x800);
    q!("mulss xmm0, xmm1", 0x0d800001u32, 0x30800001u32, m & !0x1000);
    // overflow
    q!("mulss xmm0, xmm1", 0x7f7fffffu32, 0x40000000u32, m);
    q!("mulss xmm0, xmm1", 0x7f7fffffu32, 0x40000000u32, m & !0x400);
    q!("mulss xmm0, xmm1", 0x7f000000u32, 0x40000000u32, m & !0x400);
    q!("mulss xmm0, xmm1", 0x7f7fffffu32, 0x40000000u32, m & !0x1000);
    // DE with NaN
    q!("addss xmm0, xmm1", 0x7fc00001u32, 0x00000001u32, m);
    q!("addss xmm0, xmm1", 0x7f800001u32, 0x00000001u32, m);
    q!("addss xmm0, xmm1", 0x00000001u32, 0x7fc00001u32, m);
    q!("addss xmm0, xmm1", 0x00000001u32, 0x7f800001u32, m);
    q!("addss xmm0, xmm1", 0x00000001u32, 0x7f800000u32, m);
    q!("addss xmm0, xmm1", 0x7f800000u32, 0xff800000u32, m);
    q!("addss xmm0, xmm1", 0x00000001u32, 0x7fc00001u32, m & !0x100);
    q!("addss xmm0, xmm1", 0x00000001u32, 0x7f800001u32, m & !0x100);
    q!("addss xmm0, xmm1", 0x00000001u32, 0x7f800001u32, m & !0x80);
    // ZE vs DE
    q!("divss xmm0, xmm1", 0x00000001u32, 0x00000000u32, m);
    q!("divss xmm0, xmm1", 0x00000001u32, 0x00000000u32, m & !0x200);
    q!("divss xmm0, xmm1", 0x00000001u32, 0x00000000u32, m & !0x100);
    q!("divss xmm0, xmm1", 0x00000000u32, 0x00000001u32, m);
    q!("divss xmm0, xmm1", 0x3f800000u32, 0x00000001u32, m | daz);
    q!("divss xmm0, xmm1", 0x00000000u32, 0x00000001u32, m | daz);
    q!("divss xmm0, xmm1", 0x7f800000u32, 0x00000001u32, m);
    q!("mulss xmm0, xmm1", 0x7f800000u32, 0x00000001u32, m);
    q!("mulss xmm0, xmm1", 0x7f800000u32, 0x00000001u32, m | daz);
    // min/max
    q!("minss xmm0, xmm1", 0x3f800000u32, 0x7f800001u32, m);
    q!("minss xmm0, xmm1", 0x7f800001u32, 0x3f800000u32, m);
    q!("minss xmm0, xmm1", 0x3f800000u32, 0x00000001u32, m | daz);
    q!("minss xmm0, xmm1", 0x00000001u32, 0x80000001u32, m | daz);
    q!("minss xmm0, xmm1", 0x00000001u32, 0x80000001u32, m);
    q!("maxss xmm0, xmm1", 0x7fc00000u32, 0x00000001u32, m);
    // cvt
    q!("cvtss2si eax, xmm0", 0x00000001u32, 0, m);
    q!("cvtss2si eax, xmm0", 0x00000001u32, 0, m | daz);
    q!("cvtss2si eax, xmm0", 0x80000001u32, 0, m | 0x2000);
    q!("cvttss2si eax, xmm0", 0x00000001u32, 0, m);
    q!("cvtss2sd xmm0, xmm0", 0x00000001u32, 0, m);
    q!("cvtss2sd xmm0, xmm0", 0x00000001u32, 0, m | daz);
    // round
    q!("roundss xmm0, xmm1, 0", 0, 0x00000001u32, m);
    q!("roundss xmm0, xmm1, 0", 0, 0x00000001u32, m | daz);
    q!("roundss xmm0, xmm1, 2", 0, 0x00000001u32, m);
    q!("roundss xmm0, xmm1, 2", 0, 0x00000001u32, m | daz);
    q!("roundss xmm0, xmm1, 2", 0, 0x7f800001u32, m);
    q!("roundss xmm0, xmm1, 10", 0, 0x3f800001u32, m);
    // rcp
    q!("rcpss xmm0, xmm1", 0, 0x00000001u32, m);
    q!("rcpss xmm0, xmm1", 0, 0x00400000u32, m);
    q!("rcpss xmm0, xmm1", 0, 0x00400000u32, m | daz);
    q!("rcpss xmm0, xmm1", 0, 0x7e800000u32, m);
    q!("rcpss xmm0, xmm1", 0, 0x7e800000u32, m | ftz);
    q!("rcpss xmm0, xmm1", 0, 0x7f800001u32, m);
    q!("rsqrtss xmm0, xmm1", 0, 0x80000001u32, m);
    q!("rsqrtss xmm0, xmm1", 0, 0x00000001u32, m);
    q!("rsqrtss xmm0, xmm1", 0, 0xbf800000u32, m);
    // sqrt
    q!("sqrtss xmm0, xmm1", 0, 0x80000001u32, m);
    q!("sqrtss xmm0, xmm1", 0, 0x80000000u32, m);
    q!("sqrtss xmm0, xmm1", 0, 0x80000001u32, m | daz);
    // comiss
    q!("comiss xmm0, xmm1", 0x7fc00000u32, 0x00000001u32, m);
    q!("ucomiss xmm0, xmm1", 0x7fc00000u32, 0x00000001u32, m);
    q!("ucomiss xmm0, xmm1", 0x3f800000u32, 0x00000001u32, m);
    q!("cmpss xmm0, xmm1, 0", 0x3f800000u32, 0x00000001u32, m);
    q!("cmpss xmm0, xmm1, 8", 0x3f800000u32, 0x3f800000u32, m);
    q!("cmpss xmm0, xmm1, 9", 0x3f800000u32, 0x3f800000u32, m);
    q!("cmpss xmm0, xmm1, 0x80", 0x3f800000u32, 0x3f800000u32, m);
    q!("cmpss xmm0, xmm1, 0x81", 0x3f800000u32, 0x3f800000u32, m);
}

#[test]
fn probe3() {
    use super::oracle::*;
    let mut emu = Emu::new();
    let st = State::new(0x3f800000, 0x40400000, 0x1f80);
    let (h, bytes) = host_run!("divss xmm0, xmm1", &st);
    println!("{bytes:x?} {h:x?}");
    println!("{:x?}", emu.run(&bytes, &st));
}

#[test]
fn probe4() {
    let m = 0x1f80;
    let a = v4(0x3f800000, 0x3f800000, 0x3f800000, 0xbb800002);
    let b = v4(0x3f800000, 0x3f800000, 0x3f800000, 0x00001000);
    q4!("dpps xmm0, xmm1, 0x81", a, b, m);
    q4!("dpps xmm0, xmm1, 0x81", a, b, m & !0x100);
    q4!("dpps xmm0, xmm1, 0x81", a, b, m & !0x100 | 0x8000);
    q4!("dpps xmm0, xmm1, 0x81", a, b, m & !0x1000);
    q4!("dpps xmm0, xmm1, 0x81", a, b, m & !0x1000 & !0x100);
    q4!("dpps xmm0, xmm1, 0x81", a, b, m & !0x800);
    q4!("mulps xmm0, xmm1", a, b, m & !0x100);
    q4!("mulps xmm0, xmm1", a, b, m & !0x1000 & !0x100);
    let a = v4(0x3f800000, 0x52c00001, 0x3f800000, 0xbb800002);
    let b = v4(0x3f800000, 0xf5355413, 0x3f800000, 0x00001000);
    q4!("dpps xmm0, xmm1, 0xa1", a, b, m);
    q4!("dpps xmm0, xmm1, 0xa1", a, b, m & !0x100);
    q4!("dpps xmm0, xmm1, 0xa1", a, b, m & !0x400);
    q4!("dpps xmm0, xmm1, 0xa1", a, b, m & !0x1000);
    q4!("dpps xmm0, xmm1, 0xa1", a, b, m & !0x100 & !0x1000);
    // SNaN in lane 0, denormal lane 3
    let a = v4(0x7f800001, 0x3f800000, 0x3f800000, 0x00000001);
    let b = v4(0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000);
    q4!("dpps xmm0, xmm1, 0xf1", a, b, m);
    q4!("dpps xmm0, xmm1, 0xf1", a, b, m & !0x80);
    q4!("dpps xmm0, xmm1, 0xf1", a, b, m & !0x100);
    q4!("dpps xmm0, xmm1, 0x91", a, b, m & !0x100);
    q4!("dpps xmm0, xmm1, 0x81", a, b, m & !0x100);
    q4!("dpps xmm0, xmm1, 0x11", a, b, m & !0x100);
    q4!("dpps xmm0, xmm1, 0x11", a, b, m & !0x80);
    // intermediate denormal: p0 tiny denormal, p1 = 1
    let a = v4(0x00400000, 0x3f800000, 0x3f800000, 0x3f800000);
    let b = v4(0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000);
    q4!("dpps xmm0, xmm1, 0x31", a, b, m);
    q4!("dpps xmm0, xmm1, 0x31", a, b, m | 0x40);
    let a = v4(0x20000000, 0x3f800000, 0x3f800000, 0x3f800000);
    let b = v4(0x1f000000, 0x3f800000, 0x3f800000, 0x3f800000);
    q4!("dpps xmm0, xmm1, 0x31", a, b, m);
    q4!("dpps xmm0, xmm1, 0x31", a, b, m | 0x40);
    q4!("dpps xmm0, xmm1, 0x11", a, b, m);
    q4!("dpps xmm0, xmm1, 0x11", a, b, m | 0x40);
    q4!("dpps xmm0, xmm1, 0x11", a, b, m | 0x8000);
    q4!("dpps xmm0, xmm1, 0x31", a, b, m | 0x8000);
    q4!("dpps xmm0, xmm1, 0x31", a, b, m & !0x800);
}

#[test]
#[ignore]
fn dump_rcp() {
    use std::io::Write;
    let mut out = Vec::with_capacity(1 << 25);
    for m in (0u32..1 << 23).step_by(4) {
        let base = 0x3f80_0000 | m;
        let st = State::new(0, v4(base, base + 1, base + 2, base + 3), 0x1f80);
        let (o, _) = host_run!("rcpps xmm0, xmm1", &st);
        out.extend_from_slice(&o.xmm[0].to_le_bytes());
    }
    std::fs::File::create("/tmp/rcp.bin").unwrap().write_all(&out).unwrap();
    let mut out = Vec::with_capacity(1 << 26);
    for m in (0u32..1 << 24).step_by(4) {
        let base = 0x3f80_0000 + m;
        let st = State::new(0, v4(base, base + 1, base + 2, base + 3), 0x1f80);
        let (o, _) = host_run!("rsqrtps xmm0, xmm1", &st);
        out.extend_from_slice(&o.xmm[0].to_le_bytes());
    }
    std::fs::File::create("/tmp/rsqrt.bin").unwrap().write_all(&out).unwrap();
}
