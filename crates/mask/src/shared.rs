//! A mask set that grows: the engine keeps one per execution and adds every
//! secret, SECRET input and tainted value as it is resolved, while tasks and
//! log writers read consistent snapshots.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Mutex, RwLock};

use crate::set::{MaskSet, MaskSetBuilder, MaskWarning};

/// A thread-safe, growing [`MaskSet`].
///
/// Readers take cheap snapshots ([`SharedMaskSet::snapshot`]) or mask
/// directly; writers add values, which rebuilds the set (a few milliseconds
/// for hundreds of secrets) only when a value is new. A snapshot taken before
/// an addition keeps masking with the older set, so long-lived maskers
/// should be given the new set ([`crate::StreamMasker::set_mask_set`]).
pub struct SharedMaskSet {
    current: RwLock<MaskSet>,
    /// Serialises writers so that two concurrent additions cannot lose one.
    writer: Mutex<()>,
}

impl Default for SharedMaskSet {
    fn default() -> Self {
        Self::new(MaskSet::empty())
    }
}

impl SharedMaskSet {
    pub fn new(set: MaskSet) -> Self {
        Self {
            current: RwLock::new(set),
            writer: Mutex::new(()),
        }
    }

    /// An empty set with the given minimum length.
    pub fn with_min_len(min_len: usize) -> Self {
        Self::new(MaskSetBuilder::with_min_len(min_len).build())
    }

    /// The current set.
    pub fn snapshot(&self) -> MaskSet {
        // A panic while holding the lock cannot leave a half-written set
        // (the set is swapped whole), so a poisoned lock is still usable.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds a value; returns the warnings it raised (empty when the value
    /// was already present).
    pub fn add(&self, value: impl AsRef<[u8]>) -> Vec<MaskWarning> {
        self.add_all(&[(None, value.as_ref())])
    }

    /// Adds a value with a label used in warnings.
    pub fn add_labeled(&self, label: &str, value: impl AsRef<[u8]>) -> Vec<MaskWarning> {
        self.add_all(&[(Some(label), value.as_ref())])
    }

    /// Adds several values with one rebuild. Prefer it to repeated
    /// [`SharedMaskSet::add`] calls: each addition of a new value rebuilds
    /// the whole set.
    pub fn extend<I, V>(&self, values: I) -> Vec<MaskWarning>
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let values: Vec<V> = values.into_iter().collect();
        let items: Vec<(Option<&str>, &[u8])> = values.iter().map(|v| (None, v.as_ref())).collect();
        self.add_all(&items)
    }

    fn add_all(&self, items: &[(Option<&str>, &[u8])]) -> Vec<MaskWarning> {
        // Values already present (a secret resolved again) cost a lookup,
        // not a rebuild, and take no lock but the reader's.
        let known = |set: &MaskSet| items.iter().all(|(_, v)| set.contains_value(v));
        if known(&self.snapshot()) {
            return Vec::new();
        }
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot();
        if known(&current) {
            return Vec::new();
        }
        let mut b = MaskSetBuilder::from_set(&current);
        let warned = b.warnings().len();
        for &(label, value) in items {
            match label {
                Some(l) => b.add_labeled(l, value),
                None => b.add(value),
            };
        }
        let new = b.warnings().get(warned..).unwrap_or_default().to_vec();
        let set = b.build();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = set;
        new
    }

    /// Masks `text` with the current set (see [`MaskSet::mask`]).
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.snapshot().mask(text)
    }

    /// Masks a discrete value with the current set (see
    /// [`MaskSet::mask_value`]).
    pub fn mask_value<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.snapshot().mask_value(text)
    }
}

impl fmt::Debug for SharedMaskSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedMaskSet")
            .field(&self.snapshot())
            .finish()
    }
}
