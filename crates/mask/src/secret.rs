//! A secret value with a label, held in memory that is wiped when dropped.

use std::fmt;

use zeroize::Zeroizing;

/// Secret bytes that are overwritten with zeros when dropped.
pub(crate) type Bytes = Zeroizing<Vec<u8>>;

/// Copies `bytes` into a zeroize-on-drop buffer of exactly the right size, so
/// that no reallocation leaves an unwiped copy behind.
pub(crate) fn bytes_of(bytes: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(bytes.len());
    v.extend_from_slice(bytes);
    Zeroizing::new(v)
}

/// Appends `bytes` to `buf`. Grows by copying into a new buffer rather than
/// in place, so that the old allocation is wiped instead of being freed with
/// its content.
pub(crate) fn append_wiped(buf: &mut Bytes, bytes: &[u8]) {
    let need = buf.len() + bytes.len();
    if buf.capacity() < need {
        let mut bigger = Vec::with_capacity(need.max(2 * buf.capacity()));
        bigger.extend_from_slice(buf);
        *buf = Zeroizing::new(bigger);
    }
    buf.extend_from_slice(bytes);
}

/// Number of characters in `bytes` when read as UTF-8 (for invalid UTF-8, an
/// approximation that counts every byte that does not continue a sequence).
pub(crate) fn char_len(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// One secret value and a label that names it (a variable name, a line number
/// in a file) so that warnings and errors can refer to it without showing it.
///
/// `Debug` prints the label only.
pub struct Secret {
    label: String,
    value: Bytes,
}

impl Secret {
    /// Wraps `value`; it is wiped from memory when the `Secret` is dropped.
    pub fn new(label: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            label: label.into(),
            value: Zeroizing::new(value.into()),
        }
    }

    /// The label given at creation.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The secret bytes. Handle with care: never log them.
    pub fn expose(&self) -> &[u8] {
        &self.value
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_label_not_value() {
        let s = Secret::new("API_TOKEN", "hunter2-very-secret");
        let shown = format!("{s:?}");
        assert!(shown.contains("API_TOKEN"));
        assert!(!shown.contains("hunter2"));
        assert_eq!(s.expose(), b"hunter2-very-secret");
    }

    #[test]
    fn char_len_counts_characters() {
        assert_eq!(char_len("abc".as_bytes()), 3);
        assert_eq!(char_len("é€😀".as_bytes()), 3);
        assert_eq!(char_len(b""), 0);
    }
}
