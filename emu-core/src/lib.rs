//! # emu-core: lockstep's deterministic x86-64 machine
//!
//! A pure-Rust x86-64 CPU (64-bit mode) with a software MMU, usable as a
//! library much like Unicorn, but deterministic: the same code and inputs
//! always give the same results, instruction counts and virtual time.
//!
//! - [`Cpu`]: create one, [`Cpu::map`] pages, place code and data with
//!   [`Cpu::write_virt`], set registers, then [`Cpu::run`] until an
//!   instruction count, an address or an event ([`Exit`]).
//! - Instructions are decoded once with iced-x86 into cached basic blocks with
//!   pre-resolved handlers; stores to code pages invalidate them.
//! - A [`Tracer`] receives one [`TraceRecord`] per instruction.
//!
//! See `ARCHITECTURE.md` at the repository root for the layering.
#![warn(missing_docs)]

pub mod cpu;
pub mod debug;
pub mod devices;
pub mod error;
pub mod guest_images;
pub mod initramfs;
pub mod loader;
pub mod machine;
pub mod memory;
pub mod mmu;
pub mod softfloat;

pub use cpu::exception::Exception;
pub use cpu::{Cpu, CpuConfig, Exit, Gpr, RunLimit, TraceRecord, Tracer};
pub use error::Error;
pub use machine::{HostStreams, Machine, MachineExit};
pub use mmu::builder::Prot;
