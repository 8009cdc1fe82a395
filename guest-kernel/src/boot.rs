//! The kernel's Rust entry: `kmain`, called by `rt`'s `_start` on the boot stack.
//!
//! Order: read and check `BootInfo` (through the boot identity map), GDT/TSS, IDT,
//! control registers (WP, SMEP, SMAP, PGE, NXE, SCE), frame pool, the kernel's own
//! page tables and stacks, per-CPU area, syscall MSRs, timer, then the kernel logic
//! unpacks the initramfs and loads the first program, and `enter_user` starts it.
//!
//! The first program: /init if it exists (the CLI links it to the program), else
//! `argv[0]` as a path if it contains a slash, else /bin/`argv[0]`, then /bin/<basename>.
//! Not found exits 127, not executable 126, with a kernel-log line.

use alloc::vec::Vec;
use core::fmt::Write;

use emu_abi::boot::{BootInfo, BOOT_MAGIC};
use emu_abi::ports::DebugExit;
use guest_kernel::console::Serial;
use guest_kernel::fs::Timespec;
use guest_kernel::kernel::{BootConfig, CpuIdent, Kernel};
use guest_kernel::trapframe::selector;
use guest_kernel::BOOT_BANNER;

use crate::arch::cpu::{self, msr, Ports};
use crate::arch::{entry, gdt, idt, paging, timer};
use crate::hw::HwPlatform;
use crate::kentry::{exit, KERNEL};
use crate::kmem;

/// Why the kernel refuses to boot (the `DebugExit::BootFailed` byte).
mod reason {
    /// BootInfo magic is wrong.
    pub const BAD_MAGIC: u8 = 1;
    /// BootInfo ABI version differs from the kernel's.
    pub const ABI_MISMATCH: u8 = 2;
}

/// RFLAGS bits cleared on syscall entry (Linux's syscall_init): CF PF AF ZF SF TF IF
/// DF OF IOPL NT RF AC ID.
const SYSCALL_FMASK: u64 = 0x0004_7fd5 | (1 << 21);

/// The kernel's main function. `boot_info_phys` is RDI at entry: the physical address of
/// the BootInfo the emulator wrote, readable through the boot identity map.
pub extern "C" fn kmain(boot_info_phys: u64) -> ! {
    let mut console = Serial::com1(Ports);
    // Writing to the UART cannot fail: `Serial::write_str` always returns Ok.
    let _ = console.write_str(BOOT_BANNER);
    let info: BootInfo = kmem::read_boot_info(boot_info_phys);
    if info.magic != BOOT_MAGIC {
        exit(DebugExit::BootFailed(reason::BAD_MAGIC));
    }
    if info.abi_version != guest_kernel::BUILT_FOR_ABI {
        let _ = writeln!(
            console,
            "boot: BootInfo ABI {} but kernel built for {}",
            info.abi_version,
            guest_kernel::BUILT_FOR_ABI
        );
        exit(DebugExit::BootFailed(reason::ABI_MISMATCH));
    }

    gdt::init();
    idt::init();
    cpu::write_cr0(cpu::read_cr0() | cpu::CR0_WP);
    cpu::write_cr4(cpu::read_cr4() | cpu::CR4_PGE | cpu::CR4_SMEP | cpu::CR4_SMAP);
    cpu::wrmsr(
        msr::EFER,
        cpu::rdmsr(msr::EFER) | cpu::EFER_NXE | cpu::EFER_SCE,
    );

    let reserved_end = info.reserved.phys + info.reserved.len;
    kmem::init_frames(reserved_end, info.ram_size);
    let stacks = paging::init(info.ram_size);
    gdt::set_stacks(
        stacks.kernel,
        &[
            (gdt::ist::DOUBLE_FAULT, stacks.ist[0]),
            (gdt::ist::NMI, stacks.ist[1]),
            (gdt::ist::GENERAL, stacks.ist[2]),
        ],
    );
    entry::init_percpu(stacks.kernel);
    cpu::wrmsr(
        msr::STAR,
        (selector::USER32_CS << 48) | (selector::KERNEL_CS << 32),
    );
    cpu::wrmsr(msr::LSTAR, entry::syscall_entry_addr());
    cpu::wrmsr(msr::FMASK, SYSCALL_FMASK);
    let tsc_hz = if info.tsc_hz == 0 {
        emu_abi::timekeeping::TSC_HZ
    } else {
        info.tsc_hz
    };
    timer::init(tsc_hz);

    let cfg = BootConfig {
        seed: info.seed,
        aslr: info.aslr != 0,
        epoch: Timespec {
            sec: info.epoch_secs,
            nsec: info.epoch_nsec.min(999_999_999) as i64,
        },
        tsc_hz,
        hwcap: u64::from(cpu::cpuid(1, 0)[3]),
        kernel_root: paging::kernel_root(),
        ram_size: info.ram_size,
        log_level: info.log_level,
        hz: timer::HZ,
        vsyscall_mode: info.vsyscall_mode,
        cpu: cpu_ident(),
    };
    let argv = strings(info.argv.phys, info.argv.len, info.argc);
    let envp = strings(info.envp.phys, info.envp.len, info.envc);
    let initramfs = kmem::phys_slice(info.initramfs.phys, info.initramfs.len);
    let (kernel, frame) = match Kernel::boot(HwPlatform, cfg, initramfs, argv, envp) {
        Ok(v) => v,
        Err(e) => exit(e),
    };
    paging::activate(kernel.proc.aspace.root);
    *KERNEL.lock() = Some(kernel);

    // The first frame sits at the top of the kernel stack, where traps build theirs.
    entry::enter_user(stacks.kernel, &frame)
}

/// `count` NUL-terminated strings from the physical blob at `pa`.
fn strings(pa: u64, len: u64, count: u64) -> Vec<Vec<u8>> {
    let blob = kmem::phys_slice(pa, len);
    blob.split(|&b| b == 0)
        .take(count as usize)
        .map(<[u8]>::to_vec)
        .collect()
}

/// What CPUID reports, for /proc/cpuinfo.
fn cpu_ident() -> CpuIdent {
    let mut c = CpuIdent::default();
    let l0 = cpu::cpuid(0, 0);
    for (i, r) in [l0[1], l0[3], l0[2]].iter().enumerate() {
        c.vendor[4 * i..4 * i + 4].copy_from_slice(&r.to_le_bytes());
    }
    let l1 = cpu::cpuid(1, 0);
    c.signature = l1[0];
    c.leaf1_ecx = l1[2];
    c.leaf1_edx = l1[3];
    if l0[0] >= 7 {
        c.leaf7_ebx = cpu::cpuid(7, 0)[1];
    }
    let max_ext = cpu::cpuid(0x8000_0000, 0)[0];
    if max_ext >= 0x8000_0001 {
        let e = cpu::cpuid(0x8000_0001, 0);
        c.ext1_ecx = e[2];
        c.ext1_edx = e[3];
    }
    if max_ext >= 0x8000_0004 {
        for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
            let r = cpu::cpuid(leaf, 0);
            for (j, v) in r.iter().enumerate() {
                let o = 16 * i + 4 * j;
                c.brand[o..o + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    c
}
