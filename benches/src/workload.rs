//! The guest workloads: their names, the ELF images built by `build.rs` from
//! `guest/*.c`, the native oracle programs, and the `n` used by each bench.

use std::fmt;

/// One C workload of `guest/`, compiled for the guest and for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// `guest/intloop.c`: xorshift and hash mixing in registers.
    IntLoop,
    /// `guest/memstr.c`: word memcpy and byte strlen over guest buffers.
    MemStr,
    /// `guest/sieve.c`: sieve of Eratosthenes over a 32 KiB byte array.
    Sieve,
    /// `guest/bytecode.c`: switch-dispatch stack VM running a small program.
    Bytecode,
}

impl Workload {
    /// Every workload, in the order the benches report them.
    pub const ALL: [Self; 4] = [Self::IntLoop, Self::MemStr, Self::Sieve, Self::Bytecode];

    /// The workload's name (its C file stem).
    pub fn name(self) -> &'static str {
        match self {
            Self::IntLoop => "intloop",
            Self::MemStr => "memstr",
            Self::Sieve => "sieve",
            Self::Bytecode => "bytecode",
        }
    }

    /// The workload called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The freestanding guest ELF image.
    pub fn image(self) -> &'static [u8] {
        match self {
            Self::IntLoop => include_bytes!(concat!(env!("OUT_DIR"), "/intloop.elf")),
            Self::MemStr => include_bytes!(concat!(env!("OUT_DIR"), "/memstr.elf")),
            Self::Sieve => include_bytes!(concat!(env!("OUT_DIR"), "/sieve.elf")),
            Self::Bytecode => include_bytes!(concat!(env!("OUT_DIR"), "/bytecode.elf")),
        }
    }

    /// Path of the host build of the same C code; run as `native_<name> n`
    /// it prints `run(n)` as a signed decimal.
    pub fn native_oracle(self) -> &'static str {
        match self {
            Self::IntLoop => concat!(env!("OUT_DIR"), "/native_intloop"),
            Self::MemStr => concat!(env!("OUT_DIR"), "/native_memstr"),
            Self::Sieve => concat!(env!("OUT_DIR"), "/native_sieve"),
            Self::Bytecode => concat!(env!("OUT_DIR"), "/native_bytecode"),
        }
    }

    /// The `n` of one criterion iteration: a few million guest instructions.
    pub fn bench_n(self) -> u64 {
        match self {
            Self::IntLoop => 200_000,
            Self::MemStr => 1_000,
            Self::Sieve => 16,
            Self::Bytecode => 10_000,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
