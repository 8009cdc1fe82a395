//! Memory syscalls: mmap (anonymous and private file mappings, /dev/zero), munmap,
//! mprotect, brk, mremap, madvise, msync, mincore (arch/x86/kernel/sys_x86_64.c and
//! mm/mmap.c argument rules).

use alloc::rc::Rc;

use super::copy_out;
use crate::errno::{Errno, SysResult};
use crate::fs::node::{Content, Device, Node};
use crate::kernel::Kernel;
use crate::mm::aspace::{map, MmapRequest};
use crate::mm::page_table::{self, pte};
use crate::mm::vma::{Backing, FileBytes, Prot, Vma, VmaName};
use crate::mm::{page_up, PhysMem, PAGE_SIZE, USER_END};
use crate::platform::Platform;
use crate::process::FileKind;

/// PROT_GROWSDOWN.
const PROT_GROWSDOWN: u64 = 0x0100_0000;
/// PROT_GROWSUP.
const PROT_GROWSUP: u64 = 0x0200_0000;
/// PROT_SEM (accepted, no meaning here).
const PROT_SEM: u64 = 0x8;

fn prot_arg(prot: u64) -> SysResult<Prot> {
    if prot & !(7 | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Prot((prot & 7) as u8))
}

/// mmap(2): `a` = addr, len, prot, flags, fd, offset.
pub fn mmap<P: Platform>(k: &mut Kernel<P>, a: [u64; 6]) -> SysResult<u64> {
    let (addr, len, prot, flags, fd, off) = (a[0], a[1], a[2], a[3] as u32, a[4], a[5]);
    if off & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let prot = prot_arg(prot)?;
    match flags & map::TYPE {
        map::SHARED | map::PRIVATE | map::SHARED_VALIDATE => {}
        _ => return Err(Errno::EINVAL),
    }
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let rounded = page_up(len).ok_or(Errno::ENOMEM)?;
    if off.checked_add(rounded).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    let (backing, name) = if flags & map::ANONYMOUS != 0 {
        (Backing::Anon, VmaName::None)
    } else {
        let file = k.proc.fds.get(fd)?;
        let f = file.borrow();
        let ino = match f.kind {
            FileKind::Inode(ino) => ino,
            FileKind::Snapshot { .. } | FileKind::HostIn | FileKind::HostOut(_) => {
                return Err(Errno::ENODEV)
            }
        };
        if !f.readable() {
            return Err(Errno::EACCES);
        }
        if flags & map::TYPE != map::PRIVATE && prot.has(Prot::WRITE) && !f.writable() {
            return Err(Errno::EACCES);
        }
        match &k.vfs.inode(ino)?.node {
            Node::File(c) => {
                let bytes = match c {
                    Content::Static(s) => FileBytes::Static(s),
                    Content::Owned(v) => FileBytes::Shared(Rc::from(v.as_slice())),
                };
                (
                    Backing::File {
                        bytes,
                        offset: off,
                        zero_from: u64::MAX,
                        inode: ino,
                    },
                    VmaName::Path(f.path.clone()),
                )
            }
            Node::CharDev(Device::Zero) => (Backing::Anon, VmaName::None),
            Node::Dir { .. } => return Err(Errno::ENODEV),
            _ => return Err(Errno::ENODEV),
        }
    };
    k.proc.aspace.mmap(
        &mut k.p,
        MmapRequest {
            addr,
            len,
            prot,
            flags,
            backing,
            name,
        },
    )
}

/// munmap(2).
pub fn munmap<P: Platform>(k: &mut Kernel<P>, addr: u64, len: u64) -> SysResult<u64> {
    k.proc.aspace.munmap(&mut k.p, addr, len).map(|_| 0)
}

/// mprotect(2).
pub fn mprotect<P: Platform>(k: &mut Kernel<P>, addr: u64, len: u64, prot: u64) -> SysResult<u64> {
    if prot & PROT_GROWSDOWN != 0 && prot & PROT_GROWSUP != 0 {
        return Err(Errno::EINVAL);
    }
    let prot = prot_arg(prot)?;
    k.proc.aspace.mprotect(&mut k.p, addr, len, prot).map(|_| 0)
}

/// brk(2): returns the (new or unchanged) break.
pub fn brk<P: Platform>(k: &mut Kernel<P>, addr: u64) -> SysResult<u64> {
    Ok(k.proc.aspace.set_brk(&mut k.p, addr))
}

/// madvise(2): MADV_DONTNEED (and MADV_FREE, MADV_REMOVE) drop the pages, so the next
/// touch sees zeroes or the file again; other known advice is accepted.
pub fn madvise<P: Platform>(k: &mut Kernel<P>, addr: u64, len: u64, advice: u64) -> SysResult<u64> {
    const MADV_DONTNEED: u64 = 4;
    const MADV_FREE: u64 = 8;
    const MADV_REMOVE: u64 = 9;
    const KNOWN: [u64; 21] = [
        0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
    ];
    if addr & (PAGE_SIZE - 1) != 0 || !KNOWN.contains(&advice) {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::EINVAL)?;
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    if end > USER_END {
        return Err(Errno::ENOMEM);
    }
    if matches!(advice, MADV_DONTNEED | MADV_FREE | MADV_REMOVE) {
        if !k.proc.aspace.vmas.covers(addr, end) {
            return Err(Errno::ENOMEM);
        }
        let root = k.proc.aspace.root;
        page_table::for_each_leaf(&mut k.p, root, addr, end, &mut |m, va, e_pa, e| {
            m.write_u64(e_pa, 0);
            m.free_frame(e & pte::ADDR);
            m.flush_page(va);
        });
    }
    Ok(0)
}

/// msync(2).
pub fn msync<P: Platform>(k: &mut Kernel<P>, addr: u64, len: u64, flags: u64) -> SysResult<u64> {
    const MS_ASYNC: u64 = 1;
    const MS_INVALIDATE: u64 = 2;
    const MS_SYNC: u64 = 4;
    if addr & (PAGE_SIZE - 1) != 0
        || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == (MS_ASYNC | MS_SYNC)
    {
        return Err(Errno::EINVAL);
    }
    let end = addr
        .checked_add(page_up(len).ok_or(Errno::ENOMEM)?)
        .ok_or(Errno::ENOMEM)?;
    if !k.proc.aspace.vmas.covers(addr, end) {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

/// mincore(2): one byte per page, 1 if a frame backs it.
pub fn mincore<P: Platform>(k: &mut Kernel<P>, addr: u64, len: u64, vec: u64) -> SysResult<u64> {
    if addr & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let end = addr
        .checked_add(page_up(len).ok_or(Errno::ENOMEM)?)
        .ok_or(Errno::ENOMEM)?;
    if end > USER_END || !k.proc.aspace.vmas.covers(addr, end) {
        return Err(Errno::ENOMEM);
    }
    // In chunks, so that a huge (reserved, untouched) range needs no huge buffer.
    let root = k.proc.aspace.root;
    let mut chunk = [0u8; 512];
    let mut va = addr;
    let mut out = vec;
    while va < end {
        let n = (((end - va) / PAGE_SIZE) as usize).min(chunk.len());
        for (i, b) in chunk[..n].iter_mut().enumerate() {
            *b = u8::from(
                page_table::translate(&mut k.p, root, va + i as u64 * PAGE_SIZE).is_some(),
            );
        }
        copy_out(k, out, &chunk[..n])?;
        va += n as u64 * PAGE_SIZE;
        out += n as u64;
    }
    Ok(0)
}

/// mremap(2): `a` = old address, old size, new size, flags, new address. Shrinks in
/// place, grows in place when the space above is free, else moves (MREMAP_MAYMOVE),
/// carrying the populated pages over.
pub fn mremap<P: Platform>(k: &mut Kernel<P>, a: [u64; 6]) -> SysResult<u64> {
    const MREMAP_MAYMOVE: u64 = 1;
    const MREMAP_FIXED: u64 = 2;
    const MREMAP_DONTUNMAP: u64 = 4;
    let (old, old_size, new_size, flags, new_addr) = (a[0], a[1], a[2], a[3], a[4]);
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
        || old & (PAGE_SIZE - 1) != 0
        || (flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0)
        || flags & MREMAP_DONTUNMAP != 0
    {
        return Err(Errno::EINVAL);
    }
    let old_size = page_up(old_size).ok_or(Errno::EINVAL)?;
    let new_size = page_up(new_size).ok_or(Errno::EINVAL)?;
    if new_size == 0 || old_size == 0 {
        return Err(Errno::EINVAL);
    }
    let old_end = old.checked_add(old_size).ok_or(Errno::EINVAL)?;
    let aspace = &mut k.proc.aspace;
    let vma = aspace.vmas.find(old).cloned().ok_or(Errno::EFAULT)?;
    if old_end > vma.end {
        return Err(Errno::EFAULT);
    }
    if flags & MREMAP_FIXED == 0 {
        if new_size <= old_size {
            aspace.unmap_range(&mut k.p, old + new_size, old_end);
            return Ok(old);
        }
        // Grow in place: the area must end at old_end and the space above be free.
        let grow_end = old.checked_add(new_size).ok_or(Errno::ENOMEM)?;
        if vma.end == old_end && grow_end <= USER_END && !aspace.vmas.overlaps(old_end, grow_end) {
            aspace.vmas.resize(vma.start, vma.start, grow_end);
            return Ok(old);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
    }
    // Move: a new area with the old one's attributes, pages carried over.
    let target = if flags & MREMAP_FIXED != 0 {
        if new_addr & (PAGE_SIZE - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        let end = new_addr.checked_add(new_size).ok_or(Errno::EINVAL)?;
        if end > USER_END || (new_addr < old_end && old < end) {
            return Err(Errno::EINVAL);
        }
        aspace.unmap_range(&mut k.p, new_addr, end);
        new_addr
    } else {
        aspace
            .vmas
            .find_gap_topdown(new_size, crate::mm::MMAP_MIN_ADDR, aspace.mmap_base)
            .ok_or(Errno::ENOMEM)?
    };
    let mut moved = Vma {
        start: target,
        end: target + new_size,
        ..vma.clone()
    };
    if let Backing::File { offset, .. } = &mut moved.backing {
        *offset += old - vma.start;
    }
    let keep = old_size.min(new_size);
    let root = aspace.root;
    let mut pages = alloc::vec::Vec::new();
    page_table::for_each_leaf(&mut k.p, root, old, old + keep, &mut |m, va, e_pa, e| {
        m.write_u64(e_pa, 0);
        m.flush_page(va);
        pages.push((va - old, e));
    });
    aspace.unmap_range(&mut k.p, old, old_end);
    aspace.insert(moved);
    for (delta, e) in pages {
        let flags = e & !pte::ADDR;
        if page_table::map(
            &mut k.p,
            root,
            target + delta,
            e & pte::ADDR,
            flags & !pte::P,
        )
        .is_err()
        {
            k.p.free_frame(e & pte::ADDR);
            return Err(Errno::ENOMEM);
        }
        if flags & pte::P == 0 {
            // A PROT_NONE page: keep it not present.
            demote(&mut k.p, root, target + delta);
        }
    }
    Ok(target)
}

/// Clears P on the entry just mapped (PROT_NONE pages keep their frame).
fn demote(p: &mut impl PhysMem, root: u64, va: u64) {
    page_table::for_each_leaf(p, root, va, va + PAGE_SIZE, &mut |m, _, e_pa, e| {
        m.write_u64(e_pa, (e & pte::ADDR) | pte::PROT_NONE);
    });
}
