//! The exact lookup table of an index: distinct windows (8-byte keys) to
//! the head of their list of entries, in open addressing with linear probing.
//!
//! It grows by doubling and deletes by backward shifting, so inserting or
//! removing a key costs O(1) on average whatever the table holds. Keys are
//! windows of secrets: every table is wiped when dropped, and a table that
//! grows wipes the one it replaces.

use zeroize::Zeroize;

use crate::filter::{bits_for, hash};

/// No entry (an empty list, an empty slot).
pub(crate) const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    /// First entry of the key's list; `NONE` marks an empty slot.
    head: u32,
}

const EMPTY: Slot = Slot { key: 0, head: NONE };

#[derive(Clone)]
pub(crate) struct Table {
    slots: Vec<Slot>,
    shift: u32,
    keys: usize,
}

impl Table {
    pub(crate) fn with_capacity(keys: usize) -> Self {
        let bits = Self::bits_for_keys(keys);
        Self {
            slots: vec![EMPTY; 1usize << bits],
            shift: 64 - bits,
            keys: 0,
        }
    }

    /// Log2 of the slots for `keys` keys: at most three quarters full.
    fn bits_for_keys(keys: usize) -> u32 {
        bits_for(keys.saturating_mul(4) / 3 + 1, 4, 40)
    }

    /// Number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.keys
    }

    /// Bytes allocated.
    pub(crate) fn allocated(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, key: u64) -> usize {
        (hash(key) >> self.shift) as usize
    }

    fn find(&self, key: u64) -> Option<usize> {
        let mut s = self.home(key);
        loop {
            let slot = self.slots.get(s)?;
            if slot.head == NONE {
                return None;
            }
            if slot.key == key {
                return Some(s);
            }
            s = (s + 1) & self.mask();
        }
    }

    /// The head of `key`'s list, `NONE` if the key is absent.
    pub(crate) fn head(&self, key: u64) -> u32 {
        self.find(key)
            .and_then(|s| self.slots.get(s))
            .map_or(NONE, |slot| slot.head)
    }

    /// Sets the head of `key`'s list: `NONE` removes the key, and a key that
    /// was absent is added. Returns whether the set of keys changed
    /// (`Some(true)` added, `Some(false)` removed).
    pub(crate) fn set_head(&mut self, key: u64, head: u32) -> Option<bool> {
        match (self.find(key), head) {
            (Some(s), NONE) => {
                self.delete(s);
                Some(false)
            }
            (Some(s), h) => {
                if let Some(slot) = self.slots.get_mut(s) {
                    slot.head = h;
                }
                None
            }
            (None, NONE) => None,
            (None, h) => {
                if (self.keys + 1) * 4 > self.slots.len() * 3 {
                    self.grow();
                }
                self.place(Slot { key, head: h });
                self.keys += 1;
                Some(true)
            }
        }
    }

    fn place(&mut self, new: Slot) {
        let mask = self.mask();
        let mut s = self.home(new.key);
        // The table is never full, so an empty slot is found.
        while let Some(slot) = self.slots.get_mut(s) {
            if slot.head == NONE {
                *slot = new;
                return;
            }
            s = (s + 1) & mask;
        }
    }

    /// Grows the table, if needed, to take `more` keys without growing
    /// again.
    pub(crate) fn reserve(&mut self, more: usize) {
        let want = 64 - Self::bits_for_keys(self.keys.saturating_add(more));
        if want < self.shift {
            self.grow_to(want);
        }
    }

    /// Doubles the table.
    fn grow(&mut self) {
        self.grow_to(self.shift - 1);
    }

    /// Rehashes into `2^(64 - shift)` slots. The old slots are wiped when
    /// dropped.
    fn grow_to(&mut self, shift: u32) {
        let bigger = Self {
            slots: vec![EMPTY; 1usize << (64 - shift)],
            shift,
            keys: self.keys,
        };
        let old = std::mem::replace(self, bigger);
        for slot in old.slots.iter().filter(|s| s.head != NONE) {
            self.place(*slot);
        }
    }

    /// Removes slot `s`, moving back the slots after it that would no
    /// longer be reachable from their home (backward-shift deletion).
    fn delete(&mut self, mut hole: usize) {
        let mask = self.mask();
        let mut s = (hole + 1) & mask;
        while let Some(&slot) = self.slots.get(s)
            && slot.head != NONE
        {
            let home = self.home(slot.key);
            // The slot may move back to the hole if its home is not in
            // (hole, s] (cyclically).
            if (s.wrapping_sub(home) & mask) >= (s.wrapping_sub(hole) & mask) {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = slot;
                }
                hole = s;
            }
            s = (s + 1) & mask;
        }
        if let Some(h) = self.slots.get_mut(hole) {
            h.key.zeroize();
            h.head = NONE;
        }
        self.keys -= 1;
    }

    /// Every key, for rebuilding a filter.
    pub(crate) fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().filter(|s| s.head != NONE).map(|s| s.key)
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        for slot in &mut self.slots {
            slot.key.zeroize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_find_delete_and_grow() {
        let mut t = Table::with_capacity(1);
        for k in 0..1000u64 {
            assert_eq!(t.set_head(k * 7919, k as u32), Some(true));
        }
        assert_eq!(t.len(), 1000);
        for k in (0..1000u64).step_by(2) {
            assert_eq!(t.set_head(k * 7919, NONE), Some(false));
        }
        for k in 0..1000u64 {
            let want = if k % 2 == 0 { NONE } else { k as u32 };
            assert_eq!(t.head(k * 7919), want, "{k}");
        }
        assert_eq!(t.set_head(1, 5), Some(true));
        assert_eq!(t.set_head(1, 6), None);
        assert_eq!(t.head(1), 6);
        assert_eq!(t.len(), 501);
        assert_eq!(t.keys().count(), 501);
    }
}
