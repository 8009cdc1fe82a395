//! Link settings of the freestanding kernel; a no-op for the ordinary host build.
//!
//! emu-core's build.rs builds this crate with `--cfg guest_kernel` (see
//! shared/docs/guest-build.md); cargo exposes that cfg here as `CARGO_CFG_GUEST_KERNEL`.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=kernel.ld");
    if env::var_os("CARGO_CFG_GUEST_KERNEL").is_none() {
        return;
    }
    let dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = dir.join("kernel.ld");
    for arg in [
        format!("-T{}", script.display()),
        "-static".to_owned(),
        "--build-id=none".to_owned(),
        "-zmax-page-size=4096".to_owned(),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
