//! Mask sets: the secret values of one scope (an execution, a `saker mask`
//! run), every form of them, and whole-text masking.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use crate::emit::{Emitter, Occurrence};
use crate::index::{Index, partition};
use crate::secret::{Bytes, Secret, bytes_of, char_len};
use crate::stream::{LineMasker, StreamMasker};
use crate::variants::Expansion;
use crate::{DEFAULT_MIN_LEN, MASK};

/// Why a secret is masked less than it could be. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskWarning {
    /// The label given with the value, if any.
    pub label: Option<String>,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// The value is empty: there is nothing to mask.
    Empty,
    /// The value has fewer than `min_len` characters: it is masked only where
    /// it is a whole value (a whole log line, a whole output), never inside
    /// other text.
    TooShort { min_len: usize },
    /// The value is JSON and `count` of its string leaves have fewer than
    /// `min_len` characters: they are masked only as whole values.
    ShortJsonLeaves { count: usize, min_len: usize },
}

impl fmt::Display for MaskWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(l) => write!(f, "secret {l}")?,
            None => f.write_str("a secret")?,
        }
        match self.kind {
            WarningKind::Empty => f.write_str(" is empty and masks nothing"),
            WarningKind::TooShort { min_len } => write!(
                f,
                " is shorter than {min_len} characters: it is masked only where it \
                 is a whole value, not inside other text"
            ),
            WarningKind::ShortJsonLeaves { count, min_len } => write!(
                f,
                " has {count} JSON string value(s) shorter than {min_len} characters: \
                 they are masked only where they are a whole value"
            ),
        }
    }
}

/// Collects secret values and builds an immutable [`MaskSet`].
///
/// `Debug` prints counts only.
pub struct MaskSetBuilder {
    min_len: usize,
    hasher: RandomState,
    /// Keyed hashes of the values already added (no secret material).
    seen: HashSet<u64>,
    values: Vec<Bytes>,
    expansion: Expansion,
    warnings: Vec<MaskWarning>,
}

impl Default for MaskSetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl MaskSetBuilder {
    /// A builder with the default minimum length ([`DEFAULT_MIN_LEN`]).
    pub fn new() -> Self {
        Self::with_min_len(DEFAULT_MIN_LEN)
    }

    /// A builder that masks values and forms of at least `min_len`
    /// characters inside text (values of at least 1 character are always
    /// masked as whole values).
    pub fn with_min_len(min_len: usize) -> Self {
        let min_len = min_len.max(1);
        Self {
            min_len,
            hasher: RandomState::new(),
            seen: HashSet::new(),
            values: Vec::new(),
            expansion: Expansion::new(min_len),
            warnings: Vec::new(),
        }
    }

    /// A builder holding everything in `set`, to extend it.
    pub fn from_set(set: &MaskSet) -> Self {
        let inner = &set.inner;
        let mut b = Self::with_min_len(inner.min_len);
        for v in &inner.values {
            b.seen.insert(b.hasher.hash_one(&v[..]));
            b.values.push(bytes_of(v));
        }
        for class in &inner.classes {
            b.expansion.patterns.extend(class.patterns().map(bytes_of));
        }
        b.expansion
            .short
            .extend(inner.short.iter().map(|s| bytes_of(s)));
        b.warnings.clone_from(&inner.warnings);
        b
    }

    /// Adds a secret value. Adding a value twice has no effect.
    pub fn add(&mut self, value: impl AsRef<[u8]>) -> &mut Self {
        self.add_inner(None, value.as_ref());
        self
    }

    /// Adds a secret value; `label` names it in warnings.
    pub fn add_labeled(&mut self, label: &str, value: impl AsRef<[u8]>) -> &mut Self {
        self.add_inner(Some(label), value.as_ref());
        self
    }

    /// Adds a [`Secret`], using its label in warnings.
    pub fn add_secret(&mut self, secret: &Secret) -> &mut Self {
        self.add_inner(Some(secret.label()), secret.expose());
        self
    }

    /// Adds several values.
    pub fn extend<I, V>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        for v in values {
            self.add_inner(None, v.as_ref());
        }
        self
    }

    fn add_inner(&mut self, label: Option<&str>, value: &[u8]) {
        let digest = self.hasher.hash_one(value);
        if self.seen.contains(&digest) && self.values.iter().any(|v| v[..] == *value) {
            return;
        }
        self.seen.insert(digest);
        self.values.push(bytes_of(value));
        let warn = |kind| MaskWarning {
            label: label.map(str::to_owned),
            kind,
        };
        let min_len = self.min_len;
        if value.is_empty() {
            self.warnings.push(warn(WarningKind::Empty));
        } else if char_len(value) < min_len {
            self.expansion.short.push(bytes_of(value));
            self.warnings.push(warn(WarningKind::TooShort { min_len }));
        } else {
            let before = self.expansion.short_leaves;
            self.expansion.add_value(value);
            let count = self.expansion.short_leaves - before;
            if count > 0 {
                self.warnings
                    .push(warn(WarningKind::ShortJsonLeaves { count, min_len }));
            }
        }
    }

    /// Warnings recorded so far, one per affected value.
    pub fn warnings(&self) -> &[MaskWarning] {
        &self.warnings
    }

    /// Number of distinct values added.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Builds the set (about 20 ms for 1,000 secrets with all their forms).
    pub fn build(self) -> MaskSet {
        let Self {
            min_len,
            mut values,
            expansion,
            warnings,
            ..
        } = self;
        // Sorted for `MaskSet::contains_value`.
        values.sort_unstable_by(|a, b| a[..].cmp(&b[..]));
        let mut patterns = expansion.patterns;
        patterns.sort_unstable_by(|a, b| (a.len(), &a[..]).cmp(&(b.len(), &b[..])));
        patterns.dedup_by(|a, b| a[..] == b[..]);
        let lengths: Vec<usize> = patterns.iter().map(|p| p.len()).collect();
        let mut classes = Vec::new();
        let mut first = 0;
        for end in partition(&lengths) {
            if let Some(class) = patterns.get(first..end) {
                let refs: Vec<&[u8]> = class.iter().map(|p| &p[..]).collect();
                classes.push(Index::build(&refs));
            }
            first = end;
        }
        let mut short = expansion.short;
        short.sort_unstable_by(|a, b| a[..].cmp(&b[..]));
        short.dedup_by(|a, b| a[..] == b[..]);
        MaskSet {
            inner: Arc::new(Inner {
                min_len,
                values,
                short,
                warnings,
                classes,
            }),
        }
    }
}

impl fmt::Debug for MaskSetBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskSetBuilder")
            .field("values", &self.values.len())
            .field("patterns", &self.expansion.patterns.len())
            .field("warnings", &self.warnings.len())
            .field("min_len", &self.min_len)
            .finish()
    }
}

/// An immutable set of secret values and their forms, ready to mask text.
///
/// Cloning is cheap (the set is shared); it is `Send + Sync`. To grow it,
/// build a new one with [`MaskSet::with_added`] or [`MaskSetBuilder::from_set`]
/// (or use [`crate::SharedMaskSet`], which does that for you).
///
/// Masking hides every byte covered by an occurrence of any form of any
/// value, including occurrences that overlap each other, and replaces each
/// maximal hidden run with [`MASK`], whatever its length.
///
/// `Debug` prints counts only.
#[derive(Clone)]
pub struct MaskSet {
    inner: Arc<Inner>,
}

struct Inner {
    min_len: usize,
    values: Vec<Bytes>,
    /// Sorted values too short to mask inside text.
    short: Vec<Bytes>,
    warnings: Vec<MaskWarning>,
    classes: Vec<Index>,
}

impl Default for MaskSet {
    fn default() -> Self {
        Self::empty()
    }
}

impl MaskSet {
    /// A set that masks nothing.
    pub fn empty() -> Self {
        MaskSetBuilder::new().build()
    }

    /// Shorthand for [`MaskSetBuilder::new`].
    pub fn builder() -> MaskSetBuilder {
        MaskSetBuilder::new()
    }

    /// A set of `values` with the default minimum length.
    pub fn from_values<I, V>(values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let mut b = MaskSetBuilder::new();
        b.extend(values);
        b.build()
    }

    /// A new set with `values` added to this one's. Warnings for the new
    /// values are appended to [`MaskSet::warnings`].
    pub fn with_added<I, V>(&self, values: I) -> MaskSet
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let mut b = MaskSetBuilder::from_set(self);
        b.extend(values);
        b.build()
    }

    /// Whether `value` is one of the values added (not a derived form).
    pub fn contains_value(&self, value: impl AsRef<[u8]>) -> bool {
        let value = value.as_ref();
        self.inner
            .values
            .binary_search_by(|v| v[..].cmp(value))
            .is_ok()
    }

    /// Number of distinct values added (including too short ones).
    pub fn len(&self) -> usize {
        self.inner.values.len()
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.inner.values.is_empty()
    }

    /// Number of distinct patterns (values and forms) masked inside text.
    pub fn pattern_count(&self) -> usize {
        self.inner.classes.iter().map(Index::len).sum()
    }

    /// Minimum length, in characters, of what is masked inside text.
    pub fn min_len(&self) -> usize {
        self.inner.min_len
    }

    /// Length in bytes of the longest pattern (0 when there is none).
    pub fn max_pattern_len(&self) -> usize {
        self.inner
            .classes
            .iter()
            .map(Index::max_len)
            .max()
            .unwrap_or(0)
    }

    /// Warnings recorded for the values of this set.
    pub fn warnings(&self) -> &[MaskWarning] {
        &self.inner.warnings
    }

    pub(crate) fn classes(&self) -> &[Index] {
        &self.inner.classes
    }

    /// Masks `text`. Borrows it when nothing is masked.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.mask_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // A pattern that is not UTF-8 (a binary secret) can cut a
            // character in two; its stray bytes are replaced, not kept.
            Cow::Owned(v) => Cow::Owned(match String::from_utf8(v) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }),
        }
    }

    /// Masks `bytes`. Borrows them when nothing is masked. Streaming the same
    /// bytes through a [`StreamMasker`] gives the same output.
    pub fn mask_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let occ = self.occurrences(bytes);
        if occ.is_empty() {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        let end = bytes.len() as u64;
        Emitter::default().emit(bytes, 0, 0, end, &occ, &mut out);
        Cow::Owned(out)
    }

    fn occurrences(&self, bytes: &[u8]) -> Vec<Occurrence> {
        let mut occ = Vec::new();
        for class in &self.inner.classes {
            class.scan(bytes, 0, 0, bytes.len() as u64, &mut occ);
        }
        occ.sort_unstable();
        occ
    }

    /// Masks a discrete value (an output, an error message, a log line): like
    /// [`MaskSet::mask`], and also a value that is, once trimmed, exactly a
    /// secret too short to be masked inside text becomes [`MASK`].
    pub fn mask_value<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.is_short_value(text.as_bytes()) {
            return Cow::Borrowed(MASK);
        }
        self.mask(text)
    }

    /// Whether `bytes`, trimmed, is a secret value (or derived value) too
    /// short to be masked inside text.
    pub fn is_short_value(&self, bytes: &[u8]) -> bool {
        let t = bytes.trim_ascii();
        !t.is_empty() && self.inner.short.binary_search_by(|s| s[..].cmp(t)).is_ok()
    }

    /// Whether masking `text` as a value would change it: the value holds a
    /// secret or one of its forms. Use it to decide that an output must be
    /// stored sealed.
    pub fn contains_secret(&self, text: &[u8]) -> bool {
        self.is_short_value(text) || !self.occurrences(text).is_empty()
    }

    /// Masks every string (and object key) of a JSON value in place, as
    /// values; returns whether anything changed. Keys that mask to the same
    /// text get a `#2`, `#3`... suffix so that no entry is lost.
    pub fn mask_json(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => match self.mask_value(s) {
                Cow::Borrowed(_) => false,
                Cow::Owned(m) => {
                    *s = m;
                    true
                }
            },
            Value::Array(a) => a
                .iter_mut()
                .fold(false, |changed, v| self.mask_json(v) | changed),
            Value::Object(map) => {
                let mut changed = false;
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    changed |= self.mask_json(&mut v);
                    let masked = match self.mask_value(&k) {
                        Cow::Borrowed(_) => k,
                        Cow::Owned(m) => {
                            changed = true;
                            m
                        }
                    };
                    let mut key = masked.clone();
                    let mut n = 2;
                    while map.contains_key(&key) {
                        key = format!("{masked}#{n}");
                        n += 1;
                    }
                    map.insert(key, v);
                }
                changed
            }
            _ => false,
        }
    }

    /// A streaming masker over this set.
    pub fn stream(&self) -> StreamMasker {
        StreamMasker::new(self.clone())
    }

    /// A line masker over this set, splitting lines longer than
    /// `max_line_len` bytes.
    pub fn lines(&self, max_line_len: usize) -> LineMasker {
        LineMasker::new(self.clone(), max_line_len)
    }
}

impl fmt::Debug for MaskSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskSet")
            .field("values", &self.len())
            .field("patterns", &self.pattern_count())
            .field("short_values", &self.inner.short.len())
            .field("min_len", &self.inner.min_len)
            .finish()
    }
}
