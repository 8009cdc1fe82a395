//! General-purpose register file access by iced-x86 `Register`, with the
//! x86-64 sub-register rules: 32-bit writes zero-extend, 16- and 8-bit writes
//! merge, AH/CH/DH/BH are bits 15:8 of RAX/RCX/RDX/RBX.

use iced_x86::Register;

/// A general-purpose register in hardware encoding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Gpr {
    Rax = 0,
    Rcx,
    Rdx,
    Rbx,
    Rsp,
    Rbp,
    Rsi,
    Rdi,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
}

impl Gpr {
    /// All sixteen, in encoding order.
    pub const ALL: [Gpr; 16] = [
        Gpr::Rax,
        Gpr::Rcx,
        Gpr::Rdx,
        Gpr::Rbx,
        Gpr::Rsp,
        Gpr::Rbp,
        Gpr::Rsi,
        Gpr::Rdi,
        Gpr::R8,
        Gpr::R9,
        Gpr::R10,
        Gpr::R11,
        Gpr::R12,
        Gpr::R13,
        Gpr::R14,
        Gpr::R15,
    ];

    /// The conventional lowercase name (`rax`...).
    pub fn name(self) -> &'static str {
        [
            "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15",
        ][self as usize]
    }
}

/// How a register operand maps onto the 16 GPRs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GprSlot {
    /// Bits 63:0 of a GPR.
    Q(usize),
    /// Bits 31:0 (writes zero-extend).
    D(usize),
    /// Bits 15:0.
    W(usize),
    /// Bits 7:0.
    B(usize),
    /// Bits 15:8 (AH, CH, DH, BH).
    H(usize),
    /// Not a general-purpose register.
    None,
}

const AL: u32 = Register::AL as u32;
const AH: u32 = Register::AH as u32;
const BH: u32 = Register::BH as u32;
const R15L: u32 = Register::R15L as u32;
const AX: u32 = Register::AX as u32;
const EAX: u32 = Register::EAX as u32;
const RAX: u32 = Register::RAX as u32;
const R15: u32 = Register::R15 as u32;

/// Classifies `r` as a GPR slot.
#[inline(always)]
pub fn gpr_slot(r: Register) -> GprSlot {
    let n = r as u32;
    if (RAX..=R15).contains(&n) {
        GprSlot::Q((n - RAX) as usize)
    } else if (EAX..RAX).contains(&n) {
        GprSlot::D((n - EAX) as usize)
    } else if (AX..EAX).contains(&n) {
        GprSlot::W((n - AX) as usize)
    } else if (AH..=BH).contains(&n) {
        GprSlot::H((n - AH) as usize)
    } else if (AL..AH).contains(&n) {
        GprSlot::B((n - AL) as usize)
    } else if (BH + 1..=R15L).contains(&n) {
        // SPL=9 -> 4 ... R15L=20 -> 15
        GprSlot::B((n - AL - 4) as usize)
    } else {
        GprSlot::None
    }
}

/// Reads a GPR operand (zero-extended to 64 bits).
#[inline(always)]
pub fn read(gpr: &[u64; 16], r: Register) -> u64 {
    match gpr_slot(r) {
        GprSlot::Q(i) => gpr[i],
        GprSlot::D(i) => gpr[i] as u32 as u64,
        GprSlot::W(i) => gpr[i] as u16 as u64,
        GprSlot::B(i) => gpr[i] as u8 as u64,
        GprSlot::H(i) => (gpr[i] >> 8) as u8 as u64,
        GprSlot::None => 0,
    }
}

/// Writes a GPR operand with the x86-64 merge/zero-extension rules.
#[inline(always)]
pub fn write(gpr: &mut [u64; 16], r: Register, v: u64) {
    match gpr_slot(r) {
        GprSlot::Q(i) => gpr[i] = v,
        GprSlot::D(i) => gpr[i] = v as u32 as u64,
        GprSlot::W(i) => gpr[i] = (gpr[i] & !0xffff) | (v & 0xffff),
        GprSlot::B(i) => gpr[i] = (gpr[i] & !0xff) | (v & 0xff),
        GprSlot::H(i) => gpr[i] = (gpr[i] & !0xff00) | ((v & 0xff) << 8),
        GprSlot::None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_register_writes_follow_x86_64_rules() {
        let mut g = [u64::MAX; 16];
        write(&mut g, Register::EAX, 0x1234);
        assert_eq!(g[0], 0x1234);
        write(&mut g, Register::AH, 0xab);
        assert_eq!(g[0], 0xab34);
        write(&mut g, Register::SIL, 0x00);
        assert_eq!(g[6], 0xffff_ffff_ffff_ff00);
        write(&mut g, Register::R9W, 0x5555);
        assert_eq!(g[9], 0xffff_ffff_ffff_5555);
        assert_eq!(read(&g, Register::BH), 0xff);
        assert_eq!(read(&g, Register::R15L), 0xff);
        assert_eq!(gpr_slot(Register::XMM0), GprSlot::None);
    }
}
