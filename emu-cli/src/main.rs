//! `lockstep`: the command-line front end of the lockstep emulator.
//!
//! With no arguments it runs the built-in demo (`demo.rs`). `lockstep run
//! PROGRAM [ARGS...]` runs a static Linux x86-64 program on the emulated
//! machine under lockstep's guest kernel (`run.rs`; options in `options.rs`).
//!
//! Modules: `options` (clap and value parsers), `program` (finding and
//! checking the ELF on the host), `rootfs` (the initramfs contents),
//! `kernel` (the kernel image), `kernel_log` (COM1 to stderr/file),
//! `trace` (`--trace`), `gdb_listen` (`--gdb`), `outcome` (exit statuses
//! and reports).

mod demo;
mod gdb_listen;
mod kernel;
mod kernel_log;
mod options;
mod outcome;
mod program;
mod rootfs;
mod run;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// lockstep: a deterministic x86-64 emulator written in Rust.
///
/// Without a subcommand, runs the built-in demo: a small program assembled
/// on the fly runs on the emulated CPU, with a trace of its first
/// instructions, a fault caught precisely, and instruction counts that are
/// identical on every run and every machine.
///
/// `lockstep run PROGRAM [ARGS...]` runs a static Linux x86-64 program in
/// the emulated machine (see `lockstep run --help`).
#[derive(Debug, Parser)]
#[command(name = "lockstep", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the built-in demo (the default).
    Demo {
        /// Iterations of the demo's compute loop.
        #[arg(long, default_value_t = 1_000_000)]
        iterations: u64,
    },
    /// Run a static Linux x86-64 program in the emulated machine.
    #[command(
        long_about = options::RUN_LONG_ABOUT,
        after_long_help = options::RUN_AFTER_LONG_HELP,
        after_help = "See 'lockstep run --help' for the file system, the default environment, examples and exit statuses."
    )]
    Run(Box<options::RunArgs>),
}

fn demo(iterations: u64) -> ExitCode {
    match demo::run(iterations, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lockstep: {e:#}");
            ExitCode::from(125)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => demo(1_000_000),
        Some(Command::Demo { iterations }) => demo(iterations),
        Some(Command::Run(args)) => ExitCode::from(run::run(&args)),
    }
}
