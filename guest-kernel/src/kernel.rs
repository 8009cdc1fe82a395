//! [`Kernel`]: the whole kernel state (file system, generator, the process) over a
//! [`Platform`], with the three entry points the kernel binary calls: [`Kernel::boot`]
//! (unpack the initramfs, exec the first program), [`Kernel::syscall`] and
//! [`Kernel::user_trap`].

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use emu_abi::ports::DebugExit;

use crate::errno::{Errno, SysResult};
use crate::exec::loader::{self, ExecSpec, Loaded};
use crate::fs::initramfs;
use crate::fs::node::{Node, Timespec};
use crate::fs::{Ino, Vfs, ROOT_INO};
use crate::mm::vma::FileBytes;
use crate::platform::Platform;
use crate::process::{
    default_rlimits, oflag, FdTable, FileKind, OpenFile, Process, SigAction, NSIG,
};
use crate::rng::Rng;
use crate::trapframe::TrapFrame;

/// Boot parameters from `BootInfo` and the CPU.
#[derive(Debug, Clone, Copy)]
pub struct BootConfig {
    /// Seed of all guest-visible randomness.
    pub seed: u64,
    /// Randomize address-space layouts.
    pub aslr: bool,
    /// Wall-clock time at TSC 0.
    pub epoch: Timespec,
    /// TSC frequency.
    pub tsc_hz: u64,
    /// CPUID.1:EDX (AT_HWCAP).
    pub hwcap: u64,
    /// The kernel's page-table root.
    pub kernel_root: u64,
    /// RAM size in bytes.
    pub ram_size: u64,
    /// Kernel log verbosity (0: only warnings and errors).
    pub log_level: u32,
    /// Timer ticks per second (coarse clock resolution).
    pub hz: u64,
    /// `emu_abi::boot::VsyscallMode` as u32.
    pub vsyscall_mode: u32,
    /// What CPUID says about the CPU (/proc/cpuinfo).
    pub cpu: CpuIdent,
}

/// The CPUID values /proc/cpuinfo shows.
#[derive(Debug, Clone, Copy)]
pub struct CpuIdent {
    /// Vendor string (leaf 0).
    pub vendor: [u8; 12],
    /// Brand string (leaves 0x80000002..4).
    pub brand: [u8; 48],
    /// Leaf 1 EAX (family, model, stepping).
    pub signature: u32,
    /// Leaf 1 ECX.
    pub leaf1_ecx: u32,
    /// Leaf 1 EDX.
    pub leaf1_edx: u32,
    /// Leaf 7 EBX.
    pub leaf7_ebx: u32,
    /// Leaf 0x80000001 ECX.
    pub ext1_ecx: u32,
    /// Leaf 0x80000001 EDX.
    pub ext1_edx: u32,
}

impl Default for CpuIdent {
    fn default() -> Self {
        CpuIdent {
            vendor: [0; 12],
            brand: [0; 48],
            signature: 0,
            leaf1_ecx: 0,
            leaf1_edx: 0,
            leaf7_ebx: 0,
            ext1_ecx: 0,
            ext1_edx: 0,
        }
    }
}

/// What the kernel binary does after a syscall or trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Return to the program.
    Continue,
    /// End the run (write the exit port).
    Exit(DebugExit),
}

/// The kernel.
#[derive(Debug)]
pub struct Kernel<P: Platform> {
    /// The machine.
    pub p: P,
    /// Boot parameters.
    pub cfg: BootConfig,
    /// The file system.
    pub vfs: Vfs,
    /// The generator.
    pub rng: Rng,
    /// The process.
    pub proc: Process,
    /// Set by a syscall that ends the run (a fatal signal sent to itself).
    pub pending_exit: Option<DebugExit>,
}

/// Appends a formatted line to the kernel log of kernel `$k` (borrows only `$k.p`).
#[macro_export]
macro_rules! klog {
    ($k:expr, $($arg:tt)*) => {
        $crate::kernel::log_line(&mut $k.p, $k.cfg.tsc_hz, format_args!($($arg)*))
    };
}

/// Writes formatted kernel-log text to the platform.
struct LogWriter<'a, P: Platform>(&'a mut P);

impl<P: Platform> Write for LogWriter<'_, P> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.log(s.as_bytes());
        Ok(())
    }
}

/// Appends one line to the kernel log, prefixed with the virtual time like Linux's
/// printk (`[seconds.microseconds]`).
pub fn log_line<P: Platform>(p: &mut P, tsc_hz: u64, args: fmt::Arguments<'_>) {
    let ns = ns_of(p.tsc(), tsc_hz);
    let mut w = LogWriter(p);
    let _ = write!(
        w,
        "[{:5}.{:06}] ",
        ns / 1_000_000_000,
        ns % 1_000_000_000 / 1000
    );
    let _ = w.write_fmt(args);
    let _ = w.write_str("\n");
}

/// Nanoseconds of `tsc` cycles at `tsc_hz`.
pub fn ns_of(tsc: u64, tsc_hz: u64) -> u64 {
    (u128::from(tsc) * 1_000_000_000 / u128::from(tsc_hz.max(1))) as u64
}

/// Why the first program did not start: the exit status the run ends with.
fn exec_failure_status(e: Errno) -> u8 {
    if e == Errno::ENOENT || e == Errno::ENOTDIR {
        127
    } else {
        126
    }
}

/// The paths the kernel tries for the first program, in order: /init (Linux's
/// initramfs convention; `lockstep run` makes it a link to the program, whatever
/// `argv[0]` says), then `argv[0]` as a path if it contains a slash, else /bin/`argv[0]`, and
/// /bin/ plus `argv[0]`'s base name.
pub fn first_program_candidates(argv0: &[u8]) -> Vec<Vec<u8>> {
    let base = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    let mut bin = b"/bin/".to_vec();
    bin.extend_from_slice(base);
    let mut out = alloc::vec![b"/init".to_vec()];
    if argv0.contains(&b'/') {
        out.push(argv0.to_vec());
    }
    out.push(bin);
    out
}

impl<P: Platform> Kernel<P> {
    /// Unpacks the initramfs, creates the standard nodes and starts the first program
    /// with `argv`/`envp`. Returns the kernel and the program's initial user frame, or
    /// the exit the run must end with.
    pub fn boot(
        mut p: P,
        cfg: BootConfig,
        initramfs: &'static [u8],
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
    ) -> Result<(Self, TrapFrame), DebugExit> {
        let now = epoch_now(&mut p, &cfg);
        let mut vfs = Vfs::new(now);
        match initramfs::unpack(&mut vfs, initramfs) {
            Ok(n) => {
                if cfg.log_level > 0 {
                    log_line(&mut p, cfg.tsc_hz, format_args!("initramfs: {n} entries"));
                }
            }
            Err(e) => {
                log_line(
                    &mut p,
                    cfg.tsc_hz,
                    format_args!("initramfs: unpacking failed: {e:?}"),
                );
                return Err(DebugExit::BootFailed(3));
            }
        }
        if vfs.populate_standard(now).is_err() {
            log_line(
                &mut p,
                cfg.tsc_hz,
                format_args!("cannot create /dev, /tmp, /proc"),
            );
            return Err(DebugExit::BootFailed(4));
        }
        let mut rng = Rng::new(cfg.seed);
        let Some(argv0) = argv.first().cloned() else {
            log_line(
                &mut p,
                cfg.tsc_hz,
                format_args!("no program to run (empty argv)"),
            );
            return Err(DebugExit::Exited(127));
        };
        let mut last = Errno::ENOENT;
        let mut found = None;
        for path in first_program_candidates(&argv0) {
            match load_program(&mut p, &vfs, &mut rng, &cfg, ROOT_INO, &path, &argv, &envp) {
                Ok(l) => {
                    found = Some((path, l));
                    break;
                }
                Err(e) => {
                    last = e;
                    if e != Errno::ENOENT {
                        break;
                    }
                }
            }
        }
        let Some((path, (loaded, exe))) = found else {
            let name = core::str::from_utf8(&argv0).unwrap_or("?");
            log_line(
                &mut p,
                cfg.tsc_hz,
                format_args!("cannot execute {name}: {last:?}"),
            );
            return Err(DebugExit::Exited(exec_failure_status(last)));
        };
        let _ = path;
        let start_tsc = p.tsc();
        let mut proc = Process {
            pid: 1,
            aspace: loaded.aspace,
            fds: FdTable::default(),
            cwd: ROOT_INO,
            umask: 0o022,
            exe: exe.clone(),
            comm: comm_of(&exe),
            auxv: loaded.stack.auxv.clone(),
            args: (loaded.stack.arg_start, loaded.stack.arg_end),
            env: (loaded.stack.arg_end, loaded.stack.env_end),
            actions: [SigAction::default(); NSIG],
            sigmask: 0,
            altstack: (0, 2, 0),
            clear_child_tid: 0,
            robust_list: (0, 0),
            fs_base: 0,
            gs_base: 0,
            rlimits: default_rlimits(),
            start_tsc,
            personality: 0,
        };
        let std_files = [
            (FileKind::HostIn, oflag::O_RDONLY),
            (FileKind::HostOut(1), oflag::O_WRONLY),
            (FileKind::HostOut(2), oflag::O_WRONLY),
        ];
        for (kind, flags) in std_files {
            let f = Rc::new(core::cell::RefCell::new(OpenFile {
                kind,
                flags: flags | oflag::O_LARGEFILE,
                offset: 0,
                path: Rc::from("pipe:"),
            }));
            if proc.fds.alloc(f, 0, false, 3).is_err() {
                return Err(DebugExit::BootFailed(5));
            }
        }
        let frame = TrapFrame::user_entry(loaded.entry, loaded.stack.sp);
        let mut k = Kernel {
            p,
            cfg,
            vfs,
            rng,
            proc,
            pending_exit: None,
        };
        k.set_exe_link();
        if k.cfg.log_level > 0 {
            let name = core::str::from_utf8(&exe).unwrap_or("?");
            let (entry, sp) = (loaded.entry, loaded.stack.sp);
            klog!(k, "exec {name}: entry {entry:#x} sp {sp:#x}");
        }
        Ok((k, frame))
    }

    /// Points /proc/self/exe at the process's executable.
    fn set_exe_link(&mut self) {
        let now = self.wall_time();
        if let Ok(dir) = self.vfs.resolve(ROOT_INO, b"/proc/self", true) {
            let exe = self.proc.exe.clone();
            let _ = self.vfs.set_symlink(dir, b"exe", &exe, now);
        }
    }

    /// Appends a line to the kernel log.
    pub fn log(&mut self, args: fmt::Arguments<'_>) {
        log_line(&mut self.p, self.cfg.tsc_hz, args);
    }

    /// Nanoseconds since the machine started.
    pub fn uptime_ns(&mut self) -> u64 {
        let tsc = self.p.tsc();
        ns_of(tsc, self.cfg.tsc_hz)
    }

    /// The wall-clock time now (CLOCK_REALTIME).
    pub fn wall_time(&mut self) -> Timespec {
        epoch_now(&mut self.p, &self.cfg)
    }

    /// The process's command name as text.
    pub fn comm(&self) -> &str {
        core::str::from_utf8(&self.proc.comm).unwrap_or("?")
    }
}

/// CLOCK_REALTIME at the platform's current TSC.
pub fn epoch_now<P: Platform>(p: &mut P, cfg: &BootConfig) -> Timespec {
    let ns = ns_of(p.tsc(), cfg.tsc_hz) + cfg.epoch.nsec as u64;
    Timespec {
        sec: cfg.epoch.sec + (ns / 1_000_000_000) as i64,
        nsec: (ns % 1_000_000_000) as i64,
    }
}

/// The base name of `path`, at most 15 bytes (TASK_COMM_LEN - 1).
pub fn comm_of(path: &[u8]) -> Vec<u8> {
    let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    base[..base.len().min(15)].to_vec()
}

/// Resolves and loads a program for exec: returns the loaded image and the absolute
/// path of the executable.
#[allow(clippy::too_many_arguments)]
pub fn load_program<P: Platform>(
    p: &mut P,
    vfs: &Vfs,
    rng: &mut Rng,
    cfg: &BootConfig,
    cwd: Ino,
    path: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
) -> SysResult<(Loaded, Vec<u8>)> {
    let ino = vfs.resolve(cwd, path, true)?;
    let inode = vfs.inode(ino)?;
    let bytes = match &inode.node {
        Node::File(c) => match c {
            crate::fs::Content::Static(s) => FileBytes::Static(s),
            crate::fs::Content::Owned(v) => FileBytes::Shared(Rc::from(v.as_slice())),
        },
        Node::Dir { .. } => return Err(Errno::EACCES),
        _ => return Err(Errno::EACCES),
    };
    if inode.perm & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    let abs = vfs.realpath(cwd, path)?;
    let abs_str: Rc<str> = Rc::from(core::str::from_utf8(&abs).unwrap_or("?"));
    let spec = ExecSpec {
        file: bytes,
        inode: ino,
        path: abs_str,
        execfn: path,
        argv,
        envp,
        aslr: cfg.aslr,
        hwcap: cfg.hwcap,
        kernel_root: cfg.kernel_root,
    };
    let loaded = loader::load(p, rng, &spec).map_err(|e| e.errno())?;
    Ok((loaded, abs))
}

/// `path` made absolute against directory `cwd` (lexically: `.` and `..` folded).
pub fn absolute_path(vfs: &Vfs, cwd: Ino, path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let base;
    if path.first() != Some(&b'/') {
        base = vfs.path_of(cwd).unwrap_or_else(|| b"/".to_vec());
        parts.extend(base.split(|&b| b == b'/').filter(|c| !c.is_empty()));
    }
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}
