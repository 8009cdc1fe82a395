//! `lockstep run`: checks the program, packs the initramfs, builds the boot
//! parameters and the machine, runs it, and turns the end of the run into an
//! exit status and at most one line on stderr.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use emu_abi::boot::{BootInfo, VsyscallMode};
use emu_abi::timekeeping::TSC_HZ;
use emu_core::loader::BootParams;
use emu_core::{HostStreams, Machine};

use crate::gdb_listen::{self, DebuggedEnd, GdbListenError};
use crate::kernel_log::KernelLog;
use crate::options::RunArgs;
use crate::outcome::{self, Context, STATUS_INTERNAL};
use crate::trace::TraceFile;
use crate::{kernel, program, rootfs};

/// Exit status of a usage error.
const STATUS_USAGE: u8 = 2;
/// Exit status when gdb killed the program: 128 + SIGKILL, as a shell reports it.
const STATUS_KILLED_BY_GDB: u8 = 128 + 9;
/// Kernel log verbosity: fixed, so that `-v` does not change the run.
const KERNEL_LOG_LEVEL: u32 = 1;

/// Prints `lockstep: MESSAGE` on stderr.
fn report(message: &str) {
    let _ = writeln!(std::io::stderr(), "lockstep: {message}");
}

/// Runs the command; returns the exit status.
pub fn run(args: &RunArgs) -> u8 {
    // clap guarantees at least one value (PROGRAM).
    let Some((program_arg, program_args)) = args.command.split_first() else {
        report("no PROGRAM given");
        return STATUS_USAGE;
    };
    let shown = program_arg.to_string_lossy().into_owned();
    let program = match program::load(program_arg) {
        Ok(p) => p,
        Err(e) => {
            report(&e.to_string());
            return e.status();
        }
    };

    let guest_path = rootfs::program_guest_path(&program.file_name);
    let mtime = u32::try_from(args.epoch.max(0)).unwrap_or(u32::MAX);
    let initramfs = match rootfs::build(
        &program.host_path,
        &guest_path,
        &program.image,
        &args.file,
        &args.dir,
        mtime,
    ) {
        Ok(archive) => archive,
        Err(e) => {
            report(&e.to_string());
            return STATUS_USAGE;
        }
    };
    drop(program.image);

    let argv0 = args
        .argv0
        .as_ref()
        .map_or_else(|| guest_path.clone(), |a| a.as_bytes().to_vec());
    let argv: Vec<Vec<u8>> = std::iter::once(argv0)
        .chain(program_args.iter().map(|a| a.as_bytes().to_vec()))
        .collect();
    let envp = args.environment();

    let mut info = BootInfo::new();
    info.seed = args.seed;
    info.epoch_secs = args.epoch;
    info.epoch_nsec = 0;
    info.tsc_hz = TSC_HZ;
    info.vsyscall_mode = VsyscallMode::from(args.vsyscall) as u32;
    info.aslr = u32::from(!args.no_aslr);
    info.log_level = KERNEL_LOG_LEVEL;
    let params = BootParams {
        kernel: kernel::image(),
        initramfs: &initramfs,
        argv: &argv,
        envp: &envp,
        info,
    };

    let log = match KernelLog::new(args.verbose, args.kernel_log.as_deref()) {
        Ok(log) => log,
        Err(e) => {
            let path = args
                .kernel_log
                .as_deref()
                .unwrap_or(std::path::Path::new(""));
            report(&format!("--kernel-log {}: {e}", path.display()));
            return STATUS_USAGE;
        }
    };
    let trace = match args.trace.as_deref().map(TraceFile::create).transpose() {
        Ok(trace) => trace,
        Err(e) => {
            let path = args.trace.as_deref().unwrap_or(std::path::Path::new(""));
            report(&format!("--trace {}: {e}", path.display()));
            return STATUS_USAGE;
        }
    };
    let streams = HostStreams {
        stdout: Box::new(std::io::stdout()),
        stderr: Box::new(std::io::stderr()),
        stdin: Box::new(std::io::stdin()),
        kernel_log: Box::new(log.clone()),
    };
    let mut machine = match Machine::new(args.memory, &params, streams) {
        Ok(m) => m,
        Err(e) => {
            report(&format!("cannot start the machine: {e}"));
            return STATUS_INTERNAL;
        }
    };
    drop(initramfs);
    if let Some(t) = &trace {
        machine.cpu_mut().set_tracer(Some(Box::new(t.clone())));
    }

    let max_instructions = args.max_instructions.unwrap_or(u64::MAX);
    let exit = match args.gdb {
        None => machine.run(max_instructions),
        Some(addr) => {
            let announce = |local| {
                report(&format!(
                    "waiting for gdb on {local} (in gdb: target remote {local})"
                ));
            };
            match gdb_listen::debug(&mut machine, addr, max_instructions, announce) {
                Ok(DebuggedEnd::Machine(exit)) => exit,
                Ok(DebuggedEnd::KilledByGdb) => {
                    let _ = log.finish();
                    report(&format!("{shown} killed by gdb"));
                    return STATUS_KILLED_BY_GDB;
                }
                Err(e @ GdbListenError::Listen { .. }) => {
                    report(&e.to_string());
                    return STATUS_USAGE;
                }
                Err(e) => {
                    let _ = log.finish();
                    report(&e.to_string());
                    return STATUS_INTERNAL;
                }
            }
        }
    };
    let instructions = machine.cpu().instructions_retired();
    let _ = std::io::stdout().flush();

    let mut status = None;
    if let Err(e) = log.finish() {
        let path = args
            .kernel_log
            .as_deref()
            .unwrap_or(std::path::Path::new(""));
        report(&format!("--kernel-log {}: {e}", path.display()));
        status = Some(STATUS_INTERNAL);
    }
    if let Some(t) = &trace {
        let summary = format!("{exit:?} after {instructions} instructions");
        if let Err(e) = t.finish(&summary) {
            let path = args.trace.as_deref().unwrap_or(std::path::Path::new(""));
            report(&format!("--trace {}: {e}", path.display()));
            status = Some(STATUS_INTERNAL);
        }
    }
    if args.verbose {
        report(&format!(
            "the run ended ({exit:?}) after {instructions} instructions"
        ));
    }
    let last_line = log.last_line();
    let outcome = outcome::outcome(
        exit,
        Context {
            program: &shown,
            max_instructions,
            instructions,
            last_log_line: last_line.as_deref(),
        },
    );
    if let Some(message) = &outcome.message {
        report(message);
    }
    status.unwrap_or(outcome.status)
}
