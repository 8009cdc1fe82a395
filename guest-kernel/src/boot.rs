//! The kernel's Rust entry: `kmain`, called by `rt`'s `_start` on the boot stack.
//!
//! For now it proves the boot path: banner on the console, exit status on the exit port.
//! Later it reads `emu_abi::BootInfo` and runs init in order (gdt, idt, mm, time, syscall,
//! exec of the first program).

use core::fmt::Write;

use emu_abi::ports::DebugExit;
use guest_kernel::console::{debug_exit, Serial};
use guest_kernel::BOOT_BANNER;

use crate::arch::cpu::{halt_forever, Ports};

/// The kernel's main function. `boot_info_phys` is RDI at entry: the physical address of
/// the BootInfo the emulator wrote (unused until BootInfo exists).
pub extern "C" fn kmain(boot_info_phys: u64) -> ! {
    let _ = boot_info_phys;
    let mut console = Serial::com1(Ports);
    // Writing to the UART cannot fail: `Serial::write_str` always returns Ok.
    let _ = console.write_str(BOOT_BANNER);
    debug_exit(&mut console.into_inner(), DebugExit::Exited(0));
    halt_forever()
}
