//! [`SecretStore`] for [`VaultSecretStore`]: KV v2's operations mapped one to one, KV v1's
//! plain reads and writes.

use reqwest::Method;
use serde_json::json;

use super::client::success;
use super::{NAME, VaultSecretStore, metadata_of, no_such, value_of};
use crate::metadata::{SecretMetadata, SecretState, SecretVersion, SecretWrite};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};

impl SecretStore for VaultSecretStore {
    fn backend_name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        let base = Capabilities::read_only()
            .with(Operation::Put)
            .with(Operation::Destroy);
        if self.v2() {
            base.with(Operation::Delete)
                .with(Operation::Restore)
                .with(Operation::Versions)
                .with(Operation::Rollback)
        } else {
            base
        }
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let secret = self.secret(tenant, namespace, key)?;
        let answer = self
            .call_found(Method::GET, &self.path("data", &secret), None)
            .map_err(|err| self.failed("read", namespace, key, err))?;
        let Some(answer) = answer else {
            if self.reads_shared(namespace) {
                return self.shared_get(namespace, key);
            }
            return Ok(Lookup::Absent);
        };
        if !self.v2() {
            let value = value_of(&answer.body["data"], namespace, key)?;
            let metadata = SecretMetadata::new(key, Some(namespace.clone()));
            return Ok(Lookup::Found { value, metadata });
        }
        let data = &answer.body["data"];
        if data["data"].is_null() {
            // Soft-deleted or destroyed latest version (Vault answers 200 on some versions).
            return Ok(Lookup::Absent);
        }
        let value = value_of(&data["data"], namespace, key)?;
        let version_meta = &data["metadata"];
        let mut metadata = metadata_of(
            namespace,
            key,
            &json!({
                "current_version": version_meta["version"],
                "created_time": version_meta["created_time"],
                "updated_time": version_meta["created_time"],
                "custom_metadata": version_meta["custom_metadata"],
            }),
        );
        metadata.state = SecretState::Active;
        Ok(Lookup::Found { value, metadata })
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let secret = self.secret(tenant, namespace, key)?;
        let own = if self.v2() {
            self.read_metadata("describe", namespace, key, &secret)?
                .map(|(meta, _)| meta)
        } else {
            let answer = self
                .call_found(Method::GET, &self.path("data", &secret), None)
                .map_err(|err| self.failed("describe", namespace, key, err))?;
            answer.map(|_| SecretMetadata::new(key, Some(namespace.clone())))
        };
        match own {
            None if self.reads_shared(namespace) => self.shared_metadata(namespace, key),
            own => Ok(own),
        }
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let directory = self.directory(tenant, namespace);
        let path = format!("{}/?list=true", self.path("metadata", &directory));
        let answer = self
            .call_found(Method::GET, &path, None)
            .map_err(|err| self.failed("list", namespace, "*", err))?;
        let mut found = Vec::new();
        let keys = answer
            .as_ref()
            .and_then(|a| a.body["data"]["keys"].as_array().cloned())
            .unwrap_or_default();
        for key in keys.iter().filter_map(|k| k.as_str()) {
            // Sub-directories (`team/`) are other namespaces or foreign paths.
            if key.ends_with('/') || check_secret_key(key).is_err() {
                continue;
            }
            if let Some(meta) = self.metadata(tenant, namespace, key)? {
                found.push(meta);
            }
        }
        if self.reads_shared(namespace) {
            for shared in self.shared_list(namespace)? {
                if !found.iter().any(|own| own.key == shared.key) {
                    found.push(shared);
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    fn namespaces(&self) -> Result<Option<Vec<(String, Namespace)>>, StoreError> {
        // `<prefix>/<tenant>/<namespace>/`: two levels of directories under the prefix.
        let prefix = self.client.config().secret_path_prefix.clone();
        let under = |dir: &str| -> Result<Vec<String>, StoreError> {
            let path = format!("{}/?list=true", self.path("metadata", dir)).replace("//?", "/?");
            let answer =
                self.call_found(Method::GET, &path, None)
                    .map_err(|err| StoreError::Backend {
                        backend: NAME,
                        message: format!(
                            "cannot list {dir:?} at {}: {err}",
                            self.client.config().address
                        ),
                    })?;
            Ok(answer
                .and_then(|a| a.body["data"]["keys"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|k| k.as_str()?.strip_suffix('/').map(str::to_owned))
                .collect())
        };
        let join = |parts: &[&str]| {
            prefix
                .iter()
                .map(String::as_str)
                .chain(parts.iter().copied())
                .collect::<Vec<_>>()
                .join("/")
        };
        let mut found = Vec::new();
        for tenant in under(&join(&[]))? {
            for namespace in under(&join(&[&tenant]))? {
                if let Ok(namespace) = Namespace::parse(&namespace) {
                    found.push((tenant.clone(), namespace));
                }
            }
        }
        found.sort();
        Ok(Some(found))
    }

    fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let secret = self.secret(tenant, namespace, key)?;
        let path = self.path("data", &secret);
        if !self.v2() {
            if write.expected_version.is_some() {
                return Err(StoreError::Backend {
                    backend: NAME,
                    message: "KV version 1 has no versions to check a write against: write \
                              without an expected version, or use KV version 2"
                        .into(),
                });
            }
            let body = json!({"value": write.value.expose()});
            self.client
                .call(Method::POST, &path, Some(&body))
                .and_then(success)
                .map_err(|err| self.failed("write", namespace, key, err))?;
            return Ok(SecretMetadata::new(key, Some(namespace.clone())));
        }
        let old = self
            .read_metadata("write", namespace, key, &secret)?
            .map(|(meta, _)| meta);
        let mut body = json!({"data": {"value": write.value.expose()}});
        if let Some(expected) = write.expected_version {
            body["options"] = json!({"cas": expected});
        }
        let answer = self
            .client
            .call(Method::POST, &path, Some(&body))
            .map_err(|err| self.failed("write", namespace, key, err))?;
        let cas_failed = answer.status == 400
            && super::client::errors_of(&answer.body).contains("check-and-set");
        if cas_failed {
            return Err(StoreError::version_conflict(
                namespace,
                key,
                write.expected_version.unwrap_or(0),
                old.as_ref().map_or(0, |m| m.version),
            ));
        }
        success(answer).map_err(|err| self.failed("write", namespace, key, err))?;
        self.write_custom_metadata(namespace, key, &secret, old.as_ref(), &write)?;
        self.current("write", tenant, namespace, key)
    }

    fn delete(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let secret = self.secret(tenant, namespace, key)?;
        match self.read_metadata("delete", namespace, key, &secret)? {
            Some((meta, _)) if meta.state == SecretState::Active => {
                self.client
                    .call(Method::DELETE, &self.path("data", &secret), None)
                    .and_then(success)
                    .map_err(|err| self.failed("delete", namespace, key, err))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn restore(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        let secret = self.secret(tenant, namespace, key)?;
        let (meta, _) = self
            .read_metadata("restore", namespace, key, &secret)?
            .ok_or_else(|| no_such(namespace, key))?;
        if matches!(meta.state, SecretState::Deleted { .. }) {
            self.client
                .call(
                    Method::POST,
                    &self.path("undelete", &secret),
                    Some(&json!({"versions": [meta.version]})),
                )
                .and_then(success)
                .map_err(|err| self.failed("restore", namespace, key, err))?;
        }
        self.current("restore", tenant, namespace, key)
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        if self.metadata(tenant, namespace, key)?.is_none() {
            return Ok(false);
        }
        let secret = self.secret(tenant, namespace, key)?;
        // KV v2: every version and the metadata; KV v1: its only delete.
        self.client
            .call(Method::DELETE, &self.path("metadata", &secret), None)
            .and_then(success)
            .map_err(|err| self.failed("destroy", namespace, key, err))?;
        Ok(true)
    }

    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, StoreError> {
        let secret = self.secret(tenant, namespace, key)?;
        let (_, data) = self
            .read_metadata("list versions of", namespace, key, &secret)?
            .ok_or_else(|| no_such(namespace, key))?;
        let mut versions: Vec<SecretVersion> = data["versions"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(number, v)| {
                Some(SecretVersion {
                    version: number.parse().ok()?,
                    created_at: super::time(&v["created_time"])?,
                    created_by: None,
                    available: v["destroyed"].as_bool() != Some(true)
                        && super::time(&v["deletion_time"]).is_none(),
                })
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(versions)
    }

    fn rollback(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
        created_by: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        let secret = self.secret(tenant, namespace, key)?;
        let path = format!("{}?version={version}", self.path("data", &secret));
        let answer = self
            .call_found(Method::GET, &path, None)
            .map_err(|err| self.failed("roll back", namespace, key, err))?;
        let data = answer.map(|a| a.body["data"]["data"].clone());
        let Some(data) = data.filter(|d| !d.is_null()) else {
            return Err(StoreError::NoSuchVersion {
                namespace: namespace.clone(),
                key: key.to_owned(),
                version,
            });
        };
        let mut write = SecretWrite::new(value_of(&data, namespace, key)?);
        write.created_by = created_by.map(str::to_owned);
        self.put(tenant, namespace, key, write)
    }
}
