//! The real kernel image booted on the machine: the end-to-end proof that the image,
//! its entry code and the loader agree.

use emu_abi::boot::BootInfo;
use emu_abi::ports::DebugExit;
use emu_core::devices::SharedBuffer;
use emu_core::guest_images::KERNEL;
use emu_core::loader::BootParams;
use emu_core::{HostStreams, Machine, MachineExit};

#[test]
#[ignore = "needs cld and rep stosb (the flag and string families of the int-b branch); passes with int-b merged"]
fn kernel_image_boots_prints_banner_and_exits_zero() {
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

    assert_eq!(
        exit,
        MachineExit::Guest(DebugExit::Exited(0)),
        "kernel log: {:?}, rip {:#x}",
        log.text(),
        machine.cpu().rip()
    );
    assert_eq!(log.text(), "lockstep kernel: booted\n");
}
