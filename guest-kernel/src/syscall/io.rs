//! Data syscalls: read/write and their vector and positional forms, lseek, ioctl,
//! poll/select, sendfile. Host streams move straight between user pages and the host
//! (the physical address of each user page goes to the host-I/O device: no copies);
//! file data moves between user pages and the in-memory file system.

use alloc::vec::Vec;

use super::{copy_in, copy_out};
use crate::errno::{Errno, SysResult};
use crate::fs::node::{Device, Node};
use crate::kernel::Kernel;
use crate::mm::PAGE_SIZE;
use crate::platform::Platform;
use crate::process::{oflag, FileKind, FileRef};

/// Largest count one read or write transfers (Linux's MAX_RW_COUNT).
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// Most iovecs per call (UIO_MAXIOV).
pub const UIO_MAXIOV: u64 = 1024;

/// Copies `data` to user `buf` page by page; a fault after some progress ends the copy
/// with the count so far, a fault at once is EFAULT.
fn copy_out_partial<P: Platform>(k: &mut Kernel<P>, buf: u64, data: &[u8]) -> SysResult<u64> {
    let mut done = 0usize;
    while done < data.len() {
        let at = buf.wrapping_add(done as u64);
        let n = ((PAGE_SIZE - (at & (PAGE_SIZE - 1))) as usize).min(data.len() - done);
        if let Err(e) = k
            .proc
            .aspace
            .copy_to_user(&mut k.p, at, &data[done..done + n])
        {
            return if done > 0 { Ok(done as u64) } else { Err(e) };
        }
        done += n;
    }
    Ok(done as u64)
}

/// Reads from an open file into user memory at `buf`, at `pos` or the file position.
pub fn do_read<P: Platform>(
    k: &mut Kernel<P>,
    file: &FileRef,
    buf: u64,
    count: u64,
    pos: Option<u64>,
) -> SysResult<u64> {
    if !file.borrow().readable() {
        return Err(Errno::EBADF);
    }
    let count = count.min(MAX_RW_COUNT);
    let kind = file.borrow().kind.clone();
    match kind {
        FileKind::HostIn => {
            if pos.is_some() {
                return Err(Errno::ESPIPE);
            }
            let mut total = 0u64;
            let mut eof = false;
            let r = k
                .proc
                .aspace
                .user_chunks(&mut k.p, buf, count, true, |p, pa, n| {
                    if eof {
                        return Ok(());
                    }
                    let got = p.host_read(pa, n as u64);
                    if got < 0 {
                        return Err(Errno::EIO);
                    }
                    total += got as u64;
                    if (got as usize) < n {
                        eof = true;
                    }
                    Ok(())
                });
            match r {
                Err(e) if total == 0 => Err(e),
                _ => Ok(total),
            }
        }
        FileKind::HostOut(_) => Err(Errno::EBADF),
        FileKind::Snapshot { data, .. } => {
            let off = pos.unwrap_or(file.borrow().offset);
            let start = (off as usize).min(data.len());
            let n = (data.len() - start).min(count as usize);
            let done = copy_out_partial(k, buf, &data[start..start + n])?;
            if pos.is_none() {
                file.borrow_mut().offset = off + done;
            }
            Ok(done)
        }
        FileKind::Inode(ino) => {
            let node = &k.vfs.inode(ino)?.node;
            match node {
                Node::File(_) => {
                    let off = pos.unwrap_or(file.borrow().offset);
                    let data = k.vfs.file_bytes(ino)?;
                    let start = usize::try_from(off).unwrap_or(usize::MAX).min(data.len());
                    let n = (data.len() - start).min(count as usize);
                    let mut done = 0usize;
                    while done < n {
                        let at = buf.wrapping_add(done as u64);
                        let m = ((PAGE_SIZE - (at & (PAGE_SIZE - 1))) as usize).min(n - done);
                        let chunk = &data[start + done..start + done + m];
                        if let Err(e) = k.proc.aspace.copy_to_user(&mut k.p, at, chunk) {
                            if done == 0 {
                                return Err(e);
                            }
                            break;
                        }
                        done += m;
                    }
                    if pos.is_none() {
                        file.borrow_mut().offset = off + done as u64;
                    }
                    Ok(done as u64)
                }
                Node::Dir { .. } => Err(Errno::EISDIR),
                Node::CharDev(d) => {
                    let d = *d;
                    read_device(k, d, buf, count)
                }
                _ => Err(Errno::EINVAL),
            }
        }
    }
}

fn read_device<P: Platform>(k: &mut Kernel<P>, d: Device, buf: u64, count: u64) -> SysResult<u64> {
    match d {
        Device::Null => Ok(0),
        Device::Zero | Device::Full | Device::Random | Device::Urandom => {
            let random = matches!(d, Device::Random | Device::Urandom);
            let rng = &mut k.rng;
            k.proc
                .aspace
                .user_chunks(&mut k.p, buf, count, true, |p, pa, n| {
                    let off = (pa & (PAGE_SIZE - 1)) as usize;
                    let frame = p.frame(pa & !(PAGE_SIZE - 1));
                    let dst = &mut frame[off..off + n];
                    if random {
                        rng.fill(dst);
                    } else {
                        dst.fill(0);
                    }
                    Ok(())
                })?;
            Ok(count)
        }
        Device::Stdio(_) => Err(Errno::EINVAL),
    }
}

/// Writes user memory at `buf` to an open file, at `pos` or the file position.
pub fn do_write<P: Platform>(
    k: &mut Kernel<P>,
    file: &FileRef,
    buf: u64,
    count: u64,
    pos: Option<u64>,
) -> SysResult<u64> {
    if !file.borrow().writable() {
        return Err(Errno::EBADF);
    }
    let count = count.min(MAX_RW_COUNT);
    let kind = file.borrow().kind.clone();
    match kind {
        FileKind::HostOut(stream) => {
            if pos.is_some() {
                return Err(Errno::ESPIPE);
            }
            let mut total = 0u64;
            let r = k
                .proc
                .aspace
                .user_chunks(&mut k.p, buf, count, false, |p, pa, n| {
                    let put = p.host_write(stream, pa, n as u64);
                    if put < 0 {
                        return Err(Errno::EIO);
                    }
                    total += put as u64;
                    Ok(())
                });
            match r {
                Err(e) if total == 0 => Err(e),
                _ => Ok(total),
            }
        }
        FileKind::HostIn | FileKind::Snapshot { .. } => Err(Errno::EBADF),
        FileKind::Inode(ino) => match k.vfs.inode(ino)?.node {
            Node::File(_) => {
                let append = file.borrow().flags & oflag::O_APPEND != 0;
                let off = if append {
                    k.vfs.inode(ino)?.size()
                } else {
                    pos.unwrap_or(file.borrow().offset)
                };
                if count == 0 {
                    return Ok(0);
                }
                // Check the source first so a bad buffer does not grow the file.
                k.proc
                    .aspace
                    .user_chunks(&mut k.p, buf, count, false, |_, _, _| Ok(()))?;
                let end = off.checked_add(count).ok_or(Errno::EFBIG)?;
                let now = k.wall_time();
                let v = k.vfs.file_for_write(ino, end, now)?;
                k.proc
                    .aspace
                    .copy_from_user(&mut k.p, buf, &mut v[off as usize..end as usize])?;
                if pos.is_none() || append {
                    file.borrow_mut().offset = end;
                }
                Ok(count)
            }
            Node::Dir { .. } => Err(Errno::EISDIR),
            Node::CharDev(Device::Full) => Err(Errno::ENOSPC),
            Node::CharDev(_) => Ok(count),
            _ => Err(Errno::EINVAL),
        },
    }
}

/// read(2).
pub fn read<P: Platform>(k: &mut Kernel<P>, fd: u64, buf: u64, count: u64) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    do_read(k, &file, buf, count, None)
}

/// write(2).
pub fn write<P: Platform>(k: &mut Kernel<P>, fd: u64, buf: u64, count: u64) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    do_write(k, &file, buf, count, None)
}

/// pread64(2).
pub fn pread<P: Platform>(
    k: &mut Kernel<P>,
    fd: u64,
    buf: u64,
    count: u64,
    pos: i64,
) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    if pos < 0 {
        return Err(Errno::EINVAL);
    }
    seekable(&file)?;
    do_read(k, &file, buf, count, Some(pos as u64))
}

/// pwrite64(2).
pub fn pwrite<P: Platform>(
    k: &mut Kernel<P>,
    fd: u64,
    buf: u64,
    count: u64,
    pos: i64,
) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    if pos < 0 {
        return Err(Errno::EINVAL);
    }
    seekable(&file)?;
    do_write(k, &file, buf, count, Some(pos as u64))
}

fn seekable(file: &FileRef) -> SysResult<()> {
    match file.borrow().kind {
        FileKind::HostIn | FileKind::HostOut(_) => Err(Errno::ESPIPE),
        _ => Ok(()),
    }
}

/// Reads the iovec array: (base, len) pairs, with Linux's count and length checks.
fn iovecs<P: Platform>(k: &mut Kernel<P>, iov: u64, cnt: u64) -> SysResult<Vec<(u64, u64)>> {
    if cnt > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let mut raw = alloc::vec![0u8; cnt as usize * 16];
    copy_in(k, iov, &mut raw)?;
    let mut out = Vec::with_capacity(cnt as usize);
    let mut total: u64 = 0;
    for c in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(c[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let len = u64::from_le_bytes(c[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if len as i64 <= -1 {
            return Err(Errno::EINVAL);
        }
        total = total.checked_add(len).ok_or(Errno::EINVAL)?;
        if total > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        out.push((base, len));
    }
    Ok(out)
}

/// readv(2) / preadv(2).
pub fn readv<P: Platform>(
    k: &mut Kernel<P>,
    fd: u64,
    iov: u64,
    cnt: u64,
    pos: Option<i64>,
) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    if let Some(p) = pos {
        if p < 0 {
            return Err(Errno::EINVAL);
        }
        seekable(&file)?;
    }
    let vecs = iovecs(k, iov, cnt)?;
    let mut total = 0u64;
    for (base, len) in vecs {
        let at = pos.map(|p| p as u64 + total);
        match do_read(k, &file, base, len, at) {
            Ok(n) => {
                total += n;
                if n < len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

/// writev(2) / pwritev(2).
pub fn writev<P: Platform>(
    k: &mut Kernel<P>,
    fd: u64,
    iov: u64,
    cnt: u64,
    pos: Option<i64>,
) -> SysResult<u64> {
    let file = k.proc.fds.get(fd)?;
    if let Some(p) = pos {
        if p < 0 {
            return Err(Errno::EINVAL);
        }
        seekable(&file)?;
    }
    let vecs = iovecs(k, iov, cnt)?;
    let mut total = 0u64;
    for (base, len) in vecs {
        if len == 0 {
            continue;
        }
        let at = pos.map(|p| p as u64 + total);
        match do_write(k, &file, base, len, at) {
            Ok(n) => {
                total += n;
                if n < len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

/// lseek(2).
pub fn lseek<P: Platform>(k: &mut Kernel<P>, fd: u64, off: i64, whence: u32) -> SysResult<u64> {
    const SEEK_SET: u32 = 0;
    const SEEK_CUR: u32 = 1;
    const SEEK_END: u32 = 2;
    const SEEK_DATA: u32 = 3;
    const SEEK_HOLE: u32 = 4;
    let file = k.proc.fds.get(fd)?;
    let kind = file.borrow().kind.clone();
    let size = match kind {
        FileKind::HostIn | FileKind::HostOut(_) => return Err(Errno::ESPIPE),
        FileKind::Snapshot { data, .. } => data.len() as u64,
        FileKind::Inode(ino) => match k.vfs.inode(ino)?.node {
            Node::CharDev(_) => return Ok(0),
            Node::File(ref c) => c.bytes().len() as u64,
            _ => 0,
        },
    };
    let cur = file.borrow().offset;
    let new = match whence {
        SEEK_SET => off,
        SEEK_CUR => (cur as i64).checked_add(off).ok_or(Errno::EOVERFLOW)?,
        SEEK_END => (size as i64).checked_add(off).ok_or(Errno::EOVERFLOW)?,
        SEEK_DATA => {
            if off < 0 || off as u64 >= size {
                return Err(Errno::ENXIO);
            }
            off
        }
        SEEK_HOLE => {
            if off < 0 || off as u64 >= size {
                return Err(Errno::ENXIO);
            }
            size as i64
        }
        _ => return Err(Errno::EINVAL),
    };
    if new < 0 {
        return Err(Errno::EINVAL);
    }
    file.borrow_mut().offset = new as u64;
    Ok(new as u64)
}

/// ioctl(2): nothing is a terminal, so terminal requests are ENOTTY.
pub fn ioctl<P: Platform>(k: &mut Kernel<P>, fd: u64, req: u64, arg: u64) -> SysResult<u64> {
    const FIONREAD: u64 = 0x541b;
    const FIONBIO: u64 = 0x5421;
    const FIONCLEX: u64 = 0x5450;
    const FIOCLEX: u64 = 0x5451;
    let file = k.proc.fds.get(fd)?;
    match req & 0xffff_ffff {
        FIONBIO => {
            let mut v = [0u8; 4];
            copy_in(k, arg, &mut v)?;
            let mut f = file.borrow_mut();
            if u32::from_le_bytes(v) != 0 {
                f.flags |= oflag::O_NONBLOCK;
            } else {
                f.flags &= !oflag::O_NONBLOCK;
            }
            Ok(0)
        }
        FIOCLEX => k.proc.fds.set_cloexec(fd, true).map(|_| 0),
        FIONCLEX => k.proc.fds.set_cloexec(fd, false).map(|_| 0),
        FIONREAD => {
            let kind = file.borrow().kind.clone();
            let avail = match kind {
                FileKind::Inode(ino) => match k.vfs.inode(ino)?.node {
                    Node::File(ref c) => {
                        (c.bytes().len() as u64).saturating_sub(file.borrow().offset)
                    }
                    _ => return Err(Errno::ENOTTY),
                },
                FileKind::HostIn => 0,
                _ => return Err(Errno::ENOTTY),
            };
            copy_out(k, arg, &(avail as u32).to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// poll(2): every descriptor is always ready for what it can do.
pub fn poll<P: Platform>(
    k: &mut Kernel<P>,
    fds: u64,
    nfds: u64,
    timeout_ms: i32,
) -> SysResult<u64> {
    let n = poll_scan(k, fds, nfds)?;
    if n == 0 && timeout_ms > 0 {
        let now = k.p.tsc();
        let deadline = now + super::time::ns_to_tsc(k.cfg.tsc_hz, timeout_ms as u64 * 1_000_000);
        k.p.sleep_until(deadline);
    }
    Ok(n)
}

/// ppoll(2).
pub fn ppoll<P: Platform>(k: &mut Kernel<P>, fds: u64, nfds: u64, tsp: u64) -> SysResult<u64> {
    let n = poll_scan(k, fds, nfds)?;
    if n == 0 && tsp != 0 {
        let t = super::time::read_timespec(k, tsp)?;
        super::time::sleep_for(k, t);
    }
    Ok(n)
}

fn poll_scan<P: Platform>(k: &mut Kernel<P>, fds: u64, nfds: u64) -> SysResult<u64> {
    const POLLIN: u16 = 0x1;
    const POLLPRI: u16 = 0x2;
    const POLLOUT: u16 = 0x4;
    const POLLNVAL: u16 = 0x20;
    const POLLRDNORM: u16 = 0x40;
    const POLLWRNORM: u16 = 0x100;
    if nfds > k.proc.nofile() {
        return Err(Errno::EINVAL);
    }
    let mut raw = alloc::vec![0u8; nfds as usize * 8];
    copy_in(k, fds, &mut raw)?;
    let mut ready = 0u64;
    for e in raw.chunks_exact_mut(8) {
        let fd = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let events = u16::from_le_bytes([e[4], e[5]]);
        let revents = if fd < 0 {
            0
        } else {
            match k.proc.fds.get(fd as u64) {
                Err(_) => POLLNVAL,
                Ok(f) => {
                    let f = f.borrow();
                    let mut r = 0;
                    if f.readable() {
                        r |= events & (POLLIN | POLLRDNORM);
                    }
                    if f.writable() {
                        r |= events & (POLLOUT | POLLWRNORM);
                    }
                    r & !POLLPRI
                }
            }
        };
        e[6..8].copy_from_slice(&revents.to_le_bytes());
        if revents != 0 {
            ready += 1;
        }
    }
    copy_out(k, fds, &raw)?;
    Ok(ready)
}

/// select(2).
pub fn select<P: Platform>(k: &mut Kernel<P>, a: [u64; 6]) -> SysResult<u64> {
    let n = select_scan(k, a[0], a[1], a[2], a[3])?;
    if n == 0 && a[4] != 0 {
        let mut tv = [0u8; 16];
        copy_in(k, a[4], &mut tv)?;
        let sec = i64::from_le_bytes(tv[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let usec = i64::from_le_bytes(tv[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        super::time::sleep_for(
            k,
            crate::fs::Timespec {
                sec,
                nsec: usec * 1000,
            },
        );
    }
    Ok(n)
}

/// pselect6(2).
pub fn pselect6<P: Platform>(k: &mut Kernel<P>, a: [u64; 6]) -> SysResult<u64> {
    let n = select_scan(k, a[0], a[1], a[2], a[3])?;
    if n == 0 && a[4] != 0 {
        let t = super::time::read_timespec(k, a[4])?;
        super::time::sleep_for(k, t);
    }
    Ok(n)
}

fn select_scan<P: Platform>(
    k: &mut Kernel<P>,
    nfds: u64,
    rd: u64,
    wr: u64,
    ex: u64,
) -> SysResult<u64> {
    if nfds as i32 <= -1 || nfds > k.proc.nofile() {
        return Err(Errno::EINVAL);
    }
    let bytes = (nfds as usize).div_ceil(64) * 8;
    let mut count = 0u64;
    for (set, want_read) in [(rd, true), (wr, false)] {
        if set == 0 {
            continue;
        }
        let mut bits = alloc::vec![0u8; bytes];
        copy_in(k, set, &mut bits)?;
        for fd in 0..nfds {
            let (byte, bit) = ((fd / 8) as usize, fd % 8);
            if bits[byte] & (1 << bit) == 0 {
                continue;
            }
            let f = k.proc.fds.get(fd)?;
            let ok = if want_read {
                f.borrow().readable()
            } else {
                f.borrow().writable()
            };
            if ok {
                count += 1;
            } else {
                bits[byte] &= !(1 << bit);
            }
        }
        copy_out(k, set, &bits)?;
    }
    if ex != 0 {
        copy_out(k, ex, &alloc::vec![0u8; bytes])?;
    }
    Ok(count)
}

/// sendfile(2): not supported; callers fall back to read and write on EINVAL.
pub fn sendfile<P: Platform>(
    k: &mut Kernel<P>,
    out_fd: u64,
    in_fd: u64,
    _off: u64,
    _count: u64,
) -> SysResult<u64> {
    k.proc.fds.get(out_fd)?;
    k.proc.fds.get(in_fd)?;
    Err(Errno::EINVAL)
}
