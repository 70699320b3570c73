//! `secret.type: aws-secret-manager`: secrets in AWS Secrets Manager (or anything speaking its
//! API, such as moto or LocalStack, through `endpointOverride`).
//!
//! Layout: one AWS secret per Saker secret, named `<prefix>/<tenant>/<namespace>/<key>`
//! (`prefix/` only when a prefix is set), e.g. `saker-prod/main/company.team/API_KEY`; its
//! `SecretString` is the value as is. Tags on every secret written: the default `tags` of the
//! section and the secret's own, plus `saker:tenant`, `saker:namespace`, `saker:key` and
//! `saker:version` (Saker's version number, which AWS, whose versions are ids, does not
//! keep), and `saker:expires-at` / `saker:rotation-period` when set. Delete is AWS's own
//! soft delete (scheduled deletion, 30-day recovery window), restore is `RestoreSecret`,
//! destroy is a deletion without recovery.
//!
//! With `secret.read-only: true`, secrets made outside Saker and tagged `namespace` and
//! `key` (Kestra's read-only layout) are read as well: see `tagged.rs`.
//!
//! Client: a signed-request client of our own (`client.rs`, `sigv4.rs`) over the reqwest
//! the binary already has, rather than `aws-sdk-secretsmanager`: resolved with `aws-config`
//! (behaviour version latest) the SDK's tree is 200 packages, 75 of them not in Saker's build
//! (among them `aws-lc-sys`, AWS-LC compiled from C with cmake, the STS/SSO clients, and an
//! older hyper/http/rustls generation), where this backend needs nine JSON calls and a
//! signature. The signature is checked against botocore's in `sigv4.rs`'s test.

mod client;
pub mod config;
mod sigv4;
mod tagged;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

pub(crate) use config::section_tags;
pub use config::{AwsConfig, AwsCredentials};

use self::client::{AwsClient, CallError};
use crate::metadata::{SecretMetadata, SecretState, SecretWrite};
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};
use crate::value::SecretValue;

const NAME: &str = "aws-secret-manager";
const TAG_TENANT: &str = "saker:tenant";
const TAG_NAMESPACE: &str = "saker:namespace";
const TAG_KEY: &str = "saker:key";
const TAG_VERSION: &str = "saker:version";
const TAG_EXPIRES: &str = "saker:expires-at";
const TAG_ROTATION: &str = "saker:rotation-period";
/// AWS's soft delete keeps a secret this many days before erasing it.
const RECOVERY_DAYS: u32 = 30;

/// The AWS Secrets Manager backend.
pub struct AwsSecretStore {
    client: AwsClient,
    /// Also read secrets tagged the way Kestra's read-only mode expects (`tagged.rs`).
    tagged: bool,
}

impl AwsSecretStore {
    /// A backend calling the endpoint of `config`. Nothing is called yet: an unreachable
    /// endpoint shows on the first use, naming the endpoint and the key.
    pub fn new(config: AwsConfig) -> Result<Self, StoreError> {
        let client = AwsClient::new(config).map_err(|message| StoreError::Backend {
            backend: NAME,
            message: format!("cannot set up its HTTP client: {message}"),
        })?;
        Ok(Self {
            client,
            tagged: false,
        })
    }

    /// The same backend also reading secrets made outside Saker and tagged `namespace` and
    /// `key` (Kestra's read-only layout, `tagged.rs`). Only for read-only mode.
    pub fn reading_tagged_secrets(mut self) -> Self {
        self.tagged = true;
        self
    }

    /// `GetSecretValue` of `name`, as the value of `key` in `namespace`.
    fn read_value(
        &self,
        name: &str,
        namespace: &Namespace,
        key: &str,
        entry: &Value,
    ) -> Result<Lookup, StoreError> {
        let answer = match self
            .client
            .call("GetSecretValue", &json!({"SecretId": name}))
        {
            Ok(answer) => answer,
            Err(err) if err.is("ResourceNotFoundException") => return Ok(Lookup::Absent),
            Err(err) => return Err(self.failed("read", namespace, key, err)),
        };
        let Some(text) = answer["SecretString"].as_str() else {
            return Err(StoreError::Backend {
                backend: NAME,
                message: format!(
                    "secret '{key}' in {namespace} (AWS secret {name}) holds binary data, not \
                     text: store it as a string"
                ),
            });
        };
        Ok(Lookup::Found {
            value: SecretValue::new(text),
            metadata: metadata_of(namespace, key, entry),
        })
    }

    fn directory(&self, tenant: &str, namespace: &Namespace) -> String {
        match self.client.prefix() {
            Some(prefix) => format!("{prefix}/{tenant}/{namespace}/"),
            None => format!("{tenant}/{namespace}/"),
        }
    }

    fn name(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<String, StoreError> {
        check_secret_key(key)?;
        Ok(format!("{}{key}", self.directory(tenant, namespace)))
    }

    fn failed(&self, doing: &str, namespace: &Namespace, key: &str, err: CallError) -> StoreError {
        if err.is("ThrottlingException") {
            return StoreError::Busy {
                backend: NAME,
                reason: format!("AWS throttled the {doing} of '{key}' in {namespace}"),
            };
        }
        StoreError::Backend {
            backend: NAME,
            message: format!(
                "cannot {doing} secret '{key}' in {namespace} at {}: {err}",
                self.client.endpoint()
            ),
        }
    }

    /// `DescribeSecret`, `None` when AWS has no such secret.
    fn describe(&self, name: &str) -> Result<Option<Value>, CallError> {
        match self
            .client
            .call("DescribeSecret", &json!({"SecretId": name}))
        {
            Ok(entry) => Ok(Some(entry)),
            Err(err) if err.is("ResourceNotFoundException") => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn described(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<(String, Option<Value>), StoreError> {
        let name = self.name(tenant, namespace, key)?;
        let entry = self
            .describe(&name)
            .map_err(|err| self.failed(doing, namespace, key, err))?;
        Ok((name, entry))
    }

    fn current(
        &self,
        doing: &str,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        match self.described(doing, tenant, namespace, key)?.1 {
            Some(entry) => Ok(metadata_of(namespace, key, &entry)),
            None => Err(StoreError::NoSuchSecret {
                namespace: namespace.clone(),
                key: key.to_owned(),
            }),
        }
    }

    fn write_tags(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
        old: Option<&SecretMetadata>,
        write: &SecretWrite,
    ) -> BTreeMap<String, String> {
        let update = &write.update;
        let mut tags = match (&update.tags, old) {
            (Some(tags), _) => tags.clone(),
            (None, Some(old)) => old.tags.clone(),
            (None, None) => BTreeMap::new(),
        };
        tags.insert(TAG_TENANT.into(), tenant.into());
        tags.insert(TAG_NAMESPACE.into(), namespace.to_string());
        tags.insert(TAG_KEY.into(), key.into());
        tags.insert(TAG_VERSION.into(), version.to_string());
        let expires = match update.expires_at {
            Some(at) => at,
            None => old.and_then(|m| m.expires_at),
        };
        if let Some(at) = expires {
            tags.insert(TAG_EXPIRES.into(), at.to_rfc3339());
        }
        let rotation = match update.rotation_period {
            Some(period) => period,
            None => old.and_then(|m| m.rotation_period),
        };
        if let Some(period) = rotation {
            tags.insert(TAG_ROTATION.into(), period.as_secs().to_string());
        }
        tags
    }
}

fn aws_tags(tags: &BTreeMap<String, String>) -> Value {
    tags.iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

fn date(value: &Value) -> Option<DateTime<Utc>> {
    let seconds = value.as_f64()?;
    Utc.timestamp_millis_opt((seconds * 1000.0) as i64).single()
}

/// Saker's metadata from a `DescribeSecret` answer or a `ListSecrets` entry.
fn metadata_of(namespace: &Namespace, key: &str, entry: &Value) -> SecretMetadata {
    let mut meta = SecretMetadata::new(key, Some(namespace.clone()));
    for tag in entry["Tags"].as_array().into_iter().flatten() {
        let (Some(k), Some(v)) = (tag["Key"].as_str(), tag["Value"].as_str()) else {
            continue;
        };
        match k {
            TAG_VERSION => meta.version = v.parse().unwrap_or(1),
            TAG_EXPIRES => meta.expires_at = v.parse().ok(),
            TAG_ROTATION => meta.rotation_period = v.parse().ok().map(Duration::from_secs),
            TAG_TENANT | TAG_NAMESPACE | TAG_KEY => {}
            _ => {
                meta.tags.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    meta.description = entry["Description"]
        .as_str()
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    meta.created_at = date(&entry["CreatedDate"]);
    meta.updated_at = date(&entry["LastChangedDate"]).or(meta.created_at);
    if let Some(at) = date(&entry["DeletedDate"]) {
        meta.state = SecretState::Deleted { at };
    }
    meta
}

/// The id of the version a write creates. The SDKs generate it; a raw request must send one
/// (AWS and moto refuse a second value without it as "ResourceExistsException").
fn request_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn is_deleted(entry: &Value) -> bool {
    !entry["DeletedDate"].is_null()
}

impl SecretStore for AwsSecretStore {
    fn backend_name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only()
            .with(Operation::Put)
            .with(Operation::Delete)
            .with(Operation::Restore)
            .with(Operation::Destroy)
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let (name, entry) = self.described("read", tenant, namespace, key)?;
        match entry {
            Some(entry) if !is_deleted(&entry) => self.read_value(&name, namespace, key, &entry),
            Some(_) => Ok(Lookup::Absent),
            None if self.tagged => self.tagged_get(tenant, namespace, key),
            None => Ok(Lookup::Absent),
        }
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let (_, entry) = self.described("describe", tenant, namespace, key)?;
        match entry {
            Some(entry) => Ok(Some(metadata_of(namespace, key, &entry))),
            None if self.tagged => self.tagged_metadata(tenant, namespace, key),
            None => Ok(None),
        }
    }

    fn namespaces(&self) -> Result<Option<Vec<(String, Namespace)>>, StoreError> {
        // Every secret Saker wrote carries its tenant and namespace as tags; its name says
        // it is under this backend's prefix.
        let mut found = std::collections::BTreeSet::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = json!({"MaxResults": 100});
            if let Some(prefix) = self.client.prefix() {
                body["Filters"] = json!([{"Key": "name", "Values": [format!("{prefix}/")]}]);
            }
            if let Some(token) = &next {
                body["NextToken"] = json!(token);
            }
            let page =
                self.client
                    .call("ListSecrets", &body)
                    .map_err(|err| StoreError::Backend {
                        backend: NAME,
                        message: format!(
                            "cannot list secrets at {}: {err}",
                            self.client.endpoint()
                        ),
                    })?;
            for entry in page["SecretList"].as_array().into_iter().flatten() {
                let tag = |name: &str| {
                    entry["Tags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find_map(|t| {
                            (t["Key"].as_str() == Some(name)).then(|| t["Value"].as_str())?
                        })
                };
                let (Some(tenant), Some(namespace)) = (tag(TAG_TENANT), tag(TAG_NAMESPACE)) else {
                    continue;
                };
                let Ok(namespace) = Namespace::parse(namespace) else {
                    continue;
                };
                let directory = self.directory(tenant, &namespace);
                if entry["Name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&directory))
                {
                    found.insert((tenant.to_owned(), namespace));
                }
            }
            match page["NextToken"].as_str() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(Some(found.into_iter().collect()))
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let directory = self.directory(tenant, namespace);
        let mut found = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = json!({
                "Filters": [{"Key": "name", "Values": [directory]}],
                "IncludePlannedDeletion": true,
                "MaxResults": 100,
            });
            if let Some(token) = &next {
                body["NextToken"] = json!(token);
            }
            let page = self
                .client
                .call("ListSecrets", &body)
                .map_err(|err| self.failed("list", namespace, "*", err))?;
            for entry in page["SecretList"].as_array().into_iter().flatten() {
                // The name filter matches prefixes (and deeper namespaces): keep this one's.
                let Some(key) = entry["Name"]
                    .as_str()
                    .and_then(|n| n.strip_prefix(&directory))
                    .filter(|k| check_secret_key(k).is_ok())
                else {
                    continue;
                };
                found.push(metadata_of(namespace, key, entry));
            }
            match page["NextToken"].as_str() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        if self.tagged {
            found.extend(self.tagged_list(tenant, namespace)?);
        }
        // Saker's own come first, so a tagged secret of the same key is dropped.
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
        let (name, entry) = self.described("write", tenant, namespace, key)?;
        let old = entry.as_ref().map(|e| metadata_of(namespace, key, e));
        StoreError::check_active_version(write.expected_version, old.as_ref(), namespace, key)?;
        let version = old.as_ref().map_or(1, |m| m.version + 1);
        let tags = self.write_tags(tenant, namespace, key, version, old.as_ref(), &write);
        let description = match &write.update.description {
            Some(text) => text.clone().unwrap_or_default(),
            None => old
                .as_ref()
                .and_then(|m| m.description.clone())
                .unwrap_or_default(),
        };
        let value = write.value.expose();
        let fail = |err| self.failed("write", namespace, key, err);
        match entry {
            None => {
                let created = self.client.call(
                    "CreateSecret",
                    &json!({"Name": name, "SecretString": value,
                        "ClientRequestToken": request_token(),
                        "Description": description, "Tags": aws_tags(&tags)}),
                );
                match created {
                    Err(err) if err.is("ResourceExistsException") => {
                        return Err(StoreError::version_conflict(
                            namespace,
                            key,
                            write.expected_version.unwrap_or(0),
                            1,
                        ));
                    }
                    other => other.map_err(fail)?,
                };
            }
            Some(entry) => {
                if is_deleted(&entry) {
                    self.client
                        .call("RestoreSecret", &json!({"SecretId": name}))
                        .map_err(fail)?;
                }
                self.client
                    .call(
                        "UpdateSecret",
                        &json!({"SecretId": name, "SecretString": value,
                            "ClientRequestToken": request_token(),
                            "Description": description}),
                    )
                    .map_err(fail)?;
                let mut stale: Vec<String> =
                    old.iter().flat_map(|m| m.tags.keys().cloned()).collect();
                stale.extend([TAG_EXPIRES.to_owned(), TAG_ROTATION.to_owned()]);
                stale.retain(|k| !tags.contains_key(k));
                if !stale.is_empty() {
                    self.client
                        .call(
                            "UntagResource",
                            &json!({"SecretId": name, "TagKeys": stale}),
                        )
                        .map_err(fail)?;
                }
                self.client
                    .call(
                        "TagResource",
                        &json!({"SecretId": name, "Tags": aws_tags(&tags)}),
                    )
                    .map_err(fail)?;
            }
        }
        self.current("write", tenant, namespace, key)
    }

    fn delete(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let (name, entry) = self.described("delete", tenant, namespace, key)?;
        match entry {
            Some(entry) if !is_deleted(&entry) => {
                self.client
                    .call(
                        "DeleteSecret",
                        &json!({"SecretId": name, "RecoveryWindowInDays": RECOVERY_DAYS}),
                    )
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
        let (name, entry) = self.described("restore", tenant, namespace, key)?;
        match entry {
            None => Err(StoreError::NoSuchSecret {
                namespace: namespace.clone(),
                key: key.to_owned(),
            }),
            Some(entry) => {
                if is_deleted(&entry) {
                    self.client
                        .call("RestoreSecret", &json!({"SecretId": name}))
                        .map_err(|err| self.failed("restore", namespace, key, err))?;
                }
                self.current("restore", tenant, namespace, key)
            }
        }
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let (name, entry) = self.described("destroy", tenant, namespace, key)?;
        let Some(entry) = entry else {
            return Ok(false);
        };
        let fail = |err| self.failed("destroy", namespace, key, err);
        if is_deleted(&entry) {
            // AWS refuses most calls on a secret scheduled for deletion: bring it back first.
            self.client
                .call("RestoreSecret", &json!({"SecretId": name}))
                .map_err(fail)?;
        }
        self.client
            .call(
                "DeleteSecret",
                &json!({"SecretId": name, "ForceDeleteWithoutRecovery": true}),
            )
            .map_err(fail)?;
        Ok(true)
    }
}
