//! `secret.aws-secret-manager`: Kestra's keys in both spellings (`accessKeyId` and
//! `access-key-id`), and the default credential chain when no keys are set: the
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` variables, then the shared
//! credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile
//! `AWS_PROFILE` or `default`); the region from `region`, `AWS_REGION`, `AWS_DEFAULT_REGION`
//! or the profile in `~/.aws/config`, as the AWS CLI looks for them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::config::{ConfigError, SecretText};

/// Credentials that sign requests. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// Access key id (not secret: it names the key).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// Signing credentials, from the section or the default chain.
    pub credentials: AwsCredentials,
    /// Region requests are signed for.
    pub region: String,
    /// First segment of every secret name Saker writes (no leading or trailing `/`).
    pub prefix: Option<String>,
    /// Endpoint to call instead of `https://secretsmanager.<region>.amazonaws.com`.
    pub endpoint: String,
}

#[derive(Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct Raw {
    #[serde(alias = "accessKeyId")]
    access_key_id: Option<String>,
    #[serde(
        alias = "secretKeyId",
        alias = "secret-access-key",
        alias = "secretAccessKey"
    )]
    secret_key_id: Option<SecretText>,
    #[serde(alias = "sessionToken")]
    session_token: Option<SecretText>,
    region: Option<String>,
    prefix: Option<String>,
    #[serde(alias = "endpointOverride")]
    endpoint_override: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

const SECTION: &str = "secret.aws-secret-manager";

/// The tags of a section (read whichever backend is selected).
pub(crate) fn section_tags(
    section: &serde_json::Value,
) -> Result<BTreeMap<String, String>, ConfigError> {
    Ok(parse_raw(section)?.tags)
}

fn parse_raw(section: &serde_json::Value) -> Result<Raw, ConfigError> {
    if section.is_null() {
        return Ok(Raw::default());
    }
    crate::config::deserialize_section(SECTION, section.clone())
}

impl AwsConfig {
    /// Validates the section, completing it from `env` (the process environment in
    /// production) and the files it names.
    pub(crate) fn from_section(
        section: &serde_json::Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw = parse_raw(section)?;
        let credentials = match (raw.access_key_id, raw.secret_key_id) {
            (Some(id), Some(secret)) => AwsCredentials {
                access_key_id: id,
                secret_access_key: secret.0,
                session_token: raw.session_token.map(|t| t.0),
            },
            (Some(_), None) => {
                return Err(ConfigError::new(
                    &format!("{SECTION}.secretKeyId"),
                    "accessKeyId is set without its secret key: set both, or neither to use \
                     the default credential chain",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    &format!("{SECTION}.accessKeyId"),
                    "secretKeyId is set without its access key id: set both, or neither to \
                     use the default credential chain",
                ));
            }
            (None, None) => default_credentials(env)?,
        };
        let region = raw
            .region
            .filter(|r| !r.trim().is_empty())
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| profile_value(env, config_file(env), "region"))
            .ok_or_else(|| {
                ConfigError::new(
                    &format!("{SECTION}.region"),
                    "no region: set it here, or AWS_REGION in the environment",
                )
            })?;
        let prefix = raw
            .prefix
            .map(|p| p.trim_matches('/').to_owned())
            .filter(|p| !p.is_empty());
        if let Some(prefix) = &prefix
            && let Some(bad) = prefix
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
        {
            return Err(ConfigError::new(
                &format!("{SECTION}.prefix"),
                format!("'{bad}' cannot be in an AWS secret name: use letters, digits and /_+=.@-"),
            ));
        }
        let endpoint = match raw.endpoint_override {
            Some(url) => {
                let parsed = reqwest::Url::parse(&url).map_err(|err| {
                    ConfigError::new(
                        &format!("{SECTION}.endpointOverride"),
                        format!("not a URL ({err}): write it as http://host:port"),
                    )
                })?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                    return Err(ConfigError::new(
                        &format!("{SECTION}.endpointOverride"),
                        "must be an http:// or https:// URL with a host",
                    ));
                }
                url.trim_end_matches('/').to_owned()
            }
            None => format!("https://secretsmanager.{region}.amazonaws.com"),
        };
        Ok(AwsConfig {
            credentials,
            region,
            prefix,
            endpoint,
        })
    }
}

fn default_credentials(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AwsCredentials, ConfigError> {
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(AwsCredentials {
            access_key_id: id,
            secret_access_key: Zeroizing::new(secret),
            session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
        });
    }
    let file = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".aws/credentials")));
    let id = profile_value(env, file.clone(), "aws_access_key_id");
    let secret = profile_value(env, file.clone(), "aws_secret_access_key");
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(AwsCredentials {
            access_key_id: id,
            secret_access_key: Zeroizing::new(secret),
            session_token: profile_value(env, file, "aws_session_token").map(Zeroizing::new),
        }),
        _ => Err(ConfigError::new(
            &format!("{SECTION}.accessKeyId"),
            "no AWS credentials: set accessKeyId and secretKeyId here, or AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY in the environment, or a profile in ~/.aws/credentials \
             (instance and container roles are not read yet)",
        )),
    }
}

fn config_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".aws/config")))
}

/// `name` in the active profile of an AWS ini file (`[default]`, `[NAME]` or, in the config
/// file, `[profile NAME]`).
fn profile_value(
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<PathBuf>,
    name: &str,
) -> Option<String> {
    let text = std::fs::read_to_string(file?).ok()?;
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let mut in_profile = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            in_profile = header == profile
                || header.strip_prefix("profile ").map(str::trim) == Some(profile.as_str());
        } else if in_profile
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == name
        {
            return Some(value.trim().to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn both_spellings_and_the_default_endpoint() {
        let camel = AwsConfig::from_section(
            &serde_json::json!({"accessKeyId": "AKID", "secretKeyId": "s3cr3t-key",
                "sessionToken": "tok", "region": "eu-west-1", "prefix": "/saker/",
                "endpointOverride": "http://127.0.0.1:5000/"}),
            &no_env,
        )
        .unwrap();
        assert_eq!(camel.prefix.as_deref(), Some("saker"));
        assert_eq!(camel.endpoint, "http://127.0.0.1:5000");
        assert!(camel.credentials.session_token.is_some());
        assert!(!format!("{camel:?}").contains("s3cr3t-key"));
        let kebab = AwsConfig::from_section(
            &serde_json::json!({"access-key-id": "AKID", "secret-key-id": "s3cr3t-key",
                "region": "eu-west-1"}),
            &no_env,
        )
        .unwrap();
        assert_eq!(
            kebab.endpoint,
            "https://secretsmanager.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn the_default_chain_reads_the_environment_and_profiles() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("credentials"),
            "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n\
             [work]\naws_access_key_id = A2\naws_secret_access_key = S2\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config"),
            "[profile work]\nregion = ap-south-1\n",
        )
        .unwrap();
        let creds = dir.path().join("credentials").display().to_string();
        let conf = dir.path().join("config").display().to_string();
        let env = move |name: &str| match name {
            "AWS_SHARED_CREDENTIALS_FILE" => Some(creds.clone()),
            "AWS_CONFIG_FILE" => Some(conf.clone()),
            "AWS_PROFILE" => Some("work".into()),
            _ => None,
        };
        let config = AwsConfig::from_section(&serde_json::Value::Null, &env).unwrap();
        assert_eq!(config.credentials.access_key_id, "A2");
        assert_eq!(config.region, "ap-south-1");

        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("E1".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("ES".into()),
            "AWS_DEFAULT_REGION" => Some("us-east-2".into()),
            _ => None,
        };
        let config = AwsConfig::from_section(&serde_json::Value::Null, &env).unwrap();
        assert_eq!(config.credentials.access_key_id, "E1");
        assert_eq!(config.region, "us-east-2");
    }

    #[test]
    fn errors_name_the_key_never_the_value() {
        let err = AwsConfig::from_section(
            &serde_json::json!({"accessKeyId": "AKID", "region": "x"}),
            &no_env,
        )
        .unwrap_err();
        assert_eq!(err.key, "secret.aws-secret-manager.secretKeyId");
        let err = AwsConfig::from_section(
            &serde_json::json!({"secretKeyId": "hunter2-secret", "accessKeyId": 5}),
            &no_env,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = AwsConfig::from_section(
            &serde_json::json!({"accessKeyId": "A", "secretKeyId": "S"}),
            &no_env,
        )
        .unwrap_err();
        assert_eq!(err.key, "secret.aws-secret-manager.region");
        let err = AwsConfig::from_section(
            &serde_json::json!({"accessKeyId": "A", "secretKeyId": "S", "region": "r",
                "prefix": "a b"}),
            &no_env,
        )
        .unwrap_err();
        assert_eq!(err.key, "secret.aws-secret-manager.prefix");
    }
}
