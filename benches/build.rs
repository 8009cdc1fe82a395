//! Builds the guest workloads of `guest/` with the host gcc.
//!
//! For each workload it produces two artifacts in `OUT_DIR`:
//! - `<name>.elf`: freestanding x86-64 code linked at a fixed address by
//!   `guest/guest.ld`, embedded by `src/workload.rs` with `include_bytes!` and
//!   run in the emulator;
//! - `native_<name>`: the same C file plus `guest/native_main.c` built as a
//!   host program that prints `run(n)`, the oracle for the checksum tests.
//!
//! The compiler is `$LOCKSTEP_GUEST_CC` when set, otherwise `gcc`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workloads, one C file each in `guest/`.
const WORKLOADS: [&str; 4] = ["intloop", "memstr", "sieve", "bytecode"];

/// Flags shared by the guest and native builds: the same optimisation and
/// instruction set, and no libc pattern recognition (the guest has no libc).
const COMMON_FLAGS: [&str; 8] = [
    "-O2",
    "-march=x86-64",
    "-mtune=generic",
    "-fno-builtin",
    "-fno-tree-loop-distribute-patterns",
    "-Wall",
    "-Wextra",
    "-Werror",
];

/// Flags for freestanding guest code: no PIC, no libc, no stack protector,
/// no red zone, no CET, no unwind tables.
const GUEST_FLAGS: [&str; 15] = [
    "-ffreestanding",
    "-fno-pic",
    "-fno-pie",
    "-no-pie",
    "-nostdlib",
    "-static",
    "-fno-stack-protector",
    "-mno-red-zone",
    "-fcf-protection=none",
    "-fno-asynchronous-unwind-tables",
    "-fno-unwind-tables",
    "-Wl,--build-id=none",
    "-Wl,-z,noexecstack",
    "-Wl,-z,max-page-size=4096",
    "-Wl,--no-warn-rwx-segments",
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let guest_dir = manifest_dir.join("guest");
    let cc = env::var("LOCKSTEP_GUEST_CC").unwrap_or_else(|_| "gcc".to_owned());

    println!("cargo:rerun-if-env-changed=LOCKSTEP_GUEST_CC");
    println!("cargo:rerun-if-changed=guest");
    for name in WORKLOADS {
        let source = guest_dir.join(format!("{name}.c"));
        println!("cargo:rerun-if-changed={}", source.display());

        let mut guest = Command::new(&cc);
        guest
            .args(COMMON_FLAGS)
            .args(GUEST_FLAGS)
            .arg("-T")
            .arg(guest_dir.join("guest.ld"))
            .arg("-o")
            .arg(out_dir.join(format!("{name}.elf")))
            .arg(&source);
        run(&mut guest);

        let mut native = Command::new(&cc);
        native
            .args(COMMON_FLAGS)
            .arg("-o")
            .arg(out_dir.join(format!("native_{name}")))
            .arg(&source)
            .arg(guest_dir.join("native_main.c"));
        run(&mut native);
    }
    for file in ["guest.ld", "workload.h", "native_main.c"] {
        println!(
            "cargo:rerun-if-changed={}",
            Path::new("guest").join(file).display()
        );
    }
}

/// Runs one compiler command; a missing or failing compiler stops the build
/// with the command line and its output.
fn run(command: &mut Command) {
    let output = match command.output() {
        Ok(output) => output,
        Err(err) => panic!("cannot run {command:?} (install gcc or set LOCKSTEP_GUEST_CC): {err}"),
    };
    if !output.status.success() {
        panic!(
            "{command:?} failed with {}:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
