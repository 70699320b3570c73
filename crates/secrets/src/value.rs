//! The in-memory form of a secret value.

use std::fmt;

use zeroize::Zeroizing;

/// A secret value: a string zeroed when dropped, printed as `[REDACTED]` by `Debug` and
/// `Display`, and readable only through [`SecretValue::expose`], so every read is a visible,
/// greppable call. It implements neither `Serialize` nor `PartialEq`, so it cannot slip into
/// an API response by derive, nor be compared in a timing-dependent way by accident.
#[derive(Clone)]
pub struct SecretValue(Zeroizing<String>);

/// Decoded bytes were not UTF-8; the bytes are wiped before this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the secret value is not valid UTF-8 text")]
pub struct NotUtf8;

impl SecretValue {
    /// Wraps a value. Takes ownership so the only copy is the zeroizing one.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// Converts decrypted or decoded bytes without leaving an unwiped copy behind.
    pub fn from_utf8(mut bytes: Zeroizing<Vec<u8>>) -> Result<Self, NotUtf8> {
        let owned = std::mem::take(&mut *bytes);
        match String::from_utf8(owned) {
            Ok(text) => Ok(Self::new(text)),
            Err(err) => {
                // Hand the bytes back to a zeroizing wrapper so they are wiped on return.
                drop(Zeroizing::new(err.into_bytes()));
                Err(NotUtf8)
            }
        }
    }

    /// The plaintext. Callers must not log it, and must taint/mask anything derived from it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretValue {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let value = SecretValue::new("hunter2");
        assert_eq!(format!("{value}"), "[REDACTED]");
        assert_eq!(format!("{value:?}"), "[REDACTED]");
        assert_eq!(format!("{:?}", Some(value.clone())), "Some([REDACTED])");
        assert_eq!(value.expose(), "hunter2");
        assert_eq!(value.len(), 7);
        assert!(!value.is_empty());
    }

    #[test]
    fn from_utf8_accepts_text_and_rejects_bytes() {
        let ok = SecretValue::from_utf8(Zeroizing::new(b"caf\xc3\xa9".to_vec())).unwrap();
        assert_eq!(ok.expose(), "café");
        assert_eq!(
            SecretValue::from_utf8(Zeroizing::new(vec![0xff, 0xfe])).unwrap_err(),
            NotUtf8
        );
    }
}
