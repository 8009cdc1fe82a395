//! `HwPlatform`: the kernel logic's `Platform` on the real (emulated) machine: the
//! direct map and frame pool (`kmem`), the host-I/O device, the TSC, COM1, the FS/GS
//! base MSRs and the timer.
#![allow(unsafe_code)] // the host-I/O request block is a static the device writes

use core::cell::UnsafeCell;

use emu_abi::hostio::{HostIoRequest, HOSTIO, OP_READ, OP_WRITE};
use guest_kernel::console::Serial;
use guest_kernel::mm::{FrameAccess, PhysMem};
use guest_kernel::platform::Platform;

use crate::arch::{cpu, timer};
use crate::kmem::{direct_frame, KernelMem};
use emu_abi::layout::KERNEL_VIRT_OFFSET;

/// The request block: in the kernel image, so below 4 GiB physically, 32-byte aligned.
#[repr(C, align(32))]
struct RequestBlock(UnsafeCell<HostIoRequest>);

// SAFETY: one CPU; only `transfer` touches it, never re-entrantly.
unsafe impl Sync for RequestBlock {}

static REQUEST: RequestBlock = RequestBlock(UnsafeCell::new(HostIoRequest {
    op: 0,
    stream: 0,
    buf: 0,
    len: 0,
    result: 0,
}));

/// One host-I/O transfer of `len` bytes at physical `pa`.
fn transfer(op: u32, stream: u32, pa: u64, len: u64) -> i64 {
    let req = REQUEST.0.get();
    // SAFETY: the block is only used here, one request at a time; the device writes
    // `result` during the `out`, which `outl_dma` orders as a memory access.
    unsafe {
        req.write_volatile(HostIoRequest {
            op,
            stream,
            buf: pa,
            len,
            result: 0,
        });
        cpu::outl_dma(HOSTIO, (req as u64 - KERNEL_VIRT_OFFSET) as u32);
        core::ptr::addr_of!((*req).result).read_volatile()
    }
}

/// The machine as the kernel logic sees it.
#[derive(Debug, Default)]
pub struct HwPlatform;

impl FrameAccess for HwPlatform {
    fn frame(&mut self, pa: u64) -> &mut [u8; 4096] {
        direct_frame(pa)
    }
}

impl PhysMem for HwPlatform {
    fn alloc_frame(&mut self) -> Option<u64> {
        KernelMem.alloc_frame()
    }
    fn free_frame(&mut self, pa: u64) {
        KernelMem.free_frame(pa);
    }
    fn flush_page(&mut self, va: u64) {
        cpu::invlpg(va);
    }
}

impl Platform for HwPlatform {
    fn host_write(&mut self, stream: u32, pa: u64, len: u64) -> i64 {
        transfer(OP_WRITE, stream, pa, len)
    }
    fn host_read(&mut self, pa: u64, len: u64) -> i64 {
        transfer(OP_READ, emu_abi::hostio::STREAM_STDIN, pa, len)
    }
    fn tsc(&mut self) -> u64 {
        cpu::rdtsc()
    }
    fn log(&mut self, bytes: &[u8]) {
        Serial::com1(cpu::Ports).write_bytes(bytes);
    }
    fn set_fs_base(&mut self, base: u64) {
        cpu::wrmsr(cpu::msr::FS_BASE, base);
    }
    fn set_gs_base(&mut self, base: u64) {
        // In the kernel the user's GS base sits in KERNEL_GS_BASE until swapgs.
        cpu::wrmsr(cpu::msr::KERNEL_GS_BASE, base);
    }
    fn sleep_until(&mut self, deadline: u64) {
        timer::sleep_until(deadline);
    }
    fn frame_counts(&mut self) -> (u64, u64) {
        crate::kmem::frame_counts()
    }
}
