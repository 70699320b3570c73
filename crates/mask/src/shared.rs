//! A mask set that grows: the engine keeps one per execution and adds every
//! secret, SECRET input and tainted value as it is resolved, while tasks and
//! log writers read consistent snapshots.

use std::borrow::Cow;
use std::fmt;
use std::sync::{RwLock, RwLockReadGuard};

use crate::set::{MaskSet, MaskSetBuilder};
use crate::warning::MaskWarning;

/// A thread-safe, growing [`MaskSet`].
///
/// Readers take cheap snapshots ([`SharedMaskSet::snapshot`]) or mask
/// directly; writers add values at the cost of their forms only
/// ([`MaskSet::insert`]). While a snapshot is alive the next addition
/// copies the set (copy on write), so that the snapshot keeps masking with
/// the older set; long-lived maskers should be given the new set
/// ([`crate::StreamMasker::set_mask_set`]).
pub struct SharedMaskSet {
    current: RwLock<MaskSet>,
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
        }
    }

    /// An empty set with the given minimum length.
    pub fn with_min_len(min_len: usize) -> Self {
        Self::new(MaskSetBuilder::with_min_len(min_len).build())
    }

    /// The current set.
    pub fn snapshot(&self) -> MaskSet {
        self.read().clone()
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

    /// Adds several values under one lock.
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
        // Values already present (a secret resolved again) cost a lookup
        // and take no lock but the reader's.
        if items.iter().all(|(_, v)| self.contains_value(v)) {
            return Vec::new();
        }
        let mut set = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut warnings = Vec::new();
        for &(label, value) in items {
            warnings.extend(match label {
                Some(l) => set.insert_labeled(l, value),
                None => set.insert(value),
            });
        }
        warnings
    }

    /// Removes a value (see [`MaskSet::remove`]); returns whether it was
    /// held. Snapshots taken before keep it.
    pub fn remove(&self, value: impl AsRef<[u8]>) -> bool {
        let value = value.as_ref();
        self.contains_value(value)
            && self
                .current
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(value)
    }

    /// Whether the current set holds `value` (see [`MaskSet::contains_value`]).
    pub fn contains_value(&self, value: impl AsRef<[u8]>) -> bool {
        self.read().contains_value(value)
    }

    /// Number of values in the current set.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, MaskSet> {
        // A panic while holding the lock leaves a whole set (each change
        // is made before the guard is released, one value at a time), so a
        // poisoned lock is still usable.
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Masks `text` with the current set (see [`MaskSet::mask`]).
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.read().mask(text)
    }

    /// Masks a discrete value with the current set (see
    /// [`MaskSet::mask_value`]).
    pub fn mask_value<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.read().mask_value(text)
    }
}

impl fmt::Debug for SharedMaskSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedMaskSet").field(&*self.read()).finish()
    }
}
