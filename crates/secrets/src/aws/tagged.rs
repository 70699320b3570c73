//! Kestra's read-only layout for AWS: secrets an organisation creates itself (any name,
//! `SecretString` plain text, not key/value pairs) are visible to Saker when they carry the
//! tags `namespace` (the namespace they belong to) and `key` (the name flows use), and, when
//! this backend has a `prefix`, the tag `prefix` equal to it. A `tenant` tag names their
//! tenant; without one they belong to the default tenant (`main`), so that an untagged
//! secret never shows in every tenant. Saker's own secrets (tagged `saker:tenant`) are read
//! through Saker's layout, not here, and come first when both exist.

use serde_json::{Value, json};

use super::{AwsSecretStore, NAME, TAG_TENANT, is_deleted, metadata_of};
use crate::DEFAULT_TENANT;
use crate::metadata::SecretMetadata;
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Lookup, StoreError};

/// One tagged secret: its AWS name, Saker key and `ListSecrets` entry.
struct Tagged {
    name: String,
    key: String,
    entry: Value,
}

fn tag<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry["Tags"]
        .as_array()?
        .iter()
        .find(|t| t["Key"].as_str() == Some(name))?["Value"]
        .as_str()
}

impl AwsSecretStore {
    /// The tagged secrets of `tenant` and exactly `namespace`, soft-deleted ones left out.
    fn tagged_in(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<Tagged>, StoreError> {
        let mut found = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = json!({
                "Filters": [{"Key": "tag-key", "Values": ["namespace"]}],
                "MaxResults": 100,
            });
            if let Some(token) = &next {
                body["NextToken"] = json!(token);
            }
            let page =
                self.client
                    .call("ListSecrets", &body)
                    .map_err(|err| StoreError::Backend {
                        backend: NAME,
                        message: format!(
                            "cannot list the secrets tagged for {namespace} at {}: {err}",
                            self.client.endpoint()
                        ),
                    })?;
            for entry in page["SecretList"].as_array().into_iter().flatten() {
                let wanted_prefix = self.client.prefix();
                let ours = tag(entry, TAG_TENANT).is_some();
                let matches = tag(entry, "namespace") == Some(namespace.as_str())
                    && tag(entry, "tenant").unwrap_or(DEFAULT_TENANT) == tenant
                    && wanted_prefix.is_none_or(|p| tag(entry, "prefix") == Some(p));
                let (Some(key), Some(name)) = (tag(entry, "key"), entry["Name"].as_str()) else {
                    continue;
                };
                if ours || !matches || is_deleted(entry) || check_secret_key(key).is_err() {
                    continue;
                }
                found.push(Tagged {
                    name: name.to_owned(),
                    key: key.to_owned(),
                    entry: entry.clone(),
                });
            }
            match page["NextToken"].as_str() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(found)
    }

    pub(super) fn tagged_get(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Lookup, StoreError> {
        match self
            .tagged_in(tenant, namespace)?
            .into_iter()
            .find(|t| t.key == key)
        {
            Some(found) => self.read_value(&found.name, namespace, key, &found.entry),
            None => Ok(Lookup::Absent),
        }
    }

    pub(super) fn tagged_metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        Ok(self
            .tagged_in(tenant, namespace)?
            .into_iter()
            .find(|t| t.key == key)
            .map(|t| metadata_of(namespace, key, &t.entry)))
    }

    pub(super) fn tagged_list(
        &self,
        tenant: &str,
        namespace: &Namespace,
    ) -> Result<Vec<SecretMetadata>, StoreError> {
        Ok(self
            .tagged_in(tenant, namespace)?
            .into_iter()
            .map(|t| metadata_of(namespace, &t.key, &t.entry))
            .collect())
    }
}
