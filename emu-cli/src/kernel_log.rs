//! The guest kernel's log (COM1): shown on stderr with `-v`, saved with
//! `--kernel-log FILE`, and always kept as a short tail so that a kernel
//! panic can be reported in one line. The log never changes the run: the
//! kernel writes it the same way whether anybody reads it or not.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes of the log kept for the panic report.
const TAIL_BYTES: usize = 4096;

#[derive(Debug)]
struct State {
    /// Show on stderr, a line at a time.
    to_stderr: bool,
    /// The line being assembled for stderr.
    line: Vec<u8>,
    file: Option<BufWriter<File>>,
    /// The first error writing the file.
    file_error: Option<std::io::Error>,
    tail: VecDeque<u8>,
}

/// The log's destinations; clones share them.
#[derive(Debug, Clone)]
pub struct KernelLog(Arc<Mutex<State>>);

impl KernelLog {
    /// A log shown on stderr if `to_stderr`, saved to `file` if given.
    pub fn new(to_stderr: bool, file: Option<&Path>) -> std::io::Result<Self> {
        let file = match file {
            Some(path) => Some(BufWriter::new(File::create(path)?)),
            None => None,
        };
        Ok(Self(Arc::new(Mutex::new(State {
            to_stderr,
            line: Vec::new(),
            file,
            file_error: None,
            tail: VecDeque::with_capacity(TAIL_BYTES),
        }))))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last non-empty line of the log, if any.
    pub fn last_line(&self) -> Option<String> {
        let state = self.state();
        let tail: Vec<u8> = state.tail.iter().copied().collect();
        let text = String::from_utf8_lossy(&tail);
        text.lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_string)
    }

    /// Flushes stderr and the file; the error is the first one writing the file.
    pub fn finish(&self) -> std::io::Result<()> {
        let mut state = self.state();
        if !state.line.is_empty() {
            let line = std::mem::take(&mut state.line);
            let _ = std::io::stderr().write_all(&line);
        }
        if let Some(e) = state.file_error.take() {
            return Err(e);
        }
        match state.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Write for KernelLog {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut state = self.state();
        let s = &mut *state;
        for &b in data {
            if s.tail.len() == TAIL_BYTES {
                s.tail.pop_front();
            }
            s.tail.push_back(b);
        }
        if s.to_stderr {
            s.line.extend_from_slice(data);
            if let Some(end) = s.line.iter().rposition(|&b| b == b'\n') {
                // stderr errors (a closed terminal) must not disturb the run.
                let _ = std::io::stderr().write_all(&s.line[..=end]);
                s.line.drain(..=end);
            }
        }
        if let Some(f) = s.file.as_mut() {
            if s.file_error.is_none() {
                if let Err(e) = f.write_all(data) {
                    s.file_error = Some(e);
                }
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_non_empty_line() {
        let mut log = KernelLog::new(false, None).unwrap();
        assert_eq!(log.last_line(), None);
        log.write_all(b"booting\npanicked at mm.rs:3: out of memory\n\n")
            .unwrap();
        assert_eq!(
            log.last_line().as_deref(),
            Some("panicked at mm.rs:3: out of memory")
        );
        log.write_all(&vec![b'x'; 2 * TAIL_BYTES]).unwrap();
        assert_eq!(log.last_line().map(|l| l.len()), Some(TAIL_BYTES));
    }
}
