//! The programs: each is compiled, run natively and under lockstep, and compared.

use emu_abi::ports::DebugExit;
use emu_core::{MachineExit, RunLimit};

use crate::harness::*;

const ENV: &[(&str, &str)] = &[("HOME", "/"), ("LANG", "C")];

const HELLO: &str = r#"
#include <stdio.h>
int main(int argc, char **argv) {
    printf("hello, world: %d args:", argc);
    for (int i = 0; i < argc; i++) printf(" [%s]", argv[i]);
    printf("\n");
    return 3;
}
"#;

#[test]
#[ignore = "needs the int-b and sse-int instruction families on main; passes with them merged"]
fn glibc_static_hello_matches_native() {
    let dir = scratch("hello");
    let Some(exe) = compile(&dir, "hello", HELLO, &["-static"]) else {
        return;
    };
    let run = same_as_native(&dir, "hello", &exe, &["one", "two words"], ENV);
    eprintln!("hello: {} instructions", run.instructions);
}

#[test]
#[ignore = "needs the int-b and sse-int instruction families on main; passes with them merged"]
fn glibc_static_pie_hello_matches_native() {
    let dir = scratch("hello-pie");
    let Some(exe) = compile(&dir, "hello_pie", HELLO, &["-static-pie", "-fPIE"]) else {
        return;
    };
    same_as_native(&dir, "hello_pie", &exe, &["x"], ENV);
}

#[test]
#[ignore = "needs the int-b and sse-int instruction families on main; passes with them merged"]
fn boot_to_the_first_user_instruction_is_deterministic_and_counted() {
    let dir = scratch("boot-count");
    let Some(exe) = compile(&dir, "hello", HELLO, &["-static"]) else {
        return;
    };
    let program = std::fs::read(&exe).unwrap();
    let entry = u64::from_le_bytes(program[24..32].try_into().unwrap());
    let mut counts = Vec::new();
    for _ in 0..2 {
        let (mut m, _, _, log) = boot("hello", &program, &["hello"], ENV, boot_info(7));
        let exit = m.cpu_mut().run(RunLimit {
            max_instructions: 50_000_000,
            stop_at: Some(entry),
        });
        assert_eq!(
            exit,
            emu_core::Exit::StopAddress,
            "kernel log: {}",
            log.text()
        );
        counts.push(m.cpu().instructions_retired());
    }
    eprintln!(
        "boot to the first user instruction: {} instructions",
        counts[0]
    );
    assert_eq!(counts[0], counts[1]);
}

#[test]
#[ignore = "needs the int-b and sse-int instruction families on main; passes with them merged"]
fn a_missing_program_exits_127_with_a_log_line() {
    let run = run_guest("prog", b"\x7fELF", &["nothere"], ENV, boot_info(1));
    assert_eq!(run.exit, MachineExit::Guest(DebugExit::Exited(127)));
    assert!(run.log.contains("cannot execute nothere"), "{}", run.log);
}
