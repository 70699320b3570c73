//! The pattern index: finds every occurrence of every pattern in one pass.
//!
//! Why not an Aho-Corasick automaton: with 1,000 secrets (about 15,000
//! patterns once encodings are added), building the `aho-corasick` crate's
//! automaton took about 170 ms and its unanchored scan of log text ran near
//! 100 MB/s on the reference machine, against goals of 50 ms and 1 GB/s
//! (with a few dozen short patterns, its SIMD prefilter reached ~500 MB/s).
//! Leftmost-longest matching also resumes after a match, so a second secret
//! that overlaps the end of the first would stay partly visible.
//!
//! So patterns are indexed by sampled q-grams instead: every pattern of a
//! length class is at least `min` bytes long, so any occurrence contains a
//! window of `window` bytes starting at a text position that is a multiple of
//! `stride` (with `window + stride - 1 <= min`). The index stores, for every
//! pattern, its `stride` windows at offsets `0..stride`; the scan looks at one
//! window every `stride` bytes, tests a hashed filter, and only on a hit
//! looks the window up exactly and compares the candidate patterns. Every
//! occurrence is found exactly once, and the samples are on a grid fixed in
//! absolute stream positions, so chunking cannot change the result.

use zeroize::{Zeroize, Zeroizing};

use crate::emit::Occurrence;
use crate::filter::{Filter, bits_for, hash, load};

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
    // Ends of the runs of equal length: candidate class boundaries. Past
    // `8 + MAX_STRIDE - 1` bytes a class gets the widest window and longest
    // stride whatever its shortest pattern, so cutting between two such
    // lengths would only add a pass: no candidates there (which also keeps
    // this quadratic search small when long secrets bring many lengths).
    let full = 8 + MAX_STRIDE - 1;
    let mut ends: Vec<usize> = Vec::new();
    for (i, pair) in lengths.windows(2).enumerate() {
        if pair[0] != pair[1] && pair[0] < full {
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

/// Patterns of one length class, and the tables that find them.
pub(crate) struct Index {
    arena: Zeroizing<Vec<u8>>,
    /// `(start, len)` of each pattern in `arena`.
    spans: Vec<(usize, usize)>,
    window: usize,
    stride: usize,
    max_len: usize,
    filter: Filter,
    /// Open-addressing table of windows; an empty slot has `end == 0`.
    slots: Vec<Slot>,
    slot_shift: u32,
    entries: Vec<Entry>,
}

/// A window and the range of `entries` of the patterns that contain it.
#[derive(Clone, Copy, Default)]
struct Slot {
    key: u64,
    first: usize,
    end: usize,
}

/// A pattern (`arena[start..start + len]`) has the slot's window at `offset`.
struct Entry {
    start: usize,
    len: usize,
    offset: usize,
}

impl Index {
    /// Indexes `patterns` (each at least one byte).
    pub(crate) fn build(patterns: &[&[u8]]) -> Self {
        let min = patterns.iter().map(|p| p.len()).min().unwrap_or(1).max(1);
        let max_len = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let (window, stride) = params(min, patterns.len());

        let total = patterns.iter().map(|p| p.len()).sum();
        let mut arena = Zeroizing::new(Vec::with_capacity(total));
        let mut spans = Vec::with_capacity(patterns.len());
        let mut keys: Vec<(u64, usize)> = Vec::with_capacity(patterns.len() * stride);
        for (i, p) in patterns.iter().enumerate() {
            spans.push((arena.len(), p.len()));
            arena.extend_from_slice(p);
            for offset in 0..stride {
                if let Some(key) = p.get(offset..).and_then(|w| load(w, window)) {
                    keys.push((key, i * stride + offset));
                }
            }
        }
        keys.sort_unstable_by_key(|k| k.0);
        let distinct = keys.windows(2).filter(|w| w[0].0 != w[1].0).count() + 1;

        let mut filter = Filter::new(distinct, window);
        let slot_bits = bits_for(distinct * 2, 4, 40);
        let mut slots = vec![Slot::default(); 1usize << slot_bits];
        let slot_shift = 64 - slot_bits;
        let slot_mask = slots.len() - 1;
        let mut entries = Vec::with_capacity(keys.len());
        for run in keys.chunk_by(|a, b| a.0 == b.0) {
            let Some(&(key, _)) = run.first() else {
                continue;
            };
            let first = entries.len();
            for &(_, code) in run {
                let (pattern, offset) = (code / stride, code % stride);
                if let Some(&(start, len)) = spans.get(pattern) {
                    entries.push(Entry { start, len, offset });
                }
            }
            filter.insert(key);
            let mut s = (hash(key) >> slot_shift) as usize;
            // The table is at most half full, so an empty slot is found.
            while let Some(slot) = slots.get_mut(s) {
                if slot.end == 0 {
                    *slot = Slot {
                        key,
                        first,
                        end: entries.len(),
                    };
                    break;
                }
                s = (s + 1) & slot_mask;
            }
        }
        for k in &mut keys {
            k.0.zeroize();
        }
        Self {
            arena,
            spans,
            window,
            stride,
            max_len,
            filter,
            slots,
            slot_shift,
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
        let rel = |abs: u64| usize::try_from(abs.saturating_sub(base)).unwrap_or(usize::MAX);
        let start = rel(from);
        // Samples need a whole window inside `hay`; the fast loop reads 8
        // bytes at each.
        let limit = rel(until).min((hay.len() + 1).saturating_sub(self.window));
        let fast_limit = limit.min(hay.len().saturating_sub(7));
        let mut candidates = Vec::new();
        let i = self
            .filter
            .sample(hay, start, fast_limit, self.stride, &mut candidates);
        let i = self
            .filter
            .sample_tail(hay, i, limit, self.stride, self.window, &mut candidates);
        for (at, key) in candidates {
            self.verify(key, hay, at, base, out);
        }
        base + i as u64
    }

    /// Looks `key` (seen at `hay[i..]`) up exactly and reports the patterns
    /// that match around it.
    fn verify(&self, key: u64, hay: &[u8], i: usize, base: u64, out: &mut Vec<Occurrence>) {
        let slot_mask = self.slots.len() - 1;
        let mut s = (hash(key) >> self.slot_shift) as usize;
        while let Some(slot) = self.slots.get(s) {
            if slot.end == 0 {
                return;
            }
            if slot.key == key {
                for e in self.entries.get(slot.first..slot.end).unwrap_or(&[]) {
                    let Some(start) = i.checked_sub(e.offset) else {
                        continue;
                    };
                    let pattern = self.arena.get(e.start..e.start + e.len);
                    if pattern.is_some() && hay.get(start..start + e.len) == pattern {
                        let abs = base + start as u64;
                        out.push((abs, abs + e.len as u64));
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
        // Windows of secrets live in the slot keys; the arena and the filter
        // wipe themselves.
        for slot in &mut self.slots {
            slot.key.zeroize();
        }
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
                assert!(
                    (1..=8).contains(&w) && (1..=MAX_STRIDE).contains(&s),
                    "{min}"
                );
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
}
