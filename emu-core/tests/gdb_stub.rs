//! End-to-end tests of the gdb remote stub.
//!
//! The `gdb_*` tests run the system gdb in batch mode (`gdb -batch -nx -ex
//! ...`) against the stub serving, on a thread, a library-mode CPU or a
//! machine booted into a synthetic kernel, and check gdb's output and the
//! final guest state. They are skipped (with a message) when `gdb` is not
//! installed. The `rsp_*` tests speak the remote protocol directly (Ctrl-C,
//! kill, malformed and hostile packets) and always run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use emu_abi::boot::BootInfo;
use emu_abi::layout::KERNEL_VIRT_BASE;
use emu_abi::ports::{DebugExit, DEBUG_EXIT};
use emu_core::debug::gdb::{self, GdbError, SessionEnd};
use emu_core::debug::{default_exit_event, LibraryDebuggee, StopEvent};
use emu_core::loader::BootParams;
use emu_core::{Cpu, CpuConfig, Exit, Gpr, HostStreams, Machine, MachineExit, Prot};

/// Upper bound for one session (the whole file runs in a few seconds).
const SESSION_TIMEOUT: Duration = Duration::from_secs(20);

fn gdb_available() -> bool {
    let ok = Command::new("gdb")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: `gdb` is not installed (apt-get install gdb); gdb stub test not run");
    }
    ok
}

/// Accepts one connection on `listener` within the session timeout.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + SESSION_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(SESSION_TIMEOUT)).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "gdb never connected");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Runs `gdb -batch -nx` with `cmds` after `target remote` to a stub that
/// `stub` serves on a thread; returns gdb's combined output and `stub`'s result.
fn gdb_session<R: Send + 'static>(
    cmds: &[String],
    stub: impl FnOnce(TcpStream) -> R + Send + 'static,
) -> (String, R) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || stub(accept(&listener)));

    let mut args: Vec<String> = ["-batch", "-nx"].iter().map(|s| s.to_string()).collect();
    let setup = [
        "set pagination off".to_string(),
        "set confirm off".to_string(),
        format!("target remote 127.0.0.1:{port}"),
    ];
    for c in setup.iter().chain(cmds) {
        args.push("-ex".into());
        args.push(c.clone());
    }
    let mut child = Command::new("gdb")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + SESSION_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gdb timed out");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = format!(
        "{}\n--- stderr ---\n{}",
        out_reader.join().unwrap(),
        err_reader.join().unwrap()
    );
    let result = server.join().unwrap();
    (output, result)
}

/// Asserts that `output` contains each of `needles`, in order.
fn assert_in_order(output: &str, needles: &[&str]) {
    let mut rest = output;
    for n in needles {
        match rest.find(n) {
            Some(i) => rest = &rest[i + n.len()..],
            None => panic!("expected {n:?} (in this order) in gdb output:\n{output}"),
        }
    }
}

// ----- library mode ----------------------------------------------------------

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;
const FS_BASE: u64 = 0x7fff_1234_5000;

/// The user program and the addresses of its labelled instructions:
/// `(code, bp, after_store)`.
fn user_program() -> (Vec<u8>, u64, u64) {
    use iced_x86::code_asm::*;
    use iced_x86::BlockEncoderOptions;
    let mut a = CodeAssembler::new(64).unwrap();
    let mut brk = a.create_label();
    let mut after_store = a.create_label();
    a.mov(rax, 1u64).unwrap();
    a.mov(rbx, 2u64).unwrap();
    a.lea(rcx, qword_ptr(rax + rbx)).unwrap();
    a.set_label(&mut brk).unwrap();
    a.add(rax, rcx).unwrap();
    a.mov(qword_ptr(DATA), rax).unwrap();
    a.set_label(&mut after_store).unwrap();
    a.add(rax, qword_ptr(DATA + 8)).unwrap();
    a.mov(rdi, rax).unwrap();
    a.mov(eax, 60u32).unwrap();
    a.syscall().unwrap();
    a.ud2().unwrap();
    let r = a
        .assemble_options(CODE, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)
        .unwrap();
    let brk_ip = r.label_ip(&brk).unwrap();
    let after_store = r.label_ip(&after_store).unwrap();
    (r.inner.code_buffer, brk_ip, after_store)
}

fn user_cpu() -> Cpu {
    let (code, _, _) = user_program();
    let mut cpu = Cpu::new(CpuConfig { ram_size: 4 << 20 }).unwrap();
    cpu.map(CODE, 0x1000, Prot::RX).unwrap();
    cpu.map(DATA, 0x1000, Prot::RW).unwrap();
    cpu.write_virt(CODE, &code).unwrap();
    let pattern: Vec<u8> = [0x1111_1111_1111_1111u64, 0x2222_2222_2222_2222, 3, 4]
        .iter()
        .flat_map(|q| q.to_le_bytes())
        .collect();
    cpu.write_virt(DATA, &pattern).unwrap();
    cpu.set_rip(CODE);
    cpu.set_fs_base(FS_BASE);
    cpu
}

/// Exit status = RDI at `syscall` with RAX = 60; other exits as usual.
fn exit_syscall(cpu: &mut Cpu, exit: Exit) -> Option<StopEvent> {
    if exit == Exit::Syscall && cpu.gpr(Gpr::Rax) == 60 {
        return Some(StopEvent::Exited(cpu.gpr(Gpr::Rdi) as u8));
    }
    default_exit_event(exit)
}

#[test]
fn gdb_debugs_a_library_mode_program() {
    if !gdb_available() {
        return;
    }
    let (_, bp, after_store) = user_program();
    let cr3 = user_cpu().core().mmu.cr3();
    let cmds: Vec<String> = [
        "info registers rip".to_string(),
        "p/x $fs_base".into(),
        "p/x $cr3".into(),
        "p $efer".into(),
        "x/gx 0x1000".into(),
        format!("break *{bp:#x}"),
        "continue".into(),
        "p $rcx".into(),
        "stepi".into(),
        "p $rax".into(),
        format!("x/4gx {DATA:#x}"),
        format!("set var *(long*){:#x} = 10", DATA + 8),
        format!("watch *(long*){DATA:#x}"),
        "continue".into(),
        "p/x $pc".into(),
        "set var $rax = 40".into(),
        "info registers rax".into(),
        "delete".into(),
        "continue".into(),
    ]
    .into();
    let (out, (end, rax, data8, bps)) = gdb_session(&cmds, |stream| {
        let mut cpu = user_cpu();
        let end = gdb::serve(
            &mut LibraryDebuggee::with_handler(&mut cpu, exit_syscall),
            stream,
        );
        let mut q = [0u8; 8];
        cpu.read_virt(DATA + 8, &mut q).unwrap();
        let bps = cpu.breakpoints().len() + cpu.core().watchpoints.len();
        (end, cpu.gpr(Gpr::Rax), u64::from_le_bytes(q), bps)
    });
    assert_in_order(
        &out,
        &[
            &format!("rip            {CODE:#x}"),
            &format!("= {FS_BASE:#x}"),
            &format!("= {cr3:#x}"),
            "= [ SCE LME LMA NXE ]",
            &format!("Breakpoint 1 at {bp:#x}"),
            &format!("Breakpoint 1, {bp:#018x} in ?? ()"),
            "= 3",
            &format!("{:#018x} in ?? ()", bp + 3),
            "= 4",
            &format!("{DATA:#x}:\t0x1111111111111111\t0x2222222222222222"),
            &format!("{:#x}:\t0x0000000000000003\t0x0000000000000004", DATA + 16),
            &format!("Hardware watchpoint 2: *(long*){DATA:#x}"),
            &format!("Hardware watchpoint 2: *(long*){DATA:#x}"),
            "Old value = 1229782938247303441",
            "New value = 4",
            &format!("= {after_store:#x}"),
            "rax            0x28                40",
            // 40 + 10 = 50 = 062 (gdb prints exit codes in octal).
            "[Inferior 1 (process 1) exited with code 062]",
        ],
    );
    assert!(
        out.contains("Cannot access memory at address 0x1000"),
        "unmapped read: {out}"
    );
    assert_eq!(end.unwrap(), SessionEnd::Exited(50));
    assert_eq!((rax, data8), (60, 10));
    assert_eq!(bps, 0, "the session's breakpoints are gone");
}

// ----- system mode: a synthetic kernel on the machine --------------------------

/// A minimal ELF64 ET_EXEC with one RWX PT_LOAD of `code` (plus 4 KiB of
/// zeroed memory after it) at `vaddr`.
fn tiny_elf(vaddr: u64, code: &[u8]) -> Vec<u8> {
    let mut e = vec![0u8; 64 + 56];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 2; // 64-bit
    e[5] = 1; // little-endian
    e[6] = 1; // version
    e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    e[24..32].copy_from_slice(&vaddr.to_le_bytes()); // entry
    e[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
    e[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    e[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
    e[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
    let ph = &mut e[64..120];
    ph[0..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    ph[4..8].copy_from_slice(&7u32.to_le_bytes()); // RWX
    ph[8..16].copy_from_slice(&120u64.to_le_bytes());
    ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
    ph[24..32].copy_from_slice(&vaddr.wrapping_sub(0xffff_ffff_8000_0000).to_le_bytes());
    ph[32..40].copy_from_slice(&(code.len() as u64).to_le_bytes());
    ph[40..48].copy_from_slice(&(code.len() as u64 + 0x1000).to_le_bytes());
    e.extend_from_slice(code);
    e
}

/// Kernel data word (zero at boot), in the same page as the code.
const KDATA: u64 = KERNEL_VIRT_BASE + 0x800;

/// The kernel, the address of its third instruction and of its load from KDATA.
fn kernel_program() -> (Vec<u8>, u64, u64) {
    use iced_x86::code_asm::*;
    use iced_x86::BlockEncoderOptions;
    let mut a = CodeAssembler::new(64).unwrap();
    let mut third = a.create_label();
    let mut load = a.create_label();
    a.mov(rbx, KDATA).unwrap();
    a.mov(eax, 0x11u32).unwrap();
    a.set_label(&mut third).unwrap();
    a.add(rax, 0x22).unwrap();
    a.set_label(&mut load).unwrap();
    a.mov(rcx, qword_ptr(rbx)).unwrap();
    a.add(rax, rcx).unwrap();
    a.and(eax, 0xff).unwrap(); // DebugExit::Exited(al)
    a.mov(dx, DEBUG_EXIT.0 as u32).unwrap();
    a.out(dx, eax).unwrap();
    a.hlt().unwrap();
    let r = a
        .assemble_options(
            KERNEL_VIRT_BASE,
            BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )
        .unwrap();
    let third = r.label_ip(&third).unwrap();
    let load = r.label_ip(&load).unwrap();
    (r.inner.code_buffer, third, load)
}

fn boot_kernel() -> Machine {
    let (code, _, _) = kernel_program();
    boot_elf(&tiny_elf(KERNEL_VIRT_BASE, &code))
}

/// Boots `elf` on a 16 MiB machine (device output discarded).
fn boot_elf(elf: &[u8]) -> Machine {
    let streams = HostStreams {
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
        stdin: Box::new(std::io::empty()),
        kernel_log: Box::new(std::io::sink()),
    };
    let params = BootParams {
        kernel: elf,
        initramfs: b"070701",
        argv: &[],
        envp: &[],
        info: BootInfo::new(),
    };
    Machine::new(16 << 20, &params, streams).unwrap()
}

#[test]
fn gdb_debugs_a_kernel_on_the_machine() {
    if !gdb_available() {
        return;
    }
    let (_, third, load) = kernel_program();
    let cr3 = boot_kernel().cpu().core().mmu.cr3();
    let cmds: Vec<String> = [
        "p/x $cr3".to_string(),
        "p $efer".into(),
        "p $cr0".into(),
        "p $cs".into(),
        "x/2i $pc".into(),
        "stepi".into(),
        "stepi".into(),
        "p/x $rax".into(),
        format!("hbreak *{load:#x}"),
        "continue".into(),
        format!("rwatch *(long*){KDATA:#x}"),
        format!("set var *(long*){KDATA:#x} = 13"),
        "continue".into(),
        "p $rcx".into(),
        "detach".into(),
    ]
    .into();
    let (out, (end, after)) = gdb_session(&cmds, |stream| {
        let mut m = boot_kernel();
        let end = gdb::serve(&mut m, stream);
        // After the detach the kernel runs on, without the watchpoint.
        (end, m.run(1000))
    });
    assert_in_order(
        &out,
        &[
            &format!("= {cr3:#x}"),
            "= [ LME LMA NXE ]",
            "= [ PE MP ET NE WP PG ]",
            "= 8",
            &format!("=> {KERNEL_VIRT_BASE:#x}:\tmovabs $0x{KDATA:x},%rbx"),
            "mov    $0x11,%eax",
            &format!("{third:#018x} in ?? ()"),
            "= 0x11",
            &format!("Hardware assisted breakpoint 1 at {load:#x}"),
            &format!("Breakpoint 1, {load:#018x} in ?? ()"),
            &format!("Hardware read watchpoint 2: *(long*){KDATA:#x}"),
            &format!("Hardware read watchpoint 2: *(long*){KDATA:#x}"),
            "Value = 13",
            "= 13",
            "[Inferior 1 (process 1) detached]",
        ],
    );
    assert_eq!(end.unwrap(), SessionEnd::Detached);
    // 0x11 + 0x22 + 13 = 64.
    assert_eq!(after, MachineExit::Guest(DebugExit::Exited(64)));
}

/// A kernel that arms the APIC timer (vector 0x40, deadline TSC 200) and
/// spins with interrupts enabled (by the host: `sti` is not implemented
/// yet); the handler exits with status 5. Returns
/// the machine (GDT and IDT installed by the host) and the handler address.
fn timer_kernel() -> (Machine, u64) {
    use emu_abi::timekeeping::{IA32_TSC_DEADLINE, LVT_TSC_DEADLINE, X2APIC_LVT_TIMER};
    use emu_core::cpu::system_regs::TableReg;
    use iced_x86::code_asm::*;
    use iced_x86::BlockEncoderOptions;
    let mut a = CodeAssembler::new(64).unwrap();
    let mut spin = a.create_label();
    let mut handler = a.create_label();
    a.mov(ecx, X2APIC_LVT_TIMER).unwrap();
    a.mov(eax, LVT_TSC_DEADLINE | 0x40).unwrap();
    a.xor(edx, edx).unwrap();
    a.wrmsr().unwrap();
    a.mov(ecx, IA32_TSC_DEADLINE).unwrap();
    a.mov(eax, 200u32).unwrap();
    a.wrmsr().unwrap();
    a.set_label(&mut spin).unwrap();
    a.jmp(spin).unwrap();
    a.set_label(&mut handler).unwrap();
    a.mov(eax, DebugExit::Exited(5).encode()).unwrap();
    a.mov(dx, DEBUG_EXIT.0 as u32).unwrap();
    a.out(dx, eax).unwrap();
    a.hlt().unwrap();
    let r = a
        .assemble_options(
            KERNEL_VIRT_BASE,
            BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )
        .unwrap();
    let handler = r.label_ip(&handler).unwrap();
    let mut m = boot_elf(&tiny_elf(KERNEL_VIRT_BASE, &r.inner.code_buffer));
    // GDT (null, 64-bit ring-0 code at 0x08) and a 0x41-entry IDT with an
    // interrupt gate for vector 0x40, in the zeroed memory after the code.
    let gdt = KERNEL_VIRT_BASE + 0x200;
    let idt = KERNEL_VIRT_BASE + 0x300;
    let cpu = m.cpu_mut();
    cpu.write_virt(gdt + 8, &0x00af_9b00_0000_ffffu64.to_le_bytes())
        .unwrap();
    let lo = (handler & 0xffff) | (0x08 << 16) | (0x8e << 40) | (((handler >> 16) & 0xffff) << 48);
    cpu.write_virt(idt + 0x40 * 16, &lo.to_le_bytes()).unwrap();
    cpu.write_virt(idt + 0x40 * 16 + 8, &(handler >> 32).to_le_bytes())
        .unwrap();
    let c = cpu.core_mut();
    c.sys.gdtr = TableReg {
        base: gdt,
        limit: 15,
    };
    c.sys.idtr = TableReg {
        base: idt,
        limit: 0x41 * 16 - 1,
    };
    c.gpr[4] = KERNEL_VIRT_BASE + 0xf00;
    c.flags.set_rflags(0x202);
    (m, handler)
}

#[test]
fn breakpoint_on_an_interrupt_handler_entry_is_hit() {
    use emu_core::debug::Debuggee;
    let (mut m, handler) = timer_kernel();
    m.cpu_mut().set_breakpoints(&[handler]);
    assert_eq!(m.run_for(100_000), Some(StopEvent::Breakpoint));
    assert_eq!(m.cpu().rip(), handler);
    m.cpu_mut().set_breakpoints(&[]);
    assert_eq!(m.run_for(100_000), Some(StopEvent::Exited(5)));
}

// ----- the remote protocol by hand -------------------------------------------

/// A minimal remote-protocol client (ack mode).
struct Rsp(TcpStream);

impl Rsp {
    fn send_raw(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).unwrap();
    }

    fn send(&mut self, body: &str) {
        let sum = body.bytes().fold(0u8, |s, b| s.wrapping_add(b));
        self.send_raw(format!("${body}#{sum:02x}").as_bytes());
    }

    /// The body of the next packet (acks skipped), or `None` on EOF.
    fn recv(&mut self) -> Option<String> {
        let mut byte = [0u8; 1];
        loop {
            if self.0.read(&mut byte).ok()? == 0 {
                return None;
            }
            if byte[0] == b'$' {
                break;
            }
        }
        let mut body = Vec::new();
        loop {
            if self.0.read(&mut byte).ok()? == 0 {
                return None;
            }
            match byte[0] {
                b'#' => break,
                // Run-length encoding: `X*n` is X repeated (n - 29) more times.
                b'*' => {
                    self.0.read_exact(&mut byte).ok()?;
                    let last = *body.last()?;
                    body.extend(std::iter::repeat_n(
                        last,
                        byte[0].saturating_sub(29) as usize,
                    ));
                }
                b => body.push(b),
            }
        }
        let mut sum = [0u8; 2];
        self.0.read_exact(&mut sum).ok()?;
        self.send_raw(b"+");
        Some(String::from_utf8_lossy(&body).into_owned())
    }

    fn ask(&mut self, body: &str) -> String {
        self.send(body);
        self.recv()
            .unwrap_or_else(|| panic!("no reply to {body:?}"))
    }
}

/// A CPU spinning on `jmp $` at CODE.
fn spin_cpu() -> Cpu {
    let mut cpu = Cpu::new(CpuConfig { ram_size: 1 << 20 }).unwrap();
    cpu.map(CODE, 0x1000, Prot::RX).unwrap();
    cpu.write_virt(CODE, &[0xeb, 0xfe]).unwrap();
    cpu.set_rip(CODE);
    cpu
}

#[test]
fn gdb_reads_every_register_writes_checked_ones_and_kills() {
    if !gdb_available() {
        return;
    }
    let cmds: Vec<String> = [
        "info all-registers".to_string(),
        "stepi".into(),
        "set var $xmm1.v2_int64[0] = 7".into(),
        "p $xmm1.uint128".into(),
        "set var $fs_base = 0x1000".into(),
        "set var $k_gs_base = 0x2000".into(),
        "set var $eflags = 0x246".into(),
        "p $eflags".into(),
        // Flag-typed 64-bit registers take a 64-bit value.
        "set var $efer = (long)0xd00".into(),
        "p $efer".into(),
        "set var $cr8 = 16".into(),
        "set var $cr3 = 0x12345000".into(),
        "p/x $cr3".into(),
        // No page tables there any more: the fetch faults.
        "stepi".into(),
        "kill".into(),
    ]
    .into();
    let (out, (end, state)) = gdb_session(&cmds, |stream| {
        let mut cpu = spin_cpu();
        let end = gdb::serve(&mut LibraryDebuggee::new(&mut cpu), stream);
        let c = cpu.core();
        let state = (
            cpu.xmm(1),
            cpu.fs_base(),
            c.seg.kernel_gs_base,
            cpu.rflags(),
            (c.sys.cr8, c.mmu.cr3(), c.mmu.efer()),
            cpu.instructions_retired(),
        );
        (end, state)
    });
    for reg in [
        "st7",
        "fop",
        "xmm15",
        "mxcsr",
        "fs_base",
        "gs_base",
        "k_gs_base",
        "cr2",
        "cr8",
    ] {
        assert!(out.contains(&format!("\n{reg} ")), "{reg} missing:\n{out}");
    }
    assert_in_order(
        &out,
        &[
            &format!("{CODE:#018x} in ?? ()"),
            "= 7",
            "= [ PF ZF IF ]",
            "= [ LME LMA NXE ]",
            "= 0x12345000",
            "Program received signal SIGSEGV, Segmentation fault.",
            "[Inferior 1 (process 1) killed]",
        ],
    );
    assert!(
        out.contains("Could not write register \"cr8\""),
        "cr8 = 16 must be refused:\n{out}"
    );
    assert_eq!(end.unwrap(), SessionEnd::Killed);
    assert_eq!(
        state,
        (7, 0x1000, 0x2000, 0x246, (0, 0x1234_5000, 0xd00), 1)
    );
}

/// How a spin session ended, and the instructions retired.
type SpinResult = (Result<SessionEnd, GdbError>, u64);

/// Serves a CPU spinning on `jmp $` (at CODE) on a thread and connects to it.
fn spin_session() -> (Rsp, std::thread::JoinHandle<SpinResult>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let mut cpu = spin_cpu();
        let end = gdb::serve(&mut LibraryDebuggee::new(&mut cpu), accept(&listener));
        (end, cpu.instructions_retired())
    });
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(SESSION_TIMEOUT)).unwrap();
    (Rsp(stream), server)
}

#[test]
fn rsp_ctrl_c_interrupts_a_running_target_and_kill_ends_the_session() {
    let (mut c, server) = spin_session();
    let stop = c.ask("?");
    assert!(
        stop.starts_with("T05"),
        "stopped before the first instruction: {stop}"
    );
    c.send("c");
    std::thread::sleep(Duration::from_millis(50));
    c.send_raw(&[0x03]);
    assert_eq!(c.recv().unwrap(), "S02", "SIGINT after Ctrl-C");
    // Still spinning on the same instruction.
    assert_eq!(c.ask("p10"), format!("{:016x}", CODE.swap_bytes()));
    c.send("k");
    let (end, retired) = server.join().unwrap();
    assert_eq!(end.unwrap(), SessionEnd::Killed);
    assert!(retired > 0);
}

#[test]
fn rsp_bad_requests_get_error_replies_not_panics() {
    let (mut c, server) = spin_session();
    // Unmapped and non-canonical memory: EFAULT.
    assert_eq!(c.ask("m1000,8"), "E0e");
    assert_eq!(c.ask("mffff800000000000,8"), "E0e");
    assert_eq!(c.ask("M1000,2:9090"), "E0e");
    // A read running off the end of the mapping is cut short.
    assert_eq!(c.ask(&format!("m{:x},4", CODE + 0xffe)), "0000");
    // Unknown register numbers: empty reply; bad sizes and values: EINVAL.
    assert_eq!(c.ask("p999"), "");
    assert_eq!(c.ask("P10=00"), "E16");
    assert_eq!(
        c.ask("P3c=0000000000000000"),
        "E16",
        "cr0 = 0 leaves long mode"
    );
    assert_eq!(c.ask("P0=2a00000000000000"), "OK");
    assert_eq!(c.ask("p0"), "2a00000000000000");
    let g = c.ask("g");
    assert_eq!(g.len(), 2 * 608);
    // Unknown packets are answered with an empty reply.
    assert_eq!(c.ask("qLockstepNoSuchThing"), "");
    // gdbstub treats a G packet of the wrong size as fatal: the session
    // ends with an error (and no register changed).
    c.send("G00");
    let (end, _) = server.join().expect("the stub thread did not panic");
    assert!(matches!(end, Err(GdbError::Protocol(_))), "{end:?}");

    // Garbage, a bad checksum, then a vanished client.
    let (mut c, server) = spin_session();
    c.send_raw(b"\x00\xff garbage");
    c.send_raw(b"$m zz#00");
    drop(c);
    let (end, retired) = server.join().expect("the stub thread did not panic");
    assert!(end.is_err(), "{end:?}");
    assert_eq!(retired, 0);
}
