//! The test programs (test-programs/) run natively and under `lockstep
//! run`: stdout and exit status must be identical, the native run being the
//! oracle. The native run gets what the guest gets: the same argv (argv[0]
//! is the guest path /bin/NAME), the default environment (or the same
//! --clear-env/--env result), and / as its working directory.
//!
//! They need the guest kernel's syscalls, ELF loader and file system
//! (issue 3), so they are ignored for now: `cargo test -p emu-cli --test
//! run_programs -- --ignored` runs them.

mod common;

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Output};

use common::*;

const DEFAULT_ENV: [(&str, &str); 4] = [
    ("PATH", "/bin"),
    ("HOME", "/"),
    ("TERM", "dumb"),
    ("LANG", "C"),
];

/// The status `lockstep run` must give for a native result: the exit code,
/// or 128+N for death by signal N.
fn expected_status(native: &Output) -> i32 {
    match (native.status.code(), native.status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => unreachable!("a process ends by exit or signal"),
    }
}

/// Runs `name` natively with `env` (pairs) and `args`.
fn native(path: &std::path::Path, name: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(path)
        .arg0(format!("/bin/{name}"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir("/")
        .output()
        .expect("the native program runs")
}

/// Compares a native run with `lockstep run [lockstep_opts] PROG args`.
/// Returns the lockstep run (for extra checks), or `None` if not built.
fn compare(name: &str, args: &[&str], env: &[(&str, &str)], opts: &[&str]) -> Option<Output> {
    let Some(path) = test_programs::path(name) else {
        eprintln!(
            "{name} was not built ({}): skipping",
            test_programs::not_built(name).unwrap_or("unknown reason")
        );
        return None;
    };
    let native = native(path, name, env, args);
    let prog = path.to_str().expect("UTF-8 build path");
    let guest = lockstep_run(&[opts, &[prog], args].concat());
    assert_eq!(
        String::from_utf8_lossy(&guest.stdout),
        String::from_utf8_lossy(&native.stdout),
        "{name}: stdout differs (lockstep stderr: {})",
        stderr(&guest)
    );
    assert_eq!(
        status(&guest),
        expected_status(&native),
        "{name}: exit status differs (lockstep stderr: {})",
        stderr(&guest)
    );
    Some(guest)
}

#[test]
fn hello() {
    compare("hello", &[], &DEFAULT_ENV, &[]);
}

#[test]
fn args_and_default_environment() {
    compare(
        "args",
        &["one", "two words", "--flag", ""],
        &DEFAULT_ENV,
        &[],
    );
}

#[test]
fn args_with_custom_environment_and_argv0() {
    // The native side's `Command` passes variables sorted by name, so the
    // guest gets them in that order too (lockstep keeps the order given).
    let env = [("EMPTY", ""), ("X", "1")];
    let opts = ["--clear-env", "--env", "EMPTY=", "--env", "X=1"];
    compare("args", &["a"], &env, &opts);
    // --argv0 replaces argv[0] only.
    let path = test_programs::path("args").expect("built");
    let out = lockstep_run(&["--argv0", "renamed", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("argv[0]=renamed\n"), "{text}");
}

#[test]
fn file_io_in_tmp() {
    compare("fileio", &[], &DEFAULT_ENV, &[]);
}

#[test]
fn malloc_churn_with_brk_and_mmap() {
    compare("malloc", &[], &DEFAULT_ENV, &[]);
}

#[test]
fn printf_of_double_and_long_double() {
    compare("float", &[], &DEFAULT_ENV, &[]);
}

#[test]
fn qsort_and_bsearch() {
    compare("qsort", &[], &DEFAULT_ENV, &[]);
}

#[test]
fn rust_std_static_pie() {
    compare("std_tour", &[], &DEFAULT_ENV, &[]);
    compare("std_tour", &["x"], &DEFAULT_ENV, &[]);
}

#[test]
fn sigsegv_is_128_plus_11_with_a_report() {
    let Some(out) = compare("segv", &[], &DEFAULT_ENV, &[]) else {
        return;
    };
    let prog = test_programs::path("segv").unwrap().display().to_string();
    assert_eq!(
        stderr(&out),
        format!("lockstep: {prog} killed by signal 11 (SIGSEGV)\n")
    );
}

#[test]
fn files_given_with_file_and_dir_are_readable() {
    let dir = scratch("programs-files");
    let data = write_file(&dir, "in.txt", b"12345\n");
    let Some(path) = test_programs::path("args") else {
        return;
    };
    // The args program does not read files; the run must still boot and
    // exit normally with the files packed.
    let out = lockstep_run(&[
        "--file",
        &format!("{data}:/data/in.txt"),
        "--dir",
        &format!("{}:/tree", dir.display()),
        path.to_str().unwrap(),
    ]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
}

#[test]
fn same_run_twice_is_identical() {
    let Some(path) = test_programs::path("malloc") else {
        return;
    };
    let p = path.to_str().unwrap();
    let (a, b) = (lockstep_run(&["-v", p]), lockstep_run(&["-v", p]));
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stderr, b.stderr, "kernel log and instruction count");
}
