//! Associated data: the context a ciphertext is bound to.

use std::fmt;

use sha2::{Digest, Sha256};

/// Length of the context fingerprint stored in envelopes.
pub(crate) const FINGERPRINT_LEN: usize = 4;

const FINGERPRINT_LABEL: &[u8] = b"saker-crypto/aad-fingerprint/v1";

/// Associated data binding a ciphertext to the record it belongs to: a purpose followed by
/// named fields, e.g.
///
/// ```
/// # use saker_crypto::Aad;
/// let aad = Aad::new("secret")
///     .field("tenant", "main")
///     .field("namespace", "company.team")
///     .field("key", "API_TOKEN")
///     .field("version", "3");
/// ```
///
/// Every item is length-prefixed (u32 big-endian), so no two different field lists encode to
/// the same bytes: `("a", "bc")` and `("ab", "c")` differ, and a value cannot smuggle in a
/// field boundary. Field order matters; callers must build the same `Aad` in the same order
/// when sealing and opening. The fields are metadata, not secrets: `Debug` shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Aad {
    encoded: Vec<u8>,
}

impl Aad {
    /// Starts the associated data with its purpose (`"secret"`, `"execution-input"`...), so
    /// ciphertexts for one purpose never open as another even with equal fields.
    pub fn new(purpose: &str) -> Self {
        let mut aad = Self {
            encoded: Vec::with_capacity(64),
        };
        aad.push(purpose.as_bytes());
        aad
    }

    /// Appends a named field.
    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.push(name.as_bytes());
        self.push(value.as_bytes());
        self
    }

    /// Appends a numeric field, encoded exactly as `field(name, &value.to_string())` so the
    /// two spellings are interchangeable.
    pub fn field_u64(self, name: &str, value: u64) -> Self {
        self.field(name, &value.to_string())
    }

    /// The canonical encoding passed to AES-GCM.
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// A short public fingerprint of the context, stored in the envelope so that opening
    /// under the wrong context can be reported as such rather than as tampering.
    pub(crate) fn fingerprint(&self) -> [u8; FINGERPRINT_LEN] {
        let mut hasher = Sha256::new();
        hasher.update(FINGERPRINT_LABEL);
        hasher.update(&self.encoded);
        let digest = hasher.finalize();
        let mut out = [0u8; FINGERPRINT_LEN];
        out.copy_from_slice(&digest[..FINGERPRINT_LEN]);
        out
    }

    fn push(&mut self, item: &[u8]) {
        // Items longer than 4 GiB cannot occur for names and identifiers; saturating keeps
        // the encoding total instead of panicking, and such an item still differs by content.
        let len = u32::try_from(item.len()).unwrap_or(u32::MAX);
        self.encoded.extend_from_slice(&len.to_be_bytes());
        self.encoded.extend_from_slice(item);
    }

    /// Decodes the items back for `Debug`; the encoding is ours, so this always succeeds.
    fn items(&self) -> Vec<String> {
        let mut items = Vec::new();
        let mut rest = self.encoded.as_slice();
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_be_bytes(*len) as usize;
            let take = len.min(tail.len());
            items.push(String::from_utf8_lossy(&tail[..take]).into_owned());
            rest = &tail[take..];
        }
        items
    }
}

impl fmt::Debug for Aad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = self.items();
        let mut out = f.debug_struct("Aad");
        if let Some((purpose, fields)) = items.split_first() {
            out.field("purpose", purpose);
            for pair in fields.chunks(2) {
                if let [name, value] = pair {
                    out.field(name, value);
                }
            }
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_unambiguous() {
        let a = Aad::new("secret").field("a", "bc");
        let b = Aad::new("secret").field("ab", "c");
        assert_ne!(a.as_bytes(), b.as_bytes());
        let c = Aad::new("secret").field("k", "x").field("v", "1");
        let d = Aad::new("secret").field("k", "x\0\0\0\x01v\0\0\0\x011");
        assert_ne!(c.as_bytes(), d.as_bytes());
        assert_ne!(Aad::new("secret").as_bytes(), Aad::new("secreT").as_bytes());
    }

    #[test]
    fn numeric_field_matches_text_field() {
        assert_eq!(
            Aad::new("s").field_u64("version", 3),
            Aad::new("s").field("version", "3")
        );
    }

    #[test]
    fn debug_shows_fields() {
        let aad = Aad::new("secret").field("namespace", "company.team");
        let debug = format!("{aad:?}");
        assert_eq!(
            debug,
            r#"Aad { purpose: "secret", namespace: "company.team" }"#
        );
    }

    #[test]
    fn fingerprint_depends_on_every_field() {
        let a = Aad::new("secret").field("version", "1");
        let b = Aad::new("secret").field("version", "2");
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
    }
}
