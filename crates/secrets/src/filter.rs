//! Read-only filters (Kestra's `filter-on-tags` and `filter-on-prefix`, in the selected
//! backend's section): when the external system is the source of truth it usually holds
//! more than Saker should see, so only the secrets that pass are visible, to `list`, `get`
//! (and so `secret()`), `metadata` and `versions` alike.
//!
//! ```yaml
//! secret:
//!   type: aws-secret-manager
//!   read-only: true
//!   aws-secret-manager:
//!     filter-on-tags:
//!       tags: {application: saker-production}   # every pair must be on the secret
//!     filter-on-prefix:
//!       prefix: prod_          # only keys starting with prod_ are visible
//!       keep-prefix: false     # ... and users name them without it (prod_DB -> DB)
//! ```
//!
//! Filters apply to the key within a namespace (Saker's layout), so a filtered-out secret is
//! simply absent: resolution goes on with the parent namespace, and nothing says it exists.
//! They need `secret.read-only: true`: with writes, a secret written through Saker might not
//! pass its own filter, and a stripped prefix would have to be added back on every write.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::config::{BackendKind, ConfigError, deserialize_section};
use crate::metadata::{SecretMetadata, SecretVersion};
use crate::namespace::Namespace;
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};

/// What a read-only backend lets through. The default lets everything through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretFilter {
    /// `filter-on-tags.tags`: every pair must be among the secret's tags.
    pub tags: BTreeMap<String, String>,
    /// `filter-on-prefix.prefix`: only keys starting with it are visible.
    pub prefix: Option<String>,
    /// `filter-on-prefix.keep-prefix`: users see (and name) the key with the prefix; when
    /// false (the default) the prefix is stripped from the key they see.
    pub keep_prefix: bool,
}

impl SecretFilter {
    /// True when it lets everything through.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.prefix.is_none()
    }

    /// The key the backend stores for the key a user names, `None` when that name cannot be
    /// a visible secret.
    pub fn stored_key(&self, key: &str) -> Option<String> {
        match &self.prefix {
            None => Some(key.to_owned()),
            Some(prefix) if self.keep_prefix => key.starts_with(prefix).then(|| key.to_owned()),
            Some(prefix) => Some(format!("{prefix}{key}")),
        }
    }

    /// The key users see for a stored key, `None` when it is filtered out by prefix.
    pub fn shown_key(&self, stored: &str) -> Option<String> {
        match &self.prefix {
            None => Some(stored.to_owned()),
            Some(prefix) => {
                let rest = stored.strip_prefix(prefix.as_str())?;
                if self.keep_prefix {
                    Some(stored.to_owned())
                } else {
                    (!rest.is_empty()).then(|| rest.to_owned())
                }
            }
        }
    }

    /// Whether the secret carries every tag of `filter-on-tags`.
    pub fn tags_match(&self, metadata: &SecretMetadata) -> bool {
        self.tags
            .iter()
            .all(|(name, value)| metadata.tags.get(name) == Some(value))
    }
}

/// `backend` behind `filter` (as is when the filter is empty).
pub fn apply_filter(filter: &SecretFilter, backend: Arc<dyn SecretStore>) -> Arc<dyn SecretStore> {
    if filter.is_empty() {
        backend
    } else {
        Arc::new(FilteredStore {
            inner: backend,
            filter: filter.clone(),
        })
    }
}

/// A backend seen through a [`SecretFilter`]: reads only (the configuration requires
/// read-only mode, and [`crate::ReadOnlyStore`] goes around it).
pub struct FilteredStore {
    inner: Arc<dyn SecretStore>,
    filter: SecretFilter,
}

impl FilteredStore {
    /// Metadata as users see it: the shown key, or `None` when filtered out.
    fn shown(&self, key: &str, mut metadata: SecretMetadata) -> Option<SecretMetadata> {
        if !self.filter.tags_match(&metadata) {
            return None;
        }
        metadata.key = key.to_owned();
        Some(metadata)
    }
}

impl SecretStore for FilteredStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        [
            Operation::Get,
            Operation::List,
            Operation::Metadata,
            Operation::Versions,
        ]
        .into_iter()
        .filter(|op| inner.supports(*op))
        .fold(Capabilities::NONE, Capabilities::with)
    }

    fn refusal(&self, operation: Operation) -> StoreError {
        self.inner.refusal(operation)
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let Some(stored) = self.filter.stored_key(key) else {
            return Ok(Lookup::Absent);
        };
        Ok(match self.inner.get(tenant, namespace, &stored)? {
            Lookup::Absent => Lookup::Absent,
            Lookup::Found { value, metadata } => match self.shown(key, metadata) {
                Some(metadata) => Lookup::Found { value, metadata },
                None => Lookup::Absent,
            },
            Lookup::Revoked { metadata } => match self.shown(key, metadata) {
                Some(metadata) => Lookup::Revoked { metadata },
                None => Lookup::Absent,
            },
        })
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let Some(stored) = self.filter.stored_key(key) else {
            return Ok(None);
        };
        Ok(self
            .inner
            .metadata(tenant, namespace, &stored)?
            .and_then(|metadata| self.shown(key, metadata)))
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let mut visible: Vec<SecretMetadata> = self
            .inner
            .list(tenant, namespace)?
            .into_iter()
            .filter_map(|metadata| {
                let shown = self.filter.shown_key(&metadata.key)?;
                self.shown(&shown, metadata)
            })
            .collect();
        visible.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(visible)
    }

    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, StoreError> {
        let no_such = || StoreError::NoSuchSecret {
            namespace: namespace.clone(),
            key: key.to_owned(),
        };
        let stored = self.filter.stored_key(key).ok_or_else(no_such)?;
        if self.metadata(tenant, namespace, key)?.is_none() {
            return Err(no_such());
        }
        self.inner.versions(tenant, namespace, &stored)
    }

    fn namespaces(&self) -> Result<Option<Vec<(String, Namespace)>>, StoreError> {
        self.inner.namespaces()
    }

    fn record_read(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self.filter.stored_key(key) {
            Some(stored) => self.inner.record_read(tenant, namespace, &stored, at),
            None => Ok(()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with `tags`")]
struct RawTags {
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map with `prefix` and optionally `keep-prefix`"
)]
struct RawPrefix {
    prefix: String,
    #[serde(default, alias = "keepPrefix")]
    keep_prefix: bool,
}

/// `aws-secret-manager` → `awsSecretManager`.
fn camel(kebab: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Removes `filter-on-tags` and `filter-on-prefix` (either spelling) from the section of the
/// backend `secret.type` selects in the raw `secret` tree, and reads them, so that each
/// backend's own section parser never has to know about them.
pub(crate) fn take_from_section(root: &mut Value) -> Result<SecretFilter, ConfigError> {
    let Some(kind) = root
        .get("type")
        .and_then(Value::as_str)
        .and_then(BackendKind::parse)
    else {
        return Ok(SecretFilter::default());
    };
    let kebab = kind.as_str();
    let Some(name) = [kebab.to_owned(), camel(kebab)]
        .into_iter()
        .find(|name| root.get(name).is_some_and(Value::is_object))
    else {
        return Ok(SecretFilter::default());
    };
    let Some(section) = root.get_mut(&name).and_then(Value::as_object_mut) else {
        return Ok(SecretFilter::default());
    };
    let mut filter = SecretFilter::default();
    for name in ["filter-on-tags", "filterOnTags"] {
        if let Some(raw) = section.remove(name) {
            let key = format!("secret.{kebab}.filter-on-tags");
            filter.tags = deserialize_section::<RawTags>(&key, raw)?.tags;
        }
    }
    for name in ["filter-on-prefix", "filterOnPrefix"] {
        if let Some(raw) = section.remove(name) {
            let key = format!("secret.{kebab}.filter-on-prefix");
            let raw: RawPrefix = deserialize_section(&key, raw)?;
            if raw.prefix.is_empty() {
                return Err(ConfigError::new(
                    &format!("{key}.prefix"),
                    "must not be empty; to see every secret remove filter-on-prefix",
                ));
            }
            filter.prefix = Some(raw.prefix);
            filter.keep_prefix = raw.keep_prefix;
        }
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_mapping_both_ways() {
        let strip = SecretFilter {
            prefix: Some("prod_".into()),
            ..SecretFilter::default()
        };
        assert_eq!(strip.stored_key("DB").as_deref(), Some("prod_DB"));
        assert_eq!(strip.shown_key("prod_DB").as_deref(), Some("DB"));
        assert_eq!(strip.shown_key("dev_DB"), None);
        assert_eq!(strip.shown_key("prod_"), None);
        let keep = SecretFilter {
            keep_prefix: true,
            ..strip
        };
        assert_eq!(keep.stored_key("DB"), None);
        assert_eq!(keep.stored_key("prod_DB").as_deref(), Some("prod_DB"));
        assert_eq!(keep.shown_key("prod_DB").as_deref(), Some("prod_DB"));
        assert_eq!(camel("aws-secret-manager"), "awsSecretManager");
    }
}
