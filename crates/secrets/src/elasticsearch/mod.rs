//! `secret.type: elasticsearch`: secrets as documents of one Elasticsearch index, every
//! value sealed with AES-256-GCM before it leaves Saker (Kestra's "additional layer of
//! security": the cluster, its snapshots and anyone reading the index see ciphertext only).
//!
//! Layout, in index `index` (default `saker_secrets`):
//! - one secret document per Saker secret, id `<tenant>/<namespace>/<key>`, fields
//!   `kind: secret`, `tenant`, `namespace`, `key`, `version` (the current one), and `meta`
//!   (`state` active, deleted or revoked, `stateAt`, `revokeReason`, `createdAt`,
//!   `updatedAt`, `description`, `tags`, `expiresAt`, `rotationPeriod` in seconds);
//! - one version document per version, id `<tenant>/<namespace>/<key>/<version>`, fields
//!   `kind: version`, `tenant`, `namespace`, `key`, `version`, `value` (the sealed value:
//!   base64 of saker-crypto's envelope, associated data tenant, namespace, key and version as
//!   the jdbc store's, so a document copied to another id does not open) and `meta`
//!   (`createdAt`, `createdBy`, `revoked`).
//!
//! A write creates the next version document with `_create` (Elasticsearch's 409 when a
//! concurrent writer created it first is Saker's version conflict), then points the secret
//! document at it. Delete is a soft delete (state `deleted`), restore undoes it, destroy
//! deletes every document of the secret, rollback writes an older version's value anew.
//! Revoke marks the secret and its current version revoked (resolution fails with "revoked"
//! and that version cannot be rolled back to); a new value makes it active again.
//! The key is derived from `secret` with HKDF-SHA256, as `secret.jdbc.secret`'s.

mod client;
pub mod config;

use std::time::Duration;

use chrono::{DateTime, Utc};
use saker_crypto::Keyring;
use serde_json::{Value, json};

pub(crate) use config::section_tags;
pub use config::{DEFAULT_INDEX, ElasticsearchConfig};

use self::client::{CallError, EsClient};
use crate::jdbc::secret_aad;
use crate::metadata::{MetadataUpdate, SecretMetadata, SecretState, SecretVersion, SecretWrite};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};
use crate::value::SecretValue;

const NAME: &str = "elasticsearch";

/// The Elasticsearch backend.
pub struct ElasticsearchSecretStore {
    client: EsClient,
    keyring: Keyring,
}

fn secret_id(tenant: &str, namespace: &Namespace, key: &str) -> String {
    format!("{tenant}/{namespace}/{key}")
}

fn version_id(tenant: &str, namespace: &Namespace, key: &str, version: u64) -> String {
    format!("{tenant}/{namespace}/{key}/{version}")
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse().ok()
}

/// Saker's metadata from a secret document.
fn metadata_of(namespace: &Namespace, key: &str, source: &Value) -> SecretMetadata {
    let meta = &source["meta"];
    let mut metadata = SecretMetadata::new(key, Some(namespace.clone()));
    metadata.version = source["version"].as_u64().unwrap_or(1);
    metadata.description = meta["description"].as_str().map(str::to_owned);
    metadata.tags = serde_json::from_value(meta["tags"].clone()).unwrap_or_default();
    metadata.created_at = time(&meta["createdAt"]);
    metadata.updated_at = time(&meta["updatedAt"]);
    metadata.expires_at = time(&meta["expiresAt"]);
    metadata.rotation_period = meta["rotationPeriod"].as_u64().map(Duration::from_secs);
    let at = time(&meta["stateAt"]).unwrap_or_else(Utc::now);
    metadata.state = match meta["state"].as_str() {
        Some("deleted") => SecretState::Deleted { at },
        Some("revoked") => SecretState::Revoked {
            at,
            reason: meta["revokeReason"].as_str().map(str::to_owned),
        },
        _ => SecretState::Active,
    };
    metadata
}

/// `update` applied to `metadata`.
fn apply(update: MetadataUpdate, metadata: &mut SecretMetadata) {
    if let Some(description) = update.description {
        metadata.description = description;
    }
    if let Some(tags) = update.tags {
        metadata.tags = tags;
    }
    if let Some(expires) = update.expires_at {
        metadata.expires_at = expires;
    }
    if let Some(period) = update.rotation_period {
        metadata.rotation_period = period;
    }
}

/// The secret document of `metadata`.
fn secret_source(tenant: &str, namespace: &Namespace, metadata: &SecretMetadata) -> Value {
    let (state, at, reason) = match &metadata.state {
        SecretState::Active => ("active", None, None),
        SecretState::Deleted { at } => ("deleted", Some(at.to_rfc3339()), None),
        SecretState::Revoked { at, reason } => ("revoked", Some(at.to_rfc3339()), reason.clone()),
    };
    json!({"kind": "secret", "tenant": tenant, "namespace": namespace.as_str(),
    "key": metadata.key, "version": metadata.version, "meta": {
        "state": state, "stateAt": at, "revokeReason": reason,
        "createdAt": metadata.created_at.map(|t| t.to_rfc3339()),
        "updatedAt": metadata.updated_at.map(|t| t.to_rfc3339()),
        "description": metadata.description, "tags": metadata.tags,
        "expiresAt": metadata.expires_at.map(|t| t.to_rfc3339()),
        "rotationPeriod": metadata.rotation_period.map(|p| p.as_secs()),
    }})
}

impl ElasticsearchSecretStore {
    /// A backend for `config`. Nothing is called yet: the index is created on the first write.
    pub fn new(config: ElasticsearchConfig) -> Result<Self, StoreError> {
        let keyring = Keyring::new(config.key.clone());
        let client = EsClient::new(config)?;
        Ok(Self { client, keyring })
    }

    /// The index this backend writes to.
    pub fn index(&self) -> &str {
        &self.client.config().index
    }

    fn failed(&self, doing: &str, namespace: &Namespace, key: &str, err: CallError) -> StoreError {
        StoreError::Backend {
            backend: NAME,
            message: format!(
                "cannot {doing} secret '{key}' in {namespace} at {}: {err}",
                self.client.place()
            ),
        }
    }

    fn secret_doc(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        check_secret_key(key)?;
        let source = self
            .client
            .get(&secret_id(tenant, namespace, key))
            .map_err(|err| self.failed(doing, namespace, key, err))?;
        Ok(source.map(|s| metadata_of(namespace, key, &s)))
    }

    fn existing(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        self.secret_doc(doing, tenant, namespace, key)?
            .ok_or_else(|| StoreError::NoSuchSecret {
                namespace: namespace.clone(),
                key: key.to_owned(),
            })
    }

    fn save(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        metadata: &SecretMetadata,
    ) -> Result<(), StoreError> {
        let key = &metadata.key;
        self.client
            .put(
                &secret_id(tenant, namespace, key),
                &secret_source(tenant, namespace, metadata),
                false,
            )
            .map(|_| ())
            .map_err(|err| self.failed(doing, namespace, key, err))
    }

    /// The opened value of `version`, `None` when its document is gone.
    fn value_of(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
    ) -> Result<Option<SecretValue>, StoreError> {
        let source = self
            .client
            .get(&version_id(tenant, namespace, key, version))
            .map_err(|err| self.failed(doing, namespace, key, err))?;
        let Some(sealed) = source.as_ref().and_then(|s| s["value"].as_str()) else {
            return Ok(None);
        };
        let aad = secret_aad(tenant, namespace.as_str(), key, version);
        let cannot_open = |why: String| StoreError::Backend {
            backend: NAME,
            message: format!(
                "cannot open version {version} of secret '{key}' in {namespace}: {why} (was \
                 secret.elasticsearch.secret changed, or the document copied or altered?)"
            ),
        };
        let plain = self
            .keyring
            .open_str(sealed, &aad)
            .map_err(|err| cannot_open(err.to_string()))?;
        SecretValue::from_utf8(plain)
            .map(Some)
            .map_err(|err| cannot_open(err.to_string()))
    }

    /// Writes `value` as the version after `old`'s and points the secret document at it.
    fn write_version(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        old: Option<SecretMetadata>,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let now = Utc::now();
        let version = old.as_ref().map_or(1, |m| m.version + 1);
        let aad = secret_aad(tenant, namespace.as_str(), key, version);
        let sealed = self
            .keyring
            .seal_to_string(write.value.expose().as_bytes(), &aad);
        let document = json!({"kind": "version", "tenant": tenant,
            "namespace": namespace.as_str(), "key": key, "version": version, "value": sealed,
            "meta": {"createdAt": now.to_rfc3339(), "createdBy": write.created_by}});
        let created = self
            .client
            .put(
                &version_id(tenant, namespace, key, version),
                &document,
                true,
            )
            .map_err(|err| self.failed("write", namespace, key, err))?;
        if !created {
            return Err(StoreError::version_conflict(
                namespace,
                key,
                write.expected_version.unwrap_or(version - 1),
                version,
            ));
        }
        let mut metadata = old.unwrap_or_else(|| {
            let mut fresh = SecretMetadata::new(key, Some(namespace.clone()));
            fresh.created_at = Some(now);
            fresh
        });
        apply(write.update, &mut metadata);
        metadata.version = version;
        metadata.updated_at = Some(now);
        metadata.state = SecretState::Active;
        self.save("write", tenant, namespace, &metadata)?;
        Ok(metadata)
    }
}

impl SecretStore for ElasticsearchSecretStore {
    fn backend_name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only()
            .with(Operation::Put)
            .with(Operation::Delete)
            .with(Operation::Restore)
            .with(Operation::Destroy)
            .with(Operation::Versions)
            .with(Operation::Rollback)
            .with(Operation::Revoke)
            .with(Operation::UpdateMetadata)
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let Some(metadata) = self.secret_doc("read", tenant, namespace, key)? else {
            return Ok(Lookup::Absent);
        };
        match metadata.state {
            SecretState::Active => {}
            SecretState::Revoked { .. } => return Ok(Lookup::Revoked { metadata }),
            SecretState::Deleted { .. } => return Ok(Lookup::Absent),
        }
        match self.value_of("read", tenant, namespace, key, metadata.version)? {
            Some(value) => Ok(Lookup::Found { value, metadata }),
            None => Ok(Lookup::Absent),
        }
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        self.secret_doc("describe", tenant, namespace, key)
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let sources = self
            .client
            .search(
                &[
                    ("kind", json!("secret")),
                    ("tenant", json!(tenant)),
                    ("namespace", json!(namespace.as_str())),
                ],
                ("key", "asc"),
            )
            .map_err(|err| self.failed("list", namespace, "*", err))?;
        Ok(sources
            .iter()
            .filter_map(|s| {
                let key = s["key"].as_str()?;
                Some(metadata_of(namespace, key, s))
            })
            .collect())
    }

    fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let old = self.secret_doc("write", tenant, namespace, key)?;
        StoreError::check_active_version(write.expected_version, old.as_ref(), namespace, key)?;
        self.write_version(tenant, namespace, key, old, write)
    }

    fn delete(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let Some(mut metadata) = self.secret_doc("delete", tenant, namespace, key)? else {
            return Ok(false);
        };
        if metadata.state != SecretState::Active {
            return Ok(false);
        }
        metadata.state = SecretState::Deleted { at: Utc::now() };
        self.save("delete", tenant, namespace, &metadata)?;
        Ok(true)
    }

    fn restore(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        let mut metadata = self.existing("restore", tenant, namespace, key)?;
        if matches!(metadata.state, SecretState::Deleted { .. }) {
            metadata.state = SecretState::Active;
            self.save("restore", tenant, namespace, &metadata)?;
        }
        Ok(metadata)
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let Some(metadata) = self.secret_doc("destroy", tenant, namespace, key)? else {
            return Ok(false);
        };
        let fail = |err| self.failed("destroy", namespace, key, err);
        // Values first: a destroy interrupted half-way leaves a secret document to destroy
        // again, never a value without one.
        for version in 1..=metadata.version {
            self.client
                .delete(&version_id(tenant, namespace, key, version))
                .map_err(fail)?;
        }
        self.client
            .delete(&secret_id(tenant, namespace, key))
            .map_err(fail)
    }

    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, StoreError> {
        self.existing("list versions of", tenant, namespace, key)?;
        let sources = self
            .client
            .search(
                &[
                    ("kind", json!("version")),
                    ("tenant", json!(tenant)),
                    ("namespace", json!(namespace.as_str())),
                    ("key", json!(key)),
                ],
                ("version", "desc"),
            )
            .map_err(|err| self.failed("list versions of", namespace, key, err))?;
        Ok(sources
            .iter()
            .filter_map(|s| {
                Some(SecretVersion {
                    version: s["version"].as_u64()?,
                    created_at: time(&s["meta"]["createdAt"])?,
                    created_by: s["meta"]["createdBy"].as_str().map(str::to_owned),
                    available: s["meta"]["revoked"] != true,
                })
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
        let old = self.existing("roll back", tenant, namespace, key)?;
        let revoked = self
            .client
            .get(&version_id(tenant, namespace, key, version))
            .map_err(|err| self.failed("roll back", namespace, key, err))?
            .is_some_and(|s| s["meta"]["revoked"] == true);
        if revoked {
            return Err(StoreError::NoSuchVersion {
                namespace: namespace.clone(),
                key: key.to_owned(),
                version,
            });
        }
        let value = self
            .value_of("roll back", tenant, namespace, key, version)?
            .ok_or_else(|| StoreError::NoSuchVersion {
                namespace: namespace.clone(),
                key: key.to_owned(),
                version,
            })?;
        let mut write = SecretWrite::new(value);
        write.created_by = created_by.map(str::to_owned);
        self.write_version(tenant, namespace, key, Some(old), write)
    }

    fn revoke(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        reason: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        let mut metadata = self.existing("revoke", tenant, namespace, key)?;
        let id = version_id(tenant, namespace, key, metadata.version);
        let fail = |err| self.failed("revoke", namespace, key, err);
        // The version first: a revoke interrupted half-way leaves the value unusable for a
        // rollback, never a revoked secret whose value can come back.
        if let Some(mut document) = self.client.get(&id).map_err(fail)? {
            document["meta"]["revoked"] = json!(true);
            self.client.put(&id, &document, false).map_err(fail)?;
        }
        metadata.state = SecretState::Revoked {
            at: Utc::now(),
            reason: reason.map(str::to_owned),
        };
        self.save("revoke", tenant, namespace, &metadata)?;
        Ok(metadata)
    }

    fn update_metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        update: MetadataUpdate,
    ) -> Result<SecretMetadata, StoreError> {
        let mut metadata = self.existing("update metadata of", tenant, namespace, key)?;
        apply(update, &mut metadata);
        self.save("update metadata of", tenant, namespace, &metadata)?;
        Ok(metadata)
    }
}
