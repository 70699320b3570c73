//! Typed `secret:` configuration (issue 4 point 2), read from the `secret` subtree that the
//! configuration loader hands over as a `serde_json::Value` (from under `saker:` or
//! `kestra:`).
//!
//! ```yaml
//! secret:
//!   type: jdbc                   # jdbc (default) | env | vault | aws-secret-manager |
//!                                # google-secret-manager | azure-key-vault | elasticsearch
//!                                # | 1password | doppler
//!   read-only: false             # true: writes are refused, the backend is the source
//!   vault: {...}                 # see vault::config and docs/secrets.md
//!   aws-secret-manager: {...}    # see aws::config
//!   google-secret-manager: {...} # see gcp::config
//!   azure-key-vault: {...}       # see azure::config
//!   elasticsearch: {...}         # see elasticsearch::config
//!   1password: {...}             # see onepassword::config
//!   doppler: {...}               # see doppler::config
//!   jdbc:
//!     secret: "at least 32 characters"   # optional; see JdbcConfig::key
//!     previous-secrets: ["the old one"]  # still read while `saker secret rekey` runs
//!     max-versions: 10
//!     tags: {application: saker-production}
//!   cache: {enabled: true, maximum-size: 1000, expire-after-write: 60s, stale-if-error: false}
//!   isolation: {enabled: true, denied-services: [EXECUTOR]}
//!   expiry-warning: 7d
//!   namespace-grants:
//!     - namespace: shared.db
//!       flows: [company.team]
//! ```
//!
//! Sections of backends other than the selected one are accepted and ignored, so a Kestra
//! file that configures several backends still loads.
//! Errors name the key (`secret.cache.expire-after-write`) and how to fix it, and never
//! repeat a configured value: a misplaced secret must not end up in a start-up log.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use saker_crypto::SecretKey;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use crate::duration::parse_duration;
use crate::isolation::{IsolationConfig, Service};
use crate::namespace::{NamespaceAccess, NamespaceGrant};

mod section;

use section::sanitize;
#[cfg_attr(not(feature = "remote"), allow(unused_imports))]
pub(crate) use section::{SecretText, deserialize_section};
// Only the backends over `json_api.rs` read optional sections.
#[cfg(any(
    feature = "elasticsearch",
    feature = "onepassword",
    feature = "doppler"
))]
pub(crate) use section::read_section;

/// A configuration key with a problem, and the fix. Never holds a configured value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// Full key, e.g. `secret.isolation.denied-services[1]`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// A secret backend named by `secret.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Encrypted store in the repository database.
    Jdbc,
    /// `SECRET_*` environment variables.
    Env,
    /// HashiCorp Vault KV v2.
    Vault,
    /// AWS Secrets Manager.
    AwsSecretManager,
    /// Azure Key Vault.
    AzureKeyVault,
    /// Google Secret Manager.
    GoogleSecretManager,
    /// Elasticsearch.
    Elasticsearch,
    /// 1Password, through a 1Password Connect server.
    OnePassword,
    /// Doppler.
    Doppler,
}

impl BackendKind {
    const ALL: [BackendKind; 9] = [
        BackendKind::Jdbc,
        BackendKind::Env,
        BackendKind::Vault,
        BackendKind::AwsSecretManager,
        BackendKind::AzureKeyVault,
        BackendKind::GoogleSecretManager,
        BackendKind::Elasticsearch,
        BackendKind::OnePassword,
        BackendKind::Doppler,
    ];

    /// The name used in `secret.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Jdbc => "jdbc",
            BackendKind::Env => "env",
            BackendKind::Vault => "vault",
            BackendKind::AwsSecretManager => "aws-secret-manager",
            BackendKind::AzureKeyVault => "azure-key-vault",
            BackendKind::GoogleSecretManager => "google-secret-manager",
            BackendKind::Elasticsearch => "elasticsearch",
            BackendKind::OnePassword => "1password",
            BackendKind::Doppler => "doppler",
        }
    }

    /// Whether Saker implements it.
    pub fn is_available(self) -> bool {
        match self {
            BackendKind::Jdbc | BackendKind::Env => true,
            BackendKind::AwsSecretManager => cfg!(feature = "aws"),
            BackendKind::Vault => cfg!(feature = "vault"),
            BackendKind::GoogleSecretManager => cfg!(feature = "gcp"),
            BackendKind::AzureKeyVault => cfg!(feature = "azure"),
            BackendKind::Elasticsearch => cfg!(feature = "elasticsearch"),
            BackendKind::OnePassword => cfg!(feature = "onepassword"),
            BackendKind::Doppler => cfg!(feature = "doppler"),
        }
    }

    /// Reads a `secret.type` value; `azure-secret-manager` (the name in one Kestra page) is
    /// taken as `azure-key-vault`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        if text == "azure-secret-manager" {
            return Some(BackendKind::AzureKeyVault);
        }
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `secret.cache`. Within one process writes, deletes and revocations invalidate at once;
/// across processes a value may be stale for up to `expire_after_write`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Whether resolved values are cached.
    pub enabled: bool,
    /// Maximum number of cached values.
    pub maximum_size: u64,
    /// Time to live of a cached value.
    pub expire_after_write: Duration,
    /// `stale-if-error`: when the backend fails, answer the last value it gave for the key
    /// (even past its time to live) and log a warning naming backend and key. Off by
    /// default: a backend that is down fails closed.
    pub stale_if_error: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            maximum_size: 1000,
            expire_after_write: Duration::from_secs(60),
            stale_if_error: false,
        }
    }
}

/// `secret.jdbc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdbcConfig {
    /// Key derived from `secret.jdbc.secret`, if set (the passphrase itself is not kept).
    /// When absent the jdbc store uses the `encryption.secret-key` keyring.
    pub key: Option<SecretKey>,
    /// Keys derived from `secret.jdbc.previous-secrets`: they open values but never seal,
    /// so the store keeps reading while `saker secret rekey` moves values to `key`.
    pub previous_keys: Vec<SecretKey>,
    /// How many versions of each secret are kept (`max-versions`, at least 1).
    pub max_versions: u32,
}

impl Default for JdbcConfig {
    fn default() -> Self {
        Self {
            key: None,
            previous_keys: Vec::new(),
            max_versions: 10,
        }
    }
}

/// The whole `secret:` section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretConfig {
    /// The configured backend; always an available one.
    pub backend: BackendKind,
    /// `secret.jdbc`.
    pub jdbc: JdbcConfig,
    /// `secret.<type>.tags` of the configured backend: default tags of new secrets.
    pub tags: BTreeMap<String, String>,
    /// `secret.cache`.
    pub cache: CacheConfig,
    /// `secret.isolation`.
    pub isolation: IsolationConfig,
    /// `secret.expiry-warning`: how long before `expires-at` executions log a warning.
    pub expiry_warning: Duration,
    /// `secret.namespace-grants`.
    pub namespace_grants: Vec<NamespaceGrant>,
    /// `secret.read-only`: the external system is the source of truth; every write through
    /// Saker is refused with a "read-only" error.
    pub read_only: bool,
    /// `filter-on-tags` and `filter-on-prefix` of the selected backend's section: what a
    /// read-only backend lets Saker see.
    pub filter: crate::filter::SecretFilter,
    /// `secret.aws-secret-manager`, validated when it is the selected backend.
    #[cfg(feature = "aws")]
    pub aws: Option<crate::aws::AwsConfig>,
    /// `secret.vault`, validated when it is the selected backend.
    #[cfg(feature = "vault")]
    pub vault: Option<crate::vault::VaultConfig>,
    /// `secret.google-secret-manager`, validated when it is the selected backend.
    #[cfg(feature = "gcp")]
    pub gcp: Option<crate::gcp::GcpConfig>,
    /// `secret.azure-key-vault`, validated when it is the selected backend.
    #[cfg(feature = "azure")]
    pub azure: Option<crate::azure::AzureConfig>,
    /// `secret.elasticsearch`, validated when it is the selected backend.
    #[cfg(feature = "elasticsearch")]
    pub elasticsearch: Option<crate::elasticsearch::ElasticsearchConfig>,
    /// `secret.1password`, validated when it is the selected backend.
    #[cfg(feature = "onepassword")]
    pub onepassword: Option<crate::onepassword::OnePasswordConfig>,
    /// `secret.doppler`, validated when it is the selected backend.
    #[cfg(feature = "doppler")]
    pub doppler: Option<crate::doppler::DopplerConfig>,
}

impl Default for SecretConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Jdbc,
            jdbc: JdbcConfig::default(),
            tags: BTreeMap::new(),
            cache: CacheConfig::default(),
            isolation: IsolationConfig::default(),
            expiry_warning: Duration::from_secs(7 * 86_400),
            namespace_grants: Vec::new(),
            read_only: false,
            filter: crate::filter::SecretFilter::default(),
            #[cfg(feature = "aws")]
            aws: None,
            #[cfg(feature = "vault")]
            vault: None,
            #[cfg(feature = "gcp")]
            gcp: None,
            #[cfg(feature = "azure")]
            azure: None,
            #[cfg(feature = "elasticsearch")]
            elasticsearch: None,
            #[cfg(feature = "onepassword")]
            onepassword: None,
            #[cfg(feature = "doppler")]
            doppler: None,
        }
    }
}

impl SecretConfig {
    /// Reads and validates the `secret` subtree; `Value::Null` (no section) gives the
    /// defaults.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        Self::from_value_with_env(value, &|name| std::env::var(name).ok())
    }

    /// [`SecretConfig::from_value`] completing backend sections (the AWS default credential
    /// chain) from `env` rather than the process environment.
    pub fn from_value_with_env(
        value: serde_json::Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        if value.is_null() {
            return Ok(Self::default());
        }
        let mut value = value;
        let filter = crate::filter::take_from_section(&mut value)?;
        let raw: Raw = serde_path_to_error::deserialize(value).map_err(|err| {
            let path = err.path().to_string();
            let key = if path == "." {
                "secret".to_owned()
            } else {
                format!("secret.{path}")
            };
            ConfigError::new(&key, sanitize(&err.into_inner().to_string()))
        })?;
        let mut config = raw.validate(env)?;
        if !filter.is_empty() && !config.read_only {
            return Err(ConfigError::new(
                &format!("secret.{}.filter-on-tags", config.backend),
                "filter-on-tags and filter-on-prefix select what a read-only backend shows: \
                 set secret.read-only: true, or remove the filter",
            ));
        }
        config.filter = filter;
        Ok(config)
    }

    /// The namespace rule with the configured grants.
    pub fn namespace_access(&self) -> NamespaceAccess {
        NamespaceAccess::new(self.namespace_grants.clone())
    }
}

impl<'de> Deserialize<'de> for SecretConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Through the JSON tree, so that the backend section's filters are read as by
        // `from_value`.
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct Raw {
    #[serde(rename = "type")]
    backend: Option<String>,
    #[serde(default)]
    jdbc: RawJdbc,
    #[serde(default)]
    env: RawSection,
    // Read by the backend it configures, when that backend is compiled in.
    #[serde(default)]
    #[cfg_attr(not(feature = "vault"), allow(dead_code))]
    vault: serde_json::Value,
    #[serde(default, alias = "awsSecretManager")]
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    aws_secret_manager: serde_json::Value,
    #[serde(default, alias = "readOnly")]
    read_only: bool,
    #[serde(default, alias = "azureKeyVault", alias = "azure-secret-manager")]
    #[cfg_attr(not(feature = "azure"), allow(dead_code))]
    azure_key_vault: serde_json::Value,
    #[serde(default, alias = "googleSecretManager")]
    #[cfg_attr(not(feature = "gcp"), allow(dead_code))]
    google_secret_manager: serde_json::Value,
    #[serde(default)]
    #[cfg_attr(not(feature = "elasticsearch"), allow(dead_code))]
    elasticsearch: serde_json::Value,
    #[serde(
        default,
        rename = "1password",
        alias = "onepassword",
        alias = "one-password"
    )]
    #[cfg_attr(not(feature = "onepassword"), allow(dead_code))]
    onepassword: serde_json::Value,
    #[serde(default)]
    #[cfg_attr(not(feature = "doppler"), allow(dead_code))]
    doppler: serde_json::Value,
    #[serde(default)]
    cache: RawCache,
    #[serde(default)]
    isolation: RawIsolation,
    #[serde(alias = "expiryWarning")]
    expiry_warning: Option<String>,
    #[serde(default, alias = "namespaceGrants")]
    namespace_grants: Vec<NamespaceGrant>,
}

/// A backend section we do not implement: only its tags are read.
#[derive(Default, Deserialize)]
#[serde(expecting = "a map of settings")]
struct RawSection {
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(flatten)]
    _rest: BTreeMap<String, IgnoredAny>,
}

#[derive(Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct RawJdbc {
    secret: Option<SecretText>,
    #[serde(default, alias = "previousSecrets")]
    previous_secrets: Vec<SecretText>,
    #[serde(alias = "maxVersions")]
    max_versions: Option<u32>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct RawCache {
    enabled: Option<bool>,
    #[serde(alias = "maximumSize")]
    maximum_size: Option<u64>,
    #[serde(alias = "expireAfterWrite")]
    expire_after_write: Option<String>,
    #[serde(default, alias = "staleIfError")]
    stale_if_error: bool,
}

#[derive(Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct RawIsolation {
    #[serde(default)]
    enabled: bool,
    #[serde(default, alias = "deniedServices")]
    denied_services: Vec<String>,
}

const AVAILABLE: &str = "available: jdbc, env, vault, aws-secret-manager, \
                         google-secret-manager, azure-key-vault, elasticsearch, 1password, doppler";

fn duration(key: &str, text: Option<&str>, default: Duration) -> Result<Duration, ConfigError> {
    match text {
        None => Ok(default),
        Some(text) => parse_duration(text).map_err(|err| ConfigError::new(key, err.to_string())),
    }
}

impl Raw {
    fn validate(self, env: &dyn Fn(&str) -> Option<String>) -> Result<SecretConfig, ConfigError> {
        #[cfg(not(any(feature = "aws", feature = "vault", feature = "gcp", feature = "azure")))]
        let _ = env;
        let defaults = SecretConfig::default();
        let backend = match self.backend.as_deref() {
            None => defaults.backend,
            Some(text) => {
                let kind = BackendKind::parse(text).ok_or_else(|| {
                    ConfigError::new(
                        "secret.type",
                        format!("unknown secret backend; {AVAILABLE}"),
                    )
                })?;
                if !kind.is_available() {
                    return Err(ConfigError::new(
                        "secret.type",
                        format!(
                            "secret backend '{kind}' is not yet available in Saker; {AVAILABLE}"
                        ),
                    ));
                }
                kind
            }
        };

        let key = match &self.jdbc.secret {
            None => None,
            Some(passphrase) => Some(
                SecretKey::from_passphrase(&passphrase.0)
                    .map_err(|err| ConfigError::new("secret.jdbc.secret", err.to_string()))?,
            ),
        };
        let mut previous_keys = Vec::new();
        for (index, passphrase) in self.jdbc.previous_secrets.iter().enumerate() {
            previous_keys.push(SecretKey::from_passphrase(&passphrase.0).map_err(|err| {
                ConfigError::new(
                    &format!("secret.jdbc.previous-secrets[{index}]"),
                    err.to_string(),
                )
            })?);
        }
        let max_versions = self.jdbc.max_versions.unwrap_or(defaults.jdbc.max_versions);
        if max_versions == 0 {
            return Err(ConfigError::new(
                "secret.jdbc.max-versions",
                "must be at least 1 (the current version is always kept)",
            ));
        }

        let cache = CacheConfig {
            enabled: self.cache.enabled.unwrap_or(defaults.cache.enabled),
            maximum_size: self
                .cache
                .maximum_size
                .unwrap_or(defaults.cache.maximum_size),
            expire_after_write: duration(
                "secret.cache.expire-after-write",
                self.cache.expire_after_write.as_deref(),
                defaults.cache.expire_after_write,
            )?,
            stale_if_error: self.cache.stale_if_error,
        };
        if cache.enabled && cache.maximum_size == 0 {
            return Err(ConfigError::new(
                "secret.cache.maximum-size",
                "must be at least 1 while the cache is enabled; to turn the cache off set \
                 secret.cache.enabled: false",
            ));
        }
        if cache.enabled && cache.expire_after_write.is_zero() {
            return Err(ConfigError::new(
                "secret.cache.expire-after-write",
                "must be longer than zero while the cache is enabled; to turn the cache off \
                 set secret.cache.enabled: false",
            ));
        }

        let mut denied_services = BTreeSet::new();
        for (index, name) in self.isolation.denied_services.iter().enumerate() {
            let service: Service = name.parse().map_err(|err: crate::UnknownService| {
                ConfigError::new(
                    &format!("secret.isolation.denied-services[{index}]"),
                    err.to_string(),
                )
            })?;
            denied_services.insert(service);
        }
        if !self.isolation.enabled && !denied_services.is_empty() {
            return Err(ConfigError::new(
                "secret.isolation.enabled",
                "denied-services is set but isolation is not enabled, so it would have no \
                 effect: set secret.isolation.enabled: true, or remove denied-services",
            ));
        }

        for (index, grant) in self.namespace_grants.iter().enumerate() {
            if grant.flows.is_empty() {
                return Err(ConfigError::new(
                    &format!("secret.namespace-grants[{index}].flows"),
                    "list at least one namespace whose flows (and their sub-namespaces' \
                     flows) may read this namespace's secrets",
                ));
            }
        }

        let tags = match backend {
            BackendKind::Jdbc => self.jdbc.tags,
            BackendKind::Env => self.env.tags,
            #[cfg(feature = "vault")]
            BackendKind::Vault => crate::vault::section_tags(&self.vault)?,
            #[cfg(not(feature = "vault"))]
            BackendKind::Vault => BTreeMap::new(),
            #[cfg(feature = "aws")]
            BackendKind::AwsSecretManager => crate::aws::section_tags(&self.aws_secret_manager)?,
            #[cfg(not(feature = "aws"))]
            BackendKind::AwsSecretManager => BTreeMap::new(),
            #[cfg(feature = "azure")]
            BackendKind::AzureKeyVault => crate::azure::section_tags(&self.azure_key_vault)?,
            #[cfg(feature = "gcp")]
            BackendKind::GoogleSecretManager => {
                crate::gcp::section_tags(&self.google_secret_manager)?
            }
            #[cfg(feature = "elasticsearch")]
            BackendKind::Elasticsearch => crate::elasticsearch::section_tags(&self.elasticsearch)?,
            #[cfg(feature = "onepassword")]
            BackendKind::OnePassword => crate::onepassword::section_tags(&self.onepassword)?,
            #[cfg(feature = "doppler")]
            BackendKind::Doppler => crate::doppler::section_tags(&self.doppler)?,
            #[cfg(not(all(
                feature = "azure",
                feature = "gcp",
                feature = "elasticsearch",
                feature = "onepassword",
                feature = "doppler"
            )))]
            _ => BTreeMap::new(),
        };

        Ok(SecretConfig {
            backend,
            jdbc: JdbcConfig {
                key,
                previous_keys,
                max_versions,
            },
            tags,
            cache,
            isolation: IsolationConfig {
                enabled: self.isolation.enabled,
                denied_services,
            },
            expiry_warning: duration(
                "secret.expiry-warning",
                self.expiry_warning.as_deref(),
                defaults.expiry_warning,
            )?,
            namespace_grants: self.namespace_grants,
            read_only: self.read_only,
            filter: crate::filter::SecretFilter::default(),
            #[cfg(feature = "aws")]
            aws: match backend {
                BackendKind::AwsSecretManager => Some(crate::aws::AwsConfig::from_section(
                    &self.aws_secret_manager,
                    env,
                )?),
                _ => None,
            },
            #[cfg(feature = "vault")]
            vault: match backend {
                BackendKind::Vault => {
                    Some(crate::vault::VaultConfig::from_section(&self.vault, env)?)
                }
                _ => None,
            },
            #[cfg(feature = "gcp")]
            gcp: match backend {
                BackendKind::GoogleSecretManager => Some(crate::gcp::GcpConfig::from_section(
                    &self.google_secret_manager,
                    env,
                )?),
                _ => None,
            },
            #[cfg(feature = "azure")]
            azure: match backend {
                BackendKind::AzureKeyVault => Some(crate::azure::AzureConfig::from_section(
                    &self.azure_key_vault,
                    env,
                )?),
                _ => None,
            },
            #[cfg(feature = "elasticsearch")]
            elasticsearch: match backend {
                BackendKind::Elasticsearch => Some(
                    crate::elasticsearch::ElasticsearchConfig::from_section(&self.elasticsearch)?,
                ),
                _ => None,
            },
            #[cfg(feature = "onepassword")]
            onepassword: match backend {
                BackendKind::OnePassword => Some(
                    crate::onepassword::OnePasswordConfig::from_section(&self.onepassword)?,
                ),
                _ => None,
            },
            #[cfg(feature = "doppler")]
            doppler: match backend {
                BackendKind::Doppler => {
                    Some(crate::doppler::DopplerConfig::from_section(&self.doppler)?)
                }
                _ => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_jdbc_secrets_become_reading_keys() {
        let config = SecretConfig::from_value(serde_json::json!({
            "jdbc": {
                "secret": "the-new-passphrase-of-at-least-32-chars",
                "previous-secrets": ["the-old-passphrase-of-at-least-32-chars"]
            }
        }))
        .unwrap();
        assert_eq!(config.jdbc.previous_keys.len(), 1);
        assert_ne!(
            config.jdbc.previous_keys[0].id(),
            config.jdbc.key.as_ref().unwrap().id()
        );
        let err = SecretConfig::from_value(serde_json::json!({
            "jdbc": {"previous-secrets": ["short-and-secret"]}
        }))
        .unwrap_err();
        assert_eq!(err.key, "secret.jdbc.previous-secrets[0]");
        assert!(!err.to_string().contains("short-and-secret"));
    }

    #[test]
    fn sanitize_drops_quoted_input() {
        assert_eq!(
            sanitize(r#"invalid type: string "hunter2, expected x", expected a map"#),
            "wrong type: expected a map"
        );
        assert_eq!(
            sanitize("invalid type: integer `12345`, expected a string"),
            "wrong type: expected a string"
        );
        assert_eq!(
            sanitize("unknown field `cahce`, expected one of `type`, `jdbc`"),
            "unknown field `cahce`, expected one of `type`, `jdbc`"
        );
    }
}
