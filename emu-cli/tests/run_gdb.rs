//! `lockstep run --gdb`: the system gdb (batch mode) connects, sees the
//! machine stopped at the kernel's entry, single-steps, continues, and
//! detaches; the run then ends with the status an undebugged run has.
//! Skipped when gdb is not installed (CI installs it).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn gdb_available() -> bool {
    let ok = Command::new("gdb")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: gdb is not installed (apt-get install gdb)");
    }
    ok
}

/// Waits for `child` at most `limit`, killing it after that.
fn wait(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `lockstep run --gdb 127.0.0.1:0 ARGS`, returns it and the address
/// it announced (its first stderr line).
fn start(args: &[&str]) -> (Child, BufReader<std::process::ChildStderr>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["run", "--gdb", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lockstep starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("lockstep announces");
    let addr = line
        .trim_end()
        .strip_suffix(')')
        .and_then(|l| l.rsplit_once("target remote "))
        .map(|(_, addr)| addr.to_string())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, stderr, addr)
}

fn gdb_batch(addr: &str, commands: &[&str]) -> String {
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx", "-ex", &format!("target remote {addr}")]);
    for c in commands {
        cmd.args(["-ex", c]);
    }
    let mut gdb = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb starts");
    wait(&mut gdb, Duration::from_secs(60), "gdb");
    let mut out = String::new();
    gdb.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    gdb.stderr.take().unwrap().read_to_string(&mut out).unwrap();
    out
}

#[test]
fn gdb_steps_from_the_kernel_entry_and_detaches() {
    if !gdb_available() {
        return;
    }
    let dir = scratch("gdb-run");
    let prog = write_file(&dir, "exit7", &elf64(EM_X86_64));
    let undebugged = status(&lockstep_run(&[&prog]));

    let (mut child, mut stderr, addr) = start(&[&prog]);
    let out = gdb_batch(
        &addr,
        &[
            "info registers rip",
            "stepi",
            "info registers rip",
            "continue",
            "detach",
        ],
    );
    let status = wait(&mut child, Duration::from_secs(60), "lockstep");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();

    let entry = out.find("rip            0xffffffff80200000");
    let stepped = out.find("rip            0xffffffff80200003");
    assert!(entry.is_some() && stepped > entry, "gdb output:\n{out}");
    assert_eq!(
        status.code(),
        Some(undebugged),
        "gdb:\n{out}\nlockstep:\n{rest}"
    );
    assert!(!rest.contains("panicked"), "{rest}");
}

#[test]
fn gdb_sees_the_instruction_limit_and_the_run_is_124() {
    if !gdb_available() {
        return;
    }
    let dir = scratch("gdb-limit");
    let prog = write_file(&dir, "exit7", &elf64(EM_X86_64));
    let (mut child, mut stderr, addr) = start(&["--max-instructions", "3", &prog]);
    let out = gdb_batch(&addr, &["continue", "info registers rip"]);
    let status = wait(&mut child, Duration::from_secs(60), "lockstep");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(out.contains("SIGXCPU"), "gdb output:\n{out}");
    assert!(out.contains("rip            0xffffffff802"), "{out}");
    assert_eq!(status.code(), Some(124), "{rest}");
    assert_eq!(
        rest,
        format!("lockstep: {prog} stopped: instruction limit of 3 reached\n")
    );
}
