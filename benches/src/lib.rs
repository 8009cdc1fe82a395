//! Guest workloads for lockstep's speed benchmarks (see `benches/README.md`).
//!
//! `build.rs` compiles the C files of `guest/` twice with the host gcc: as
//! freestanding x86-64 ELF images for the emulator, and as host programs
//! that serve as the checksum oracle. [`elf`] reads the images and
//! [`workload`] names them.

#![warn(missing_docs)]

pub mod elf;
pub mod workload;

pub use workload::Workload;
