//! API tokens and other bearer secrets (invitation codes): random, shown once, stored as a
//! SHA-256 digest, verified in constant time.
//!
//! A token reads `sak_<id>_<secret>`: the id (public, 16 hex digits) finds the stored row,
//! the digest of the whole text proves possession. The text is returned once, inside a
//! [`SecretText`], and never stored.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::Result;
use crate::random;

/// The prefix of every API token, so that secret scanners can recognise a leaked one.
pub const TOKEN_PREFIX: &str = "sak_";

/// A secret shown once (a new API token, an invitation code). `Debug` prints `[REDACTED]`;
/// [`SecretText::reveal`] consumes it, so the text is handed out at most once.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretText(String);

impl SecretText {
    /// The text, for the one response that shows it. Consumes the value.
    pub fn reveal(mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A freshly generated bearer secret: its public id, its stored digest and its text.
pub(crate) struct Minted {
    pub id: String,
    pub digest: String,
    pub text: SecretText,
}

/// Mints `<prefix><id>_<secret>` with a 64-bit id and a 256-bit secret.
pub(crate) fn mint(prefix: &str) -> Result<Minted> {
    let id = random::hex(8)?;
    let secret = random::hex(32)?;
    let text = format!("{prefix}{id}_{secret}");
    let digest = digest(&text);
    Ok(Minted {
        id,
        digest,
        text: SecretText(text),
    })
}

/// The id part of `<prefix><id>_<secret>`, if the text has that shape.
pub(crate) fn id_of<'a>(prefix: &str, text: &'a str) -> Option<&'a str> {
    let rest = text.strip_prefix(prefix)?;
    let (id, secret) = rest.split_once('_')?;
    let hex16 = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex16(id, 16) && hex16(secret, 64)).then_some(id)
}

/// SHA-256 of the text, lowercase hex.
pub(crate) fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// True if `presented` hashes to `stored_digest`. The digests are compared in constant
/// time: the time taken does not depend on where they first differ.
pub fn digest_matches(presented: &str, stored_digest: &str) -> bool {
    let computed = digest(presented);
    computed.as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

/// True if a secret with this expiry is expired at `now` (expiry is exclusive: valid
/// strictly before `expires_at`).
pub fn is_expired(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires_at.is_some_and(|at| now >= at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn minted_tokens_have_the_shape_and_a_matching_digest() {
        let minted = mint(TOKEN_PREFIX).unwrap();
        assert_eq!(format!("{:?}", minted.text), "[REDACTED]");
        let digest = minted.digest.clone();
        let id = minted.id.clone();
        let text = minted.text.reveal();
        assert_eq!(id_of(TOKEN_PREFIX, &text), Some(id.as_str()));
        assert!(!digest.contains(&text[TOKEN_PREFIX.len() + 17..]));
        assert!(digest_matches(&text, &digest));
    }

    #[test]
    fn a_changed_token_does_not_match() {
        let minted = mint(TOKEN_PREFIX).unwrap();
        let digest = minted.digest.clone();
        let mut text = minted.text.reveal();
        let last = text.pop().unwrap();
        text.push(if last == '0' { '1' } else { '0' });
        assert!(!digest_matches(&text, &digest));
        assert!(!digest_matches("", &digest));
        assert!(
            !digest_matches(&text, ""),
            "an empty stored digest matches nothing"
        );
    }

    #[test]
    fn two_tokens_differ() {
        let a = mint(TOKEN_PREFIX).unwrap();
        let b = mint(TOKEN_PREFIX).unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.digest, b.digest);
    }

    #[test]
    fn malformed_texts_have_no_id() {
        for text in [
            "",
            "sak_",
            "sak_0123456789abcdef",
            "xyz_0123456789abcdef_00",
            "sak_0123456789abcdeg_0000000000000000000000000000000000000000000000000000000000000000",
            "sak_0123456789abcdef_000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(id_of(TOKEN_PREFIX, text), None, "{text:?}");
        }
        let ok = format!("sak_0123456789abcdef_{}", "0".repeat(64));
        assert_eq!(id_of(TOKEN_PREFIX, &ok), Some("0123456789abcdef"));
    }

    #[test]
    fn expiry_is_exclusive() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(!is_expired(None, now));
        assert!(!is_expired(Some(now + Duration::seconds(1)), now));
        assert!(is_expired(Some(now), now));
        assert!(is_expired(Some(now - Duration::seconds(1)), now));
    }
}
