//! Differential tester of emu-core against the host CPU.
//!
//! `cargo run --release -p emu-core --example difftest -- --cases N --seed S` generates random
//! instruction encodings (every form of the families the emulator advertises), runs each one
//! natively in a sandboxed child process and in the emulator from the same random state, and
//! compares the results. The last line is exactly `difftest: N cases, F forms, M mismatches`;
//! the exit status is non-zero when M > 0. See `--help` for options and exclusions.
//!
//! Modules: `state` (case/state types, layout, PRNG), `native` (host runner), `emu` (emulator
//! runner), `forms` (catalogue, families, exclusions), `gen` + `special` (case generator),
//! `compare` (what must be equal), `driver` (the loop, shared with `tests/difftest.rs`).

mod compare;
mod driver;
mod emu;
mod forms;
mod gen;
mod native;
mod special;
mod state;

use driver::Options;

fn usage() -> String {
    let mut s = String::from(
        "difftest: differential testing of emu-core against the host CPU\n\n\
         usage: difftest [--cases N] [--seed S] [--family NAME]... [--only NAME]\n\
         \x20                [--ignore-cpuid] [--verbose] [--max-report N] [--list-forms]\n\
         \x20                [--repro SEED:INDEX]\n\n\
         --cases N        number of random cases (default 10000)\n\
         --seed S         run seed (default 1); case I of seed S is always the same case\n\
         --family NAME    test only this family (repeatable, comma lists; 'int' = all int-*,\n\
         \x20                'all' = every family); --only is a synonym\n\
         --ignore-cpuid   use the host's CPUID only, to test families the emulator does not\n\
         \x20                advertise yet (expect #UD mismatches for unimplemented forms)\n\
         --verbose        print every case\n\
         --max-report N   print at most N mismatch lines (default 1000)\n\
         --list-forms     list the forms of the selected families and exit\n\
         --repro S:I      rerun case I of seed S (same --family/--ignore-cpuid as the run\n\
         \x20                that reported it) and print both final states\n\n\
         families:\n",
    );
    for (f, d) in forms::FAMILIES {
        s.push_str(&format!("  {f:<11} {d}\n"));
    }
    s.push_str("\nexclusions (never generated, or compared loosely):\n");
    for (what, why) in forms::EXCLUSIONS {
        s.push_str(&format!("  {what}\n      {why}\n"));
    }
    s
}

fn parse_u64(s: &str) -> Result<u64, String> {
    let r = if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    r.map_err(|e| format!("bad number '{s}': {e}"))
}

struct Cli {
    opts: Options,
    list: bool,
    repro: Option<(u64, u64)>,
}

fn parse() -> Result<Cli, String> {
    let mut opts = Options {
        cases: 10_000,
        seed: 1,
        max_report: 1000,
        ..Options::default()
    };
    let mut fams = Vec::new();
    let mut list = false;
    let mut repro = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--cases" => opts.cases = parse_u64(&val()?)?,
            "--seed" => opts.seed = parse_u64(&val()?)?,
            "--family" | "--only" => fams.push(val()?),
            "--ignore-cpuid" => opts.ignore_cpuid = true,
            "--verbose" => opts.verbose = true,
            "--max-report" => opts.max_report = parse_u64(&val()?)?,
            "--list-forms" => list = true,
            "--repro" => {
                let v = val()?;
                let (s, i) = v.split_once(':').ok_or("--repro wants SEED:INDEX")?;
                repro = Some((parse_u64(s)?, parse_u64(i)?));
            }
            "--help" | "-h" => {
                print!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}' (see --help)")),
        }
    }
    opts.families = forms::expand_families(&fams)?;
    Ok(Cli { opts, list, repro })
}

fn main() {
    let cli = match parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("difftest: {e}");
            std::process::exit(2);
        }
    };
    let forms = driver::forms(&cli.opts);
    if cli.list {
        for f in &forms {
            println!("{:<11} {:?}", f.family, f.code);
        }
        println!("{} forms", forms.len());
        return;
    }
    let mut runners = match driver::Runners::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("difftest: {e}");
            std::process::exit(2);
        }
    };
    if let Some((seed, index)) = cli.repro {
        std::process::exit(repro(&forms, &mut runners, seed, index));
    }
    let s = driver::run(&cli.opts, &forms, &mut runners);
    driver::print_summary(&s);
    println!(
        "difftest: {} cases, {} forms, {} mismatches",
        s.cases, s.forms, s.mismatches
    );
    if s.mismatches > 0 {
        let mut how = String::new();
        if !cli.opts.families.is_empty() {
            how.push_str(&format!(" --family {}", cli.opts.families.join(",")));
        }
        if cli.opts.ignore_cpuid {
            how.push_str(" --ignore-cpuid");
        }
        eprintln!("rerun one case with: difftest{how} --repro SEED:INDEX");
        std::process::exit(1);
    }
}

fn repro(forms: &[forms::Form], runners: &mut driver::Runners, seed: u64, index: u64) -> i32 {
    if forms.is_empty() {
        eprintln!("difftest: no forms selected");
        return 2;
    }
    let case = gen::generate(forms, seed, index, runners.native.fsgsbase);
    let form = &forms[case.form];
    println!("case {seed}:{index} {} {:?}", form.family, form.code);
    println!("bytes: {:02x?}", case.code);
    println!("disasm: {}", driver::disasm(&case.code));
    println!("init:   {:?}", case.init);
    println!(
        "fs_base={:#x} gs_base={:#x}",
        case.init.fs_base, case.init.gs_base
    );
    for i in 0..16 {
        println!("  xmm{i:<2} {:032x}", case.init.xmm(i));
    }
    for i in 0..8 {
        let (m, e) = case.init.st(i);
        println!("  st{i} {e:04x}:{m:016x}");
    }
    let (n, e) = runners.run(&case);
    println!("native: {:?}\n        {:?}", n.outcome, n.state);
    println!("emu:    {:?}\n        {:?}", e.outcome, e.state);
    let diffs = compare::compare(&case, &n, &e);
    for d in &diffs {
        println!("diff: {d}");
    }
    if compare::tolerated(&case, &n, &e) {
        println!("note: equal only within the x87 transcendental tolerance (1 ulp, C1)");
    }
    let m = u64::from(!diffs.is_empty());
    println!("difftest: 1 cases, 1 forms, {m} mismatches");
    i32::from(m > 0)
}
