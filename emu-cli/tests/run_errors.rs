//! `lockstep run` on bad input: every case has its exit status
//! (ARCHITECTURE.md, "Exit status") and a one-line message, checked on the
//! host before anything boots; and a valid program reports the kernel's
//! outcome cleanly.

mod common;

use common::*;

#[test]
fn missing_program_is_127() {
    let out = lockstep_run(&["/nonexistent/dir/prog"]);
    assert_one_line(&out, 127, "lockstep: /nonexistent/dir/prog: not found");
    let out = lockstep_run(&["no-such-program-anywhere-in-path"]);
    assert_one_line(&out, 127, "no-such-program-anywhere-in-path: not found");
}

#[test]
fn text_file_and_script_are_126() {
    let dir = scratch("text");
    let text = write_file(&dir, "notes.txt", b"just some text\n");
    let out = lockstep_run(&[&text]);
    assert_one_line(
        &out,
        126,
        "notes.txt: cannot execute: not an ELF executable",
    );
    let script = write_file(&dir, "script.sh", b"#!/bin/sh\necho hi\n");
    let out = lockstep_run(&[&script]);
    assert_one_line(&out, 126, "it is a script (#!)");
    let empty = write_file(&dir, "empty", b"");
    assert_one_line(&lockstep_run(&[&empty]), 126, "not an ELF executable");
}

#[test]
fn directory_is_126() {
    let dir = scratch("dir");
    let out = lockstep_run(&[dir.to_str().unwrap()]);
    assert_one_line(&out, 126, "cannot execute: it is a directory");
}

#[test]
fn elf32_and_other_machines_are_126() {
    let dir = scratch("class");
    let elf32 = write_file(&dir, "i386", &elf32_i386());
    let out = lockstep_run(&[&elf32]);
    assert_one_line(
        &out,
        126,
        "cannot execute: 32-bit ELF programs are not supported (x86-64 only)",
    );
    let arm = write_file(&dir, "arm64", &elf64(EM_AARCH64));
    let out = lockstep_run(&[&arm]);
    assert_one_line(
        &out,
        126,
        "cannot execute: ELF for AArch64 (e_machine 183), not x86-64",
    );
}

#[test]
fn dynamic_elf_is_126_not_supported_yet() {
    let dir = scratch("dyn");
    let crafted = write_file(&dir, "dynamic", &elf64_dynamic());
    let out = lockstep_run(&[&crafted]);
    assert_one_line(
        &out,
        126,
        "cannot execute: dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2): not supported yet, link it with -static",
    );
    if !have_gcc() {
        eprintln!("gcc not found: skipping the gcc-built dynamic program");
        return;
    }
    let src = write_file(&dir, "dyn.c", b"int main(void) { return 0; }\n");
    let exe = dir.join("dyn-gcc");
    let built = std::process::Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("gcc runs");
    assert!(built.success());
    let out = lockstep_run(&[exe.to_str().unwrap()]);
    assert_one_line(&out, 126, "dynamically linked (interpreter /lib");
}

#[test]
fn truncated_and_corrupt_elf_are_126() {
    let dir = scratch("trunc");
    let good = elf64(EM_X86_64);
    let header_only = write_file(&dir, "cut40", &good[..40]);
    assert_one_line(&lockstep_run(&[&header_only]), 126, "truncated ELF header");
    let no_phdrs = write_file(&dir, "cut100", &good[..100]);
    assert_one_line(
        &lockstep_run(&[&no_phdrs]),
        126,
        "truncated ELF file (program headers past its end)",
    );
    let no_code = write_file(&dir, "cut125", &good[..125]);
    assert_one_line(
        &lockstep_run(&[&no_code]),
        126,
        "truncated ELF file (segment at 0x400000 extends past its end)",
    );
    let mut bad_entry_size = good.clone();
    bad_entry_size[54] = 40;
    let path = write_file(&dir, "phentsize", &bad_entry_size);
    assert_one_line(
        &lockstep_run(&[&path]),
        126,
        "corrupt ELF program headers (entry size 40, expected 56)",
    );
    // A real static binary cut in half.
    if let Some(hello) = test_programs::path("hello") {
        let bytes = std::fs::read(hello).unwrap();
        let half = write_file(&dir, "half", &bytes[..bytes.len() / 2]);
        assert_one_line(&lockstep_run(&[&half]), 126, "extends past its end");
    }
}

#[test]
fn usage_errors_are_2_with_clap_messages() {
    let out = lockstep_run(&["--bogus", "prog"]);
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).contains("unexpected argument '--bogus'"));
    let cases: [(&[&str], &str); 8] = [
        (
            &["--memory", "12Q", "p"],
            "invalid value '12Q' for '--memory <SIZE>'",
        ),
        (
            &["--memory", "1000", "p"],
            "not a non-zero multiple of 4 KiB",
        ),
        (&["--memory", "65G", "p"], "more than the 64G maximum"),
        (
            &["--epoch", "tomorrow", "p"],
            "invalid value 'tomorrow' for '--epoch",
        ),
        (
            &["--vsyscall", "maybe", "p"],
            "invalid value 'maybe' for '--vsyscall",
        ),
        (&["--env", "NOEQUALS", "p"], "expected K=V"),
        (
            &["--seed", "twelve", "p"],
            "invalid value 'twelve' for '--seed",
        ),
        (&["--file", "a/../b", "p"], "must not contain '..'"),
    ];
    for (args, needle) in cases {
        let out = lockstep_run(args);
        assert_eq!(status(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
    let out = lockstep_run(&[]);
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).contains("<PROGRAM>"));
}

#[test]
fn unusable_file_and_dir_sources_are_2() {
    let dir = scratch("sources");
    let prog = write_file(&dir, "prog", &elf64(EM_X86_64));
    let out = lockstep_run(&["--file", "/nonexistent/input.txt", &prog]);
    assert_one_line(
        &out,
        2,
        "--file /nonexistent/input.txt: No such file or directory",
    );
    let d = dir.to_str().unwrap();
    let out = lockstep_run(&["--file", d, &prog]);
    assert_one_line(&out, 2, "is a directory (use --dir)");
    let out = lockstep_run(&["--dir", &prog, &prog]);
    assert_one_line(&out, 2, "is not a directory (use --file)");
    let out = lockstep_run(&["--file", &format!("{prog}:/init"), &prog]);
    assert_one_line(&out, 2, "guest path /init is given twice");
}

#[test]
fn bad_gdb_addresses_are_2() {
    let dir = scratch("gdb");
    let prog = write_file(&dir, "prog", &elf64(EM_X86_64));
    // Not an address of this host: nothing can listen there.
    let out = lockstep_run(&["--gdb", "192.0.2.1:1234", &prog]);
    assert_one_line(&out, 2, "--gdb 192.0.2.1:1234: cannot listen: ");
    let out = lockstep_run(&["--gdb", "not-an-address", &prog]);
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).contains("expected IP:PORT or PORT"));
}

#[test]
fn help_teaches_options_examples_and_statuses() {
    let out = lockstep(&["run", "--help"]);
    assert_eq!(status(&out), 0);
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--seed",
        "--memory",
        "--env",
        "--clear-env",
        "--file",
        "--dir",
        "--max-instructions",
        "--epoch",
        "--vsyscall",
        "--no-aslr",
        "--gdb",
        "--trace",
        "--verbose",
        "--kernel-log",
        "--argv0",
        "HOME=/  LANG=C  PATH=/bin  TERM=dumb",
        "Examples:",
        "Exit status:",
        "128+N",
        "124",
        "125",
        "126",
        "127",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from --help");
    }
}
