//! [`SecretStore`] for [`GcpSecretStore`]: Secret Manager's secrets and versions mapped to
//! Saker's operations (see the module comment of `gcp`).

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    DELETED, GcpSecretStore, NAME, RULES, annotations, is_enabled, metadata_of, time, value_of,
    version_number,
};
use crate::cloud::Kept;
use crate::cloud::names;
use crate::metadata::{SecretMetadata, SecretState, SecretVersion, SecretWrite};
use crate::namespace::Namespace;
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};

/// Secrets and versions asked for per page.
const PAGE_SIZE: &str = "100";

fn no_such(namespace: &Namespace, key: &str) -> StoreError {
    StoreError::NoSuchSecret {
        namespace: namespace.clone(),
        key: key.to_owned(),
    }
}

impl GcpSecretStore {
    /// Every page of a list call: the `field` entries of each answer.
    fn pages(&self, path: &str, field: &str) -> Result<Vec<Value>, crate::cloud::rest::CallError> {
        let mut found = Vec::new();
        let mut token = String::new();
        loop {
            let mut query = vec![("pageSize", PAGE_SIZE)];
            if !token.is_empty() {
                query.push(("pageToken", token.as_str()));
            }
            let page = self
                .client
                .call(Method::GET, path, &query, None)?
                .success()?;
            found.extend(page[field].as_array().cloned().unwrap_or_default());
            match page["nextPageToken"].as_str() {
                Some(next) if !next.is_empty() => token = next.to_owned(),
                _ => return Ok(found),
            }
        }
    }
}

impl SecretStore for GcpSecretStore {
    fn backend_name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only()
            .with(Operation::Put)
            .with(Operation::Delete)
            .with(Operation::Restore)
            .with(Operation::Destroy)
            .with(Operation::Versions)
            .with(Operation::Rollback)
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let id = self.id(tenant, namespace, key)?;
        let path = self.path(&id);
        let answer = self
            .client
            .call(
                Method::GET,
                &format!("{path}/versions/latest:access"),
                &[],
                None,
            )
            .map_err(|err| self.failed("read", namespace, key, err))?;
        // 404: no secret or no version; 400 FAILED_PRECONDITION: the latest is disabled or
        // destroyed. Both are "not here": resolution goes on with the parent namespace.
        if answer.status == 404
            || (answer.status == 400 && answer.body["error"]["status"] == "FAILED_PRECONDITION")
        {
            return Ok(Lookup::Absent);
        }
        let access = answer
            .success()
            .map_err(|err| self.failed("read", namespace, key, err))?;
        let value = value_of(&access, namespace, key)?;
        let Some(secret) = self
            .client
            .call_found(Method::GET, &path, &[], None)
            .map_err(|err| self.failed("read", namespace, key, err))?
        else {
            return Ok(Lookup::Absent);
        };
        let mut metadata = metadata_of(namespace, key, &secret, None);
        metadata.version = version_number(&access).unwrap_or(1);
        metadata.state = SecretState::Active;
        Ok(Lookup::Found { value, metadata })
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        self.current("describe", tenant, namespace, key)
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let secrets = self
            .pages(&self.client.secrets(), "secrets")
            .map_err(|err| self.failed("list", namespace, "*", err))?;
        let prefix = self.client.config().prefix.as_deref();
        let mut found = Vec::new();
        for secret in secrets {
            let Some(id) = secret["name"].as_str().and_then(|n| n.rsplit('/').next()) else {
                continue;
            };
            // Secrets of other tenants, namespaces and prefixes, and foreign ones, are skipped.
            let Some(parts) = names::decode(RULES, prefix, id) else {
                continue;
            };
            let [t, ns, key] = parts.as_slice() else {
                continue;
            };
            if t != tenant || ns != namespace.as_str() {
                continue;
            }
            let latest = self
                .client
                .call_found(
                    Method::GET,
                    &format!("{}/versions/latest", self.path(id)),
                    &[],
                    None,
                )
                .map_err(|err| self.failed("list", namespace, key, err))?;
            found.push(metadata_of(namespace, key, &secret, latest.as_ref()));
        }
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
        let id = self.id(tenant, namespace, key)?;
        let path = self.path(&id);
        let fail = |err| self.failed("write", namespace, key, err);
        let existing = self.described("write", namespace, key, &id)?;
        let old = existing
            .as_ref()
            .map(|(secret, latest)| metadata_of(namespace, key, secret, latest.as_ref()));
        StoreError::check_active_version(write.expected_version, old.as_ref(), namespace, key)?;
        let kept = Kept::merge(old.as_ref(), &write.update);
        let notes = annotations(tenant, namespace, key, &kept)?;
        let body = json!({"labels": kept.tags, "annotations": notes});
        let secret = match existing {
            None => {
                let mut create = body;
                create["replication"] = json!({"automatic": {}});
                let answer = self
                    .client
                    .call(
                        Method::POST,
                        &self.client.secrets(),
                        &[("secretId", id.as_str())],
                        Some(&create),
                    )
                    .map_err(fail)?;
                if answer.status == 409 {
                    return Err(StoreError::version_conflict(
                        namespace,
                        key,
                        write.expected_version.unwrap_or(0),
                        1,
                    ));
                }
                answer.success().map_err(fail)?
            }
            Some(_) => self
                .client
                .call(
                    Method::PATCH,
                    &path,
                    &[("updateMask", "labels,annotations")],
                    Some(&body),
                )
                .and_then(|a| a.success())
                .map_err(fail)?,
        };
        let data = base64::engine::general_purpose::STANDARD.encode(write.value.expose());
        let version = self
            .client
            .call(
                Method::POST,
                &format!("{path}:addVersion"),
                &[],
                Some(&json!({"payload": {"data": data}})),
            )
            .and_then(|a| a.success())
            .map_err(fail)?;
        Ok(metadata_of(namespace, key, &secret, Some(&version)))
    }

    fn delete(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let id = self.id(tenant, namespace, key)?;
        let Some((secret, Some(latest))) = self.described("delete", namespace, key, &id)? else {
            return Ok(false);
        };
        if !is_enabled(&latest) {
            return Ok(false);
        }
        let Some(number) = version_number(&latest) else {
            return Ok(false);
        };
        let disable = format!("{}/versions/{number}:disable", self.path(&id));
        self.client
            .call(Method::POST, &disable, &[], Some(&json!({})))
            .and_then(|a| a.success())
            .map_err(|err| self.failed("delete", namespace, key, err))?;
        let mut notes = secret["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        notes.insert(DELETED.into(), json!(chrono::Utc::now().to_rfc3339()));
        self.set_annotations("delete", namespace, key, &id, notes)?;
        Ok(true)
    }

    fn restore(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        let id = self.id(tenant, namespace, key)?;
        let (secret, latest) = self
            .described("restore", namespace, key, &id)?
            .ok_or_else(|| no_such(namespace, key))?;
        let latest = latest.ok_or_else(|| no_such(namespace, key))?;
        match latest["state"].as_str() {
            Some("DISABLED") => {
                let number = version_number(&latest).unwrap_or(1);
                let enable = format!("{}/versions/{number}:enable", self.path(&id));
                self.client
                    .call(Method::POST, &enable, &[], Some(&json!({})))
                    .and_then(|a| a.success())
                    .map_err(|err| self.failed("restore", namespace, key, err))?;
            }
            Some("DESTROYED") => return Err(no_such(namespace, key)),
            _ => {}
        }
        let mut notes = secret["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if notes.remove(DELETED).is_some() {
            self.set_annotations("restore", namespace, key, &id, notes)?;
        }
        self.current("restore", tenant, namespace, key)?
            .ok_or_else(|| no_such(namespace, key))
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let id = self.id(tenant, namespace, key)?;
        let answer = self
            .client
            .call(Method::DELETE, &self.path(&id), &[], None)
            .map_err(|err| self.failed("destroy", namespace, key, err))?;
        if answer.status == 404 {
            return Ok(false);
        }
        answer
            .success()
            .map_err(|err| self.failed("destroy", namespace, key, err))?;
        Ok(true)
    }

    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, StoreError> {
        let id = self.id(tenant, namespace, key)?;
        let answer = self.pages(&format!("{}/versions", self.path(&id)), "versions");
        let versions = match answer {
            Err(err) if err.status() == Some(404) => return Err(no_such(namespace, key)),
            other => other.map_err(|err| self.failed("list versions of", namespace, key, err))?,
        };
        let mut found: Vec<SecretVersion> = versions
            .iter()
            .filter_map(|v| {
                Some(SecretVersion {
                    version: version_number(v)?,
                    created_at: time(&v["createTime"])?,
                    created_by: None,
                    available: is_enabled(v),
                })
            })
            .collect();
        found.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(found)
    }

    fn rollback(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
        created_by: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        let id = self.id(tenant, namespace, key)?;
        let path = format!("{}/versions/{version}:access", self.path(&id));
        let answer = self
            .client
            .call(Method::GET, &path, &[], None)
            .map_err(|err| self.failed("roll back", namespace, key, err))?;
        if matches!(answer.status, 400 | 404) {
            return Err(StoreError::NoSuchVersion {
                namespace: namespace.clone(),
                key: key.to_owned(),
                version,
            });
        }
        let access = answer
            .success()
            .map_err(|err| self.failed("roll back", namespace, key, err))?;
        let mut write = SecretWrite::new(value_of(&access, namespace, key)?);
        write.created_by = created_by.map(str::to_owned);
        self.put(tenant, namespace, key, write)
    }
}
