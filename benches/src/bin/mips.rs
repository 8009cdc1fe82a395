//! Quick throughput check: runs each workload once with an `n` sized to
//! about `--minstr` million guest instructions (default 1000) and prints
//! `name: X M instructions, Y s, Z MIPS`, then checks the checksum against
//! the native build of the same C code.
//!
//! Usage: `cargo run --release -p lockstep-benches --bin mips -- [--minstr M] [workload...]`

use std::process::{Command, ExitCode};
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
        match measure(workload, minstr) {
            Ok(matches_native) => failed |= !matches_native,
            Err(err) => {
                println!("{workload}: failed: {err}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Calibrates `n` with one bench-sized call, then times one large call.
/// Returns false when its checksum differs from the native build's.
fn measure(workload: Workload, minstr: u64) -> Result<bool, BenchError> {
    let mut run = GuestRun::new(workload)?;
    let probe = run.run(workload.bench_n())?;
    let per_n = probe.instructions as f64 / workload.bench_n() as f64;
    let n = ((minstr as f64 * 1e6 / per_n) as u64).max(1);
    let start = Instant::now();
    let result = run.run(n)?;
    let secs = start.elapsed().as_secs_f64();
    let verdict = native_verdict(workload, n, result.checksum);
    println!(
        "{workload}: {:.1} M instructions, {secs:.3} s, {:.1} MIPS (n = {n}, checksum {:#018x} {})",
        result.instructions as f64 / 1e6,
        result.instructions as f64 / 1e6 / secs,
        result.checksum,
        verdict
    );
    Ok(!verdict.starts_with("MISMATCH"))
}

/// Compares `checksum` with the native build of the workload run with `n`.
fn native_verdict(workload: Workload, n: u64, checksum: u64) -> String {
    let output = match Command::new(workload.native_oracle())
        .arg(n.to_string())
        .output()
    {
        Ok(output) if output.status.success() => output,
        Ok(output) => return format!("unchecked: native oracle exited with {}", output.status),
        Err(err) => return format!("unchecked: native oracle: {err}"),
    };
    match String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<i64>()
    {
        Ok(native) if native as u64 == checksum => "= native".to_owned(),
        Ok(native) => format!("MISMATCH: native {:#018x}", native as u64),
        Err(err) => format!("unchecked: native output: {err}"),
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("mips: {problem}\nusage: mips [--minstr M] [intloop|memstr|sieve|bytecode]...");
    ExitCode::from(2)
}
