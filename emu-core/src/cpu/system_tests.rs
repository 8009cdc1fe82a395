//! System-mode tests: a miniature ring-0 "kernel" assembled with iced-x86
//! sets up a GDT, TSS and IDT, drops to CPL 3 with sysret, takes a syscall
//! back, and handles exceptions through IDT gates (frames checked against
//! SDM Vol. 3A 6.14).

use iced_x86::code_asm::*;
use iced_x86::BlockEncoderOptions;

use super::*;

const KCODE: u64 = 0x10_0000;
const UCODE: u64 = 0x40_0000;
const TABLES: u64 = 0x20_0000; // GDT at +0, IDT at +0x1000, TSS at +0x2000
const KSTACK_TOP: u64 = 0x30_0000;
const USTACK_TOP: u64 = 0x7000_0000;
const STAR: u64 = (0x23 << 48) | (0x10 << 32);

fn gate(handler: u64, dpl: u64, ist: u64) -> [u64; 2] {
    let lo = (handler & 0xffff)
        | (0x10 << 16)
        | (ist << 32)
        | ((0x8e | (dpl << 5)) << 40)
        | (((handler >> 16) & 0xffff) << 48);
    [lo, handler >> 32]
}

struct Kernel {
    cpu: Cpu,
    ud_handler: u64,
    ud2_at: u64,
}

/// Builds the machine; `user` assembles the user program at UCODE.
fn boot(user: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>, idt_limit: u16) -> Kernel {
    let mut cpu = Cpu::new(CpuConfig::default()).unwrap();
    cpu.map(KCODE, 0x1000, Prot::RWX).unwrap();
    cpu.map(UCODE, 0x1000, Prot::RX).unwrap();
    cpu.map(TABLES, 0x3000, Prot::RW).unwrap();
    cpu.map(KSTACK_TOP - 0x4000, 0x4000, Prot::RW).unwrap();
    cpu.map(USTACK_TOP - 0x4000, 0x4000, Prot::RW).unwrap();

    // GDT: Linux's layout (kernel CS 0x10, DS 0x18, user DS 0x2b, user CS 0x33, TSS 0x40).
    let tss = TABLES + 0x2000;
    let tss_lo = 0x67 | ((tss & 0xff_ffff) << 16) | (0x89 << 40) | (((tss >> 24) & 0xff) << 56);
    let gdt: [u64; 10] = [
        0,
        0x00cf_9b00_0000_ffff,
        0x00af_9b00_0000_ffff,
        0x00cf_9300_0000_ffff,
        0x00cf_fb00_0000_ffff,
        0x00cf_f300_0000_ffff,
        0x00af_fb00_0000_ffff,
        0,
        tss_lo,
        tss >> 32,
    ];
    let bytes: Vec<u8> = gdt.iter().flat_map(|q| q.to_le_bytes()).collect();
    cpu.write_virt(TABLES, &bytes).unwrap();
    // TSS: RSP0 and IST1.
    cpu.write_virt(tss + 4, &KSTACK_TOP.to_le_bytes()).unwrap();
    cpu.write_virt(tss + 0x24, &(KSTACK_TOP - 0x2000).to_le_bytes())
        .unwrap();

    // User program.
    let mut u = CodeAssembler::new(64).unwrap();
    user(&mut u).unwrap();
    let ucode = u.assemble(UCODE).unwrap();
    cpu.write_virt(UCODE, &ucode).unwrap();
    let ud2_at = UCODE
        + ucode
            .windows(2)
            .position(|w| w == [0x0f, 0x0b])
            .map_or(0, |p| p as u64);

    // Kernel: tables, MSRs, sysret to user; handlers.
    let mut k = CodeAssembler::new(64).unwrap();
    let mut syscall_entry = k.create_label();
    let mut ud_entry = k.create_label();
    let mut user_entry_rip = k.create_label();
    let _ = &mut user_entry_rip;
    k.lgdt(ptr(TABLES + 0x2800)).unwrap();
    k.lidt(ptr(TABLES + 0x2810)).unwrap();
    k.mov(ax, 0x40u32).unwrap();
    k.ltr(ax).unwrap();
    k.mov(ecx, 0xc000_0081u32).unwrap();
    k.mov(eax, STAR as u32).unwrap();
    k.mov(edx, (STAR >> 32) as u32).unwrap();
    k.wrmsr().unwrap();
    k.mov(ecx, 0xc000_0082u32).unwrap();
    k.lea(rax, ptr(syscall_entry)).unwrap();
    k.xor(edx, edx).unwrap(); // the kernel lives below 4 GiB
    k.wrmsr().unwrap();
    k.mov(rcx, UCODE).unwrap();
    k.mov(r11, 0x202u64).unwrap();
    k.mov(rsp, USTACK_TOP).unwrap();
    k.sysretq().unwrap();
    k.set_label(&mut syscall_entry).unwrap();
    k.mov(rax, 1234u64).unwrap();
    k.sysretq().unwrap();
    k.set_label(&mut ud_entry).unwrap();
    k.mov(r12, qword_ptr(rsp)).unwrap();
    k.mov(r13, qword_ptr(rsp + 8)).unwrap();
    k.mov(r14, rsp).unwrap();
    k.hlt().unwrap();
    let result = k
        .assemble_options(KCODE, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)
        .unwrap();
    let kcode = result.inner.code_buffer.clone();
    let ud_handler = result.label_ip(&ud_entry).unwrap();
    cpu.write_virt(KCODE, &kcode).unwrap();

    // Descriptor-table pointers and the IDT: every vector -> ud handler (IST 1 for #DF).
    let mut gdtr = vec![];
    gdtr.extend_from_slice(&((gdt.len() * 8 - 1) as u16).to_le_bytes());
    gdtr.extend_from_slice(&TABLES.to_le_bytes());
    cpu.write_virt(TABLES + 0x2800, &gdtr).unwrap();
    let mut idtr = vec![];
    idtr.extend_from_slice(&idt_limit.to_le_bytes());
    idtr.extend_from_slice(&(TABLES + 0x1000).to_le_bytes());
    cpu.write_virt(TABLES + 0x2810, &idtr).unwrap();
    let mut idt = vec![];
    for v in 0..256u64 {
        let dpl = if v == 3 { 3 } else { 0 };
        let ist = if v == 8 { 1 } else { 0 };
        for q in gate(ud_handler, dpl, ist) {
            idt.extend_from_slice(&q.to_le_bytes());
        }
    }
    cpu.write_virt(TABLES + 0x1000, &idt).unwrap();

    let c = cpu.core_mut();
    c.cpl = 0;
    c.seg.cs = 0x10;
    c.seg.ss = 0x18;
    cpu.set_rip(KCODE);
    cpu.set_rflags(0x2);
    cpu.set_system_mode(true);
    Kernel {
        cpu,
        ud_handler,
        ud2_at,
    }
}

#[test]
fn sysret_syscall_and_exception_frame_follow_the_sdm() {
    let mut k = boot(
        |u| {
            u.mov(eax, 39u32)?;
            u.syscall()?;
            u.mov(rbx, rax)?;
            u.ud2()
        },
        0xfff,
    );
    assert_eq!(k.cpu.run(RunLimit::default()), Exit::Halt);
    let c = k.cpu.core();
    assert_eq!(
        c.gpr[Gpr::Rbx as usize],
        1234,
        "syscall returned through sysret"
    );
    assert_eq!(
        c.gpr[Gpr::R12 as usize],
        k.ud2_at,
        "#UD saves the faulting rip"
    );
    assert_eq!(
        c.gpr[Gpr::R13 as usize],
        0x33,
        "saved CS is the user code selector"
    );
    // Privilege change: stack from TSS.RSP0, frame of 5 quadwords (no error code).
    assert_eq!(c.gpr[Gpr::R14 as usize], KSTACK_TOP - 40);
    assert_eq!((c.cpl, c.seg.cs, c.seg.ss), (0, 0x10, 0));
    let _ = k.ud_handler;
}

#[test]
fn int3_at_cpl3_reaches_a_dpl3_gate_and_int_0x80_faults_on_a_dpl0_gate() {
    let mut k = boot(|u| u.int3(), 0xfff);
    assert_eq!(k.cpu.run(RunLimit::default()), Exit::Halt);
    // int3 is a trap: the saved rip is after it.
    assert_eq!(k.cpu.core().gpr[Gpr::R12 as usize], UCODE + 1);

    let mut k = boot(|u| u.int(0x80), 0xfff);
    assert_eq!(k.cpu.run(RunLimit::default()), Exit::Halt);
    // #GP(0x80 * 8 + 2) with the error code on the stack; saved rip is the int itself.
    let c = k.cpu.core();
    assert_eq!(
        c.gpr[Gpr::R12 as usize],
        0x80 * 8 + 2,
        "error code is on top of the frame"
    );
    assert_eq!(c.gpr[Gpr::R13 as usize], UCODE);
}

#[test]
fn page_fault_sets_cr2_and_pushes_the_error_code() {
    let mut k = boot(|u| u.mov(rax, qword_ptr(0x1234_5678u64)), 0xfff);
    assert_eq!(k.cpu.run(RunLimit::default()), Exit::Halt);
    let c = k.cpu.core();
    assert_eq!(c.sys.cr2, 0x1234_5678);
    assert_eq!(
        c.gpr[Gpr::R12 as usize],
        4,
        "user read of a not-present page"
    );
    assert_eq!(c.gpr[Gpr::R13 as usize], UCODE);
}

#[test]
fn a_fault_with_an_unusable_idt_is_a_triple_fault() {
    let mut k = boot(|u| u.ud2(), 0);
    assert_eq!(k.cpu.run(RunLimit::default()), Exit::TripleFault);
}

#[test]
fn privileged_instructions_fault_at_cpl3() {
    for user in [
        (|u: &mut CodeAssembler| u.mov(rax, cr3))
            as fn(&mut CodeAssembler) -> Result<(), IcedError>,
        |u| u.wrmsr(),
        |u| u.swapgs(),
        |u| u.out(dx, al),
        |u| u.lidt(ptr(rax)),
    ] {
        let mut k = boot(user, 0xfff);
        assert_eq!(k.cpu.run(RunLimit::default()), Exit::Halt);
        let c = k.cpu.core();
        assert_eq!(c.gpr[Gpr::R12 as usize], 0, "#GP(0) error code");
        assert_eq!(
            c.gpr[Gpr::R13 as usize],
            UCODE,
            "saved rip is the faulting instruction"
        );
    }
}
