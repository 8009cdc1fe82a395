//! [`TrapFrame`]: the user (or interrupted kernel) state saved by the kernel's entry
//! stubs on every trap, interrupt and syscall, in the exact order the assembly pushes it
//! (arch/entry.rs in the kernel binary reads these offsets). Syscall arguments come
//! from it and results go back into it.

/// `TrapFrame::vector` of a `syscall` entry (not an IDT vector).
pub const SYSCALL_VECTOR: u64 = 0x100;

/// The FXSAVE64 area (512 bytes, 16-byte aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct FxArea(pub [u8; 512]);

impl FxArea {
    /// The x87/SSE state a new program starts with: FCW 0x37f, MXCSR 0x1f80
    /// (MXCSR_MASK 0xffff), everything else zero.
    pub const fn initial() -> Self {
        let mut a = [0u8; 512];
        a[0] = 0x7f;
        a[1] = 0x03;
        // MXCSR at offset 24, MXCSR_MASK at 28.
        a[24] = 0x80;
        a[25] = 0x1f;
        a[28] = 0xff;
        a[29] = 0xff;
        FxArea(a)
    }
}

/// Saved registers, lowest address first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct TrapFrame {
    /// x87/MMX/SSE state (FXSAVE64 image).
    pub fx: FxArea,
    /// RAX (syscall number in, result out).
    pub rax: u64,
    /// RBX.
    pub rbx: u64,
    /// RCX (return RIP after `syscall`).
    pub rcx: u64,
    /// RDX (third argument).
    pub rdx: u64,
    /// RSI (second argument).
    pub rsi: u64,
    /// RDI (first argument).
    pub rdi: u64,
    /// RBP.
    pub rbp: u64,
    /// R8 (fifth argument).
    pub r8: u64,
    /// R9 (sixth argument).
    pub r9: u64,
    /// R10 (fourth argument).
    pub r10: u64,
    /// R11 (RFLAGS after `syscall`).
    pub r11: u64,
    /// R12.
    pub r12: u64,
    /// R13.
    pub r13: u64,
    /// R14.
    pub r14: u64,
    /// R15.
    pub r15: u64,
    /// IDT vector, or [`SYSCALL_VECTOR`].
    pub vector: u64,
    /// The exception's error code (0 if none).
    pub error: u64,
    /// RIP to return to.
    pub rip: u64,
    /// CS to return to.
    pub cs: u64,
    /// RFLAGS to return with.
    pub rflags: u64,
    /// RSP to return to.
    pub rsp: u64,
    /// SS to return to.
    pub ss: u64,
}

/// Segment selectors of the kernel's GDT, in Linux's layout.
pub mod selector {
    /// Kernel code (__KERNEL_CS).
    pub const KERNEL_CS: u64 = 0x10;
    /// Kernel data (__KERNEL_DS).
    pub const KERNEL_DS: u64 = 0x18;
    /// 32-bit user code (__USER32_CS), the base of STAR's sysret selectors.
    pub const USER32_CS: u64 = 0x23;
    /// User data (__USER_DS).
    pub const USER_DS: u64 = 0x2b;
    /// 64-bit user code (__USER_CS).
    pub const USER_CS: u64 = 0x33;
    /// The TSS (GDT entry 8, 16 bytes).
    pub const TSS: u64 = 0x40;
}

/// RFLAGS.IF.
pub const RFLAGS_IF: u64 = 1 << 9;

impl TrapFrame {
    /// The frame that starts a user program at `rip` with stack `rsp`: general
    /// registers zero, RFLAGS = IF (plus the fixed bit 1), reset x87/SSE state.
    pub const fn user_entry(rip: u64, rsp: u64) -> Self {
        TrapFrame {
            fx: FxArea::initial(),
            rax: 0,
            rbx: 0,
            rcx: 0,
            rdx: 0,
            rsi: 0,
            rdi: 0,
            rbp: 0,
            r8: 0,
            r9: 0,
            r10: 0,
            r11: 0,
            r12: 0,
            r13: 0,
            r14: 0,
            r15: 0,
            vector: 0,
            error: 0,
            rip,
            cs: selector::USER_CS,
            rflags: RFLAGS_IF | 2,
            rsp,
            ss: selector::USER_DS,
        }
    }

    /// Whether the trap came from user mode (CPL 3).
    pub const fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// Syscall argument `n` (0..6): rdi, rsi, rdx, r10, r8, r9.
    pub const fn arg(&self, n: usize) -> u64 {
        match n {
            0 => self.rdi,
            1 => self.rsi,
            2 => self.rdx,
            3 => self.r10,
            4 => self.r8,
            _ => self.r9,
        }
    }
}

/// Byte offsets the entry assembly relies on.
pub mod offsets {
    use super::TrapFrame;
    use core::mem::offset_of;

    /// Offset of `rax`, the first general register.
    pub const RAX: usize = offset_of!(TrapFrame, rax);
    /// Offset of `vector`.
    pub const VECTOR: usize = offset_of!(TrapFrame, vector);
    /// Offset of `cs`.
    pub const CS: usize = offset_of!(TrapFrame, cs);
    /// Size of the frame.
    pub const SIZE: usize = core::mem::size_of::<TrapFrame>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn layout_matches_the_entry_assembly() {
        // fxsave area, 15 GPRs pushed r15 first (rax lowest), vector, error, CPU frame.
        assert_eq!(offset_of!(TrapFrame, rax), 512);
        assert_eq!(offset_of!(TrapFrame, r15), 512 + 14 * 8);
        assert_eq!(offset_of!(TrapFrame, vector), 632);
        assert_eq!(offset_of!(TrapFrame, rip), 648);
        assert_eq!(offset_of!(TrapFrame, ss), 680);
        assert_eq!(size_of::<TrapFrame>(), 688);
        assert_eq!(size_of::<TrapFrame>() % 16, 0);
        assert_eq!(align_of::<TrapFrame>(), 16);
    }

    #[test]
    fn user_entry_state_is_linuxs() {
        let f = TrapFrame::user_entry(0x40_1000, 0x7fff_0000);
        assert_eq!((f.cs, f.ss, f.rflags), (0x33, 0x2b, 0x202));
        assert!(f.from_user());
        assert_eq!(u16::from_le_bytes([f.fx.0[0], f.fx.0[1]]), 0x37f);
        assert_eq!(
            u32::from_le_bytes(f.fx.0[24..28].try_into().unwrap()),
            0x1f80
        );
    }
}
