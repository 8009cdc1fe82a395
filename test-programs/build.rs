//! Builds the guest test programs into OUT_DIR and writes `programs.rs`, the
//! index `src/lib.rs` includes.
//!
//! - `c/NAME.c`: `gcc -static -O2 -o OUT_DIR/NAME c/NAME.c -lm`.
//! - `rust/NAME.rs`: `$RUSTC -O -C target-feature=+crt-static` (a static-pie).
//!
//! A missing compiler or a failed build is not an error: the program is
//! listed in `NOT_BUILT` with the reason, a `cargo:warning` says so, and the
//! tests that need it skip.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Built {
    name: String,
    path: PathBuf,
}

fn sources(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Runs `cmd`; `Err` is a one-line reason.
fn compile(mut cmd: Command) -> Result<(), String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr
        .lines()
        .find(|l| l.contains("error"))
        .or_else(|| stderr.lines().next())
        .unwrap_or("no message");
    Err(format!("{program} failed: {first}"))
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=c");
    println!("cargo:rerun-if-changed=rust");
    println!("cargo:rerun-if-changed=build.rs");

    let mut built = Vec::new();
    let mut not_built = Vec::new();
    for src in sources(&manifest.join("c"), "c") {
        let name = src
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let exe = out_dir.join(&name);
        let mut cmd = Command::new("gcc");
        cmd.args(["-static", "-O2", "-o"])
            .arg(&exe)
            .arg(&src)
            .arg("-lm");
        match compile(cmd) {
            Ok(()) => built.push(Built { name, path: exe }),
            Err(reason) => not_built.push((name, reason)),
        }
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    for src in sources(&manifest.join("rust"), "rs") {
        let name = src
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let exe = out_dir.join(&name);
        let mut cmd = Command::new(&rustc);
        cmd.args([
            "--edition",
            "2021",
            "-O",
            "-C",
            "target-feature=+crt-static",
        ])
        .args(["-C", "strip=debuginfo", "-o"])
        .arg(&exe)
        .arg(&src);
        match compile(cmd) {
            Ok(()) => built.push(Built { name, path: exe }),
            Err(reason) => not_built.push((name, reason)),
        }
    }
    for (name, reason) in &not_built {
        println!("cargo:warning=test-programs: {name} not built ({reason}); its tests will skip");
    }

    let mut index =
        String::from("/// The programs that were built.\npub const PROGRAMS: &[Program] = &[\n");
    for b in &built {
        let _ = writeln!(
            index,
            "    Program {{ name: {:?}, path: {:?} }},",
            b.name,
            b.path.to_string_lossy()
        );
    }
    index.push_str("];\n\n/// Programs that could not be built, and why.\npub const NOT_BUILT: &[(&str, &str)] = &[\n");
    for (name, reason) in &not_built {
        let _ = writeln!(index, "    ({name:?}, {reason:?}),");
    }
    index.push_str("];\n");
    std::fs::write(out_dir.join("programs.rs"), index).expect("OUT_DIR is writable");
}
