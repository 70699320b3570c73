//! A bounded mask set of the secrets a process resolved recently: the
//! second net under each execution's own set, for text no execution owns
//! (Saker's own log). It keeps the most recently inserted values within a
//! count and a size, evicting the least recently inserted first; every
//! insertion, eviction and removal costs the forms of one value, whatever
//! the set holds.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::secret::{Bytes, bytes_of};
use crate::set::MaskSet;
use crate::warning::MaskWarning;
use crate::{DEFAULT_MIN_LEN, MASK};

/// How much a [`BoundedMaskSet`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskLimits {
    /// Most values kept.
    pub max_values: usize,
    /// Most bytes of secret material kept: values and their forms
    /// ([`MaskSet::held_bytes`]). The indexes take about five
    /// times more memory. A single value larger than this is still kept
    /// while it is the only one.
    pub max_bytes: usize,
}

impl Default for MaskLimits {
    /// 4,096 values and 16 MiB of forms. A typical secret (a token of 20 to
    /// 40 characters) brings about 4 KiB of forms and 20 KiB of index, so
    /// the default set takes up to about 100 MiB.
    fn default() -> Self {
        Self {
            max_values: 4_096,
            max_bytes: 16 << 20,
        }
    }
}

/// A thread-safe mask set that keeps the most recently inserted values
/// within [`MaskLimits`].
///
/// Inserting a value held already makes it the most recent. Values are
/// wiped from memory when evicted or removed. `Debug` prints counts only.
///
/// ```
/// use saker_mask::{BoundedMaskSet, MaskLimits, MaskSet};
///
/// let recent = BoundedMaskSet::new(MaskLimits { max_values: 2, max_bytes: 1 << 20 });
/// recent.insert("first-secret-value");
/// recent.insert("second-secret-value");
/// recent.insert("third-secret-value"); // evicts the first
/// assert_eq!(recent.len(), 2);
/// assert!(!recent.contains_value("first-secret-value"));
/// assert_eq!(recent.mask("x third-secret-value"), "x ****");
///
/// // Revoked: masked no more, held no more.
/// assert!(recent.remove("second-secret-value"));
/// assert!(!recent.contains_value("second-secret-value"));
///
/// // An execution's own set and the recent secrets, in one pass.
/// let execution = MaskSet::from_values(["execution-only-secret"]);
/// assert_eq!(
///     recent.mask_with(&execution, "execution-only-secret third-secret-value"),
///     "**** ****"
/// );
/// ```
pub struct BoundedMaskSet {
    inner: RwLock<Bounded>,
}

struct Bounded {
    set: MaskSet,
    limits: MaskLimits,
    /// Values by insertion stamp, oldest first.
    recency: BTreeMap<u64, Bytes>,
    next_stamp: u64,
}

impl BoundedMaskSet {
    /// An empty set with the default minimum length.
    pub fn new(limits: MaskLimits) -> Self {
        Self::with_min_len(limits, DEFAULT_MIN_LEN)
    }

    /// An empty set masking forms of at least `min_len` characters.
    pub fn with_min_len(limits: MaskLimits, min_len: usize) -> Self {
        Self {
            inner: RwLock::new(Bounded {
                set: crate::MaskSetBuilder::with_min_len(min_len).build(),
                limits,
                recency: BTreeMap::new(),
                next_stamp: 0,
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Bounded> {
        // Every change is complete before its guard is released, so a
        // poisoned lock still holds a whole set.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Bounded> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts `value` as the most recent, evicting the least recent values
    /// beyond the limits. Returns the warnings it raised (none if it was
    /// held already).
    pub fn insert(&self, value: impl AsRef<[u8]>) -> Vec<MaskWarning> {
        let value = value.as_ref();
        let mut b = self.write();
        let stamp = b.next_stamp;
        b.next_stamp += 1;
        let previous = b.set.store_mut().stamp_mut(value).map(|s| {
            let old = *s;
            *s = stamp;
            old
        });
        let warnings = match previous {
            Some(old) => {
                let kept = b.recency.remove(&old);
                b.recency
                    .insert(stamp, kept.unwrap_or_else(|| bytes_of(value)));
                Vec::new()
            }
            None => {
                let store = b.set.store_mut();
                let warnings = store.insert(None, value, stamp).unwrap_or_default();
                b.recency.insert(stamp, bytes_of(value));
                warnings
            }
        };
        b.evict();
        warnings
    }

    /// Removes `value` (a revoked secret); returns whether it was held.
    pub fn remove(&self, value: impl AsRef<[u8]>) -> bool {
        let value = value.as_ref();
        let mut b = self.write();
        let Some(stamp) = b.set.store_mut().stamp_mut(value).map(|s| *s) else {
            return false;
        };
        b.recency.remove(&stamp);
        b.set.store_mut().remove(value)
    }

    /// Whether `value` is held.
    pub fn contains_value(&self, value: impl AsRef<[u8]>) -> bool {
        self.read().set.contains_value(value)
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.read().set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The limits this set keeps to.
    pub fn limits(&self) -> MaskLimits {
        self.read().limits
    }

    /// Bytes of secret material held (see [`MaskSet::held_bytes`]).
    pub fn held_bytes(&self) -> usize {
        self.read().set.held_bytes()
    }

    /// Masks `text` with the values held (see [`MaskSet::mask`]).
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.read().set.mask(text)
    }

    /// Masks a discrete value (see [`MaskSet::mask_value`]).
    pub fn mask_value<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.read().set.mask_value(text)
    }

    /// Masks `text` with `other` and the values held, in one pass (see
    /// [`MaskSet::mask_with`]).
    pub fn mask_with<'a>(&self, other: &MaskSet, text: &'a str) -> Cow<'a, str> {
        MaskSet::mask_with(&[other, &self.read().set], text)
    }

    /// [`BoundedMaskSet::mask_with`] for a discrete value.
    pub fn mask_value_with<'a>(&self, other: &MaskSet, text: &'a str) -> Cow<'a, str> {
        let b = self.read();
        if b.set.is_short_value(text.as_bytes()) || other.is_short_value(text.as_bytes()) {
            return Cow::Borrowed(MASK);
        }
        MaskSet::mask_with(&[other, &b.set], text)
    }

    /// A copy of the current contents, for a streaming masker. While it is
    /// alive, the next change copies the set (time proportional to it):
    /// prefer [`BoundedMaskSet::mask`] for short texts.
    pub fn snapshot(&self) -> MaskSet {
        self.read().set.clone()
    }
}

impl Bounded {
    /// Evicts the least recent values while a limit is exceeded, keeping
    /// at least one value.
    fn evict(&mut self) {
        while self.set.len() > 1
            && (self.set.len() > self.limits.max_values
                || self.set.held_bytes() > self.limits.max_bytes)
        {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.set.store_mut().remove(&oldest);
        }
    }
}

impl fmt::Debug for BoundedMaskSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.read();
        f.debug_struct("BoundedMaskSet")
            .field("set", &b.set)
            .field("limits", &b.limits)
            .finish()
    }
}
