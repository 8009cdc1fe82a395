//! Kernel entry and exit in assembly: the 256 IDT stubs, the common trap path, the
//! `syscall` entry (LSTAR), and the return to user mode. All of them build a
//! `guest_kernel::trapframe::TrapFrame` (FXSAVE area, 15 GPRs, vector, error code,
//! CPU frame) and call Rust with its address.
//!
//! Stacks: every IDT gate uses an IST stack (red zone, guest-build.md pitfall 4). A
//! trap from user mode moves its CPU frame to the per-CPU kernel stack before saving
//! registers, so the IST stack is free again if the handler itself faults. `syscall`
//! switches to the kernel stack through the per-CPU area (GS after `swapgs`).
#![allow(unsafe_code)] // entry code is assembly by nature

use core::arch::global_asm;

use guest_kernel::trapframe::{offsets, selector, TrapFrame, SYSCALL_VECTOR};

use super::gdt::HwStatic;

/// Bytes between consecutive IDT stubs.
pub const STUB_SIZE: u64 = 16;

/// The per-CPU area, reached through GS in kernel mode.
#[repr(C)]
pub struct PerCpu {
    /// Its own address.
    pub self_ptr: u64,
    /// Top of the kernel stack used by syscalls and traps from user mode.
    pub kstack_top: u64,
    /// The user RSP saved by the syscall entry.
    pub user_rsp: u64,
    /// Scratch for the trap entry.
    pub scratch: u64,
}

const PERCPU_KSTACK: usize = 8;
const PERCPU_USER_RSP: usize = 16;
const PERCPU_SCRATCH: usize = 24;

static PERCPU: HwStatic<PerCpu> = HwStatic::new(PerCpu {
    self_ptr: 0,
    kstack_top: 0,
    user_rsp: 0,
    scratch: 0,
});

/// Sets the kernel stack and points GS (and, for user mode, KERNEL_GS_BASE) at the
/// per-CPU area.
pub fn init_percpu(kstack_top: u64) {
    let p = PERCPU.get();
    // SAFETY: boot-time write; entry code reads the area only after this.
    unsafe {
        (*p).self_ptr = p as u64;
        (*p).kstack_top = kstack_top;
    }
    super::cpu::wrmsr(super::cpu::msr::GS_BASE, p as u64);
    super::cpu::wrmsr(super::cpu::msr::KERNEL_GS_BASE, 0);
}

/// Address of the first IDT stub.
pub fn stub_base() -> u64 {
    let addr: u64;
    // SAFETY: only computes an address.
    unsafe {
        core::arch::asm!("lea {}, [rip + idt_stubs]", out(reg) addr, options(nomem, nostack, preserves_flags));
    }
    addr
}

/// Address of the syscall entry (for LSTAR).
pub fn syscall_entry_addr() -> u64 {
    let addr: u64;
    // SAFETY: only computes an address.
    unsafe {
        core::arch::asm!("lea {}, [rip + syscall_entry]", out(reg) addr, options(nomem, nostack, preserves_flags));
    }
    addr
}

/// Starts user mode with `frame`, placed at the top of the kernel stack `kstack_top`
/// (where every later trap and syscall builds its frame). `frame` comes from the ELF
/// loader: user CS/SS, a canonical user RIP.
pub fn enter_user(kstack_top: u64, frame: &TrapFrame) -> ! {
    let slot = (kstack_top - core::mem::size_of::<TrapFrame>() as u64) as *mut TrapFrame;
    // SAFETY: the kernel stack is mapped, 16-byte aligned at its top and unused (the boot
    // code runs on the boot stack); trap_return restores the frame and irets to CPL 3.
    unsafe {
        slot.write(*frame);
        core::arch::asm!("mov rsp, {0}", "jmp trap_return", in(reg) slot, options(noreturn));
    }
}

const _: () = assert!(offsets::SIZE == 688 && offsets::RAX == 512 && offsets::VECTOR == 632);

global_asm!(
    // ---- IDT stubs: [error code or 0], vector, jump to the common path ----
    ".pushsection .text.entry, \"ax\"",
    ".balign 16",
    ".global idt_stubs",
    "idt_stubs:",
    ".set vec, 0",
    ".rept 256",
    ".balign 16",
    ".if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)",
    ".else",
    "    push 0",
    ".endif",
    "    push vec",
    "    jmp trap_common",
    ".set vec, vec + 1",
    ".endr",
    "",
    // ---- common trap path: stack = [vector][error][rip][cs][rflags][rsp][ss] ----
    ".balign 16",
    "trap_common:",
    "    test byte ptr [rsp + 24], 3",
    "    jz 1f",
    "    swapgs",
    "    mov gs:[{scratch}], rax",
    "    mov rax, rsp",
    "    mov rsp, gs:[{kstack}]",
    "    push qword ptr [rax + 48]",
    "    push qword ptr [rax + 40]",
    "    push qword ptr [rax + 32]",
    "    push qword ptr [rax + 24]",
    "    push qword ptr [rax + 16]",
    "    push qword ptr [rax + 8]",
    "    push qword ptr [rax]",
    "    mov rax, gs:[{scratch}]",
    "1:",
    "    push r15",
    "    push r14",
    "    push r13",
    "    push r12",
    "    push r11",
    "    push r10",
    "    push r9",
    "    push r8",
    "    push rbp",
    "    push rdi",
    "    push rsi",
    "    push rdx",
    "    push rcx",
    "    push rbx",
    "    push rax",
    "    sub rsp, 512",
    "    fxsave64 [rsp]",
    "    cld",
    "    mov rdi, rsp",
    "    call {trap}",
    "    jmp trap_return",
    "",
    // ---- return: restore the frame at rsp and iretq ----
    ".global trap_return",
    "trap_return:",
    "    fxrstor64 [rsp]",
    "    add rsp, 512",
    "    pop rax",
    "    pop rbx",
    "    pop rcx",
    "    pop rdx",
    "    pop rsi",
    "    pop rdi",
    "    pop rbp",
    "    pop r8",
    "    pop r9",
    "    pop r10",
    "    pop r11",
    "    pop r12",
    "    pop r13",
    "    pop r14",
    "    pop r15",
    "    add rsp, 16",
    "    test byte ptr [rsp + 8], 3",
    "    jz 2f",
    "    swapgs",
    "2:",
    "    iretq",
    "",
    // ---- syscall: rcx = user rip, r11 = user rflags, interrupts off (FMASK) ----
    ".balign 16",
    ".global syscall_entry",
    "syscall_entry:",
    "    swapgs",
    "    mov gs:[{user_rsp}], rsp",
    "    mov rsp, gs:[{kstack}]",
    "    push {user_ds}",
    "    push qword ptr gs:[{user_rsp}]",
    "    push r11",
    "    push {user_cs}",
    "    push rcx",
    "    push 0",
    "    push {sysvec}",
    "    push r15",
    "    push r14",
    "    push r13",
    "    push r12",
    "    push r11",
    "    push r10",
    "    push r9",
    "    push r8",
    "    push rbp",
    "    push rdi",
    "    push rsi",
    "    push rdx",
    "    push rcx",
    "    push rbx",
    "    push rax",
    "    sub rsp, 512",
    "    fxsave64 [rsp]",
    "    mov rdi, rsp",
    "    call {syscall}",
    "    jmp trap_return",
    ".popsection",
    scratch = const PERCPU_SCRATCH,
    kstack = const PERCPU_KSTACK,
    user_rsp = const PERCPU_USER_RSP,
    user_ds = const selector::USER_DS,
    user_cs = const selector::USER_CS,
    sysvec = const SYSCALL_VECTOR,
    trap = sym crate::kentry::trap_entry,
    syscall = sym crate::kentry::syscall_entry,
);
