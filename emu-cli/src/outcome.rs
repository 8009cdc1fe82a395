//! From the machine's exit to `lockstep run`'s exit status and its one-line
//! report, as ARCHITECTURE.md ("Exit status") defines them: the guest's
//! status; 128+N for signal N; 124 for the instruction limit; 125 for any
//! failure of the emulator or the guest kernel.

use emu_abi::ports::DebugExit;
use emu_core::MachineExit;

/// Exit status when an instruction or time limit stopped the run.
pub const STATUS_LIMIT: u8 = 124;
/// Exit status for a failure of the emulator itself.
pub const STATUS_INTERNAL: u8 = 125;

/// The exit status and, if any, the line to print on stderr (without the
/// `lockstep: ` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The process exit status.
    pub status: u8,
    /// The report, if the status needs one.
    pub message: Option<String>,
}

/// What the outcome needs besides the exit itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The program as named on the command line.
    pub program: &'a str,
    /// The instruction limit in force.
    pub max_instructions: u64,
    /// Instructions retired when the run stopped.
    pub instructions: u64,
    /// The last line of the kernel log, for panics.
    pub last_log_line: Option<&'a str>,
}

/// Linux's name of signal `n` on x86-64 (signal(7); 32 and 33 are glibc's
/// internal real-time signals, numbered from the kernel's SIGRTMIN).
pub fn signal_name(n: u8) -> String {
    match (n, emu_abi::signals::name(n)) {
        (_, Some(name)) => name.to_string(),
        (32, None) => "SIGRTMIN".to_string(),
        (33..=64, None) => format!("SIGRTMIN+{}", n - 32),
        _ => format!("signal {n}"),
    }
}

/// Maps the machine's exit to the exit status and report.
pub fn outcome(exit: MachineExit, cx: Context<'_>) -> Outcome {
    let report = |status, message: String| Outcome {
        status,
        message: Some(message),
    };
    let program = cx.program;
    match exit {
        MachineExit::Guest(DebugExit::Exited(status)) => Outcome {
            status,
            message: None,
        },
        MachineExit::Guest(DebugExit::Killed(signal)) => {
            // Linux numbers signals 1..=64; anything else is a kernel bug.
            let status = 128u8.saturating_add(signal.min(127));
            report(
                status,
                format!(
                    "{program} killed by signal {signal} ({})",
                    signal_name(signal)
                ),
            )
        }
        MachineExit::Guest(DebugExit::KernelPanic) => report(
            STATUS_INTERNAL,
            match cx.last_log_line {
                Some(line) => format!("the guest kernel panicked: {line}"),
                None => "the guest kernel panicked (its log is empty)".to_string(),
            },
        ),
        MachineExit::Guest(DebugExit::BootFailed(reason)) => report(
            STATUS_INTERNAL,
            format!(
                "the guest kernel refused to boot (reason {reason}; run with -v to see its log)"
            ),
        ),
        MachineExit::BadExitValue(value) => report(
            STATUS_INTERNAL,
            format!("the guest kernel wrote {value:#x} to the exit port, which is not a valid exit value"),
        ),
        MachineExit::InstructionLimit => report(
            STATUS_LIMIT,
            format!(
                "{program} stopped: instruction limit of {} reached",
                cx.max_instructions
            ),
        ),
        MachineExit::TripleFault => report(
            STATUS_INTERNAL,
            format!(
                "the machine shut down (triple fault) after {} instructions",
                cx.instructions
            ),
        ),
        MachineExit::Deadlock => report(
            STATUS_INTERNAL,
            format!(
                "the machine halted with nothing to wake it (deadlock) after {} instructions",
                cx.instructions
            ),
        ),
        MachineExit::Debug(exit) => report(
            STATUS_INTERNAL,
            format!("unexpected debugger stop ({exit:?}) without a debugger"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context {
            program: "./prog",
            max_instructions: 1000,
            instructions: 77,
            last_log_line: Some("kernel panic at mm.rs:12: out of frames"),
        }
    }

    #[test]
    fn guest_status_passes_through_without_a_report() {
        for status in [0, 1, 42, 255] {
            let o = outcome(MachineExit::Guest(DebugExit::Exited(status)), cx());
            assert_eq!(
                o,
                Outcome {
                    status,
                    message: None
                }
            );
        }
    }

    #[test]
    fn signals_are_128_plus_n_with_their_names() {
        let o = outcome(MachineExit::Guest(DebugExit::Killed(11)), cx());
        assert_eq!(o.status, 139);
        assert_eq!(
            o.message.as_deref(),
            Some("./prog killed by signal 11 (SIGSEGV)")
        );
        assert_eq!(signal_name(6), "SIGABRT");
        assert_eq!(signal_name(31), "SIGSYS");
        assert_eq!(signal_name(34), "SIGRTMIN+2");
        assert_eq!(signal_name(64), "SIGRTMIN+32");
        let o = outcome(MachineExit::Guest(DebugExit::Killed(64)), cx());
        assert_eq!(o.status, 192);
    }

    #[test]
    fn limits_and_failures_have_their_statuses() {
        let status = |e| outcome(e, cx()).status;
        assert_eq!(status(MachineExit::InstructionLimit), 124);
        assert_eq!(status(MachineExit::TripleFault), 125);
        assert_eq!(status(MachineExit::Deadlock), 125);
        assert_eq!(status(MachineExit::BadExitValue(0x999)), 125);
        assert_eq!(status(MachineExit::Guest(DebugExit::BootFailed(1))), 125);
        let panic = outcome(MachineExit::Guest(DebugExit::KernelPanic), cx());
        assert_eq!(panic.status, 125);
        assert_eq!(
            panic.message.as_deref(),
            Some("the guest kernel panicked: kernel panic at mm.rs:12: out of frames")
        );
        let limit = outcome(MachineExit::InstructionLimit, cx());
        assert_eq!(
            limit.message.as_deref(),
            Some("./prog stopped: instruction limit of 1000 reached")
        );
    }
}
