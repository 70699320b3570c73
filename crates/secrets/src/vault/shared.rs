//! Kestra's read-only layout for Vault: with `secret.read-only: true`, secrets that the
//! organisation keeps at `<root-engine>/<secret-path-prefix>/<name>` (KV secrets of one or
//! several fields, written by Vault's own tools) are visible to every namespace under
//! `<name>`, after the namespaces' own secrets in Saker's layout: they are the far end of
//! every namespace chain, read when the top-level namespace has no such key.
//!
//! The value of such a secret is its one field's text when it has a single field named
//! `value` (Saker's own shape), and otherwise the JSON object of its fields, from which
//! `secret('name', subkey='FIELD')` takes one field (`crates/expr`).

use reqwest::Method;
use serde_json::Value;

use super::{VaultSecretStore, metadata_of};
use crate::metadata::{SecretMetadata, SecretState};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Lookup, StoreError};
use crate::value::SecretValue;

impl VaultSecretStore {
    /// Whether `namespace` is the level where shared secrets are looked up.
    pub(super) fn reads_shared(&self, namespace: &Namespace) -> bool {
        self.shared && namespace.parent().is_none()
    }

    /// `<secret-path-prefix>/<key>` (just `<key>` without a prefix).
    fn shared_path(&self, key: &str) -> Result<String, StoreError> {
        check_secret_key(key)?;
        Ok(match &self.client.config().secret_path_prefix {
            Some(prefix) => format!("{prefix}/{key}"),
            None => key.to_owned(),
        })
    }

    /// A shared secret's value and metadata (`namespace` only names it in messages).
    pub(super) fn shared_get(
        &self,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Lookup, StoreError> {
        let secret = self.shared_path(key)?;
        let answer = self
            .call_found(Method::GET, &self.path("data", &secret), None)
            .map_err(|err| self.failed("read", namespace, key, err))?;
        let Some(answer) = answer else {
            return Ok(Lookup::Absent);
        };
        let (data, mut metadata) = if self.v2() {
            let body = &answer.body["data"];
            if body["data"].is_null() {
                return Ok(Lookup::Absent);
            }
            let meta = &body["metadata"];
            let metadata = metadata_of(
                namespace,
                key,
                &serde_json::json!({
                    "current_version": meta["version"],
                    "created_time": meta["created_time"],
                    "updated_time": meta["created_time"],
                    "custom_metadata": meta["custom_metadata"],
                }),
            );
            (body["data"].clone(), metadata)
        } else {
            let metadata = SecretMetadata::new(key, None);
            (answer.body["data"].clone(), metadata)
        };
        metadata.namespace = None;
        metadata.state = SecretState::Active;
        Ok(Lookup::Found {
            value: shared_value(&data),
            metadata,
        })
    }

    /// A shared secret's metadata.
    pub(super) fn shared_metadata(
        &self,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let secret = self.shared_path(key)?;
        if !self.v2() {
            return Ok(match self.shared_get(namespace, key)? {
                Lookup::Found { metadata, .. } => Some(metadata),
                _ => None,
            });
        }
        Ok(self
            .read_metadata("describe", namespace, key, &secret)?
            .map(|(mut meta, _)| {
                meta.namespace = None;
                meta
            }))
    }

    /// Every shared secret (names directly under the prefix; sub-directories are not).
    pub(super) fn shared_list(
        &self,
        namespace: &Namespace,
    ) -> Result<Vec<SecretMetadata>, StoreError> {
        let directory = self
            .client
            .config()
            .secret_path_prefix
            .clone()
            .unwrap_or_default();
        let path = format!("{}/?list=true", self.path("metadata", &directory));
        let path = path.replace("//?", "/?");
        let answer = self
            .call_found(Method::GET, &path, None)
            .map_err(|err| self.failed("list", namespace, "*", err))?;
        let keys = answer
            .as_ref()
            .and_then(|a| a.body["data"]["keys"].as_array().cloned())
            .unwrap_or_default();
        let mut found = Vec::new();
        for key in keys.iter().filter_map(Value::as_str) {
            if key.ends_with('/') || check_secret_key(key).is_err() {
                continue;
            }
            if let Some(meta) = self.shared_metadata(namespace, key)? {
                found.push(meta);
            }
        }
        Ok(found)
    }
}

/// The text of a shared secret: a lone `value` field as is, any other shape as JSON.
fn shared_value(data: &Value) -> SecretValue {
    if let Some(fields) = data.as_object()
        && fields.len() == 1
        && let Some(text) = fields.get("value").and_then(Value::as_str)
    {
        return SecretValue::new(text);
    }
    SecretValue::new(data.to_string())
}
