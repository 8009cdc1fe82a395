//! Linux x86-64 signal numbers and names (signal(7)), shared by the kernel's
//! log lines and the CLI's "killed by signal" report.

/// Names of the classic signals 1..=31, index `n - 1`.
const NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The name of classic signal `n` (1..=31), e.g. `SIGSEGV` for 11.
pub const fn name(n: u8) -> Option<&'static str> {
    if n >= 1 && n <= 31 {
        Some(NAMES[(n - 1) as usize])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_x86_64_linux() {
        assert_eq!(name(11), Some("SIGSEGV"));
        assert_eq!(name(9), Some("SIGKILL"));
        assert_eq!(name(31), Some("SIGSYS"));
        assert_eq!(name(0), None);
        assert_eq!(name(32), None);
    }
}
