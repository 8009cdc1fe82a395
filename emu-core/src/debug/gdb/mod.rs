//! The gdb remote stub: serves one gdb session over any gdbstub
//! [`ConnectionExt`] (a `TcpStream`, a Unix socket) for any [`Debuggee`].
//!
//! The session starts with the target stopped (before its next instruction,
//! i.e. the first one for a fresh machine). While gdb lets it run, the CPU
//! executes in chunks of [`CHUNK_INSTRUCTIONS`] and the connection is polled
//! between chunks, so a Ctrl-C from gdb stops it within one chunk (reported
//! as SIGINT). Single steps execute exactly one instruction.
//!
//! ```no_run
//! # fn demo(cpu: &mut emu_core::Cpu) -> Result<(), Box<dyn std::error::Error>> {
//! use emu_core::debug::{gdb, LibraryDebuggee};
//! let listener = std::net::TcpListener::bind("127.0.0.1:1234")?;
//! let (stream, _) = listener.accept()?;
//! let end = gdb::serve(&mut LibraryDebuggee::new(cpu), stream)?;
//! println!("gdb session ended: {end:?}");
//! # Ok(()) }
//! ```

pub mod arch;
pub mod breakpoints;
pub mod regs;
pub mod target;

use std::convert::Infallible;
use std::marker::PhantomData;

use gdbstub::common::Signal;
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::run_blocking::{BlockingEventLoop, Event, WaitForStopReasonError};
use gdbstub::stub::{DisconnectReason, GdbStub, SingleThreadStopReason};

use self::target::{GdbTarget, ResumeMode};
use super::{signal, Debuggee};

/// Instructions run between two polls of the connection while running.
pub const CHUNK_INSTRUCTIONS: u64 = 100_000;

/// How a gdb session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// gdb detached: the target may go on running without a debugger.
    Detached,
    /// gdb killed the target: the caller should stop it.
    Killed,
    /// The target exited with this status (gdb was told).
    Exited(u8),
    /// The target was terminated by this signal (gdb was told).
    Terminated(u8),
}

/// A gdb session failed.
#[derive(Debug, thiserror::Error)]
pub enum GdbError {
    /// The connection failed or closed without a detach or kill.
    #[error("gdb connection failed: {0}")]
    Connection(String),
    /// The remote protocol failed (a malformed or unsupported exchange).
    #[error("gdb remote protocol error: {0}")]
    Protocol(String),
}

/// Serves one gdb session on `conn`. Breakpoints and watchpoints gdb set
/// are removed from the CPU when the session ends, however it ends.
pub fn serve<D, C>(debuggee: &mut D, conn: C) -> Result<SessionEnd, GdbError>
where
    D: Debuggee,
    C: ConnectionExt,
    C::Error: std::fmt::Display,
{
    let mut target = GdbTarget::new(debuggee);
    let result = GdbStub::new(conn).run_blocking::<EventLoop<'_, D, C>>(&mut target);
    let mut points = std::mem::take(&mut target.points);
    points.clear(target.debuggee.cpu_mut());
    match result {
        Ok(DisconnectReason::Disconnect) => Ok(SessionEnd::Detached),
        Ok(DisconnectReason::Kill) => Ok(SessionEnd::Killed),
        Ok(DisconnectReason::TargetExited(code)) => Ok(SessionEnd::Exited(code)),
        Ok(DisconnectReason::TargetTerminated(s)) => Ok(SessionEnd::Terminated(s.0)),
        Err(e) if e.is_connection_error() => Err(GdbError::Connection(e.to_string())),
        Err(e) => Err(GdbError::Protocol(e.to_string())),
    }
}

/// Runs the target for gdb between its commands.
struct EventLoop<'a, D, C>(PhantomData<fn() -> (&'a mut D, C)>);

type StopReason = SingleThreadStopReason<u64>;

impl<'a, D: Debuggee, C: ConnectionExt> BlockingEventLoop for EventLoop<'a, D, C> {
    type Target = GdbTarget<'a, D>;
    type Connection = C;
    type StopReason = StopReason;

    fn wait_for_stop_reason(
        target: &mut GdbTarget<'a, D>,
        conn: &mut C,
    ) -> Result<Event<StopReason>, WaitForStopReasonError<Infallible, <C as Connection>::Error>>
    {
        if target.resume == ResumeMode::Step {
            let reason = target.run_chunk(1).unwrap_or(StopReason::DoneStep);
            return Ok(Event::TargetStopped(reason));
        }
        loop {
            if let Some(reason) = target.run_chunk(CHUNK_INSTRUCTIONS) {
                return Ok(Event::TargetStopped(reason));
            }
            let pending = conn.peek().map_err(WaitForStopReasonError::Connection)?;
            if pending.is_some() {
                let byte = conn.read().map_err(WaitForStopReasonError::Connection)?;
                return Ok(Event::IncomingData(byte));
            }
        }
    }

    fn on_interrupt(_target: &mut GdbTarget<'a, D>) -> Result<Option<StopReason>, Infallible> {
        Ok(Some(StopReason::Signal(Signal(signal::SIGINT))))
    }
}
