//! The pattern index: finds every occurrence of every pattern in one pass,
//! and takes patterns in and out one at a time.
//!
//! Why not an Aho-Corasick automaton: with 1,000 secrets (about 15,000
//! patterns once encodings are added), building the `aho-corasick` crate's
//! automaton took about 170 ms and its unanchored scan of log text ran near
//! 100 MB/s on the reference machine, against goals of 50 ms and 1 GB/s
//! (with a few dozen short patterns, its SIMD prefilter reached ~500 MB/s).
//! Leftmost-longest matching also resumes after a match, so a second secret
//! that overlaps the end of the first would stay partly visible. And an
//! automaton cannot take a pattern in or out without being rebuilt.
//!
//! So patterns are indexed by sampled q-grams instead: every pattern of a
//! length band is at least `lower` bytes long, so any occurrence contains a
//! window of `window` bytes starting at a text position that is a multiple of
//! `stride` (with `window + stride - 1 <= lower`). The index stores, for every
//! pattern, its `stride` windows at offsets `0..stride`; the scan looks at one
//! window every `stride` bytes, tests a hashed filter, and only on a hit
//! looks the window up exactly and compares the candidate patterns. Every
//! occurrence is found exactly once, and the samples are on a grid fixed in
//! absolute stream positions, so chunking cannot change the result.
//!
//! Incremental: each window has a doubly-linked list of the patterns that
//! hold it, so adding or removing a pattern costs `stride` table updates
//! whatever the index holds (tables and filter grow by doubling; the filter
//! is rebuilt from the table when removals have left too many stale bits).
//! A set built from many values at once links all their patterns in one
//! batch, in hash order (see `link`), which is what keeps building 1,000
//! secrets with all their forms (about 61,000 patterns) under 50 ms.
//! The window width depends on how many patterns the band holds; it is
//! re-chosen each time the count doubles, and the band re-indexed when it
//! changes, at most a few times in its life.

mod link;

use zeroize::{Zeroize, Zeroizing};

use crate::emit::Occurrence;
use crate::filter::{Filter, load};
use crate::secret::append_wiped;
use crate::table::{NONE, Table};

/// Longest sampling stride. Longer strides look at fewer positions but
/// store more windows per pattern (bigger tables) and hold back more bytes
/// in streams.
const MAX_STRIDE: usize = 8;

/// Lower bounds, in bytes, of the length bands; a pattern goes to the last
/// band whose bound it reaches. Every non-empty band is one pass over the
/// text; a band's stride is bounded by its lower bound, so short patterns
/// are kept apart from the many long ones. From 12 bytes on, the band gets
/// the longest stride up to 128,000 patterns (see [`params`]).
pub(crate) const BANDS: [usize; 8] = [1, 2, 3, 4, 5, 6, 8, LONG];

/// Lower bound of the long band, where most patterns are.
pub(crate) const LONG: usize = 12;

/// The band of a pattern of `len` bytes.
pub(crate) fn band_of(len: usize) -> usize {
    BANDS.iter().rposition(|&b| b <= len).unwrap_or(0)
}

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

/// A pattern in the arena. `refs == 0` marks a free id.
#[derive(Clone, Copy, Default)]
struct Pat {
    start: usize,
    len: usize,
    refs: u32,
}

/// Links of the entry "pattern `e / stride` has its window at offset
/// `e % stride`" in the list of that window.
#[derive(Clone, Copy)]
struct Entry {
    next: u32,
    prev: u32,
}

const UNLINKED: Entry = Entry {
    next: NONE,
    prev: NONE,
};

/// Patterns of one length band, and the tables that find them.
#[derive(Clone)]
pub(crate) struct Index {
    lower: usize,
    window: usize,
    stride: usize,
    /// Longest pattern ever held (streams hold back this much).
    max_len: usize,
    arena: Zeroizing<Vec<u8>>,
    /// Arena bytes of removed patterns (wiped), reclaimed by compaction.
    holes: usize,
    pats: Vec<Pat>,
    free: Vec<u32>,
    live: usize,
    live_bytes: usize,
    entries: Vec<Entry>,
    table: Table,
    filter: Filter,
    /// Keys removed from the table since the filter was built: their bits
    /// stay set and cost exact lookups until the filter is rebuilt.
    stale: usize,
    /// Pattern count at which the window width is next re-chosen.
    recheck_at: usize,
}

impl Index {
    /// An empty index for the band starting at `lower` bytes.
    pub(crate) fn new(lower: usize) -> Self {
        let lower = lower.max(1);
        let (window, stride) = params(lower, 1);
        Self {
            lower,
            window,
            stride,
            max_len: 0,
            arena: Zeroizing::new(Vec::new()),
            holes: 0,
            pats: Vec::new(),
            free: Vec::new(),
            live: 0,
            live_bytes: 0,
            entries: Vec::new(),
            table: Table::with_capacity(0),
            filter: Filter::new(0, window),
            stale: 0,
            recheck_at: 2,
        }
    }

    /// Number of patterns held.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes of the patterns held.
    pub(crate) fn pattern_bytes(&self) -> usize {
        self.live_bytes
    }

    /// Bytes allocated for the patterns and the tables that find them.
    pub(crate) fn allocated(&self) -> usize {
        self.arena.capacity()
            + self.pats.capacity() * std::mem::size_of::<Pat>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.table.allocated()
            + self.filter.allocated()
    }

    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    /// The bytes of pattern `id`.
    pub(crate) fn pattern(&self, id: u32) -> &[u8] {
        match self.pats.get(id as usize) {
            Some(p) if p.refs > 0 => self.arena.get(p.start..p.start + p.len).unwrap_or(&[]),
            _ => &[],
        }
    }

    #[cfg(test)]
    pub(crate) fn patterns(&self) -> impl Iterator<Item = &[u8]> {
        self.pats
            .iter()
            .filter(|p| p.refs > 0)
            .filter_map(|p| self.arena.get(p.start..p.start + p.len))
    }

    /// Number of holders of pattern `id` (0 for a free id).
    pub(crate) fn refs(&self, id: u32) -> u32 {
        self.pats.get(id as usize).map_or(0, |p| p.refs)
    }

    /// One more holder of pattern `id`.
    pub(crate) fn retain(&mut self, id: u32) {
        if let Some(p) = self.pats.get_mut(id as usize) {
            p.refs += 1;
        }
    }

    /// Adds `pattern` (at least `lower` bytes) with one holder; returns its
    /// id.
    #[cfg(test)]
    pub(crate) fn add(&mut self, pattern: &[u8]) -> u32 {
        let id = self.push(pattern);
        self.link(&[id]);
        id
    }

    /// Stores `pattern` with one holder, not yet findable: [`Index::link`]
    /// makes it so. Adding many patterns this way and linking them at once
    /// sizes the tables once and fills them in memory order.
    pub(crate) fn push(&mut self, pattern: &[u8]) -> u32 {
        let pat = Pat {
            start: self.arena.len(),
            len: pattern.len(),
            refs: 1,
        };
        append_wiped(&mut self.arena, pattern);
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(p) = self.pats.get_mut(id as usize) {
                    *p = pat;
                }
                id
            }
            None => {
                self.pats.push(pat);
                self.entries
                    .extend(std::iter::repeat_n(UNLINKED, self.stride));
                (self.pats.len() - 1) as u32
            }
        };
        self.live += 1;
        self.live_bytes += pattern.len();
        self.max_len = self.max_len.max(pattern.len());
        id
    }

    /// Makes the pushed patterns `ids` findable. When the count of patterns
    /// has doubled since the window width was last chosen, it is re-chosen
    /// and, if it changes, every pattern is re-indexed instead.
    pub(crate) fn link(&mut self, ids: &[u32]) {
        if self.live >= self.recheck_at {
            self.recheck_at = 2 * self.live;
            let (window, stride) = params(self.lower, self.live);
            if (window, stride) != (self.window, self.stride) {
                self.reindex(window, stride);
                return;
            }
        }
        self.link_all(ids);
    }

    /// One holder less for pattern `id`; the last one removes it, wiping
    /// its bytes. Returns whether it was removed.
    pub(crate) fn release(&mut self, id: u32) -> bool {
        let Some(p) = self.pats.get_mut(id as usize) else {
            return false;
        };
        match p.refs {
            0 => return false,
            1 => {}
            _ => {
                p.refs -= 1;
                return false;
            }
        }
        let (start, len) = (p.start, p.len);
        // Unlinked while its bytes still give its windows' keys.
        self.unlink_all(id);
        if let Some(p) = self.pats.get_mut(id as usize) {
            p.refs = 0;
        }
        if let Some(bytes) = self.arena.get_mut(start..start + len) {
            bytes.zeroize();
        }
        self.holes += len;
        self.live -= 1;
        self.live_bytes -= len;
        self.free.push(id);
        if self.holes > self.live_bytes.max(4096) {
            self.compact();
        }
        if self.stale > self.table.len().max(64) {
            self.rebuild_filter(self.table.len());
        }
        true
    }

    /// The key of pattern `id`'s window at `offset`.
    fn key(&self, id: u32, offset: usize) -> Option<u64> {
        load(self.pattern(id).get(offset..)?, self.window)
    }

    fn unlink_all(&mut self, id: u32) {
        for offset in 0..self.stride {
            let Some(key) = self.key(id, offset) else {
                continue;
            };
            let e = id * self.stride as u32 + offset as u32;
            let Some(&Entry { next, prev }) = self.entries.get(e as usize) else {
                continue;
            };
            if let Some(n) = self.entries.get_mut(next as usize) {
                n.prev = prev;
            }
            match self.entries.get_mut(prev as usize) {
                Some(p) => p.next = next,
                None => {
                    if self.table.set_head(key, next) == Some(false) {
                        self.stale += 1;
                    }
                }
            }
            if let Some(entry) = self.entries.get_mut(e as usize) {
                *entry = UNLINKED;
            }
        }
    }

    /// A new filter sized for `keys` windows, from the table's keys.
    fn rebuild_filter(&mut self, keys: usize) {
        let mut filter = Filter::new(keys, self.window);
        for key in self.table.keys() {
            filter.insert(key);
        }
        self.filter = filter;
        self.stale = 0;
    }

    /// Re-indexes every pattern with a new window and stride.
    fn reindex(&mut self, window: usize, stride: usize) {
        self.window = window;
        self.stride = stride;
        self.entries = vec![UNLINKED; self.pats.len() * stride];
        self.table = Table::with_capacity(0);
        self.filter = Filter::new(0, window);
        self.stale = 0;
        let live: Vec<u32> = (0..self.pats.len() as u32)
            .filter(|&id| self.refs(id) > 0)
            .collect();
        self.link_all(&live);
    }

    /// Copies the live patterns into a fresh arena; the old one is wiped
    /// when dropped.
    fn compact(&mut self) {
        let mut arena = Zeroizing::new(Vec::with_capacity(2 * self.live_bytes));
        for p in self.pats.iter_mut().filter(|p| p.refs > 0) {
            let start = arena.len();
            arena.extend_from_slice(self.arena.get(p.start..p.start + p.len).unwrap_or(&[]));
            p.start = start;
        }
        self.arena = arena;
        self.holes = 0;
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
        let mut e = self.table.head(key);
        while let Some(entry) = self.entries.get(e as usize) {
            let (id, offset) = (e / self.stride as u32, e as usize % self.stride);
            let pattern = self.pattern(id);
            if let Some(start) = i.checked_sub(offset)
                && !pattern.is_empty()
                && hay.get(start..start + pattern.len()) == Some(pattern)
            {
                let abs = base + start as u64;
                out.push((abs, abs + pattern.len() as u64));
            }
            e = entry.next;
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
    fn bands_cover_every_length() {
        assert_eq!(band_of(0), 0);
        assert_eq!(band_of(4), 3);
        assert_eq!(band_of(7), 5);
        assert_eq!(band_of(11), 6);
        assert_eq!(band_of(500), BANDS.len() - 1);
        for len in 1..100 {
            assert!(BANDS[band_of(len)] <= len);
        }
    }

    fn index_of(patterns: &[&[u8]]) -> Index {
        let lower = patterns.iter().map(|p| p.len()).min().unwrap_or(1);
        let mut idx = Index::new(lower);
        for p in patterns {
            idx.add(p);
        }
        idx
    }

    pub(super) fn find(idx: &Index, hay: &[u8]) -> Vec<Occurrence> {
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
            find(&index_of(&pats), hay),
            vec![(2, 10), (4, 8), (5, 13), (17, 21)]
        );
    }

    #[test]
    fn finds_occurrences_at_both_ends() {
        let pats: [&[u8]; 1] = [b"0123456789abcdefXYZ"];
        let hay = b"0123456789abcdefXYZ--0123456789abcdefXYZ";
        assert_eq!(find(&index_of(&pats), hay), vec![(0, 19), (21, 40)]);
    }

    #[test]
    fn removed_patterns_are_no_longer_found_and_ids_are_reused() {
        let mut idx = Index::new(12);
        let a = idx.add(b"shared-prefix-aaaa");
        let b = idx.add(b"shared-prefix-bbbb");
        idx.retain(a);
        let hay = b"shared-prefix-aaaa shared-prefix-bbbb";
        assert_eq!(find(&idx, hay), vec![(0, 18), (19, 37)]);
        assert!(!idx.release(a), "a has a second holder");
        assert!(idx.release(a));
        assert_eq!(find(&idx, hay), vec![(19, 37)]);
        assert_eq!((idx.len(), idx.pattern(a)), (1, &b""[..]));
        let c = idx.add(b"shared-prefix-cccc");
        assert_eq!(c, a, "the freed id is reused");
        assert!(idx.release(b));
        assert_eq!(find(&idx, b"xx shared-prefix-cccc"), vec![(3, 21)]);
    }

    #[test]
    fn many_additions_and_removals_keep_the_index_exact() {
        let mut idx = Index::new(5);
        let pats: Vec<Vec<u8>> = (0..3000)
            .map(|i| format!("p{i:05}x").into_bytes())
            .collect();
        let ids: Vec<u32> = pats.iter().map(|p| idx.add(p)).collect();
        // Re-indexed with wider windows on the way.
        assert!(idx.window > 3, "{}", idx.window);
        for (i, id) in ids.iter().enumerate() {
            if i % 3 != 0 {
                assert!(idx.release(*id));
            }
        }
        for (i, p) in pats.iter().enumerate() {
            let hay = [b"--".as_slice(), p, b"--"].concat();
            let want = if i % 3 == 0 {
                vec![(2, 2 + p.len() as u64)]
            } else {
                vec![]
            };
            assert_eq!(find(&idx, &hay), want, "{i}");
        }
        assert_eq!(idx.len(), 1000);
    }
}
