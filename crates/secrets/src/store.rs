//! The storage contract every secret backend implements.
//!
//! The trait is synchronous and object-safe (`Arc<dyn SecretStore>`): backends are either
//! in-process (env), behind a blocking database handle (jdbc), or remote over HTTP on a
//! thread of their own (vault, aws-secret-manager: `bridge.rs`); async callers call
//! from a thread that may block (`spawn_blocking`, `block_in_place`). The service in front of it (cache, isolation, audit, default tags,
//! namespace resolution) is not a backend's business; a backend stores and fetches exactly
//! the tenant + namespace + key it is asked about.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::metadata::{MetadataUpdate, SecretMetadata, SecretState, SecretVersion, SecretWrite};
use crate::namespace::{NameError, Namespace};
use crate::value::SecretValue;

/// One operation of [`SecretStore`], for capabilities and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Read a value.
    Get,
    /// List secrets of a namespace.
    List,
    /// Read metadata without the value.
    Metadata,
    /// Write a new value (a new version).
    Put,
    /// Soft-delete.
    Delete,
    /// Undo a soft delete.
    Restore,
    /// Erase every version for good.
    Destroy,
    /// Disable as compromised.
    Revoke,
    /// List versions.
    Versions,
    /// Make an older version's value current again (as a new version).
    Rollback,
    /// Change description, tags, expiry or rotation period.
    UpdateMetadata,
    /// Re-encrypt every stored value under the current primary key.
    Rekey,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Operation; 12] = [
        Operation::Get,
        Operation::List,
        Operation::Metadata,
        Operation::Put,
        Operation::Delete,
        Operation::Restore,
        Operation::Destroy,
        Operation::Revoke,
        Operation::Versions,
        Operation::Rollback,
        Operation::UpdateMetadata,
        Operation::Rekey,
    ];

    /// True for operations that change stored state.
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            Operation::Get | Operation::List | Operation::Metadata | Operation::Versions
        )
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Get => "get",
            Operation::List => "list",
            Operation::Metadata => "metadata",
            Operation::Put => "put",
            Operation::Delete => "delete",
            Operation::Restore => "restore",
            Operation::Destroy => "destroy",
            Operation::Revoke => "revoke",
            Operation::Versions => "versions",
            Operation::Rollback => "rollback",
            Operation::UpdateMetadata => "update-metadata",
            Operation::Rekey => "rekey",
        })
    }
}

/// The set of operations a backend supports.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities(u16);

impl Capabilities {
    /// Nothing at all.
    pub const NONE: Capabilities = Capabilities(0);

    /// Get, list and metadata.
    pub fn read_only() -> Self {
        Self::NONE
            .with(Operation::Get)
            .with(Operation::List)
            .with(Operation::Metadata)
    }

    /// Every operation.
    pub fn all() -> Self {
        Operation::ALL.into_iter().fold(Self::NONE, Self::with)
    }

    /// This set plus `operation`.
    pub const fn with(self, operation: Operation) -> Self {
        Self(self.0 | (1 << (operation as u16)))
    }

    /// Whether `operation` is in the set.
    pub fn supports(self, operation: Operation) -> bool {
        self.0 & operation.bit() != 0
    }

    /// True when no write operation is supported.
    pub fn is_read_only(self) -> bool {
        Operation::ALL
            .into_iter()
            .filter(|op| op.is_write())
            .all(|op| !self.supports(op))
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(Operation::ALL.into_iter().filter(|op| self.supports(*op)))
            .finish()
    }
}

/// A backend failure. Messages name tenants, namespaces, keys and versions, never values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write on a read-only backend.
    #[error("the {backend} secret backend is read-only: {hint}")]
    ReadOnly {
        /// Backend name (`env`).
        backend: &'static str,
        /// Where values come from instead.
        hint: &'static str,
    },
    /// An operation this backend does not implement.
    #[error("the {backend} secret backend does not support {operation}")]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// The refused operation.
        operation: Operation,
    },
    /// An invalid namespace or key.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// The secret does not exist (for operations other than get, which answers `Absent`).
    #[error("secret '{key}' does not exist in {namespace}")]
    NoSuchSecret {
        /// Namespace.
        namespace: Namespace,
        /// Key.
        key: String,
    },
    /// A rollback target that does not exist or is no longer available.
    #[error("secret '{key}' in {namespace} has no available version {version}")]
    NoSuchVersion {
        /// Namespace.
        namespace: Namespace,
        /// Key.
        key: String,
        /// Requested version.
        version: u64,
    },
    /// Check-and-set failed: someone else wrote first.
    #[error(
        "secret '{key}' in {namespace} is at version {actual}, not {expected}: it was changed \
         concurrently; read it again and retry"
    )]
    VersionConflict {
        /// Namespace.
        namespace: Namespace,
        /// Key.
        key: String,
        /// Version the writer expected (0: absent).
        expected: u64,
        /// Version found (0: absent).
        actual: u64,
    },
    /// The storage underneath failed (database error, undecryptable row...). The message is
    /// written by the backend and must not contain values.
    #[error("the {backend} secret backend failed: {message}")]
    Backend {
        /// Backend name.
        backend: &'static str,
        /// What failed.
        message: String,
    },
    /// The storage underneath did not answer in time (a database locked elsewhere, no free
    /// connection): nothing changed and the same call may succeed later.
    #[error("the {backend} secret backend is busy: {reason}")]
    Busy {
        /// Backend name.
        backend: &'static str,
        /// Why, in the database's words (no values).
        reason: String,
    },
}

impl StoreError {
    /// Check-and-set, as every backend's `put` does it: `Ok` when the writer expects no
    /// particular version or expects exactly `actual` (0: absent), otherwise
    /// [`StoreError::VersionConflict`].
    pub fn check_version(
        expected: Option<u64>,
        actual: u64,
        namespace: &Namespace,
        key: &str,
    ) -> Result<(), StoreError> {
        match expected {
            Some(expected) if expected != actual => Err(StoreError::version_conflict(
                namespace, key, expected, actual,
            )),
            _ => Ok(()),
        }
    }

    /// [`StoreError::check_version`] against the version of `current` when it is active, 0
    /// when it is absent, soft-deleted or revoked (writing it starts it anew).
    pub fn check_active_version(
        expected: Option<u64>,
        current: Option<&SecretMetadata>,
        namespace: &Namespace,
        key: &str,
    ) -> Result<(), StoreError> {
        let actual = current
            .filter(|m| m.state == SecretState::Active)
            .map_or(0, |m| m.version);
        StoreError::check_version(expected, actual, namespace, key)
    }

    /// [`StoreError::VersionConflict`], for a backend whose server refused the write itself
    /// (a 409, a failed `cas`) after [`StoreError::check_version`] let it through.
    pub fn version_conflict(namespace: &Namespace, key: &str, expected: u64, actual: u64) -> Self {
        StoreError::VersionConflict {
            namespace: namespace.clone(),
            key: key.to_owned(),
            expected,
            actual,
        }
    }
}

/// One value that [`SecretStore::rekey`] could not re-encrypt. Names the row, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyFailure {
    /// Tenant.
    pub tenant: String,
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
    /// Version.
    pub version: u64,
    /// Why (a missing old key, a copied or altered ciphertext...).
    pub message: String,
}

/// What [`SecretStore::rekey`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Values re-encrypted under the primary key by this run.
    pub resealed: u64,
    /// Values that already were under the primary key (from an earlier, interrupted run).
    pub already_current: u64,
    /// Values changed by someone else while this run re-encrypted them (they were written
    /// under the primary key anyway).
    pub changed_concurrently: u64,
    /// Values that could not be opened, with why.
    pub failed: Vec<RekeyFailure>,
    /// True when the run stopped at its limit before walking every value: run it again.
    pub stopped_early: bool,
}

impl RekeyReport {
    /// True when every value is now under the primary key.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && !self.stopped_early
    }
}

/// The answer to [`SecretStore::get`].
#[derive(Debug)]
pub enum Lookup {
    /// Not stored in this namespace, or soft-deleted: resolution goes on with the parent.
    Absent,
    /// Stored and readable. Expiry is judged by the caller from `metadata.expires_at`, so
    /// that expired secrets are reported as expired, not as missing.
    Found {
        /// The value.
        value: SecretValue,
        /// Its metadata.
        metadata: SecretMetadata,
    },
    /// Revoked: it shadows parent namespaces, and backends return no value for it (a
    /// revoked ciphertext is not even decrypted).
    Revoked {
        /// Its metadata.
        metadata: SecretMetadata,
    },
}

/// A secret backend. Every method takes the tenant and the exact namespace; inheritance is
/// the caller's job ([`crate::resolve`]). Write methods have default bodies that refuse
/// through [`SecretStore::refusal`], so read-only backends implement only the reads, and
/// [`SecretStore::capabilities`] must list exactly what a backend overrides.
pub trait SecretStore: Send + Sync {
    /// Short backend name for messages and audit (`env`, `jdbc`).
    fn backend_name(&self) -> &'static str;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// What this backend supports for `namespace` of `tenant`: the same everywhere but for a
    /// store that routes namespaces to different backends ([`crate::NamespaceBackends`]).
    fn capabilities_at(&self, tenant: &str, namespace: &Namespace) -> Capabilities {
        let _ = (tenant, namespace);
        self.capabilities()
    }

    /// The value and metadata of `key` in exactly `namespace`.
    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError>;

    /// Metadata of `key` in exactly `namespace`, without touching its value. Soft-deleted
    /// secrets are returned (with their state); destroyed ones are not.
    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError>;

    /// Metadata of every secret stored in exactly `namespace`, sorted by key, soft-deleted
    /// and revoked ones included with their state.
    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError>;

    /// The error for an unsupported operation. Read-only backends override it to say where
    /// values come from instead.
    fn refusal(&self, operation: Operation) -> StoreError {
        StoreError::Unsupported {
            backend: self.backend_name(),
            operation,
        }
    }

    /// Writes a new version (creating the secret at version 1, or a soft-deleted one anew).
    fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let _ = (tenant, namespace, key, write);
        Err(self.refusal(Operation::Put))
    }

    /// Soft-deletes; `Ok(false)` if there was nothing to delete.
    fn delete(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let _ = (tenant, namespace, key);
        Err(self.refusal(Operation::Delete))
    }

    /// Restores a soft-deleted secret.
    fn restore(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        let _ = (tenant, namespace, key);
        Err(self.refusal(Operation::Restore))
    }

    /// Erases every version's value for good; `Ok(false)` if there was nothing to erase.
    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let _ = (tenant, namespace, key);
        Err(self.refusal(Operation::Destroy))
    }

    /// Revokes the secret (see [`crate::SecretState::Revoked`]).
    fn revoke(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        reason: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        let _ = (tenant, namespace, key, reason);
        Err(self.refusal(Operation::Revoke))
    }

    /// Versions, newest first.
    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, StoreError> {
        let _ = (tenant, namespace, key);
        Err(self.refusal(Operation::Versions))
    }

    /// Writes `version`'s value again as a new version, recorded as written by `created_by`
    /// (as [`SecretWrite::created_by`]).
    fn rollback(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
        created_by: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        let _ = (tenant, namespace, key, version, created_by);
        Err(self.refusal(Operation::Rollback))
    }

    /// Changes metadata without a new version.
    fn update_metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        update: MetadataUpdate,
    ) -> Result<SecretMetadata, StoreError> {
        let _ = (tenant, namespace, key, update);
        Err(self.refusal(Operation::UpdateMetadata))
    }

    /// Re-encrypts every stored value (all tenants) under the backend's primary key, at most
    /// `limit` of them (`None`: all). Values already under it are skipped, so a run that was
    /// interrupted or limited is finished by running it again.
    fn rekey(&self, limit: Option<u64>) -> Result<RekeyReport, StoreError> {
        let _ = limit;
        Err(self.refusal(Operation::Rekey))
    }

    /// Every (tenant, namespace) holding at least one secret, sorted, for `saker secret
    /// migrate`; `None` when this backend cannot enumerate them (the default: env secrets,
    /// for one, belong to no namespace).
    fn namespaces(&self) -> Result<Option<Vec<(String, Namespace)>>, StoreError> {
        Ok(None)
    }

    /// Records that the secret was resolved at `at` (for `last_read_at`). Best effort: the
    /// default does nothing, for backends that keep no such metadata.
    fn record_read(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _ = (tenant, namespace, key, at);
        Ok(())
    }
}

/// Refuses `operation` unless `store` lists it: for the service, before it audits an attempt.
pub fn ensure_supported(store: &dyn SecretStore, operation: Operation) -> Result<(), StoreError> {
    if store.capabilities().supports(operation) {
        Ok(())
    } else {
        Err(store.refusal(operation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_sets() {
        let ro = Capabilities::read_only();
        assert!(ro.supports(Operation::Get));
        assert!(ro.supports(Operation::List));
        assert!(!ro.supports(Operation::Put));
        assert!(ro.is_read_only());
        let all = Capabilities::all();
        assert!(Operation::ALL.iter().all(|op| all.supports(*op)));
        assert!(!all.is_read_only());
        assert!(!Capabilities::NONE.supports(Operation::Get));
        assert_eq!(format!("{ro:?}"), "{Get, List, Metadata}");
    }

    #[test]
    fn check_and_set() {
        let ns = Namespace::parse("company").unwrap();
        assert!(StoreError::check_version(None, 3, &ns, "K").is_ok());
        assert!(StoreError::check_version(Some(3), 3, &ns, "K").is_ok());
        assert!(StoreError::check_version(Some(0), 0, &ns, "K").is_ok());
        let err = StoreError::check_version(Some(2), 3, &ns, "K").unwrap_err();
        assert!(
            matches!(&err, StoreError::VersionConflict { expected: 2, actual: 3, key, .. } if key == "K"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "secret 'K' in company is at version 3, not 2: it was changed concurrently; read \
             it again and retry"
        );
    }

    #[test]
    fn only_an_active_secret_has_a_version_to_check() {
        fn check(
            expected: Option<u64>,
            current: Option<&SecretMetadata>,
        ) -> Result<(), StoreError> {
            let ns = Namespace::parse("company").unwrap();
            StoreError::check_active_version(expected, current, &ns, "K")
        }
        let mut meta = SecretMetadata::new("K", None);
        meta.version = 4;
        assert!(check(Some(4), Some(&meta)).is_ok());
        assert!(check(Some(0), None).is_ok());
        assert!(matches!(
            check(Some(0), Some(&meta)),
            Err(StoreError::VersionConflict {
                expected: 0,
                actual: 4,
                ..
            })
        ));
        meta.state = SecretState::Revoked {
            at: chrono::Utc::now(),
            reason: None,
        };
        assert!(check(Some(0), Some(&meta)).is_ok());
        assert!(matches!(
            check(Some(4), Some(&meta)),
            Err(StoreError::VersionConflict {
                expected: 4,
                actual: 0,
                ..
            })
        ));
    }

    #[test]
    fn write_classification() {
        let writes: Vec<_> = Operation::ALL
            .into_iter()
            .filter(|op| op.is_write())
            .collect();
        assert_eq!(writes.len(), 8);
        assert!(!Operation::Versions.is_write());
        assert!(Operation::Rollback.is_write());
    }
}
