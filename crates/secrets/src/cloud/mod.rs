//! What the Google Secret Manager and Azure Key Vault backends share: a reversible encoding
//! of tenant, namespace and key into the service's secret names (`names.rs`), an OAuth2
//! bearer token kept until shortly before it expires (`token.rs`), JSON calls over the
//! backend's bridge thread with the services' `{"error": {...}}` answers (`rest.rs`), and the
//! metadata a write keeps from the version before it.

pub(crate) mod names;
pub(crate) mod rest;
pub(crate) mod token;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::ConfigError;
use crate::metadata::{MetadataUpdate, SecretMetadata};

/// The metadata a write leaves on a secret: what the write sets, else what the current
/// version had.
pub(crate) struct Kept {
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotation_period: Option<Duration>,
}

impl Kept {
    pub(crate) fn merge(old: Option<&SecretMetadata>, update: &MetadataUpdate) -> Self {
        Self {
            tags: match &update.tags {
                Some(tags) => tags.clone(),
                None => old.map(|m| m.tags.clone()).unwrap_or_default(),
            },
            description: match &update.description {
                Some(text) => text.clone(),
                None => old.and_then(|m| m.description.clone()),
            },
            expires_at: match update.expires_at {
                Some(at) => at,
                None => old.and_then(|m| m.expires_at),
            },
            rotation_period: match update.rotation_period {
                Some(period) => period,
                None => old.and_then(|m| m.rotation_period),
            },
        }
    }
}

/// Checks an http(s) URL and drops its trailing `/`.
pub(crate) fn endpoint_url(key: &str, url: &str) -> Result<String, ConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|err| {
        ConfigError::new(
            key,
            format!("not a URL ({err}): write it as https://host[:port]"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ConfigError::new(
            key,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A `prefix` made of `allowed` characters and without the `--` that separates name parts.
pub(crate) fn checked_prefix(
    key: &str,
    prefix: Option<String>,
    allowed: fn(char) -> bool,
    allowed_text: &str,
) -> Result<Option<String>, ConfigError> {
    let Some(prefix) = prefix.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if let Some(bad) = prefix.chars().find(|c| !allowed(*c)) {
        return Err(ConfigError::new(
            key,
            format!("'{bad}' cannot be in a secret name here: use {allowed_text}"),
        ));
    }
    if prefix.contains(names::SEPARATOR) || prefix.ends_with('-') {
        return Err(ConfigError::new(
            key,
            "must not contain '--' nor end with '-': Saker separates the prefix from the \
             namespace with '--'",
        ));
    }
    Ok(Some(prefix))
}
