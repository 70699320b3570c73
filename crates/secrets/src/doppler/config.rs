//! `secret.doppler`: Kestra's keys in both spellings: `token` (a service token or personal
//! token, sent as a bearer token), `project`, `config`, `secretNamePrefix` /
//! `secret-name-prefix` (put before every name Saker writes), and `endpointOverride` /
//! `endpoint-override` to call another address than `https://api.doppler.com`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::config::{ConfigError, SecretText, read_section};
use crate::json_api::base_url;

const SECTION: &str = "secret.doppler";
/// Doppler's API.
pub const DEFAULT_ENDPOINT: &str = "https://api.doppler.com";

/// The validated section. `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
pub struct DopplerConfig {
    /// Bearer token.
    pub token: Zeroizing<String>,
    /// Project name.
    pub project: String,
    /// Config name (`dev`, `prd`...).
    pub config: String,
    /// Put before every secret name (`SAKER_`); upper-case letters, digits and `_`.
    pub secret_name_prefix: String,
    /// API address.
    pub endpoint: reqwest::Url,
}

impl fmt::Debug for DopplerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DopplerConfig")
            .field("token", &"[REDACTED]")
            .field("project", &self.project)
            .field("config", &self.config)
            .field("secret_name_prefix", &self.secret_name_prefix)
            .field("endpoint", &self.endpoint.as_str())
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
    token: Option<SecretText>,
    project: Option<String>,
    config: Option<String>,
    #[serde(alias = "secretNamePrefix")]
    secret_name_prefix: Option<String>,
    #[serde(alias = "endpointOverride")]
    endpoint_override: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// The tags of the section.
pub(crate) fn section_tags(
    section: &serde_json::Value,
) -> Result<BTreeMap<String, String>, ConfigError> {
    Ok(read_section::<Raw>(SECTION, section)?.tags)
}

fn required(name: &str, value: Option<String>, what: &str) -> Result<String, ConfigError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ConfigError::new(&format!("{SECTION}.{name}"), format!("required: {what}")))
}

impl DopplerConfig {
    /// Validates the section.
    pub(crate) fn from_section(section: &serde_json::Value) -> Result<Self, ConfigError> {
        let raw: Raw = read_section(SECTION, section)?;
        let token = raw
            .token
            .filter(|t| !t.0.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    &format!("{SECTION}.token"),
                    "required: a Doppler service token (dp.st...) or personal token with \
                     access to the project and config",
                )
            })?;
        let project = required("project", raw.project, "the Doppler project's name")?;
        let config = required(
            "config",
            raw.config,
            "the Doppler config's name (dev, prd...)",
        )?;
        let secret_name_prefix = raw.secret_name_prefix.unwrap_or_default();
        if let Some(bad) = secret_name_prefix
            .chars()
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(ConfigError::new(
                &format!("{SECTION}.secretNamePrefix"),
                format!(
                    "'{bad}' cannot be in a Doppler secret name: use upper-case letters, \
                     digits and '_'"
                ),
            ));
        }
        if secret_name_prefix.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(ConfigError::new(
                &format!("{SECTION}.secretNamePrefix"),
                "Doppler secret names cannot start with a digit",
            ));
        }
        let endpoint = base_url(
            &format!("{SECTION}.endpointOverride"),
            raw.endpoint_override.as_deref().unwrap_or(DEFAULT_ENDPOINT),
        )?;
        Ok(Self {
            token: token.0,
            project,
            config,
            secret_name_prefix,
            endpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_and_errors_naming_the_key() {
        let camel = DopplerConfig::from_section(&json!({"token": "dp.st.secret-token",
            "project": "p", "config": "dev", "secretNamePrefix": "SAKER_",
            "endpointOverride": "http://127.0.0.1:9"}))
        .unwrap();
        let kebab = DopplerConfig::from_section(&json!({"token": "dp.st.secret-token",
            "project": "p", "config": "dev", "secret-name-prefix": "SAKER_",
            "endpoint-override": "http://127.0.0.1:9"}))
        .unwrap();
        assert_eq!(camel, kebab);
        assert!(!format!("{camel:?}").contains("secret-token"));
        let plain = DopplerConfig::from_section(&json!({"token": "t", "project": "p",
            "config": "dev"}))
        .unwrap();
        assert_eq!(plain.endpoint.as_str(), "https://api.doppler.com/");
        for (section, key) in [
            (json!({"project": "p", "config": "c"}), "token"),
            (json!({"token": "t", "config": "c"}), "project"),
            (json!({"token": "t", "project": "p"}), "config"),
            (
                json!({"token": "t", "project": "p", "config": "c", "secretNamePrefix": "saker"}),
                "secretNamePrefix",
            ),
        ] {
            let err = DopplerConfig::from_section(&section).unwrap_err();
            assert_eq!(err.key, format!("secret.doppler.{key}"), "{err}");
        }
    }
}
