//! Guest workloads for lockstep's speed benchmarks (see `benches/README.md`).
//!
//! `build.rs` compiles the C files of `guest/` twice with the host gcc: as
//! freestanding x86-64 ELF images for the emulator, and as host programs
//! that serve as the checksum oracle. [`elf`] reads the images,
//! [`harness`] loads one into an emu-core [`emu_core::Cpu`] and calls its
//! `long run(long n)`, and [`workload`] names them.
//!
//! ```no_run
//! let (checksum, instructions) = lockstep_benches::run_workload("sieve", 4)?;
//! println!("{checksum:#x} after {instructions} guest instructions");
//! # Ok::<(), lockstep_benches::BenchError>(())
//! ```

#![warn(missing_docs)]

pub mod elf;
pub mod harness;
pub mod workload;

pub use harness::{run_workload, BenchError, GuestRun, RunResult};
pub use workload::Workload;
