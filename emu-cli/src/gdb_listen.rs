//! `--gdb ADDR`: listens on a TCP address, waits for one gdb connection with
//! the machine stopped before its first instruction, and hands both to
//! emu-core's gdb stub (`emu_core::debug::gdb`). When the session ends the
//! run ends the way the session did: the guest's exit, a detach (the
//! machine runs on without the debugger), or gdb's kill.
//!
//! `--max-instructions` holds under the debugger too: at the limit the
//! machine stops with SIGXCPU (CPU time limit exceeded), which gdb shows,
//! and the run's status is 124 whatever gdb does next.

use std::net::{SocketAddr, TcpListener};

use emu_abi::ports::DebugExit;
use emu_core::debug::gdb::{self, SessionEnd};
use emu_core::debug::{Debuggee, StopEvent};
use emu_core::{Cpu, Machine, MachineExit};

/// Linux's SIGXCPU: what gdb is told at the instruction limit.
const SIGXCPU: u8 = 24;

/// How a debugged run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebuggedEnd {
    /// The machine stopped as an undebugged run would have.
    Machine(MachineExit),
    /// gdb killed the program.
    KilledByGdb,
}

/// Why there was no debug session.
#[derive(Debug, thiserror::Error)]
pub enum GdbListenError {
    /// The address cannot be listened on (exit status 2).
    #[error("--gdb {addr}: cannot listen: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The host's error.
        source: std::io::Error,
    },
    /// Accepting the connection or the session itself failed (125).
    #[error("gdb session failed: {0}")]
    Session(String),
}

/// The machine with the run's instruction limit.
struct Limited<'a> {
    machine: &'a mut Machine,
    end: u64,
}

impl Limited<'_> {
    fn left(&self) -> u64 {
        self.end
            .saturating_sub(self.machine.cpu().instructions_retired())
    }
}

impl Debuggee for Limited<'_> {
    fn cpu(&self) -> &Cpu {
        self.machine.cpu()
    }

    fn cpu_mut(&mut self) -> &mut Cpu {
        self.machine.cpu_mut()
    }

    fn run_for(&mut self, max_instructions: u64) -> Option<StopEvent> {
        if self.left() == 0 {
            return Some(StopEvent::Signal(SIGXCPU));
        }
        let budget = max_instructions.min(self.left());
        match Debuggee::run_for(self.machine, budget) {
            None if self.left() == 0 => Some(StopEvent::Signal(SIGXCPU)),
            event => event,
        }
    }
}

/// Serves one gdb session on `addr` (port 0: any free port), then finishes
/// the run. `announce` receives the address actually listened on.
pub fn debug(
    machine: &mut Machine,
    addr: SocketAddr,
    max_instructions: u64,
    announce: impl FnOnce(SocketAddr),
) -> Result<DebuggedEnd, GdbListenError> {
    let listener =
        TcpListener::bind(addr).map_err(|source| GdbListenError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| GdbListenError::Listen { addr, source })?;
    announce(local);
    let (stream, _) = listener
        .accept()
        .map_err(|e| GdbListenError::Session(format!("accepting on {local}: {e}")))?;
    drop(listener);
    // Small packets both ways: do not wait to coalesce them.
    let _ = stream.set_nodelay(true);

    let start = machine.cpu().instructions_retired();
    let end = start.saturating_add(max_instructions);
    let mut limited = Limited { machine, end };
    let session =
        gdb::serve(&mut limited, stream).map_err(|e| GdbListenError::Session(e.to_string()))?;
    let left = limited.left();
    Ok(match session {
        SessionEnd::Exited(status) => {
            DebuggedEnd::Machine(MachineExit::Guest(DebugExit::Exited(status)))
        }
        SessionEnd::Terminated(signal) => {
            DebuggedEnd::Machine(MachineExit::Guest(DebugExit::Killed(signal)))
        }
        SessionEnd::Killed if left == 0 => DebuggedEnd::Machine(MachineExit::InstructionLimit),
        SessionEnd::Killed => DebuggedEnd::KilledByGdb,
        SessionEnd::Detached if left == 0 => DebuggedEnd::Machine(MachineExit::InstructionLimit),
        SessionEnd::Detached => DebuggedEnd::Machine(limited.machine.run(left)),
    })
}
