//! Mask sets: the secret values of one scope (an execution, a `saker mask`
//! run), every form of them, and whole-text masking.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::emit::{Emitter, Occurrence};
use crate::index::Index;
use crate::secret::Secret;
use crate::store::Store;
use crate::stream::{LineMasker, StreamMasker};
use crate::warning::MaskWarning;
use crate::{DEFAULT_MIN_LEN, MASK};

/// Collects secret values into a [`MaskSet`]. Each value is indexed as it
/// is added (its forms, nothing else), so `build` costs nothing more.
///
/// `Debug` prints counts only.
pub struct MaskSetBuilder {
    store: Store,
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
        Self {
            store: Store::new(min_len),
        }
    }

    /// A builder holding everything in `set`, to extend it. This copies the
    /// set (time and memory proportional to it); to grow a set you own,
    /// [`MaskSet::insert`] costs only the new value.
    pub fn from_set(set: &MaskSet) -> Self {
        Self {
            store: (*set.store).clone(),
        }
    }

    /// Adds a secret value. Adding a value twice has no effect.
    pub fn add(&mut self, value: impl AsRef<[u8]>) -> &mut Self {
        self.store.insert(None, value.as_ref(), 0);
        self
    }

    /// Adds a secret value; `label` names it in warnings.
    pub fn add_labeled(&mut self, label: &str, value: impl AsRef<[u8]>) -> &mut Self {
        self.store.insert(Some(label), value.as_ref(), 0);
        self
    }

    /// Adds a [`Secret`], using its label in warnings.
    pub fn add_secret(&mut self, secret: &Secret) -> &mut Self {
        self.store.insert(Some(secret.label()), secret.expose(), 0);
        self
    }

    /// Adds several values.
    pub fn extend<I, V>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        self.store.insert_all(values);
        self
    }

    /// Warnings recorded so far, one per affected value.
    pub fn warnings(&self) -> &[MaskWarning] {
        &self.store.warnings
    }

    /// Number of distinct values added.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The set (no further work: values were indexed as they were added).
    pub fn build(self) -> MaskSet {
        MaskSet {
            store: Arc::new(self.store),
        }
    }
}

impl fmt::Debug for MaskSetBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskSetBuilder")
            .field("values", &self.store.len())
            .field("warnings", &self.store.warnings.len())
            .field("min_len", &self.store.min_len)
            .finish()
    }
}

/// A set of secret values and their forms, ready to mask text.
///
/// Cloning is cheap (clones share the contents); it is `Send + Sync`.
/// [`MaskSet::insert`] and [`MaskSet::remove`] change one value at a cost
/// proportional to that value's forms, whatever the set holds, when this
/// clone is the only one; when other clones (snapshots held by maskers)
/// share the contents, the first change copies them (copy on write), so
/// the snapshots keep masking with what they were given.
///
/// Masking hides every byte covered by an occurrence of any form of any
/// value, including occurrences that overlap each other, and replaces each
/// maximal hidden run with [`MASK`], whatever its length.
///
/// Values are kept in buffers wiped when removed or dropped. `Debug` prints
/// counts only.
///
/// ```
/// use saker_mask::MaskSet;
///
/// let mut set = MaskSet::empty();
/// set.insert("ghp_execution_token_1");
/// set.insert("ghp_execution_token_2");
/// assert_eq!(set.mask("a ghp_execution_token_2 b"), "a **** b");
/// assert!(set.remove("ghp_execution_token_2"));
/// assert!(!set.contains_value("ghp_execution_token_2"));
/// assert_eq!(set.mask("a ghp_execution_token_2 b"), "a ghp_execution_token_2 b");
/// assert_eq!(set.len(), 1);
/// ```
#[derive(Clone)]
pub struct MaskSet {
    store: Arc<Store>,
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
    /// values are appended to [`MaskSet::warnings`]. This copies the set;
    /// [`MaskSet::insert`] on a set you own does not.
    pub fn with_added<I, V>(&self, values: I) -> MaskSet
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let mut b = MaskSetBuilder::from_set(self);
        b.extend(values);
        b.build()
    }

    /// The contents, to change: shared contents are copied first.
    pub(crate) fn store_mut(&mut self) -> &mut Store {
        Arc::make_mut(&mut self.store)
    }

    /// Adds `value` and all its forms, at a cost proportional to its forms
    /// (about 60 for a 30-character token), whatever the set holds. Returns
    /// the warnings it raised (none if the value was already held). See
    /// [`MaskSet`] about clones.
    pub fn insert(&mut self, value: impl AsRef<[u8]>) -> Vec<MaskWarning> {
        self.insert_inner(None, value.as_ref())
    }

    /// [`MaskSet::insert`] with a label naming the value in warnings.
    pub fn insert_labeled(&mut self, label: &str, value: impl AsRef<[u8]>) -> Vec<MaskWarning> {
        self.insert_inner(Some(label), value.as_ref())
    }

    fn insert_inner(&mut self, label: Option<&str>, value: &[u8]) -> Vec<MaskWarning> {
        if self.store.contains(value) {
            return Vec::new();
        }
        self.store_mut().insert(label, value, 0).unwrap_or_default()
    }

    /// Removes `value` and the forms no other value of the set has; they
    /// are wiped from memory. Returns whether the set held it. Costs about
    /// what adding it did.
    pub fn remove(&mut self, value: impl AsRef<[u8]>) -> bool {
        let value = value.as_ref();
        self.store.contains(value) && self.store_mut().remove(value)
    }

    /// Whether `value` is one of the values added (not a derived form).
    pub fn contains_value(&self, value: impl AsRef<[u8]>) -> bool {
        self.store.contains(value.as_ref())
    }

    /// Number of distinct values added (including too short ones).
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of distinct patterns (values and forms) masked inside text.
    pub fn pattern_count(&self) -> usize {
        self.classes().map(Index::len).sum()
    }

    /// Bytes of secret material held: the values and their forms. The
    /// indexes around them take about five times more (see
    /// [`MaskSet::index_bytes`]).
    pub fn held_bytes(&self) -> usize {
        self.store.held_bytes()
    }

    /// Bytes allocated by the indexes of the forms (an estimate of the
    /// memory the set takes beyond [`MaskSet::held_bytes`]).
    pub fn index_bytes(&self) -> usize {
        self.store.allocated()
    }

    /// Minimum length, in characters, of what is masked inside text.
    pub fn min_len(&self) -> usize {
        self.store.min_len
    }

    /// Length in bytes of the longest pattern (0 when there is none).
    pub fn max_pattern_len(&self) -> usize {
        self.classes().map(Index::max_len).max().unwrap_or(0)
    }

    /// Warnings recorded for the values of this set (those of removed values
    /// are removed with them).
    pub fn warnings(&self) -> &[MaskWarning] {
        &self.store.warnings
    }

    /// The length bands that hold patterns, each one pass over the text.
    pub(crate) fn classes(&self) -> impl Iterator<Item = &Index> {
        self.store.bands()
    }

    /// Masks `text`. Borrows it when nothing is masked.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        mask_str_with(&[self], text)
    }

    /// Masks `bytes`. Borrows them when nothing is masked. Streaming the same
    /// bytes through a [`StreamMasker`] gives the same output.
    pub fn mask_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        mask_bytes_with(&[self], bytes)
    }

    /// Masks `text` with every set of `sets` at once (an execution's set and
    /// the process's recent secrets): the same as masking with one set
    /// holding all their values, in one output pass.
    ///
    /// ```
    /// use saker_mask::MaskSet;
    ///
    /// let execution = MaskSet::from_values(["execution-secret"]);
    /// let process = MaskSet::from_values(["process-secret"]);
    /// assert_eq!(
    ///     MaskSet::mask_with(&[&execution, &process], "execution-secret/process-secret!"),
    ///     "****/****!"
    /// );
    /// ```
    pub fn mask_with<'a>(sets: &[&MaskSet], text: &'a str) -> Cow<'a, str> {
        mask_str_with(sets, text)
    }

    /// [`MaskSet::mask_value`] with every set of `sets` at once.
    pub fn mask_value_with<'a>(sets: &[&MaskSet], text: &'a str) -> Cow<'a, str> {
        if sets.iter().any(|s| s.is_short_value(text.as_bytes())) {
            return Cow::Borrowed(MASK);
        }
        Self::mask_with(sets, text)
    }

    fn occurrences(&self, bytes: &[u8]) -> Vec<Occurrence> {
        occurrences(&[self], bytes)
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
        self.store.is_short(bytes)
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
            .field("short_values", &self.store.short_count())
            .field("min_len", &self.store.min_len)
            .finish()
    }
}

/// Masked bytes as text. A pattern that is not UTF-8 (a binary secret) can
/// cut a character in two; its stray bytes are replaced, not kept.
fn into_string(v: Vec<u8>) -> String {
    match String::from_utf8(v) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Every occurrence of a pattern of `sets` in `bytes`, sorted.
fn occurrences(sets: &[&MaskSet], bytes: &[u8]) -> Vec<Occurrence> {
    let mut occ = Vec::new();
    for class in sets.iter().flat_map(|s| s.classes()) {
        class.scan(bytes, 0, 0, bytes.len() as u64, &mut occ);
    }
    occ.sort_unstable();
    occ
}

/// [`mask_bytes_with`] for text: the text between masked runs is copied as
/// string slices, so the output needs no UTF-8 check, unless a pattern that
/// is not UTF-8 cuts a character (then as bytes, see [`into_string`]).
fn mask_str_with<'a>(sets: &[&MaskSet], text: &'a str) -> Cow<'a, str> {
    let occ = occurrences(sets, text.as_bytes());
    if occ.is_empty() {
        return Cow::Borrowed(text);
    }
    let as_bytes = || {
        let mut out = Vec::with_capacity(text.len());
        let end = text.len() as u64;
        Emitter::default().emit(text.as_bytes(), 0, 0, end, &occ, &mut out);
        Cow::Owned(into_string(out))
    };
    let mut out = String::with_capacity(text.len());
    let mut shown = 0;
    let mut runs = occ.iter().peekable();
    while let Some(&(start, mut end)) = runs.next() {
        // Overlapping and adjacent occurrences make one run.
        while let Some(&&(s, e)) = runs.peek() {
            if s > end {
                break;
            }
            end = end.max(e);
            runs.next();
        }
        let (start, end) = (start as usize, end as usize);
        match text.get(shown..start) {
            Some(t) => out.push_str(t),
            None => return as_bytes(),
        }
        out.push_str(MASK);
        shown = end;
    }
    match text.get(shown..) {
        Some(t) => out.push_str(t),
        None => return as_bytes(),
    }
    Cow::Owned(out)
}

fn mask_bytes_with<'a>(sets: &[&MaskSet], bytes: &'a [u8]) -> Cow<'a, [u8]> {
    let occ = occurrences(sets, bytes);
    if occ.is_empty() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let end = bytes.len() as u64;
    Emitter::default().emit(bytes, 0, 0, end, &occ, &mut out);
    Cow::Owned(out)
}
