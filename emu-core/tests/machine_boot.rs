//! Boots synthetic kernels (hand-assembled, wrapped in a minimal ELF64) on
//! the machine: loader, boot page tables, BootInfo, COM1, host I/O, the exit
//! port and deadlock detection.

use emu_abi::boot::{BootInfo, BOOT_MAGIC};
use emu_abi::hostio::{HOSTIO, OP_WRITE, STREAM_STDOUT};
use emu_abi::layout::KERNEL_VIRT_BASE;
use emu_abi::ports::{DebugExit, COM1, DEBUG_EXIT};
use emu_core::devices::SharedBuffer as Shared;
use emu_core::loader::BootParams;
use emu_core::{HostStreams, Machine, MachineExit};
use iced_x86::code_asm::*;

/// A minimal ELF64 ET_EXEC with one RWX PT_LOAD of `code` at `vaddr`.
fn tiny_elf(vaddr: u64, code: &[u8]) -> Vec<u8> {
    let mut e = vec![0u8; 64 + 56];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 2;
    e[5] = 1;
    e[6] = 1;
    e[16..18].copy_from_slice(&2u16.to_le_bytes());
    e[18..20].copy_from_slice(&62u16.to_le_bytes());
    e[24..32].copy_from_slice(&vaddr.to_le_bytes());
    e[32..40].copy_from_slice(&64u64.to_le_bytes());
    e[52..54].copy_from_slice(&64u16.to_le_bytes());
    e[54..56].copy_from_slice(&56u16.to_le_bytes());
    e[56..58].copy_from_slice(&1u16.to_le_bytes());
    let ph = &mut e[64..120];
    ph[0..4].copy_from_slice(&1u32.to_le_bytes());
    ph[4..8].copy_from_slice(&7u32.to_le_bytes());
    ph[8..16].copy_from_slice(&120u64.to_le_bytes());
    ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
    ph[24..32].copy_from_slice(&vaddr.wrapping_sub(0xffff_ffff_8000_0000).to_le_bytes());
    ph[32..40].copy_from_slice(&(code.len() as u64).to_le_bytes());
    ph[40..48].copy_from_slice(&(code.len() as u64 + 0x1000).to_le_bytes());
    e.extend_from_slice(code);
    e
}

fn boot(kernel: &[u8]) -> (Machine, Shared, Shared) {
    let (out, log) = (Shared::default(), Shared::default());
    let streams = HostStreams {
        stdout: Box::new(out.clone()),
        stderr: Box::new(std::io::sink()),
        stdin: Box::new(std::io::empty()),
        kernel_log: Box::new(log.clone()),
    };
    let argv = vec![b"prog".to_vec(), b"arg1".to_vec()];
    let params = BootParams {
        kernel,
        initramfs: b"070701",
        argv: &argv,
        envp: &[],
        info: BootInfo::new(),
    };
    let m = Machine::new(32 << 20, &params, streams).unwrap();
    (m, out, log)
}

#[test]
fn kernel_reads_boot_info_writes_console_and_stdout_and_exits() {
    let mut a = CodeAssembler::new(64).unwrap();
    let mut bad = a.create_label();
    // BootInfo magic through the identity map (RDI = its physical address).
    a.mov(rax, qword_ptr(rdi)).unwrap();
    a.mov(rbx, BOOT_MAGIC).unwrap();
    a.cmp(rax, rbx).unwrap();
    a.jne(bad).unwrap();
    // argc must be 2.
    a.cmp(qword_ptr(rdi + 80), 2).unwrap();
    a.jne(bad).unwrap();
    // "ok\n" on COM1.
    a.mov(dx, COM1.0 as u32).unwrap();
    for &b in b"ok\n" {
        a.mov(al, b as u32).unwrap();
        a.out(dx, al).unwrap();
    }
    // A host-I/O write of the argv blob ("prog\0arg1\0", 10 bytes) to stdout.
    a.mov(rsi, qword_ptr(rdi + 64)).unwrap();
    a.mov(dword_ptr(0x1000u64), OP_WRITE).unwrap();
    a.mov(dword_ptr(0x1004u64), STREAM_STDOUT).unwrap();
    a.mov(qword_ptr(0x1008u64), rsi).unwrap();
    a.mov(qword_ptr(0x1010u64), 10).unwrap();
    a.mov(dx, HOSTIO.0 as u32).unwrap();
    a.mov(eax, 0x1000u32).unwrap();
    a.out(dx, eax).unwrap();
    // Exit with status 7.
    a.mov(dx, DEBUG_EXIT.0 as u32).unwrap();
    a.mov(eax, DebugExit::Exited(7).encode()).unwrap();
    a.out(dx, eax).unwrap();
    a.set_label(&mut bad).unwrap();
    a.mov(dx, DEBUG_EXIT.0 as u32).unwrap();
    a.mov(eax, DebugExit::Exited(99).encode()).unwrap();
    a.out(dx, eax).unwrap();
    let code = a.assemble(KERNEL_VIRT_BASE).unwrap();

    let (mut m, out, log) = boot(&tiny_elf(KERNEL_VIRT_BASE, &code));
    assert_eq!(m.run(1_000_000), MachineExit::Guest(DebugExit::Exited(7)));
    assert_eq!(log.text(), "ok\n");
    assert_eq!(&out.contents()[..], b"prog\0arg1\0");
    // Deterministic count: every instruction up to and including the exit `out`.
    assert_eq!(m.cpu().instructions_retired(), 24);
}

#[test]
fn halt_with_interrupts_off_is_a_deadlock_and_budget_is_enforced() {
    let mut a = CodeAssembler::new(64).unwrap();
    a.hlt().unwrap();
    let code = a.assemble(KERNEL_VIRT_BASE).unwrap();
    let (mut m, _, _) = boot(&tiny_elf(KERNEL_VIRT_BASE, &code));
    assert_eq!(m.run(1000), MachineExit::Deadlock);

    let mut a = CodeAssembler::new(64).unwrap();
    let mut spin = a.create_label();
    a.set_label(&mut spin).unwrap();
    a.jmp(spin).unwrap();
    let code = a.assemble(KERNEL_VIRT_BASE).unwrap();
    let (mut m, _, _) = boot(&tiny_elf(KERNEL_VIRT_BASE, &code));
    assert_eq!(m.run(5000), MachineExit::InstructionLimit);
    assert_eq!(m.cpu().instructions_retired(), 5000);
}

#[test]
fn corrupt_kernel_images_are_load_errors_not_panics() {
    let streams = || HostStreams {
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
        stdin: Box::new(std::io::empty()),
        kernel_log: Box::new(std::io::sink()),
    };
    let good = tiny_elf(KERNEL_VIRT_BASE, &[0xf4]);
    for len in [0, 4, 20, 63, 64, 100, 119] {
        let params = BootParams {
            kernel: &good[..len],
            ..BootParams::default()
        };
        assert!(
            Machine::new(8 << 20, &params, streams()).is_err(),
            "len {len}"
        );
    }
    let low = tiny_elf(0x40_0000, &[0xf4]);
    let params = BootParams {
        kernel: &low,
        ..BootParams::default()
    };
    let err = Machine::new(8 << 20, &params, streams()).unwrap_err();
    assert!(
        err.to_string().contains("outside the kernel window"),
        "{err}"
    );
}

/// A kernel whose timer interrupt fires every 997 cycles while a loop runs:
/// returns (interrupts taken, sum of the TSC read in each handler, retired).
fn timer_kernel_run(chunk: u64) -> (u64, u64, u64) {
    use emu_abi::timekeeping::{IA32_TSC_DEADLINE, LVT_TSC_DEADLINE, X2APIC_LVT_TIMER};
    const TABLES: u64 = 0x10_0000; // GDT at +0, IDT at +0x1000, pointers at +0x2000
    let mut a = CodeAssembler::new(64).unwrap();
    let mut handler = a.create_label();
    let mut spin = a.create_label();
    a.lgdt(ptr(TABLES + 0x2000)).unwrap();
    a.lidt(ptr(TABLES + 0x2010)).unwrap();
    a.mov(rsp, 0x9_0000u64).unwrap();
    a.mov(ecx, X2APIC_LVT_TIMER).unwrap();
    a.mov(eax, LVT_TSC_DEADLINE | 0x20).unwrap();
    a.xor(edx, edx).unwrap();
    a.wrmsr().unwrap();
    a.mov(ecx, IA32_TSC_DEADLINE).unwrap();
    a.mov(eax, 500u32).unwrap();
    a.wrmsr().unwrap();
    a.xor(eax, eax).unwrap();
    a.sti().unwrap();
    a.set_label(&mut spin).unwrap();
    a.inc(rax).unwrap();
    a.cmp(rax, 20_000).unwrap();
    a.jne(spin).unwrap();
    a.cli().unwrap();
    a.mov(dx, DEBUG_EXIT.0 as u32).unwrap();
    a.mov(eax, DebugExit::Exited(0).encode()).unwrap();
    a.out(dx, eax).unwrap();
    a.set_label(&mut handler).unwrap();
    a.push(rax).unwrap();
    a.push(rdx).unwrap();
    a.push(rcx).unwrap();
    a.inc(r15).unwrap();
    a.rdtsc().unwrap();
    a.add(r14, rax).unwrap();
    a.add(eax, 997u32).unwrap();
    a.mov(ecx, IA32_TSC_DEADLINE).unwrap();
    a.wrmsr().unwrap();
    a.pop(rcx).unwrap();
    a.pop(rdx).unwrap();
    a.pop(rax).unwrap();
    a.iretq().unwrap();
    let result = a
        .assemble_options(
            KERNEL_VIRT_BASE,
            iced_x86::BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )
        .unwrap();
    let handler_at = result.label_ip(&handler).unwrap();
    let code = result.inner.code_buffer;
    let (mut m, _, _) = boot(&tiny_elf(KERNEL_VIRT_BASE, &code));

    // GDT: null, kernel CS 0x08 (64-bit), DS 0x10; IDT vector 0x20 -> handler.
    let cpu = m.cpu_mut();
    let gdt: [u64; 3] = [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff];
    let bytes: Vec<u8> = gdt.iter().flat_map(|q| q.to_le_bytes()).collect();
    cpu.write_virt(TABLES, &bytes).unwrap();
    let lo =
        (handler_at & 0xffff) | (0x08 << 16) | (0x8e << 40) | (((handler_at >> 16) & 0xffff) << 48);
    let mut gate = lo.to_le_bytes().to_vec();
    gate.extend_from_slice(&(handler_at >> 32).to_le_bytes());
    cpu.write_virt(TABLES + 0x1000 + 0x20 * 16, &gate).unwrap();
    let mut ptrs = vec![];
    ptrs.extend_from_slice(&23u16.to_le_bytes());
    ptrs.extend_from_slice(&TABLES.to_le_bytes());
    ptrs.extend_from_slice(&[0; 6]);
    ptrs.extend_from_slice(&0xfffu16.to_le_bytes());
    ptrs.extend_from_slice(&(TABLES + 0x1000).to_le_bytes());
    cpu.write_virt(TABLES + 0x2000, &ptrs).unwrap();

    loop {
        match m.run(chunk) {
            MachineExit::InstructionLimit => continue,
            MachineExit::Guest(DebugExit::Exited(0)) => break,
            other => panic!("unexpected exit {other:?}"),
        }
    }
    let c = m.cpu().core();
    (c.gpr[15], c.gpr[14], m.cpu().instructions_retired())
}

#[test]
fn timer_interrupts_land_on_the_same_instruction_however_the_run_is_split() {
    let whole = timer_kernel_run(u64::MAX);
    assert!(whole.0 > 50, "the timer fired {} times", whole.0);
    for chunk in [1, 7, 1000, 4096] {
        assert_eq!(timer_kernel_run(chunk), whole, "run in chunks of {chunk}");
    }
}

#[test]
fn rep_outsb_streams_a_string_to_com1_and_lmsw_clts_edit_cr0() {
    let mut a = CodeAssembler::new(64).unwrap();
    a.mov(esi, 0x1000u32).unwrap();
    a.mov(ecx, 4u32).unwrap();
    a.mov(dx, COM1.0 as u32).unwrap();
    a.rep().outsb().unwrap();
    // Set TS with lmsw (keeping PE), then clear it with clts; report CR0 bit 3 twice.
    a.mov(rax, cr0).unwrap();
    a.or(eax, 8).unwrap();
    a.lmsw(ax).unwrap();
    a.mov(rbx, cr0).unwrap();
    a.clts().unwrap();
    a.mov(rcx, cr0).unwrap();
    a.shr(rbx, 3).unwrap();
    a.and(ebx, 1).unwrap();
    a.shr(rcx, 3).unwrap();
    a.and(ecx, 1).unwrap();
    a.lea(eax, ptr(rbx + rcx * 2)).unwrap(); // 1 = TS set then cleared
    a.mov(dx, DEBUG_EXIT.0 as u32).unwrap();
    a.out(dx, eax).unwrap();
    let code = a.assemble(KERNEL_VIRT_BASE).unwrap();
    let (mut m, _, log) = boot(&tiny_elf(KERNEL_VIRT_BASE, &code));
    m.cpu_mut().write_virt(0x1000, b"hey\n").unwrap();
    assert_eq!(m.run(10_000), MachineExit::Guest(DebugExit::Exited(1)));
    assert_eq!(log.text(), "hey\n");
    assert_eq!(
        m.cpu().core().gpr[6],
        0x1004,
        "RSI advanced by the four bytes"
    );
}
