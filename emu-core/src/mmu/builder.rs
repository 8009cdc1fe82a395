//! Host-side construction of 4-level page tables in guest RAM, for the
//! library API (`Cpu::map`) and tests. The guest kernel builds its own tables;
//! this is the "loader" view: frames come from a bump allocator over RAM.

use super::walk::{is_canonical, pte};
use crate::error::Error;
use crate::memory::{GuestRam, PAGE_SIZE};

/// Page protection for a host-created mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prot {
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
    /// Accessible from CPL 3.
    pub user: bool,
}

impl Prot {
    /// User read-only data.
    pub const R: Prot = Prot {
        write: false,
        exec: false,
        user: true,
    };
    /// User read-write data.
    pub const RW: Prot = Prot {
        write: true,
        exec: false,
        user: true,
    };
    /// User code.
    pub const RX: Prot = Prot {
        write: false,
        exec: true,
        user: true,
    };
    /// User writable code.
    pub const RWX: Prot = Prot {
        write: true,
        exec: true,
        user: true,
    };
}

/// Hands out zeroed physical frames, bottom-up, from a RAM range.
#[derive(Debug, Clone)]
pub struct FrameAllocator {
    next: u64,
    end: u64,
}

impl FrameAllocator {
    /// Allocates from `[start, end)` (both page aligned).
    pub fn new(start: u64, end: u64) -> Self {
        Self { next: start, end }
    }

    /// A fresh zeroed frame.
    pub fn alloc(&mut self, ram: &mut GuestRam) -> Result<u64, Error> {
        if self.next + PAGE_SIZE > self.end {
            return Err(Error::OutOfFrames);
        }
        let frame = self.next;
        self.next += PAGE_SIZE;
        let bytes = ram
            .slice_mut(frame, PAGE_SIZE as usize)
            .ok_or(Error::OutOfFrames)?;
        bytes.fill(0);
        Ok(frame)
    }

    /// The first frame not yet handed out.
    pub fn next_free(&self) -> u64 {
        self.next
    }
}

/// Maps `[vaddr, vaddr + len)` with 4 KiB pages under the PML4 at `cr3`.
/// Pages already mapped keep their frame and get the new protection.
pub fn map_range(
    ram: &mut GuestRam,
    frames: &mut FrameAllocator,
    cr3: u64,
    vaddr: u64,
    len: u64,
    prot: Prot,
) -> Result<(), Error> {
    let bad = |reason| Error::BadMapping {
        addr: vaddr,
        len,
        reason,
    };
    if !vaddr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(bad("address and length must be non-zero multiples of 4096"));
    }
    let last = vaddr
        .checked_add(len - 1)
        .ok_or_else(|| bad("range wraps"))?;
    if !is_canonical(vaddr) || !is_canonical(last) || (vaddr as i64 >= 0) != (last as i64 >= 0) {
        return Err(bad("range is not canonical"));
    }
    let mut page = vaddr;
    loop {
        map_page(ram, frames, cr3, page, prot)?;
        if page == last & !(PAGE_SIZE - 1) {
            return Ok(());
        }
        page += PAGE_SIZE;
    }
}

fn map_page(
    ram: &mut GuestRam,
    frames: &mut FrameAllocator,
    cr3: u64,
    vaddr: u64,
    prot: Prot,
) -> Result<(), Error> {
    let mut table = cr3 & pte::ADDR;
    for level in 0..3 {
        let index = (vaddr >> (39 - 9 * level)) & 0x1ff;
        let slot = table + index * 8;
        let entry = ram.read_u64(slot).ok_or(Error::OutOfFrames)?;
        table = if entry & pte::P != 0 {
            entry & pte::ADDR
        } else {
            let frame = frames.alloc(ram)?;
            ram.write_u64(slot, frame | pte::P | pte::RW | pte::US);
            frame
        };
    }
    let slot = table + ((vaddr >> 12) & 0x1ff) * 8;
    let old = ram.read_u64(slot).ok_or(Error::OutOfFrames)?;
    let frame = if old & pte::P != 0 {
        old & pte::ADDR
    } else {
        frames.alloc(ram)?
    };
    let mut entry = frame | pte::P;
    if prot.write {
        entry |= pte::RW;
    }
    if prot.user {
        entry |= pte::US;
    }
    if !prot.exec {
        entry |= pte::NX;
    }
    ram.write_u64(slot, entry);
    Ok(())
}
