//! `secret.type: doppler`: secrets in one Doppler config, through Doppler's API v3
//! (`GET /v3/configs/config/secret`, `GET /v3/configs/config/secrets/names`,
//! `POST /v3/configs/config/secrets`, `DELETE /v3/configs/config/secret`, bearer token).
//!
//! Layout: one Doppler secret per Saker secret, named by the reversible encoding of
//! [`names`] (`SAKER_MAIN__COMPANY_DTEAM__API_UKEY` for `API_KEY` in `company.team` of
//! tenant `main` with `secretNamePrefix: SAKER_`), holding the value as it is (Saker reads
//! Doppler's `raw` value, so a value with `${...}` in it comes back as written, not as
//! Doppler's computed reference). Doppler keeps no metadata Saker could use: every secret is
//! at version 1 with no tags or description, and there is no soft delete (Saker's `destroy`
//! is Doppler's delete, as for Vault's KV v1). Check-and-set is checked before the write,
//! not atomically: Doppler has no conditional write.
//!
//! Over the shared reqwest client (`json_api.rs`) rather than an SDK: this backend needs
//! four calls, and the official SDK the tests run (`doppler-sdk`) is Python.

pub mod config;
mod names;

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Method;
use serde_json::{Value, json};

pub(crate) use config::section_tags;
pub use config::{DEFAULT_ENDPOINT, DopplerConfig};

use crate::json_api::{JsonApi, Reply, url_with, with_json};
use crate::metadata::{SecretMetadata, SecretWrite};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};
use crate::value::SecretValue;

const NAME: &str = "doppler";

/// The Doppler backend.
pub struct DopplerSecretStore {
    api: JsonApi,
    config: DopplerConfig,
    /// Set once the project and config were seen to exist (see [`Self::names`]).
    config_exists: AtomicBool,
}

impl DopplerSecretStore {
    /// A backend for `config`. Nothing is called yet.
    pub fn new(config: DopplerConfig) -> Result<Self, StoreError> {
        let api = JsonApi::for_backend(NAME, "saker-doppler-secrets", false)?;
        Ok(Self {
            api,
            config,
            config_exists: AtomicBool::new(false),
        })
    }

    fn failed(&self, doing: &str, namespace: &Namespace, key: &str, why: String) -> StoreError {
        StoreError::Backend {
            backend: NAME,
            message: format!(
                "cannot {doing} secret '{key}' in {namespace} at {} (project {}, config {}): \
                 {why}",
                self.config.endpoint, self.config.project, self.config.config
            ),
        }
    }

    fn unencodable(tenant: &str, bad: char) -> StoreError {
        StoreError::Backend {
            backend: NAME,
            message: format!(
                "tenant '{tenant}' has '{bad}', which Saker cannot encode in a Doppler secret \
                 name"
            ),
        }
    }

    fn name(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<String, StoreError> {
        check_secret_key(key)?;
        let name = names::encode(
            &self.config.secret_name_prefix,
            tenant,
            namespace.as_str(),
            key,
        )
        .map_err(|bad| Self::unencodable(tenant, bad))?;
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(StoreError::Backend {
                backend: NAME,
                message: format!(
                    "tenant '{tenant}' starts with a digit and Doppler secret names cannot: \
                     set secret.doppler.secretNamePrefix"
                ),
            });
        }
        Ok(name)
    }

    /// A call to `path` under `/v3/configs/config`, with the project and config.
    fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Reply, String> {
        let mut segments = vec!["v3", "configs", "config"];
        segments.extend_from_slice(path);
        let mut url = url_with(&self.config.endpoint, &segments);
        let mut request_body = None;
        if let Some(mut body) = body {
            body["project"] = json!(self.config.project);
            body["config"] = json!(self.config.config);
            request_body = Some(body);
        } else {
            url.query_pairs_mut()
                .append_pair("project", &self.config.project)
                .append_pair("config", &self.config.config)
                .extend_pairs(query);
        }
        let mut request = self
            .api
            .request(method, url)
            .bearer_auth(self.config.token.as_str())
            .header("accept", "application/json");
        if let Some(body) = request_body {
            request = with_json(request, &body);
        }
        self.api.send(request)
    }

    /// Doppler's error: its `messages`, or the status alone.
    fn refused(reply: &Reply) -> String {
        let messages: Vec<&str> = reply.body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if messages.is_empty() {
            format!("Doppler answered {}", reply.status)
        } else {
            format!("Doppler answered {}: {}", reply.status, messages.join("; "))
        }
    }

    /// The raw value of `name`, `None` when Doppler has no such secret.
    fn read(
        &self,
        doing: &str,
        namespace: &Namespace,
        key: &str,
        name: &str,
    ) -> Result<Option<SecretValue>, StoreError> {
        let reply = self
            .call(Method::GET, &["secret"], &[("name", name)], None)
            .map_err(|why| self.failed(doing, namespace, key, why))?;
        if reply.status == 404 {
            // Doppler answers 404 for a missing project or config too: that must fail, not
            // read as "absent" (which lets resolution go on to a parent namespace). Checked
            // once, by listing the config's names.
            if !self.config_exists.load(Ordering::Acquire) {
                self.names(doing, namespace, key)?;
            }
            return Ok(None);
        }
        if !reply.is_success() {
            return Err(self.failed(doing, namespace, key, Self::refused(&reply)));
        }
        match reply.body["value"]["raw"].as_str() {
            Some(raw) => Ok(Some(SecretValue::new(raw))),
            None => Err(self.failed(
                doing,
                namespace,
                key,
                "Doppler's answer has no value.raw".into(),
            )),
        }
    }
}

impl DopplerSecretStore {
    /// `GET /v3/configs/config/secrets/names`: `{"names": [...]}`. A success proves the
    /// project and config exist.
    fn names(&self, doing: &str, namespace: &Namespace, key: &str) -> Result<Value, StoreError> {
        let reply = self
            .call(Method::GET, &["secrets", "names"], &[], None)
            .map_err(|why| self.failed(doing, namespace, key, why))?;
        if !reply.is_success() {
            return Err(self.failed(doing, namespace, key, Self::refused(&reply)));
        }
        self.config_exists.store(true, Ordering::Release);
        Ok(reply.body)
    }
}

impl SecretStore for DopplerSecretStore {
    fn backend_name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only()
            .with(Operation::Put)
            .with(Operation::Destroy)
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        Ok(match self.read("read", namespace, key, &name)? {
            Some(value) => Lookup::Found {
                value,
                metadata: SecretMetadata::new(key, Some(namespace.clone())),
            },
            None => Lookup::Absent,
        })
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        Ok(self
            .read("describe", namespace, key, &name)?
            .map(|_| SecretMetadata::new(key, Some(namespace.clone()))))
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let directory =
            names::directory(&self.config.secret_name_prefix, tenant, namespace.as_str())
                .map_err(|bad| Self::unencodable(tenant, bad))?;
        let names = self.names("list", namespace, "*")?;
        let mut found: Vec<SecretMetadata> = names["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|name| names::key_in(&directory, name))
            .filter(|key| check_secret_key(key).is_ok())
            .map(|key| SecretMetadata::new(key, Some(namespace.clone())))
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        if write.expected_version.is_some() {
            let actual = u64::from(self.read("write", namespace, key, &name)?.is_some());
            StoreError::check_version(write.expected_version, actual, namespace, key)?;
        }
        let mut secrets = serde_json::Map::new();
        secrets.insert(name, json!(write.value.expose()));
        let reply = self
            .call(
                Method::POST,
                &["secrets"],
                &[],
                Some(json!({"secrets": secrets})),
            )
            .map_err(|why| self.failed("write", namespace, key, why))?;
        if !reply.is_success() {
            return Err(self.failed("write", namespace, key, Self::refused(&reply)));
        }
        Ok(SecretMetadata::new(key, Some(namespace.clone())))
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        if self.read("destroy", namespace, key, &name)?.is_none() {
            return Ok(false);
        }
        let reply = self
            .call(Method::DELETE, &["secret"], &[("name", &name)], None)
            .map_err(|why| self.failed("destroy", namespace, key, why))?;
        match reply.status {
            404 => Ok(false),
            _ if reply.is_success() => Ok(true),
            _ => Err(self.failed("destroy", namespace, key, Self::refused(&reply))),
        }
    }
}
