//! `secret.type: google-secret-manager`: secrets in Google Cloud Secret Manager (REST v1).
//!
//! Layout: one Google secret per Saker secret, its id the encoding of `cloud/names.rs`
//! (`[prefix--]tenant--namespace--key`, e.g. `saker--main--company-2eteam--API_KEY`), each
//! value a secret version holding the value's bytes. Saker's versions are Google's version
//! numbers; delete disables the latest version (Google's "latest" then refuses to be read, so
//! resolution goes on with the parent namespace), restore enables it again, destroy deletes
//! the secret with every version, rollback adds an older version's value as a new version.
//! Saker's tags are the secret's labels (Google's rules: lower-case letters, digits, `_` and
//! `-`, at most 63 characters); its own bookkeeping is annotations: `saker-tenant`,
//! `saker-namespace`, `saker-key`, and when set `saker-description`, `saker-expires-at`,
//! `saker-rotation-period`, `saker-deleted-at`.
//!
//! Client: reqwest and jsonwebtoken (`client.rs`) rather than `google-cloud-secretmanager-v1`
//! and its gRPC/auth stack: eight REST calls and one signed JWT.

mod client;
pub mod config;
mod store;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Map, Value, json};

pub(crate) use config::section_tags;
pub use config::{GcpConfig, ServiceAccount};

use self::client::GcpClient;
use crate::cloud::Kept;
use crate::cloud::names::{self, NameRules};
use crate::cloud::rest::CallError;
use crate::metadata::{SecretMetadata, SecretState};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::StoreError;
use crate::value::SecretValue;

const NAME: &str = "google-secret-manager";
const RULES: NameRules = NameRules {
    underscore: true,
    case_blind: false,
    max_len: 255,
};
const TENANT: &str = "saker-tenant";
const NAMESPACE: &str = "saker-namespace";
const KEY: &str = "saker-key";
const DESCRIPTION: &str = "saker-description";
const EXPIRES: &str = "saker-expires-at";
const ROTATION: &str = "saker-rotation-period";
const DELETED: &str = "saker-deleted-at";

/// The Google Secret Manager backend.
pub struct GcpSecretStore {
    client: GcpClient,
}

impl GcpSecretStore {
    /// A backend for `config`. Nothing is called yet: the first use fetches a token.
    pub fn new(config: GcpConfig) -> Result<Self, StoreError> {
        let client = GcpClient::new(config).map_err(|message| StoreError::Backend {
            backend: NAME,
            message: format!("cannot set up its HTTP client: {message}"),
        })?;
        Ok(Self { client })
    }

    /// Access tokens fetched so far (one per hour of use, less five minutes).
    pub fn tokens_fetched(&self) -> u32 {
        self.client.tokens_fetched()
    }

    /// The secret id of `key` (see the module comment).
    fn id(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<String, StoreError> {
        check_secret_key(key)?;
        let prefix = self.client.config().prefix.as_deref();
        names::encode(RULES, prefix, &[tenant, namespace.as_str(), key]).map_err(|why| {
            StoreError::Backend {
                backend: NAME,
                message: format!("secret '{key}' in {namespace} cannot be stored: {why}"),
            }
        })
    }

    /// `projects/<project>/secrets/<id>`.
    fn path(&self, id: &str) -> String {
        format!("{}/{id}", self.client.secrets())
    }

    fn failed(&self, doing: &str, namespace: &Namespace, key: &str, err: CallError) -> StoreError {
        StoreError::Backend {
            backend: NAME,
            message: format!(
                "cannot {doing} secret '{key}' in {namespace} at {}: {err}",
                self.client.config().endpoint
            ),
        }
    }

    /// The secret (`GET secrets/<id>`) and its latest version (`GET versions/latest`).
    fn described(
        &self,
        doing: &str,
        namespace: &Namespace,
        key: &str,
        id: &str,
    ) -> Result<Option<(Value, Option<Value>)>, StoreError> {
        let fail = |err| self.failed(doing, namespace, key, err);
        let path = self.path(id);
        let Some(secret) = self
            .client
            .call_found(Method::GET, &path, &[], None)
            .map_err(fail)?
        else {
            return Ok(None);
        };
        let latest = self
            .client
            .call_found(Method::GET, &format!("{path}/versions/latest"), &[], None)
            .map_err(fail)?;
        Ok(Some((secret, latest)))
    }

    fn current(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let id = self.id(tenant, namespace, key)?;
        Ok(self
            .described(doing, namespace, key, &id)?
            .map(|(secret, latest)| metadata_of(namespace, key, &secret, latest.as_ref())))
    }

    /// Replaces the secret's annotations (`PATCH ?updateMask=annotations`).
    fn set_annotations(
        &self,
        doing: &str,
        namespace: &Namespace,
        key: &str,
        id: &str,
        annotations: Map<String, Value>,
    ) -> Result<Value, StoreError> {
        self.client
            .call(
                Method::PATCH,
                &self.path(id),
                &[("updateMask", "annotations")],
                Some(&json!({"annotations": annotations})),
            )
            .and_then(|a| a.success())
            .map_err(|err| self.failed(doing, namespace, key, err))
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str().and_then(|t| t.parse().ok())
}

/// The number at the end of a version's name (`…/versions/3`).
fn version_number(version: &Value) -> Option<u64> {
    version["name"].as_str()?.rsplit('/').next()?.parse().ok()
}

fn is_enabled(version: &Value) -> bool {
    version["state"].as_str() == Some("ENABLED")
}

/// Saker's metadata from a secret and its latest version (none: every version is gone).
fn metadata_of(
    namespace: &Namespace,
    key: &str,
    secret: &Value,
    latest: Option<&Value>,
) -> SecretMetadata {
    let mut meta = SecretMetadata::new(key, Some(namespace.clone()));
    for (name, value) in secret["labels"].as_object().into_iter().flatten() {
        if let Some(value) = value.as_str() {
            meta.tags.insert(name.clone(), value.to_owned());
        }
    }
    let notes = &secret["annotations"];
    meta.description = notes[DESCRIPTION].as_str().map(str::to_owned);
    meta.expires_at = time(&notes[EXPIRES]);
    meta.rotation_period = notes[ROTATION]
        .as_str()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs);
    meta.created_at = time(&secret["createTime"]);
    meta.updated_at = latest
        .and_then(|v| time(&v["createTime"]))
        .or(meta.created_at);
    meta.version = latest.and_then(version_number).unwrap_or(1);
    if !latest.is_some_and(is_enabled) {
        let at = time(&notes[DELETED])
            .or(meta.updated_at)
            .unwrap_or_else(Utc::now);
        meta.state = SecretState::Deleted { at };
    }
    meta
}

/// Google's label rules: keys start with a lower-case letter; keys and values hold
/// lower-case letters, digits, `_` and `-`, at most 63 characters.
fn check_label(name: &str, value: &str, key: &str) -> Result<(), StoreError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    let name_ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.len() <= 63
        && name.chars().all(allowed);
    let value_ok = value.len() <= 63 && value.chars().all(allowed);
    if name_ok && value_ok {
        return Ok(());
    }
    Err(StoreError::Backend {
        backend: NAME,
        message: format!(
            "tag '{name}' of secret '{key}' cannot be a Google label: names start with a \
             lower-case letter, and names and values hold at most 63 lower-case letters, \
             digits, '_' and '-'"
        ),
    })
}

/// The annotations a write leaves on the secret, once its tags (the labels) are checked
/// against Google's rules.
fn annotations(
    tenant: &str,
    namespace: &Namespace,
    key: &str,
    kept: &Kept,
) -> Result<Map<String, Value>, StoreError> {
    for (name, value) in &kept.tags {
        check_label(name, value, key)?;
    }
    let mut notes = Map::new();
    notes.insert(TENANT.into(), json!(tenant));
    notes.insert(NAMESPACE.into(), json!(namespace.as_str()));
    notes.insert(KEY.into(), json!(key));
    if let Some(text) = &kept.description {
        notes.insert(DESCRIPTION.into(), json!(text));
    }
    if let Some(at) = kept.expires_at {
        notes.insert(EXPIRES.into(), json!(at.to_rfc3339()));
    }
    if let Some(period) = kept.rotation_period {
        notes.insert(ROTATION.into(), json!(period.as_secs().to_string()));
    }
    Ok(notes)
}

/// The value of an `:access` answer (`payload.data`, base64).
fn value_of(answer: &Value, namespace: &Namespace, key: &str) -> Result<SecretValue, StoreError> {
    let unreadable = |why: &str| StoreError::Backend {
        backend: NAME,
        message: format!("secret '{key}' in {namespace} {why}"),
    };
    let data = answer["payload"]["data"]
        .as_str()
        .ok_or_else(|| unreadable("was answered without payload.data"))?;
    let bytes = zeroize::Zeroizing::new(
        BASE64
            .decode(data)
            .map_err(|_| unreadable("has a payload that is not base64"))?,
    );
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| unreadable("holds bytes that are not UTF-8 text: store it as text"))?;
    Ok(SecretValue::new(text))
}
