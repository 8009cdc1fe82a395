//! The catalogue of instruction forms the differential tester exercises, their families, and
//! the exclusions (with the reason for each, printed by `--help`).
//!
//! A form is one iced-x86 [`Code`] valid in 64-bit mode whose CPUID features are all advertised
//! by both the emulator and the host. Neighbours: `gen.rs` builds cases for a form.

use iced_x86::{Code, CpuidFeature, EncodingKind, FlowControl, MemorySize, OpCodeOperandKind as K};

/// One testable form.
#[derive(Clone, Debug)]
pub struct Form {
    /// The iced-x86 code.
    pub code: Code,
    /// Family name (see [`FAMILIES`]).
    pub family: &'static str,
}

/// All family names, in summary order, with a one-line description.
pub const FAMILIES: &[(&str, &str)] = &[
    (
        "int-alu",
        "add adc sub sbb and or xor cmp test inc dec neg not",
    ),
    ("int-muldiv", "mul imul (1/2/3 operands) div idiv"),
    ("int-shift", "shl shr sar rol ror rcl rcr shld shrd"),
    ("int-bit", "bt bts btr btc bsf bsr bswap"),
    (
        "int-mov",
        "mov movzx movsx movsxd cmovcc setcc xchg cmpxchg cmpxchg8b/16b xadd lea cbw..cqo xlat",
    ),
    ("int-stack", "push pop pushf popf enter leave"),
    (
        "int-string",
        "movs stos lods cmps scas with rep/repe/repne and DF",
    ),
    (
        "int-branch",
        "jcc jmp call ret loop jrcxz (targets inside the snippet)",
    ),
    (
        "int-misc",
        "flag ops, lahf/sahf, nops, ud*, int3, fences, prefetch, clflush, pause",
    ),
    (
        "bmi",
        "popcnt lzcnt tzcnt BMI1 BMI2 ADX movbe (when advertised)",
    ),
    ("sse", "SSE"),
    ("sse2", "SSE2"),
    ("sse3", "SSE3"),
    ("ssse3", "SSSE3"),
    ("sse41", "SSE4.1"),
    ("sse42", "SSE4.2"),
    (
        "x87",
        "x87 (loads/stores, arithmetic, compares, control, environment)",
    ),
    (
        "x87-trans",
        "x87 transcendentals fsin fcos fsincos fptan fpatan f2xm1 fyl2x fyl2xp1",
    ),
    (
        "fxsr",
        "fxsave fxrstor (FIP/FDP/FOP and MXCSR_MASK bytes ignored)",
    ),
    (
        "mmx",
        "MMX-register forms (MMX, SSE/SSE2/SSSE3 on mm registers)",
    ),
    (
        "priv",
        "privileged/IOPL instructions: must raise #GP at CPL 3",
    ),
];

/// Families of the integer ISA.
pub const INTEGER_FAMILIES: &[&str] = &[
    "int-alu",
    "int-muldiv",
    "int-shift",
    "int-bit",
    "int-mov",
    "int-stack",
    "int-string",
    "int-branch",
    "int-misc",
];

/// Exclusions printed by `--help`: what is never generated, and why.
pub const EXCLUSIONS: &[(&str, &str)] = &[
    ("rdtsc rdtscp rdpid rdpmc", "time stamp / processor id: host-specific values"),
    ("cpuid xgetbv", "the emulator advertises its own model, not the host's"),
    ("rdrand rdseed", "random by definition"),
    ("syscall sysenter int n int1 into", "enter the host kernel natively; events in the emulator"),
    ("mov/push/pop Sreg, lar lsl verr verw sgdt sidt sldt str smsw", "selectors and descriptor tables are the host kernel's (loads would break the harness)"),
    ("far jmp/call/ret, iret", "privilege and segment transitions"),
    ("16-bit near branches (66 jmp/call/ret/jcc)", "Intel and AMD differ (AMD truncates RIP)"),
    ("AVX, AVX-512, FMA, XOP, SSE4A, 3DNow!, AES, SHA, ...", "not advertised by the emulator's CPUID (any form whose CPUID features are not all advertised is skipped)"),
    ("xsave* xrstor*", "XCR0 differs (no AVX state in the emulator)"),
    ("monitor mwait, tsx, cet, vmx/svm, sgx, ...", "not advertised / system features"),
    ("16-bit shld/shrd with count > 16", "result undefined (SDM): such counts are not generated"),
    ("bswap r16", "result undefined (SDM)"),
    ("rcpps rcpss rsqrtps rsqrtss", "approximations differ between implementations: compared with a relative tolerance of 2^-11 instead of exactly"),
    ("FIP FDP FOP (fxsave image, fnstenv/fnsave/fxsave memory)", "last-instruction pointers are not modelled bit-exactly; MXCSR_MASK is host-specific"),
    ("fsin fcos fsincos fptan fpatan f2xm1 fyl2x fyl2xp1: ST results and FSW.C1", "the SDM only bounds their error (< 1 ulp, Vol. 1 §8.3.10) and the host's (AMD) approximations are not always correctly rounded: a result may be the adjacent 80-bit value (1 ulp, same sign, finite) and C1 (rounded up) may differ, except on stack faults; such cases are counted in the 'tolerated' column"),
];

/// Mnemonics never generated (see [`EXCLUSIONS`]).
const EXCLUDED_MNEMONICS: &[&str] = &[
    "rdtsc",
    "rdtscp",
    "rdpid",
    "rdpmc",
    "rdpru",
    "cpuid",
    "xgetbv",
    "xsetbv",
    "rdrand",
    "rdseed",
    "syscall",
    "sysenter",
    "sysexit",
    "sysret",
    "sysretq",
    "int",
    "int1",
    "into",
    "lar",
    "lsl",
    "verr",
    "verw",
    "sgdt",
    "sidt",
    "sldt",
    "str",
    "smsw",
    "iret",
    "iretd",
    "iretq",
    "retf",
    "jmpe",
    "xsave",
    "xsave64",
    "xrstor",
    "xrstor64",
    "xsaveopt",
    "xsaveopt64",
    "xsavec",
    "xsavec64",
    "xsaves",
    "xsaves64",
    "xrstors",
    "xrstors64",
    "monitor",
    "mwait",
    "encls",
    "enclu",
    "getsec",
    "ud0",
    "loadall",
    "rsm",
    "swapgs",
    "wrfsbase",
    "wrgsbase",
    "rdfsbase",
    "rdgsbase",
    "ptwrite",
    "invpcid",
    "rdpkru",
    "wrpkru",
    "endbr64",
    "endbr32",
];

/// Privileged mnemonics tested for #GP at CPL 3.
const PRIV_MNEMONICS: &[&str] = &[
    "hlt", "cli", "sti", "in", "out", "insb", "insw", "insd", "outsb", "outsw", "outsd", "lgdt",
    "lidt", "lldt", "ltr", "rdmsr", "wrmsr", "invd", "wbinvd", "invlpg", "clts", "lmsw",
];

/// The x87 transcendental mnemonics (family `x87-trans`, compared with the 1-ulp tolerance).
pub const X87_TRANS: &[&str] = &[
    "fsin", "fcos", "fsincos", "fptan", "fpatan", "f2xm1", "fyl2x", "fyl2xp1",
];

/// Lower-case mnemonic name of a code.
pub fn mnemonic_name(code: Code) -> String {
    format!("{:?}", code.mnemonic()).to_lowercase()
}

fn int_family(m: &str) -> &'static str {
    const ALU: &[&str] = &[
        "add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test", "inc", "dec", "neg", "not",
    ];
    const MULDIV: &[&str] = &["mul", "imul", "div", "idiv"];
    const SHIFT: &[&str] = &[
        "shl", "sal", "shr", "sar", "rol", "ror", "rcl", "rcr", "shld", "shrd",
    ];
    const BIT: &[&str] = &["bt", "bts", "btr", "btc", "bsf", "bsr", "bswap"];
    const MOV: &[&str] = &[
        "mov",
        "movzx",
        "movsx",
        "movsxd",
        "xchg",
        "cmpxchg",
        "cmpxchg8b",
        "cmpxchg16b",
        "xadd",
        "lea",
        "cbw",
        "cwde",
        "cdqe",
        "cwd",
        "cdq",
        "cqo",
        "xlatb",
        "movnti",
    ];
    const STACK: &[&str] = &[
        "push", "pop", "pushf", "popf", "pushfq", "popfq", "enter", "leave",
    ];
    const STRING: &[&str] = &[
        "movsb", "movsw", "movsd", "movsq", "stosb", "stosw", "stosd", "stosq", "lodsb", "lodsw",
        "lodsd", "lodsq", "cmpsb", "cmpsw", "cmpsd", "cmpsq", "scasb", "scasw", "scasd", "scasq",
    ];
    if ALU.contains(&m) {
        "int-alu"
    } else if MULDIV.contains(&m) {
        "int-muldiv"
    } else if SHIFT.contains(&m) {
        "int-shift"
    } else if BIT.contains(&m) {
        "int-bit"
    } else if MOV.contains(&m) || m.starts_with("cmov") || m.starts_with("set") {
        "int-mov"
    } else if STACK.contains(&m) {
        "int-stack"
    } else if STRING.contains(&m) {
        "int-string"
    } else if m.starts_with('j') || m.starts_with("loop") || m == "call" || m == "ret" {
        "int-branch"
    } else {
        "int-misc"
    }
}

/// Operand kinds the generator knows how to fill.
fn operand_supported(k: K) -> bool {
    !matches!(
        k,
        K::farbr2_2
            | K::farbr4_2
            | K::mem_mpx
            | K::mem_mib
            | K::mem_vsib32x
            | K::mem_vsib64x
            | K::mem_vsib32y
            | K::mem_vsib64y
            | K::mem_vsib32z
            | K::mem_vsib64z
            | K::r32_or_mem_mpx
            | K::r64_or_mem_mpx
            | K::ymm_or_mem
            | K::zmm_or_mem
            | K::bnd_or_mem_mpx
            | K::k_or_mem
            | K::seg_reg
            | K::k_reg
            | K::kp1_reg
            | K::k_rm
            | K::k_vvvv
            | K::xmm_vvvv
            | K::xmmp3_vvvv
            | K::xmm_is4
            | K::xmm_is5
            | K::ymm_reg
            | K::ymm_rm
            | K::ymm_vvvv
            | K::ymm_is4
            | K::ymm_is5
            | K::zmm_reg
            | K::zmm_rm
            | K::zmm_vvvv
            | K::zmmp3_vvvv
            | K::dr_reg
            | K::tr_reg
            | K::bnd_reg
            | K::es
            | K::cs
            | K::ss
            | K::ds
            | K::fs
            | K::gs
            | K::imm4_m2z
            | K::xbegin_2
            | K::xbegin_4
            | K::brdisp_2
            | K::brdisp_4
            | K::sibmem
            | K::tmm_reg
            | K::tmm_rm
            | K::tmm_vvvv
    )
}

fn uses_mm(kinds: &[K]) -> bool {
    kinds
        .iter()
        .any(|k| matches!(k, K::mm_reg | K::mm_rm | K::mm_or_mem))
}

/// The family of `code`, or why it is not tested.
pub fn classify(code: Code, features: &[CpuidFeature]) -> Result<&'static str, &'static str> {
    let op = code.op_code();
    if !op.is_instruction() || !op.mode64() {
        return Err("not an instruction in 64-bit mode");
    }
    let m = mnemonic_name(code);
    if EXCLUDED_MNEMONICS.contains(&m.as_str()) {
        return Err("excluded mnemonic");
    }
    let kinds = op.op_kinds();
    if !kinds.iter().all(|k| operand_supported(*k)) {
        return Err("operand kind not generated");
    }
    if matches!(
        op.memory_size(),
        MemorySize::SegPtr16 | MemorySize::SegPtr32 | MemorySize::SegPtr64
    ) {
        return Err("far pointer operand (segment transition)");
    }
    if code == Code::Bswap_r16 {
        return Err("bswap r16: result undefined (SDM)");
    }
    let flow = code.flow_control();
    if matches!(
        flow,
        FlowControl::UnconditionalBranch
            | FlowControl::ConditionalBranch
            | FlowControl::Call
            | FlowControl::IndirectBranch
            | FlowControl::IndirectCall
            | FlowControl::Return
    ) && op.operand_size() == 16
    {
        return Err("16-bit near branch (vendor-specific)");
    }
    let feats = code.cpuid_features();
    if !feats.iter().all(|f| features.contains(f)) {
        return Err("CPUID feature not advertised");
    }
    let priv_op = PRIV_MNEMONICS.contains(&m.as_str()) || kinds.contains(&K::cr_reg);
    if priv_op {
        return Ok("priv");
    }
    if op.is_privileged() || op.must_be_cpl0() {
        return Err("privileged (not in the #GP list)");
    }
    match op.encoding() {
        EncodingKind::Legacy => {}
        EncodingKind::VEX
            if feats
                .iter()
                .all(|f| matches!(f, CpuidFeature::BMI1 | CpuidFeature::BMI2)) =>
        {
            return Ok("bmi")
        }
        _ => return Err("encoding not advertised (VEX/EVEX/XOP/3DNow!)"),
    }
    if uses_mm(kinds) || feats.contains(&CpuidFeature::MMX) {
        return Ok("mmx");
    }
    let has = |f: CpuidFeature| feats.contains(&f);
    if has(CpuidFeature::FXSR) {
        return Ok("fxsr");
    }
    if has(CpuidFeature::FPU) || has(CpuidFeature::FPU287) || has(CpuidFeature::FPU387) {
        return Ok(if X87_TRANS.contains(&m.as_str()) {
            "x87-trans"
        } else {
            "x87"
        });
    }
    if has(CpuidFeature::SSE4_2) && m != "popcnt" {
        return Ok("sse42");
    }
    if has(CpuidFeature::SSE4_1) {
        return Ok("sse41");
    }
    if has(CpuidFeature::SSSE3) {
        return Ok("ssse3");
    }
    if has(CpuidFeature::SSE3) {
        return Ok("sse3");
    }
    if has(CpuidFeature::SSE2) {
        return Ok(if m == "pause" || m.ends_with("fence") {
            "int-misc"
        } else {
            "sse2"
        });
    }
    if has(CpuidFeature::SSE) {
        return Ok(if m.starts_with("prefetch") || m == "sfence" {
            "int-misc"
        } else {
            "sse"
        });
    }
    if [
        CpuidFeature::POPCNT,
        CpuidFeature::LZCNT,
        CpuidFeature::BMI1,
        CpuidFeature::BMI2,
        CpuidFeature::ADX,
        CpuidFeature::MOVBE,
    ]
    .iter()
    .any(|f| has(*f))
    {
        return Ok("bmi");
    }
    Ok(int_family(&m))
}

/// All forms enabled by `features` (CPUID features of emulator ∩ host), restricted to
/// `families` when non-empty.
pub fn catalogue(features: &[CpuidFeature], families: &[String]) -> Vec<Form> {
    Code::values()
        .filter_map(|code| {
            let family = classify(code, features).ok()?;
            (families.is_empty() || families.iter().any(|f| f == family))
                .then_some(Form { code, family })
        })
        .collect()
}

/// Expands family arguments: `int` means every `int-*` family, `all` every family.
pub fn expand_families(args: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for a in args {
        for part in a.split(',') {
            let part = part.trim();
            if part == "all" {
                out.extend(FAMILIES.iter().map(|(f, _)| f.to_string()));
            } else if part == "int" {
                out.extend(INTEGER_FAMILIES.iter().map(|f| f.to_string()));
            } else if FAMILIES.iter().any(|(f, _)| *f == part) {
                out.push(part.to_string());
            } else {
                return Err(format!("unknown family '{part}'"));
            }
        }
    }
    out.dedup();
    Ok(out)
}

/// CPUID features (as iced names them) that a CPUID function advertises. Features every
/// x86-64 CPU has are always included.
pub fn features_from_cpuid(cpuid: impl Fn(u32, u32) -> [u32; 4]) -> Vec<CpuidFeature> {
    use CpuidFeature as F;
    let mut v = vec![
        F::INTEL8086,
        F::INTEL186,
        F::INTEL286,
        F::INTEL386,
        F::INTEL486,
        F::X64,
        F::MULTIBYTENOP,
        F::PAUSE,
    ];
    let l1 = cpuid(1, 0);
    let (ecx, edx) = (l1[2], l1[3]);
    let bit = |r: u32, b: u32| r >> b & 1 != 0;
    let pairs1 = [
        (edx, 0, F::FPU),
        (edx, 8, F::CX8),
        (edx, 15, F::CMOV),
        (edx, 19, F::CLFSH),
        (edx, 23, F::MMX),
        (edx, 24, F::FXSR),
        (edx, 25, F::SSE),
        (edx, 26, F::SSE2),
        (ecx, 0, F::SSE3),
        (ecx, 9, F::SSSE3),
        (ecx, 13, F::CMPXCHG16B),
        (ecx, 19, F::SSE4_1),
        (ecx, 20, F::SSE4_2),
        (ecx, 22, F::MOVBE),
        (ecx, 23, F::POPCNT),
        (ecx, 1, F::PCLMULQDQ),
        (ecx, 25, F::AES),
        (ecx, 28, F::AVX),
    ];
    for (r, b, f) in pairs1 {
        if bit(r, b) {
            v.push(f);
        }
    }
    if bit(edx, 0) {
        v.extend([F::FPU287, F::FPU387]);
    }
    let max = cpuid(0, 0)[0];
    if max >= 7 {
        let ebx = cpuid(7, 0)[1];
        for (b, f) in [(3, F::BMI1), (8, F::BMI2), (19, F::ADX), (0, F::FSGSBASE)] {
            if bit(ebx, b) {
                v.push(f);
            }
        }
    }
    let ext = cpuid(0x8000_0001, 0);
    for (r, b, f) in [(ext[2], 5, F::LZCNT), (ext[2], 8, F::PREFETCHW)] {
        if bit(r, b) {
            v.push(f);
        }
    }
    v
}

/// The host's CPUID.
pub fn host_cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    [r.eax, r.ebx, r.ecx, r.edx]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_classifies_core_forms_and_excludes_host_specific_ones() {
        let feats = features_from_cpuid(host_cpuid);
        assert_eq!(classify(Code::Add_rm32_r32, &feats), Ok("int-alu"));
        assert_eq!(classify(Code::Shld_rm16_r16_CL, &feats), Ok("int-shift"));
        assert_eq!(classify(Code::Addps_xmm_xmmm128, &feats), Ok("sse"));
        assert_eq!(classify(Code::Pshufb_xmm_xmmm128, &feats), Ok("ssse3"));
        assert_eq!(classify(Code::Paddb_mm_mmm64, &feats), Ok("mmx"));
        assert_eq!(classify(Code::Fsin, &feats), Ok("x87-trans"));
        assert_eq!(classify(Code::Hlt, &feats), Ok("priv"));
        assert!(classify(Code::Rdtsc, &feats).is_err());
        assert!(classify(Code::Cpuid, &feats).is_err());
        assert!(classify(Code::VEX_Vaddps_xmm_xmm_xmmm128, &feats).is_err());
    }
}
