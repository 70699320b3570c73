//! saker-crypto: keys and authenticated encryption for Saker, and nothing else.
//!
//! One purpose: turn a plaintext plus the context it belongs to into a self-describing
//! ciphertext envelope, and back, under a keyring that supports rotation
//! ([`Keyring::seal`], [`Keyring::open`], [`Keyring::needs_rekey`]).
//!
//! It must not know about storage, secrets backends, flows or configuration files: callers
//! decide where envelopes live and which fields bind them to their row (see [`Aad`]).
//! Nothing in this crate logs, and no error or `Debug` output ever contains key bytes or
//! plaintext.
//!
//! Algorithm: AES-256-GCM with a fresh random 96-bit nonce per seal. With random nonces the
//! usual guidance is to stay well below 2^32 seals per key; rotating the primary key
//! (`saker secret rekey`) resets that budget.

mod aad;
mod envelope;
mod error;
mod key;
mod keyring;

pub use aad::Aad;
pub use envelope::{ENVELOPE_VERSION, MIN_ENVELOPE_LEN};
pub use error::{CryptoError, KeyError};
pub use key::{KeyId, SecretKey};
pub use keyring::Keyring;
