//! The bulk host-I/O device: how the kernel moves the first program's
//! stdout, stderr and stdin to and from the host without byte-at-a-time port
//! traffic.
//!
//! Protocol: the kernel fills a [`HostIoRequest`] in guest RAM (below 4 GiB,
//! naturally aligned) whose buffer is physically contiguous, then writes the
//! request's physical address with a 32-bit `out` to [`HOSTIO`]. The device
//! performs the transfer before the `out` retires and stores the outcome in
//! `result`: bytes transferred (0 = end of input), or a negative Linux errno
//! (-EFAULT for a buffer outside RAM, -EBADF for an unknown stream, -EINVAL
//! for an unknown operation).

use crate::ports::Port;

/// The host-I/O request port.
pub const HOSTIO: Port = Port(0x510);

/// `HostIoRequest::op`: write the buffer to a host stream.
pub const OP_WRITE: u32 = 1;
/// `HostIoRequest::op`: read up to `len` bytes from the host's stdin.
pub const OP_READ: u32 = 2;

/// Host streams (`HostIoRequest::stream`).
pub const STREAM_STDIN: u32 = 0;
/// The host's standard output.
pub const STREAM_STDOUT: u32 = 1;
/// The host's standard error.
pub const STREAM_STDERR: u32 = 2;

/// One request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct HostIoRequest {
    /// [`OP_WRITE`] or [`OP_READ`].
    pub op: u32,
    /// One of the `STREAM_*` constants.
    pub stream: u32,
    /// Physical address of the buffer.
    pub buf: u64,
    /// Length of the buffer in bytes.
    pub len: u64,
    /// Outcome, written by the device.
    pub result: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_is_pinned() {
        assert_eq!(offset_of!(HostIoRequest, buf), 8);
        assert_eq!(offset_of!(HostIoRequest, len), 16);
        assert_eq!(offset_of!(HostIoRequest, result), 24);
        assert_eq!(size_of::<HostIoRequest>(), 32);
    }
}
