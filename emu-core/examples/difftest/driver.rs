//! The difftest loop shared by the example's CLI and `tests/difftest.rs`: builds the form
//! catalogue from the emulator's and the host's CPUID, generates cases, runs both sides,
//! compares, and keeps per-family counts.

use std::collections::BTreeMap;

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use crate::compare::{compare, tolerated};
use crate::emu::EmuRunner;
use crate::forms::{catalogue, features_from_cpuid, host_cpuid, Form, FAMILIES};
use crate::gen::generate;
use crate::native::NativeRunner;
use crate::state::{Case, Fault, Outcome, RunResult, SNIPPET};

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Number of cases.
    pub cases: u64,
    /// Run seed.
    pub seed: u64,
    /// Families to test (empty: all advertised).
    pub families: Vec<String>,
    /// Use the host's CPUID only (test families the emulator does not advertise yet).
    pub ignore_cpuid: bool,
    /// Print every case.
    pub verbose: bool,
    /// Print at most this many mismatch lines.
    pub max_report: u64,
}

/// Per-family counters.
#[derive(Clone, Debug, Default)]
pub struct FamilyStats {
    /// Cases run.
    pub cases: u64,
    /// Cases where the host faulted.
    pub faults: u64,
    /// Mismatching cases.
    pub mismatches: u64,
    /// Mismatches where only the emulator raised #UD (form not implemented yet).
    pub unimplemented: u64,
    /// Cases that agree only within the x87 transcendental tolerance (see `compare.rs`).
    pub tolerated: u64,
    /// Forms in the catalogue.
    pub forms: u64,
    /// Distinct forms exercised.
    pub forms_hit: u64,
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Cases run.
    pub cases: u64,
    /// Distinct forms exercised.
    pub forms: u64,
    /// Mismatching cases.
    pub mismatches: u64,
    /// Per family.
    pub families: BTreeMap<String, FamilyStats>,
    /// One line per mismatch (up to `max_report`).
    pub lines: Vec<String>,
}

/// The forms enabled for `opts` (emulator ∩ host CPUID unless `ignore_cpuid`).
pub fn forms(opts: &Options) -> Vec<Form> {
    let host = features_from_cpuid(host_cpuid);
    let feats = if opts.ignore_cpuid {
        host
    } else {
        let emu = features_from_cpuid(EmuRunner::cpuid);
        emu.into_iter().filter(|f| host.contains(f)).collect()
    };
    catalogue(&feats, &opts.families)
}

/// Disassembly of a snippet (iced Intel syntax), `; `-separated.
pub fn disasm(code: &[u8]) -> String {
    let mut d = Decoder::with_ip(64, code, SNIPPET, DecoderOptions::NONE);
    let mut f = IntelFormatter::new();
    let mut out = String::new();
    for ins in &mut d {
        if !out.is_empty() {
            out.push_str("; ");
        }
        f.format(&ins, &mut out);
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One line describing a mismatching case.
pub fn mismatch_line(seed: u64, index: u64, form: &Form, case: &Case, diffs: &[String]) -> String {
    format!(
        "MISMATCH {seed}:{index} {} {:?} [{}] `{}` | {}",
        form.family,
        form.code,
        hex(&case.code),
        disasm(&case.code),
        diffs.join("; ")
    )
}

/// Both runners.
#[derive(Debug)]
pub struct Runners {
    /// Host side.
    pub native: NativeRunner,
    /// Emulator side.
    pub emu: EmuRunner,
}

impl Runners {
    /// Starts both sides.
    pub fn new() -> Result<Self, String> {
        let native = NativeRunner::new().map_err(|e| format!("native runner: {e}"))?;
        let emu = EmuRunner::new().map_err(|e| format!("emulator: {e}"))?;
        Ok(Self { native, emu })
    }

    /// Runs one case on both sides.
    pub fn run(&mut self, case: &Case) -> (RunResult, RunResult) {
        let n = self.native.run(&case.code, &case.init, &case.mem);
        let e = self.emu.run(&case.code, &case.init, &case.mem);
        (n, e)
    }
}

/// Runs `opts.cases` cases over `forms`.
pub fn run(opts: &Options, forms: &[Form], runners: &mut Runners) -> Summary {
    let mut s = Summary::default();
    let mut hit = vec![false; forms.len()];
    for f in forms {
        s.families.entry(f.family.to_string()).or_default().forms += 1;
    }
    if forms.is_empty() {
        return s;
    }
    let fsgs = runners.native.fsgsbase;
    for i in 0..opts.cases {
        let case = generate(forms, opts.seed, i, fsgs);
        let (n, e) = runners.run(&case);
        let form = &forms[case.form];
        let diffs = compare(&case, &n, &e);
        let fam = s.families.entry(form.family.to_string()).or_default();
        fam.cases += 1;
        if matches!(n.outcome, Outcome::Fault(_)) {
            fam.faults += 1;
        }
        if !hit[case.form] {
            hit[case.form] = true;
            fam.forms_hit += 1;
            s.forms += 1;
        }
        s.cases += 1;
        if opts.verbose {
            println!(
                "case {}:{i} {:?} `{}` -> {:?}",
                opts.seed,
                form.code,
                disasm(&case.code),
                n.outcome
            );
        }
        if diffs.is_empty() && tolerated(&case, &n, &e) {
            fam.tolerated += 1;
        }
        if !diffs.is_empty() {
            fam.mismatches += 1;
            let ud = Outcome::Fault(Fault::InvalidOpcode);
            if e.outcome == ud && n.outcome != ud {
                fam.unimplemented += 1;
            }
            s.mismatches += 1;
            if s.lines.len() < opts.max_report as usize {
                let line = mismatch_line(opts.seed, i, form, &case, &diffs);
                println!("{line}");
                s.lines.push(line);
            }
        }
    }
    s
}

/// Prints the per-family table (families with forms or cases, in catalogue order).
pub fn print_summary(s: &Summary) {
    println!(
        "{:<12} {:>9} {:>8} {:>11} {:>10} {:>8} {:>9}",
        "family", "cases", "faults", "forms", "mismatches", "emu-#UD", "tolerated"
    );
    for (name, _) in FAMILIES {
        if let Some(f) = s.families.get(*name) {
            println!(
                "{:<12} {:>9} {:>8} {:>5}/{:<5} {:>10} {:>8} {:>9}",
                name,
                f.cases,
                f.faults,
                f.forms_hit,
                f.forms,
                f.mismatches,
                f.unimplemented,
                f.tolerated
            );
        }
    }
}
