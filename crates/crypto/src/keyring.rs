//! The keyring: one primary key that seals, older keys that still open.

use std::fmt;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::aad::Aad;
use crate::envelope::{Envelope, HEADER_LEN, NONCE_LEN, TAG_LEN};
use crate::error::CryptoError;
use crate::key::{KeyId, SecretKey};

/// Fills `buf` from the operating system's random generator.
///
/// # Panics
/// If the generator is unavailable. A nonce or key from anything weaker would silently
/// break confidentiality, so stopping is the only safe answer; on supported platforms this
/// does not happen after start-up.
pub(crate) fn fill_random(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {err}");
    }
}

#[derive(Clone)]
struct Entry {
    id: KeyId,
    cipher: Aes256Gcm,
}

impl Entry {
    fn new(key: &SecretKey) -> Self {
        Self {
            id: key.id(),
            cipher: Aes256Gcm::new(key.bytes().into()),
        }
    }
}

/// A primary key, which seals, and older keys, which only open. Rotation: make the new key
/// primary, keep the old one as an older key, re-seal every envelope for which
/// [`Keyring::needs_rekey`] is true, then drop the old key.
#[derive(Clone)]
pub struct Keyring {
    primary: Entry,
    older: Vec<Entry>,
}

impl Keyring {
    /// A keyring with a single key.
    pub fn new(primary: SecretKey) -> Self {
        Self {
            primary: Entry::new(&primary),
            older: Vec::new(),
        }
    }

    /// Adds a key that opens envelopes but never seals. A key already in the keyring is
    /// ignored, so listing the primary among older keys is harmless.
    pub fn with_older(mut self, key: SecretKey) -> Self {
        if !self.contains(key.id()) {
            self.older.push(Entry::new(&key));
        }
        self
    }

    /// Id of the key that seals.
    pub fn primary_id(&self) -> KeyId {
        self.primary.id
    }

    /// Ids of all keys, primary first.
    pub fn key_ids(&self) -> Vec<KeyId> {
        std::iter::once(&self.primary)
            .chain(&self.older)
            .map(|entry| entry.id)
            .collect()
    }

    /// Whether the keyring holds the key with this id.
    pub fn contains(&self, id: KeyId) -> bool {
        self.entry(id).is_some()
    }

    /// Encrypts `plaintext` under the primary key with a fresh random 96-bit nonce, bound to
    /// `aad`. The result is a self-describing envelope (see the crate docs).
    ///
    /// # Panics
    /// Only if the operating system's random generator fails (see [`SecretKey::generate`]),
    /// or for a plaintext over 64 GiB, which AES-GCM cannot encrypt under one nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &Aad) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);

        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        Envelope::write_header(&mut out, self.primary.id, aad.fingerprint(), nonce);
        let associated = associated_data(&out[..HEADER_LEN], aad);
        out.extend_from_slice(plaintext);

        let tag = match self.primary.cipher.encrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            &associated,
            &mut out[HEADER_LEN..],
        ) {
            Ok(tag) => tag,
            Err(_) => panic!("AES-GCM cannot encrypt a plaintext of this size"),
        };
        out.extend_from_slice(&tag);
        out
    }

    /// Decrypts an envelope sealed under any key of the keyring for the same `aad`. Never
    /// panics: every malformed input is a [`CryptoError`].
    pub fn open(&self, envelope: &[u8], aad: &Aad) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let env = Envelope::parse(envelope)?;
        let entry = self
            .entry(env.key_id)
            .ok_or(CryptoError::UnknownKey { key_id: env.key_id })?;
        // The fingerprint is checked before authentication only to choose the message: a
        // forged fingerprint still fails, as "another record".
        if env.fingerprint != aad.fingerprint() {
            return Err(CryptoError::WrongContext);
        }
        let associated = associated_data(env.header, aad);
        let mut buffer = Zeroizing::new(env.ciphertext.to_vec());
        entry
            .cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&env.nonce),
                &associated,
                buffer.as_mut_slice(),
                Tag::from_slice(env.tag),
            )
            .map_err(|_| CryptoError::Tampered)?;
        Ok(buffer)
    }

    /// True when the envelope is not sealed under the primary key in the current format, so
    /// `rekey` should re-seal it. Garbled input also answers true: it cannot be current, and
    /// the re-seal attempt will report what is wrong with it rather than skip it silently.
    pub fn needs_rekey(&self, envelope: &[u8]) -> bool {
        match Envelope::parse(envelope) {
            Ok(env) => env.key_id != self.primary.id,
            Err(_) => true,
        }
    }

    /// Re-seals an envelope under the primary key if [`Keyring::needs_rekey`] says so:
    /// `Ok(None)` when it is already current. Safe to repeat, which makes an interrupted
    /// rekey safe to rerun.
    pub fn rekey(&self, envelope: &[u8], aad: &Aad) -> Result<Option<Vec<u8>>, CryptoError> {
        if !self.needs_rekey(envelope) {
            return Ok(None);
        }
        let plaintext = self.open(envelope, aad)?;
        Ok(Some(self.seal(&plaintext, aad)))
    }

    /// [`Keyring::seal`], as standard base64 text for text columns and files.
    pub fn seal_to_string(&self, plaintext: &[u8], aad: &Aad) -> String {
        STANDARD.encode(self.seal(plaintext, aad))
    }

    /// [`Keyring::open`] for the text form written by [`Keyring::seal_to_string`].
    pub fn open_str(&self, text: &str, aad: &Aad) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::NotBase64)?;
        self.open(&bytes, aad)
    }

    /// The id of the key an envelope names, without opening it.
    pub fn envelope_key_id(envelope: &[u8]) -> Result<KeyId, CryptoError> {
        Envelope::parse(envelope).map(|env| env.key_id)
    }

    fn entry(&self, id: KeyId) -> Option<&Entry> {
        std::iter::once(&self.primary)
            .chain(&self.older)
            .find(|entry| entry.id == id)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary.id)
            .field(
                "older",
                &self.older.iter().map(|entry| entry.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What AES-GCM authenticates besides the ciphertext: the envelope header, then the caller's
/// context. Including the header means no header byte can be changed undetected.
fn associated_data(header: &[u8], aad: &Aad) -> Vec<u8> {
    let mut associated = Vec::with_capacity(header.len() + aad.as_bytes().len());
    associated.extend_from_slice(header);
    associated.extend_from_slice(aad.as_bytes());
    associated
}
