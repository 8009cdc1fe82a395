//! The x86-64 user address-space layout and its randomization, as Linux computes it
//! (arch/x86/mm/mmap.c, fs/binfmt_elf.c, mm/util.c), with every random draw taken from
//! the kernel's seeded generator. Without ASLR (`setarch -R`) the numbers are Linux's
//! exactly: stack top 0x7ffffffff000, mmap base 0x7ffff7fff000 and so on.

use crate::mm::vma::STACK_GUARD_GAP;
use crate::mm::{page_up, PAGE_SIZE, USER_END};
use crate::rng::Rng;

/// `STACK_TOP` for 64-bit tasks (`TASK_SIZE`).
pub const STACK_TOP: u64 = USER_END;

/// `ELF_ET_DYN_BASE`: two thirds of `DEFAULT_MAP_WINDOW`.
pub const ELF_ET_DYN_BASE: u64 = USER_END / 3 * 2;

/// Pages of stack-top entropy (`STACK_RND_MASK` for 64-bit: 22 bits).
pub const STACK_RND_MASK: u64 = 0x3f_ffff;

/// Bits of mmap-base entropy (`mmap_rnd_bits` default on x86-64).
pub const MMAP_RND_BITS: u32 = 28;

/// Range of the brk start's randomization (`arch_randomize_brk`: 32 MiB).
pub const BRK_RND_RANGE: u64 = 0x0200_0000;

/// Largest sub-page shift of the initial stack pointer (`arch_align_stack`: 8 KiB).
pub const STACK_ALIGN_RND: u64 = 8192;

/// How far the stack area reaches below the arguments at exec (`stack_expand`: 128 KiB).
pub const STACK_EXPAND: u64 = 128 * 1024;

/// The randomization decisions of one exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// End of the stack area (page aligned): `randomize_stack_top(STACK_TOP)`.
    pub stack_top: u64,
    /// Top of the top-down mmap region.
    pub mmap_base: u64,
    /// Bytes `arch_align_stack` subtracts below the argument strings (< 8 KiB).
    pub stack_shift: u64,
    /// Pages added to the brk start (`arch_randomize_brk`).
    pub brk_pages: u64,
}

impl Layout {
    /// Draws the layout; with `aslr` false it is Linux's `ADDR_NO_RANDOMIZE` layout.
    pub fn new(rng: &mut Rng, aslr: bool, stack_limit: u64) -> Self {
        let draw = |rng: &mut Rng, mask: u64| if aslr { rng.next_u64() & mask } else { 0 };
        let stack_rnd = draw(rng, STACK_RND_MASK) << 12;
        let mmap_rnd = draw(rng, (1 << MMAP_RND_BITS) - 1) << 12;
        let stack_shift = draw(rng, u64::MAX) % STACK_ALIGN_RND;
        let brk_pages = draw(rng, u64::MAX) % (BRK_RND_RANGE / PAGE_SIZE);
        // mmap_base(): the gap below the stack holds the stack rlimit, the guard gap and
        // the stack's own randomization range, clamped to [128 MiB, 5/6 of the space].
        let stack_max_rnd = if aslr { STACK_RND_MASK << 12 } else { 0 };
        let gap = stack_limit
            .saturating_add(STACK_GUARD_GAP + stack_max_rnd)
            .clamp(128 << 20, USER_END / 6 * 5);
        let mmap_base = (USER_END - gap - mmap_rnd) & !(PAGE_SIZE - 1);
        Layout {
            stack_top: STACK_TOP - stack_rnd,
            mmap_base,
            stack_shift,
            brk_pages,
        }
    }

    /// The brk start for a program whose highest segment ends at `elf_brk`; a static-pie
    /// program's heap starts at ELF_ET_DYN_BASE instead (Linux 5.18+).
    pub fn brk_start(&self, elf_brk: u64, static_pie: bool) -> u64 {
        let base = if static_pie { ELF_ET_DYN_BASE } else { elf_brk };
        let base = page_up(base).unwrap_or(base);
        base + self.brk_pages * PAGE_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_aslr_layout_is_linuxs_setarch_r_layout() {
        let l = Layout::new(&mut Rng::new(1), false, 8 << 20);
        assert_eq!(l.stack_top, 0x7fff_ffff_f000);
        // The mmap base of `setarch -R` on x86-64: 128 MiB (clamped gap) below the top.
        assert_eq!(l.mmap_base, 0x7fff_f7ff_f000);
        assert_eq!(l.stack_shift, 0);
        assert_eq!(l.brk_start(0x4a_c123, false), 0x4a_d000);
        assert_eq!(l.brk_start(0x4a_c123, true), 0x5555_5555_5000);
    }

    #[test]
    fn aslr_layout_stays_in_linuxs_ranges_and_follows_the_seed() {
        for seed in 0..50 {
            let l = Layout::new(&mut Rng::new(seed), true, 8 << 20);
            assert!(l.stack_top <= STACK_TOP && l.stack_top > STACK_TOP - (1 << 34));
            assert_eq!(l.stack_top % PAGE_SIZE, 0);
            assert!(l.mmap_base < l.stack_top - (8 << 20));
            assert!(l.mmap_base > USER_END - (1 << 41));
            assert!(l.stack_shift < STACK_ALIGN_RND);
            assert!(l.brk_pages < 0x2000);
        }
        let a = Layout::new(&mut Rng::new(7), true, 8 << 20);
        assert_eq!(a, Layout::new(&mut Rng::new(7), true, 8 << 20));
        assert_ne!(a, Layout::new(&mut Rng::new(8), true, 8 << 20));
    }
}
