//! The random case generator: picks a form, randomizes the initial state and data pages,
//! chooses operands (registers, immediates, memory operands that land in the data pages or,
//! on purpose, beside them), encodes the instruction with iced-x86 at [`SNIPPET`], and records
//! which flags/bytes are undefined for the comparison.
//!
//! Neighbours: `forms.rs` (what to generate), `special.rs` (branches, strings, stack and other
//! forms with implicit operands), `state.rs` (the [`Case`]).

use iced_x86::{
    Code, Decoder, DecoderOptions, Encoder, Instruction, MemoryOperand, MemorySize, Mnemonic,
    OpCodeOperandKind as K, OpKind, Register, RflagsBits,
};

use crate::forms::{mnemonic_name, Form, X87_TRANS};
use crate::special;
use crate::state::{
    fl, put16, put32, put64, random_state, Case, CpuState, Rng, DATA_BASE, DATA_LEN, DATA_RO,
    DATA_RW_PAGES, DATA_UNMAPPED, PAGE, SNIPPET,
};

/// 64-bit GPRs in encoding order.
pub const GPR64: [Register; 16] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
    Register::RSP,
    Register::RBP,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];

/// Register-file index (0..16) of a GPR of any width (AH..BH map to RAX..RBX).
pub fn gpr_index(r: Register) -> Option<usize> {
    if !r.is_gpr() {
        return None;
    }
    if matches!(r, Register::AH | Register::CH | Register::DH | Register::BH) {
        return Some(r.number() - 4);
    }
    Some(r.full_register().number())
}

/// Working state while one case is built.
pub struct Ctx<'r> {
    /// The case PRNG.
    pub rng: &'r mut Rng,
    /// Initial state being built.
    pub st: CpuState,
    /// Initial data pages being built.
    pub mem: Vec<u8>,
    /// GPRs whose value is already constrained (memory bases, implicit pointers, counts).
    pub fixed: [bool; 16],
    /// Extra undefined RFLAGS bits (replaces iced's mask when `own_flags` is set).
    pub flags_undefined: u64,
    /// When set, `flags_undefined` is the whole mask (count-dependent shifts).
    pub own_flags: bool,
    /// Data byte ranges not compared.
    pub mem_ignore: Vec<(usize, usize)>,
    /// Approximate instruction.
    pub approx: bool,
    /// Whether FS/GS bases may be set (host supports wrfsbase).
    pub fsgsbase: bool,
}

impl Ctx<'_> {
    /// Sets GPR `i` and marks it constrained.
    pub fn fix(&mut self, i: usize, v: u64) {
        self.st.gpr[i] = v;
        self.fixed[i] = true;
    }

    /// A random data address for an access of `size` bytes: mostly in the read-write pages
    /// (aligned or not, sometimes crossing a page), sometimes in the read-only page, crossing
    /// into it, or into the unmapped page, rarely non-canonical.
    pub fn data_addr(&mut self, size: u64, align: u64) -> u64 {
        let size = size.max(1);
        let rw_len = DATA_RW_PAGES * PAGE;
        let align = align.clamp(1, 16);
        match self.rng.below(100) {
            0..=69 => {
                let a = DATA_BASE + self.rng.below(rw_len - size - 16);
                if self.rng.chance(3, 4) {
                    a & !(align - 1)
                } else {
                    a
                }
            }
            70..=79 => {
                // Straddle a page boundary between two read-write pages.
                let page = 1 + self.rng.below(DATA_RW_PAGES - 1);
                DATA_BASE + page * PAGE - 1 - self.rng.below(size.max(2) - 1)
            }
            80..=87 => DATA_RO + (self.rng.below(PAGE - size) & !(align - 1)),
            88..=91 => DATA_RO - 1 - self.rng.below(size.max(2) - 1),
            92..=95 => DATA_UNMAPPED - self.rng.below(size.max(2) - 1).min(size - 1),
            96..=97 => DATA_UNMAPPED + self.rng.below(PAGE),
            _ => 0x8000_0000_0000_0000 | self.rng.next_u64() >> 2,
        }
    }

    /// Builds a memory operand whose effective linear address is `target`.
    pub fn mem_operand(&mut self, target: u64, allow_rip: bool) -> Option<MemoryOperand> {
        let addr32 = self.rng.chance(1, 10) && target < 1 << 32;
        let mut seg = Register::None;
        let mut seg_base = 0;
        match self.rng.below(20) {
            0 if self.fsgsbase => {
                seg = Register::FS;
                seg_base = self.st.fs_base;
            }
            1 if self.fsgsbase => {
                seg = Register::GS;
                seg_base = self.st.gs_base;
            }
            2 => {
                seg = self
                    .rng
                    .pick(&[Register::ES, Register::CS, Register::SS, Register::DS]);
            }
            _ => {}
        }
        let ea = target.wrapping_sub(seg_base);
        if addr32 && ea >= 1 << 32 {
            return None;
        }
        let mode = self.rng.below(10);
        if allow_rip && mode == 0 && !addr32 {
            return Some(MemoryOperand::new(
                Register::RIP,
                Register::None,
                1,
                ea as i64,
                4,
                false,
                seg,
            ));
        }
        if mode == 1 {
            let d = ea as i64;
            return (i32::try_from(d).is_ok() || addr32).then(|| {
                MemoryOperand::new(
                    Register::None,
                    Register::None,
                    1,
                    d as i32 as i64,
                    4,
                    false,
                    seg,
                )
            });
        }
        let use_base = mode != 2;
        let use_index = mode >= 6 || mode == 2;
        let scale = if use_index {
            self.rng.pick(&[1u32, 2, 4, 8])
        } else {
            1
        };
        let regs = |i: usize| {
            if addr32 {
                Register::EAX as u32 + i as u32
            } else {
                Register::RAX as u32 + i as u32
            }
        };
        let base_i = self.rng.index(16);
        let mut index_i = self.rng.index(16);
        if index_i == 4 {
            index_i = 5 + self.rng.index(11);
        }
        // Index value: small, so the displacement or base can absorb it.
        let mut idx_val = 0u64;
        if use_index {
            if !self.fixed[index_i] {
                let v = (self.rng.below(256) as i64 - 128) as u64;
                let junk = if addr32 { self.rng.next_u64() << 32 } else { 0 };
                self.fix(index_i, v | junk);
            }
            idx_val = self.st.gpr[index_i].wrapping_mul(scale as u64);
            if addr32 {
                idx_val &= 0xffff_ffff;
            }
        }
        let mut disp: i64 = match self.rng.below(3) {
            0 => 0,
            1 => self.rng.below(256) as i64 - 128,
            _ => self.rng.below(0x10000) as i64 - 0x8000,
        };
        if use_base {
            if use_index && base_i == index_i {
                // Same register as base and index: the displacement absorbs it.
                let v = self.st.gpr[base_i];
                disp = ea.wrapping_sub(v.wrapping_add(idx_val)) as i64;
            } else if self.fixed[base_i] {
                disp = ea.wrapping_sub(self.st.gpr[base_i].wrapping_add(idx_val)) as i64;
            } else {
                let v = ea.wrapping_sub(idx_val).wrapping_sub(disp as u64);
                let junk = if addr32 { self.rng.next_u64() << 32 } else { 0 };
                self.fix(
                    base_i,
                    (v & if addr32 { 0xffff_ffff } else { u64::MAX }) | junk,
                );
            }
        } else {
            disp = ea.wrapping_sub(idx_val) as i64;
        }
        if addr32 {
            disp = disp as i32 as i64;
        } else if i32::try_from(disp).is_err() {
            return None;
        }
        let base = if use_base {
            Register::try_from(regs(base_i) as usize).ok()?
        } else {
            Register::None
        };
        let index = if use_index {
            Register::try_from(regs(index_i) as usize).ok()?
        } else {
            Register::None
        };
        let dsize = if disp == 0 {
            0
        } else if i8::try_from(disp).is_ok() {
            1
        } else {
            4
        };
        Some(MemoryOperand::new(
            base, index, scale, disp, dsize, false, seg,
        ))
    }

    /// Writes `bytes` into the initial data pages at linear address `addr` (clipped).
    pub fn poke(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let a = addr.wrapping_add(i as u64);
            if (DATA_BASE..DATA_BASE + DATA_LEN as u64).contains(&a) {
                self.mem[(a - DATA_BASE) as usize] = *b;
            }
        }
    }

    /// Fills memory at `addr` with interesting values of the memory size's element type.
    pub fn fill_typed(&mut self, addr: u64, ms: MemorySize) {
        let size = ms.size();
        let elem = ms.element_type();
        let esize = ms.element_size().max(1);
        let mut buf = vec![0u8; size];
        let mut o = 0;
        while o + esize <= size {
            match elem {
                MemorySize::Float32 => put32(&mut buf, o, self.rng.float32()),
                MemorySize::Float64 => put64(&mut buf, o, self.rng.float64()),
                MemorySize::Float80 => {
                    let (m, e) = self.rng.float80();
                    put64(&mut buf, o, m);
                    put16(&mut buf, o + 8, e);
                }
                _ => {
                    for k in 0..esize.min(8) {
                        let v = self.rng.interesting_u64();
                        buf[o + k] = (v >> (8 * k)) as u8;
                    }
                }
            }
            o += esize;
        }
        if size > 0 && self.rng.chance(3, 4) {
            self.poke(addr, &buf);
        }
    }
}

/// An operand before it is put into an [`Instruction`].
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// A register.
    Reg(Register),
    /// A memory operand.
    Mem(MemoryOperand),
    /// An immediate (truncated to the operand's immediate kind).
    Imm(u64),
}

const R8: [Register; 20] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::AH,
    Register::CH,
    Register::DH,
    Register::BH,
    Register::SPL,
    Register::BPL,
    Register::SIL,
    Register::DIL,
    Register::R8L,
    Register::R9L,
    Register::R10L,
    Register::R11L,
    Register::R12L,
    Register::R13L,
    Register::R14L,
    Register::R15L,
];

fn reg_of(base: Register, n: usize) -> Register {
    Register::try_from(base as usize + n).unwrap_or(base)
}

/// A random register for a register operand kind; `None` for non-register kinds.
pub fn random_reg(rng: &mut Rng, k: K) -> Option<Register> {
    Some(match k {
        K::r8_reg | K::r8_opcode | K::r8_or_mem => R8[rng.index(20)],
        K::r16_reg | K::r16_rm | K::r16_opcode | K::r16_reg_mem | K::r16_or_mem => {
            reg_of(Register::AX, rng.index(16))
        }
        K::r32_reg | K::r32_rm | K::r32_opcode | K::r32_vvvv | K::r32_reg_mem | K::r32_or_mem => {
            reg_of(Register::EAX, rng.index(16))
        }
        K::r64_reg | K::r64_rm | K::r64_opcode | K::r64_vvvv | K::r64_reg_mem | K::r64_or_mem => {
            reg_of(Register::RAX, rng.index(16))
        }
        K::xmm_reg | K::xmm_rm | K::xmm_or_mem => reg_of(Register::XMM0, rng.index(16)),
        K::mm_reg | K::mm_rm | K::mm_or_mem => reg_of(Register::MM0, rng.index(8)),
        K::cr_reg => rng.pick(&[
            Register::CR0,
            Register::CR2,
            Register::CR3,
            Register::CR4,
            Register::CR8,
        ]),
        K::al => Register::AL,
        K::cl => Register::CL,
        K::ax => Register::AX,
        K::dx => Register::DX,
        K::eax => Register::EAX,
        K::rax => Register::RAX,
        K::st0 => Register::ST0,
        K::sti_opcode => reg_of(Register::ST0, rng.index(8)),
        _ => return None,
    })
}

fn is_imm(k: K) -> bool {
    matches!(
        k,
        K::imm8
            | K::imm8_const_1
            | K::imm8sex16
            | K::imm8sex32
            | K::imm8sex64
            | K::imm16
            | K::imm32
            | K::imm32sex64
            | K::imm64
    )
}

/// A random immediate for kind `k`, biased to edge values.
pub fn random_imm(rng: &mut Rng, k: K) -> u64 {
    let v = rng.interesting_u64();
    match k {
        K::imm8_const_1 => 1,
        K::imm8 => v & 0xff,
        K::imm8sex16 | K::imm8sex32 | K::imm8sex64 => v as i8 as i64 as u64,
        K::imm16 => v & 0xffff,
        K::imm32 => v & 0xffff_ffff,
        K::imm32sex64 => v as i32 as i64 as u64,
        _ => v,
    }
}

/// Puts operand `i` into `ins` (kind from the op-code table).
pub fn set_operand(ins: &mut Instruction, i: u32, k: K, op: Op, prev_imm: bool) {
    match op {
        Op::Reg(r) => {
            ins.set_op_kind(i, OpKind::Register);
            ins.set_op_register(i, r);
        }
        Op::Mem(m) => {
            ins.set_op_kind(i, OpKind::Memory);
            ins.set_memory_base(m.base);
            ins.set_memory_index(m.index);
            ins.set_memory_index_scale(m.scale);
            ins.set_memory_displ_size(if k == K::mem_offs { 8 } else { m.displ_size });
            ins.set_memory_displacement64(m.displacement as u64);
            ins.set_segment_prefix(m.segment_prefix);
        }
        Op::Imm(v) => match k {
            K::imm8 | K::imm8_const_1 if prev_imm => {
                ins.set_op_kind(i, OpKind::Immediate8_2nd);
                ins.set_immediate8_2nd(v as u8);
            }
            K::imm8 | K::imm8_const_1 => {
                ins.set_op_kind(i, OpKind::Immediate8);
                ins.set_immediate8(v as u8);
            }
            K::imm8sex16 => {
                ins.set_op_kind(i, OpKind::Immediate8to16);
                ins.set_immediate8to16(v as i8 as i16);
            }
            K::imm8sex32 => {
                ins.set_op_kind(i, OpKind::Immediate8to32);
                ins.set_immediate8to32(v as i8 as i32);
            }
            K::imm8sex64 => {
                ins.set_op_kind(i, OpKind::Immediate8to64);
                ins.set_immediate8to64(v as i8 as i64);
            }
            K::imm16 => {
                ins.set_op_kind(i, OpKind::Immediate16);
                ins.set_immediate16(v as u16);
            }
            K::imm32 => {
                ins.set_op_kind(i, OpKind::Immediate32);
                ins.set_immediate32(v as u32);
            }
            K::imm32sex64 => {
                ins.set_op_kind(i, OpKind::Immediate32to64);
                ins.set_immediate32to64(v as i32 as i64);
            }
            _ => {
                ins.set_op_kind(i, OpKind::Immediate64);
                ins.set_immediate64(v);
            }
        },
    }
}

/// Encodes `ins` at [`SNIPPET`].
pub fn encode(ins: &Instruction) -> Option<Vec<u8>> {
    let mut e = Encoder::new(64);
    e.encode(ins, SNIPPET).ok()?;
    Some(e.take_buffer())
}

/// Decodes the first instruction of `bytes` placed at [`SNIPPET`].
pub fn decode(bytes: &[u8]) -> Instruction {
    let mut d = Decoder::with_ip(64, bytes, SNIPPET, DecoderOptions::NONE);
    d.decode()
}

/// The generic path: one instruction built from its op-code table operand kinds.
fn generic(ctx: &mut Ctx<'_>, code: Code) -> Option<Vec<u8>> {
    let opc = code.op_code();
    let kinds = opc.op_kinds();
    let m = code.mnemonic();
    let no_access =
        matches!(m, Mnemonic::Lea | Mnemonic::Nop) || mnemonic_name(code).starts_with("prefetch");
    let mut ins = Instruction::default();
    ins.set_code(code);
    let mut ops: Vec<Op> = Vec::with_capacity(kinds.len());
    // Registers and immediates first, so the memory operand solver sees fixed registers.
    let mut mem_slot = None;
    for (i, &k) in kinds.iter().enumerate() {
        let want_mem = matches!(k, K::mem | K::mem_offs)
            || (matches!(
                k,
                K::r8_or_mem
                    | K::r16_or_mem
                    | K::r32_or_mem
                    | K::r64_or_mem
                    | K::xmm_or_mem
                    | K::mm_or_mem
            ) && ctx.rng.chance(1, 2));
        if want_mem {
            mem_slot = Some(i);
            ops.push(Op::Imm(0));
        } else if is_imm(k) {
            ops.push(Op::Imm(random_imm(ctx.rng, k)));
        } else {
            ops.push(Op::Reg(random_reg(ctx.rng, k)?));
        }
    }
    special::before_memory(ctx, code, &mut ops);
    let ms = opc.memory_size();
    let mut mem_target = None;
    if let Some(i) = mem_slot {
        let size = ms.size() as u64;
        let target = if no_access {
            ctx.rng.interesting_u64()
        } else {
            let align = if size >= 16 {
                16
            } else {
                size.next_power_of_two()
            };
            ctx.data_addr(size, align)
        };
        let mo = ctx.mem_operand(target, kinds[i] != K::mem_offs)?;
        if kinds[i] == K::mem_offs && (mo.base != Register::None || mo.index != Register::None) {
            return None;
        }
        if !no_access {
            ctx.fill_typed(target, ms);
        }
        ops[i] = Op::Mem(mo);
        mem_target = Some(target);
        special::after_memory(ctx, code, &ops, target);
    }
    let mut prev_imm = false;
    for (i, (&k, op)) in kinds.iter().zip(&ops).enumerate() {
        set_operand(&mut ins, i as u32, k, *op, prev_imm);
        prev_imm = is_imm(k);
    }
    if opc.can_use_lock_prefix() && ctx.rng.chance(1, 8) {
        ins.set_has_lock_prefix(true);
    }
    special::after_operands(ctx, code, &ops, mem_target);
    encode(&ins)
}

/// Generates case `index` of the run with `seed` over `forms`.
pub fn generate(forms: &[Form], seed: u64, index: u64, fsgsbase: bool) -> Case {
    let mut rng = Rng::for_case(seed, index);
    let mut form = rng.index(forms.len());
    for attempt in 0..64 {
        if attempt % 16 == 15 {
            form = rng.index(forms.len());
        }
        if let Some(c) = try_case(&mut rng, forms, form, fsgsbase) {
            return c;
        }
    }
    // Every attempt failed (should not happen): a nop keeps the numbering stable.
    let st = CpuState {
        rip: SNIPPET,
        ..CpuState::default()
    };
    Case {
        form,
        code: vec![0x90],
        init: st,
        mem: vec![0; DATA_LEN],
        flags_undefined: 0,
        fsw_undefined: 0,
        mem_ignore: Vec::new(),
        approx: false,
        ulp_tolerance: false,
    }
}

fn try_case(rng: &mut Rng, forms: &[Form], form: usize, fsgsbase: bool) -> Option<Case> {
    let code = forms[form].code;
    let mut st = random_state(rng);
    if fsgsbase {
        st.fs_base = rng.pick(&[0, 0x1000, 0x10_0000, 0xffff_ffff_ffff_f000, 0x1000_0000]);
        st.gs_base = rng.pick(&[0, 0x2000, 0x20_0000, 0xffff_ffff_fff0_0000]);
    }
    let mut mem = vec![0u8; DATA_LEN];
    for chunk in mem.chunks_mut(8) {
        let v = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    let mut ctx = Ctx {
        rng,
        st,
        mem,
        fixed: [false; 16],
        flags_undefined: 0,
        own_flags: false,
        mem_ignore: Vec::new(),
        approx: false,
        fsgsbase,
    };
    special::before_operands(&mut ctx, code);
    let bytes = match special::build(&mut ctx, code) {
        Some(b) => b,
        None if special::handles(code) => return None,
        None => generic(&mut ctx, code)?,
    };
    let mut first = decode(&bytes);
    if first.code() == Code::Wait && code.op_code().fwait() && bytes.len() > 1 {
        // fclex, finit, fstsw...: iced encodes them as `wait` + the no-wait form.
        first = decode(&bytes[1..]);
    } else if first.code() != code {
        return None;
    }
    let mut flags_undefined = ctx.flags_undefined;
    if !ctx.own_flags {
        flags_undefined |= iced_flags_to_eflags(first.rflags_undefined());
    }
    let fsw_undefined = iced_flags_to_fsw(first.rflags_undefined());
    special::count_dependent(&mut ctx, &first, &mut flags_undefined)?;
    let mut init = ctx.st;
    init.rip = SNIPPET;
    init.rflags &= !(fl::TF | fl::AC);
    Some(Case {
        form,
        code: bytes,
        init,
        mem: ctx.mem,
        flags_undefined,
        fsw_undefined,
        mem_ignore: ctx.mem_ignore,
        approx: ctx.approx,
        ulp_tolerance: X87_TRANS.contains(&mnemonic_name(code).as_str()),
    })
}

/// Maps iced's RflagsBits to EFLAGS bits.
pub fn iced_flags_to_eflags(f: u32) -> u64 {
    let map = [
        (RflagsBits::OF, fl::OF),
        (RflagsBits::SF, fl::SF),
        (RflagsBits::ZF, fl::ZF),
        (RflagsBits::AF, fl::AF),
        (RflagsBits::CF, fl::CF),
        (RflagsBits::PF, fl::PF),
        (RflagsBits::DF, fl::DF),
        (RflagsBits::IF, fl::IF),
        (RflagsBits::AC, fl::AC),
    ];
    map.iter()
        .filter(|(i, _)| f & i != 0)
        .fold(0, |a, (_, e)| a | e)
}

/// Maps iced's x87 condition-code bits (C0..C3) to FSW bits.
pub fn iced_flags_to_fsw(f: u32) -> u16 {
    let map = [
        (RflagsBits::C0, 1u16 << 8),
        (RflagsBits::C1, 1 << 9),
        (RflagsBits::C2, 1 << 10),
        (RflagsBits::C3, 1 << 14),
    ];
    map.iter()
        .filter(|(i, _)| f & i != 0)
        .fold(0, |a, (_, e)| a | e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::{catalogue, features_from_cpuid, host_cpuid};

    #[test]
    fn generator_is_deterministic_and_covers_most_forms() {
        let forms = catalogue(&features_from_cpuid(host_cpuid), &[]);
        let a = generate(&forms, 7, 3, true);
        let b = generate(&forms, 7, 3, true);
        assert_eq!(
            (a.code.clone(), a.init.clone(), a.mem.clone()),
            (b.code, b.init, b.mem)
        );
        let mut hit = vec![false; forms.len()];
        for i in 0..20_000 {
            let c = generate(&forms, 1, i, true);
            hit[c.form] = decode(&c.code).code() == forms[c.form].code;
        }
        let missed: Vec<_> = forms
            .iter()
            .zip(&hit)
            .filter(|(_, h)| !**h)
            .map(|(f, _)| f.code)
            .collect();
        assert!(
            missed.len() < forms.len() / 20,
            "{} of {} forms never generated: {:?}",
            missed.len(),
            forms.len(),
            &missed[..missed.len().min(40)]
        );
    }
}
