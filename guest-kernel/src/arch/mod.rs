//! The kernel's hardware layer: the only modules (with `rt`, `kmem`, `heap`, `sync`)
//! that issue privileged instructions or touch raw memory.

pub mod cpu;
pub mod entry;
pub mod gdt;
pub mod idt;
pub mod paging;
pub mod timer;
