//! `secret.vault`: Kestra's keys in both spellings (`root-engine` and `rootEngine`). Exactly one
//! auth method: `token.token`, `password.{user,password}` (userpass) or
//! `app-role.{path,role-id,secret-id}`; without one, `VAULT_TOKEN` from the environment, and
//! `VAULT_ADDR` when `address` is not set, as Vault's own CLI reads them.

use std::collections::BTreeMap;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::config::{ConfigError, SecretText, deserialize_section};

/// How Saker logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum VaultAuth {
    /// A token as is (renewed when renewable; nothing to log in again with).
    Token(Zeroizing<String>),
    /// `auth/userpass/login/<user>`.
    UserPass {
        /// User name.
        user: String,
        /// Password.
        password: Zeroizing<String>,
    },
    /// `auth/<path>/login` with a role id and secret id.
    AppRole {
        /// Mount path of the approle method (`approle`).
        path: String,
        /// Role id (an identifier, not a secret).
        role_id: String,
        /// Secret id.
        secret_id: Zeroizing<String>,
    },
}

impl std::fmt::Debug for VaultAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultAuth::Token(_) => f.write_str("Token([REDACTED])"),
            VaultAuth::UserPass { user, .. } => write!(f, "UserPass({user})"),
            VaultAuth::AppRole { path, role_id, .. } => write!(f, "AppRole({path}, {role_id})"),
        }
    }
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    /// `http(s)://host:port`, no trailing `/`.
    pub address: String,
    /// Auth method.
    pub auth: VaultAuth,
    /// Vault Enterprise namespace (`X-Vault-Namespace`).
    pub namespace: Option<String>,
    /// KV engine version, 1 or 2.
    pub engine_version: u8,
    /// Mount path of the KV engine (`secret`).
    pub root_engine: String,
    /// Path segment(s) before `<tenant>/<namespace>/<key>`, no leading or trailing `/`.
    pub secret_path_prefix: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct Raw {
    address: Option<String>,
    token: Option<RawToken>,
    password: Option<RawPassword>,
    #[serde(alias = "appRole")]
    app_role: Option<RawAppRole>,
    namespace: Option<String>,
    #[serde(alias = "engineVersion")]
    engine_version: Option<u8>,
    #[serde(alias = "rootEngine")]
    root_engine: Option<String>,
    #[serde(alias = "secretPathPrefix")]
    secret_path_prefix: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with `token`")]
struct RawToken {
    token: SecretText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with `user` and `password`")]
struct RawPassword {
    #[serde(alias = "username")]
    user: String,
    password: SecretText,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a map of settings"
)]
struct RawAppRole {
    path: Option<String>,
    #[serde(alias = "roleId")]
    role_id: String,
    #[serde(alias = "secretId")]
    secret_id: SecretText,
}

const SECTION: &str = "secret.vault";

fn parse_raw(section: &serde_json::Value) -> Result<Raw, ConfigError> {
    if section.is_null() {
        return Ok(Raw::default());
    }
    deserialize_section(SECTION, section.clone())
}

/// The tags of the section.
pub(crate) fn section_tags(
    section: &serde_json::Value,
) -> Result<BTreeMap<String, String>, ConfigError> {
    Ok(parse_raw(section)?.tags)
}

fn path_segment(key: &str, text: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(text) = text
        .map(|t| t.trim_matches('/').to_owned())
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    if text
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
        || text
            .chars()
            .any(|c| c.is_control() || c == '?' || c == '#' || c == '%')
    {
        return Err(ConfigError::new(
            &format!("{SECTION}.{key}"),
            "must be a path of plain segments (no empty, '.' or '..' segment, no ?, # or %)",
        ));
    }
    Ok(Some(text))
}

impl VaultConfig {
    /// Validates the section, completing it from `env`.
    pub(crate) fn from_section(
        section: &serde_json::Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw = parse_raw(section)?;
        let address = raw.address.or_else(|| env("VAULT_ADDR")).ok_or_else(|| {
            ConfigError::new(
                &format!("{SECTION}.address"),
                "no Vault address: set it (http://host:8200) or VAULT_ADDR",
            )
        })?;
        let parsed = reqwest::Url::parse(&address).map_err(|err| {
            ConfigError::new(
                &format!("{SECTION}.address"),
                format!("not a URL ({err}): write it with its scheme and port, http://host:8200"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ConfigError::new(
                &format!("{SECTION}.address"),
                "must be an http:// or https:// URL with a host",
            ));
        }
        let mut methods = Vec::new();
        if let Some(token) = raw.token {
            methods.push(VaultAuth::Token(token.token.0));
        }
        if let Some(password) = raw.password {
            methods.push(VaultAuth::UserPass {
                user: password.user,
                password: password.password.0,
            });
        }
        if let Some(role) = raw.app_role {
            methods.push(VaultAuth::AppRole {
                path: path_segment("app-role.path", role.path)?.unwrap_or_else(|| "approle".into()),
                role_id: role.role_id,
                secret_id: role.secret_id.0,
            });
        }
        if methods.len() > 1 {
            return Err(ConfigError::new(
                SECTION,
                "more than one auth method is set: keep one of token, password and app-role",
            ));
        }
        let auth = match methods.pop() {
            Some(auth) => auth,
            None => match env("VAULT_TOKEN") {
                Some(token) => VaultAuth::Token(Zeroizing::new(token)),
                None => {
                    return Err(ConfigError::new(
                        &format!("{SECTION}.token.token"),
                        "no auth method: set token.token, password.{user,password} or \
                         app-role.{path,role-id,secret-id}, or VAULT_TOKEN",
                    ));
                }
            },
        };
        let engine_version = raw.engine_version.unwrap_or(2);
        if !matches!(engine_version, 1 | 2) {
            return Err(ConfigError::new(
                &format!("{SECTION}.engine-version"),
                "must be 1 or 2 (the KV secrets engine's version)",
            ));
        }
        Ok(VaultConfig {
            address: address.trim_end_matches('/').to_owned(),
            auth,
            namespace: raw.namespace.filter(|n| !n.trim().is_empty()),
            engine_version,
            root_engine: path_segment("root-engine", raw.root_engine)?
                .unwrap_or_else(|| "secret".into()),
            secret_path_prefix: path_segment("secret-path-prefix", raw.secret_path_prefix)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn both_spellings_and_defaults() {
        let kebab = VaultConfig::from_section(
            &serde_json::json!({"address": "http://127.0.0.1:8200/", "app-role":
                {"path": "approle", "role-id": "r", "secret-id": "s-secret"},
                "root-engine": "kv", "secret-path-prefix": "/saker/", "engine-version": 1}),
            &no_env,
        )
        .unwrap();
        let camel = VaultConfig::from_section(
            &serde_json::json!({"address": "http://127.0.0.1:8200", "appRole":
                {"path": "approle", "roleId": "r", "secretId": "s-secret"},
                "rootEngine": "kv", "secretPathPrefix": "saker", "engineVersion": 1}),
            &no_env,
        )
        .unwrap();
        assert_eq!(kebab, camel);
        assert_eq!(kebab.secret_path_prefix.as_deref(), Some("saker"));
        assert!(!format!("{kebab:?}").contains("s-secret"));
        let token = VaultConfig::from_section(
            &serde_json::json!({"address": "http://v:8200", "token": {"token": "t"}}),
            &no_env,
        )
        .unwrap();
        assert_eq!(
            (token.engine_version, token.root_engine.as_str()),
            (2, "secret")
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err =
            VaultConfig::from_section(&serde_json::json!({"address": "http://v:8200"}), &no_env)
                .unwrap_err();
        assert_eq!(err.key, "secret.vault.token.token");
        let err = VaultConfig::from_section(
            &serde_json::json!({"address": "http://v:8200", "token": {"token": "t"},
                "password": {"user": "u", "password": "p"}}),
            &no_env,
        )
        .unwrap_err();
        assert!(err.message.contains("more than one"), "{err}");
        let err = VaultConfig::from_section(
            &serde_json::json!({"address": "http://v:8200", "token": {"token": "t"},
                "engine-version": 3}),
            &no_env,
        )
        .unwrap_err();
        assert_eq!(err.key, "secret.vault.engine-version");
        let err = VaultConfig::from_section(
            &serde_json::json!({"address": "v:8200", "token": {"token": "hunter2-token"}}),
            &no_env,
        )
        .unwrap_err();
        assert_eq!(err.key, "secret.vault.address");
        let env = |name: &str| (name == "VAULT_TOKEN").then(|| "from-env".to_owned());
        let config =
            VaultConfig::from_section(&serde_json::json!({"address": "http://v:8200"}), &env)
                .unwrap();
        assert!(matches!(config.auth, VaultAuth::Token(_)));
    }
}
