//! `storage.s3`: Kestra's keys (`bucket`, `region`, `endpoint`, `accessKey`, `secretKey`,
//! `forcePathStyle`) in camel or kebab case, plus `sessionToken` and `pathStyleAccess` (the
//! AWS SDK's name of `forcePathStyle`). Without keys, the default credential chain: the
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` variables, then the shared
//! credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile
//! `AWS_PROFILE` or `default`), then the roles object_store fetches itself (web identity,
//! container credentials, instance metadata).
//!
//! Parsed by hand rather than with serde: a serde error on a wrongly typed `secretKey` would
//! quote its value. Every error names its key and never a value.

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;
use zeroize::Zeroizing;

const SECTION: &str = "storage.s3";

/// A setting of `storage.s3` that is missing or wrong. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct S3ConfigError {
    /// The full key (`storage.s3.bucket`).
    pub key: String,
    pub reason: String,
}

impl S3ConfigError {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: format!("{SECTION}.{key}"),
            reason: reason.into(),
        }
    }
}

/// Static credentials. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// The validated `storage.s3` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// An S3-compatible service (`http://minio:9000`); AWS's own endpoint when `None`.
    pub endpoint: Option<String>,
    /// Static credentials (the section's or the chain's); `None` leaves the roles to
    /// object_store.
    pub credentials: Option<S3Credentials>,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`.
    pub path_style: bool,
    /// Variables of the role providers (web identity, container credentials) handed on.
    pub role_env: Vec<(String, String)>,
}

/// Variables object_store's own role providers read, passed on when set.
const ROLE_VARIABLES: &[&str] = &[
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_ENDPOINT_URL_STS",
];

/// The settings read from the section, before the chain completes them.
#[derive(Default)]
struct Raw {
    bucket: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    access_key: Option<String>,
    secret_key: Option<Zeroizing<String>>,
    session_token: Option<Zeroizing<String>>,
    path_style: Option<bool>,
}

/// Kebab and camel spellings of a key name, compared without `-`, `_` and case.
fn canonical(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn text(key: &str, value: &Value) -> Result<String, S3ConfigError> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        _ => Err(S3ConfigError::new(key, "must be a non-empty text")),
    }
}

fn parse_raw(section: &Value) -> Result<Raw, S3ConfigError> {
    let map = match section {
        Value::Null => return Ok(Raw::default()),
        Value::Object(map) => map,
        _ => {
            return Err(S3ConfigError {
                key: SECTION.into(),
                reason: "must be a map of settings (bucket, region, endpoint...)".into(),
            });
        }
    };
    let mut raw = Raw::default();
    for (key, value) in map {
        match canonical(key).as_str() {
            "bucket" => raw.bucket = Some(text(key, value)?),
            "region" => raw.region = Some(text(key, value)?),
            "endpoint" | "endpointoverride" => raw.endpoint = Some(text(key, value)?),
            "accesskey" | "accesskeyid" => raw.access_key = Some(text(key, value)?),
            "secretkey" | "secretaccesskey" => {
                raw.secret_key = Some(Zeroizing::new(text(key, value)?));
            }
            "sessiontoken" => raw.session_token = Some(Zeroizing::new(text(key, value)?)),
            "forcepathstyle" | "pathstyleaccess" => {
                raw.path_style = Some(match value {
                    Value::Bool(b) => *b,
                    Value::String(s) if s == "true" || s == "false" => s == "true",
                    _ => return Err(S3ConfigError::new(key, "must be true or false")),
                });
            }
            _ => {
                return Err(S3ConfigError::new(
                    key,
                    "is not a setting of the S3 storage: use bucket, region, endpoint, \
                     accessKey, secretKey, sessionToken or forcePathStyle",
                ));
            }
        }
    }
    Ok(raw)
}

impl S3Config {
    /// Validates the section, completing it from `env` (the process environment in
    /// production) and the credentials file it names.
    pub fn from_section(
        section: &Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, S3ConfigError> {
        let raw = parse_raw(section)?;
        let bucket = raw.bucket.ok_or_else(|| {
            S3ConfigError::new("bucket", "the S3 storage needs a bucket (it must exist)")
        })?;
        check_bucket(&bucket)?;
        let endpoint = raw.endpoint.map(|url| check_endpoint(&url)).transpose()?;
        let region = raw
            .region
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            // S3-compatible services mostly ignore the region, but requests are signed for one.
            .or_else(|| endpoint.as_ref().map(|_| "us-east-1".to_owned()))
            .ok_or_else(|| {
                S3ConfigError::new(
                    "region",
                    "no region: set it here, or AWS_REGION in the environment",
                )
            })?;
        let credentials = match (raw.access_key, raw.secret_key) {
            (Some(id), Some(secret)) => Some(S3Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: raw.session_token,
            }),
            (Some(_), None) => {
                return Err(S3ConfigError::new(
                    "secretKey",
                    "accessKey is set without its secret key: set both, or neither to use \
                     the default credential chain",
                ));
            }
            (None, Some(_)) => {
                return Err(S3ConfigError::new(
                    "accessKey",
                    "secretKey is set without its access key: set both, or neither to use \
                     the default credential chain",
                ));
            }
            (None, None) => chain_credentials(env),
        };
        let path_style = raw.path_style.unwrap_or(false);
        if let Some(url) = &endpoint
            && !path_style
            && host_is_an_address(url)
        {
            return Err(S3ConfigError::new(
                "forcePathStyle",
                format!(
                    "the endpoint {url} is an IP address or localhost, which cannot carry the \
                     bucket in its host name: set forcePathStyle: true"
                ),
            ));
        }
        let role_env = ROLE_VARIABLES
            .iter()
            .filter_map(|name| env(name).map(|value| ((*name).to_owned(), value)))
            .collect();
        Ok(Self {
            bucket,
            region,
            endpoint,
            credentials,
            path_style,
            role_env,
        })
    }

    /// The URL requests go to, with the bucket as S3 addresses it (for messages and the
    /// client).
    pub fn bucket_endpoint(&self) -> String {
        match (&self.endpoint, self.path_style) {
            (Some(url), true) => format!("{url}/{}", self.bucket),
            (Some(url), false) => match url.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{}.{host}", self.bucket),
                None => url.clone(),
            },
            (None, true) => format!("https://s3.{}.amazonaws.com/{}", self.region, self.bucket),
            (None, false) => format!("https://{}.s3.{}.amazonaws.com", self.bucket, self.region),
        }
    }
}

/// S3's bucket naming rules, checked here so that a typo is a configuration error rather
/// than a failed call.
fn check_bucket(bucket: &str) -> Result<(), S3ConfigError> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(S3ConfigError::new(
            "bucket",
            format!(
                "'{bucket}' is not a bucket name: 3 to 63 lower-case letters, digits, '-' and \
                 '.', starting and ending with a letter or digit"
            ),
        ))
    }
}

fn check_endpoint(url: &str) -> Result<String, S3ConfigError> {
    let url = url.trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@']) => {
            Ok(url.to_owned())
        }
        _ => Err(S3ConfigError::new(
            "endpoint",
            format!(
                "'{url}' is not an endpoint: write http://host:port or https://host, without \
                 a path or credentials"
            ),
        )),
    }
}

/// True when the endpoint's host is an IP address or `localhost`, where a virtual-hosted
/// request (`bucket.host`) cannot resolve.
fn host_is_an_address(url: &str) -> bool {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    if authority.starts_with('[') {
        return true; // an IPv6 address
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// The environment's keys, then the shared credentials file; `None` when neither has them.
fn chain_credentials(env: &dyn Fn(&str) -> Option<String>) -> Option<S3Credentials> {
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Some(S3Credentials {
            access_key_id: id,
            secret_access_key: Zeroizing::new(secret),
            session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
        });
    }
    let file = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".aws/credentials")))?;
    let text = Zeroizing::new(std::fs::read_to_string(file).ok()?);
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let values = profile_section(&text, &profile);
    let find = |name: &str| {
        values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    Some(S3Credentials {
        access_key_id: find("aws_access_key_id")?,
        secret_access_key: Zeroizing::new(find("aws_secret_access_key")?),
        session_token: find("aws_session_token").map(Zeroizing::new),
    })
}

/// The `key = value` lines of section `[profile]` of an ini text.
fn profile_section<'a>(text: &'a str, profile: &str) -> Vec<(&'a str, &'a str)> {
    let mut current = None;
    let mut values = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(header.trim());
        } else if current == Some(profile)
            && let Some((key, value)) = line.split_once('=')
        {
            values.push((key.trim(), value.trim()));
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn kestras_keys_in_both_spellings() {
        let camel = S3Config::from_section(
            &json!({"bucket": "saker-files", "region": "eu-west-1",
                "endpoint": "http://127.0.0.1:9000/", "accessKey": "AKID",
                "secretKey": "s3cr3t-value", "sessionToken": "tok", "forcePathStyle": true}),
            &no_env,
        )
        .unwrap();
        assert_eq!(camel.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(camel.bucket_endpoint(), "http://127.0.0.1:9000/saker-files");
        assert!(camel.credentials.as_ref().unwrap().session_token.is_some());
        assert!(!format!("{camel:?}").contains("s3cr3t-value"));
        let kebab = S3Config::from_section(
            &json!({"bucket": "saker-files", "access-key": "AKID", "secret-key": "x",
                "path-style-access": "true", "endpoint": "https://minio.internal:9000"}),
            &no_env,
        )
        .unwrap();
        assert!(kebab.path_style);
        assert_eq!(kebab.region, "us-east-1");
        let aws = S3Config::from_section(
            &json!({"bucket": "saker-files", "region": "eu-west-3"}),
            &no_env,
        )
        .unwrap();
        assert_eq!(
            aws.bucket_endpoint(),
            "https://saker-files.s3.eu-west-3.amazonaws.com"
        );
        assert!(aws.credentials.is_none());
    }

    #[test]
    fn the_chain_reads_the_environment_then_the_credentials_file() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("E1".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("ES".into()),
            "AWS_REGION" => Some("us-east-2".into()),
            "AWS_ROLE_ARN" => Some("arn:aws:iam::1:role/r".into()),
            _ => None,
        };
        let config = S3Config::from_section(&json!({"bucket": "b-1"}), &env).unwrap();
        assert_eq!(config.credentials.unwrap().access_key_id, "E1");
        assert_eq!(config.region, "us-east-2");
        assert_eq!(config.role_env.len(), 1);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("credentials"),
            "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n\
             [work]\naws_access_key_id = A2\naws_secret_access_key = S2\naws_session_token = T2\n",
        )
        .unwrap();
        let file = dir.path().join("credentials").display().to_string();
        let env = move |name: &str| match name {
            "AWS_SHARED_CREDENTIALS_FILE" => Some(file.clone()),
            "AWS_PROFILE" => Some("work".into()),
            _ => None,
        };
        let config =
            S3Config::from_section(&json!({"bucket": "b-1", "region": "r"}), &env).unwrap();
        let credentials = config.credentials.unwrap();
        assert_eq!(credentials.access_key_id, "A2");
        assert!(credentials.session_token.is_some());
    }

    #[test]
    fn errors_name_the_key_never_the_value() {
        let cases = [
            (json!({"region": "r"}), "storage.s3.bucket"),
            (json!({"bucket": "Bad_Bucket"}), "storage.s3.bucket"),
            (
                json!({"bucket": "b-1", "region": "r", "accessKey": "A"}),
                "storage.s3.secretKey",
            ),
            (
                json!({"bucket": "b-1", "region": "r", "secretKey": ["hunter2-value"]}),
                "storage.s3.secretKey",
            ),
            (
                json!({"bucket": "b-1", "secret_key": 123456789}),
                "storage.s3.secret_key",
            ),
            (
                json!({"bucket": "b-1", "endpoint": "ftp://x"}),
                "storage.s3.endpoint",
            ),
            (
                json!({"bucket": "b-1", "endpoint": "http://127.0.0.1:9000"}),
                "storage.s3.forcePathStyle",
            ),
            (json!({"bucket": "b-1"}), "storage.s3.region"),
            (
                json!({"bucket": "b-1", "region": "r", "password": "hunter2-value"}),
                "storage.s3.password",
            ),
        ];
        for (section, key) in cases {
            let err = S3Config::from_section(&section, &no_env).unwrap_err();
            assert_eq!(err.key, key, "{section}: {err}");
            let text = err.to_string();
            assert!(
                !text.contains("hunter2") && !text.contains("123456789"),
                "{text}"
            );
        }
    }
}
