//! [`SecretStore`] for [`AzureSecretStore`]: Key Vault's secrets, versions, soft delete,
//! recovery and purge mapped to Saker's operations (see the module comment of `azure`).

use reqwest::Method;
use serde_json::json;

use super::{AzureSecretStore, NAME, POLL_INTERVAL, RECOVERY_POLLS, VERSION, metadata_of, tags_of};
use crate::cloud::Kept;
use crate::metadata::{SecretMetadata, SecretState, SecretVersion, SecretWrite};
use crate::namespace::Namespace;
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};
use crate::value::SecretValue;

fn no_such(namespace: &Namespace, key: &str) -> StoreError {
    StoreError::NoSuchSecret {
        namespace: namespace.clone(),
        key: key.to_owned(),
    }
}

impl SecretStore for AzureSecretStore {
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
        let name = self.name(tenant, namespace, key)?;
        let Some(bundle) = self
            .client
            .call_found(Method::GET, &format!("secrets/{name}/"))
            .map_err(|err| self.failed("read", namespace, key, err))?
        else {
            return Ok(Lookup::Absent);
        };
        let Some(text) = bundle["value"].as_str() else {
            return Err(StoreError::Backend {
                backend: NAME,
                message: format!("secret '{key}' in {namespace} was answered without a value"),
            });
        };
        Ok(Lookup::Found {
            value: SecretValue::new(text),
            metadata: metadata_of(namespace, key, &bundle),
        })
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        self.described("describe", namespace, key, &name)
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let mut found = Vec::new();
        for path in ["secrets", "deletedsecrets"] {
            let items = self
                .pages(path)
                .map_err(|err| self.failed("list", namespace, "*", err))?;
            for item in items {
                let Some((t, ns, key)) = item["id"].as_str().and_then(|id| self.parts_of(id))
                else {
                    continue;
                };
                if t == tenant && ns == namespace.as_str() {
                    found.push(metadata_of(namespace, &key, &item));
                }
            }
        }
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
        let name = self.name(tenant, namespace, key)?;
        let old = self.described("write", namespace, key, &name)?;
        StoreError::check_active_version(write.expected_version, old.as_ref(), namespace, key)?;
        // Key Vault refuses a write over a soft-deleted name (409): recover it first, so
        // the new value is the next version of the same secret.
        if old
            .as_ref()
            .is_some_and(|m| matches!(m.state, SecretState::Deleted { .. }))
        {
            self.recover("write", namespace, key, &name)?;
        }
        let version = old.as_ref().map_or(1, |m| m.version + 1);
        let kept = Kept::merge(old.as_ref(), &write.update);
        let tags = tags_of(tenant, namespace, key, version, &kept);
        let body = json!({"value": write.value.expose(), "tags": tags,
            "contentType": "text/plain"});
        let bundle = self
            .client
            .call(Method::PUT, &format!("secrets/{name}"), Some(&body))
            .and_then(|a| a.success())
            .map_err(|err| self.failed("write", namespace, key, err))?;
        Ok(metadata_of(namespace, key, &bundle))
    }

    fn delete(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        let answer = self
            .client
            .call(Method::DELETE, &format!("secrets/{name}"), None)
            .map_err(|err| self.failed("delete", namespace, key, err))?;
        if answer.status == 404 {
            return Ok(false);
        }
        answer
            .success()
            .map_err(|err| self.failed("delete", namespace, key, err))?;
        Ok(true)
    }

    fn restore(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        let meta = self
            .described("restore", namespace, key, &name)?
            .ok_or_else(|| no_such(namespace, key))?;
        if meta.state == SecretState::Active {
            return Ok(meta);
        }
        self.recover("restore", namespace, key, &name)?;
        self.described("restore", namespace, key, &name)?
            .ok_or_else(|| no_such(namespace, key))
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        let fail = |err| self.failed("destroy", namespace, key, err);
        let live = self
            .client
            .call(Method::DELETE, &format!("secrets/{name}"), None)
            .map_err(fail)?;
        let existed = live.status != 404;
        if existed {
            live.success().map_err(fail)?;
        }
        // Purge; Azure answers 409 while the deletion it just accepted is still running.
        for _ in 0..RECOVERY_POLLS {
            let purge = self
                .client
                .call(Method::DELETE, &format!("deletedsecrets/{name}"), None)
                .map_err(fail)?;
            match purge.status {
                404 => return Ok(existed),
                409 => std::thread::sleep(POLL_INTERVAL),
                _ => {
                    purge.success().map_err(fail)?;
                    return Ok(true);
                }
            }
        }
        Err(StoreError::Busy {
            backend: NAME,
            reason: format!(
                "Key Vault is still deleting secret '{key}' in {namespace}: destroy it again \
                 in a minute to purge it"
            ),
        })
    }

    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, StoreError> {
        let name = self.name(tenant, namespace, key)?;
        let items = match self.pages(&format!("secrets/{name}/versions")) {
            Err(err) if err.status() == Some(404) => return Err(no_such(namespace, key)),
            other => other.map_err(|err| self.failed("list versions of", namespace, key, err))?,
        };
        let mut found: Vec<SecretVersion> = items
            .iter()
            .filter_map(|item| {
                Some(SecretVersion {
                    version: item["tags"][VERSION].as_str()?.parse().ok()?,
                    created_at: super::unix(&item["attributes"]["created"])?,
                    created_by: None,
                    available: item["attributes"]["enabled"].as_bool() != Some(false),
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
        let name = self.name(tenant, namespace, key)?;
        let fail = |err| self.failed("roll back", namespace, key, err);
        let items = self
            .pages(&format!("secrets/{name}/versions"))
            .map_err(fail)?;
        let wanted = version.to_string();
        let id = items
            .iter()
            .find(|item| {
                item["tags"][VERSION].as_str() == Some(wanted.as_str())
                    && item["attributes"]["enabled"].as_bool() != Some(false)
            })
            .and_then(|item| item["id"].as_str())
            .and_then(|id| id.rsplit('/').next())
            .ok_or_else(|| StoreError::NoSuchVersion {
                namespace: namespace.clone(),
                key: key.to_owned(),
                version,
            })?;
        let bundle = self
            .client
            .call(Method::GET, &format!("secrets/{name}/{id}"), None)
            .and_then(|a| a.success())
            .map_err(fail)?;
        let text = bundle["value"]
            .as_str()
            .ok_or_else(|| StoreError::NoSuchVersion {
                namespace: namespace.clone(),
                key: key.to_owned(),
                version,
            })?;
        let mut write = SecretWrite::new(SecretValue::new(text));
        write.created_by = created_by.map(str::to_owned);
        self.put(tenant, namespace, key, write)
    }
}
