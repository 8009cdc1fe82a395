//! Run-loop tests through the public `Cpu` API: limits, faults, page
//! crossing, self-modifying code, tracing.

use super::*;

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;
const STACK_TOP: u64 = 0x7fff_0000;

fn cpu_with(code: &[u8]) -> Cpu {
    let mut cpu = Cpu::new(CpuConfig::default()).unwrap();
    cpu.map(CODE, 0x2000, Prot::RWX).unwrap();
    cpu.map(DATA, 0x2000, Prot::RW).unwrap();
    cpu.map(STACK_TOP - 0x4000, 0x4000, Prot::RW).unwrap();
    cpu.write_virt(CODE, code).unwrap();
    cpu.set_rip(CODE);
    cpu.set_gpr(Gpr::Rsp, STACK_TOP);
    cpu
}

#[test]
fn instruction_limit_is_exact() {
    // loop: inc rax; jmp loop
    let mut cpu = cpu_with(&[0x48, 0xff, 0xc0, 0xeb, 0xfb]);
    let exit = cpu.run(RunLimit {
        max_instructions: 1001,
        stop_at: None,
    });
    assert_eq!(exit, Exit::InstructionLimit);
    assert_eq!(cpu.instructions_retired(), 1001);
    assert_eq!(cpu.gpr(Gpr::Rax), 501);
}

#[test]
fn stop_address_inside_a_block_stops_before_it() {
    // nop; nop; nop; int3
    let mut cpu = cpu_with(&[0x90, 0x90, 0x90, 0xcc]);
    let exit = cpu.run(RunLimit {
        max_instructions: u64::MAX,
        stop_at: Some(CODE + 2),
    });
    assert_eq!(exit, Exit::StopAddress);
    assert_eq!(cpu.rip(), CODE + 2);
    assert_eq!(cpu.instructions_retired(), 2);
}

#[test]
fn write_to_read_only_page_faults_precisely_with_protection_code() {
    // mov qword [rbx], rax  with rbx -> code page mapped R-X
    let mut cpu = cpu_with(&[0x48, 0x89, 0x03]);
    cpu.map(CODE, 0x1000, Prot::RX).unwrap();
    cpu.set_gpr(Gpr::Rbx, CODE + 0x800);
    let exit = cpu.run(RunLimit::default());
    // P | W | U
    assert_eq!(
        exit,
        Exit::Exception(Exception::PageFault {
            addr: CODE + 0x800,
            error_code: 7
        })
    );
    assert_eq!(cpu.rip(), CODE);
    assert_eq!(cpu.instructions_retired(), 0);
}

#[test]
fn fetch_from_unmapped_page_faults_with_instruction_bit() {
    let mut cpu = cpu_with(&[]);
    cpu.set_rip(0x1234_5000);
    let exit = cpu.run(RunLimit::default());
    // not present | U | I/D
    assert_eq!(
        exit,
        Exit::Exception(Exception::PageFault {
            addr: 0x1234_5000,
            error_code: 0x14
        })
    );
}

#[test]
fn fetch_from_no_execute_page_faults() {
    let mut cpu = cpu_with(&[]);
    cpu.set_rip(DATA);
    let exit = cpu.run(RunLimit::default());
    assert_eq!(
        exit,
        Exit::Exception(Exception::PageFault {
            addr: DATA,
            error_code: 0x15
        })
    );
}

#[test]
fn store_crossing_into_unmapped_page_changes_nothing() {
    // mov qword [rbx], rax with rbx = last 4 bytes of the data mapping
    let mut cpu = cpu_with(&[0x48, 0x89, 0x03]);
    cpu.set_gpr(Gpr::Rbx, DATA + 0x2000 - 4);
    cpu.set_gpr(Gpr::Rax, u64::MAX);
    let exit = cpu.run(RunLimit::default());
    assert_eq!(
        exit,
        Exit::Exception(Exception::PageFault {
            addr: DATA + 0x2000,
            error_code: 6
        })
    );
    let mut b = [0u8; 4];
    cpu.read_virt(DATA + 0x2000 - 4, &mut b).unwrap();
    assert_eq!(b, [0; 4]);
}

#[test]
fn read_modify_write_crossing_into_unmapped_page_faults_at_the_page_start() {
    // add qword [rbx], rax with rbx = last 3 bytes of the data mapping: as on the host, the
    // fault reports the first byte of the absent page (P=0, W, U).
    let mut cpu = cpu_with(&[0x48, 0x01, 0x03]);
    cpu.set_gpr(Gpr::Rbx, DATA + 0x2000 - 3);
    let exit = cpu.run(RunLimit::default());
    assert_eq!(
        exit,
        Exit::Exception(Exception::PageFault {
            addr: DATA + 0x2000,
            error_code: 6
        })
    );
}

#[test]
fn instruction_crossing_a_page_boundary_executes() {
    // mov rax, imm64 placed so that it straddles CODE+0x1000, then int3.
    let start = CODE + 0x1000 - 4;
    let mut code = vec![0x48, 0xb8];
    code.extend_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
    code.push(0xcc);
    let mut cpu = cpu_with(&[]);
    cpu.write_virt(start, &code).unwrap();
    cpu.set_rip(start);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    assert_eq!(cpu.gpr(Gpr::Rax), 0x1122_3344_5566_7788);
}

#[test]
fn self_modifying_code_is_seen_on_next_execution() {
    // mov byte [rip+1], 0x07 ; mov al, 0x01 (imm patched to 7) ; int3
    // c6 05 01 00 00 00 07 | b0 01 | cc : rip+1 after the first insn points at the imm.
    let mut cpu = cpu_with(&[0xc6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x07, 0xb0, 0x01, 0xcc]);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    assert_eq!(cpu.gpr(Gpr::Rax) & 0xff, 7);
}

#[test]
fn host_write_invalidates_decoded_code() {
    let mut cpu = cpu_with(&[0xb0, 0x01, 0xcc]);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    cpu.write_virt(CODE + 1, &[0x05]).unwrap();
    cpu.set_rip(CODE);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    assert_eq!(cpu.gpr(Gpr::Rax) & 0xff, 5);
}

#[test]
fn call_ret_and_push_pop_use_the_stack() {
    // call f; int3; f: push 0x1234; pop rbx; ret
    let code = [
        0xe8, 0x01, 0, 0, 0, 0xcc, 0x68, 0x34, 0x12, 0, 0, 0x5b, 0xc3,
    ];
    let mut cpu = cpu_with(&code);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    assert_eq!(cpu.gpr(Gpr::Rbx), 0x1234);
    assert_eq!(cpu.gpr(Gpr::Rsp), STACK_TOP);
    assert_eq!(cpu.rip(), CODE + 6);
}

#[test]
fn syscall_surfaces_as_an_event_after_the_instruction() {
    let mut cpu = cpu_with(&[0x0f, 0x05, 0xcc]);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Syscall);
    assert_eq!(cpu.rip(), CODE + 2);
    assert_eq!(cpu.instructions_retired(), 1);
}

#[test]
fn hlt_at_cpl3_is_a_general_protection_fault() {
    let mut cpu = cpu_with(&[0xf4]);
    assert_eq!(
        cpu.run(RunLimit::default()),
        Exit::Exception(Exception::GeneralProtection(0))
    );
}

#[test]
fn tracer_sees_each_instruction_with_register_writes() {
    use std::sync::{Arc, Mutex};
    struct Collect(Arc<Mutex<Vec<String>>>);
    impl Tracer for Collect {
        fn instruction(&mut self, r: &TraceRecord) {
            self.0.lock().unwrap().push(r.to_string());
        }
    }
    let lines = Arc::new(Mutex::new(Vec::new()));
    // mov eax, 1; add eax, eax; int3
    let mut cpu = cpu_with(&[0xb8, 1, 0, 0, 0, 0x01, 0xc0, 0xcc]);
    cpu.set_tracer(Some(Box::new(Collect(lines.clone()))));
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].contains("mov eax,1") && lines[0].contains("rax=0x1"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("add eax,eax") && lines[1].contains("rax=0x2"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("Breakpoint"), "{}", lines[2]);
}

#[test]
fn breakpoints_stop_before_and_resume_past_them() {
    // nop; nop; nop; int3
    let mut cpu = cpu_with(&[0x90, 0x90, 0x90, 0xcc]);
    cpu.set_breakpoints(&[CODE + 2]);
    assert_eq!(cpu.run(RunLimit::default()), Exit::DebugBreakpoint);
    assert_eq!((cpu.rip(), cpu.instructions_retired()), (CODE + 2, 2));
    // Resuming executes the instruction at the breakpoint.
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    assert_eq!(cpu.instructions_retired(), 4);
}

#[test]
fn watchpoint_reports_after_the_accessing_instruction() {
    use super::debug::{WatchKind, Watchpoint};
    // mov [rbx], eax ; nop ; int3
    let mut cpu = cpu_with(&[0x89, 0x03, 0x90, 0xcc]);
    cpu.set_gpr(Gpr::Rbx, DATA + 0x10);
    cpu.set_watchpoints(&[Watchpoint {
        addr: DATA + 0x12,
        len: 1,
        kind: WatchKind::Write,
    }]);
    let exit = cpu.run(RunLimit::default());
    assert!(
        matches!(exit, Exit::Watchpoint(h) if h.addr == DATA + 0x12),
        "{exit:?}"
    );
    assert_eq!(cpu.rip(), CODE + 2);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
}

#[test]
fn watchpoint_hit_of_a_faulting_instruction_is_dropped() {
    use super::debug::{WatchKind, Watchpoint};
    // mov [rbx], rax (crosses into an unmapped page) ; nop ; nop ; int3
    let mut cpu = cpu_with(&[0x48, 0x89, 0x03, 0x90, 0x90, 0xcc]);
    cpu.set_gpr(Gpr::Rbx, DATA + 0x1ffc);
    cpu.set_watchpoints(&[Watchpoint {
        addr: DATA + 0x1ffc,
        len: 4,
        kind: WatchKind::Write,
    }]);
    assert!(matches!(
        cpu.run(RunLimit::default()),
        Exit::Exception(Exception::PageFault { .. })
    ));
    cpu.set_rip(CODE + 3);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
}

#[test]
fn non_canonical_access_is_ss_fault_only_for_rsp_rbp_base_whatever_the_prefix() {
    // Host (AMD Zen 4) behaviour: 64-bit mode ignores CS/DS/ES/SS prefixes, so #SS(0) follows
    // the base register (RSP/RBP), not the prefix; an FS/GS override makes it #GP(0).
    // RBP always holds a non-canonical address; (code, RBX, expected).
    let nc = 0x8000_0000_0000_1000u64;
    let ss = Exception::StackFault(0);
    let gp = Exception::GeneralProtection(0);
    let cases: [(&[u8], u64, Exception); 7] = [
        (&[0x3e, 0x48, 0x8b, 0x45, 0x00], 0, ss), // mov rax, ds:[rbp]
        (&[0x48, 0x8b, 0x45, 0x00], 0, ss),       // mov rax, [rbp]
        (&[0x36, 0x48, 0x8b, 0x03], nc, gp),      // mov rax, ss:[rbx]
        (&[0x48, 0x8b, 0x03], nc, gp),            // mov rax, [rbx]
        (&[0x26, 0x48, 0x8b, 0x44, 0x1d, 0x00], 0, ss), // mov rax, es:[rbp+rbx]
        (&[0x48, 0x8b, 0x04, 0x2b], 0, gp),       // mov rax, [rbx+rbp] (RBP is the index)
        (&[0x64, 0x48, 0x8b, 0x45, 0x00], 0, gp), // mov rax, fs:[rbp]
    ];
    for (code, rbx, want) in cases {
        let mut cpu = cpu_with(code);
        cpu.set_gpr(Gpr::Rbp, nc);
        cpu.set_gpr(Gpr::Rbx, rbx);
        let exit = cpu.run(RunLimit::default());
        assert_eq!(exit, Exit::Exception(want), "{code:02x?}");
    }
}

#[test]
fn blocks_follow_direct_jumps_and_still_stop_exactly() {
    // 0: jmp +3 ; 2: int3 ; 3: nop (skipped) ... layout:
    // CODE+0: eb 02        jmp CODE+4
    // CODE+2: 90 90        (never executed)
    // CODE+4: b0 07        mov al, 7
    // CODE+6: e8 01 00 00 00  call CODE+0xc
    // CODE+0xb: cc         int3
    // CODE+0xc: b3 09      mov bl, 9
    // CODE+0xe: c3         ret
    let code = [
        0xeb, 0x02, 0x90, 0x90, 0xb0, 0x07, 0xe8, 0x01, 0, 0, 0, 0xcc, 0xb3, 0x09, 0xc3,
    ];
    let mut cpu = cpu_with(&code);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    assert_eq!((cpu.gpr(Gpr::Rax) & 0xff, cpu.gpr(Gpr::Rbx) & 0xff), (7, 9));
    assert_eq!(cpu.instructions_retired(), 6);
    // A stop address reached only through the followed call stops exactly there.
    let mut cpu = cpu_with(&code);
    let exit = cpu.run(RunLimit {
        max_instructions: u64::MAX,
        stop_at: Some(CODE + 0xe),
    });
    assert_eq!(
        (exit, cpu.rip(), cpu.instructions_retired()),
        (Exit::StopAddress, CODE + 0xe, 4)
    );
}

#[test]
fn rdssp_is_a_nop_without_cet() {
    // xor eax, eax ; rdsspq rax ; int3 -- libgcc's unwinder probes for a shadow stack so.
    let mut cpu = cpu_with(&[0x31, 0xc0, 0xf3, 0x48, 0x0f, 0x1e, 0xc8, 0xcc]);
    assert_eq!(cpu.run(RunLimit::default()), Exit::Breakpoint);
    assert_eq!(cpu.gpr(Gpr::Rax), 0);
}
