//! Syscall behaviour on a host-booted kernel: a fake platform, a tiny static program
//! in a real newc initramfs, and syscalls issued by filling the trap frame.

use alloc::vec::Vec;

use emu_abi::ports::DebugExit;

use super::nr::*;
use crate::elf::tests::{build, load};
use crate::elf::{ET_EXEC, PF_R, PF_W, PF_X};
use crate::fs::cpio::write_entry;
use crate::fs::Timespec;
use crate::kernel::{BootConfig, CpuIdent, Flow, Kernel};
use crate::platform::fake::FakePlatform;
use crate::trapframe::TrapFrame;

const EPOCH: i64 = 1_700_000_000;

fn config() -> BootConfig {
    BootConfig {
        seed: 42,
        aslr: false,
        epoch: Timespec {
            sec: EPOCH,
            nsec: 0,
        },
        tsc_hz: 1_000_000_000,
        hwcap: 0x178b_fbff,
        kernel_root: 0,
        ram_size: 64 << 20,
        log_level: 0,
        hz: 250,
        vsyscall_mode: 2,
        cpu: CpuIdent::default(),
    }
}

fn initramfs() -> &'static [u8] {
    let prog = build(
        ET_EXEC,
        0x40_1000,
        &[
            load(0, 0x40_0000, 0x1000, 0x1000, PF_R),
            load(0x1000, 0x40_1000, 0x10, 0x10, PF_R | PF_X),
            load(0x2000, 0x40_2000, 0x10, 0x3000, PF_R | PF_W),
        ],
        0x2010,
    );
    let mut a = Vec::new();
    write_entry(&mut a, "bin", 0o040755, b"");
    write_entry(&mut a, "bin/prog", 0o100755, &prog);
    write_entry(
        &mut a,
        "etc/hello.txt",
        0o100644,
        b"hello from the initramfs\n",
    );
    write_entry(&mut a, "TRAILER!!!", 0, b"");
    Box::leak(a.into_boxed_slice())
}

struct Run {
    k: Kernel<FakePlatform>,
    /// A scratch page for syscall arguments.
    buf: u64,
}

fn boot() -> Run {
    let mut p = FakePlatform::new(32);
    let mut cfg = config();
    cfg.kernel_root = crate::mm::PhysMem::alloc_frame(&mut p).unwrap();
    let argv = vec![b"prog".to_vec(), b"one".to_vec()];
    let envp = vec![b"HOME=/".to_vec()];
    let (k, frame) = Kernel::boot(p, cfg, initramfs(), argv, envp).unwrap();
    assert_eq!(frame.rip, 0x40_1000);
    let mut r = Run { k, buf: 0 };
    r.buf = r.sys(SYS_mmap, &[0, 0x4000, 3, 0x22, u64::MAX, 0]) as u64;
    r
}

impl Run {
    fn sys_flow(&mut self, nr: u64, args: &[u64]) -> (i64, Flow) {
        let mut f = TrapFrame::user_entry(0, 0);
        f.rax = nr;
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        (f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9) = (arg(0), arg(1), arg(2), arg(3), arg(4), arg(5));
        let flow = self.k.syscall(&mut f);
        (f.rax as i64, flow)
    }
    fn sys(&mut self, nr: u64, args: &[u64]) -> i64 {
        let (r, flow) = self.sys_flow(nr, args);
        assert_eq!(flow, Flow::Continue, "syscall {nr}");
        r
    }
    fn put(&mut self, off: u64, data: &[u8]) -> u64 {
        let at = self.buf + off;
        self.k
            .proc
            .aspace
            .copy_to_user(&mut self.k.p, at, data)
            .unwrap();
        at
    }
    fn cstr(&mut self, off: u64, s: &str) -> u64 {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.put(off, &v)
    }
    fn get(&mut self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.k
            .proc
            .aspace
            .copy_from_user(&mut self.k.p, addr, &mut v)
            .unwrap();
        v
    }
}

const EFAULT: i64 = -14;
const ENOENT: i64 = -2;
const EBADF: i64 = -9;
const EINVAL: i64 = -22;

#[test]
fn write_to_stdout_and_stderr_reaches_the_host_streams() {
    let mut r = boot();
    let msg = r.put(0, b"hello\n");
    assert_eq!(r.sys(SYS_write, &[1, msg, 6]), 6);
    assert_eq!(r.sys(SYS_write, &[2, msg, 5]), 5);
    assert_eq!(r.k.p.stdout, b"hello\n");
    assert_eq!(r.k.p.stderr, b"hello");
    // writev with two pieces.
    let iov = r.put(
        0x100,
        &[
            msg.to_le_bytes(),
            2u64.to_le_bytes(),
            (msg + 4).to_le_bytes(),
            2u64.to_le_bytes(),
        ]
        .concat(),
    );
    assert_eq!(r.sys(SYS_writev, &[1, iov, 2]), 4);
    assert_eq!(r.k.p.stdout, b"hello\nheo\n");
}

#[test]
fn bad_pointers_and_descriptors_are_errors_not_crashes() {
    let mut r = boot();
    assert_eq!(r.sys(SYS_write, &[1, 0x10, 5]), EFAULT);
    assert_eq!(r.sys(SYS_write, &[1, 0xffff_8880_0000_0000, 5]), EFAULT);
    assert_eq!(r.sys(SYS_uname, &[0]), EFAULT);
    assert_eq!(r.sys(SYS_write, &[99, r.buf, 1]), EBADF);
    assert_eq!(
        r.sys(SYS_read, &[1, r.buf, 1]),
        EBADF,
        "stdout is write-only"
    );
    assert_eq!(r.sys(SYS_open, &[0x1000, 0, 0]), EFAULT);
    assert_eq!(r.sys(SYS_clock_gettime, &[0, u64::MAX - 7]), EFAULT);
    assert_eq!(r.sys(SYS_writev, &[1, r.buf, 5000]), EINVAL);
}

#[test]
fn files_in_the_initramfs_and_tmp_read_write_seek_and_stat() {
    let mut r = boot();
    let path = r.cstr(0, "/etc/hello.txt");
    let fd = r.sys(SYS_open, &[path, 0, 0]);
    assert_eq!(fd, 3);
    let dst = r.buf + 0x800;
    assert_eq!(r.sys(SYS_read, &[3, dst, 5]), 5);
    assert_eq!(r.get(dst, 5), b"hello");
    assert_eq!(r.sys(SYS_lseek, &[3, (-6i64) as u64, 2]), 19);
    assert_eq!(r.sys(SYS_read, &[3, dst, 100]), 6);
    assert_eq!(r.get(dst, 6), b"ramfs\n");
    assert_eq!(r.sys(SYS_read, &[3, dst, 100]), 0);
    assert_eq!(r.sys(SYS_close, &[3]), 0);
    assert_eq!(r.sys(SYS_close, &[3]), EBADF);

    let tmp = r.cstr(0, "/tmp/out");
    let fd = r.sys(SYS_openat, &[(-100i64) as u64, tmp, 0o1101, 0o666]) as u64; // O_WRONLY|O_CREAT|O_TRUNC
    let data = r.put(0x100, b"abcdef");
    assert_eq!(r.sys(SYS_write, &[fd, data, 6]), 6);
    assert_eq!(r.sys(SYS_pwrite64, &[fd, data, 2, 10]), 2);
    let st = r.buf + 0x400;
    assert_eq!(r.sys(SYS_fstat, &[fd, st]), 0);
    let stat = r.get(st, 144);
    assert_eq!(
        u64::from_le_bytes(stat[48..56].try_into().unwrap()),
        12,
        "st_size"
    );
    assert_eq!(
        u32::from_le_bytes(stat[24..28].try_into().unwrap()),
        0o100644,
        "umask 022 applied"
    );
    assert_eq!(
        r.sys(SYS_openat, &[(-100i64) as u64, tmp, 0o301, 0]),
        -17,
        "O_CREAT|O_EXCL"
    );
    assert_eq!(r.sys(SYS_unlink, &[tmp]), 0);
    assert_eq!(r.sys(SYS_stat, &[tmp, st]), ENOENT);
}

#[test]
fn stdout_is_a_fifo_and_not_a_terminal() {
    let mut r = boot();
    let st = r.buf;
    let empty = r.cstr(0x200, "");
    assert_eq!(r.sys(SYS_newfstatat, &[1, empty, st, 0x1000]), 0);
    let mode = u32::from_le_bytes(r.get(st + 24, 4).try_into().unwrap());
    assert_eq!(mode, 0o010600);
    assert_eq!(r.sys(SYS_ioctl, &[1, 0x5401, r.buf]), -25, "TCGETS: ENOTTY");
    assert_eq!(r.sys(SYS_ioctl, &[77, 0x5401, r.buf]), EBADF);
}

#[test]
fn directories_list_create_rename_and_remove() {
    let mut r = boot();
    let d = r.cstr(0, "/tmp/d");
    assert_eq!(r.sys(SYS_mkdir, &[d, 0o755]), 0);
    assert_eq!(r.sys(SYS_mkdir, &[d, 0o755]), -17);
    let f = r.cstr(0x100, "/tmp/d/f");
    let fd = r.sys(SYS_open, &[f, 0o100 | 1, 0o644]) as u64;
    r.sys(SYS_close, &[fd]);
    let g = r.cstr(0x200, "/tmp/d/g");
    assert_eq!(r.sys(SYS_rename, &[f, g]), 0);
    let dfd = r.sys(SYS_open, &[d, 0o200000, 0]) as u64;
    let out = r.buf + 0x1000;
    let n = r.sys(SYS_getdents64, &[dfd, out, 4096]);
    assert_eq!(n, 24 * 3);
    let names: Vec<u8> = r.get(out, n as usize);
    assert_eq!(&names[19..21], b".\0");
    assert_eq!(&names[48 + 19..48 + 21], b"g\0");
    assert_eq!(
        r.sys(SYS_getdents64, &[dfd, out, 4096]),
        0,
        "end of directory"
    );
    assert_eq!(r.sys(SYS_rmdir, &[d]), -39, "ENOTEMPTY");
    assert_eq!(r.sys(SYS_unlink, &[g]), 0);
    assert_eq!(r.sys(SYS_rmdir, &[d]), 0);
    let etc = r.cstr(0x300, "/etc");
    assert_eq!(r.sys(SYS_chdir, &[etc]), 0);
    let cwd = r.buf + 0x2000;
    assert_eq!(r.sys(SYS_getcwd, &[cwd, 100]), 5);
    assert_eq!(r.get(cwd, 5), b"/etc\0");
    assert_eq!(r.sys(SYS_getcwd, &[cwd, 4]), -34, "ERANGE");
}

#[test]
fn proc_self_exe_and_maps_describe_the_process() {
    let mut r = boot();
    let p = r.cstr(0, "/proc/self/exe");
    let out = r.buf + 0x100;
    assert_eq!(r.sys(SYS_readlink, &[p, out, 4096]), 9);
    assert_eq!(r.get(out, 9), b"/bin/prog");
    let maps = r.cstr(0, "/proc/self/maps");
    let fd = r.sys(SYS_open, &[maps, 0, 0]) as u64;
    let n = r.sys(SYS_read, &[fd, out, 3000]) as usize;
    let text = String::from_utf8(r.get(out, n)).unwrap();
    assert!(
        text.starts_with("00400000-00401000 r--p 00000000 00:13 "),
        "{text}"
    );
    assert!(text.contains(" r-xp 00001000 "), "{text}");
    assert!(text.contains("[stack]\n"), "{text}");
    assert!(text.ends_with("[vsyscall]\n"), "{text}");
}

#[test]
fn identity_time_and_randomness_are_deterministic() {
    let mut r = boot();
    assert_eq!(r.sys(SYS_uname, &[r.buf]), 0);
    let u = r.get(r.buf, 390);
    assert_eq!(&u[..6], b"Linux\0");
    assert_eq!(&u[130..144], b"6.1.0-lockstep");
    assert_eq!(r.sys(SYS_getpid, &[]), 1);
    assert_eq!(r.sys(SYS_getuid, &[]), 0);
    let ts = r.buf + 0x100;
    assert_eq!(r.sys(SYS_clock_gettime, &[0, ts]), 0);
    let sec = i64::from_le_bytes(r.get(ts, 8).try_into().unwrap());
    assert_eq!(sec, EPOCH, "epoch plus a few virtual microseconds");
    assert_eq!(r.sys(SYS_clock_gettime, &[99, ts]), EINVAL);
    assert_eq!(r.sys(SYS_getrandom, &[r.buf, 16, 0]), 16);
    let a = r.get(r.buf, 16);
    let mut r2 = boot();
    r2.sys(SYS_getrandom, &[r2.buf, 16, 0]);
    assert_eq!(a, r2.get(r2.buf, 16), "same seed, same bytes");
    assert_eq!(r.sys(SYS_getrandom, &[r.buf, 16, 8]), EINVAL);
}

#[test]
fn arch_prctl_sets_fs_and_rejects_unknown_codes() {
    let mut r = boot();
    assert_eq!(r.sys(SYS_arch_prctl, &[0x1002, 0x1234_5000]), 0);
    assert_eq!(r.k.p.fs_base, 0x1234_5000);
    assert_eq!(r.sys(SYS_arch_prctl, &[0x1003, r.buf]), 0);
    assert_eq!(r.get(r.buf, 8), 0x1234_5000u64.to_le_bytes());
    assert_eq!(r.sys(SYS_arch_prctl, &[0x3001, 0]), EINVAL);
    assert_eq!(r.sys(SYS_arch_prctl, &[0x1002, 0xffff_8000_0000_0000]), -1);
}

#[test]
fn unknown_syscalls_are_enosys_with_one_log_line() {
    let mut r = boot();
    assert_eq!(r.sys(SYS_fork, &[]), -38);
    assert_eq!(r.sys(9999, &[]), -38);
    let log = String::from_utf8(r.k.p.log.clone()).unwrap();
    assert!(
        log.contains("syscall 57 (fork) is not implemented: ENOSYS"),
        "{log}"
    );
    assert!(log.contains("syscall 9999 (unknown)"), "{log}");
    assert_eq!(r.sys(SYS_rseq, &[]), -38);
}

#[test]
fn exit_group_and_fatal_signals_end_the_run() {
    let mut r = boot();
    assert_eq!(
        r.sys_flow(SYS_exit_group, &[3]).1,
        Flow::Exit(DebugExit::Exited(3))
    );
    assert_eq!(
        r.sys_flow(SYS_exit_group, &[256 + 7]).1,
        Flow::Exit(DebugExit::Exited(7))
    );
    assert_eq!(
        r.sys_flow(SYS_tgkill, &[1, 1, 6]).1,
        Flow::Exit(DebugExit::Killed(6))
    );
    assert_eq!(r.sys(SYS_kill, &[1, 0]), 0);
    assert_eq!(r.sys(SYS_kill, &[5, 9]), -3, "ESRCH");
    // An ignored signal does nothing.
    let act = r.put(0, &[1u64.to_le_bytes(), [0; 8], [0; 8], [0; 8]].concat());
    assert_eq!(r.sys(SYS_rt_sigaction, &[6, act, 0, 8]), 0);
    assert_eq!(r.sys(SYS_tgkill, &[1, 1, 6]), 0);
    assert_eq!(r.sys(SYS_rt_sigaction, &[9, act, 0, 8]), EINVAL);
    assert_eq!(r.sys(SYS_rt_sigaction, &[6, act, 0, 4]), EINVAL);
}

#[test]
fn brk_and_mmap_follow_linux() {
    let mut r = boot();
    let start = r.sys(SYS_brk, &[0]) as u64;
    assert_eq!(start, 0x40_5000);
    assert_eq!(r.sys(SYS_brk, &[start + 0xd00]) as u64, start + 0xd00);
    let p = r.put(0, b"x");
    let _ = p;
    r.k.proc
        .aspace
        .copy_to_user(&mut r.k.p, start + 0x10, b"heap")
        .unwrap();
    let m = r.sys(SYS_mmap, &[0, 0x2000, 1, 0x22, u64::MAX, 0]);
    assert!(m > 0);
    assert_eq!(r.sys(SYS_mmap, &[0, 0, 3, 0x22, u64::MAX, 0]), EINVAL);
    assert_eq!(
        r.sys(SYS_mmap, &[0, 0x1000, 3, 0x20, u64::MAX, 0]),
        EINVAL,
        "no type"
    );
    assert_eq!(
        r.sys(SYS_mmap, &[0, 0x1000, 3, 0x22, u64::MAX, 1]),
        EINVAL,
        "offset"
    );
    assert_eq!(r.sys(SYS_mmap, &[0, 0x1000, 3, 0x02, 55, 0]), EBADF);
    assert_eq!(r.sys(SYS_munmap, &[m as u64, 0x2000]), 0);
    assert_eq!(
        r.sys(SYS_mprotect, &[m as u64, 0x1000, 1]),
        -12,
        "ENOMEM for a hole"
    );
}

#[test]
fn user_page_faults_demand_page_or_kill_with_sigsegv() {
    let mut r = boot();
    let mut f = TrapFrame::user_entry(0x40_1000, 0);
    f.vector = 14;
    f.error = 4 | 2;
    assert_eq!(r.k.user_trap(&mut f, r.buf + 0x3000), Flow::Continue);
    assert_eq!(
        r.k.user_trap(&mut f, 0x10),
        Flow::Exit(DebugExit::Killed(11))
    );
    f.vector = 6;
    assert_eq!(r.k.user_trap(&mut f, 0), Flow::Exit(DebugExit::Killed(4)));
    let log = String::from_utf8(r.k.p.log.clone()).unwrap();
    assert!(
        log.contains("prog[1]: segfault at 10 ip 0000000000401000"),
        "{log}"
    );
    assert!(log.contains("trap invalid opcode"), "{log}");
}

#[test]
fn missing_program_exits_127() {
    let mut p = FakePlatform::new(8);
    let mut cfg = config();
    cfg.kernel_root = crate::mm::PhysMem::alloc_frame(&mut p).unwrap();
    let e = Kernel::boot(p, cfg, initramfs(), vec![b"nope".to_vec()], vec![]).unwrap_err();
    assert_eq!(e, DebugExit::Exited(127));
}

/// A deterministic generator for the fuzz tests.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 11
}

#[test]
fn random_syscalls_never_panic_the_kernel() {
    let mut r = boot();
    let mut s = 0x5eed_u64;
    let valid = r.buf;
    let mut implemented = 0;
    for round in 0..60_000u64 {
        // Mostly the classic range, where almost everything is implemented.
        let nr = if round % 4 == 0 {
            lcg(&mut s) % 470
        } else {
            lcg(&mut s) % 335
        };
        if nr == SYS_exit || nr == SYS_exit_group {
            continue;
        }
        let mut args = [0u64; 6];
        for a in &mut args {
            *a = match lcg(&mut s) % 12 {
                0 => 0,
                1 => 1,
                2 => u64::MAX,
                3 => lcg(&mut s) % 64,
                4 => valid + lcg(&mut s) % 0x4000,
                5 => valid + 0x3ff8,
                6 => 0xffff_8880_0000_0000,
                7 => crate::mm::USER_END - 1,
                8 => lcg(&mut s) << 20,
                9 => (-100i64) as u64,
                10 => 0x40_0000 + lcg(&mut s) % 0x6000,
                _ => lcg(&mut s),
            };
        }
        // A string argument now and then, so path syscalls get past EFAULT.
        if round % 3 == 0 {
            let paths = [
                "/tmp/f",
                "/",
                "/dev/zero",
                "/proc/self/maps",
                "/bin/prog",
                "/tmp",
                "x/../y",
                "",
            ];
            let p = paths[(lcg(&mut s) % paths.len() as u64) as usize];
            let mut v = p.as_bytes().to_vec();
            v.push(0);
            let _ = r.k.proc.aspace.copy_to_user(&mut r.k.p, valid, &v);
        }
        let (ret, _) = r.sys_flow(nr, &args);
        if ret != -38 {
            implemented += 1;
        }
        r.k.pending_exit = None;
        // Keep the scratch buffer mapped for the next rounds.
        let _ = r.k.proc.aspace.mmap(
            &mut r.k.p,
            crate::mm::aspace::MmapRequest {
                addr: valid,
                len: 0x4000,
                prot: crate::mm::vma::Prot::RW,
                flags: 0x12 | 0x20,
                backing: crate::mm::vma::Backing::Anon,
                name: crate::mm::vma::VmaName::None,
            },
        );
    }
    assert!(
        implemented > 15_000,
        "only {implemented} calls reached a handler"
    );
}

#[test]
fn mutated_programs_fail_to_exec_without_panics_or_leaks() {
    let good = build(
        ET_EXEC,
        0x40_1000,
        &[
            load(0, 0x40_0000, 0x1000, 0x1000, PF_R),
            load(0x1000, 0x40_1000, 0x10, 0x2000, PF_R | PF_X),
        ],
        0x1010,
    );
    let mut s = 7u64;
    let mut p = FakePlatform::new(16);
    let kernel_root = crate::mm::PhysMem::alloc_frame(&mut p).unwrap();
    for _ in 0..3000 {
        let mut f = good.clone();
        for _ in 0..1 + lcg(&mut s) % 4 {
            let i = (lcg(&mut s) % 128) as usize;
            f[i] = lcg(&mut s) as u8;
        }
        let cut = (lcg(&mut s) % (f.len() as u64 + 1)) as usize;
        f.truncate(cut.max(f.len() * (lcg(&mut s) % 2) as usize));
        let file: &'static [u8] = Box::leak(f.into_boxed_slice());
        let before = p.ram.allocated;
        let spec = crate::exec::loader::ExecSpec {
            file: crate::mm::vma::FileBytes::Static(file),
            inode: 1,
            path: alloc::rc::Rc::from("/x"),
            execfn: b"/x",
            argv: &[b"x".to_vec()],
            envp: &[],
            aslr: true,
            hwcap: 0,
            kernel_root,
        };
        let mut rng = crate::rng::Rng::new(lcg(&mut s));
        if let Ok(l) = crate::exec::loader::load(&mut p, &mut rng, &spec) {
            l.aspace.destroy(&mut p);
        }
        assert_eq!(p.ram.allocated, before, "frames leaked");
    }
}

#[test]
fn quiet_answers_for_xattrs_children_and_personality() {
    let mut r = boot();
    let path = r.cstr(0, "/etc/hello.txt");
    let missing = r.cstr(0x100, "/etc/none");
    assert_eq!(
        r.sys(SYS_lgetxattr, &[path, r.buf + 0x200, r.buf + 0x300, 16]),
        -61
    );
    assert_eq!(
        r.sys(SYS_lgetxattr, &[missing, r.buf + 0x200, r.buf + 0x300, 16]),
        ENOENT
    );
    assert_eq!(r.sys(SYS_listxattr, &[path, r.buf + 0x200, 16]), 0);
    assert_eq!(r.sys(SYS_wait4, &[u64::MAX, 0, 0, 0]), -10, "ECHILD");
    assert_eq!(r.sys(SYS_personality, &[0xffff_ffff]), 0);
    assert_eq!(r.sys(SYS_personality, &[0x40_0000]), 0);
    assert_eq!(r.sys(SYS_personality, &[0xffff_ffff]), 0x40_0000);
    assert!(!String::from_utf8_lossy(&r.k.p.log).contains("ENOSYS"));
}
