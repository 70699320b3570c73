//! The `jdbc` backend: secrets encrypted into the repository database.
//!
//! Each version's value is sealed with AES-256-GCM under the keyring's primary key, with a
//! fresh nonce per write and associated data binding it to its tenant, namespace, key and
//! version ([`secret_aad`]), so a ciphertext copied onto another row (or another version of
//! the same secret) fails to decrypt with an error that says so. Envelopes name their key, so
//! older keys keep reading while [`SecretStore::rekey`] moves everything to the primary one.
//!
//! The rows live behind [`SecretRows`], which knows no cryptography; every change is a
//! check-and-set on the secret's generation, retried here when the caller did not ask for a
//! specific version (see [`SecretWrite::expected_version`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_crypto::{Aad, Keyring};
use saker_store::{
    Cas, NewVersion, SecretChange, SecretRow, SecretRowState, SecretRows, VersionCursor,
};

use crate::metadata::{MetadataUpdate, SecretMetadata, SecretVersion, SecretWrite};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Capabilities, Lookup, RekeyFailure, RekeyReport, SecretStore, StoreError};
use crate::value::SecretValue;

mod document;

const BACKEND: &str = "jdbc";

/// How often a check-and-set is retried against concurrent writers before giving up. Every
/// conflict means another writer succeeded, so this is only reached under pathological load.
const MAX_ATTEMPTS: usize = 1_000;

/// Version rows read per page by `rekey`.
const REKEY_PAGE: u32 = 256;

/// The associated data of one version's ciphertext.
pub fn secret_aad(tenant: &str, namespace: &str, key: &str, version: u64) -> Aad {
    Aad::new("secret")
        .field("tenant", tenant)
        .field("namespace", namespace)
        .field("key", key)
        .field_u64("version", version)
}

/// The encrypted secret store over the repository database.
pub struct JdbcSecretStore {
    rows: Arc<dyn SecretRows>,
    /// Seals (its primary key) and opens.
    keyring: Keyring,
    /// Only open: keyrings whose keys are being rotated away (see [`Self::with_older_keyring`]).
    older: Vec<Keyring>,
    max_versions: u32,
}

impl std::fmt::Debug for JdbcSecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JdbcSecretStore")
            .field("keyring", &self.keyring)
            .field("older", &self.older)
            .field("max_versions", &self.max_versions)
            .finish()
    }
}

fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::<Utc>::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn backend(message: String) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        message,
    }
}

fn repo(err: saker_store::StoreError) -> StoreError {
    match err {
        saker_store::StoreError::Busy { reason } => StoreError::Busy {
            backend: BACKEND,
            reason,
        },
        other => backend(other.to_string()),
    }
}

impl JdbcSecretStore {
    /// A store sealing under `keyring`'s primary key and keeping `max_versions` versions of
    /// each secret (at least 1).
    pub fn new(rows: Arc<dyn SecretRows>, keyring: Keyring, max_versions: u32) -> Self {
        Self {
            rows,
            keyring,
            older: Vec::new(),
            max_versions: max_versions.max(1),
        }
    }

    /// Adds a keyring that only opens: values sealed under its keys stay readable, and
    /// `rekey` moves them to the primary key. This lets a caller that holds a whole keyring
    /// (not its keys) keep it readable behind a new primary.
    pub fn with_older_keyring(mut self, older: Keyring) -> Self {
        self.older.push(older);
        self
    }

    /// The keyring that seals (its `Debug` shows key ids only).
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The keyring able to open `ciphertext`: the one holding the key its envelope names, or
    /// the sealing one (whose error then says what is wrong).
    fn opener(&self, ciphertext: &[u8]) -> &Keyring {
        let Ok(id) = Keyring::envelope_key_id(ciphertext) else {
            return &self.keyring;
        };
        std::iter::once(&self.keyring)
            .chain(&self.older)
            .find(|keyring| keyring.contains(id))
            .unwrap_or(&self.keyring)
    }

    fn open(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
        ciphertext: &[u8],
    ) -> Result<SecretValue, StoreError> {
        let aad = secret_aad(tenant, namespace.as_str(), key, version);
        let plaintext = self
            .opener(ciphertext)
            .open(ciphertext, &aad)
            .map_err(|err| {
                backend(format!(
                    "secret '{key}' in {namespace} (version {version}) cannot be decrypted: {err}"
                ))
            })?;
        SecretValue::from_utf8(plaintext).map_err(|err| {
            backend(format!(
                "secret '{key}' in {namespace} (version {version}): {err}"
            ))
        })
    }

    /// Writes `value` as the next version, applying `update` to the metadata; the shared body
    /// of `put` and `rollback`.
    fn write_version(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: &SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let expected_version = write.expected_version;
        for _ in 0..MAX_ATTEMPTS {
            let row = self
                .rows
                .secret_row(tenant, namespace.as_str(), key)
                .map_err(repo)?;
            let actual = row.as_ref().map_or(0, |row| row.current_version);
            StoreError::check_version(expected_version, actual, namespace, key)?;
            let mut doc = match &row {
                Some(row) => document::doc(row, namespace)?,
                None => document::MetaDoc::default(),
            };
            doc.apply(&write.update);
            doc.deleted_at = None;
            doc.revoked_at = None;
            doc.revoke_reason = None;
            let version = actual + 1;
            let aad = secret_aad(tenant, namespace.as_str(), key, version);
            let ciphertext = self.keyring.seal(write.value.expose().as_bytes(), &aad);
            let metadata = document::encode(&doc)?;
            let new = NewVersion {
                tenant,
                namespace: namespace.as_str(),
                key,
                expected_generation: row.as_ref().map(|row| row.generation),
                version,
                ciphertext: &ciphertext,
                metadata: &metadata,
                at: now(),
                created_by: write.created_by.as_deref(),
                keep_versions: self.max_versions,
            };
            match self.rows.put_secret_version(&new).map_err(repo)? {
                Cas::Done(row) => return document::metadata_of(&row, namespace),
                Cas::Conflict => std::thread::yield_now(),
            }
        }
        Err(Self::contended(namespace, key))
    }

    /// Applies `edit` to the secret's document and state in a check-and-set loop.
    /// `Ok(None)` when the secret does not exist; `edit` returns `None` to change nothing.
    fn change(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        withdraw_versions: bool,
        edit: &dyn Fn(&mut document::MetaDoc) -> Option<()>,
    ) -> Result<Option<(SecretRow, bool)>, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(row) = self
                .rows
                .secret_row(tenant, namespace.as_str(), key)
                .map_err(repo)?
            else {
                return Ok(None);
            };
            let mut doc = document::doc(&row, namespace)?;
            if edit(&mut doc).is_none() {
                return Ok(Some((row, false)));
            }
            let metadata = document::encode(&doc)?;
            let change = SecretChange {
                tenant,
                namespace: namespace.as_str(),
                key,
                expected_generation: row.generation,
                state: doc.state(),
                metadata: &metadata,
                withdraw_versions,
            };
            match self.rows.change_secret(&change).map_err(repo)? {
                Cas::Done(row) => return Ok(Some((row, true))),
                Cas::Conflict => std::thread::yield_now(),
            }
        }
        Err(Self::contended(namespace, key))
    }

    /// `change` on a secret that must exist, returning its new metadata.
    fn change_existing(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        withdraw_versions: bool,
        edit: &dyn Fn(&mut document::MetaDoc) -> Option<()>,
    ) -> Result<SecretMetadata, StoreError> {
        let (row, _) = self
            .change(tenant, namespace, key, withdraw_versions, edit)?
            .ok_or_else(|| Self::no_such(namespace, key))?;
        document::metadata_of(&row, namespace)
    }

    /// Fails with [`StoreError::NoSuchSecret`] unless the secret exists.
    fn ensure_exists(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<(), StoreError> {
        if self
            .rows
            .secret_row(tenant, namespace.as_str(), key)
            .map_err(repo)?
            .is_none()
        {
            return Err(Self::no_such(namespace, key));
        }
        Ok(())
    }

    fn contended(namespace: &Namespace, key: &str) -> StoreError {
        backend(format!(
            "secret '{key}' in {namespace} kept changing concurrently; try again"
        ))
    }

    fn no_such(namespace: &Namespace, key: &str) -> StoreError {
        StoreError::NoSuchSecret {
            namespace: namespace.clone(),
            key: key.to_owned(),
        }
    }
}

impl SecretStore for JdbcSecretStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        check_secret_key(key)?;
        let Some((row, version)) = self
            .rows
            .secret_current(tenant, namespace.as_str(), key)
            .map_err(repo)?
        else {
            return Ok(Lookup::Absent);
        };
        match row.state {
            SecretRowState::Deleted => return Ok(Lookup::Absent),
            SecretRowState::Revoked => {
                return Ok(Lookup::Revoked {
                    metadata: document::metadata_of(&row, namespace)?,
                });
            }
            SecretRowState::Active => {}
        }
        let metadata = document::metadata_of(&row, namespace)?;
        let Some(ciphertext) = version.and_then(|version| version.ciphertext) else {
            return Err(backend(format!(
                "secret '{key}' in {namespace}: its current version {} is missing",
                row.current_version
            )));
        };
        let value = self.open(tenant, namespace, key, row.current_version, &ciphertext)?;
        Ok(Lookup::Found { value, metadata })
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        check_secret_key(key)?;
        self.rows
            .secret_row(tenant, namespace.as_str(), key)
            .map_err(repo)?
            .map(|row| document::metadata_of(&row, namespace))
            .transpose()
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        self.rows
            .secret_rows_in(tenant, namespace.as_str())
            .map_err(repo)?
            .iter()
            .map(|row| document::metadata_of(row, namespace))
            .collect()
    }

    fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        check_secret_key(key)?;
        self.write_version(tenant, namespace, key, &write)
    }

    fn delete(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        check_secret_key(key)?;
        let at = now();
        let changed = self.change(tenant, namespace, key, false, &|doc| {
            if doc.deleted_at.is_some() {
                return None;
            }
            doc.deleted_at = Some(at);
            Some(())
        })?;
        Ok(changed.is_some_and(|(_, changed)| changed))
    }

    fn restore(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        check_secret_key(key)?;
        self.change_existing(tenant, namespace, key, false, &|doc| {
            doc.deleted_at.take().map(|_| ())
        })
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        check_secret_key(key)?;
        self.rows
            .destroy_secret(tenant, namespace.as_str(), key)
            .map_err(repo)
    }

    fn revoke(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        reason: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        check_secret_key(key)?;
        let at = now();
        self.change_existing(tenant, namespace, key, true, &|doc| {
            doc.deleted_at = None;
            doc.revoked_at = Some(at);
            doc.revoke_reason = reason.map(str::to_owned);
            Some(())
        })
    }

    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, StoreError> {
        check_secret_key(key)?;
        self.ensure_exists(tenant, namespace, key)?;
        Ok(self
            .rows
            .secret_versions(tenant, namespace.as_str(), key)
            .map_err(repo)?
            .into_iter()
            .map(|row| SecretVersion {
                version: row.version,
                created_at: row.created_at,
                created_by: row.created_by,
                available: row.available && row.ciphertext.is_some(),
            })
            .collect())
    }

    fn rollback(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
        created_by: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        check_secret_key(key)?;
        self.ensure_exists(tenant, namespace, key)?;
        let row = self
            .rows
            .secret_version(tenant, namespace.as_str(), key, version)
            .map_err(repo)?;
        let Some(ciphertext) = row
            .filter(|row| row.available)
            .and_then(|row| row.ciphertext)
        else {
            return Err(StoreError::NoSuchVersion {
                namespace: namespace.clone(),
                key: key.to_owned(),
                version,
            });
        };
        let value = self.open(tenant, namespace, key, version, &ciphertext)?;
        let mut write = SecretWrite::new(value);
        write.created_by = created_by.map(str::to_owned);
        self.write_version(tenant, namespace, key, &write)
    }

    fn update_metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        update: MetadataUpdate,
    ) -> Result<SecretMetadata, StoreError> {
        check_secret_key(key)?;
        self.change_existing(tenant, namespace, key, false, &|doc| {
            doc.apply(&update);
            Some(())
        })
    }

    fn namespaces(&self) -> Result<Option<Vec<(String, Namespace)>>, StoreError> {
        // Walks the version rows as rekey does: every tenant, in order.
        let mut found = std::collections::BTreeSet::new();
        let mut cursor = None;
        loop {
            let page = self
                .rows
                .secret_version_page(cursor.as_ref(), REKEY_PAGE)
                .map_err(repo)?;
            let Some(last) = page.last() else {
                return Ok(Some(found.into_iter().collect()));
            };
            cursor = Some(last.cursor());
            for row in page {
                found.insert((row.tenant, Namespace::parse(&row.namespace)?));
            }
        }
    }

    fn rekey(&self, limit: Option<u64>) -> Result<RekeyReport, StoreError> {
        let mut report = RekeyReport::default();
        let mut cursor: Option<VersionCursor> = None;
        loop {
            let page = self
                .rows
                .secret_version_page(cursor.as_ref(), REKEY_PAGE)
                .map_err(repo)?;
            let Some(last) = page.last() else {
                return Ok(report);
            };
            cursor = Some(last.cursor());
            for row in page {
                let Some(old) = row.ciphertext.as_deref() else {
                    continue;
                };
                if !self.keyring.needs_rekey(old) {
                    report.already_current += 1;
                    continue;
                }
                if limit.is_some_and(|limit| report.resealed >= limit) {
                    report.stopped_early = true;
                    return Ok(report);
                }
                let aad = secret_aad(&row.tenant, &row.namespace, &row.key, row.version);
                match self.opener(old).open(old, &aad) {
                    Ok(plaintext) => {
                        let new = self.keyring.seal(&plaintext, &aad);
                        if self
                            .rows
                            .replace_secret_ciphertext(&row.cursor(), old, &new)
                            .map_err(repo)?
                        {
                            report.resealed += 1;
                        } else {
                            report.changed_concurrently += 1;
                        }
                    }
                    Err(err) => report.failed.push(RekeyFailure {
                        tenant: row.tenant.clone(),
                        namespace: row.namespace.clone(),
                        key: row.key.clone(),
                        version: row.version,
                        message: err.to_string(),
                    }),
                }
            }
        }
    }

    fn record_read(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.rows
            .record_secret_read(tenant, namespace.as_str(), key, at)
            .map_err(repo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_is_a_busy_backend_and_other_failures_are_backend_errors() {
        let busy = repo(saker_store::StoreError::Busy {
            reason: "no connection came free".into(),
        });
        assert!(matches!(
            busy,
            StoreError::Busy {
                backend: BACKEND,
                ..
            }
        ));
        let other = repo(saker_store::StoreError::NotFound {
            kind: "secret row",
            id: "x".into(),
        });
        assert!(matches!(other, StoreError::Backend { .. }));
    }
}
