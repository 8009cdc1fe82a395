//! The software MMU: 4-level paging (SDM Vol. 3A, 4.5) with 4 KiB, 2 MiB and
//! 1 GiB pages, permission checks (U/S, R/W with CR0.WP, NX with EFER.NXE,
//! SMEP, SMAP), A/D bit updates and #PF error codes, behind a TLB.
//!
//! `Mmu::translate` is the only path from a virtual address to guest RAM for
//! the CPU. The MMU keeps its own copy of the paging controls (CR0, CR3, CR4,
//! EFER); the CPU calls the `set_*` methods whenever those registers change.

pub mod builder;
mod tlb;
mod walk;

pub use tlb::Tlb;
pub use walk::is_canonical;

use crate::cpu::exception::Exception;
use crate::memory::GuestRam;

/// The kind of a memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Access {
    /// A data read.
    Read = 0,
    /// A data write.
    Write = 1,
    /// An instruction fetch.
    Execute = 2,
}

/// Who performs the access (SDM Vol. 3A, 4.6: user-mode vs supervisor-mode access).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// CPL 0-2, or an implicit supervisor access.
    Supervisor,
    /// CPL 3.
    User,
}

/// CR0 bits used by paging.
pub mod cr0 {
    /// Protection enable.
    pub const PE: u64 = 1 << 0;
    /// Monitor coprocessor.
    pub const MP: u64 = 1 << 1;
    /// x87 emulation.
    pub const EM: u64 = 1 << 2;
    /// Task switched.
    pub const TS: u64 = 1 << 3;
    /// Extension type (always 1).
    pub const ET: u64 = 1 << 4;
    /// Numeric error (#MF instead of IRQ13).
    pub const NE: u64 = 1 << 5;
    /// Write protect: supervisor writes honour R/W.
    pub const WP: u64 = 1 << 16;
    /// Alignment mask (with RFLAGS.AC at CPL 3: #AC).
    pub const AM: u64 = 1 << 18;
    /// Paging.
    pub const PG: u64 = 1 << 31;
}

/// CR4 bits used by paging.
pub mod cr4 {
    /// Page size extensions.
    pub const PSE: u64 = 1 << 4;
    /// Physical address extension (required in long mode).
    pub const PAE: u64 = 1 << 5;
    /// Global pages.
    pub const PGE: u64 = 1 << 7;
    /// FXSAVE/FXRSTOR and SSE enabled.
    pub const OSFXSR: u64 = 1 << 9;
    /// Unmasked SIMD exceptions raise #XM.
    pub const OSXMMEXCPT: u64 = 1 << 10;
    /// FSGSBASE instructions.
    pub const FSGSBASE: u64 = 1 << 16;
    /// XSAVE and XGETBV enabled.
    pub const OSXSAVE: u64 = 1 << 18;
    /// Supervisor-mode execution prevention.
    pub const SMEP: u64 = 1 << 20;
    /// Supervisor-mode access prevention.
    pub const SMAP: u64 = 1 << 21;
}

/// EFER bits.
pub mod efer {
    /// System call extensions (syscall/sysret).
    pub const SCE: u64 = 1 << 0;
    /// Long mode enable.
    pub const LME: u64 = 1 << 8;
    /// Long mode active.
    pub const LMA: u64 = 1 << 10;
    /// No-execute enable.
    pub const NXE: u64 = 1 << 11;
}

/// #PF error-code bits (SDM Vol. 3A, 4.7).
pub mod pf {
    /// The fault was a protection violation (the page was present).
    pub const PRESENT: u32 = 1 << 0;
    /// The access was a write.
    pub const WRITE: u32 = 1 << 1;
    /// The access was a user-mode access.
    pub const USER: u32 = 1 << 2;
    /// A reserved bit was set in a paging-structure entry.
    pub const RSVD: u32 = 1 << 3;
    /// The access was an instruction fetch.
    pub const INSTR: u32 = 1 << 4;
}

/// Number of physical address bits (CPUID 0x8000_0008 EAX bits 7:0).
pub const MAX_PHYS_BITS: u32 = 40;

/// The MMU: paging controls plus the TLB.
#[derive(Debug)]
pub struct Mmu {
    tlb: Tlb,
    cr0: u64,
    cr3: u64,
    cr4: u64,
    efer: u64,
    /// RFLAGS.AC, consulted for SMAP.
    ac: bool,
}

impl Default for Mmu {
    fn default() -> Self {
        Self::new()
    }
}

impl Mmu {
    /// An MMU with paging disabled.
    pub fn new() -> Self {
        Self {
            tlb: Tlb::new(),
            cr0: cr0::ET,
            cr3: 0,
            cr4: 0,
            efer: 0,
            ac: false,
        }
    }

    /// Current CR0.
    pub fn cr0(&self) -> u64 {
        self.cr0
    }
    /// Current CR3.
    pub fn cr3(&self) -> u64 {
        self.cr3
    }
    /// Current CR4.
    pub fn cr4(&self) -> u64 {
        self.cr4
    }
    /// Current EFER.
    pub fn efer(&self) -> u64 {
        self.efer
    }

    /// Writes CR0; a change of PG or WP flushes the TLB (SDM Vol. 3A, 4.10.4.1).
    pub fn set_cr0(&mut self, value: u64) {
        if (value ^ self.cr0) & (cr0::PG | cr0::WP | cr0::PE) != 0 {
            self.tlb.flush_all();
        }
        self.cr0 = value;
    }

    /// Writes CR3: flushes non-global translations.
    pub fn set_cr3(&mut self, value: u64) {
        self.cr3 = value;
        self.tlb.flush_non_global();
    }

    /// Writes CR4; a change of PGE, PAE, PSE, SMEP or SMAP flushes everything.
    pub fn set_cr4(&mut self, value: u64) {
        let watched = cr4::PGE | cr4::PAE | cr4::PSE | cr4::SMEP | cr4::SMAP;
        if (value ^ self.cr4) & watched != 0 {
            self.tlb.flush_all();
        }
        self.cr4 = value;
    }

    /// Writes EFER; a change of NXE flushes the TLB.
    pub fn set_efer(&mut self, value: u64) {
        if (value ^ self.efer) & efer::NXE != 0 {
            self.tlb.flush_all();
        }
        self.efer = value;
    }

    /// Updates the RFLAGS.AC copy used by SMAP; a change flushes supervisor data entries.
    pub fn set_ac(&mut self, ac: bool) {
        if ac != self.ac && self.cr4 & cr4::SMAP != 0 {
            self.tlb.flush_all();
        }
        self.ac = ac;
    }

    /// `invlpg`: drops the translations of the page holding `vaddr`.
    pub fn invlpg(&mut self, vaddr: u64) {
        self.tlb.flush_page(vaddr);
    }

    /// Drops every cached translation.
    pub fn flush_tlb(&mut self) {
        self.tlb.flush_all();
    }

    /// Changes whenever any translation may have changed (every TLB flush).
    #[inline(always)]
    pub fn generation(&self) -> u64 {
        self.tlb.generation
    }

    /// Whether paging is on.
    #[inline(always)]
    pub fn paging(&self) -> bool {
        self.cr0 & cr0::PG != 0
    }

    /// Translates `vaddr` for `access` by `privilege` into a guest physical
    /// address, walking the page tables on a TLB miss.
    #[inline(always)]
    pub fn translate(
        &mut self,
        ram: &mut GuestRam,
        vaddr: u64,
        access: Access,
        privilege: Privilege,
    ) -> Result<u64, Exception> {
        let slot = access as usize * 2 + (privilege == Privilege::User) as usize;
        if let Some(phys) = self.tlb.lookup(slot, vaddr) {
            return Ok(phys);
        }
        self.translate_slow(ram, vaddr, access, privilege, slot)
    }

    #[cold]
    #[inline(never)]
    fn translate_slow(
        &mut self,
        ram: &mut GuestRam,
        vaddr: u64,
        access: Access,
        privilege: Privilege,
        slot: usize,
    ) -> Result<u64, Exception> {
        if !self.paging() {
            return Ok(vaddr);
        }
        let walk = walk::walk(self, ram, vaddr, access, privilege)?;
        self.tlb
            .insert(slot, vaddr, walk.frame_of(vaddr), walk.global, walk.large);
        Ok(walk.phys(vaddr))
    }

    /// Translates without filling the TLB or setting A/D bits (debuggers, traces).
    pub fn probe(
        &self,
        ram: &GuestRam,
        vaddr: u64,
        access: Access,
        privilege: Privilege,
    ) -> Option<u64> {
        if !self.paging() {
            return Some(vaddr);
        }
        walk::probe(self, ram, vaddr, access, privilege)
    }
}
