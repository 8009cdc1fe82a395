//! The real kernel image booted on the machine: the end-to-end proof that the image,
//! its entry code and the loader agree.

use emu_abi::boot::BootInfo;
use emu_abi::ports::DebugExit;
use emu_core::devices::SharedBuffer;
use emu_core::guest_images::KERNEL;
use emu_core::loader::BootParams;
use emu_core::{HostStreams, Machine, MachineExit};

#[test]
fn kernel_image_boots_and_without_a_program_exits_127() {
    let log = SharedBuffer::new();
    let streams = HostStreams {
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
        stdin: Box::new(std::io::empty()),
        kernel_log: Box::new(log.clone()),
    };
    let params = BootParams {
        kernel: KERNEL,
        initramfs: b"",
        argv: &[],
        envp: &[],
        info: BootInfo::new(),
    };
    let mut machine = Machine::new(32 << 20, &params, streams).expect("the kernel image loads");

    let exit = machine.run(1_000_000);

    // Empty argv: the whole boot runs (tables, paging, heap, timer, initramfs), then
    // there is nothing to execute: status 127 as a shell reports "not found".
    assert_eq!(
        exit,
        MachineExit::Guest(DebugExit::Exited(127)),
        "kernel log: {:?}, rip {:#x}",
        log.text(),
        machine.cpu().rip()
    );
    let text = log.text();
    assert!(text.starts_with("lockstep kernel: booted\n"), "{text}");
    assert!(text.contains("no program to run (empty argv)"), "{text}");
}
