//! [`Platform`]: everything the kernel's logic needs from the machine, so that the logic
//! runs unchanged in the kernel binary (ports, MSRs, the direct map) and in host tests
//! (a fake RAM and recorded I/O).

use crate::mm::PhysMem;

/// The machine as the kernel logic sees it.
pub trait Platform: PhysMem {
    /// Writes `len` bytes at physical `pa` to host stream `stream` (1 stdout, 2 stderr)
    /// through the host-I/O device; returns the count or a negative errno.
    fn host_write(&mut self, stream: u32, pa: u64, len: u64) -> i64;
    /// Reads up to `len` bytes of host stdin into physical `pa`; 0 is end of input.
    fn host_read(&mut self, pa: u64, len: u64) -> i64;
    /// The time-stamp counter (virtual cycles since the machine started).
    fn tsc(&mut self) -> u64;
    /// Appends bytes to the kernel log (the serial console).
    fn log(&mut self, bytes: &[u8]);
    /// Sets the user's FS base (takes effect on the return to user mode).
    fn set_fs_base(&mut self, base: u64);
    /// Sets the user's GS base (takes effect on the return to user mode).
    fn set_gs_base(&mut self, base: u64);
    /// Waits (halting, with the timer armed) until the TSC reaches `deadline`.
    fn sleep_until(&mut self, deadline: u64);
    /// Free and total page frames of the machine.
    fn frame_counts(&mut self) -> (u64, u64) {
        (0, 0)
    }
}

/// A recording platform for host tests.
#[cfg(test)]
pub mod fake {
    use super::*;
    use crate::mm::fake::FakeRam;
    use crate::mm::FrameAccess;
    use std::vec::Vec;

    /// FakeRam plus captured host streams and a manual clock.
    #[derive(Debug)]
    pub struct FakePlatform {
        /// The RAM and frame pool.
        pub ram: FakeRam,
        /// What the program wrote to stdout.
        pub stdout: Vec<u8>,
        /// What the program wrote to stderr.
        pub stderr: Vec<u8>,
        /// Remaining stdin.
        pub stdin: Vec<u8>,
        /// Kernel log.
        pub log: Vec<u8>,
        /// The TSC.
        pub tsc: u64,
        /// Last FS base set.
        pub fs_base: u64,
        /// Last GS base set.
        pub gs_base: u64,
    }

    impl FakePlatform {
        /// `mib` MiB of fake RAM.
        pub fn new(mib: usize) -> Self {
            FakePlatform {
                ram: FakeRam::new(mib),
                stdout: Vec::new(),
                stderr: Vec::new(),
                stdin: Vec::new(),
                log: Vec::new(),
                tsc: 1_000_000,
                fs_base: 0,
                gs_base: 0,
            }
        }
    }

    impl FrameAccess for FakePlatform {
        fn frame(&mut self, pa: u64) -> &mut [u8; 4096] {
            self.ram.frame(pa)
        }
    }

    impl PhysMem for FakePlatform {
        fn alloc_frame(&mut self) -> Option<u64> {
            self.ram.alloc_frame()
        }
        fn free_frame(&mut self, pa: u64) {
            self.ram.free_frame(pa);
        }
        fn flush_page(&mut self, va: u64) {
            self.ram.flush_page(va);
        }
    }

    impl Platform for FakePlatform {
        fn host_write(&mut self, stream: u32, pa: u64, len: u64) -> i64 {
            let data = self.ram.ram[pa as usize..(pa + len) as usize].to_vec();
            match stream {
                1 => self.stdout.extend_from_slice(&data),
                2 => self.stderr.extend_from_slice(&data),
                _ => return -9,
            }
            len as i64
        }
        fn host_read(&mut self, pa: u64, len: u64) -> i64 {
            let n = (len as usize).min(self.stdin.len());
            let data: Vec<u8> = self.stdin.drain(..n).collect();
            self.ram.ram[pa as usize..pa as usize + n].copy_from_slice(&data);
            n as i64
        }
        fn tsc(&mut self) -> u64 {
            self.tsc += 100;
            self.tsc
        }
        fn log(&mut self, bytes: &[u8]) {
            self.log.extend_from_slice(bytes);
        }
        fn set_fs_base(&mut self, base: u64) {
            self.fs_base = base;
        }
        fn set_gs_base(&mut self, base: u64) {
            self.gs_base = base;
        }
        fn sleep_until(&mut self, deadline: u64) {
            self.tsc = self.tsc.max(deadline);
        }
    }
}
