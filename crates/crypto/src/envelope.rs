//! The envelope format: a self-describing ciphertext.
//!
//! Version 1 layout (all fixed sizes, so parsing needs no length fields):
//!
//! ```text
//! | version: 1 | key id: 8 | context fingerprint: 4 | nonce: 12 | ciphertext | tag: 16 |
//! ```
//!
//! The header (everything before the ciphertext) is authenticated along with the caller's
//! [`Aad`](crate::Aad): changing any header byte makes opening fail. The context fingerprint
//! is a hash of the caller's associated data; it only lets `open` say "this belongs to another
//! record" instead of "tampered", and carries no secret.

use crate::aad::FINGERPRINT_LEN;
use crate::error::CryptoError;
use crate::key::{KEY_ID_LEN, KeyId};

/// The envelope format version this build writes and reads.
pub const ENVELOPE_VERSION: u8 = 1;

pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const HEADER_LEN: usize = 1 + KEY_ID_LEN + FINGERPRINT_LEN + NONCE_LEN;

/// The length of the smallest valid envelope (an empty plaintext).
pub const MIN_ENVELOPE_LEN: usize = HEADER_LEN + TAG_LEN;

/// A parsed view over envelope bytes.
pub(crate) struct Envelope<'a> {
    pub key_id: KeyId,
    pub fingerprint: [u8; FINGERPRINT_LEN],
    pub nonce: [u8; NONCE_LEN],
    pub header: &'a [u8],
    pub ciphertext: &'a [u8],
    pub tag: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Splits envelope bytes into their parts; checks length and version, nothing else.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CryptoError> {
        // An empty input has no version byte to judge, so it is reported as truncated; a
        // non-empty one with an unknown version is reported as such whatever its length.
        let Some(&version) = bytes.first() else {
            return Err(truncated(bytes));
        };
        if version != ENVELOPE_VERSION {
            return Err(CryptoError::UnsupportedVersion {
                found: version,
                supported: ENVELOPE_VERSION,
            });
        }
        if bytes.len() < MIN_ENVELOPE_LEN {
            return Err(truncated(bytes));
        }
        let (header, body) = bytes.split_at(HEADER_LEN);
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);

        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&header[1..1 + KEY_ID_LEN]);
        let mut fingerprint = [0u8; FINGERPRINT_LEN];
        let fp_start = 1 + KEY_ID_LEN;
        fingerprint.copy_from_slice(&header[fp_start..fp_start + FINGERPRINT_LEN]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&header[fp_start + FINGERPRINT_LEN..]);

        Ok(Self {
            key_id: KeyId::from_bytes(key_id),
            fingerprint,
            nonce,
            header,
            ciphertext,
            tag,
        })
    }

    /// Writes a header for a new envelope.
    pub fn write_header(
        out: &mut Vec<u8>,
        key_id: KeyId,
        fingerprint: [u8; FINGERPRINT_LEN],
        nonce: [u8; NONCE_LEN],
    ) {
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(key_id.as_bytes());
        out.extend_from_slice(&fingerprint);
        out.extend_from_slice(&nonce);
    }
}

fn truncated(bytes: &[u8]) -> CryptoError {
    CryptoError::Truncated {
        len: bytes.len(),
        min: MIN_ENVELOPE_LEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_length_is_41() {
        assert_eq!(MIN_ENVELOPE_LEN, 41);
    }

    #[test]
    fn short_and_foreign_inputs() {
        assert!(matches!(
            Envelope::parse(&[]),
            Err(CryptoError::Truncated { len: 0, .. })
        ));
        assert!(matches!(
            Envelope::parse(&[ENVELOPE_VERSION; 40]),
            Err(CryptoError::Truncated { len: 40, .. })
        ));
        assert!(matches!(
            Envelope::parse(&[7; 100]),
            Err(CryptoError::UnsupportedVersion { found: 7, .. })
        ));
    }

    #[test]
    fn parts_are_where_the_layout_says() {
        let mut bytes = Vec::new();
        let id = KeyId::from_bytes([1, 2, 3, 4, 5, 6, 7, 8]);
        Envelope::write_header(&mut bytes, id, [9, 9, 9, 9], [3; NONCE_LEN]);
        bytes.extend_from_slice(b"ct");
        bytes.extend_from_slice(&[0xAA; TAG_LEN]);
        let env = Envelope::parse(&bytes).unwrap();
        assert_eq!(env.key_id, id);
        assert_eq!(env.fingerprint, [9; 4]);
        assert_eq!(env.nonce, [3; NONCE_LEN]);
        assert_eq!(env.ciphertext, b"ct");
        assert_eq!(env.tag, &[0xAA; TAG_LEN]);
        assert_eq!(env.header.len(), HEADER_LEN);
    }
}
