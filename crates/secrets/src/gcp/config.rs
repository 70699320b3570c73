//! `secret.google-secret-manager`: Kestra's keys in both spellings (`serviceAccount` and
//! `service-account`): `project`, the service account key as JSON text (`serviceAccount`) or,
//! without it, the key file `GOOGLE_APPLICATION_CREDENTIALS` names, `prefix`, and `endpoint`
//! for a Secret Manager elsewhere than `https://secretmanager.googleapis.com` (a test server,
//! a private endpoint).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::cloud::{checked_prefix, endpoint_url};
use crate::config::{ConfigError, SecretText};

const SECTION: &str = "secret.google-secret-manager";
const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The service account Saker signs its token requests as. `Debug` shows the e-mail only.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// `client_email`: the JWT's issuer.
    pub client_email: String,
    /// `private_key_id`: the JWT's `kid`.
    pub private_key_id: Option<String>,
    /// `private_key`: PEM (PKCS#8 as Google issues it, or PKCS#1).
    pub private_key: Zeroizing<String>,
    /// `token_uri`: where the JWT is exchanged for an access token.
    pub token_uri: String,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key", &"[REDACTED]")
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpConfig {
    /// Project id holding the secrets (`project`, else the key's `project_id`).
    pub project: String,
    /// Credentials.
    pub account: ServiceAccount,
    /// First part of every secret id Saker writes (`[A-Za-z0-9_-]`, no `--`).
    pub prefix: Option<String>,
    /// Secret Manager's REST root, without a trailing `/`.
    pub endpoint: String,
}

#[derive(Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct Raw {
    #[serde(alias = "projectId", alias = "project-id")]
    project: Option<String>,
    #[serde(alias = "serviceAccount")]
    service_account: Option<SecretText>,
    prefix: Option<String>,
    #[serde(alias = "endpointOverride", alias = "endpoint-override")]
    endpoint: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
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

/// A service account key file's JSON, checked. Messages never quote the text.
fn service_account(
    text: &str,
    from: &str,
) -> Result<(ServiceAccount, Option<String>), ConfigError> {
    let fail = |message: String| ConfigError::new(&key("serviceAccount"), message);
    let json: Value = serde_json::from_str(text).map_err(|err| {
        fail(format!(
            "{from} is not JSON (line {}, column {}): paste the whole key file Google gave",
            err.line(),
            err.column()
        ))
    })?;
    if json["type"].as_str() != Some("service_account") {
        return Err(fail(format!(
            "{from} is not a service account key (its \"type\" is not \"service_account\")"
        )));
    }
    let field = |name: &str| {
        json[name]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let client_email =
        field("client_email").ok_or_else(|| fail(format!("{from} has no \"client_email\"")))?;
    let private_key = Zeroizing::new(
        field("private_key").ok_or_else(|| fail(format!("{from} has no \"private_key\"")))?,
    );
    jsonwebtoken::EncodingKey::from_rsa_pem(private_key.as_bytes()).map_err(|_| {
        fail(format!(
            "the \"private_key\" of {from} is not an RSA private key in PEM"
        ))
    })?;
    let token_uri = field("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
    let token_uri = endpoint_url(&key("serviceAccount"), &token_uri)?;
    Ok((
        ServiceAccount {
            client_email,
            private_key_id: field("private_key_id"),
            private_key,
            token_uri,
        },
        field("project_id"),
    ))
}

impl GcpConfig {
    /// Validates the section, reading the key file `GOOGLE_APPLICATION_CREDENTIALS` names
    /// (through `env`) when `serviceAccount` is not set.
    pub(crate) fn from_section(
        section: &Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw = parse_raw(section)?;
        let (account, key_project) = match raw.service_account {
            Some(text) => service_account(&text.0, "serviceAccount")?,
            None => {
                let path = env("GOOGLE_APPLICATION_CREDENTIALS")
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| {
                        ConfigError::new(
                            &key("serviceAccount"),
                            "no credentials: set serviceAccount to the service account key \
                             (JSON), or GOOGLE_APPLICATION_CREDENTIALS to its file (the \
                             metadata server of Google's VMs is not read yet)",
                        )
                    })?;
                let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|err| {
                    ConfigError::new(
                        &key("serviceAccount"),
                        format!("cannot read GOOGLE_APPLICATION_CREDENTIALS ({path}): {err}"),
                    )
                })?);
                service_account(&text, &format!("the file {path}"))?
            }
        };
        let project = raw
            .project
            .filter(|p| !p.trim().is_empty())
            .or(key_project)
            .ok_or_else(|| {
                ConfigError::new(
                    &key("project"),
                    "no project: set it here (the id of the project holding the secrets)",
                )
            })?;
        if let Some(bad) = project
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-:.".contains(*c)))
        {
            return Err(ConfigError::new(
                &key("project"),
                format!("'{bad}' cannot be in a project id"),
            ));
        }
        let prefix = checked_prefix(
            &key("prefix"),
            raw.prefix,
            |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
            "letters, digits, '_' and '-'",
        )?;
        let endpoint = match raw.endpoint {
            Some(url) => endpoint_url(&key("endpoint"), &url)?,
            None => DEFAULT_ENDPOINT.to_owned(),
        };
        Ok(GcpConfig {
            project,
            account,
            prefix,
            endpoint,
        })
    }
}
