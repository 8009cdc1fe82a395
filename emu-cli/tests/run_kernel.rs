//! `lockstep run` with a valid program boots the guest kernel and reports
//! its outcome cleanly: the exit status with nothing on stderr; the kernel
//! log with -v and --kernel-log; the instruction limit; the trace;
//! identical results on identical runs.
//!
//! The kernel grows under these tests: today it prints its banner and exits
//! 0 without running the program; once it runs programs, the program here
//! exits with 7. Both are accepted.

mod common;

use common::*;

/// A program that exists on every host: the crafted exit(7) ELF.
fn program(tag: &str) -> (std::path::PathBuf, String) {
    let dir = scratch(tag);
    let prog = write_file(&dir, "exit7", &elf64(EM_X86_64));
    (dir, prog)
}

/// Checks a run without -v: exit(7) once the kernel runs programs, 0 from
/// the banner kernel, both silent.
fn assert_clean_outcome(out: &std::process::Output) {
    let s = status(out);
    assert!(s == 0 || s == 7, "unexpected status {s}: {}", stderr(out));
    assert_eq!(stderr(out), "");
}

#[test]
fn quiet_run_reports_only_the_outcome() {
    let (_dir, prog) = program("quiet");
    assert_clean_outcome(&lockstep_run(&[&prog]));
}

#[test]
fn verbose_shows_the_kernel_log_and_kernel_log_saves_it() {
    let (dir, prog) = program("log");
    let log = dir.join("kernel.log");
    let out = lockstep_run(&["-v", "--kernel-log", log.to_str().unwrap(), &prog]);
    let saved = std::fs::read_to_string(&log).unwrap();
    assert!(!saved.is_empty(), "the kernel logs at least its banner");
    let err = stderr(&out);
    // stderr: the kernel log as saved, then lockstep's own lines.
    let own = err
        .strip_prefix(saved.as_str())
        .unwrap_or_else(|| panic!("stderr: {err}\nlog: {saved}"));
    let mut own = own.lines();
    let ended = own.next().unwrap_or_default();
    assert!(
        ended.starts_with("lockstep: the run ended (") && ended.ends_with(" instructions"),
        "{err}"
    );
    assert_eq!(own.next(), None, "{err}");
    assert!([0, 7].contains(&status(&out)), "{err}");
}

#[test]
fn instruction_limit_is_124() {
    let (_dir, prog) = program("limit");
    // Every kernel runs more than 5 instructions before it can stop.
    let out = lockstep_run(&["--max-instructions", "5", &prog]);
    assert_one_line(
        &out,
        124,
        &format!("lockstep: {prog} stopped: instruction limit of 5 reached"),
    );
}

#[test]
fn trace_has_a_line_per_instruction_and_is_deterministic() {
    let (dir, prog) = program("trace");
    let trace = |name: &str| {
        let path = dir.join(name);
        let out = lockstep_run(&[
            "--trace",
            path.to_str().unwrap(),
            "--max-instructions",
            "5",
            &prog,
        ]);
        assert_eq!(status(&out), 124, "{}", stderr(&out));
        std::fs::read_to_string(&path).unwrap()
    };
    let (first, second) = (trace("a.txt"), trace("b.txt"));
    assert_eq!(first, second);
    let instructions: Vec<&str> = first.lines().filter(|l| !l.starts_with("--")).collect();
    assert_eq!(instructions.len(), 5);
    // The kernel starts at its linked entry in the upper half.
    assert!(
        instructions[0].starts_with("ffffffff80"),
        "{}",
        instructions[0]
    );
    assert_eq!(
        first.lines().last(),
        Some("-- end: InstructionLimit after 5 instructions")
    );
}

#[test]
fn identical_runs_give_identical_results() {
    let (_dir, prog) = program("determinism");
    let run = || lockstep_run(&["-v", "--seed", "5", &prog, "arg"]);
    let (a, b) = (run(), run());
    assert_eq!(a.status, b.status);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stderr, b.stderr, "kernel log and instruction count");
}

#[test]
fn options_reach_the_machine_without_errors() {
    let (dir, prog) = program("options");
    let data = write_file(&dir, "data.txt", b"payload\n");
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/f"), b"x").unwrap();
    std::os::unix::fs::symlink("sub/f", tree.join("link")).unwrap();
    let out = lockstep_run(&[
        "--seed",
        "0x1234",
        "--memory",
        "64M",
        "--env",
        "A=1",
        "--clear-env",
        "--file",
        &format!("{data}:/data/in.txt"),
        "--dir",
        &format!("{}:/tree", tree.display()),
        "--epoch",
        "2000-01-01T00:00:00Z",
        "--vsyscall",
        "none",
        "--no-aslr",
        "--argv0",
        "busybox",
        &prog,
        "--not-an-option-of-lockstep",
    ]);
    assert_clean_outcome(&out);
}

#[test]
fn demo_stays_the_default_command() {
    let (default, explicit) = (lockstep(&[]), lockstep(&["demo"]));
    assert_eq!(status(&default), 0, "{}", stderr(&default));
    assert!(!default.stdout.is_empty());
    // Same program, same deterministic counts; only host timings may differ.
    let strip_timings = |o: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.contains("host time"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(strip_timings(&default), strip_timings(&explicit));
}
