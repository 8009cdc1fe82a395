//! The kernel's one source of guest-visible randomness: a ChaCha8 keystream seeded from
//! `BootInfo::seed` (ASLR, AT_RANDOM, getrandom, /dev/urandom all draw from it, in the
//! order the guest asks, so a run is reproducible from its seed).
//!
//! The block function is ChaCha as RFC 8439 section 2.3 defines it (tested with 20 rounds
//! against the RFC's vector); the generator runs 8 rounds with a 64-bit block counter
//! (words 12-13) and a zero nonce. The 256-bit key is the seed expanded with SplitMix64.

/// ChaCha's constant words: "expand 32-byte k" (RFC 8439 2.3).
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Rounds of the generator (ChaCha8: four double rounds).
pub const GENERATOR_ROUNDS: u32 = 8;

#[inline(always)]
fn quarter_round(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// The ChaCha block function: `rounds` rounds (even) over `input`, plus the input.
pub fn chacha_block(input: &[u32; 16], rounds: u32) -> [u32; 16] {
    let mut s = *input;
    for _ in 0..rounds / 2 {
        quarter_round(&mut s, 0, 4, 8, 12);
        quarter_round(&mut s, 1, 5, 9, 13);
        quarter_round(&mut s, 2, 6, 10, 14);
        quarter_round(&mut s, 3, 7, 11, 15);
        quarter_round(&mut s, 0, 5, 10, 15);
        quarter_round(&mut s, 1, 6, 11, 12);
        quarter_round(&mut s, 2, 7, 8, 13);
        quarter_round(&mut s, 3, 4, 9, 14);
    }
    for (out, inp) in s.iter_mut().zip(input) {
        *out = out.wrapping_add(*inp);
    }
    s
}

/// SplitMix64 step (Steele, Lea, Flood 2014): expands the 64-bit seed into the key.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seeded keystream generator.
#[derive(Clone, Debug)]
pub struct Rng {
    state: [u32; 16],
    buf: [u8; 64],
    used: usize,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; 16];
        state[..4].copy_from_slice(&SIGMA);
        let mut sm = seed;
        for pair in state[4..12].chunks_exact_mut(2) {
            let k = splitmix64(&mut sm);
            pair[0] = k as u32;
            pair[1] = (k >> 32) as u32;
        }
        Rng {
            state,
            buf: [0; 64],
            used: 64,
        }
    }

    fn refill(&mut self) {
        let block = chacha_block(&self.state, GENERATOR_ROUNDS);
        for (chunk, word) in self.buf.chunks_exact_mut(4).zip(block) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let counter = (u64::from(self.state[13]) << 32 | u64::from(self.state[12])).wrapping_add(1);
        self.state[12] = counter as u32;
        self.state[13] = (counter >> 32) as u32;
        self.used = 0;
    }

    /// Fills `out` with the next bytes of the keystream.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            if self.used == 64 {
                self.refill();
            }
            let n = (64 - self.used).min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.buf[self.used..self.used + n]);
            self.used += n;
            done += n;
        }
    }

    /// The next 64 bits of the keystream (little-endian).
    pub fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_function_matches_rfc8439_section_2_3_2() {
        // Key 00 01 .. 1f, counter 1, nonce 00 00 00 09 00 00 00 4a 00 00 00 00.
        let mut input = [0u32; 16];
        input[..4].copy_from_slice(&SIGMA);
        for i in 0..8 {
            let b = (4 * i) as u8;
            input[4 + i] = u32::from_le_bytes([b, b + 1, b + 2, b + 3]);
        }
        input[12] = 1;
        input[13] = 0x0900_0000;
        input[14] = 0x4a00_0000;
        input[15] = 0;

        let out = chacha_block(&input, 20);

        assert_eq!(
            out,
            [
                0xe4e7_f110,
                0x1559_3bd1,
                0x1fdd_0f50,
                0xc471_20a3,
                0xc7f4_d1c7,
                0x0368_c033,
                0x9aaa_2204,
                0x4e6c_d4c3,
                0x4664_82d2,
                0x09aa_9f07,
                0x05d7_c214,
                0xa202_8bd9,
                0xd19c_12b5,
                0xb94e_16de,
                0xe883_d0cb,
                0x4e3c_50a2,
            ]
        );
    }

    #[test]
    fn same_seed_same_stream_and_chunking_does_not_matter() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let mut whole = [0u8; 200];
        a.fill(&mut whole);
        let mut pieces = [0u8; 200];
        for chunk in pieces.chunks_mut(7) {
            b.fill(chunk);
        }
        assert_eq!(whole, pieces);
        assert_ne!(whole[..64], whole[64..128], "the counter advances");
    }

    #[test]
    fn different_seeds_differ() {
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
