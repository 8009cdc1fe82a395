//! Guest test programs, built from source by `build.rs` during the build:
//! the C programs of `c/` with the host's `gcc -static -O2`, the Rust
//! programs of `rust/` with `rustc -C target-feature=+crt-static`. Each one
//! prints only deterministic output, so a native run is the oracle for a run
//! under lockstep (emu-cli's `tests/run_programs.rs`).
//!
//! | program | what it exercises |
//! |---|---|
//! | `hello` | the smallest glibc program |
//! | `args` | argv and envp passing, exit status = argc - 1 |
//! | `fileio` | open/write/lseek/read/fstat/rename/unlink in /tmp |
//! | `malloc` | brk and mmap allocations, realloc, sbrk, anonymous mmap |
//! | `float` | printf/strtod of double and x87 long double, libm |
//! | `qsort` | qsort and bsearch of integers and strings |
//! | `segv` | a null-pointer write: killed by SIGSEGV |
//! | `std_tour` | Rust std (static-pie): collections, files, unwinding |
//!
//! Without gcc (or with a failed build) a program is missing from
//! [`PROGRAMS`] and listed in [`NOT_BUILT`]; the tests that need it skip.

use std::path::Path;

/// A built program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// Its name (the source file's stem).
    pub name: &'static str,
    /// The executable's absolute path (in the build's OUT_DIR).
    pub path: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

/// The path of the program `name`, if it was built.
pub fn path(name: &str) -> Option<&'static Path> {
    PROGRAMS
        .iter()
        .find(|p| p.name == name)
        .map(|p| Path::new(p.path))
}

/// Why `name` was not built, if it was not.
pub fn not_built(name: &str) -> Option<&'static str> {
    NOT_BUILT
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_is_either_built_or_explained() {
        for name in [
            "hello", "args", "fileio", "malloc", "float", "qsort", "segv", "std_tour",
        ] {
            match (path(name), not_built(name)) {
                (Some(p), None) => assert!(p.is_file(), "{name}: {}", p.display()),
                (None, Some(why)) => eprintln!("{name} not built: {why}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
