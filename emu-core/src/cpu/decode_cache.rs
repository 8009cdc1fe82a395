//! The decoded-instruction cache: basic blocks of pre-decoded instructions
//! with their handlers resolved once, keyed by virtual RIP and validated
//! against the physical page and its code generation.
//!
//! A block ends after a control-transfer instruction, at the end of a page,
//! or after `MAX_BLOCK_OPS` instructions. An instruction that crosses a page
//! boundary forms a block of its own that depends on both pages. Blocks live
//! in one arena; when it fills up everything is dropped and decoded afresh.

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction};

use super::core::Core;
use super::exception::Exception;
use super::exec::{self, Handler};
use crate::mmu::Access;

/// Most instructions in one block.
pub const MAX_BLOCK_OPS: usize = 64;
const TABLE_SIZE: usize = 1 << 14;
const ARENA_LIMIT: usize = 1 << 20;
const NO_PAGE: u64 = u64::MAX;

/// One decoded instruction and its handler.
#[derive(Clone, Copy)]
pub struct Op {
    /// The decoded instruction.
    pub insn: Instruction,
    /// Its handler.
    pub handler: Handler,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Op({:?} @ {:#x})", self.insn.code(), self.insn.ip())
    }
}

/// A basic block.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    /// Virtual address of the first instruction.
    pub rip: u64,
    /// Highest address just past any instruction of the block.
    pub end: u64,
    /// Lowest instruction address (below `rip` when a jump was followed backwards).
    pub lo: u64,
    /// Physical address of the first byte.
    pub phys: u64,
    /// Generation of the first page when decoded.
    pub gen: u32,
    /// Physical page of the second page for a page-crossing instruction.
    pub phys2: u64,
    /// Generation of that second page.
    pub gen2: u32,
    /// First op in the arena.
    pub start: u32,
    /// Number of ops.
    pub len: u32,
    /// Successor links: (rip, block index) of blocks that followed this one.
    links: [(u64, u32); 2],
    /// The `link_key` under which `links` were recorded.
    link_key: u64,
}

/// The cache.
#[derive(Debug)]
pub struct DecodeCache {
    /// All ops of all blocks.
    pub ops: Vec<Op>,
    /// All blocks.
    pub blocks: Vec<Block>,
    /// Direct-mapped RIP -> block index + 1 (0 = empty).
    table: Box<[u32]>,
    /// Decoded blocks (statistics).
    pub decoded_blocks: u64,
    /// Number of `clear`s (part of the link key).
    clears: u64,
}

impl Default for DecodeCache {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
fn slot(rip: u64) -> usize {
    ((rip ^ (rip >> 14)) as usize) & (TABLE_SIZE - 1)
}

impl DecodeCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            ops: Vec::with_capacity(4096),
            blocks: Vec::with_capacity(256),
            table: vec![0u32; TABLE_SIZE].into_boxed_slice(),
            decoded_blocks: 0,
            clears: 0,
        }
    }

    /// Drops every block.
    pub fn clear(&mut self) {
        self.clears += 1;
        self.ops.clear();
        self.blocks.clear();
        self.table.fill(0);
    }

    /// The key under which block links stay valid: it changes with every TLB
    /// flush, code invalidation, cache clear and privilege change.
    #[inline(always)]
    pub fn link_key(&self, core: &Core) -> u64 {
        core.mmu
            .generation()
            .wrapping_add(core.code.epoch)
            .wrapping_add(self.clears)
            .wrapping_mul(4)
            .wrapping_add(u64::from(core.cpl))
    }

    /// The block at `rip` if block `prev` recorded it as a successor under `key`.
    #[inline(always)]
    pub fn linked(&self, prev: u32, rip: u64, key: u64) -> Option<u32> {
        let b = self.blocks.get(prev as usize)?;
        if b.link_key != key {
            return None;
        }
        if b.links[0].0 == rip {
            Some(b.links[0].1)
        } else if b.links[1].0 == rip {
            Some(b.links[1].1)
        } else {
            None
        }
    }

    /// Records that block `next` (at `rip`) followed block `prev`.
    #[inline]
    pub fn link(&mut self, prev: u32, rip: u64, next: u32, key: u64) {
        if let Some(b) = self.blocks.get_mut(prev as usize) {
            if b.link_key != key {
                b.link_key = key;
                b.links = [(u64::MAX, 0); 2];
            }
            // Keep the most recent two successors (taken / fall-through).
            b.links[1] = b.links[0];
            b.links[0] = (rip, next);
        }
    }

    /// The block starting at `core.rip`, decoding it if needed. Fails with the
    /// fetch fault (#PF with the I/D bit) when the code is not executable.
    #[inline(always)]
    pub fn block_at(&mut self, core: &mut Core) -> Result<u32, Exception> {
        let rip = core.rip;
        let p = core.privilege();
        let phys = core.mmu.translate(&mut core.ram, rip, Access::Execute, p)?;
        let idx = self.table[slot(rip)];
        if idx != 0 {
            let b = &self.blocks[(idx - 1) as usize];
            if b.rip == rip
                && b.phys == phys
                && core.code.generation(phys) == b.gen
                && (b.phys2 == NO_PAGE || core.code.generation(b.phys2) == b.gen2)
            {
                return Ok(idx - 1);
            }
        }
        self.decode(core, rip, phys)
    }

    #[cold]
    #[inline(never)]
    fn decode(&mut self, core: &mut Core, rip: u64, phys: u64) -> Result<u32, Exception> {
        if self.ops.len() + MAX_BLOCK_OPS > ARENA_LIMIT {
            self.clear();
        }
        self.decoded_blocks += 1;
        // The whole page is decoded from one buffer, so that direct jumps and
        // calls to targets in the same page can be followed inside the block.
        let page = rip & !0xfff;
        let page_phys = phys & !0xfff;
        let mut buf = [0u8; 4096];
        match core.ram.slice(page_phys, 4096) {
            Some(s) => buf.copy_from_slice(s),
            None => buf.fill(0xff),
        }
        let gen = core.code.mark(phys);
        let start = self.ops.len() as u32;
        let mut decoder = Decoder::with_ip(64, &buf, page, DecoderOptions::NONE);
        let mut at = rip;
        let _ = decoder.set_position((rip & 0xfff) as usize);
        decoder.set_ip(rip);
        let mut insn = Instruction::default();
        let mut end = rip;
        let mut followed = false;
        let mut phys2 = NO_PAGE;
        let mut gen2 = 0;
        while decoder.can_decode() && self.ops.len() - (start as usize) < MAX_BLOCK_OPS {
            let pos = decoder.position();
            decoder.decode_out(&mut insn);
            if decoder.last_error() == iced_x86::DecoderError::NoMoreBytes {
                // The instruction runs into the next page.
                if self.ops.len() > start as usize {
                    break;
                }
                let next = page.wrapping_add(0x1000);
                let p = core.privilege();
                let next_phys = core
                    .mmu
                    .translate(&mut core.ram, next, Access::Execute, p)?;
                let avail = (4096 - pos).min(15);
                let mut tail = [0u8; 15];
                tail[..avail].copy_from_slice(&buf[pos..pos + avail]);
                for (k, b) in tail[avail..].iter_mut().enumerate() {
                    *b = core
                        .ram
                        .slice(next_phys + k as u64, 1)
                        .map_or(0xff, |s| s[0]);
                }
                gen2 = core.code.mark(next_phys);
                phys2 = next_phys & !0xfff;
                let mut d2 = Decoder::with_ip(64, &tail, at, DecoderOptions::NONE);
                d2.decode_out(&mut insn);
                self.push_op(&insn);
                end = insn.next_ip();
                break;
            }
            self.push_op(&insn);
            end = insn.next_ip();
            at = end;
            if insn.flow_control() == FlowControl::Next {
                continue;
            }
            // Follow a direct jmp/call whose target is in this page.
            let direct = matches!(
                insn.code(),
                Code::Jmp_rel8_64 | Code::Jmp_rel32_64 | Code::Call_rel32_64
            );
            let target = insn.near_branch_target();
            if direct && target & !0xfff == page {
                let _ = decoder.set_position((target & 0xfff) as usize);
                decoder.set_ip(target);
                at = target;
                followed = true;
                continue;
            }
            break;
        }
        if followed {
            // Not one contiguous range: `end` becomes the highest end of any op,
            // and `rip` stays the entry; `lo` below is the lowest op address.
            end = self.ops[start as usize..]
                .iter()
                .map(|op| op.insn.next_ip())
                .max()
                .unwrap_or(end);
        }
        let lo = self.ops[start as usize..]
            .iter()
            .map(|op| op.insn.ip())
            .min()
            .unwrap_or(rip);
        let block = Block {
            rip,
            end,
            lo,
            phys,
            gen,
            phys2,
            gen2,
            start,
            len: self.ops.len() as u32 - start,
            links: [(u64::MAX, 0); 2],
            link_key: u64::MAX,
        };
        let idx = self.blocks.len() as u32;
        self.blocks.push(block);
        self.table[slot(rip)] = idx + 1;
        Ok(idx)
    }

    fn push_op(&mut self, insn: &Instruction) {
        self.ops.push(Op {
            insn: *insn,
            handler: exec::resolve(insn),
        });
    }
}
