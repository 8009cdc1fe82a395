//! The kernel's hardware layer: the only modules (with `rt`) that issue privileged
//! instructions. Later: gdt, idt, syscall entry.

pub mod cpu;
