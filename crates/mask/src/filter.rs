//! The hot loop: a hashed filter of pattern windows, tested at sampled
//! positions of the text.
//!
//! The filter is a Bloom filter with two bits per window, both in one
//! 64-bit word (a blocked Bloom filter: testing or setting both is one
//! memory access). The scan tests the first bit of eight samples at once,
//! with one branch per eight; only when one hits are both bits tested, so
//! that exact lookups are rare.

use zeroize::Zeroize;

/// Multiplier of the window hash (an odd 64-bit constant).
const HASH_1: u64 = 0x9E37_79B9_7F4A_7C15;

/// Filter bits per stored window. At this density the first bit is set for
/// about 3 % of unrelated windows and both for about 0.1 %; denser filters
/// measured slower, as every first-bit hit costs a recheck of its batch.
const BITS_PER_KEY: usize = 64;

/// Largest filter, in bits (4 MiB: measured best for 1,000 secrets, about
/// 500,000 windows, which it keeps to a few % of false first-bit hits;
/// larger sets get more false hits, smaller ones get smaller filters).
const MAX_BITS: u32 = 25;

/// Smallest filter, in bits.
const MIN_BITS: u32 = 12;

/// `BIT[n]` has bit `n` set. A table lookup is cheaper than a shift by a
/// variable amount.
const BIT: [u64; 64] = {
    let mut t = [0u64; 64];
    let mut n = 0;
    while n < 64 {
        t[n] = 1 << n;
        n += 1;
    }
    t
};

/// Hash of a window for the exact lookup table.
pub(crate) fn hash(key: u64) -> u64 {
    key.wrapping_mul(HASH_1)
}

/// The inverse of [`hash`]: multiplying by the inverse of `HASH_1` modulo
/// 2^64 (Newton's iteration; each step doubles the correct low bits, from
/// 3 for any odd number).
pub(crate) fn unhash(h: u64) -> u64 {
    const INVERSE: u64 = {
        let mut x = HASH_1;
        let mut n = 0;
        while n < 5 {
            x = x.wrapping_mul(2u64.wrapping_sub(HASH_1.wrapping_mul(x)));
            n += 1;
        }
        x
    };
    h.wrapping_mul(INVERSE)
}

/// The first `window` bytes of `bytes` as a little-endian integer, or `None`
/// if there are fewer.
pub(crate) fn load(bytes: &[u8], window: usize) -> Option<u64> {
    let w = bytes.get(..window)?;
    let mut a = [0u8; 8];
    a.get_mut(..window)?.copy_from_slice(w);
    Some(u64::from_le_bytes(a))
}

/// `ceil(log2(n))`, at least `lo`, at most `hi`.
pub(crate) fn bits_for(n: usize, lo: u32, hi: u32) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros().clamp(lo, hi)
}

/// Word and bit of a hash in a filter of `words + 1` words (a power of two,
/// at most `2^MAX_BITS` bits), from the hash's top bits: a shift by a
/// constant keeps the hot loop short.
#[inline(always)]
fn slot(h: u64, words: usize) -> (usize, usize) {
    let bit = h >> (64 - MAX_BITS);
    ((bit >> 6) as usize & words, (bit & 63) as usize)
}

/// The word of a hash and its two bits there: the first from the top bits
/// (as the scan tests it), the second from bits below those. Both bits in
/// one word make a second test, and an insertion, one memory access; with
/// two bits per window the false hits barely rise.
#[inline(always)]
fn both(h: u64, words: usize) -> (usize, u64) {
    let (word, bit) = slot(h, words);
    let second = (h >> (64 - MAX_BITS - 6)) & 63;
    (word, BIT[bit] | BIT[second as usize])
}

/// A Bloom filter of windows, and the sampling loop over it.
#[derive(Clone)]
pub(crate) struct Filter {
    bits: Vec<u64>,
    /// Keeps the bytes of the window that form the key.
    mask: u64,
}

impl Filter {
    /// A filter for `keys` distinct windows of `window` bytes.
    pub(crate) fn new(keys: usize, window: usize) -> Self {
        let bits = bits_for(keys * BITS_PER_KEY, MIN_BITS, MAX_BITS);
        let mask = if window >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * window)) - 1
        };
        Self {
            bits: vec![0; (1usize << bits) / 64],
            mask,
        }
    }

    /// How many distinct windows this filter was sized for; `None` when it
    /// is as large as filters get.
    pub(crate) fn room(&self) -> Option<usize> {
        let bits = 64 * self.bits.len();
        (bits < 1 << MAX_BITS).then_some(bits / BITS_PER_KEY)
    }

    /// Bytes allocated.
    pub(crate) fn allocated(&self) -> usize {
        8 * self.bits.len()
    }

    pub(crate) fn insert(&mut self, key: u64) {
        let words = self.bits.len() - 1;
        let (word, bits) = both(key.wrapping_mul(HASH_1), words);
        if let Some(w) = self.bits.get_mut(word) {
            *w |= bits;
        }
    }

    /// Both bits: whether `key` may be a stored window.
    fn contains(&self, key: u64) -> bool {
        let words = self.bits.len().saturating_sub(1);
        let (word, bits) = both(key.wrapping_mul(HASH_1), words);
        self.bits.get(word).is_some_and(|w| w & bits == bits)
    }

    /// Tests the samples `start, start + stride, ...` below `limit` (each
    /// must have 8 readable bytes) and collects `(position, key)` of those
    /// that may hold a stored window. Returns the first sample not tested.
    #[inline(never)]
    pub(crate) fn sample(
        &self,
        hay: &[u8],
        start: usize,
        limit: usize,
        stride: usize,
        candidates: &mut Vec<(usize, u64)>,
    ) -> usize {
        // A constant stride lets the compiler unroll each batch and drop
        // every bounds check in it.
        let i = match stride {
            1 => self.batches::<1>(hay, start, limit, candidates),
            2 => self.batches::<2>(hay, start, limit, candidates),
            3 => self.batches::<3>(hay, start, limit, candidates),
            4 => self.batches::<4>(hay, start, limit, candidates),
            5 => self.batches::<5>(hay, start, limit, candidates),
            6 => self.batches::<6>(hay, start, limit, candidates),
            7 => self.batches::<7>(hay, start, limit, candidates),
            _ => self.batches::<8>(hay, start, limit, candidates),
        };
        let mut i = i;
        while i < limit {
            let Some(key) = hay.get(i..).and_then(|w| load(w, 8)) else {
                break;
            };
            let key = key & self.mask;
            if self.contains(key) {
                candidates.push((i, key));
            }
            i += stride;
        }
        i
    }

    /// Tests the windows of fewer than 8 bytes at the end of the text, one
    /// by one.
    pub(crate) fn sample_tail(
        &self,
        hay: &[u8],
        mut i: usize,
        limit: usize,
        stride: usize,
        window: usize,
        candidates: &mut Vec<(usize, u64)>,
    ) -> usize {
        while i < limit {
            let Some(key) = hay.get(i..).and_then(|w| load(w, window)) else {
                break;
            };
            if self.contains(key) {
                candidates.push((i, key));
            }
            i += stride;
        }
        i
    }

    /// Eight samples per round from one 64-byte block, with one branch per
    /// round for the common case where none hits, so that the processor
    /// overlaps their independent loads.
    #[inline(always)]
    fn batches<const S: usize>(
        &self,
        hay: &[u8],
        start: usize,
        limit: usize,
        candidates: &mut Vec<(usize, u64)>,
    ) -> usize {
        let bits: &[u64] = &self.bits;
        // With `bits` known not empty, `word & words` is provably in bounds
        // and the loop keeps no bounds check.
        let Some(words) = bits.len().checked_sub(1) else {
            return start;
        };
        let mut i = start;
        while i + 7 * S < limit {
            let Some(block) = hay
                .get(i..i + 64)
                .and_then(|b| <&[u8; 64]>::try_from(b).ok())
            else {
                break;
            };
            let mut any = 0;
            for b in 0..8 {
                let (word, bit) = slot(self.key_at::<S>(block, b).wrapping_mul(HASH_1), words);
                any |= bits.get(word).map_or(0, |w| w & BIT[bit]);
            }
            if any != 0 {
                self.recheck::<S>(block, i, candidates);
            }
            i += 8 * S;
        }
        i
    }

    #[inline(always)]
    fn key_at<const S: usize>(&self, block: &[u8; 64], b: usize) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&block[b * S..b * S + 8]);
        u64::from_le_bytes(word) & self.mask
    }

    /// Finds which samples of a block may hit. Kept out of the loop so that
    /// the loop keeps nothing alive for it.
    #[cold]
    #[inline(never)]
    fn recheck<const S: usize>(
        &self,
        block: &[u8; 64],
        i: usize,
        candidates: &mut Vec<(usize, u64)>,
    ) {
        for b in 0..8 {
            let key = self.key_at::<S>(block, b);
            if self.contains(key) {
                candidates.push((i + b * S, key));
            }
        }
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        // Hashes of secret windows: little, but wiped all the same.
        self.bits.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_windows_are_always_found() {
        let mut f = Filter::new(3, 8);
        let keys = [0x0102_0304_0506_0708u64, 42, u64::MAX];
        for k in keys {
            f.insert(k);
        }
        let mut hay = Vec::new();
        for k in keys {
            hay.extend_from_slice(&k.to_le_bytes());
        }
        hay.extend_from_slice(&[0; 64]);
        let mut found = Vec::new();
        let end = f.sample(&hay, 0, hay.len() - 7, 8, &mut found);
        assert_eq!(end, hay.len(), "the first sample not tested");
        for (n, k) in keys.iter().enumerate() {
            assert!(found.contains(&(n * 8, *k)), "{n}");
        }
    }

    #[test]
    fn unhash_inverts_hash() {
        for key in [0u64, 1, 42, 0x0102_0304_0506_0708, u64::MAX] {
            assert_eq!(unhash(hash(key)), key);
        }
    }

    #[test]
    fn short_windows_are_masked_keys() {
        let mut f = Filter::new(1, 3);
        f.insert(u64::from_le_bytes([b'a', b'b', b'c', 0, 0, 0, 0, 0]));
        let hay = b"xxabcyyyyyyyyyyyyyyabc";
        let mut found = Vec::new();
        let i = f.sample(hay, 0, hay.len() - 7, 1, &mut found);
        f.sample_tail(hay, i, hay.len() - 2, 1, 3, &mut found);
        let positions: Vec<usize> = found.iter().map(|c| c.0).collect();
        assert!(
            positions.contains(&2) && positions.contains(&19),
            "{positions:?}"
        );
    }
}
