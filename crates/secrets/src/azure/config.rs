//! `secret.azure-key-vault`: Kestra's keys in both spellings (`clientSecret.tenantId` and
//! `client-secret.tenant-id`): the service principal `clientSecret.{tenantId, clientId,
//! clientSecret}` (else `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, as
//! Azure's EnvironmentCredential reads them), the vault by `vaultName` or `keyVaultUri`,
//! `prefix`, and for other clouds, private endpoints or tests `authority` (default
//! `https://login.microsoftonline.com`) and `caFile` (a PEM root certificate trusted besides
//! the public ones).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::cloud::{checked_prefix, endpoint_url};
use crate::config::{ConfigError, SecretText};

const SECTION: &str = "secret.azure-key-vault";
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The validated section. `Debug` never shows the client secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// Directory (tenant) id of the service principal.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Zeroizing<String>,
    /// `https://<vaultName>.vault.azure.net` or `keyVaultUri`, without a trailing `/`.
    pub vault_url: String,
    /// Token authority, without a trailing `/`.
    pub authority: String,
    /// First part of every secret name Saker writes (letters, digits, `-`; no `--`).
    pub prefix: Option<String>,
    /// Extra trusted root certificate (PEM).
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureConfig")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("vault_url", &self.vault_url)
            .field("authority", &self.authority)
            .field("prefix", &self.prefix)
            .finish()
    }
}

#[derive(Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct Raw {
    #[serde(alias = "clientSecret")]
    client_secret: Option<RawClientSecret>,
    #[serde(alias = "vaultName")]
    vault_name: Option<String>,
    #[serde(alias = "keyVaultUri")]
    key_vault_uri: Option<String>,
    prefix: Option<String>,
    authority: Option<String>,
    #[serde(alias = "caFile")]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct RawClientSecret {
    #[serde(alias = "tenantId")]
    tenant_id: Option<String>,
    #[serde(alias = "clientId")]
    client_id: Option<String>,
    #[serde(alias = "clientSecret")]
    client_secret: Option<SecretText>,
}

fn parse_raw(section: &Value) -> Result<Raw, ConfigError> {
    if section.is_null() {
        return Ok(Raw::default());
    }
    crate::config::deserialize_section(SECTION, section.clone())
}

/// The tags of a section (read whichever backend is selected).
pub(crate) fn section_tags(section: &Value) -> Result<BTreeMap<String, String>, ConfigError> {
    Ok(parse_raw(section)?.tags)
}

fn key(name: &str) -> String {
    format!("{SECTION}.{name}")
}

impl AzureConfig {
    /// Validates the section; without `clientSecret` the service principal comes from
    /// `env` (the process environment in production).
    pub(crate) fn from_section(
        section: &Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw = parse_raw(section)?;
        let (tenant_id, client_id, client_secret) = match raw.client_secret {
            Some(principal) => {
                let missing = |name: &str| {
                    ConfigError::new(
                        &key(&format!("clientSecret.{name}")),
                        "is required: the service principal needs tenantId, clientId and \
                         clientSecret",
                    )
                };
                (
                    principal.tenant_id.ok_or_else(|| missing("tenantId"))?,
                    principal.client_id.ok_or_else(|| missing("clientId"))?,
                    principal
                        .client_secret
                        .ok_or_else(|| missing("clientSecret"))?
                        .0,
                )
            }
            None => match (
                env("AZURE_TENANT_ID"),
                env("AZURE_CLIENT_ID"),
                env("AZURE_CLIENT_SECRET"),
            ) {
                (Some(tenant), Some(client), Some(secret)) => {
                    (tenant, client, Zeroizing::new(secret))
                }
                _ => {
                    return Err(ConfigError::new(
                        &key("clientSecret"),
                        "no credentials: set clientSecret.{tenantId, clientId, clientSecret}, \
                         or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET in the \
                         environment (managed identities are not read yet)",
                    ));
                }
            },
        };
        if tenant_id.is_empty()
            || !tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
        {
            return Err(ConfigError::new(
                &key("clientSecret.tenantId"),
                "must be the directory id (a GUID) or its domain name",
            ));
        }
        let vault_url = match (raw.key_vault_uri, raw.vault_name) {
            (Some(uri), _) => endpoint_url(&key("keyVaultUri"), &uri)?,
            (None, Some(name)) => {
                let valid = (3..=24).contains(&name.len())
                    && name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !valid {
                    return Err(ConfigError::new(
                        &key("vaultName"),
                        "a vault name has 3 to 24 letters, digits and dashes and starts with a \
                         letter",
                    ));
                }
                format!("https://{name}.vault.azure.net")
            }
            (None, None) => {
                return Err(ConfigError::new(
                    &key("vaultName"),
                    "no vault: set vaultName, or keyVaultUri (https://<name>.vault.azure.net)",
                ));
            }
        };
        let authority = match raw.authority {
            Some(url) => endpoint_url(&key("authority"), &url)?,
            None => DEFAULT_AUTHORITY.to_owned(),
        };
        let prefix = checked_prefix(
            &key("prefix"),
            raw.prefix,
            |c| c.is_ascii_alphanumeric() || c == '-',
            "letters, digits and '-'",
        )?;
        if let Some(path) = &raw.ca_file
            && !path.is_file()
        {
            return Err(ConfigError::new(
                &key("caFile"),
                format!("{} is not a file", path.display()),
            ));
        }
        Ok(AzureConfig {
            tenant_id,
            client_id,
            client_secret,
            vault_url,
            authority,
            prefix,
            ca_file: raw.ca_file,
        })
    }
}
