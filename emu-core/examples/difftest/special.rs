//! Forms with implicit operands or constraints the generic operand path cannot express:
//! relative/indirect branches and returns (targets inside the snippet), string instructions
//! (RSI/RDI/RCX/DF and rep prefixes), xlat, maskmov*, the stack (RSP/RBP in the data pages),
//! shift counts and their count-dependent undefined flags, divisions that mostly do not
//! overflow, cmpxchg comparands, and x87/SSE images loaded from memory.
//!
//! Neighbours: called by `gen.rs` at fixed points of building a case.

use iced_x86::{
    Code, FlowControl, Instruction, Mnemonic, OpCodeOperandKind as K, OpKind, Register,
};

use crate::gen::{decode, encode, gpr_index, Ctx, Op};
use crate::state::{
    fl, fx, put32, random_state, DATA_BASE, DATA_RO, DATA_RW_PAGES, DATA_UNMAPPED, PAGE, SNIPPET,
};

/// `lea rax, [rax+1]`: filler after a branch, so taken and not-taken paths differ in RAX.
const FILL: [u8; 4] = [0x48, 0x8d, 0x40, 0x01];

fn is_string(code: Code) -> bool {
    code.op_code()
        .op_kinds()
        .iter()
        .any(|k| matches!(k, K::seg_rSI | K::es_rDI))
}

fn is_branch(code: Code) -> bool {
    matches!(
        code.flow_control(),
        FlowControl::ConditionalBranch
            | FlowControl::UnconditionalBranch
            | FlowControl::Call
            | FlowControl::IndirectBranch
            | FlowControl::IndirectCall
            | FlowControl::Return
    )
}

/// Whether [`build`] is the only way to generate `code`.
pub fn handles(code: Code) -> bool {
    is_string(code)
        || is_branch(code)
        || matches!(
            code,
            Code::Xlat_m8 | Code::Maskmovdqu_rDI_xmm_xmm | Code::Maskmovq_rDI_mm_mm
        )
}

/// Sets the bits of `reg` (any GPR width, incl. AH..BH) to `v` in the initial state.
pub fn set_reg(ctx: &mut Ctx<'_>, reg: Register, v: u64) {
    let Some(i) = gpr_index(reg) else { return };
    let old = ctx.st.gpr[i];
    let new = match reg.size() {
        1 if matches!(
            reg,
            Register::AH | Register::CH | Register::DH | Register::BH
        ) =>
        {
            (old & !0xff00) | ((v & 0xff) << 8)
        }
        1 => (old & !0xff) | (v & 0xff),
        2 => (old & !0xffff) | (v & 0xffff),
        4 => (old & !0xffff_ffff) | (v & 0xffff_ffff),
        _ => v,
    };
    ctx.fix(i, new);
}

/// Value of `reg` in the initial state (zero-extended).
pub fn get_reg(ctx: &Ctx<'_>, reg: Register) -> u64 {
    let Some(i) = gpr_index(reg) else { return 0 };
    let v = ctx.st.gpr[i];
    match reg.size() {
        1 if matches!(
            reg,
            Register::AH | Register::CH | Register::DH | Register::BH
        ) =>
        {
            (v >> 8) & 0xff
        }
        1 => v & 0xff,
        2 => v & 0xffff,
        4 => v & 0xffff_ffff,
        _ => v,
    }
}

/// A stack pointer: mostly inside the read-write pages, sometimes at their bottom (pushes
/// fault on the unmapped page below) or in the read-only page (pushes fault).
fn stack_ptr(ctx: &mut Ctx<'_>) -> u64 {
    let rw = DATA_RW_PAGES * PAGE;
    match ctx.rng.below(100) {
        0..=84 => {
            let p = DATA_BASE + 0x200 + ctx.rng.below(rw - 0x400);
            if ctx.rng.chance(9, 10) {
                p & !7
            } else {
                p
            }
        }
        85..=89 => DATA_BASE + ctx.rng.below(24),
        90..=94 => DATA_RO + (ctx.rng.below(0x100) & !7),
        _ => DATA_RO - 8 + ctx.rng.below(16),
    }
}

/// Constrains implicit registers before any operand is chosen.
pub fn before_operands(ctx: &mut Ctx<'_>, code: Code) {
    let m = code.mnemonic();
    if code.is_stack_instruction() || matches!(m, Mnemonic::Enter | Mnemonic::Leave) {
        let sp = stack_ptr(ctx);
        ctx.fix(4, sp);
    }
    if matches!(m, Mnemonic::Enter | Mnemonic::Leave) {
        let bp = stack_ptr(ctx);
        ctx.fix(5, bp);
    }
    if matches!(m, Mnemonic::Popf | Mnemonic::Popfq) {
        // TF would trap in the epilogue and AC would enable alignment checks: keep them clear.
        let v = ctx.rng.next_u64() & !(fl::TF | fl::AC);
        let sp = ctx.st.gpr[4];
        ctx.poke(sp, &v.to_le_bytes());
    }
}

fn is_shift(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::Shl
            | Mnemonic::Sal
            | Mnemonic::Shr
            | Mnemonic::Sar
            | Mnemonic::Rol
            | Mnemonic::Ror
            | Mnemonic::Rcl
            | Mnemonic::Rcr
            | Mnemonic::Shld
            | Mnemonic::Shrd
    )
}

fn shift_count(ctx: &mut Ctx<'_>) -> u64 {
    if ctx.rng.chance(1, 4) {
        return ctx.rng.below(256);
    }
    ctx.rng.pick(&[
        0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0xff,
    ])
}

/// Fixes registers that memory operands must not take over (counts, bit offsets).
pub fn before_memory(ctx: &mut Ctx<'_>, code: Code, ops: &mut [Op]) {
    let m = code.mnemonic();
    let kinds = code.op_code().op_kinds();
    if is_shift(m) {
        for (k, op) in kinds.iter().zip(ops.iter_mut()) {
            match k {
                K::cl => {
                    let c = shift_count(ctx);
                    set_reg(ctx, Register::CL, c);
                }
                K::imm8 => *op = Op::Imm(shift_count(ctx)),
                _ => {}
            }
        }
    }
    if matches!(
        m,
        Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc
    ) {
        // Register bit offset with a memory base reaches up to ±2 KiB around the address.
        if let (Some(Op::Imm(_)), Some(Op::Reg(r))) = (ops.first(), ops.get(1)) {
            let off = (ctx.rng.below(0x8000) as i64 - 0x4000) as u64;
            let r = *r;
            set_reg(ctx, r, off);
        }
    }
}

/// Adjusts state that depends on the chosen memory operand (at linear address `target`).
pub fn after_memory(ctx: &mut Ctx<'_>, code: Code, _ops: &[Op], target: u64) {
    let off = target.wrapping_sub(DATA_BASE) as usize;
    let ignore = |ctx: &mut Ctx<'_>, a: usize, b: usize| {
        ctx.mem_ignore
            .push((off.wrapping_add(a), off.wrapping_add(b)));
    };
    match code {
        Code::Fnstenv_m28byte
        | Code::Fnsave_m108byte
        | Code::Fstenv_m28byte
        | Code::Fsave_m108byte => ignore(ctx, 12, 28),
        Code::Fnstenv_m14byte
        | Code::Fnsave_m94byte
        | Code::Fstenv_m14byte
        | Code::Fsave_m94byte => ignore(ctx, 6, 14),
        Code::Fxsave_m512byte | Code::Fxsave64_m512byte => {
            ignore(ctx, 6, 24);
            ignore(ctx, 28, 32);
        }
        Code::Fxrstor_m512byte | Code::Fxrstor64_m512byte => {
            let mut img = random_state(ctx.rng).fx;
            if ctx.rng.chance(1, 10) {
                // Bit 17 (AMD's MM, misaligned-SSE mode) is host-specific: never set it.
                put32(&mut img, fx::MXCSR, ctx.rng.next_u64() as u32 & !(1 << 17));
            }
            ctx.poke(target, &img);
        }
        Code::Ldmxcsr_m32 => {
            let mut v = random_state(ctx.rng).mxcsr();
            if ctx.rng.chance(1, 10) {
                v = ctx.rng.next_u64() as u32 & !(1 << 17);
            }
            ctx.poke(target, &v.to_le_bytes());
        }
        _ => {}
    }
    if matches!(
        code.mnemonic(),
        Mnemonic::Rcpps | Mnemonic::Rcpss | Mnemonic::Rsqrtps | Mnemonic::Rsqrtss
    ) {
        ctx.approx = true;
    }
}

fn read_data(ctx: &Ctx<'_>, addr: u64, n: usize) -> u64 {
    let mut v = 0u64;
    for i in 0..n.min(8) {
        let a = addr.wrapping_add(i as u64).wrapping_sub(DATA_BASE) as usize;
        let b = ctx.mem.get(a).copied().unwrap_or(0);
        v |= (b as u64) << (8 * i);
    }
    v
}

/// Final adjustments once all operands are known: division operands that usually do not
/// overflow, cmpxchg comparands that often match.
pub fn after_operands(ctx: &mut Ctx<'_>, code: Code, ops: &[Op], target: Option<u64>) {
    let m = code.mnemonic();
    if matches!(
        m,
        Mnemonic::Rcpps | Mnemonic::Rcpss | Mnemonic::Rsqrtps | Mnemonic::Rsqrtss
    ) {
        ctx.approx = true;
    }
    let bytes = code.op_code().operand_size().max(8) as usize / 8;
    let w = match code.op_code().memory_size().size() {
        0 => ops
            .first()
            .and_then(|o| {
                if let Op::Reg(r) = o {
                    Some(r.size())
                } else {
                    None
                }
            })
            .unwrap_or(bytes),
        n => n,
    };
    let value_of = |ctx: &Ctx<'_>, op: &Op| match op {
        Op::Reg(r) => get_reg(ctx, *r),
        _ => target.map_or(0, |t| read_data(ctx, t, w)),
    };
    let mask = if w >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * w)) - 1
    };
    match m {
        Mnemonic::Div | Mnemonic::Idiv if ops.len() == 1 && ctx.rng.chance(4, 5) => {
            if ctx.fixed[0] || ctx.fixed[2] {
                return;
            }
            if let Op::Reg(r) = ops[0] {
                if matches!(gpr_index(r), Some(0) | Some(2)) {
                    return;
                }
            }
            let d = value_of(ctx, &ops[0]) & mask;
            let lo = ctx.st.gpr[0] & mask;
            let hi = if m == Mnemonic::Div {
                if d == 0 {
                    0
                } else {
                    ctx.rng.below(d)
                }
            } else {
                let sign = (lo >> (8 * w - 1)) & 1;
                if sign == 1 {
                    mask
                } else {
                    0
                }
            };
            if w == 1 {
                set_reg(ctx, Register::AH, hi);
            } else {
                let r = match w {
                    2 => Register::DX,
                    4 => Register::EDX,
                    _ => Register::RDX,
                };
                set_reg(ctx, r, hi);
            }
        }
        Mnemonic::Cmpxchg if ctx.rng.chance(1, 2) && !ctx.fixed[0] => {
            let v = value_of(ctx, &ops[0]) & mask;
            let r = match w {
                1 => Register::AL,
                2 => Register::AX,
                4 => Register::EAX,
                _ => Register::RAX,
            };
            set_reg(ctx, r, v);
        }
        Mnemonic::Cmpxchg8b | Mnemonic::Cmpxchg16b
            if ctx.rng.chance(1, 2) && !ctx.fixed[0] && !ctx.fixed[2] =>
        {
            if let Some(t) = target {
                let h = if m == Mnemonic::Cmpxchg8b { 4 } else { 8 };
                let lo = read_data(ctx, t, h);
                let hi = read_data(ctx, t.wrapping_add(h as u64), h);
                let (rl, rh) = if h == 4 {
                    (Register::EAX, Register::EDX)
                } else {
                    (Register::RAX, Register::RDX)
                };
                set_reg(ctx, rl, lo);
                set_reg(ctx, rh, hi);
            }
        }
        _ => {}
    }
}

/// Count-dependent undefined flags of shifts and rotates (SDM Vol. 2B, SAL/SAR/SHL/SHR,
/// RCL/RCR/ROL/ROR, SHLD, SHRD); `None` rejects the case (16-bit shld/shrd count > 16).
pub fn count_dependent(ctx: &mut Ctx<'_>, ins: &Instruction, undef: &mut u64) -> Option<()> {
    let m = ins.mnemonic();
    if !is_shift(m) {
        return Some(());
    }
    let last = ins.op_count() - 1;
    let count = match ins.op_kind(last) {
        OpKind::Register if ins.op_register(last) == Register::CL => ctx.st.gpr[1] & 0xff,
        OpKind::Immediate8 => ins.immediate8() as u64,
        _ => 1,
    };
    let width = match ins.op0_kind() {
        OpKind::Register => ins.op0_register().size() as u64 * 8,
        _ => ins.memory_size().size() as u64 * 8,
    };
    let masked = count & if width == 64 { 63 } else { 31 };
    let mut u = 0;
    if masked != 0 {
        match m {
            Mnemonic::Shl | Mnemonic::Sal | Mnemonic::Shr | Mnemonic::Sar => {
                u |= fl::AF;
                if masked > 1 {
                    u |= fl::OF;
                }
                if masked >= width && m != Mnemonic::Sar {
                    u |= fl::CF;
                }
            }
            Mnemonic::Shld | Mnemonic::Shrd => {
                if width == 16 && masked > 16 {
                    return None;
                }
                u |= fl::AF;
                if masked > 1 {
                    u |= fl::OF;
                }
            }
            _ => {
                if masked > 1 {
                    u |= fl::OF;
                }
            }
        }
    }
    ctx.own_flags = true;
    *undef = u;
    Some(())
}

/// Builds the special forms; `None` when `code` is not special or generation failed.
pub fn build(ctx: &mut Ctx<'_>, code: Code) -> Option<Vec<u8>> {
    if is_string(code) {
        return string(ctx, code);
    }
    match code {
        Code::Xlat_m8 => return xlat(ctx),
        Code::Maskmovdqu_rDI_xmm_xmm | Code::Maskmovq_rDI_mm_mm => return maskmov(ctx, code),
        _ => {}
    }
    if !is_branch(code) {
        return None;
    }
    branch(ctx, code)
}

fn pick_seg(ctx: &mut Ctx<'_>) -> (Option<u8>, u64) {
    match ctx.rng.below(10) {
        0 if ctx.fsgsbase => (Some(0x64), ctx.st.fs_base),
        1 if ctx.fsgsbase => (Some(0x65), ctx.st.gs_base),
        2 => (Some(ctx.rng.pick(&[0x26, 0x2e, 0x36, 0x3e])), 0),
        _ => (None, 0),
    }
}

fn string(ctx: &mut Ctx<'_>, code: Code) -> Option<Vec<u8>> {
    let opc = code.op_code();
    let kinds = opc.op_kinds();
    let reads_src = kinds.contains(&K::seg_rSI);
    let writes_dst = kinds.contains(&K::es_rDI);
    let w = (opc.operand_size().max(8) / 8) as u64;
    let addr32 = ctx.rng.chance(1, 5);
    let mut bytes = Vec::new();
    if addr32 {
        bytes.push(0x67);
    }
    let (seg, seg_base) = if reads_src { pick_seg(ctx) } else { (None, 0) };
    if let Some(s) = seg {
        bytes.push(s);
    }
    let rep = if opc.can_use_repne_prefix() {
        ctx.rng.pick(&[None, Some(0xf3u8), Some(0xf2)])
    } else if opc.can_use_rep_prefix() {
        ctx.rng.pick(&[None, Some(0xf3u8)])
    } else {
        None
    };
    if let Some(r) = rep {
        bytes.push(r);
    }
    match opc.operand_size() {
        16 => bytes.push(0x66),
        64 => bytes.push(0x48),
        _ => {}
    }
    bytes.push(opc.op_code() as u8);
    let count = if rep.is_some() {
        ctx.rng.pick(&[0, 1, 2, 3, 4, 5, 7, 8, 16])
    } else {
        ctx.rng.interesting_u64()
    };
    let junk = |ctx: &mut Ctx<'_>| if addr32 { ctx.rng.next_u64() << 32 } else { 0 };
    let j = junk(ctx);
    ctx.fix(1, count | j);
    let room = count.min(16) * w;
    let down = ctx.st.rflags & fl::DF != 0;
    let place = |ctx: &mut Ctx<'_>, base: u64| -> Option<u64> {
        let mut t = ctx.data_addr(w, w);
        if ctx.rng.chance(3, 4) && (DATA_BASE..DATA_RO).contains(&t) {
            // Keep most runs inside the read-write pages.
            t = if down {
                t.max(DATA_BASE + room)
            } else {
                t.min(DATA_RO - room - w)
            };
        }
        let ea = t.wrapping_sub(base);
        if addr32 && ea >= 1 << 32 {
            return None;
        }
        Some(ea)
    };
    if reads_src {
        let ea = place(ctx, seg_base)?;
        let j = junk(ctx);
        ctx.fix(6, ea | j);
    }
    if writes_dst {
        let ea = place(ctx, 0)?;
        let j = junk(ctx);
        ctx.fix(7, ea | j);
    }
    Some(bytes)
}

fn xlat(ctx: &mut Ctx<'_>) -> Option<Vec<u8>> {
    let addr32 = ctx.rng.chance(1, 5);
    let mut bytes = Vec::new();
    if addr32 {
        bytes.push(0x67);
    }
    let (seg, base) = pick_seg(ctx);
    if let Some(s) = seg {
        bytes.push(s);
    }
    if ctx.rng.chance(1, 4) {
        bytes.push(0x48);
    }
    bytes.push(0xd7);
    let al = ctx.st.gpr[0] & 0xff;
    let t = ctx.data_addr(1, 1);
    let ea = t.wrapping_sub(base).wrapping_sub(al);
    if addr32 && ea >= 1 << 32 {
        return None;
    }
    let j = if addr32 { ctx.rng.next_u64() << 32 } else { 0 };
    ctx.fix(3, ea | j);
    Some(bytes)
}

fn maskmov(ctx: &mut Ctx<'_>, code: Code) -> Option<Vec<u8>> {
    let (seg, base) = pick_seg(ctx);
    let seg_reg = match seg {
        Some(0x64) => Register::FS,
        Some(0x65) => Register::GS,
        Some(0x26) => Register::ES,
        Some(0x2e) => Register::CS,
        Some(0x36) => Register::SS,
        Some(_) => Register::DS,
        None => Register::None,
    };
    let t = ctx.data_addr(16, 1);
    ctx.fix(7, t.wrapping_sub(base));
    let ins = if code == Code::Maskmovdqu_rDI_xmm_xmm {
        let a = Register::try_from(Register::XMM0 as usize + ctx.rng.index(16)).ok()?;
        let b = Register::try_from(Register::XMM0 as usize + ctx.rng.index(16)).ok()?;
        Instruction::with_maskmovdqu(64, a, b, seg_reg).ok()?
    } else {
        let a = Register::try_from(Register::MM0 as usize + ctx.rng.index(8)).ok()?;
        let b = Register::try_from(Register::MM0 as usize + ctx.rng.index(8)).ok()?;
        Instruction::with_maskmovq(64, a, b, seg_reg).ok()?
    };
    encode(&ins)
}

/// A branch followed by 0..3 fillers; the target is a filler boundary or the end.
fn branch(ctx: &mut Ctx<'_>, code: Code) -> Option<Vec<u8>> {
    let fillers = ctx.rng.below(4);
    let skip = ctx.rng.below(fillers + 1);
    let flow = code.flow_control();
    let m = code.mnemonic();
    if matches!(
        m,
        Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne | Mnemonic::Jrcxz | Mnemonic::Jecxz
    ) {
        let c = ctx
            .rng
            .pick(&[0u64, 1, 2, 3, 0x1_0000_0000, 0x1_0000_0001, u64::MAX]);
        let c = if ctx.rng.chance(1, 5) {
            ctx.rng.next_u64()
        } else {
            c
        };
        ctx.fix(1, c);
    }
    let mut slot = None;
    let (mut ins, len) = match flow {
        FlowControl::Return => {
            let mut ins = Instruction::default();
            ins.set_code(code);
            if code.op_code().op_count() == 1 {
                ins.set_op0_kind(OpKind::Immediate16);
                let imm = ctx.rng.pick(&[0u16, 8, 16, 24, 0x100, 0xfff8]);
                ins.set_immediate16(if ctx.rng.chance(1, 8) {
                    ctx.rng.next_u64() as u16
                } else {
                    imm
                });
            }
            let len = encode(&ins)?.len() as u64;
            (ins, len)
        }
        FlowControl::IndirectBranch | FlowControl::IndirectCall => {
            let mut ins = Instruction::default();
            ins.set_code(code);
            if ctx.rng.chance(1, 2) {
                let free: Vec<usize> = (0..16).filter(|i| !ctx.fixed[*i]).collect();
                let r = *free.get(ctx.rng.index(free.len().max(1)))?;
                ins.set_op0_kind(OpKind::Register);
                ins.set_op0_register(crate::gen::GPR64[r]);
            } else {
                let t = ctx.data_addr(8, 8);
                let mo = ctx.mem_operand(t, true)?;
                crate::gen::set_operand(&mut ins, 0, K::mem, Op::Mem(mo), false);
                slot = Some(t);
            }
            let len = encode(&ins)?.len() as u64;
            (ins, len)
        }
        _ => {
            let ins = Instruction::with_branch(code, SNIPPET).ok()?;
            let len = encode(&ins)?.len() as u64;
            (ins, len)
        }
    };
    let mut target = SNIPPET + len + 4 * skip;
    // A bad target together with a faulting push of the return address faults in a
    // vendor-specific order (AMD reports the push's #PF, the SDM checks the target first).
    let sp = ctx.st.gpr[4];
    let calm_stack = (DATA_BASE + 0x100..DATA_RO - 0x100).contains(&sp);
    match if calm_stack || flow != FlowControl::IndirectCall {
        ctx.rng.below(40)
    } else {
        40
    } {
        0 => target = DATA_UNMAPPED + ctx.rng.below(PAGE),
        1 => target = 0x8000_0000_0000_0000 | ctx.rng.next_u64() >> 4,
        _ => {}
    }
    match flow {
        FlowControl::Return => {
            let sp = ctx.st.gpr[4];
            ctx.poke(sp, &target.to_le_bytes());
        }
        FlowControl::IndirectBranch | FlowControl::IndirectCall => {
            if ins.op0_kind() == OpKind::Register {
                let r = gpr_index(ins.op0_register())?;
                ctx.fix(r, target);
            } else if let Some(t) = slot {
                ctx.poke(t, &target.to_le_bytes());
            }
        }
        _ => {
            if target >= 1 << 63 || target >= DATA_BASE {
                target = SNIPPET + len + 4 * skip;
            }
            ins = Instruction::with_branch(code, target).ok()?;
        }
    }
    let mut bytes = encode(&ins)?;
    if bytes.len() as u64 != len || decode(&bytes).code() != code {
        return None;
    }
    for _ in 0..fillers {
        bytes.extend_from_slice(&FILL);
    }
    Some(bytes)
}
