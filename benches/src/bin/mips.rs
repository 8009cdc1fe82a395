//! Quick throughput check: runs each workload once with an `n` sized to
//! about `--minstr` million guest instructions (default 1000) and prints
//! `name: X M instructions, Y s, Z MIPS`.
//!
//! Usage: `cargo run --release -p lockstep-benches --bin mips -- [--minstr M] [workload...]`

use std::process::ExitCode;
use std::time::Instant;

use lockstep_benches::{BenchError, GuestRun, Workload};

/// Default size of one measured run, in millions of guest instructions.
const DEFAULT_MINSTR: u64 = 1000;

fn main() -> ExitCode {
    let mut minstr = DEFAULT_MINSTR;
    let mut chosen = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--minstr" {
            match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => minstr = v,
                None => return usage("--minstr needs a number"),
            }
        } else if let Some(w) = Workload::from_name(&arg) {
            chosen.push(w);
        } else {
            return usage(&format!("unknown argument {arg:?}"));
        }
    }
    if chosen.is_empty() {
        chosen = Workload::ALL.to_vec();
    }
    let mut failed = false;
    for workload in chosen {
        if let Err(err) = measure(workload, minstr) {
            println!("{workload}: failed: {err}");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Calibrates `n` with one bench-sized call, then times one large call.
fn measure(workload: Workload, minstr: u64) -> Result<(), BenchError> {
    let mut run = GuestRun::new(workload)?;
    let probe = run.run(workload.bench_n())?;
    let per_n = probe.instructions as f64 / workload.bench_n() as f64;
    let n = ((minstr as f64 * 1e6 / per_n) as u64).max(1);
    let start = Instant::now();
    let result = run.run(n)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{workload}: {:.1} M instructions, {secs:.3} s, {:.1} MIPS (n = {n}, checksum {:#018x})",
        result.instructions as f64 / 1e6,
        result.instructions as f64 / 1e6 / secs,
        result.checksum
    );
    Ok(())
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("mips: {problem}\nusage: mips [--minstr M] [intloop|memstr|sieve|bytecode]...");
    ExitCode::from(2)
}
