//! 256-bit keys and their public identifiers.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::error::KeyError;

/// Key length in bytes (AES-256).
pub(crate) const KEY_LEN: usize = 32;

/// Length of a [`KeyId`] in bytes.
pub(crate) const KEY_ID_LEN: usize = 8;

/// Domain label hashed in front of the key to compute its id, so the id cannot be confused
/// with any other hash of the key that some other component might compute.
const KEY_ID_LABEL: &[u8] = b"saker-crypto/key-id/v1";

/// HKDF salt for passphrase-derived keys. Fixed (not random) on purpose: the same passphrase
/// must give the same key on every start and on every host sharing the database.
const PASSPHRASE_SALT: &[u8] = b"saker-crypto/passphrase-key/v1";

/// HKDF info: what the derived key is for.
const PASSPHRASE_INFO: &[u8] = b"saker aes-256-gcm secret encryption key";

/// Minimum passphrase length in characters, as Kestra asks of `secret.jdbc.secret` and
/// `secret.elasticsearch.secret`.
pub(crate) const MIN_PASSPHRASE_CHARS: usize = 32;

/// Public identifier of a key: the first 8 bytes of SHA-256 over a domain label and the key.
/// It names a key in envelopes and messages without revealing anything usable about it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// The raw 8 bytes, as written in envelopes.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    pub(crate) fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }

    fn of(key: &[u8; KEY_LEN]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(KEY_ID_LABEL);
        hasher.update(key);
        let digest = hasher.finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 256-bit key. The bytes live on the heap (so moves do not leave copies behind) and are
/// zeroed on drop; `Debug` prints `[REDACTED]` and the key id only.
pub struct SecretKey {
    bytes: Box<[u8; KEY_LEN]>,
    id: KeyId,
}

impl SecretKey {
    fn from_array(bytes: Box<[u8; KEY_LEN]>) -> Self {
        let id = KeyId::of(&bytes);
        Self { bytes, id }
    }

    /// Parses a key in Kestra's `encryption.secret-key` format: 32 bytes, base64-encoded
    /// (`openssl rand -base64 32`). Surrounding whitespace (a trailing newline from a key
    /// file) is ignored. Errors never echo the input.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| KeyError::NotBase64)?,
        );
        if decoded.len() != KEY_LEN {
            return Err(KeyError::WrongLength {
                decoded_len: decoded.len(),
            });
        }
        let mut bytes = Box::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Ok(Self::from_array(bytes))
    }

    /// Derives a key from a passphrase such as `secret.jdbc.secret` (at least 32 characters)
    /// with HKDF-SHA256 under a fixed domain-separation salt and info. HKDF, not a password
    /// hash, because the passphrase is a machine-generated configuration value, not something
    /// a person memorised; the length floor is what keeps it out of brute-force range.
    pub fn from_passphrase(passphrase: &str) -> Result<Self, KeyError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(KeyError::PassphraseTooShort {
                min_chars: MIN_PASSPHRASE_CHARS,
            });
        }
        let hkdf = Hkdf::<Sha256>::new(Some(PASSPHRASE_SALT), passphrase.as_bytes());
        let mut bytes = Box::new([0u8; KEY_LEN]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so this cannot fail.
        if hkdf.expand(PASSPHRASE_INFO, bytes.as_mut_slice()).is_err() {
            unreachable!("HKDF-SHA256 can always produce 32 bytes");
        }
        Ok(Self::from_array(bytes))
    }

    /// A fresh random key from the operating system's generator.
    ///
    /// # Panics
    /// If the operating system cannot provide randomness: no key can be made safely then.
    pub fn generate() -> Self {
        let mut bytes = Box::new([0u8; KEY_LEN]);
        crate::keyring::fill_random(bytes.as_mut_slice());
        Self::from_array(bytes)
    }

    /// The key in the format [`SecretKey::from_base64`] reads, for writing a generated key
    /// file (the caller writes it with mode 0600). Zeroized when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_slice()))
    }

    /// The key's public identifier.
    pub fn id(&self) -> KeyId {
        self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
            id: self.id,
        }
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey([REDACTED], id: {})", self.id)
    }
}

/// Keys compare by id: equal ids mean equal keys (up to a 2^-64 collision).
impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for SecretKey {}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn base64_round_trip_and_stable_id() {
        let key = SecretKey::from_base64(KEY_B64).unwrap();
        assert_eq!(key.to_base64().as_str(), KEY_B64);
        assert_eq!(key.bytes()[31], 31);
        let again = SecretKey::from_base64(&format!("  {KEY_B64}\n")).unwrap();
        assert_eq!(again.id(), key.id());
        assert_eq!(key.id().to_string().len(), 16);
    }

    #[test]
    fn wrong_length_says_so_and_does_not_echo() {
        // 32 characters of text, the mistake Kestra's docs invite.
        let text = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";
        let err = SecretKey::from_base64(text).unwrap_err();
        assert_eq!(err, KeyError::WrongLength { decoded_len: 24 });
        let msg = err.to_string();
        assert!(msg.contains("exactly 32 bytes"), "{msg}");
        assert!(msg.contains("openssl rand -base64 32"), "{msg}");
        assert!(!msg.contains(text), "{msg}");
    }

    #[test]
    fn not_base64_is_an_error_without_echo() {
        let err = SecretKey::from_base64("not base64 at all!").unwrap_err();
        assert_eq!(err, KeyError::NotBase64);
        assert!(!err.to_string().contains("at all!"));
        assert!(err.to_string().contains("openssl rand -base64 32"));
    }

    #[test]
    fn passphrase_is_deterministic_and_length_checked() {
        let phrase = "a-secure-32-character-minimum-key";
        let a = SecretKey::from_passphrase(phrase).unwrap();
        let b = SecretKey::from_passphrase(phrase).unwrap();
        assert_eq!(a.bytes(), b.bytes());
        let c = SecretKey::from_passphrase("a-secure-32-character-minimum-kex").unwrap();
        assert_ne!(a.id(), c.id());

        let short = "only-thirty-one-characters-long";
        assert_eq!(short.chars().count(), 31);
        let err = SecretKey::from_passphrase(short).unwrap_err();
        assert!(err.to_string().contains("at least 32 characters"));
        assert!(!err.to_string().contains(short));
        // Characters, not bytes: 32 multi-byte characters are enough.
        assert!(SecretKey::from_passphrase(&"é".repeat(32)).is_ok());
    }

    #[test]
    fn passphrase_key_differs_from_raw_bytes() {
        // Domain separation: the derived key is not the passphrase's bytes.
        let phrase = "0123456789abcdef0123456789abcdef";
        let key = SecretKey::from_passphrase(phrase).unwrap();
        assert_ne!(key.bytes().as_slice(), phrase.as_bytes());
    }

    #[test]
    fn generate_gives_distinct_keys() {
        let a = SecretKey::generate();
        let b = SecretKey::generate();
        assert_ne!(a.id(), b.id());
        assert_eq!(SecretKey::from_base64(&a.to_base64()).unwrap().id(), a.id());
    }

    #[test]
    fn debug_shows_id_not_bytes() {
        let key = SecretKey::from_base64(KEY_B64).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
        assert!(debug.contains(&key.id().to_string()), "{debug}");
        assert!(!debug.contains(KEY_B64), "{debug}");
        // No run of key bytes in any common rendering.
        assert!(!debug.contains("0, 1, 2, 3"), "{debug}");
        assert!(!debug.contains("000102030405"), "{debug}");
    }
}
