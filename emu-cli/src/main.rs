//! `lockstep`: the command-line front end of the lockstep emulator.
//!
//! With no arguments it runs the built-in demo (see `demo.rs`). Running Linux
//! programs (`lockstep run PROG`) arrives with the machine/kernel work.

mod demo;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// lockstep: a deterministic x86-64 emulator written in Rust.
///
/// Without a subcommand, runs the built-in demo: a small program assembled
/// on the fly runs on the emulated CPU, with a trace of its first
/// instructions, a fault caught precisely, and instruction counts that are
/// identical on every run and every machine.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let iterations = match cli.command {
        None => 1_000_000,
        Some(Command::Demo { iterations }) => iterations,
    };
    match demo::run(iterations, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lockstep: {e:#}");
            ExitCode::from(125)
        }
    }
}
