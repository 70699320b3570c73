//! `secret.type: azure-key-vault`: secrets in Azure Key Vault (REST, api-version 7.4).
//!
//! Layout: one Key Vault secret per Saker secret, its name the encoding of `cloud/names.rs`
//! for Azure's case-blind `[A-Za-z0-9-]` names of at most 127 characters
//! (`[prefix--]tenant--namespace--key`, e.g. `saker--main--company-2eteam---uapi-5fkey` for
//! `API_KEY` in `company.team`), its value the value as is. Each write is a new Key Vault
//! version; its tags are Saker's tags plus `saker-tenant`, `saker-namespace`, `saker-key`,
//! `saker-version` (Saker's number: Key Vault names versions by id) and, when set,
//! `saker-description`, `saker-expires-at` and `saker-rotation-period`. Delete is Key
//! Vault's soft delete (`DELETE secrets/<name>`), restore is its recovery
//! (`deletedsecrets/<name>/recover`), destroy deletes and purges; versions are Key Vault's
//! versions listed with their `saker-version` tag, rollback writes one's value again.
//!
//! Client: reqwest (`client.rs`) rather than the unofficial Azure SDK crates: eight REST
//! calls and one token request.

mod client;
pub mod config;
mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::Method;
use serde_json::Value;

pub use config::AzureConfig;
pub(crate) use config::section_tags;

use self::client::AzureClient;
use crate::cloud::Kept;
use crate::cloud::names::{self, NameRules};
use crate::cloud::rest::CallError;
use crate::metadata::{SecretMetadata, SecretState};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::StoreError;

const NAME: &str = "azure-key-vault";
const RULES: NameRules = NameRules {
    underscore: false,
    case_blind: true,
    max_len: 127,
};
const TENANT: &str = "saker-tenant";
const NAMESPACE: &str = "saker-namespace";
const KEY: &str = "saker-key";
const VERSION: &str = "saker-version";
const DESCRIPTION: &str = "saker-description";
const EXPIRES: &str = "saker-expires-at";
const ROTATION: &str = "saker-rotation-period";

/// The Azure Key Vault backend.
pub struct AzureSecretStore {
    client: AzureClient,
}

impl AzureSecretStore {
    /// A backend for `config`. Nothing is called yet: the first use fetches a token.
    pub fn new(config: AzureConfig) -> Result<Self, StoreError> {
        let client = AzureClient::new(config).map_err(|message| StoreError::Backend {
            backend: NAME,
            message: format!("cannot set up its HTTP client: {message}"),
        })?;
        Ok(Self { client })
    }

    /// Access tokens fetched so far.
    pub fn tokens_fetched(&self) -> u32 {
        self.client.tokens_fetched()
    }

    /// The secret name of `key` (see the module comment).
    fn name(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<String, StoreError> {
        check_secret_key(key)?;
        let prefix = self.client.config().prefix.as_deref();
        names::encode(RULES, prefix, &[tenant, namespace.as_str(), key]).map_err(|why| {
            StoreError::Backend {
                backend: NAME,
                message: format!("secret '{key}' in {namespace} cannot be stored: {why}"),
            }
        })
    }

    /// The tenant, namespace and key a secret id (`https://…/secrets/<name>[/<version>]`)
    /// names, if Saker wrote it under this prefix.
    fn parts_of(&self, id: &str) -> Option<(String, String, String)> {
        let name = id.split("/secrets/").nth(1)?.split('/').next()?;
        let parts = names::decode(RULES, self.client.config().prefix.as_deref(), name)?;
        let [tenant, namespace, key]: [String; 3] = parts.try_into().ok()?;
        Some((tenant, namespace, key))
    }

    fn failed(&self, doing: &str, namespace: &Namespace, key: &str, err: CallError) -> StoreError {
        StoreError::Backend {
            backend: NAME,
            message: format!(
                "cannot {doing} secret '{key}' in {namespace} at {}: {err}",
                self.client.config().vault_url
            ),
        }
    }

    /// Every page of a list: the `value` entries, following `nextLink`.
    fn pages(&self, path: &str) -> Result<Vec<Value>, CallError> {
        let mut found = Vec::new();
        let mut url = self.client.url(path, "maxresults=25");
        loop {
            let page = self.client.call_url(Method::GET, &url, None)?.success()?;
            found.extend(page["value"].as_array().cloned().unwrap_or_default());
            match page["nextLink"].as_str() {
                Some(next) if !next.is_empty() => url = next.to_owned(),
                _ => return Ok(found),
            }
        }
    }

    /// The current metadata: the live secret's, else the soft-deleted one's, else none.
    fn described(
        &self,
        doing: &str,
        namespace: &Namespace,
        key: &str,
        name: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let fail = |err| self.failed(doing, namespace, key, err);
        if let Some(bundle) = self
            .client
            .call_found(Method::GET, &format!("secrets/{name}/"))
            .map_err(fail)?
        {
            return Ok(Some(metadata_of(namespace, key, &bundle)));
        }
        Ok(self
            .client
            .call_found(Method::GET, &format!("deletedsecrets/{name}"))
            .map_err(fail)?
            .map(|deleted| metadata_of(namespace, key, &deleted)))
    }

    /// Recovers a soft-deleted secret and waits until Key Vault serves it again (recovery
    /// is asynchronous in Azure: a few seconds).
    fn recover(
        &self,
        doing: &str,
        namespace: &Namespace,
        key: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        let fail = |err| self.failed(doing, namespace, key, err);
        self.client
            .call(
                Method::POST,
                &format!("deletedsecrets/{name}/recover"),
                None,
            )
            .and_then(|a| a.success())
            .map_err(fail)?;
        for _ in 0..RECOVERY_POLLS {
            if self
                .client
                .call_found(Method::GET, &format!("secrets/{name}/"))
                .map_err(fail)?
                .is_some()
            {
                return Ok(());
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        Err(StoreError::Busy {
            backend: NAME,
            reason: format!(
                "secret '{key}' in {namespace} is still being recovered by Key Vault: try again \
                 in a minute"
            ),
        })
    }
}

/// How often and how long recovery and purge are waited for (Azure: seconds).
const RECOVERY_POLLS: u32 = 40;
const POLL_INTERVAL: Duration = Duration::from_millis(500);

fn unix(value: &Value) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(value.as_i64()?, 0).single()
}

/// Saker's metadata from a secret bundle or list item, live or deleted.
fn metadata_of(namespace: &Namespace, key: &str, item: &Value) -> SecretMetadata {
    let mut meta = SecretMetadata::new(key, Some(namespace.clone()));
    for (name, value) in item["tags"].as_object().into_iter().flatten() {
        let Some(value) = value.as_str() else {
            continue;
        };
        match name.as_str() {
            VERSION => meta.version = value.parse().unwrap_or(1),
            DESCRIPTION => meta.description = Some(value.to_owned()),
            EXPIRES => meta.expires_at = value.parse().ok(),
            ROTATION => meta.rotation_period = value.parse().ok().map(Duration::from_secs),
            TENANT | NAMESPACE | KEY => {}
            _ => {
                meta.tags.insert(name.clone(), value.to_owned());
            }
        }
    }
    let attributes = &item["attributes"];
    meta.created_at = unix(&attributes["created"]);
    meta.updated_at = unix(&attributes["updated"]).or(meta.created_at);
    if let Some(at) = unix(&item["deletedDate"]) {
        meta.state = SecretState::Deleted { at };
    }
    meta
}

/// The tags a write leaves on the new version.
fn tags_of(
    tenant: &str,
    namespace: &Namespace,
    key: &str,
    version: u64,
    kept: &Kept,
) -> BTreeMap<String, String> {
    let mut tags = kept.tags.clone();
    tags.insert(TENANT.into(), tenant.into());
    tags.insert(NAMESPACE.into(), namespace.to_string());
    tags.insert(KEY.into(), key.into());
    tags.insert(VERSION.into(), version.to_string());
    if let Some(text) = &kept.description {
        tags.insert(DESCRIPTION.into(), text.clone());
    }
    if let Some(at) = kept.expires_at {
        tags.insert(EXPIRES.into(), at.to_rfc3339());
    }
    if let Some(period) = kept.rotation_period {
        tags.insert(ROTATION.into(), period.as_secs().to_string());
    }
    tags
}
