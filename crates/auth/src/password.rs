//! Passwords: the [`Password`] input type (zeroized on drop, never printed), the
//! [`PasswordPolicy`] of `security.basic-auth.password-regexp`, and Argon2id hashing to PHC
//! strings.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use regex::Regex;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{AuthError, Result};

/// A plaintext password on its way to being checked or hashed. Zeroized when dropped; its
/// `Debug` prints `[REDACTED]`; it has no `Display`, `Clone` or `Serialize`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Self {
        Password(text.into())
    }

    /// The plaintext, for hashing or verifying. Do not copy it anywhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Password {
    fn from(text: String) -> Self {
        Password(text)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Reads a password from a JSON (or other serde) string, so that a request body can hold a
/// [`Password`] from the moment it is parsed. There is deliberately no `Serialize`.
impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Password)
    }
}

/// The length a password needs when `security.basic-auth.password-regexp` is not set
/// (NIST SP 800-63B asks for at least 8; 12 leaves a margin against offline guessing).
pub const DEFAULT_MIN_LENGTH: usize = 12;

/// The rule every new password must satisfy: the configured regular expression, or at
/// least [`DEFAULT_MIN_LENGTH`] characters without one.
#[derive(Clone)]
pub struct PasswordPolicy {
    regexp: Option<Regex>,
}

impl fmt::Debug for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPolicy")
            .field("regexp", &self.regexp.as_ref().map(Regex::as_str))
            .finish()
    }
}

impl Default for PasswordPolicy {
    /// At least [`DEFAULT_MIN_LENGTH`] characters.
    fn default() -> Self {
        PasswordPolicy { regexp: None }
    }
}

impl PasswordPolicy {
    /// A policy from `security.basic-auth.password-regexp`. The whole password must match
    /// (the pattern is anchored at both ends, as Java's `String.matches` does for Kestra).
    pub fn from_regexp(pattern: &str) -> Result<Self> {
        let regexp = Regex::new(&format!("^(?:{pattern})$")).map_err(|_| AuthError::Config {
            key: "security.basic-auth.password-regexp".to_owned(),
            fix: "is not a valid regular expression (Rust regex syntax; look-around and \
                  back-references are not supported)"
                .to_owned(),
        })?;
        Ok(PasswordPolicy {
            regexp: Some(regexp),
        })
    }

    /// Ok if the password may be set. The error names the rule, never the password.
    pub fn check(&self, password: &Password) -> Result<()> {
        if password.expose().is_empty() {
            return Err(AuthError::WeakPassword {
                rule: "the password is empty".to_owned(),
            });
        }
        match &self.regexp {
            Some(re) if !re.is_match(password.expose()) => Err(AuthError::WeakPassword {
                rule: format!(
                    "it must match {} (security.basic-auth.password-regexp)",
                    re.as_str()
                ),
            }),
            Some(_) => Ok(()),
            None if password.expose().chars().count() < DEFAULT_MIN_LENGTH => {
                Err(AuthError::WeakPassword {
                    rule: format!(
                        "it must be at least {DEFAULT_MIN_LENGTH} characters long (set \
                         security.basic-auth.password-regexp for another rule)"
                    ),
                })
            }
            None => Ok(()),
        }
    }
}

/// The cost of new Argon2id hashes. Verification reads the cost from the stored hash, so
/// changing it never locks anyone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    /// OWASP's recommendation for Argon2id: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashCost {
    fn hasher(self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| AuthError::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes a password with Argon2id and a fresh random salt; returns the PHC string.
pub fn hash_password(password: &Password, cost: HashCost) -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| AuthError::Random)?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash = cost
        .hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// True if `password` matches the PHC string `phc`. A malformed hash is an error, a wrong
/// password is `Ok(false)`. (The comparison inside is constant-time.)
pub fn verify_password(password: &Password, phc: &str) -> Result<bool> {
    let parsed =
        PasswordHash::new(phc).map_err(|_| AuthError::Hash("malformed stored hash".into()))?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(AuthError::Hash("stored hash is not Argon2id".into()));
    }
    match Argon2::default().verify_password(password.expose().as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(AuthError::Hash(e.to_string())),
    }
}

/// Verifies against `dummy_phc` (a hash no password is expected to match), so that a login
/// for an unknown user costs as much as one for a known user (no user enumeration by timing).
pub(crate) fn burn_verify(password: &Password, dummy_phc: &str) {
    let _ = verify_password(password, dummy_phc);
}

#[cfg(test)]
pub(crate) const TEST_COST: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializes_from_a_string_and_stays_redacted() {
        #[derive(Debug, serde::Deserialize)]
        struct Body {
            password: Password,
        }
        let body: Body = serde_json::from_str(r#"{"password": "Tr0ub4dor-3"}"#).unwrap();
        assert_eq!(body.password.expose(), "Tr0ub4dor-3");
        assert!(!format!("{body:?}").contains("Tr0ub4dor"));
        assert!(serde_json::from_str::<Body>(r#"{"password": 12}"#).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let p = Password::new("hunter2-very-secret");
        assert_eq!(format!("{p:?}"), "[REDACTED]");
    }

    #[test]
    fn hash_round_trip_and_wrong_password() {
        let good = Password::new("Correct-Horse-1");
        let hash = hash_password(&good, TEST_COST).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"));
        assert!(!hash.contains("Correct-Horse-1"));
        assert!(verify_password(&good, &hash).unwrap());
        assert!(!verify_password(&Password::new("Correct-Horse-2"), &hash).unwrap());
        assert!(!verify_password(&Password::new(""), &hash).unwrap());
    }

    #[test]
    fn salts_differ() {
        let p = Password::new("same-password");
        assert_ne!(
            hash_password(&p, TEST_COST).unwrap(),
            hash_password(&p, TEST_COST).unwrap()
        );
    }

    #[test]
    fn malformed_or_foreign_hashes_are_errors() {
        let p = Password::new("x");
        assert!(verify_password(&p, "not a hash").is_err());
        let argon2i = "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(verify_password(&p, argon2i).is_err());
    }

    #[test]
    fn policy_is_anchored_and_never_echoes() {
        let policy = PasswordPolicy::from_regexp("(?=.*x)|[A-Za-z0-9]{8,}").err();
        assert!(
            policy.is_some(),
            "look-around is refused with a config error"
        );
        let policy = PasswordPolicy::from_regexp(r"[A-Za-z0-9!-]{8,}").unwrap();
        policy.check(&Password::new("LongEnough1")).unwrap();
        let short = "Ab1-sec";
        let err = policy.check(&Password::new(short)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, AuthError::WeakPassword { .. }));
        assert!(
            !text.contains(short),
            "the error must not echo the password"
        );
        assert!(
            text.contains("password-regexp"),
            "names the setting: {text}"
        );
        // Anchored: a matching substring is not enough.
        assert!(policy.check(&Password::new("Valid123 but spaces")).is_err());
    }

    #[test]
    fn default_policy_needs_twelve_characters() {
        let policy = PasswordPolicy::default();
        for short in ["", "a", "Elevenchars"] {
            let err = policy.check(&Password::new(short)).unwrap_err();
            assert!(matches!(err, AuthError::WeakPassword { .. }), "{short:?}");
        }
        policy.check(&Password::new("twelve chars")).unwrap();
        // Characters, not bytes: 12 accented letters are enough, 11 are not.
        policy.check(&Password::new("é".repeat(12))).unwrap();
        assert!(policy.check(&Password::new("é".repeat(11))).is_err());
    }
}
