//! The Rust side of the entry stubs: `trap_entry` for IDT vectors and `syscall_entry`
//! for `syscall`. Timer interrupts are handled here; user faults and syscalls go to the
//! kernel logic; a fault in kernel mode is a panic with the CPU state.

use emu_abi::ports::DebugExit;
use guest_kernel::console::debug_exit;
use guest_kernel::kernel::{Flow, Kernel};
use guest_kernel::trapframe::TrapFrame;

use crate::arch::cpu::{self, halt_forever, Ports};
use crate::arch::timer;
use crate::hw::HwPlatform;
use crate::sync::KCell;

/// The kernel state, set once the first program is loaded.
pub static KERNEL: KCell<Option<Kernel<HwPlatform>>> = KCell::new(None);

/// Ends the run with `exit`.
pub fn exit(exit: DebugExit) -> ! {
    debug_exit(&mut Ports, exit);
    halt_forever()
}

fn flow(f: Flow) {
    if let Flow::Exit(e) = f {
        exit(e);
    }
}

/// Every IDT vector lands here with the saved state.
pub extern "C" fn trap_entry(frame: &mut TrapFrame) {
    match frame.vector {
        timer::TIMER_VECTOR => return timer::interrupt(),
        timer::SPURIOUS_VECTOR => return,
        _ => {}
    }
    if !frame.from_user() {
        panic!(
            "kernel fault: vector {} error {:#x} at rip {:#x} rsp {:#x} cr2 {:#x} rflags {:#x}",
            frame.vector,
            frame.error,
            frame.rip,
            frame.rsp,
            cpu::read_cr2(),
            frame.rflags
        );
    }
    let cr2 = if frame.vector == 14 {
        cpu::read_cr2()
    } else {
        0
    };
    let mut k = KERNEL.lock();
    let Some(k) = k.as_mut() else {
        panic!("user trap {} before the kernel state exists", frame.vector);
    };
    flow(k.user_trap(frame, cr2));
}

/// The `syscall` instruction lands here with the saved state.
pub extern "C" fn syscall_entry(frame: &mut TrapFrame) {
    let mut k = KERNEL.lock();
    let Some(k) = k.as_mut() else {
        panic!("syscall before the kernel state exists");
    };
    flow(k.syscall(frame));
}
