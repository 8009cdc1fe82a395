//! Builds the guest images that emu-core embeds: the kernel and `linux-vdso.so.1`.
//!
//! Recipe and pitfalls: shared/docs/guest-build.md. Each guest crate is built by a nested
//! cargo for the host target with freestanding flags (`--profile guest`, its own target
//! directory under OUT_DIR: sharing the outer one would deadlock on cargo's lock). The
//! kernel comes out linked (`guest-kernel/kernel.ld`); the vDSO comes out as a staticlib
//! that this script links with the toolchain's `rust-lld`. The images land in OUT_DIR,
//! where `src/guest_images.rs` includes them.
//!
//! Linker choice: `rust-lld` (LLVM's lld, `-flavor gnu`) ships with every rustup
//! toolchain, so the build needs no binutils, links exactly the same on every machine for a
//! given toolchain, and is the linker the kernel build already requires
//! (`-C linker=rust-lld`).
//!
//! Cost: the script reruns only when a guest crate, emu-abi, the workspace manifest or
//! the lock file changes; then the two nested builds run in parallel (a few seconds cold,
//! about a second when nothing in them changed).

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The host target, named explicitly so that RUSTFLAGS reach only the guest crates and
/// not their build scripts.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// rustc flags of the kernel (guest-build.md, "Kernel flags"); its build.rs adds the
/// link arguments when it sees `--cfg guest_kernel`.
const KERNEL_RUSTFLAGS: &[&str] = &[
    "--cfg",
    "guest_kernel",
    "-Ccode-model=kernel",
    "-Crelocation-model=static",
    "-Cno-redzone=yes",
    "-Clinker=rust-lld",
    "-Clinker-flavor=ld.lld",
];

/// rustc flags of the vDSO: position-independent (the target default) and without jump
/// tables, which would be tables of absolute addresses needing relocations.
const VDSO_RUSTFLAGS: &[&str] = &["--cfg", "guest_vdso", "-Cjump-tables=no"];

/// Exported vDSO entry points: the linker keeps only what is asked for.
const VDSO_EXPORTS: &[&str] = &[
    "__vdso_clock_gettime",
    "__vdso_gettimeofday",
    "__vdso_time",
    "__vdso_getcpu",
    "__vdso_clock_getres",
];

/// Variables of the outer build that must not reach the nested cargo: wrappers (under
/// `cargo clippy` they would lint instead of build), `cargo fix`'s marker, a target or
/// target directory that would override ours, and flags meant for the host crates.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "__CARGO_FIX_PLZ",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
];

fn main() {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("emu-core lives inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env_var("OUT_DIR"));

    for path in [
        "guest-kernel",
        "guest-vdso",
        "emu-abi",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    let kernel = NestedBuild {
        what: "guest kernel",
        args: &["build", "-p", "guest-kernel", "--bin", "guest-kernel"],
        rustflags: KERNEL_RUSTFLAGS,
        target_dir: out_dir.join("kernel-target"),
    };
    let vdso = NestedBuild {
        what: "guest vDSO",
        args: &[
            "rustc",
            "-p",
            "guest-vdso",
            "--lib",
            "--crate-type",
            "staticlib",
        ],
        rustflags: VDSO_RUSTFLAGS,
        target_dir: out_dir.join("vdso-target"),
    };
    // Both at once: each is mostly one serial rustc (codegen-units = 1, fat LTO).
    let kernel_child = kernel.spawn(&root);
    let vdso_child = vdso.spawn(&root);
    kernel.finish(kernel_child);
    vdso.finish(vdso_child);

    let kernel_elf = kernel.artifact("guest-kernel");
    let kernel_bytes = fs::read(&kernel_elf)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", kernel_elf.display())));
    write_if_changed(&out_dir.join("guest-kernel.elf"), &kernel_bytes);

    let vdso_so = out_dir.join("linux-vdso.so.1");
    link_vdso(&root, &vdso.artifact("libguest_vdso.a"), &vdso_so);
}

/// One nested `cargo` invocation for a guest crate.
struct NestedBuild {
    what: &'static str,
    args: &'static [&'static str],
    rustflags: &'static [&'static str],
    target_dir: PathBuf,
}

impl NestedBuild {
    fn command(&self, root: &Path) -> Command {
        let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(root)
            .args(self.args)
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .args(["--profile", "guest", "--target", TARGET, "--locked"])
            .args(["--color", "never"])
            .arg("--target-dir")
            .arg(&self.target_dir)
            .env("CARGO_ENCODED_RUSTFLAGS", self.rustflags.join("\x1f"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in SCRUBBED_ENV {
            cmd.env_remove(name);
        }
        cmd
    }

    fn spawn(&self, root: &Path) -> Child {
        self.command(root).spawn().unwrap_or_else(|e| {
            fail(&format!(
                "cannot start the nested cargo for the {}: {e}",
                self.what
            ))
        })
    }

    /// Waits for the build; on failure prints its output and stops this build script.
    fn finish(&self, child: Child) {
        let output = child.wait_with_output().unwrap_or_else(|e| {
            fail(&format!(
                "cannot wait for the nested cargo of the {}: {e}",
                self.what
            ))
        });
        if !output.status.success() {
            report_output(&output);
            fail(&format!(
                "the nested build of the {} failed ({}); its output is above. Reproduce with:\n  \
                 CARGO_ENCODED_RUSTFLAGS=$'{}' cargo {} --profile guest --target {TARGET} --target-dir {}",
                self.what,
                output.status,
                self.rustflags.join("\\x1f"),
                self.args.join(" "),
                self.target_dir.display(),
            ));
        }
    }

    fn artifact(&self, name: &str) -> PathBuf {
        self.target_dir.join(TARGET).join("guest").join(name)
    }
}

/// Links the vDSO staticlib into `linux-vdso.so.1` with `vdso.lds` and `vdso.map`.
fn link_vdso(root: &Path, staticlib: &Path, output: &Path) {
    let lld = rust_lld();
    let vdso_dir = root.join("guest-vdso");
    let mut cmd = Command::new(&lld);
    cmd.args(["-flavor", "gnu"])
        .args(["-shared", "-nostdlib", "--no-undefined", "-Bsymbolic"])
        .args(["-soname=linux-vdso.so.1", "--hash-style=both"])
        .args([
            "-z",
            "max-page-size=4096",
            "--eh-frame-hdr",
            "--gc-sections",
        ])
        .args(["--build-id=none", "--strip-debug"])
        .arg("-T")
        .arg(vdso_dir.join("vdso.lds"))
        .arg(format!(
            "--version-script={}",
            vdso_dir.join("vdso.map").display()
        ));
    // Without --undefined the linker pulls nothing out of the archive and exports nothing.
    for name in VDSO_EXPORTS {
        cmd.arg(format!("--undefined={name}"));
    }
    cmd.arg("-o").arg(output).arg(staticlib);
    let result = cmd.output().unwrap_or_else(|e| {
        fail(&format!(
            "cannot run {} to link the vDSO: {e}",
            lld.display()
        ))
    });
    if !result.status.success() {
        report_output(&result);
        fail(&format!(
            "linking the vDSO failed ({}): {cmd:?}",
            result.status
        ));
    }
}

/// The toolchain's `rust-lld`: `<sysroot>/lib/rustlib/<host>/bin/rust-lld`.
fn rust_lld() -> PathBuf {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run {rustc:?} --print sysroot: {e}")));
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let host = env_var("HOST");
    let lld = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(host.to_string_lossy().as_ref())
        .join("bin/rust-lld");
    if !lld.is_file() {
        fail(&format!(
            "{} not found: the guest images need the rust-lld that rustup toolchains ship",
            lld.display()
        ));
    }
    lld
}

/// Writes `bytes` unless the file already holds them (keeps its timestamp for no-op builds).
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    fs::write(path, bytes)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", path.display())));
}

fn report_output(output: &Output) {
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
}

fn env_var(name: &str) -> OsString {
    env::var_os(name).unwrap_or_else(|| fail(&format!("cargo did not set {name}")))
}

/// Stops the build script with a one-line reason (cargo shows stderr of a failed script).
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
