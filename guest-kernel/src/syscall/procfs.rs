//! Content of the generated /proc files, rendered when opened: /proc/self/maps in
//! Linux's exact format (fs/proc/task_mmu.c show_map_vma), auxv, cmdline, environ,
//! stat, status, comm, and /proc/cpuinfo, meminfo, uptime, version.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::fs::node::ProcFile;
use crate::fs::vfs::FS_DEV;
use crate::kernel::{CpuIdent, Kernel};
use crate::mm::vma::{Backing, Vma, VmaName};
use crate::mm::PhysMem;
use crate::platform::Platform;

/// Renders `f` for the current process.
pub fn generate<P: Platform>(k: &mut Kernel<P>, f: ProcFile) -> Vec<u8> {
    match f {
        ProcFile::Maps => maps(k.proc.aspace.vmas.iter(), k.cfg.vsyscall_mode).into_bytes(),
        ProcFile::Auxv => k
            .proc
            .auxv
            .iter()
            .flat_map(|&(a, b)| a.to_le_bytes().into_iter().chain(b.to_le_bytes()))
            .collect(),
        ProcFile::Cmdline => user_range(k, k.proc.args),
        ProcFile::Environ => user_range(k, k.proc.env),
        ProcFile::Comm => {
            let mut v = k.proc.comm.clone();
            v.push(b'\n');
            v
        }
        ProcFile::Stat => stat(k).into_bytes(),
        ProcFile::Status => status(k).into_bytes(),
        ProcFile::CpuInfo => cpuinfo(&k.cfg.cpu, k.cfg.tsc_hz).into_bytes(),
        ProcFile::MemInfo => {
            let (free, _) = k.p.frame_counts();
            meminfo(k.cfg.ram_size, free * 4096).into_bytes()
        }
        ProcFile::Uptime => {
            let ns = k.uptime_ns();
            let mut s = String::new();
            let (sec, cs) = (ns / 1_000_000_000, ns % 1_000_000_000 / 10_000_000);
            let _ = writeln!(s, "{sec}.{cs:02} {sec}.{cs:02}");
            s.into_bytes()
        }
        ProcFile::Version => {
            let mut s = String::new();
            let _ = writeln!(
                s,
                "Linux version {} (lockstep) {}",
                emu_abi::identity::LINUX_RELEASE,
                super::info::VERSION
            );
            s.into_bytes()
        }
    }
}

fn user_range<P: Platform>(k: &mut Kernel<P>, (start, end): (u64, u64)) -> Vec<u8> {
    let mut v = alloc::vec![0u8; end.saturating_sub(start) as usize];
    if k.proc
        .aspace
        .copy_from_user(&mut k.p, start, &mut v)
        .is_err()
    {
        v.clear();
    }
    v
}

/// One /proc/self/maps line.
fn map_line(
    out: &mut String,
    (start, end): (u64, u64),
    perms: &str,
    offset: u64,
    (dev, inode): ((u32, u32), u64),
    name: &str,
) {
    let before = out.len();
    let _ = write!(
        out,
        "{start:08x}-{end:08x} {perms} {offset:08x} {:02x}:{:02x} {inode}",
        dev.0, dev.1
    );
    // Linux ends the header with a space, then pads named lines to 72 columns and
    // separates the name by one more space (the name starts at column 74).
    out.push(' ');
    if !name.is_empty() {
        let width = out.len() - before;
        for _ in width..72 {
            out.push(' ');
        }
        out.push(' ');
        out.push_str(name);
    }
    out.push('\n');
}

/// /proc/self/maps for the areas in `vmas` plus the vsyscall line of the mode.
pub fn maps<'a>(vmas: impl Iterator<Item = &'a Vma>, vsyscall_mode: u32) -> String {
    let mut out = String::new();
    for v in vmas {
        let perms = [
            if v.prot.has(crate::mm::vma::Prot::READ) {
                'r'
            } else {
                '-'
            },
            if v.prot.has(crate::mm::vma::Prot::WRITE) {
                'w'
            } else {
                '-'
            },
            if v.prot.has(crate::mm::vma::Prot::EXEC) {
                'x'
            } else {
                '-'
            },
            if v.shared { 's' } else { 'p' },
        ];
        let perms: String = perms.iter().collect();
        let (dev, inode) = match &v.backing {
            Backing::File { inode, .. } => (FS_DEV, *inode),
            Backing::Anon => ((0, 0), 0),
        };
        let name = match &v.name {
            VmaName::None => "",
            VmaName::Heap => "[heap]",
            VmaName::Stack => "[stack]",
            VmaName::Path(p) => p,
        };
        map_line(
            &mut out,
            (v.start, v.end),
            &perms,
            v.file_offset(),
            (dev, inode),
            name,
        );
    }
    let vsyscall_perms = match vsyscall_mode {
        0 | 1 => Some("r-xp"),
        2 => Some("--xp"),
        _ => None,
    };
    if let Some(perms) = vsyscall_perms {
        let va = emu_abi::VSYSCALL_ADDR;
        map_line(
            &mut out,
            (va, va + 0x1000),
            perms,
            0,
            ((0, 0), 0),
            "[vsyscall]",
        );
    }
    out
}

fn stat<P: Platform>(k: &mut Kernel<P>) -> String {
    let pid = k.proc.pid;
    let comm = String::from(k.comm());
    let uptime_ticks = k.uptime_ns() / 10_000_000;
    let a = &k.proc.aspace;
    let vsize: u64 = a.vmas.iter().map(|v| v.end - v.start).sum();
    let stack = a
        .vmas
        .iter()
        .find(|v| v.name == VmaName::Stack)
        .map_or(0, |v| v.end);
    let (arg, env) = (k.proc.args, k.proc.env);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{pid} ({comm}) R 0 {pid} {pid} 0 -1 4194560 0 0 0 0 {uptime_ticks} 0 0 0 20 0 1 0 0 {vsize} 0 \
         18446744073709551615 0 0 {stack} 0 0 0 {} 0 0 0 0 0 17 0 0 0 0 0 0 0 0 {} {} {} {} {} 0",
        k.proc.sigmask,
        a.brk_start,
        arg.0,
        arg.1,
        env.0,
        env.1
    );
    s
}

fn status<P: Platform>(k: &mut Kernel<P>) -> String {
    let pid = k.proc.pid;
    let comm = String::from(k.comm());
    let vsize: u64 = k.proc.aspace.vmas.iter().map(|v| v.end - v.start).sum();
    let mut s = String::new();
    let _ = write!(
        s,
        "Name:\t{comm}\nUmask:\t{:04o}\nState:\tR (running)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\n\
         PPid:\t0\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t\n\
         VmPeak:\t{} kB\nVmSize:\t{} kB\nThreads:\t1\nSigQ:\t0/4096\nSigPnd:\t0000000000000000\n\
         ShdPnd:\t0000000000000000\nSigBlk:\t{:016x}\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n\
         Seccomp:\t0\nCpus_allowed:\t1\nCpus_allowed_list:\t0\n",
        k.proc.umask,
        vsize / 1024,
        vsize / 1024,
        k.proc.sigmask
    );
    s
}

/// Feature names of /proc/cpuinfo's flags line, by (register, bit), in Linux's order
/// (arch/x86/include/asm/cpufeatures.h) for the bits lockstep can advertise.
const FLAGS: &[(u8, u32, &str)] = &[
    (0, 0, "fpu"),
    (0, 4, "tsc"),
    (0, 5, "msr"),
    (0, 6, "pae"),
    (0, 8, "cx8"),
    (0, 9, "apic"),
    (0, 11, "sep"),
    (0, 13, "pge"),
    (0, 15, "cmov"),
    (0, 16, "pat"),
    (0, 19, "clflush"),
    (0, 23, "mmx"),
    (0, 24, "fxsr"),
    (0, 25, "sse"),
    (0, 26, "sse2"),
    (2, 11, "syscall"),
    (2, 20, "nx"),
    (2, 27, "rdtscp"),
    (2, 29, "lm"),
    (1, 0, "pni"),
    (1, 1, "pclmulqdq"),
    (1, 9, "ssse3"),
    (1, 12, "fma"),
    (1, 13, "cx16"),
    (1, 19, "sse4_1"),
    (1, 20, "sse4_2"),
    (1, 21, "x2apic"),
    (1, 22, "movbe"),
    (1, 23, "popcnt"),
    (1, 24, "tsc_deadline_timer"),
    (1, 25, "aes"),
    (1, 26, "xsave"),
    (1, 28, "avx"),
    (1, 30, "rdrand"),
    (3, 0, "lahf_lm"),
    (3, 5, "abm"),
    (4, 3, "bmi1"),
    (4, 5, "avx2"),
    (4, 7, "smep"),
    (4, 8, "bmi2"),
    (4, 19, "adx"),
    (4, 20, "smap"),
];

/// /proc/cpuinfo for one CPU.
pub fn cpuinfo(c: &CpuIdent, tsc_hz: u64) -> String {
    let regs = [
        c.leaf1_edx,
        c.leaf1_ecx,
        c.ext1_edx,
        c.ext1_ecx,
        c.leaf7_ebx,
    ];
    let mut flags = String::new();
    for &(r, bit, name) in FLAGS {
        if regs[usize::from(r)] & (1 << bit) != 0 {
            if !flags.is_empty() {
                flags.push(' ');
            }
            flags.push_str(name);
        }
    }
    let text = |b: &[u8]| {
        let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
        String::from(core::str::from_utf8(&b[..end]).unwrap_or("?").trim())
    };
    let sig = c.signature;
    let family = ((sig >> 8) & 0xf)
        + if (sig >> 8) & 0xf == 0xf {
            (sig >> 20) & 0xff
        } else {
            0
        };
    let model = ((sig >> 4) & 0xf)
        | if matches!((sig >> 8) & 0xf, 6 | 0xf) {
            ((sig >> 16) & 0xf) << 4
        } else {
            0
        };
    let mhz = tsc_hz / 1_000_000;
    let mut s = String::new();
    let _ = write!(
        s,
        "processor\t: 0\nvendor_id\t: {}\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: {}\n\
         stepping\t: {}\ncpu MHz\t\t: {mhz}.000\ncache size\t: 0 KB\nphysical id\t: 0\nsiblings\t: 1\n\
         core id\t\t: 0\ncpu cores\t: 1\napicid\t\t: 0\ninitial apicid\t: 0\nfpu\t\t: yes\n\
         fpu_exception\t: yes\ncpuid level\t: 22\nwp\t\t: yes\nflags\t\t: {flags}\nbogomips\t: {}.00\n\
         clflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 40 bits physical, 48 bits virtual\n\
         power management:\n\n",
        text(&c.vendor),
        text(&c.brand),
        sig & 0xf,
        mhz * 2
    );
    s
}

/// /proc/meminfo (in kB).
fn meminfo(ram: u64, free: u64) -> String {
    let kb = ram / 1024;
    let free_kb = free / 1024;
    let mut s = String::new();
    let _ = write!(
        s,
        "MemTotal:       {kb:8} kB\nMemFree:        {:8} kB\nMemAvailable:   {:8} kB\nBuffers:        {:8} kB\n\
         Cached:         {:8} kB\nSwapCached:     {:8} kB\nSwapTotal:      {:8} kB\nSwapFree:       {:8} kB\n",
        free_kb,
        free_kb,
        0,
        0,
        0,
        0,
        0
    );
    s
}

/// Frames the process's pages use (for tests and accounting).
pub fn resident_pages<M: PhysMem>(m: &mut M, root: u64, vmas: &[Vma]) -> u64 {
    let mut n = 0;
    for v in vmas {
        crate::mm::page_table::for_each_leaf(m, root, v.start, v.end, &mut |_, _, _, _| n += 1);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::vma::{FileBytes, Prot};
    use alloc::rc::Rc;

    #[test]
    fn maps_lines_match_linux_format_and_padding() {
        let path: Rc<str> = Rc::from("/tmp/maps_static");
        let file = Vma {
            backing: Backing::File {
                bytes: FileBytes::Static(b""),
                offset: 0x1000,
                zero_from: u64::MAX,
                inode: 10010964,
            },
            ..Vma::anon(0x40_1000, 0x47_9000, Prot(5), VmaName::Path(path))
        };
        let anon = Vma::anon(0x4a_8000, 0x4a_d000, Prot::RW, VmaName::None);
        let heap = Vma::anon(0x4a_d000, 0x4c_f000, Prot::RW, VmaName::Heap);
        let text = maps([file, anon, heap].iter(), 2);
        let lines: Vec<&str> = text.lines().collect();
        // Linux 6.18, `cat /proc/self/maps` of a static program (device numbers differ).
        assert_eq!(
            lines[0],
            "00401000-00479000 r-xp 00001000 00:13 10010964                           /tmp/maps_static"
        );
        assert_eq!(lines[1], "004a8000-004ad000 rw-p 00000000 00:00 0 ");
        assert_eq!(
            lines[2],
            "004ad000-004cf000 rw-p 00000000 00:00 0                                  [heap]"
        );
        assert_eq!(
            lines[3],
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]"
        );
        assert_eq!(lines[0].find('/'), Some(73));
    }
}
