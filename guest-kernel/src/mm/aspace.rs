//! A process's address space: its page-table root and VMAs, demand paging (the #PF
//! policy), stack growth, the mmap family and brk with Linux's argument rules, and
//! uaccess: every copy between the kernel and user memory walks the page tables in
//! software and faults pages in as the user access would, so a bad pointer is `EFAULT`
//! and never a kernel fault (the kernel touches user memory only through the direct map).

use alloc::vec::Vec;

use super::page_table::{self, pte};
use super::vma::{Backing, Prot, Vma, VmaName, VmaSet, STACK_GUARD_GAP};
use super::{page_down, page_up, PhysMem, MMAP_MIN_ADDR, PAGE_SIZE, USER_END};
use crate::errno::{Errno, SysResult};

/// How a faulting access used the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Access {
    /// A write.
    pub write: bool,
    /// An instruction fetch.
    pub exec: bool,
}

impl Access {
    /// A read.
    pub const READ: Access = Access {
        write: false,
        exec: false,
    };
    /// A write.
    pub const WRITE: Access = Access {
        write: true,
        exec: false,
    };
}

/// Why a user access cannot be satisfied (the SIGSEGV si_code it becomes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No mapping at the address (SEGV_MAPERR).
    MapErr,
    /// The mapping forbids the access (SEGV_ACCERR).
    AccErr,
    /// No memory to back the page.
    OutOfMemory,
}

/// The default `RLIMIT_STACK` soft limit (8 MiB).
pub const DEFAULT_STACK_LIMIT: u64 = 8 << 20;

/// mmap `flags` bits (include/uapi/asm-generic/mman-common.h, mman.h).
pub mod map {
    /// MAP_SHARED.
    pub const SHARED: u32 = 0x01;
    /// MAP_PRIVATE.
    pub const PRIVATE: u32 = 0x02;
    /// MAP_SHARED_VALIDATE.
    pub const SHARED_VALIDATE: u32 = 0x03;
    /// Mask of the mapping type.
    pub const TYPE: u32 = 0x0f;
    /// MAP_FIXED.
    pub const FIXED: u32 = 0x10;
    /// MAP_ANONYMOUS.
    pub const ANONYMOUS: u32 = 0x20;
    /// MAP_GROWSDOWN.
    pub const GROWSDOWN: u32 = 0x0100;
    /// MAP_DENYWRITE (ignored).
    pub const DENYWRITE: u32 = 0x0800;
    /// MAP_EXECUTABLE (ignored).
    pub const EXECUTABLE: u32 = 0x1000;
    /// MAP_LOCKED (ignored).
    pub const LOCKED: u32 = 0x2000;
    /// MAP_NORESERVE (ignored: memory is never reserved).
    pub const NORESERVE: u32 = 0x4000;
    /// MAP_POPULATE.
    pub const POPULATE: u32 = 0x8000;
    /// MAP_NONBLOCK (ignored).
    pub const NONBLOCK: u32 = 0x1_0000;
    /// MAP_STACK (ignored).
    pub const STACK: u32 = 0x2_0000;
    /// MAP_HUGETLB (ignored).
    pub const HUGETLB: u32 = 0x4_0000;
    /// MAP_SYNC.
    pub const SYNC: u32 = 0x8_0000;
    /// MAP_FIXED_NOREPLACE.
    pub const FIXED_NOREPLACE: u32 = 0x10_0000;
}

/// One mmap call, its arguments checked for type by the syscall layer.
#[derive(Clone, Debug)]
pub struct MmapRequest {
    /// The address hint or fixed address.
    pub addr: u64,
    /// Length in bytes (not yet rounded).
    pub len: u64,
    /// Protection.
    pub prot: Prot,
    /// `MAP_*` flags.
    pub flags: u32,
    /// What fills the pages.
    pub backing: Backing,
    /// The name /proc/self/maps shows.
    pub name: VmaName,
}

/// A user address space.
#[derive(Debug)]
pub struct AddressSpace {
    /// Physical address of the PML4.
    pub root: u64,
    /// The areas.
    pub vmas: VmaSet,
    /// Start of the brk heap.
    pub brk_start: u64,
    /// Current program break (byte granular).
    pub brk: u64,
    /// Top of the top-down mmap region.
    pub mmap_base: u64,
    /// RLIMIT_STACK soft limit: how far the stack may grow.
    pub stack_limit: u64,
}

fn pte_flags(prot: Prot) -> u64 {
    if !prot.accessible() {
        return pte::PROT_NONE;
    }
    let mut f = pte::P | pte::U;
    if prot.has(Prot::WRITE) {
        f |= pte::W;
    }
    if !prot.has(Prot::EXEC) {
        f |= pte::NX;
    }
    f
}

impl AddressSpace {
    /// An empty address space sharing the kernel half of `kernel_root`.
    pub fn new(mem: &mut impl PhysMem, kernel_root: u64) -> SysResult<Self> {
        let root = mem.alloc_frame().ok_or(Errno::ENOMEM)?;
        for i in 256..512 {
            let e = mem.read_u64(kernel_root + i * 8);
            mem.write_u64(root + i * 8, e);
        }
        Ok(AddressSpace {
            root,
            vmas: VmaSet::new(),
            brk_start: 0,
            brk: 0,
            mmap_base: USER_END,
            stack_limit: DEFAULT_STACK_LIMIT,
        })
    }

    /// Frees every frame and table of the user half and the root itself.
    pub fn destroy(self, mem: &mut impl PhysMem) {
        page_table::free_user_half(mem, self.root, true);
        mem.free_frame(self.root);
    }

    /// The #PF policy for a user access to `addr`: maps the page if an area allows it.
    pub fn handle_fault(
        &mut self,
        mem: &mut impl PhysMem,
        addr: u64,
        access: Access,
    ) -> Result<(), FaultError> {
        if addr >= USER_END {
            return Err(FaultError::MapErr);
        }
        if self.vmas.find(addr).is_none() {
            self.grow_stack(addr)?;
        }
        let vma = self.vmas.find(addr).ok_or(FaultError::MapErr)?;
        let prot = vma.prot;
        let allowed = if access.exec {
            prot.has(Prot::EXEC)
        } else if access.write {
            prot.has(Prot::WRITE)
        } else {
            prot.accessible()
        };
        if !allowed {
            return Err(FaultError::AccErr);
        }
        let page = page_down(addr);
        let flags = pte_flags(prot);
        if let Some((_, have)) = page_table::translate(mem, self.root, page) {
            // Present already: a stale TLB entry, or permissions the area does not give.
            if (!access.write || have & pte::W != 0) && (!access.exec || have & pte::NX == 0) {
                mem.flush_page(page);
                return Ok(());
            }
            return Err(FaultError::AccErr);
        }
        let frame = mem.alloc_frame().ok_or(FaultError::OutOfMemory)?;
        if let Backing::File {
            bytes,
            offset,
            zero_from,
            ..
        } = &vma.backing
        {
            let data = bytes.as_slice();
            let file_off = offset + (page - vma.start);
            let limit = zero_from.saturating_sub(page).min(PAGE_SIZE);
            let avail = (data.len() as u64).saturating_sub(file_off).min(limit);
            if avail > 0 {
                let src = &data[file_off as usize..(file_off + avail) as usize];
                mem.frame(frame)[..avail as usize].copy_from_slice(src);
            }
        }
        if page_table::map(mem, self.root, page, frame, flags).is_err() {
            mem.free_frame(frame);
            return Err(FaultError::OutOfMemory);
        }
        Ok(())
    }

    /// Extends a grows-down area (the stack) down to `addr` if the rlimit and the guard
    /// gap allow (Linux's expand_downwards).
    fn grow_stack(&mut self, addr: u64) -> Result<(), FaultError> {
        let stack = self.vmas.find_above(addr).ok_or(FaultError::MapErr)?;
        if !stack.grows_down {
            return Err(FaultError::MapErr);
        }
        let (old_start, end) = (stack.start, stack.end);
        let new_start = page_down(addr);
        if end - new_start > self.stack_limit {
            return Err(FaultError::MapErr);
        }
        if let Some(prev) = self.vmas.find_below(new_start) {
            if prev.end > new_start
                || (prev.prot.accessible() && new_start - prev.end < STACK_GUARD_GAP)
            {
                return Err(FaultError::MapErr);
            }
        }
        self.vmas.resize(old_start, new_start, end);
        Ok(())
    }

    /// The physical address of user byte `va`, faulting the page in for a read or a
    /// write as the user would; `EFAULT` if that access would fault.
    pub fn user_phys(&mut self, mem: &mut impl PhysMem, va: u64, write: bool) -> SysResult<u64> {
        if va >= USER_END {
            return Err(Errno::EFAULT);
        }
        if let Some((pa, flags)) = page_table::translate(mem, self.root, va) {
            if flags & pte::U != 0 && (!write || flags & pte::W != 0) {
                return Ok(pa);
            }
        }
        let access = if write { Access::WRITE } else { Access::READ };
        self.handle_fault(mem, va, access)
            .map_err(|_| Errno::EFAULT)?;
        match page_table::translate(mem, self.root, va) {
            Some((pa, _)) => Ok(pa),
            None => Err(Errno::EFAULT),
        }
    }

    /// Splits `[va, va + len)` into per-page physical chunks `(phys, len)`, faulting
    /// each page in; fails with `EFAULT` at the first inaccessible page.
    pub fn user_chunks<M: PhysMem>(
        &mut self,
        mem: &mut M,
        va: u64,
        len: u64,
        write: bool,
        mut f: impl FnMut(&mut M, u64, usize) -> SysResult<()>,
    ) -> SysResult<()> {
        let end = va.checked_add(len).ok_or(Errno::EFAULT)?;
        if end > USER_END {
            return Err(Errno::EFAULT);
        }
        let mut at = va;
        while at < end {
            let n = (PAGE_SIZE - (at & (PAGE_SIZE - 1))).min(end - at);
            let pa = self.user_phys(mem, at, write)?;
            f(mem, pa, n as usize)?;
            at += n;
        }
        Ok(())
    }

    /// Copies user memory at `va` into `buf`.
    pub fn copy_from_user(
        &mut self,
        mem: &mut impl PhysMem,
        va: u64,
        buf: &mut [u8],
    ) -> SysResult<()> {
        let mut done = 0usize;
        self.user_chunks(mem, va, buf.len() as u64, false, |m, pa, n| {
            let off = (pa & (PAGE_SIZE - 1)) as usize;
            buf[done..done + n].copy_from_slice(&m.frame(pa & !(PAGE_SIZE - 1))[off..off + n]);
            done += n;
            Ok(())
        })
    }

    /// Copies `data` to user memory at `va`.
    pub fn copy_to_user(&mut self, mem: &mut impl PhysMem, va: u64, data: &[u8]) -> SysResult<()> {
        let mut done = 0usize;
        self.user_chunks(mem, va, data.len() as u64, true, |m, pa, n| {
            let off = (pa & (PAGE_SIZE - 1)) as usize;
            m.frame(pa & !(PAGE_SIZE - 1))[off..off + n].copy_from_slice(&data[done..done + n]);
            done += n;
            Ok(())
        })
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL);
    /// `ENAMETOOLONG` when no NUL comes within `max` bytes.
    pub fn read_cstr(&mut self, mem: &mut impl PhysMem, va: u64, max: usize) -> SysResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = va;
        loop {
            let pa = self.user_phys(mem, at, false)?;
            let off = (pa & (PAGE_SIZE - 1)) as usize;
            let frame = mem.frame(pa & !(PAGE_SIZE - 1));
            let chunk = &frame[off..];
            match chunk.iter().position(|&b| b == 0) {
                Some(nul) => {
                    if out.len() + nul > max {
                        return Err(Errno::ENAMETOOLONG);
                    }
                    out.extend_from_slice(&chunk[..nul]);
                    return Ok(out);
                }
                None => {
                    out.extend_from_slice(chunk);
                    if out.len() > max {
                        return Err(Errno::ENAMETOOLONG);
                    }
                    at += chunk.len() as u64;
                }
            }
        }
    }

    /// Reads a user u64.
    pub fn read_u64(&mut self, mem: &mut impl PhysMem, va: u64) -> SysResult<u64> {
        let mut b = [0u8; 8];
        self.copy_from_user(mem, va, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a user u64.
    pub fn write_u64(&mut self, mem: &mut impl PhysMem, va: u64, v: u64) -> SysResult<()> {
        self.copy_to_user(mem, va, &v.to_le_bytes())
    }

    /// Unmaps `[start, end)`: areas and pages (frames freed, TLB flushed).
    pub fn unmap_range(&mut self, mem: &mut impl PhysMem, start: u64, end: u64) {
        let removed = self.vmas.remove(start, end);
        for v in removed {
            page_table::for_each_leaf(mem, self.root, v.start, v.end, &mut |m, va, e_pa, e| {
                m.write_u64(e_pa, 0);
                m.free_frame(e & pte::ADDR);
                m.flush_page(va);
            });
        }
    }

    /// Inserts an area (the caller made room), applying nothing to page tables.
    pub fn insert(&mut self, vma: Vma) {
        self.vmas.insert(vma);
    }

    /// mmap: places the area as Linux's do_mmap would and returns its address.
    pub fn mmap(&mut self, mem: &mut impl PhysMem, req: MmapRequest) -> SysResult<u64> {
        if req.len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(req.len).ok_or(Errno::ENOMEM)?;
        if len > USER_END {
            return Err(Errno::ENOMEM);
        }
        let fixed = req.flags & (map::FIXED | map::FIXED_NOREPLACE) != 0;
        let addr = if fixed {
            if req.addr & (PAGE_SIZE - 1) != 0 {
                return Err(Errno::EINVAL);
            }
            if req.addr > USER_END - len {
                return Err(Errno::ENOMEM);
            }
            if req.addr < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
            if self.vmas.overlaps(req.addr, req.addr + len) {
                if req.flags & map::FIXED_NOREPLACE != 0 {
                    return Err(Errno::EEXIST);
                }
                self.unmap_range(mem, req.addr, req.addr + len);
            }
            req.addr
        } else {
            self.place(req.addr, len)?
        };
        let vma = Vma {
            start: addr,
            end: addr + len,
            prot: req.prot,
            shared: req.flags & map::TYPE != map::PRIVATE,
            grows_down: req.flags & map::GROWSDOWN != 0,
            backing: req.backing,
            name: req.name,
        };
        self.vmas.insert(vma);
        if req.flags & map::POPULATE != 0 {
            let mut at = addr;
            while at < addr + len {
                let _ = self.handle_fault(mem, at, Access::READ);
                at += PAGE_SIZE;
            }
        }
        Ok(addr)
    }

    /// Chooses an address for a non-fixed mapping of `len` bytes: the hint if free,
    /// else the highest free gap below mmap_base, else any gap.
    fn place(&self, hint: u64, len: u64) -> SysResult<u64> {
        if hint != 0 {
            if let Some(h) = page_up(hint) {
                let free = h >= MMAP_MIN_ADDR
                    && h <= USER_END - len
                    && !self.vmas.overlaps(h, h + len)
                    && self.vmas.find_above(h + len).is_none_or(|next| {
                        !next.grows_down || h + len <= next.start.saturating_sub(STACK_GUARD_GAP)
                    });
                if free {
                    return Ok(h);
                }
            }
        }
        self.vmas
            .find_gap_topdown(len, MMAP_MIN_ADDR, self.mmap_base)
            .or_else(|| self.vmas.find_gap_topdown(len, MMAP_MIN_ADDR, USER_END))
            .ok_or(Errno::ENOMEM)
    }

    /// munmap.
    pub fn munmap(&mut self, mem: &mut impl PhysMem, addr: u64, len: u64) -> SysResult<()> {
        if addr & (PAGE_SIZE - 1) != 0 || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        if end > USER_END {
            return Err(Errno::EINVAL);
        }
        self.unmap_range(mem, addr, end);
        Ok(())
    }

    /// mprotect: the range must be mapped completely (ENOMEM otherwise).
    pub fn mprotect(
        &mut self,
        mem: &mut impl PhysMem,
        addr: u64,
        len: u64,
        prot: Prot,
    ) -> SysResult<()> {
        if addr & (PAGE_SIZE - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if end > USER_END {
            return Err(Errno::ENOMEM);
        }
        if len == 0 {
            return Ok(());
        }
        if !self.vmas.covers(addr, end) {
            return Err(Errno::ENOMEM);
        }
        self.vmas.protect(addr, end, prot);
        let flags = pte_flags(prot);
        page_table::for_each_leaf(mem, self.root, addr, end, &mut |m, va, e_pa, e| {
            m.write_u64(e_pa, (e & pte::ADDR) | flags);
            m.flush_page(va);
        });
        Ok(())
    }

    /// brk with Linux's rules: returns the new break, or the old one on failure.
    pub fn set_brk(&mut self, mem: &mut impl PhysMem, new: u64) -> u64 {
        if new < self.brk_start || new > USER_END {
            return self.brk;
        }
        let (Some(new_top), Some(old_top)) = (page_up(new), page_up(self.brk)) else {
            return self.brk;
        };
        if new_top == old_top {
            self.brk = new;
            return self.brk;
        }
        if new < self.brk {
            self.unmap_range(mem, new_top, old_top);
            self.brk = new;
            return self.brk;
        }
        // Growing: the new range must leave a page (and a stack's guard) before the next area.
        if let Some(next) = self.vmas.find_above(old_top) {
            let limit = if next.grows_down {
                next.start.saturating_sub(STACK_GUARD_GAP)
            } else {
                next.start
            };
            if new_top + PAGE_SIZE > limit {
                return self.brk;
            }
        }
        match self.vmas.find(old_top.wrapping_sub(1)) {
            Some(v) if v.name == VmaName::Heap => {
                let start = v.start;
                self.vmas.resize(start, start, new_top);
            }
            _ => self
                .vmas
                .insert(Vma::anon(old_top, new_top, Prot::RW, VmaName::Heap)),
        }
        self.brk = new;
        self.brk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::fake::FakeRam;
    use crate::mm::vma::FileBytes;

    fn space(ram: &mut FakeRam) -> AddressSpace {
        let kernel_root = ram.alloc_frame().unwrap();
        let mut a = AddressSpace::new(ram, kernel_root).unwrap();
        a.mmap_base = 0x7000_0000_0000;
        a
    }

    fn anon_req(addr: u64, len: u64, prot: Prot, flags: u32) -> MmapRequest {
        MmapRequest {
            addr,
            len,
            prot,
            flags: flags | map::PRIVATE | map::ANONYMOUS,
            backing: Backing::Anon,
            name: VmaName::None,
        }
    }

    #[test]
    fn anonymous_memory_is_zero_filled_on_first_touch_only() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        let before = ram.allocated;
        let addr = a.mmap(&mut ram, anon_req(0, 0x3000, Prot::RW, 0)).unwrap();
        assert_eq!(addr, 0x7000_0000_0000 - 0x3000, "top-down below mmap_base");
        assert_eq!(ram.allocated, before, "nothing mapped before a touch");

        a.copy_to_user(&mut ram, addr + 0xffe, b"abcd").unwrap();
        let mut back = [0u8; 6];
        a.copy_from_user(&mut ram, addr + 0xffd, &mut back).unwrap();

        assert_eq!(&back, b"\0abcd\0");
        assert_eq!(
            ram.allocated,
            before + 2 + 3,
            "two pages plus their page tables"
        );
    }

    #[test]
    fn file_pages_copy_file_bytes_and_zero_the_bss_tail() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        let data: &'static [u8] = Box::leak(vec![7u8; 0x3000].into_boxed_slice());
        a.mmap(
            &mut ram,
            MmapRequest {
                addr: 0x40_0000,
                len: 0x2000,
                prot: Prot::READ,
                flags: map::PRIVATE | map::FIXED,
                backing: Backing::File {
                    bytes: FileBytes::Static(data),
                    offset: 0x1000,
                    zero_from: 0x40_1800,
                    inode: 1,
                },
                name: VmaName::None,
            },
        )
        .unwrap();
        let mut buf = [0u8; 4];
        a.copy_from_user(&mut ram, 0x40_17fe, &mut buf).unwrap();
        assert_eq!(buf, [7, 7, 0, 0]);
        assert_eq!(
            a.copy_to_user(&mut ram, 0x40_0000, b"x"),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn prot_none_faults_and_mprotect_back_keeps_the_data() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        let addr = a.mmap(&mut ram, anon_req(0, 0x1000, Prot::RW, 0)).unwrap();
        a.copy_to_user(&mut ram, addr, b"keep").unwrap();

        a.mprotect(&mut ram, addr, 0x1000, Prot::NONE).unwrap();
        assert_eq!(
            a.handle_fault(&mut ram, addr, Access::READ),
            Err(FaultError::AccErr)
        );
        assert_eq!(
            a.copy_from_user(&mut ram, addr, &mut [0u8; 4]),
            Err(Errno::EFAULT)
        );
        assert!(ram.flushed.contains(&addr));

        a.mprotect(&mut ram, addr, 0x1000, Prot::READ).unwrap();
        let mut buf = [0u8; 4];
        a.copy_from_user(&mut ram, addr, &mut buf).unwrap();
        assert_eq!(&buf, b"keep");
        assert_eq!(
            a.handle_fault(&mut ram, addr, Access::WRITE),
            Err(FaultError::AccErr)
        );
    }

    #[test]
    fn mprotect_of_a_hole_is_enomem_and_bad_alignment_einval() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        a.mmap(&mut ram, anon_req(0x50_0000, 0x1000, Prot::RW, map::FIXED))
            .unwrap();
        assert_eq!(
            a.mprotect(&mut ram, 0x50_0000, 0x2000, Prot::READ),
            Err(Errno::ENOMEM)
        );
        assert_eq!(
            a.mprotect(&mut ram, 0x50_0001, 0x1000, Prot::READ),
            Err(Errno::EINVAL)
        );
        assert_eq!(a.mprotect(&mut ram, 0x50_0000, 0, Prot::READ), Ok(()));
    }

    #[test]
    fn munmap_returns_frames_and_splits_areas() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        let addr = a.mmap(&mut ram, anon_req(0, 0x4000, Prot::RW, 0)).unwrap();
        for p in 0..4 {
            a.copy_to_user(&mut ram, addr + p * 0x1000, b"x").unwrap();
        }
        let touched = ram.allocated;
        a.munmap(&mut ram, addr + 0x1000, 0x2000).unwrap();
        assert_eq!(ram.allocated, touched - 2);
        assert_eq!(a.vmas.len(), 2);
        assert_eq!(a.munmap(&mut ram, addr + 1, 0x1000), Err(Errno::EINVAL));
        assert_eq!(a.munmap(&mut ram, addr, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn fixed_replaces_and_fixed_noreplace_refuses() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        a.mmap(&mut ram, anon_req(0x60_0000, 0x2000, Prot::RW, map::FIXED))
            .unwrap();
        a.copy_to_user(&mut ram, 0x60_0000, b"old").unwrap();
        assert_eq!(
            a.mmap(
                &mut ram,
                anon_req(0x60_1000, 0x1000, Prot::RW, map::FIXED_NOREPLACE)
            ),
            Err(Errno::EEXIST)
        );
        a.mmap(
            &mut ram,
            anon_req(0x60_0000, 0x1000, Prot::READ, map::FIXED),
        )
        .unwrap();
        let mut buf = [9u8; 3];
        a.copy_from_user(&mut ram, 0x60_0000, &mut buf).unwrap();
        assert_eq!(buf, [0, 0, 0], "the old page was replaced by a fresh one");
        assert_eq!(
            a.mmap(&mut ram, anon_req(0x1000, 0x1000, Prot::RW, map::FIXED)),
            Err(Errno::EPERM)
        );
        assert_eq!(
            a.mmap(&mut ram, anon_req(0x60_0000, 0, Prot::RW, map::FIXED)),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn a_free_hint_is_honoured() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        assert_eq!(
            a.mmap(&mut ram, anon_req(0x1234_5678, 0x1000, Prot::RW, 0)),
            Ok(0x1234_6000)
        );
    }

    #[test]
    fn brk_grows_byte_granular_and_shrinks_freeing_pages() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        a.brk_start = 0x80_0000;
        a.brk = 0x80_0000;
        assert_eq!(a.set_brk(&mut ram, 0x7f_0000), 0x80_0000, "below the start");
        assert_eq!(a.set_brk(&mut ram, 0x80_0d00), 0x80_0d00);
        assert_eq!(a.set_brk(&mut ram, 0x82_1d00), 0x82_1d00);
        assert_eq!(a.vmas.len(), 1);
        let heap = a.vmas.find(0x80_0000).unwrap();
        assert_eq!(
            (heap.start, heap.end, heap.name.clone()),
            (0x80_0000, 0x82_2000, VmaName::Heap)
        );
        a.copy_to_user(&mut ram, 0x82_1000, b"x").unwrap();
        assert_eq!(a.set_brk(&mut ram, 0x80_1000), 0x80_1000);
        assert_eq!(a.vmas.find(0x80_0000).unwrap().end, 0x80_1000);
        assert!(a.copy_to_user(&mut ram, 0x82_1000, b"x").is_err());
        // A mapping right above the heap blocks growth into it.
        a.mmap(&mut ram, anon_req(0x90_0000, 0x1000, Prot::RW, map::FIXED))
            .unwrap();
        assert_eq!(a.set_brk(&mut ram, 0x90_0000), 0x80_1000);
    }

    #[test]
    fn stack_grows_down_within_the_limit_but_not_into_the_guard_gap() {
        let mut ram = FakeRam::new(16);
        let mut a = space(&mut ram);
        let top = 0x7fff_0000_0000;
        let mut stack = Vma::anon(top - 0x2_0000, top, Prot::RW, VmaName::Stack);
        stack.grows_down = true;
        a.insert(stack);
        a.handle_fault(&mut ram, top - 0x10_0008, Access::WRITE)
            .unwrap();
        assert_eq!(a.vmas.find(top - 1).unwrap().start, top - 0x10_1000);
        assert_eq!(
            a.handle_fault(&mut ram, top - DEFAULT_STACK_LIMIT - 8, Access::WRITE),
            Err(FaultError::MapErr)
        );
        // A mapping 512 KiB below the stack: growth may not come within the 1 MiB gap.
        let low = top - 0x20_0000;
        a.mmap(
            &mut ram,
            anon_req(low - 0x1000, 0x1000, Prot::RW, map::FIXED),
        )
        .unwrap();
        assert_eq!(
            a.handle_fault(&mut ram, low + 0x8_0000, Access::WRITE),
            Err(FaultError::MapErr)
        );
    }

    #[test]
    fn bad_user_pointers_are_efault() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        let mut buf = [0u8; 8];
        assert_eq!(
            a.copy_from_user(&mut ram, 0x1000, &mut buf),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            a.copy_from_user(&mut ram, 0xffff_8880_0000_0000, &mut buf),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            a.copy_from_user(&mut ram, u64::MAX - 3, &mut buf),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            a.copy_from_user(&mut ram, USER_END - 4, &mut buf),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn strings_cross_pages_and_respect_the_limit() {
        let mut ram = FakeRam::new(8);
        let mut a = space(&mut ram);
        let addr = a.mmap(&mut ram, anon_req(0, 0x2000, Prot::RW, 0)).unwrap();
        a.copy_to_user(&mut ram, addr + 0xffc, b"/bin/sh\0")
            .unwrap();
        assert_eq!(
            a.read_cstr(&mut ram, addr + 0xffc, 100).unwrap(),
            b"/bin/sh"
        );
        assert_eq!(
            a.read_cstr(&mut ram, addr + 0xffc, 3),
            Err(Errno::ENAMETOOLONG)
        );
    }

    #[test]
    fn destroy_returns_every_frame() {
        let mut ram = FakeRam::new(8);
        let kernel_root = ram.alloc_frame().unwrap();
        let before = ram.allocated;
        let mut a = AddressSpace::new(&mut ram, kernel_root).unwrap();
        a.mmap_base = 0x7000_0000_0000;
        let addr = a.mmap(&mut ram, anon_req(0, 0x5000, Prot::RW, 0)).unwrap();
        a.copy_to_user(&mut ram, addr, &[1u8; 0x5000]).unwrap();
        a.mprotect(&mut ram, addr, 0x1000, Prot::NONE).unwrap();
        a.destroy(&mut ram);
        assert_eq!(ram.allocated, before);
    }
}
