//! The pattern index: finds every occurrence of every pattern in one pass,
//! and the emitter that turns occurrences into masked output.
//!
//! Why not an Aho-Corasick automaton: with 1,000 secrets (about 20,000
//! patterns once encodings are added), building the `aho-corasick` crate's
//! automaton took about 170 ms and its unanchored scan of log text ran near
//! 100 MB/s on the reference machine, against goals of 50 ms and 1 GB/s.
//! Leftmost-longest matching also resumes after a match, so a second secret
//! that overlaps the end of the first would stay partly visible.
//!
//! So patterns are indexed by sampled q-grams instead: every pattern of a
//! length class is at least `min` bytes long, so any occurrence contains a
//! window of `window` bytes starting at a text position that is a multiple of
//! `stride` (with `window + stride - 1 <= min`). The index stores, for every
//! pattern, its `stride` windows at offsets `0..stride`; the scan looks at one
//! window every `stride` bytes, tests a bit in a hashed filter, and only on a
//! hit looks the window up exactly and compares the candidate patterns. Every
//! occurrence is found exactly once, and the samples are on a grid fixed in
//! absolute stream positions, so chunking cannot change the result.

use zeroize::{Zeroize, Zeroizing};

use crate::MASK;

/// Multiplier of the window hash (a 64-bit golden-ratio constant).
const HASH_MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// Filter bits per stored window: about 3 % false hits at this density.
const FILTER_BITS_PER_KEY: usize = 32;

/// Largest filter, in bits (512 KiB, so that it stays in a core's cache
/// beside the text; very large sets get more false hits instead).
const MAX_FILTER_BITS: u32 = 22;

/// An occurrence: absolute `[start, end)` positions in the text.
pub(crate) type Occurrence = (u64, u64);

/// Patterns of one length class, and the tables that find them.
pub(crate) struct Index {
    arena: Zeroizing<Vec<u8>>,
    /// `(start, len)` of each pattern in `arena`.
    spans: Vec<(usize, usize)>,
    window: usize,
    stride: usize,
    max_len: usize,
    /// One bit per hashed window.
    filter: Vec<u64>,
    /// Open-addressing table of `group index + 1` (0 = empty slot).
    slots: Vec<usize>,
    slot_shift: u32,
    groups: Vec<Group>,
    entries: Vec<Entry>,
}

/// All entries whose window equals `key`.
struct Group {
    key: u64,
    first: usize,
    end: usize,
}

/// Pattern `pattern` has the group's window at `offset`.
struct Entry {
    pattern: usize,
    offset: usize,
}

/// Longest sampling stride. Longer strides look at fewer positions but
/// store more windows per pattern (slower builds, bigger tables) and hold
/// back more bytes in streams.
const MAX_STRIDE: usize = 8;

/// Window width and sampling stride for `count` patterns of at least `min`
/// bytes. Any occurrence must contain a sampled window, so
/// `window + stride - 1 <= min`. Narrower windows allow longer strides but
/// match unrelated text more often, and each such hit costs an exact lookup
/// worth about ten samples: the narrowest window is chosen whose expected
/// chance hits (with about 40 distinct characters in log text) stay under
/// 1 % of the samples, and never narrower than 3 bytes, because real text is
/// far from random.
fn params(min: usize, count: usize) -> (usize, usize) {
    let widest = min.clamp(1, 8);
    let mut best = (widest, (min + 1 - widest).min(MAX_STRIDE));
    for window in (min.min(3)..widest).rev() {
        let stride = (min + 1 - window).min(MAX_STRIDE);
        let chance = (count * stride) as f64 / 40f64.powi(window as i32);
        if chance > 0.01 || stride <= best.1 {
            break;
        }
        best = (window, stride);
    }
    best
}

/// Fixed cost of one more class, in the unit of [`scan_cost`] (a pass over
/// the text, its setup and its share of exact lookups).
const CLASS_COST: f64 = 0.02;

/// Scanning cost per byte of text for one class: samples per byte.
fn scan_cost(min: usize, count: usize) -> f64 {
    let (_, stride) = params(min, count);
    1.0 / stride as f64 + CLASS_COST
}

/// Splits patterns sorted by length into classes (returned as the end index
/// of each class) so that the total scanning cost is lowest. A class's stride
/// is bounded by its shortest pattern, so a few short patterns are best kept
/// apart from many long ones; but every class is one more pass over the
/// text, so classes are merged when that is cheaper. Dynamic programming
/// over the distinct lengths (a few hundred at most).
pub(crate) fn partition(lengths: &[usize]) -> Vec<usize> {
    // Ends of the runs of equal length: candidate class boundaries.
    let mut ends: Vec<usize> = Vec::new();
    for (i, pair) in lengths.windows(2).enumerate() {
        if pair[0] != pair[1] {
            ends.push(i + 1);
        }
    }
    if !lengths.is_empty() {
        ends.push(lengths.len());
    }
    // best[k]: lowest cost of covering lengths[..ends[k]], and where its
    // last class starts (an index into `ends`, or none for the first).
    let mut best: Vec<(f64, Option<usize>)> = Vec::with_capacity(ends.len());
    for (k, &end) in ends.iter().enumerate() {
        let mut choice = (f64::INFINITY, None);
        for j in 0..=k {
            let (start, before) = match j.checked_sub(1) {
                Some(p) => (ends[p], best[p].0),
                None => (0, 0.0),
            };
            let min = lengths.get(start).copied().unwrap_or(1);
            let cost = before + scan_cost(min, end - start);
            if cost < choice.0 {
                choice = (cost, j.checked_sub(1));
            }
        }
        best.push(choice);
    }
    let mut cuts = Vec::new();
    let mut k = ends.len().checked_sub(1);
    while let Some(i) = k {
        cuts.push(ends[i]);
        k = best[i].1;
    }
    cuts.reverse();
    cuts
}

/// `BIT[n]` has bit `n` set.
const BIT: [u64; 64] = {
    let mut t = [0u64; 64];
    let mut n = 0;
    while n < 64 {
        t[n] = 1 << n;
        n += 1;
    }
    t
};

fn hash(key: u64) -> u64 {
    key.wrapping_mul(HASH_MUL)
}

/// Where a window's bit lives in a filter of `words + 1` words (a power of
/// two, at most `2^MAX_FILTER_BITS` bits): word and bit index, from the top
/// bits of the hash. A shift by a constant keeps the hot loop short.
#[inline(always)]
fn filter_slot(key: u64, words: usize) -> (usize, usize) {
    let bit = hash(key) >> (64 - MAX_FILTER_BITS);
    ((bit >> 6) as usize & words, (bit & 63) as usize)
}

#[inline(always)]
fn filter_hit(filter: &[u64], key: u64) -> bool {
    let (word, bit) = filter_slot(key, filter.len().saturating_sub(1));
    filter.get(word).is_some_and(|w| w & BIT[bit] != 0)
}

/// The first `window` bytes of `bytes` as a little-endian integer, or `None`
/// if there are fewer.
fn load(bytes: &[u8], window: usize) -> Option<u64> {
    let w = bytes.get(..window)?;
    let mut a = [0u8; 8];
    a.get_mut(..window)?.copy_from_slice(w);
    Some(u64::from_le_bytes(a))
}

/// `ceil(log2(n))`, at least `lo`, at most `hi`.
fn bits_for(n: usize, lo: u32, hi: u32) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros().clamp(lo, hi)
}


/// The hot loop: one 8-byte load, one multiply and one bit test per sample;
/// hits are collected for later, exact checking. Returns the first sample
/// not examined. `limit` must leave 8 readable bytes at every sample.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn sample_words(
    hay: &[u8],
    start: usize,
    limit: usize,
    stride: usize,
    mask: u64,
    filter: &[u64],
    candidates: &mut Vec<(usize, u64)>,
) -> usize {
    let f = Filter { mask, filter };
    // A constant stride lets the compiler unroll the batch and drop every
    // bounds check in it.
    let i = match stride {
        1 => f.batches::<1>(hay, start, limit, candidates),
        2 => f.batches::<2>(hay, start, limit, candidates),
        3 => f.batches::<3>(hay, start, limit, candidates),
        4 => f.batches::<4>(hay, start, limit, candidates),
        5 => f.batches::<5>(hay, start, limit, candidates),
        6 => f.batches::<6>(hay, start, limit, candidates),
        7 => f.batches::<7>(hay, start, limit, candidates),
        _ => f.batches::<8>(hay, start, limit, candidates),
    };
    f.singles(hay, i, limit, stride, candidates)
}

struct Filter<'a> {
    mask: u64,
    filter: &'a [u64],
}

impl Filter<'_> {
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
        let filter = self.filter;
        let Some(words) = filter.len().checked_sub(1) else {
            return start;
        };
        let mask = self.mask;
        let key_at = |block: &[u8; 64], b: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&block[b * S..b * S + 8]);
            u64::from_le_bytes(word) & mask
        };
        // The filter's length is a power of two: masking the word index with
        // `words` proves it in bounds, so no check is left in the loop. The
        // bit is selected through a table: cheaper than a shift by a
        // variable amount.
        let probe = |key: u64| {
            let (word, bit) = filter_slot(key, words);
            filter.get(word).map_or(0, |w| w & BIT[bit])
        };
        let mut i = start;
        while i + 7 * S < limit {
            let Some(block) = hay.get(i..i + 64).and_then(|b| <&[u8; 64]>::try_from(b).ok())
            else {
                break;
            };
            let mut any = 0;
            for b in 0..8 {
                any |= probe(key_at(block, b));
            }
            if any != 0 {
                self.recheck::<S>(block, i, candidates);
            }
            i += 8 * S;
        }
        i
    }

    /// Finds which samples of a block hit. Kept apart from the loop so that
    /// the loop keeps nothing alive for it.
    #[cold]
    #[inline(never)]
    fn recheck<const S: usize>(&self, block: &[u8; 64], i: usize, candidates: &mut Vec<(usize, u64)>) {
        for b in 0..8 {
            let mut word = [0u8; 8];
            word.copy_from_slice(&block[b * S..b * S + 8]);
            let key = u64::from_le_bytes(word) & self.mask;
            if filter_hit(self.filter, key) {
                candidates.push((i + b * S, key));
            }
        }
    }

    fn singles(
        &self,
        hay: &[u8],
        mut i: usize,
        limit: usize,
        stride: usize,
        candidates: &mut Vec<(usize, u64)>,
    ) -> usize {
        while i < limit {
            let Some(word) = hay.get(i..i + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
                break;
            };
            let key = u64::from_le_bytes(word) & self.mask;
            if filter_hit(self.filter, key) {
                candidates.push((i, key));
            }
            i += stride;
        }
        i
    }
}

impl Index {
    /// Indexes `patterns` (non-empty, each at least one byte).
    pub(crate) fn build(patterns: &[&[u8]]) -> Self {
        let min = patterns.iter().map(|p| p.len()).min().unwrap_or(1).max(1);
        let max_len = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let (window, stride) = params(min, patterns.len());

        let total = patterns.iter().map(|p| p.len()).sum();
        let mut arena = Zeroizing::new(Vec::with_capacity(total));
        let mut spans = Vec::with_capacity(patterns.len());
        let mut keys: Vec<(u64, usize, usize)> = Vec::with_capacity(patterns.len() * stride);
        for (i, p) in patterns.iter().enumerate() {
            spans.push((arena.len(), p.len()));
            arena.extend_from_slice(p);
            for offset in 0..stride {
                if let Some(key) = p.get(offset..).and_then(|w| load(w, window)) {
                    keys.push((key, i, offset));
                }
            }
        }
        keys.sort_unstable_by_key(|k| k.0);

        let mut groups: Vec<Group> = Vec::new();
        let mut entries = Vec::with_capacity(keys.len());
        for &(key, pattern, offset) in &keys {
            match groups.last_mut() {
                Some(g) if g.key == key => g.end += 1,
                _ => groups.push(Group {
                    key,
                    first: entries.len(),
                    end: entries.len() + 1,
                }),
            }
            entries.push(Entry { pattern, offset });
        }
        for k in &mut keys {
            k.0.zeroize();
        }

        let filter_bits = bits_for(groups.len() * FILTER_BITS_PER_KEY, 12, MAX_FILTER_BITS);
        let mut filter = vec![0u64; (1usize << filter_bits) / 64];
        let slot_bits = bits_for(groups.len() * 2, 4, 40);
        let mut slots = vec![0usize; 1usize << slot_bits];
        let slot_shift = 64 - slot_bits;
        let slot_mask = slots.len() - 1;
        for (gi, g) in groups.iter().enumerate() {
            let (word, bit) = filter_slot(g.key, filter.len() - 1);
            if let Some(w) = filter.get_mut(word) {
                *w |= BIT[bit];
            }
            let mut s = (hash(g.key) >> slot_shift) as usize;
            // The table is at most half full, so an empty slot is found.
            while let Some(slot) = slots.get_mut(s) {
                if *slot == 0 {
                    *slot = gi + 1;
                    break;
                }
                s = (s + 1) & slot_mask;
            }
        }
        if std::env::var_os("MASK_DIAG").is_some() { eprintln!("class w{window} s{stride} n{} min{min} max{max_len} groups{} filterbits{}", spans.len(), groups.len(), filter.len()*64); }
        Self {
            arena,
            spans,
            window,
            stride,
            max_len,
            filter,
            slots,
            slot_shift,
            groups,
            entries,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    pub(crate) fn patterns(&self) -> impl Iterator<Item = &[u8]> {
        self.spans
            .iter()
            .filter_map(|&(s, l)| self.arena.get(s..s + l))
    }

    /// Finds the occurrences seen from samples `q` (absolute positions, on
    /// the grid of multiples of the stride) with `from <= q < until`, in `hay`
    /// whose first byte is at absolute position `base`. Occurrences starting
    /// before `base`, or not wholly inside `hay`, are not reported. Returns
    /// the first sample not examined.
    ///
    /// `from` must be a multiple of the stride and at least `base`.
    pub(crate) fn scan(
        &self,
        hay: &[u8],
        base: u64,
        from: u64,
        until: u64,
        out: &mut Vec<Occurrence>,
    ) -> u64 {
        let stride = self.stride;
        let window = self.window;
        let mask = if window >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * window)) - 1
        };
        let rel = |abs: u64| usize::try_from(abs.saturating_sub(base)).unwrap_or(usize::MAX);
        let start = rel(from);
        // Samples need a whole window inside `hay`.
        let limit = rel(until).min((hay.len() + 1).saturating_sub(window));
        let mut candidates = Vec::new();
        let fast_limit = limit.min(hay.len().saturating_sub(7));
        let mut i = sample_words(
            hay,
            start,
            fast_limit,
            stride,
            mask,
            &self.filter,
            &mut candidates,
        );
        // The last samples, fewer than 8 bytes before the end.
        while i < limit {
            let Some(key) = hay.get(i..).and_then(|w| load(w, window)) else {
                break;
            };
            if filter_hit(&self.filter, key) {
                candidates.push((i, key));
            }
            i += stride;
        }
        for (at, key) in candidates {
            self.verify(key, hay, at, base, out);
        }
        base + i as u64
    }

    /// Looks `key` (seen at `hay[i..]`) up exactly and reports the patterns
    /// that match around it.
    #[cold]
    fn verify(&self, key: u64, hay: &[u8], i: usize, base: u64, out: &mut Vec<Occurrence>) {
        let slot_mask = self.slots.len() - 1;
        let mut s = (hash(key) >> self.slot_shift) as usize;
        while let Some(&slot) = self.slots.get(s) {
            let Some(g) = slot.checked_sub(1).and_then(|gi| self.groups.get(gi)) else {
                return;
            };
            if g.key == key {
                for e in self.entries.get(g.first..g.end).unwrap_or(&[]) {
                    let Some(start) = i.checked_sub(e.offset) else {
                        continue;
                    };
                    let Some(&(ps, len)) = self.spans.get(e.pattern) else {
                        continue;
                    };
                    let pattern = self.arena.get(ps..ps + len);
                    if pattern.is_some() && hay.get(start..start + len) == pattern {
                        let abs = base + start as u64;
                        out.push((abs, abs + len as u64));
                    }
                }
                return;
            }
            s = (s + 1) & slot_mask;
        }
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        // Windows of secrets live in the group keys; the filter is a hash of
        // them. The arena wipes itself.
        for g in &mut self.groups {
            g.key.zeroize();
        }
        self.filter.zeroize();
    }
}

/// Writes text with masked runs replaced, across calls: bytes covered by any
/// occurrence are hidden, and each maximal run of hidden bytes (adjacent or
/// overlapping occurrences included) becomes one [`MASK`].
#[derive(Default)]
pub(crate) struct Emitter {
    cover_end: u64,
    in_run: bool,
}

impl Emitter {
    /// Emits absolute positions `[from, to)` of `hay` (which starts at `base`)
    /// using `occ`, sorted by start. Returns how many occurrences were used
    /// (all those starting before `to`).
    pub(crate) fn emit(
        &mut self,
        hay: &[u8],
        base: u64,
        from: u64,
        to: u64,
        occ: &[Occurrence],
        out: &mut Vec<u8>,
    ) -> usize {
        let rel = |abs: u64| usize::try_from(abs.saturating_sub(base)).unwrap_or(usize::MAX);
        let mut pos = from;
        let mut k = 0;
        while pos < to {
            while let Some(&(s, e)) = occ.get(k) {
                if s > pos {
                    break;
                }
                self.cover_end = self.cover_end.max(e);
                k += 1;
            }
            if pos < self.cover_end {
                if !self.in_run {
                    out.extend_from_slice(MASK.as_bytes());
                    self.in_run = true;
                }
                pos = self.cover_end.min(to);
            } else {
                let next = occ.get(k).map_or(to, |&(s, _)| s.min(to));
                out.extend_from_slice(hay.get(rel(pos)..rel(next)).unwrap_or(&[]));
                self.in_run = false;
                pos = next;
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_fit_the_shortest_pattern() {
        for min in 1..64 {
            for count in [1, 10, 1000, 100_000] {
                let (w, s) = params(min, count);
                assert!((1..=8).contains(&w) && (1..=MAX_STRIDE).contains(&s), "{min}");
                assert!(w + s - 1 <= min, "{min}: {w} {s}");
            }
        }
        assert_eq!(params(40, 100_000), (8, 8));
        assert_eq!(params(2, 10), (2, 1));
        // Few patterns: narrower windows, longer strides.
        assert_eq!(params(4, 10), (3, 2));
        assert_eq!(params(10, 40), (3, 8));
        assert_eq!(params(8, 4000), (4, 5));
        assert_eq!(params(8, 40_000), (5, 4));
    }

    #[test]
    fn partition_separates_few_short_patterns_from_many_long_ones() {
        let mut lengths = vec![5; 50];
        lengths.extend(std::iter::repeat_n(30, 10_000));
        assert_eq!(partition(&lengths), vec![50, 10_050]);
        // One length: one class.
        assert_eq!(partition(&[20; 100]), vec![100]);
        assert_eq!(partition(&[]), Vec::<usize>::new());
        // Close lengths are not worth a second pass.
        assert_eq!(partition(&[16, 17, 18, 40]), vec![4]);
    }

    fn find_all(patterns: &[&[u8]], hay: &[u8]) -> Vec<Occurrence> {
        let idx = Index::build(patterns);
        let mut out = Vec::new();
        idx.scan(hay, 0, 0, hay.len() as u64, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn finds_overlapping_and_nested_occurrences() {
        let pats: [&[u8]; 3] = [b"abcdefgh", b"defghijk", b"cdef"];
        let hay = b"xxabcdefghijkxxabcdef";
        assert_eq!(
            find_all(&pats, hay),
            vec![(2, 10), (4, 8), (5, 13), (17, 21)]
        );
    }

    #[test]
    fn finds_occurrences_at_both_ends() {
        let pats: [&[u8]; 1] = [b"0123456789abcdefXYZ"];
        let hay = b"0123456789abcdefXYZ--0123456789abcdefXYZ";
        assert_eq!(find_all(&pats, hay), vec![(0, 19), (21, 40)]);
    }

    #[test]
    fn emitter_collapses_adjacent_runs() {
        let hay = b"aaSECRETSECRETbb";
        let mut out = Vec::new();
        let mut em = Emitter::default();
        let used = em.emit(hay, 0, 0, hay.len() as u64, &[(2, 8), (8, 14)], &mut out);
        assert_eq!(used, 2);
        assert_eq!(out, b"aa****bb");
    }
}
