//! Debugger support in the CPU: breakpoints (stop before executing an
//! address), watchpoints (stop after an instruction that accessed a range),
//! used by the gdb stub and the library API. Single-stepping is a run with
//! `max_instructions: 1`.

/// What a watchpoint watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// Writes.
    Write,
    /// Reads.
    Read,
    /// Reads and writes.
    Access,
}

/// A watched range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchpoint {
    /// First watched virtual address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u64,
    /// Accesses that trigger it.
    pub kind: WatchKind,
}

impl Watchpoint {
    /// Whether an access of `len` bytes at `addr` triggers this watchpoint.
    pub fn triggers(&self, addr: u64, len: u64, write: bool) -> bool {
        let kind_ok = match self.kind {
            WatchKind::Write => write,
            WatchKind::Read => !write,
            WatchKind::Access => true,
        };
        kind_ok && addr < self.addr.wrapping_add(self.len) && self.addr < addr.wrapping_add(len)
    }
}

/// A triggered watchpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchHit {
    /// The watchpoint's address.
    pub addr: u64,
    /// The watchpoint's kind.
    pub kind: WatchKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_kind_rules() {
        let w = Watchpoint {
            addr: 0x1000,
            len: 8,
            kind: WatchKind::Write,
        };
        assert!(w.triggers(0x1007, 1, true));
        assert!(w.triggers(0xfff, 2, true));
        assert!(!w.triggers(0x1008, 8, true));
        assert!(!w.triggers(0x1000, 8, false));
    }
}
