//! The bulk host-I/O device (protocol in `emu_abi::hostio`): moves whole
//! buffers of the first program's stdout, stderr and stdin between guest
//! RAM and the host in one port write.

use std::io::{Read, Write};

use emu_abi::hostio::{
    HostIoRequest, OP_READ, OP_WRITE, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT,
};

use crate::memory::GuestRam;

const EFAULT: i64 = -14;
const EBADF: i64 = -9;
const EINVAL: i64 = -22;
const EIO: i64 = -5;

/// The device: host stdout, stderr and stdin.
pub struct HostIo {
    stdout: Box<dyn Write>,
    stderr: Box<dyn Write>,
    stdin: Box<dyn Read>,
    /// Bytes written to stdout and stderr.
    pub bytes_out: u64,
}

impl std::fmt::Debug for HostIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostIo")
            .field("bytes_out", &self.bytes_out)
            .finish()
    }
}

impl HostIo {
    /// A device over the given host streams.
    pub fn new(stdout: Box<dyn Write>, stderr: Box<dyn Write>, stdin: Box<dyn Read>) -> Self {
        Self {
            stdout,
            stderr,
            stdin,
            bytes_out: 0,
        }
    }

    /// Performs the request at physical `req_phys` and stores its result.
    pub fn request(&mut self, ram: &mut GuestRam, req_phys: u64) {
        let Some(bytes) = ram.read_array::<32>(req_phys) else {
            return;
        };
        let le64 = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[o..o + 8]);
            u64::from_le_bytes(b)
        };
        let req = HostIoRequest {
            op: u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            stream: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            buf: le64(8),
            len: le64(16),
            result: 0,
        };
        let result = self.perform(ram, &req);
        ram.write_array(req_phys + 24, result.to_le_bytes());
    }

    fn perform(&mut self, ram: &mut GuestRam, req: &HostIoRequest) -> i64 {
        let Ok(len) = usize::try_from(req.len) else {
            return EFAULT;
        };
        match req.op {
            OP_WRITE => {
                let Some(data) = ram.slice(req.buf, len) else {
                    return EFAULT;
                };
                let sink = match req.stream {
                    STREAM_STDOUT => &mut self.stdout,
                    STREAM_STDERR => &mut self.stderr,
                    _ => return EBADF,
                };
                match sink.write_all(data).and_then(|()| sink.flush()) {
                    Ok(()) => {
                        self.bytes_out += req.len;
                        req.len as i64
                    }
                    Err(_) => EIO,
                }
            }
            OP_READ => {
                if req.stream != STREAM_STDIN {
                    return EBADF;
                }
                let Some(buf) = ram.slice_mut(req.buf, len) else {
                    return EFAULT;
                };
                match self.stdin.read(buf) {
                    Ok(n) => n as i64,
                    Err(_) => EIO,
                }
            }
            _ => EINVAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::SharedBuffer as Shared;

    fn put_request(ram: &mut GuestRam, at: u64, op: u32, stream: u32, buf: u64, len: u64) {
        let mut b = [0u8; 32];
        b[0..4].copy_from_slice(&op.to_le_bytes());
        b[4..8].copy_from_slice(&stream.to_le_bytes());
        b[8..16].copy_from_slice(&buf.to_le_bytes());
        b[16..24].copy_from_slice(&len.to_le_bytes());
        ram.write_array(at, b);
    }

    fn result(ram: &GuestRam, at: u64) -> i64 {
        i64::from_le_bytes(ram.read_array::<8>(at + 24).unwrap())
    }

    #[test]
    fn write_read_and_errors_follow_the_protocol() {
        let mut ram = GuestRam::new(0x10000).unwrap();
        let out = Shared::new();
        let mut dev = HostIo::new(
            Box::new(out.clone()),
            Box::new(std::io::sink()),
            Box::new(&b"input"[..]),
        );
        ram.slice_mut(0x2000, 5).unwrap().copy_from_slice(b"hello");
        put_request(&mut ram, 0x1000, OP_WRITE, STREAM_STDOUT, 0x2000, 5);
        dev.request(&mut ram, 0x1000);
        assert_eq!(result(&ram, 0x1000), 5);
        assert_eq!(&out.contents()[..], b"hello");

        put_request(&mut ram, 0x1000, OP_READ, STREAM_STDIN, 0x3000, 100);
        dev.request(&mut ram, 0x1000);
        assert_eq!(result(&ram, 0x1000), 5);
        assert_eq!(ram.slice(0x3000, 5).unwrap(), b"input");

        put_request(&mut ram, 0x1000, OP_WRITE, STREAM_STDOUT, 0xfff0, 0x100);
        dev.request(&mut ram, 0x1000);
        assert_eq!(result(&ram, 0x1000), EFAULT);
        put_request(&mut ram, 0x1000, OP_WRITE, 7, 0x2000, 1);
        dev.request(&mut ram, 0x1000);
        assert_eq!(result(&ram, 0x1000), EBADF);
        put_request(&mut ram, 0x1000, 9, STREAM_STDOUT, 0x2000, 1);
        dev.request(&mut ram, 0x1000);
        assert_eq!(result(&ram, 0x1000), EINVAL);
    }
}
