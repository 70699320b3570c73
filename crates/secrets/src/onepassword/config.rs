//! `secret.1password`: a 1Password Connect server, Kestra's keys in both spellings:
//! `address` (the Connect server's URL), `token` (a Connect access token, sent as a bearer
//! token) and `vaultId` / `vault-id` (the vault the items live in).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::config::{ConfigError, SecretText, read_section};
use crate::json_api::base_url;

const SECTION: &str = "secret.1password";

/// The validated section. `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
pub struct OnePasswordConfig {
    /// Connect server.
    pub address: reqwest::Url,
    /// Connect access token.
    pub token: Zeroizing<String>,
    /// Vault id (26 characters in 1Password; any non-empty id is accepted).
    pub vault_id: String,
}

impl fmt::Debug for OnePasswordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnePasswordConfig")
            .field("address", &self.address.as_str())
            .field("token", &"[REDACTED]")
            .field("vault_id", &self.vault_id)
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
    address: Option<String>,
    token: Option<SecretText>,
    #[serde(alias = "vaultId")]
    vault_id: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// The tags of the section.
pub(crate) fn section_tags(
    section: &serde_json::Value,
) -> Result<BTreeMap<String, String>, ConfigError> {
    Ok(read_section::<Raw>(SECTION, section)?.tags)
}

impl OnePasswordConfig {
    /// Validates the section.
    pub(crate) fn from_section(section: &serde_json::Value) -> Result<Self, ConfigError> {
        let raw: Raw = read_section(SECTION, section)?;
        let address = raw.address.ok_or_else(|| {
            ConfigError::new(
                &format!("{SECTION}.address"),
                "required: the 1Password Connect server's URL, e.g. http://localhost:8080",
            )
        })?;
        let address = base_url(&format!("{SECTION}.address"), &address)?;
        let token = raw
            .token
            .filter(|t| !t.0.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    &format!("{SECTION}.token"),
                    "required: a 1Password Connect access token with access to the vault",
                )
            })?;
        let vault_id = raw
            .vault_id
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    &format!("{SECTION}.vaultId"),
                    "required: the id of the vault holding Saker's items",
                )
            })?;
        if vault_id.contains(['/', '?', '#']) {
            return Err(ConfigError::new(
                &format!("{SECTION}.vaultId"),
                "a vault id holds letters and digits only",
            ));
        }
        Ok(Self {
            address,
            token: token.0,
            vault_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_and_errors_naming_the_key() {
        let camel = OnePasswordConfig::from_section(&json!({"address": "http://op:8080",
            "token": "connect-token-value", "vaultId": "v1"}))
        .unwrap();
        let kebab = OnePasswordConfig::from_section(&json!({"address": "http://op:8080",
            "token": "connect-token-value", "vault-id": "v1"}))
        .unwrap();
        assert_eq!(camel, kebab);
        assert!(!format!("{camel:?}").contains("connect-token-value"));
        for (section, key) in [
            (json!({"token": "t", "vaultId": "v"}), "address"),
            (json!({"address": "http://op", "vaultId": "v"}), "token"),
            (json!({"address": "http://op", "token": "t"}), "vaultId"),
            (
                json!({"address": "op:8080", "token": "t", "vaultId": "v"}),
                "address",
            ),
        ] {
            let err = OnePasswordConfig::from_section(&section).unwrap_err();
            assert_eq!(err.key, format!("secret.1password.{key}"), "{err}");
        }
    }
}
