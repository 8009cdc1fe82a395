//! `cargo test`'s fixed-seed subset of the differential tester against the host CPU (the full
//! tool is `cargo run --release -p emu-core --example difftest -- --cases N --seed S`; its
//! modules are included here from `examples/difftest/`).
//!
//! Only the families in [`TESTED_FAMILIES`] run: the lead adds a family there when its
//! handlers land (until then the emulator raises #UD for its forms). Families whose CPUID
//! features the emulator does not advertise are skipped even when listed, so advertising a
//! feature and listing its family is what puts it under test.

#[path = "../examples/difftest/compare.rs"]
#[allow(dead_code)]
mod compare;
#[path = "../examples/difftest/driver.rs"]
#[allow(dead_code)]
mod driver;
#[path = "../examples/difftest/emu.rs"]
#[allow(dead_code)]
mod emu;
#[path = "../examples/difftest/forms.rs"]
#[allow(dead_code)]
mod forms;
#[path = "../examples/difftest/gen.rs"]
#[allow(dead_code)]
mod gen;
#[path = "../examples/difftest/native.rs"]
#[allow(dead_code)]
mod native;
#[path = "../examples/difftest/special.rs"]
#[allow(dead_code)]
mod special;
#[path = "../examples/difftest/state.rs"]
#[allow(dead_code)]
mod state;

/// Families under `cargo test` (extend as families land; see the module docs).
const TESTED_FAMILIES: &[&str] = &[
    "int-alu",
    "int-muldiv",
    "int-shift",
    "int-bit",
    "int-mov",
    "int-stack",
    "int-string",
    "int-branch",
    "int-misc",
    "bmi",
    "sse",
    "sse2",
    "sse3",
    "ssse3",
    "sse41",
    "sse42",
    "x87",
    "x87-trans",
    "fxsr",
    "priv",
    "mmx",
];

/// Fixed seed of the subset (the full run uses its own).
const SEED: u64 = 0x5eed_2024;

#[test]
fn difftest_fixed_seed_subset_matches_the_host() {
    // Debug builds of the emulator are ~10x slower: keep the test within a minute or two.
    let cases = if cfg!(debug_assertions) {
        50_000
    } else {
        200_000
    };
    let opts = driver::Options {
        cases,
        seed: SEED,
        families: TESTED_FAMILIES.iter().map(|s| s.to_string()).collect(),
        max_report: 40,
        ..driver::Options::default()
    };
    let forms = driver::forms(&opts);
    assert!(!forms.is_empty(), "no forms selected");
    let mut runners = driver::Runners::new().expect("runners");
    let s = driver::run(&opts, &forms, &mut runners);
    driver::print_summary(&s);
    assert_eq!(s.cases, cases);
    assert_eq!(
        s.mismatches,
        0,
        "{} mismatches (rerun one with `cargo run --release -p emu-core --example difftest -- \
         --family {} --repro SEED:INDEX`):\n{}",
        s.mismatches,
        TESTED_FAMILIES.join(","),
        s.lines.join("\n")
    );
}
