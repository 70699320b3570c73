//! `secret.elasticsearch`: where the cluster is (Kestra's `kestra.elasticsearch.client` keys,
//! here in the secret section since Saker's repository is not Elasticsearch: `hosts` or
//! `http-hosts`, `basic-auth.{username,password}`, `headers`, `path-prefix`,
//! `trust-all-ssl`), the `index` holding the secrets, and Kestra's `secret`: the passphrase
//! (at least 32 characters) every value is encrypted with before it reaches the index. Both
//! spellings of every key (`trustAllSsl` and `trust-all-ssl`).

use std::collections::BTreeMap;
use std::fmt;

use saker_crypto::SecretKey;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::config::{ConfigError, SecretText, read_section};
use crate::json_api::base_url;

const SECTION: &str = "secret.elasticsearch";
/// The index when `index` is not set.
pub const DEFAULT_INDEX: &str = "saker_secrets";

/// The validated section. `Debug` shows no password, header value or key.
#[derive(Clone, PartialEq, Eq)]
pub struct ElasticsearchConfig {
    /// Nodes to call, in order (the next one when one does not answer); each with the
    /// `path-prefix` applied.
    pub hosts: Vec<reqwest::Url>,
    /// Index of the secret documents.
    pub index: String,
    /// `basic-auth`: user name and password.
    pub basic_auth: Option<(String, Zeroizing<String>)>,
    /// Extra headers on every request (`Authorization: ApiKey ...`), name and value.
    pub headers: Vec<(String, Zeroizing<String>)>,
    /// Accept any TLS certificate (development clusters with self-signed certificates).
    pub trust_all_ssl: bool,
    /// The AES-256-GCM key derived from `secret` (HKDF-SHA256, as `secret.jdbc.secret`).
    pub key: SecretKey,
}

impl fmt::Debug for ElasticsearchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElasticsearchConfig")
            .field(
                "hosts",
                &self.hosts.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            )
            .field("index", &self.index)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(user, _)| user),
            )
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("trust_all_ssl", &self.trust_all_ssl)
            .field("key", &self.key)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a URL or a list of URLs")]
enum Hosts {
    One(String),
    Many(Vec<String>),
}

#[derive(Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct Raw {
    #[serde(alias = "http-hosts", alias = "httpHosts")]
    hosts: Option<Hosts>,
    index: Option<String>,
    #[serde(alias = "basicAuth")]
    basic_auth: Option<RawBasicAuth>,
    #[serde(default)]
    headers: Vec<SecretText>,
    #[serde(alias = "pathPrefix")]
    path_prefix: Option<String>,
    #[serde(alias = "trustAllSsl")]
    trust_all_ssl: Option<bool>,
    secret: Option<SecretText>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map with `username` and `password`"
)]
struct RawBasicAuth {
    #[serde(alias = "user")]
    username: String,
    password: SecretText,
}

/// The tags of the section.
pub(crate) fn section_tags(
    section: &serde_json::Value,
) -> Result<BTreeMap<String, String>, ConfigError> {
    Ok(read_section::<Raw>(SECTION, section)?.tags)
}

fn key(name: &str) -> String {
    format!("{SECTION}.{name}")
}

/// Elasticsearch's index name rules: lower case, none of `\/*?"<>| ,#:`, not starting with
/// `-`, `_` or `+`, not `.` or `..`, at most 255 bytes.
fn check_index(index: &str) -> Result<(), ConfigError> {
    let bad = index.is_empty()
        || index.len() > 255
        || index == "."
        || index == ".."
        || index.starts_with(['-', '_', '+'])
        || index
            .chars()
            .any(|c| c.is_ascii_uppercase() || "\\/*?\"<>| ,#:".contains(c) || c.is_control());
    if bad {
        return Err(ConfigError::new(
            &key("index"),
            "not a valid Elasticsearch index name: use lower-case letters, digits, '_', '-' \
             and '.', not starting with '-', '_' or '+'",
        ));
    }
    Ok(())
}

impl ElasticsearchConfig {
    /// Validates the section.
    pub(crate) fn from_section(section: &serde_json::Value) -> Result<Self, ConfigError> {
        let raw: Raw = read_section(SECTION, section)?;
        let passphrase = raw.secret.ok_or_else(|| {
            ConfigError::new(
                &key("secret"),
                "required: the passphrase (at least 32 characters) that encrypts every value \
                 before it is written to Elasticsearch",
            )
        })?;
        let secret_key = SecretKey::from_passphrase(&passphrase.0)
            .map_err(|err| ConfigError::new(&key("secret"), err.to_string()))?;
        let hosts = match raw.hosts {
            None => Vec::new(),
            Some(Hosts::One(host)) => vec![host],
            Some(Hosts::Many(hosts)) => hosts,
        };
        if hosts.is_empty() {
            return Err(ConfigError::new(
                &key("hosts"),
                "required: the cluster's URL(s), e.g. hosts: [\"http://localhost:9200\"]",
            ));
        }
        let prefix = raw
            .path_prefix
            .map(|p| p.trim_matches('/').to_owned())
            .filter(|p| !p.is_empty());
        let mut urls = Vec::new();
        for (at, host) in hosts.iter().enumerate() {
            let mut url = base_url(&key(&format!("hosts[{at}]")), host)?;
            if let Some(prefix) = &prefix
                && let Ok(mut path) = url.path_segments_mut()
            {
                path.pop_if_empty().extend(prefix.split('/'));
            }
            urls.push(url);
        }
        let index = raw.index.unwrap_or_else(|| DEFAULT_INDEX.to_owned());
        check_index(&index)?;
        let mut headers = Vec::new();
        for (at, header) in raw.headers.iter().enumerate() {
            let Some((name, value)) = header.0.split_once(':') else {
                return Err(ConfigError::new(
                    &key(&format!("headers[{at}]")),
                    "write a header as 'Name: value'",
                ));
            };
            let name = name.trim();
            if name.is_empty() || reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
            {
                return Err(ConfigError::new(
                    &key(&format!("headers[{at}]")),
                    "the part before ':' is not a valid header name",
                ));
            }
            if reqwest::header::HeaderValue::from_str(value.trim()).is_err() {
                return Err(ConfigError::new(
                    &key(&format!("headers[{at}]")),
                    "the part after ':' is not a valid header value (control characters?)",
                ));
            }
            headers.push((name.to_owned(), Zeroizing::new(value.trim().to_owned())));
        }
        Ok(Self {
            hosts: urls,
            index,
            basic_auth: raw.basic_auth.map(|b| (b.username, b.password.0)),
            headers,
            trust_all_ssl: raw.trust_all_ssl.unwrap_or(false),
            key: secret_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PASS: &str = "a-passphrase-of-at-least-32-characters";

    #[test]
    fn both_spellings_and_defaults() {
        let kebab = ElasticsearchConfig::from_section(&json!({"hosts": "http://es:9200",
            "basic-auth": {"username": "elastic", "password": "pw-value"},
            "path-prefix": "/proxy/es/", "trust-all-ssl": true, "secret": PASS,
            "headers": ["X-Team: saker"]}))
        .unwrap();
        assert_eq!(kebab.hosts[0].as_str(), "http://es:9200/proxy/es");
        assert_eq!(kebab.index, DEFAULT_INDEX);
        assert!(kebab.trust_all_ssl);
        let camel = ElasticsearchConfig::from_section(&json!({"httpHosts": ["http://a:9200",
            "http://b:9200"], "basicAuth": {"username": "elastic", "password": "pw-value"},
            "pathPrefix": "proxy/es", "trustAllSsl": true, "secret": PASS,
            "headers": ["X-Team: saker"]}))
        .unwrap();
        assert_eq!(camel.hosts.len(), 2);
        assert_eq!(camel.key, kebab.key);
        let shown = format!("{camel:?}");
        assert!(
            !shown.contains("pw-value") && !shown.contains(PASS),
            "{shown}"
        );
    }

    #[test]
    fn a_short_or_missing_secret_is_a_startup_error_naming_the_key() {
        for section in [
            json!({"hosts": "http://es:9200", "secret": "only-twenty-chars-xx"}),
            json!({"hosts": "http://es:9200"}),
        ] {
            let err = ElasticsearchConfig::from_section(&section).unwrap_err();
            assert_eq!(err.key, "secret.elasticsearch.secret");
            assert!(!err.to_string().contains("only-twenty"), "{err}");
        }
        let err = ElasticsearchConfig::from_section(&json!({"secret": PASS})).unwrap_err();
        assert_eq!(err.key, "secret.elasticsearch.hosts");
        let err = ElasticsearchConfig::from_section(
            &json!({"hosts": "http://es:9200", "secret": PASS, "index": "Secrets"}),
        )
        .unwrap_err();
        assert_eq!(err.key, "secret.elasticsearch.index");
        let err = ElasticsearchConfig::from_section(
            &json!({"hosts": "http://es:9200", "secret": PASS, "headers": ["no colon"]}),
        )
        .unwrap_err();
        assert_eq!(err.key, "secret.elasticsearch.headers[0]");
    }
}
