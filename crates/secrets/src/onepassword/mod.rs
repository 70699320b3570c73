//! `secret.type: 1password`: secrets as items of one vault of a 1Password Connect server
//! (`GET /v1/vaults/{vaultId}/items[?filter=title eq "..."]`,
//! `GET|PUT|DELETE /v1/vaults/{vaultId}/items/{itemId}`, `POST /v1/vaults/{vaultId}/items`,
//! bearer token).
//!
//! Layout: one item of category `PASSWORD` per Saker secret, titled
//! `<tenant>/<namespace>/<key>` (`main/company.team/API_KEY`), its value in the field of
//! purpose `PASSWORD` (id and label `password`, type `CONCEALED`), the description in the
//! `NOTES` field (`notesPlain`), and tags `saker` plus one `<name>=<value>` per Saker tag.
//! Saker's version is the item's `version`, which 1Password raises on every change; older
//! values are not reachable through Connect, so there is no version history, and Connect's
//! delete is final (Saker's `destroy`; no soft delete). Check-and-set compares the item's
//! version before the write, not atomically. Items whose title is not Saker's layout are
//! left alone: a listing shows only the namespace's own.
//!
//! Over the shared reqwest client (`json_api.rs`) rather than an SDK: this backend needs
//! five calls, and 1Password's Connect SDKs (the tests run the Python one) are for other
//! languages.

pub mod config;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

pub use config::OnePasswordConfig;
pub(crate) use config::section_tags;

use crate::json_api::{JsonApi, Reply, url_with, with_json};
use crate::metadata::{SecretMetadata, SecretWrite};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};
use crate::value::SecretValue;

const NAME: &str = "1password";
/// The tag on every item Saker writes.
const SAKER_TAG: &str = "saker";
const VALUE_FIELD: &str = "password";
const NOTES_FIELD: &str = "notesPlain";

/// The 1Password Connect backend.
pub struct OnePasswordSecretStore {
    api: JsonApi,
    config: OnePasswordConfig,
}

fn title(tenant: &str, namespace: &Namespace, key: &str) -> String {
    format!("{tenant}/{namespace}/{key}")
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse().ok()
}

/// Saker's metadata from an item or an item summary.
fn metadata_of(namespace: &Namespace, key: &str, item: &Value) -> SecretMetadata {
    let mut metadata = SecretMetadata::new(key, Some(namespace.clone()));
    metadata.version = item["version"].as_u64().unwrap_or(1);
    metadata.created_at = time(&item["createdAt"]);
    metadata.updated_at = time(&item["updatedAt"]);
    metadata.tags = item["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str()?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    metadata.description = field(item, NOTES_FIELD)
        .and_then(|f| f["value"].as_str())
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    metadata
}

fn field<'a>(item: &'a Value, id: &str) -> Option<&'a Value> {
    item["fields"].as_array()?.iter().find(|f| f["id"] == id)
}

fn item_tags(tags: &BTreeMap<String, String>) -> Value {
    let mut list = vec![json!(SAKER_TAG)];
    list.extend(tags.iter().map(|(k, v)| json!(format!("{k}={v}"))));
    Value::Array(list)
}

impl OnePasswordSecretStore {
    /// A backend for `config`. Nothing is called yet.
    pub fn new(config: OnePasswordConfig) -> Result<Self, StoreError> {
        let api = JsonApi::for_backend(NAME, "saker-1password-secrets", false)?;
        Ok(Self { api, config })
    }

    fn failed(&self, doing: &str, namespace: &Namespace, key: &str, why: String) -> StoreError {
        StoreError::Backend {
            backend: NAME,
            message: format!(
                "cannot {doing} secret '{key}' in {namespace} at {} (vault {}): {why}",
                self.config.address, self.config.vault_id
            ),
        }
    }

    /// Connect's error: its `message`, or the status alone.
    fn refused(reply: &Reply) -> String {
        match reply.body["message"].as_str() {
            Some(message) => format!("1Password Connect answered {}: {message}", reply.status),
            None => format!("1Password Connect answered {}", reply.status),
        }
    }

    /// A call to `/v1/vaults/{vaultId}/items[/{item}]`.
    fn call(
        &self,
        method: Method,
        item: Option<&str>,
        filter: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply, String> {
        let mut segments = vec!["v1", "vaults", self.config.vault_id.as_str(), "items"];
        segments.extend(item);
        let mut url = url_with(&self.config.address, &segments);
        if let Some(filter) = filter {
            url.query_pairs_mut().append_pair("filter", filter);
        }
        let mut request = self
            .api
            .request(method, url)
            .bearer_auth(self.config.token.as_str());
        if let Some(body) = body {
            request = with_json(request, body);
        }
        self.api.send(request)
    }

    /// `answer` when it is a success, or a 404 where `item_call` (an item's own path: a 404
    /// there means "no such item"; on the items list it means the vault is missing, which
    /// must fail rather than read as "absent" and fall back to a parent namespace).
    fn expect(
        &self,
        doing: &str,
        namespace: &Namespace,
        key: &str,
        item_call: bool,
        answer: Result<Reply, String>,
    ) -> Result<Reply, StoreError> {
        let reply = answer.map_err(|why| self.failed(doing, namespace, key, why))?;
        if reply.is_success() || (item_call && reply.status == 404) {
            Ok(reply)
        } else {
            Err(self.failed(doing, namespace, key, Self::refused(&reply)))
        }
    }

    /// The full item of `key` (fields included), `None` when there is none.
    fn item(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<Value>, StoreError> {
        check_secret_key(key)?;
        let filter = format!("title eq \"{}\"", title(tenant, namespace, key));
        let found = self.expect(
            doing,
            namespace,
            key,
            false,
            self.call(Method::GET, None, Some(&filter), None),
        )?;
        let Some(id) = found.body.as_array().and_then(|items| {
            items
                .iter()
                .find(|i| i["title"] == title(tenant, namespace, key))
                .and_then(|i| i["id"].as_str())
        }) else {
            return Ok(None);
        };
        let item = self.expect(
            doing,
            namespace,
            key,
            true,
            self.call(Method::GET, Some(id), None, None),
        )?;
        Ok((item.status != 404).then_some(item.body))
    }
}

impl SecretStore for OnePasswordSecretStore {
    fn backend_name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only()
            .with(Operation::Put)
            .with(Operation::Destroy)
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let Some(item) = self.item("read", tenant, namespace, key)? else {
            return Ok(Lookup::Absent);
        };
        let value = field(&item, VALUE_FIELD)
            .or_else(|| {
                item["fields"]
                    .as_array()?
                    .iter()
                    .find(|f| f["purpose"] == "PASSWORD")
            })
            .and_then(|f| f["value"].as_str())
            .ok_or_else(|| {
                self.failed(
                    "read",
                    namespace,
                    key,
                    "the item has no password field".into(),
                )
            })?;
        Ok(Lookup::Found {
            value: SecretValue::new(value),
            metadata: metadata_of(namespace, key, &item),
        })
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        Ok(self
            .item("describe", tenant, namespace, key)?
            .map(|item| metadata_of(namespace, key, &item)))
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let reply = self.expect(
            "list",
            namespace,
            "*",
            false,
            self.call(Method::GET, None, None, None),
        )?;
        let directory = format!("{tenant}/{namespace}/");
        let mut found: Vec<SecretMetadata> = reply
            .body
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let key = item["title"].as_str()?.strip_prefix(&directory)?;
                check_secret_key(key).ok()?;
                Some(metadata_of(namespace, key, item))
            })
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        found.dedup_by(|a, b| a.key == b.key);
        Ok(found)
    }

    fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let old = self.item("write", tenant, namespace, key)?;
        let old_meta = old.as_ref().map(|item| metadata_of(namespace, key, item));
        if write.expected_version.is_some() {
            let actual = old_meta.as_ref().map_or(0, |m| m.version);
            StoreError::check_version(write.expected_version, actual, namespace, key)?;
        }
        let update = &write.update;
        let tags = match (&update.tags, &old_meta) {
            (Some(tags), _) => tags.clone(),
            (None, Some(old)) => old.tags.clone(),
            (None, None) => BTreeMap::new(),
        };
        let description = match (&update.description, &old_meta) {
            (Some(text), _) => text.clone(),
            (None, Some(old)) => old.description.clone(),
            (None, None) => None,
        };
        let fields = json!([
            {"id": VALUE_FIELD, "label": VALUE_FIELD, "type": "CONCEALED",
                "purpose": "PASSWORD", "value": write.value.expose()},
            {"id": NOTES_FIELD, "label": NOTES_FIELD, "type": "STRING", "purpose": "NOTES",
                "value": description.unwrap_or_default()},
        ]);
        let answer = match old {
            None => {
                let item = json!({"title": title(tenant, namespace, key),
                    "vault": {"id": self.config.vault_id}, "category": "PASSWORD",
                    "tags": item_tags(&tags), "fields": fields});
                self.call(Method::POST, None, None, Some(&item))
            }
            Some(mut item) => {
                item["tags"] = item_tags(&tags);
                item["fields"] = fields;
                let id = item["id"].as_str().unwrap_or_default().to_owned();
                self.call(Method::PUT, Some(&id), None, Some(&item))
            }
        };
        let reply = answer.map_err(|why| self.failed("write", namespace, key, why))?;
        if !reply.is_success() {
            return Err(self.failed("write", namespace, key, Self::refused(&reply)));
        }
        Ok(metadata_of(namespace, key, &reply.body))
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let Some(item) = self.item("destroy", tenant, namespace, key)? else {
            return Ok(false);
        };
        let id = item["id"].as_str().unwrap_or_default();
        let reply = self.expect(
            "destroy",
            namespace,
            key,
            true,
            self.call(Method::DELETE, Some(id), None, None),
        )?;
        Ok(reply.status != 404)
    }
}
