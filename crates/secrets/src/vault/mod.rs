//! `secret.type: vault`: secrets in HashiCorp Vault's KV secrets engine, version 2 (default)
//! or version 1 (`engine-version: 1`).
//!
//! Layout: one Vault secret per Saker secret at
//! `<root-engine>/[data/]<secret-path-prefix>/<tenant>/<namespace>/<key>`, e.g.
//! `secret/data/saker/main/company.team/API_KEY`, holding `{"value": "<the value>"}`. On KV v2,
//! Saker's versions are Vault's versions, delete is Vault's soft delete of the latest version
//! (`DELETE data/…`), restore is `undelete`, destroy erases every version and the metadata
//! (`DELETE metadata/…`), rollback writes an older version's value as a new one, and
//! check-and-set is Vault's `options.cas`; description, tags, expiry and rotation period are
//! the secret's `custom_metadata` (`description`, `tag:<name>`, `saker:expires-at`,
//! `saker:rotation-period`). KV v1 keeps one value and no metadata: it has no soft delete
//! (Saker's `destroy` is its delete) and no versions.
//!
//! With `secret.read-only: true`, secrets at `<root-engine>/[data/]<secret-path-prefix>/<name>`
//! (Kestra's read-only layout, one or several fields each) are visible to every namespace as
//! well: see `shared.rs`.
//!
//! Client: reqwest over the backend's bridge thread (`client.rs`), not `vaultrs`: the ten
//! calls used here are plain JSON, and the session (renewal at two thirds of the lease,
//! logging in again on 403) is the part that matters and is easier to get right in view.

mod client;
pub mod config;
mod shared;
mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

pub use client::SessionCounts;
pub(crate) use config::section_tags;
pub use config::{VaultAuth, VaultConfig};

use self::client::{Answer, CallError, VaultClient, success};
use crate::metadata::{SecretMetadata, SecretState, SecretWrite};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::StoreError;
use crate::value::SecretValue;

const NAME: &str = "vault";
const TAG_PREFIX: &str = "tag:";
const EXPIRES: &str = "saker:expires-at";
const ROTATION: &str = "saker:rotation-period";

/// The Vault backend.
pub struct VaultSecretStore {
    client: VaultClient,
    /// Also read Kestra's read-only layout (`shared.rs`).
    shared: bool,
}

impl VaultSecretStore {
    /// A backend for `config`. Nothing is called yet: logging in happens on first use.
    pub fn new(config: VaultConfig) -> Result<Self, StoreError> {
        let client = VaultClient::new(config).map_err(|message| StoreError::Backend {
            backend: NAME,
            message: format!("cannot set up its HTTP client: {message}"),
        })?;
        Ok(Self {
            client,
            shared: false,
        })
    }

    /// The same backend also reading secrets kept at `<secret-path-prefix>/<name>`, visible
    /// to every namespace (Kestra's read-only layout, `shared.rs`). Only for read-only mode:
    /// Saker never writes there.
    pub fn reading_shared_paths(mut self) -> Self {
        self.shared = true;
        self
    }

    /// Logins and renewals so far.
    pub fn session_counts(&self) -> SessionCounts {
        self.client.counts()
    }

    fn v2(&self) -> bool {
        self.client.config().engine_version == 2
    }

    /// `<prefix>/<tenant>/<namespace>` (no mount, no trailing `/`).
    fn directory(&self, tenant: &str, namespace: &Namespace) -> String {
        match &self.client.config().secret_path_prefix {
            Some(prefix) => format!("{prefix}/{tenant}/{namespace}"),
            None => format!("{tenant}/{namespace}"),
        }
    }

    /// The API path of `kind` (`data`, `metadata`, `undelete`...; ignored on KV v1).
    fn path(&self, kind: &str, secret: &str) -> String {
        let mount = &self.client.config().root_engine;
        if self.v2() {
            format!("{mount}/{kind}/{secret}")
        } else {
            format!("{mount}/{secret}")
        }
    }

    fn secret(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<String, StoreError> {
        check_secret_key(key)?;
        Ok(format!("{}/{key}", self.directory(tenant, namespace)))
    }

    fn failed(&self, doing: &str, namespace: &Namespace, key: &str, err: CallError) -> StoreError {
        StoreError::Backend {
            backend: NAME,
            message: format!(
                "cannot {doing} secret '{key}' in {namespace} at {}: {err}",
                self.client.config().address
            ),
        }
    }

    /// A call whose 404 means "nothing there" (`None`).
    fn call_found(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Answer>, CallError> {
        let answer = self.client.call(method, path, body)?;
        if answer.status == 404 {
            return Ok(None);
        }
        success(answer).map(Some)
    }

    /// KV v2 metadata (`GET metadata/…`) as Saker's, `None` when Vault has none.
    fn read_metadata(
        &self,
        doing: &str,
        namespace: &Namespace,
        key: &str,
        secret: &str,
    ) -> Result<Option<(SecretMetadata, Value)>, StoreError> {
        let answer = self
            .call_found(Method::GET, &self.path("metadata", secret), None)
            .map_err(|err| self.failed(doing, namespace, key, err))?;
        Ok(answer.map(|a| {
            let data = a.body["data"].clone();
            (metadata_of(namespace, key, &data), data)
        }))
    }

    fn current(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        let secret = self.secret(tenant, namespace, key)?;
        if !self.v2() {
            return Ok(SecretMetadata::new(key, Some(namespace.clone())));
        }
        self.read_metadata(doing, namespace, key, &secret)?
            .map(|(meta, _)| meta)
            .ok_or_else(|| no_such(namespace, key))
    }

    fn write_custom_metadata(
        &self,
        namespace: &Namespace,
        key: &str,
        secret: &str,
        old: Option<&SecretMetadata>,
        write: &SecretWrite,
    ) -> Result<(), StoreError> {
        let update = &write.update;
        if update.description.is_none()
            && update.tags.is_none()
            && update.expires_at.is_none()
            && update.rotation_period.is_none()
        {
            return Ok(());
        }
        let mut custom = BTreeMap::new();
        let description = match &update.description {
            Some(text) => text.clone(),
            None => old.and_then(|m| m.description.clone()),
        };
        if let Some(text) = description {
            custom.insert("description".to_owned(), text);
        }
        let tags = match &update.tags {
            Some(tags) => tags.clone(),
            None => old.map(|m| m.tags.clone()).unwrap_or_default(),
        };
        for (name, value) in tags {
            custom.insert(format!("{TAG_PREFIX}{name}"), value);
        }
        let expires = match update.expires_at {
            Some(at) => at,
            None => old.and_then(|m| m.expires_at),
        };
        if let Some(at) = expires {
            custom.insert(EXPIRES.to_owned(), at.to_rfc3339());
        }
        let rotation = match update.rotation_period {
            Some(period) => period,
            None => old.and_then(|m| m.rotation_period),
        };
        if let Some(period) = rotation {
            custom.insert(ROTATION.to_owned(), period.as_secs().to_string());
        }
        self.client
            .call(
                Method::POST,
                &self.path("metadata", secret),
                Some(&json!({"custom_metadata": custom})),
            )
            .and_then(success)
            .map_err(|err| self.failed("write metadata of", namespace, key, err))?;
        Ok(())
    }
}

fn no_such(namespace: &Namespace, key: &str) -> StoreError {
    StoreError::NoSuchSecret {
        namespace: namespace.clone(),
        key: key.to_owned(),
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .filter(|t| !t.is_empty())
        .and_then(|t| t.parse().ok())
}

/// Saker's metadata from KV v2's `metadata` data.
fn metadata_of(namespace: &Namespace, key: &str, data: &Value) -> SecretMetadata {
    let mut meta = SecretMetadata::new(key, Some(namespace.clone()));
    meta.version = data["current_version"].as_u64().unwrap_or(1);
    meta.created_at = time(&data["created_time"]);
    meta.updated_at = time(&data["updated_time"]);
    if let Some(custom) = data["custom_metadata"].as_object() {
        for (name, value) in custom {
            let Some(value) = value.as_str() else {
                continue;
            };
            match name.as_str() {
                "description" => meta.description = Some(value.to_owned()),
                EXPIRES => meta.expires_at = value.parse().ok(),
                ROTATION => meta.rotation_period = value.parse().ok().map(Duration::from_secs),
                _ => {
                    if let Some(tag) = name.strip_prefix(TAG_PREFIX) {
                        meta.tags.insert(tag.to_owned(), value.to_owned());
                    }
                }
            }
        }
    }
    let current = &data["versions"][meta.version.to_string()];
    if let Some(at) = time(&current["deletion_time"]) {
        meta.state = SecretState::Deleted { at };
    } else if current["destroyed"].as_bool() == Some(true) {
        meta.state = SecretState::Deleted {
            at: meta.updated_at.unwrap_or_else(Utc::now),
        };
    }
    meta
}

/// The `value` field of a Vault secret's data.
fn value_of(data: &Value, namespace: &Namespace, key: &str) -> Result<SecretValue, StoreError> {
    match data["value"].as_str() {
        Some(text) => Ok(SecretValue::new(text)),
        None => {
            let fields: Vec<&str> = data
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            Err(StoreError::Backend {
                backend: NAME,
                message: format!(
                    "secret '{key}' in {namespace} has no text field 'value' (its fields: {}): \
                     Saker keeps each value under 'value'",
                    fields.join(", ")
                ),
            })
        }
    }
}
