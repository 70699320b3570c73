//! What a mask set holds, and how values enter and leave it: each value
//! records the patterns and short values it brought, which are shared
//! (counted) with the other values that brought them too. Adding a value
//! costs its forms; removing it, the same; nothing else is touched.

use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use crate::index::{BANDS, Index, band_of};
use crate::secret::{Bytes, bytes_of, char_len};
use crate::variants::Expansion;
use crate::warning::{MaskWarning, WarningKind};

/// Maps keyed by the set's keyed hashes, which are already uniformly
/// distributed: hashing them again would only cost time.
type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<KeyedHash>>;

/// The identity hasher for keys that are keyed hashes.
#[derive(Default)]
struct KeyedHash(u64);

impl Hasher for KeyedHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; fold anything else in, in case.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Where a pattern lives: its band and its id there.
#[derive(Clone, Copy, PartialEq, Eq)]
struct PatRef {
    band: u8,
    id: u32,
}

#[derive(Clone)]
struct ValueRec {
    bytes: Bytes,
    /// Patterns this value holds a reference on (each once).
    patterns: Vec<PatRef>,
    /// The short values this value brought (each once).
    shorts: Vec<Bytes>,
    /// Whether it raised warnings (`warned_by` holds its id for each).
    warned: bool,
    id: u64,
    /// Caller's bookkeeping (the recency of a bounded set).
    stamp: u64,
}

/// Patterns pushed into each band and not yet linked.
struct Pending {
    ids: [Vec<u32>; BANDS.len()],
}

impl Default for Pending {
    fn default() -> Self {
        Self {
            ids: std::array::from_fn(|_| Vec::new()),
        }
    }
}

#[derive(Clone)]
struct ShortRec {
    bytes: Bytes,
    refs: u32,
}

/// The contents of a mask set. Cloning copies everything.
#[derive(Clone)]
pub(crate) struct Store {
    pub(crate) min_len: usize,
    /// Keyed hashes: the maps hold no secret material in their keys.
    hasher: RandomState,
    /// Values by keyed hash; `collided` holds the (astronomically rare)
    /// values whose hash another value already has.
    values: HashMap<u64, ValueRec>,
    collided: Vec<ValueRec>,
    value_bytes: usize,
    /// One reference per distinct pattern, by keyed hash, to share it.
    patterns: HashMap<u64, PatRef>,
    bands: Vec<Index>,
    /// Values too short to mask inside text, by keyed hash of the trimmed
    /// bytes, masked only as whole values.
    short: HashMap<u64, Vec<ShortRec>>,
    pub(crate) warnings: Vec<MaskWarning>,
    /// Id of the value that raised each warning.
    warned_by: Vec<u64>,
    next_id: u64,
}

impl Store {
    pub(crate) fn new(min_len: usize) -> Self {
        Self {
            min_len: min_len.max(1),
            hasher: RandomState::new(),
            values: HashMap::default(),
            collided: Vec::new(),
            value_bytes: 0,
            patterns: HashMap::default(),
            bands: BANDS.iter().map(|&lower| Index::new(lower)).collect(),
            short: HashMap::default(),
            warnings: Vec::new(),
            warned_by: Vec::new(),
            next_id: 0,
        }
    }

    /// Number of distinct values.
    pub(crate) fn len(&self) -> usize {
        self.values.len() + self.collided.len()
    }

    /// Bytes of secret material held: values and patterns.
    pub(crate) fn held_bytes(&self) -> usize {
        self.value_bytes + self.bands.iter().map(Index::pattern_bytes).sum::<usize>()
    }

    /// Bytes allocated by the pattern indexes (an estimate of memory use).
    pub(crate) fn allocated(&self) -> usize {
        self.bands.iter().map(Index::allocated).sum()
    }

    /// The bands holding patterns.
    pub(crate) fn bands(&self) -> impl Iterator<Item = &Index> {
        self.bands.iter().filter(|b| !b.is_empty())
    }

    fn find(&self, value: &[u8]) -> Option<&ValueRec> {
        let h = self.hasher.hash_one(value);
        self.values
            .get(&h)
            .filter(|r| r.bytes[..] == *value)
            .or_else(|| self.collided.iter().find(|r| r.bytes[..] == *value))
    }

    pub(crate) fn contains(&self, value: &[u8]) -> bool {
        self.find(value).is_some()
    }

    pub(crate) fn stamp_mut(&mut self, value: &[u8]) -> Option<&mut u64> {
        let h = self.hasher.hash_one(value);
        match self.values.get_mut(&h) {
            Some(r) if r.bytes[..] == *value => Some(&mut r.stamp),
            _ => self
                .collided
                .iter_mut()
                .find(|r| r.bytes[..] == *value)
                .map(|r| &mut r.stamp),
        }
    }

    /// Whether `bytes`, trimmed, is a short value of this set.
    pub(crate) fn is_short(&self, bytes: &[u8]) -> bool {
        let t = bytes.trim_ascii();
        !t.is_empty()
            && self
                .short
                .get(&self.hasher.hash_one(t))
                .is_some_and(|v| v.iter().any(|s| s.bytes[..] == *t))
    }

    pub(crate) fn short_count(&self) -> usize {
        self.short.values().map(Vec::len).sum()
    }

    /// Adds `value` with every form; returns `None` if it was already held,
    /// else the warnings it raised.
    pub(crate) fn insert(
        &mut self,
        label: Option<&str>,
        value: &[u8],
        stamp: u64,
    ) -> Option<Vec<MaskWarning>> {
        let mut pending = Pending::default();
        let warnings = self.insert_unlinked(label, value, stamp, &mut pending);
        self.link(pending);
        warnings
    }

    /// Adds `values` (unlabeled): like [`Store::insert`] of each in turn,
    /// but their patterns are made findable at once, so that the tables
    /// are sized and filled once for all of them.
    pub(crate) fn insert_all<I, V>(&mut self, values: I)
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let mut pending = Pending::default();
        for v in values {
            self.insert_unlinked(None, v.as_ref(), 0, &mut pending);
        }
        self.link(pending);
    }

    /// Makes the patterns pushed since the last link findable.
    fn link(&mut self, pending: Pending) {
        for (band, ids) in self.bands.iter_mut().zip(pending.ids) {
            if !ids.is_empty() {
                band.link(&ids);
            }
        }
    }

    /// [`Store::insert`] whose new patterns are only pushed into their
    /// bands; `pending` collects them, to link.
    fn insert_unlinked(
        &mut self,
        label: Option<&str>,
        value: &[u8],
        stamp: u64,
        pending: &mut Pending,
    ) -> Option<Vec<MaskWarning>> {
        if self.contains(value) {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut rec = ValueRec {
            bytes: bytes_of(value),
            patterns: Vec::new(),
            shorts: Vec::new(),
            warned: false,
            id,
            stamp,
        };
        let min_len = self.min_len;
        let mut warnings = Vec::new();
        if value.is_empty() {
            warnings.push(WarningKind::Empty);
        } else if char_len(value) < min_len {
            self.add_short(value, &mut rec.shorts);
            warnings.push(WarningKind::TooShort { min_len });
        } else {
            let mut x = Expansion::new(min_len);
            x.add_value(value);
            let mut patterns = x.patterns;
            // Shortest first, so that a value's short forms open the band
            // its longer short forms then join (see `band_for`). Duplicate
            // forms are found by `add_pattern`, without comparing bytes here.
            patterns.sort_unstable_by_key(|p| p.len());
            rec.patterns.reserve_exact(patterns.len());
            for p in &patterns {
                self.add_pattern(p, &mut rec.patterns, pending);
            }
            for s in &x.short {
                self.add_short(s, &mut rec.shorts);
            }
            if x.short_leaves > 0 {
                warnings.push(WarningKind::ShortJsonLeaves {
                    count: x.short_leaves,
                    min_len,
                });
            }
        }
        let warnings: Vec<MaskWarning> = warnings
            .into_iter()
            .map(|kind| MaskWarning {
                label: label.map(str::to_owned),
                kind,
            })
            .collect();
        rec.warned = !warnings.is_empty();
        self.warnings.extend(warnings.iter().cloned());
        self.warned_by.extend(warnings.iter().map(|_| id));
        self.value_bytes += value.len();
        let h = self.hasher.hash_one(value);
        match self.values.entry(h) {
            Entry::Occupied(_) => self.collided.push(rec),
            Entry::Vacant(slot) => {
                slot.insert(rec);
            }
        }
        Some(warnings)
    }

    /// Takes a reference on pattern `p` for a value holding `mine`, and
    /// records it there, unless the value already holds `p` (a form equal
    /// to another, like the lower case of a lower-case value).
    fn add_pattern(&mut self, p: &[u8], mine: &mut Vec<PatRef>, pending: &mut Pending) {
        let h = self.hasher.hash_one(p);
        if let Some(&r) = self.patterns.get(&h) {
            if let Some(band) = self.bands.get_mut(usize::from(r.band))
                && band.pattern(r.id) == p
            {
                if !mine.contains(&r) {
                    band.retain(r.id);
                    mine.push(r);
                }
                return;
            }
            // A hash collision: `p` may be one of `mine` all the same.
            let held = |r: &PatRef| {
                self.bands
                    .get(usize::from(r.band))
                    .is_some_and(|band| band.pattern(r.id) == p)
            };
            if mine.iter().any(held) {
                return;
            }
        }
        let b = self.band_for(p.len());
        let id = self.bands.get_mut(b).map_or(0, |band| band.push(p));
        if let Some(ids) = pending.ids.get_mut(b) {
            ids.push(id);
        }
        let r = PatRef { band: b as u8, id };
        // On a hash collision the pattern is not shared, only held.
        self.patterns.entry(h).or_insert(r);
        mine.push(r);
    }

    /// The band a new pattern of `len` bytes goes to. Every band in use is
    /// one more pass over the text, so a pattern shorter than the long band
    /// joins the lowest band in use that it fits (its stride is bounded by
    /// that band's lower bound, which the pattern reaches) rather than open
    /// its own; the long band stays apart for its long stride. Which band
    /// holds a pattern changes only the cost of a scan, never its result.
    fn band_for(&self, len: usize) -> usize {
        let natural = band_of(len);
        if natural == BANDS.len() - 1 {
            return natural;
        }
        (0..natural)
            .find(|&b| self.bands.get(b).is_some_and(|i| !i.is_empty()))
            .unwrap_or(natural)
    }

    fn add_short(&mut self, s: &[u8], mine: &mut Vec<Bytes>) {
        if mine.iter().any(|m| m[..] == *s) {
            return;
        }
        mine.push(bytes_of(s));
        let h = self.hasher.hash_one(s);
        let recs = self.short.entry(h).or_default();
        match recs.iter_mut().find(|r| r.bytes[..] == *s) {
            Some(r) => r.refs += 1,
            None => recs.push(ShortRec {
                bytes: bytes_of(s),
                refs: 1,
            }),
        }
    }

    /// Removes `value` and whatever only it held (wiped); returns whether it
    /// was held.
    pub(crate) fn remove(&mut self, value: &[u8]) -> bool {
        let h = self.hasher.hash_one(value);
        let rec = match self.values.get(&h) {
            Some(r) if r.bytes[..] == *value => self.values.remove(&h),
            _ => self
                .collided
                .iter()
                .position(|r| r.bytes[..] == *value)
                .map(|i| self.collided.swap_remove(i)),
        };
        let Some(rec) = rec else {
            return false;
        };
        for &r in &rec.patterns {
            let Some(band) = self.bands.get_mut(usize::from(r.band)) else {
                continue;
            };
            if band.refs(r.id) == 1 {
                let ph = self.hasher.hash_one(band.pattern(r.id));
                if self.patterns.get(&ph) == Some(&r) {
                    self.patterns.remove(&ph);
                }
            }
            band.release(r.id);
        }
        for s in &rec.shorts {
            self.release_short(s);
        }
        if rec.warned {
            let mut owners = self.warned_by.iter();
            self.warnings
                .retain(|_| owners.next().is_some_and(|&o| o != rec.id));
            self.warned_by.retain(|&o| o != rec.id);
        }
        self.value_bytes -= value.len();
        true
    }

    /// Drops one reference on the short value `s`.
    fn release_short(&mut self, s: &[u8]) {
        let key = self.hasher.hash_one(s);
        let Some(recs) = self.short.get_mut(&key) else {
            return;
        };
        if let Some(i) = recs.iter().position(|r| r.bytes[..] == *s)
            && let Some(r) = recs.get_mut(i)
        {
            r.refs -= 1;
            if r.refs == 0 {
                recs.swap_remove(i);
            }
        }
        if recs.is_empty() {
            self.short.remove(&key);
        }
    }
}
