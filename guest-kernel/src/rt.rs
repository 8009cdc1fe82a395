//! Runtime of the freestanding kernel: the `_start` entry, the boot stack, the panic
//! handler and the symbols precompiled `core` expects (see shared/docs/guest-build.md
//! pitfalls 1-3). The mem* builtins live in `rt/mem.rs`.
#![allow(unsafe_code)] // the entry point, exported symbols and raw asm have no safe form

mod mem;

use core::arch::global_asm;
use core::fmt::Write;
use core::panic::PanicInfo;

use emu_abi::ports::DebugExit;
use guest_kernel::console::{debug_exit, Serial};

use crate::arch::cpu::{halt_forever, Ports, CR0_EM, CR0_MP, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT};

/// Size of the boot stack in `.bss`. Stack probes touch every page of large frames
/// (pitfall 5), which is fine: the whole stack is mapped with the image.
const BOOT_STACK_SIZE: usize = 64 * 1024;

// The entry point, at the image's first byte. The emulator enters in 64-bit mode, ring 0,
// IF = 0, with RDI = physical address of BootInfo. Before any Rust code: enable SSE
// (precompiled core uses it: CR0.MP = 1, CR0.EM = CR0.TS = 0, CR4.OSFXSR|OSXMMEXCPT),
// zero .bss (the loader should have, but a warm restart would not), switch to the boot
// stack, and call kmain(boot_info_phys). kmain never returns; halt if it ever did.
global_asm!(
    ".pushsection .text.boot, \"ax\"",
    ".global _start",
    ".type _start, @function",
    "_start:",
    "    mov rax, cr0",
    "    and rax, {cr0_clear}",
    "    or rax, {cr0_set}",
    "    mov cr0, rax",
    "    mov rax, cr4",
    "    or rax, {cr4_set}",
    "    mov cr4, rax",
    "    mov r12, rdi",
    "    cld",
    "    lea rdi, [rip + __bss_start]",
    "    lea rcx, [rip + __bss_end]",
    "    sub rcx, rdi",
    "    xor eax, eax",
    "    rep stosb",
    "    lea rsp, [rip + __boot_stack_top]",
    "    xor ebp, ebp",
    "    mov rdi, r12",
    "    call {kmain}",
    "2:  cli",
    "    hlt",
    "    jmp 2b",
    ".size _start, . - _start",
    ".popsection",
    ".pushsection .bss.boot_stack, \"aw\", @nobits",
    ".balign 16",
    "__boot_stack_bottom:",
    ".skip {stack_size}",
    "__boot_stack_top:",
    ".popsection",
    cr0_clear = const !(CR0_EM | CR0_TS) as i64,
    cr0_set = const CR0_MP,
    cr4_set = const CR4_OSFXSR | CR4_OSXMMEXCPT,
    stack_size = const BOOT_STACK_SIZE,
    kmain = sym crate::boot::kmain,
);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut console = Serial::com1(Ports);
    let _ = writeln!(console, "\nkernel panic: {info}");
    debug_exit(&mut console.into_inner(), DebugExit::KernelPanic);
    halt_forever()
}

/// Referenced by precompiled `core`'s unwind tables; never called with panic = "abort".
#[no_mangle]
extern "C" fn rust_eh_personality() {}
