//! The repository of the encrypted secret store (`secret.type: jdbc`): one row per secret
//! (tenant, namespace, key) and one row per kept version, behind the object-safe,
//! synchronous [`SecretRows`] trait.
//!
//! The store knows no cryptography: ciphertexts are opaque bytes sealed and opened by the
//! secrets crate, and `metadata` is an opaque JSON document it chooses. What the store does
//! own is the atomicity of each change, so that two writers never both believe they wrote
//! version 4 (check-and-set on a per-secret `generation`).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::Result;

/// Where a secret is in its lifecycle, as far as the store needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretRowState {
    /// Readable.
    Active,
    /// Soft-deleted: kept, restorable.
    Deleted,
    /// Disabled as compromised; its versions' ciphertexts are withdrawn.
    Revoked,
}

impl SecretRowState {
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretRowState::Active => "active",
            SecretRowState::Deleted => "deleted",
            SecretRowState::Revoked => "revoked",
        }
    }

    /// Reads the `state` column; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Active, Self::Deleted, Self::Revoked]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// One secret, without any value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    pub tenant: String,
    pub namespace: String,
    pub key: String,
    pub state: SecretRowState,
    /// The newest version written, from 1.
    pub current_version: u64,
    /// Grows by one with every change of the row; the check-and-set token of
    /// [`SecretRows::put_secret_version`] and [`SecretRows::change_secret`].
    pub generation: u64,
    /// The caller's JSON document (description, tags, expiry...), stored verbatim.
    pub metadata: String,
    /// When version 1 was written.
    pub created_at: DateTime<Utc>,
    /// When the current version was written.
    pub updated_at: DateTime<Utc>,
    /// The latest instant recorded by [`SecretRows::record_secret_read`].
    pub last_read_at: Option<DateTime<Utc>>,
}

/// One kept version of a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionRow {
    pub tenant: String,
    pub namespace: String,
    pub key: String,
    pub version: u64,
    /// The sealed value; `None` once withdrawn (revoked).
    pub ciphertext: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    /// Who wrote it, when the caller said.
    pub created_by: Option<String>,
    /// False once withdrawn: it can be neither read nor rolled back to.
    pub available: bool,
}

impl VersionRow {
    /// The position of this row, for [`SecretRows::secret_version_page`].
    pub fn cursor(&self) -> VersionCursor {
        VersionCursor {
            tenant: self.tenant.clone(),
            namespace: self.namespace.clone(),
            key: self.key.clone(),
            version: self.version,
        }
    }
}

/// Ciphertexts are not secret, but they are nobody's business in a log: show their length.
impl fmt::Debug for VersionRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionRow")
            .field("tenant", &self.tenant)
            .field("namespace", &self.namespace)
            .field("key", &self.key)
            .field("version", &self.version)
            .field(
                "ciphertext",
                &self
                    .ciphertext
                    .as_ref()
                    .map(|c| format!("<{} bytes>", c.len())),
            )
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("available", &self.available)
            .finish()
    }
}

/// Identifies one version row across tenants: the order of
/// [`SecretRows::secret_version_page`] is by these fields, in this order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionCursor {
    pub tenant: String,
    pub namespace: String,
    pub key: String,
    pub version: u64,
}

/// A new version for [`SecretRows::put_secret_version`].
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    pub tenant: &'a str,
    pub namespace: &'a str,
    pub key: &'a str,
    /// `None`: the secret must not exist yet (it is created). `Some(g)`: the secret's
    /// `generation` must still be `g`.
    pub expected_generation: Option<u64>,
    /// Must be the secret's `current_version + 1` (1 when it is created): the caller sealed
    /// the value for this number, so the store refuses any other.
    pub version: u64,
    pub ciphertext: &'a [u8],
    /// The secret's new metadata document.
    pub metadata: &'a str,
    pub at: DateTime<Utc>,
    pub created_by: Option<&'a str>,
    /// How many versions to keep, newest first (at least 1; 0 is taken as 1). Older rows are
    /// deleted in the same transaction.
    pub keep_versions: u32,
}

/// A change of state and metadata for [`SecretRows::change_secret`], without a new version.
#[derive(Debug, Clone, Copy)]
pub struct SecretChange<'a> {
    pub tenant: &'a str,
    pub namespace: &'a str,
    pub key: &'a str,
    /// The secret's `generation` must still be this.
    pub expected_generation: u64,
    pub state: SecretRowState,
    pub metadata: &'a str,
    /// Also withdraw every version: erase its ciphertext and mark it unavailable (revoke).
    pub withdraw_versions: bool,
}

/// The outcome of a check-and-set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cas<T> {
    /// Applied.
    Done(T),
    /// Nothing was written: the row changed (or appeared, or vanished) since the caller read
    /// it. Read again and decide.
    Conflict,
}

/// Rows of the encrypted secret store.
///
/// # Contract (every backend must keep it)
///
/// **Atomicity.** Each method is one transaction. [`SecretRows::put_secret_version`] and
/// [`SecretRows::change_secret`] check the expected `generation` and write inside the same
/// transaction, so of two writers that read the same generation exactly one succeeds and the
/// other gets [`Cas::Conflict`] with nothing written. Pruning old versions and withdrawing
/// ciphertexts happen in the writing transaction too.
///
/// **Durability and reads** as for [`crate::Store`]: a returned write is committed and seen
/// by every later read; [`SecretRows::secret_current`] reads the secret and its current
/// version from one snapshot.
///
/// **Identity.** A secret is (tenant, namespace, key), compared exactly (case-sensitive);
/// a version is that plus its number. Numbers only grow while the secret exists; after
/// [`SecretRows::destroy_secret`] the next write starts again at 1.
///
/// **Contents.** Ciphertexts and metadata come back byte for byte. Rows that do not decode
/// give [`crate::StoreError::Corrupt`] naming the secret, never a panic. No implementation
/// logs row contents.
pub trait SecretRows: Send + Sync {
    /// The secret row, whatever its state.
    fn secret_row(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<SecretRow>>;

    /// The secret row and its current version row (`None` if that version is gone), read
    /// from one snapshot.
    fn secret_current(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
    ) -> Result<Option<(SecretRow, Option<VersionRow>)>>;

    /// Every secret of exactly this tenant and namespace, sorted by key.
    fn secret_rows_in(&self, tenant: &str, namespace: &str) -> Result<Vec<SecretRow>>;

    /// The kept versions of a secret, newest first.
    fn secret_versions(&self, tenant: &str, namespace: &str, key: &str) -> Result<Vec<VersionRow>>;

    /// One version of a secret.
    fn secret_version(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
        version: u64,
    ) -> Result<Option<VersionRow>>;

    /// Writes a new version (see [`NewVersion`]): the secret becomes active at that version.
    /// A `version` other than the next number is [`crate::StoreError::Conflict`].
    fn put_secret_version(&self, new: &NewVersion<'_>) -> Result<Cas<SecretRow>>;

    /// Changes state and metadata (see [`SecretChange`]); `updated_at` and the version are
    /// unchanged. A missing secret is a conflict too.
    fn change_secret(&self, change: &SecretChange<'_>) -> Result<Cas<SecretRow>>;

    /// Deletes the secret and every version for good. False if it did not exist.
    fn destroy_secret(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool>;

    /// Sets `last_read_at` to `at` unless a later instant is already recorded. Does nothing
    /// for a secret that does not exist.
    fn record_secret_read(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// Up to `limit` version rows that still hold a ciphertext, of every tenant, in
    /// [`VersionCursor`] order, strictly after `after`: how `rekey` walks the whole store.
    fn secret_version_page(
        &self,
        after: Option<&VersionCursor>,
        limit: u32,
    ) -> Result<Vec<VersionRow>>;

    /// Replaces one version's ciphertext if it is still exactly `old` (check-and-set, so a
    /// concurrent write or revocation is never overwritten). False if it was not.
    fn replace_secret_ciphertext(
        &self,
        version: &VersionCursor,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_text() {
        for state in [
            SecretRowState::Active,
            SecretRowState::Deleted,
            SecretRowState::Revoked,
        ] {
            assert_eq!(SecretRowState::parse(state.as_str()), Some(state));
        }
        assert_eq!(SecretRowState::parse("Active"), None);
    }

    #[test]
    fn version_debug_hides_ciphertext_bytes() {
        let row = VersionRow {
            tenant: "main".into(),
            namespace: "company".into(),
            key: "K".into(),
            version: 2,
            ciphertext: Some(b"opaque-bytes".to_vec()),
            created_at: DateTime::<Utc>::from_timestamp_micros(0).unwrap(),
            created_by: None,
            available: true,
        };
        let debug = format!("{row:?}");
        assert!(debug.contains("<12 bytes>"), "{debug}");
        assert!(!debug.contains("opaque"), "{debug}");
        assert_eq!(row.cursor().version, 2);
    }
}
