//! Error types. Messages describe what is wrong with a key or an envelope and how to fix it;
//! they never contain key material, plaintext or the offending input itself.

use crate::key::KeyId;

/// A key could not be built from configuration or the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The configured key is not base64 at all.
    #[error(
        "the encryption key is not valid base64; it must be 32 random bytes encoded in base64 \
         (44 characters): generate one with `openssl rand -base64 32`"
    )]
    NotBase64,

    /// The key decodes, but not to exactly 32 bytes. The length is structural information
    /// (it tells a 32-character password from a 32-byte key) and reveals nothing usable.
    #[error(
        "the encryption key decodes to {decoded_len} bytes but must decode to exactly 32 bytes \
         (a 32-character string is not enough: it must be 32 random bytes encoded in base64, \
         44 characters): generate one with `openssl rand -base64 32`"
    )]
    WrongLength {
        /// Number of bytes the base64 text decoded to.
        decoded_len: usize,
    },

    /// A passphrase (such as `secret.jdbc.secret`) is too short to derive a key from.
    #[error(
        "the passphrase must be at least {min_chars} characters long: generate one with \
         `openssl rand -base64 32`"
    )]
    PassphraseTooShort {
        /// Minimum number of characters required.
        min_chars: usize,
    },
}

/// An envelope could not be opened. Each cause has its own variant so that operators can
/// tell a missing old key from a copied row from a damaged value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Fewer bytes than the smallest valid envelope.
    #[error(
        "the ciphertext is truncated: {len} bytes where a sealed value has at least {min} \
         (the stored value was cut or is not a Saker ciphertext)"
    )]
    Truncated {
        /// Length of the input.
        len: usize,
        /// Minimum length of a valid envelope.
        min: usize,
    },

    /// The first byte is not an envelope format this build can read.
    #[error(
        "the ciphertext has envelope format version {found}, but this build reads version \
         {supported} (the value is garbled, or was written by a newer Saker)"
    )]
    UnsupportedVersion {
        /// Version byte found.
        found: u8,
        /// Version this build reads.
        supported: u8,
    },

    /// The text form of an envelope is not base64.
    #[error("the ciphertext text is not valid base64 (the stored value is garbled)")]
    NotBase64,

    /// Sealed under a key the keyring does not hold.
    #[error(
        "the ciphertext was sealed with key {key_id}, which is not in the keyring: configure \
         that key as an older key until `saker secret rekey` has re-encrypted everything"
    )]
    UnknownKey {
        /// Id of the key named in the envelope.
        key_id: KeyId,
    },

    /// The envelope was sealed for another context (tenant, namespace, key, version...),
    /// for example a ciphertext copied onto another row.
    #[error(
        "the ciphertext belongs to another record (its tenant, namespace, key or version \
         differ from this one's): it was copied or moved, and will not be decrypted here"
    )]
    WrongContext,

    /// The context matches but authentication failed: the bytes were altered.
    #[error(
        "the ciphertext failed authentication: it was altered after it was written, and will \
         not be decrypted"
    )]
    Tampered,
}
