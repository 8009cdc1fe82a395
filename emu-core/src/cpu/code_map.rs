//! Which physical pages hold decoded code, and a generation counter per page.
//!
//! The decode cache records the generation of the page(s) a block came from;
//! a store to a code page bumps the generation, which invalidates every block
//! decoded from it in O(1) (self-modifying code, loaders, JITs in the guest).

/// Per-page code marks and generations.
#[derive(Debug, Clone)]
pub struct CodeMap {
    is_code: Vec<bool>,
    gens: Vec<u32>,
    /// Incremented by every invalidation (any page).
    pub epoch: u64,
}

impl CodeMap {
    /// A map for `pages` physical pages.
    pub fn new(pages: usize) -> Self {
        Self {
            is_code: vec![false; pages],
            gens: vec![0; pages],
            epoch: 0,
        }
    }

    /// Whether the page holding `phys` holds decoded code.
    #[inline(always)]
    pub fn is_code(&self, phys: u64) -> bool {
        self.is_code
            .get((phys >> 12) as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Marks the page holding `phys` as code; returns its generation.
    #[inline]
    pub fn mark(&mut self, phys: u64) -> u32 {
        let p = (phys >> 12) as usize;
        if let Some(c) = self.is_code.get_mut(p) {
            *c = true;
        }
        self.gens.get(p).copied().unwrap_or(0)
    }

    /// The current generation of the page holding `phys`.
    #[inline(always)]
    pub fn generation(&self, phys: u64) -> u32 {
        self.gens.get((phys >> 12) as usize).copied().unwrap_or(0)
    }

    /// Invalidates the code decoded from the page holding `phys`.
    #[inline]
    pub fn invalidate(&mut self, phys: u64) {
        self.epoch += 1;
        let p = (phys >> 12) as usize;
        if let Some(c) = self.is_code.get_mut(p) {
            *c = false;
        }
        if let Some(g) = self.gens.get_mut(p) {
            *g = g.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidation_bumps_generation_and_clears_mark() {
        let mut m = CodeMap::new(4);
        let g = m.mark(0x1abc);
        assert!(m.is_code(0x1000));
        m.invalidate(0x1fff);
        assert!(!m.is_code(0x1000));
        assert_ne!(m.generation(0x1000), g);
        assert!(!m.is_code(0x10_0000));
    }
}
