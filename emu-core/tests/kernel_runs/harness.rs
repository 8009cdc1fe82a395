//! Test plumbing: a minimal cpio newc writer, compiling C with `gcc -static`, running
//! a binary natively and under lockstep (kernel image + initramfs + BootInfo).

use std::path::{Path, PathBuf};
use std::process::Command;

use emu_abi::boot::BootInfo;
use emu_abi::ports::DebugExit;
use emu_core::devices::SharedBuffer;
use emu_core::guest_images::KERNEL;
use emu_core::loader::BootParams;
use emu_core::{HostStreams, Machine, MachineExit};

/// Appends one newc member (Linux's initramfs buffer format).
pub fn newc_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, data: &[u8]) {
    let fields = [
        ino,
        mode,
        0,
        0,
        1,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for v in fields {
        out.extend_from_slice(format!("{v:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// The initramfs `lockstep run` builds: the program at /bin/<name>, /init linked to it
/// (the kernel executes /init whatever argv[0] says), plus /proc, /dev, /tmp.
pub fn initramfs(name: &str, program: &[u8], extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut a = Vec::new();
    newc_entry(&mut a, 1, "bin", 0o040755, b"");
    newc_entry(&mut a, 2, "proc", 0o040555, b"");
    newc_entry(&mut a, 3, "dev", 0o040755, b"");
    newc_entry(&mut a, 4, "tmp", 0o041777, b"");
    newc_entry(&mut a, 5, &format!("bin/{name}"), 0o100755, program);
    newc_entry(
        &mut a,
        6,
        "init",
        0o120777,
        format!("/bin/{name}").as_bytes(),
    );
    for (i, (path, data)) in extra.iter().enumerate() {
        newc_entry(&mut a, 7 + i as u32, path, 0o100644, data);
    }
    newc_entry(&mut a, 0, "TRAILER!!!", 0, b"");
    a
}

/// A scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lockstep-kernel-runs-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Compiles `source` with `gcc -static` (plus `flags`) into `dir/name`; `None` (after a
/// message) when the host cannot build static programs.
pub fn compile(dir: &Path, name: &str, source: &str, flags: &[&str]) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).expect("write C source");
    let out = dir.join(name);
    let result = Command::new("gcc")
        .args(["-O1", "-w"])
        .args(flags)
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output();
    match result {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => {
            eprintln!(
                "skipped: gcc could not build {name} ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("skipped: no gcc on this host ({e})");
            None
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Exit status, or 128 + signal.
    pub status: i32,
}

/// Runs `path` natively with `args` (argv[0] = `argv0`) and exactly `env`, in `cwd`.
pub fn run_native(
    path: &Path,
    argv0: &str,
    args: &[&str],
    env: &[(&str, &str)],
    cwd: &Path,
) -> Outcome {
    run_native_with(path, argv0, args, env, cwd, b"")
}

/// [`run_native`] with `stdin` piped in.
pub fn run_native_with(
    path: &Path,
    argv0: &str,
    args: &[&str],
    env: &[(&str, &str)],
    cwd: &Path,
    stdin: &[u8],
) -> Outcome {
    use std::io::Write as _;
    use std::os::unix::process::CommandExt;
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(path)
        .arg0(argv0)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run natively");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait for the native run");
    let status = match out.status.code() {
        Some(c) => c,
        None => 128 + out.status.signal().unwrap_or(0),
    };
    Outcome {
        stdout: out.stdout,
        status,
    }
}

/// A lockstep run.
#[derive(Debug)]
pub struct GuestRun {
    /// Output and status.
    pub outcome: Outcome,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// The kernel log (COM1).
    pub log: String,
    /// Instructions retired in the whole run.
    pub instructions: u64,
    /// How the machine stopped.
    pub exit: MachineExit,
}

/// Guest RAM for the runs (the CLI's default).
pub const RAM: u64 = 512 << 20;

/// The BootInfo template of the runs.
pub fn boot_info(seed: u64) -> BootInfo {
    let mut info = BootInfo::new();
    info.seed = seed;
    info.epoch_secs = 1_700_000_000;
    info.tsc_hz = emu_abi::timekeeping::TSC_HZ;
    info
}

/// Extra inputs of a guest run: files next to the program and stdin.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inputs<'a> {
    /// Files (path without the leading slash, content).
    pub files: &'a [(&'a str, &'a [u8])],
    /// The program's stdin.
    pub stdin: &'a [u8],
}

/// Boots the kernel with `program` at /bin/<name> and runs it with `argv`/`env`.
pub fn boot(
    name: &str,
    program: &[u8],
    argv: &[&str],
    env: &[(&str, &str)],
    info: BootInfo,
) -> (Machine, SharedBuffer, SharedBuffer, SharedBuffer) {
    boot_with(name, program, argv, env, info, Inputs::default())
}

/// [`boot`] with extra files and stdin.
pub fn boot_with(
    name: &str,
    program: &[u8],
    argv: &[&str],
    env: &[(&str, &str)],
    info: BootInfo,
    inputs: Inputs<'_>,
) -> (Machine, SharedBuffer, SharedBuffer, SharedBuffer) {
    let (out, err, log) = (
        SharedBuffer::new(),
        SharedBuffer::new(),
        SharedBuffer::new(),
    );
    let streams = HostStreams {
        stdout: Box::new(out.clone()),
        stderr: Box::new(err.clone()),
        stdin: Box::new(std::io::Cursor::new(inputs.stdin.to_vec())),
        kernel_log: Box::new(log.clone()),
    };
    let initramfs = initramfs(name, program, inputs.files);
    let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    let envp: Vec<Vec<u8>> = env
        .iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect();
    let params = BootParams {
        kernel: KERNEL,
        initramfs: &initramfs,
        argv: &argv,
        envp: &envp,
        info,
    };
    let machine = Machine::new(RAM, &params, streams).expect("the kernel loads");
    (machine, out, err, log)
}

/// Runs `program` under lockstep to its end (or the instruction limit).
pub fn run_guest(
    name: &str,
    program: &[u8],
    argv: &[&str],
    env: &[(&str, &str)],
    info: BootInfo,
) -> GuestRun {
    run_guest_with(name, program, argv, env, info, Inputs::default())
}

/// [`run_guest`] with extra files and stdin.
pub fn run_guest_with(
    name: &str,
    program: &[u8],
    argv: &[&str],
    env: &[(&str, &str)],
    info: BootInfo,
    inputs: Inputs<'_>,
) -> GuestRun {
    let (mut m, out, err, log) = boot_with(name, program, argv, env, info, inputs);
    let exit = m.run(2_000_000_000);
    let status = match exit {
        MachineExit::Guest(DebugExit::Exited(s)) => i32::from(s),
        MachineExit::Guest(DebugExit::Killed(s)) => 128 + i32::from(s),
        other => -1 - (format!("{other:?}").len() as i32),
    };
    GuestRun {
        outcome: Outcome {
            stdout: out.contents(),
            status,
        },
        stderr: err.contents(),
        log: log.text(),
        instructions: m.cpu().instructions_retired(),
        exit,
    }
}

/// Runs `program` natively and under lockstep with the same argv and environment and
/// asserts identical stdout and status; returns the guest run.
pub fn same_as_native(
    dir: &Path,
    name: &str,
    path: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> GuestRun {
    let program = std::fs::read(path).expect("read the program");
    let native = run_native(path, name, args, env, dir);
    let mut argv = vec![name];
    argv.extend_from_slice(args);
    let guest = run_guest(name, &program, &argv, env, boot_info(1));
    assert_eq!(
        String::from_utf8_lossy(&guest.outcome.stdout),
        String::from_utf8_lossy(&native.stdout),
        "stdout differs; guest exit {:?}, kernel log:\n{}\nstderr: {}",
        guest.exit,
        guest.log,
        String::from_utf8_lossy(&guest.stderr)
    );
    assert_eq!(
        guest.outcome.status, native.status,
        "status differs; exit {:?}, kernel log:\n{}",
        guest.exit, guest.log
    );
    guest
}
