//! The configuration of one namespace's backend: parsed and validated as the backend part of
//! a `secret:` section, sealed for storage, and shown with every credential blanked.

use std::fmt;
use std::sync::Arc;

use saker_crypto::{Aad, Keyring};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::config::{BackendKind, ConfigError, SecretConfig};
use crate::namespace::Namespace;
use crate::store::{SecretStore, StoreError};

/// What every credential is shown as.
pub const BLANKED: &str = "****";

/// Keys of the instance-wide `secret:` section that have no meaning for one namespace.
const INSTANCE_ONLY: [&str; 10] = [
    "cache",
    "isolation",
    "expiry-warning",
    "expiryWarning",
    "namespace-grants",
    "namespaceGrants",
    "jdbc",
    "env",
    "previous-secrets",
    "max-versions",
];

/// One namespace's backend: `{"type": "vault", "vault": {...}, "read-only": true}`.
///
/// The document holds credentials: it is never shown but through
/// [`NamespaceBackendConfig::redacted`], and `Debug` names the backend only.
#[derive(Clone)]
pub struct NamespaceBackendConfig {
    config: SecretConfig,
    document: Value,
}

impl fmt::Debug for NamespaceBackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceBackendConfig")
            .field("backend", &self.config.backend)
            .field("read_only", &self.config.read_only)
            .finish_non_exhaustive()
    }
}

impl NamespaceBackendConfig {
    /// Validates `document`. Errors name the key (`vault.address`) and never repeat a value.
    ///
    /// Only external systems are accepted (`jdbc` and `env` are the instance's own), and the
    /// AWS default credential chain is not consulted: a namespace must bring its own
    /// credentials rather than borrow the instance's.
    pub fn parse(document: Value) -> Result<Self, ConfigError> {
        let Value::Object(fields) = &document else {
            return Err(ConfigError::new(
                "secret-manager",
                "expected a map such as {\"type\": \"vault\", \"vault\": {...}}",
            ));
        };
        if let Some(key) = INSTANCE_ONLY.iter().find(|key| fields.contains_key(**key)) {
            return Err(ConfigError::new(
                key,
                "this setting is the instance's (under secret: in the configuration file), \
                 not a namespace's: remove it",
            ));
        }
        if !fields.contains_key("type") {
            return Err(ConfigError::new(
                "type",
                "missing: name the namespace's backend (vault, aws-secret-manager, \
                 google-secret-manager, azure-key-vault, elasticsearch, 1password, doppler)",
            ));
        }
        let config =
            SecretConfig::from_value_with_env(document.clone(), &|_| None).map_err(|err| {
                ConfigError {
                    key: err
                        .key
                        .strip_prefix("secret.")
                        .unwrap_or(&err.key)
                        .to_owned(),
                    message: err.message,
                }
            })?;
        if matches!(config.backend, BackendKind::Jdbc | BackendKind::Env) {
            return Err(ConfigError::new(
                "type",
                "jdbc and env are the instance's own stores: a namespace's backend is an \
                 external system (vault, aws-secret-manager, google-secret-manager, \
                 azure-key-vault, elasticsearch, 1password, doppler)",
            ));
        }
        Ok(Self { config, document })
    }

    /// The backend it names.
    pub fn backend(&self) -> BackendKind {
        self.config.backend
    }

    /// Whether writes through Saker are refused.
    pub fn read_only(&self) -> bool {
        self.config.read_only
    }

    /// The document with every credential (see [`is_credential_key`]) replaced by
    /// [`BLANKED`], whatever its shape.
    pub fn redacted(&self) -> Value {
        redact(&self.document)
    }

    /// The backend, opened, read-only and filtered as configured.
    pub fn open_store(&self) -> Result<Arc<dyn SecretStore>, StoreError> {
        let backend = crate::remote::open_remote(&self.config)?;
        Ok(crate::remote::apply_read_only(&self.config, backend))
    }

    /// The document sealed under the primary key, bound to `tenant` and `namespace` so that
    /// a row copied to another namespace does not open.
    pub fn seal(&self, keyring: &Keyring, tenant: &str, namespace: &Namespace) -> Vec<u8> {
        let plaintext = Zeroizing::new(self.document.to_string().into_bytes());
        keyring.seal(&plaintext, &aad(tenant, namespace))
    }

    /// Opens and validates a configuration sealed by [`NamespaceBackendConfig::seal`].
    pub fn open(
        sealed: &[u8],
        keyring: &Keyring,
        tenant: &str,
        namespace: &Namespace,
    ) -> Result<Self, StoreError> {
        let failed = |message: String| StoreError::Backend {
            backend: "namespace-backend",
            message: format!(
                "the backend configuration of namespace {namespace} (tenant {tenant}) {message}"
            ),
        };
        let plaintext = keyring
            .open(sealed, &aad(tenant, namespace))
            .map_err(|err| failed(format!("could not be decrypted: {err}")))?;
        let document: Value = serde_json::from_slice(&plaintext)
            .map_err(|_| failed("is not a JSON document".to_owned()))?;
        Self::parse(document).map_err(|err| failed(format!("is no longer valid: {err}")))
    }
}

fn aad(tenant: &str, namespace: &Namespace) -> Aad {
    Aad::new("namespace-backend")
        .field("tenant", tenant)
        .field("namespace", namespace.as_str())
}

/// Whether a configuration key names a credential: anything called like a token, password,
/// secret, credential or service account, and keys ending in `key` or `key-id`
/// (`accessKeyId`, `api-key`). Prefixes and paths named after secrets (`secret-path-prefix`,
/// `secretNamePrefix`) are not credentials.
pub fn is_credential_key(key: &str) -> bool {
    let name: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let names_a_place = name.ends_with("prefix") || name.ends_with("path");
    ["token", "password", "credential", "serviceaccount"]
        .iter()
        .any(|word| name.contains(word))
        || (name.contains("secret") && !names_a_place)
        || name.ends_with("key")
        || name.ends_with("keyid")
}

fn redact(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| {
                    let shown = if is_credential_key(key) {
                        Value::String(BLANKED.to_owned())
                    } else {
                        redact(value)
                    };
                    (key.clone(), shown)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use saker_crypto::SecretKey;
    use serde_json::json;

    use super::*;

    fn vault() -> Value {
        json!({
            "type": "vault",
            "read-only": true,
            "vault": {
                "address": "http://127.0.0.1:8200",
                "token": {"token": "hvs.do-not-show"},
                "secret-path-prefix": "teams/a"
            }
        })
    }

    #[test]
    fn credentials_are_blanked_and_places_are_not() {
        let config = NamespaceBackendConfig::parse(vault()).unwrap();
        assert_eq!(config.backend(), BackendKind::Vault);
        assert!(config.read_only());
        let shown = config.redacted();
        assert_eq!(shown["vault"]["token"], json!(BLANKED));
        assert_eq!(shown["vault"]["address"], json!("http://127.0.0.1:8200"));
        assert_eq!(shown["vault"]["secret-path-prefix"], json!("teams/a"));
        assert!(!shown.to_string().contains("do-not-show"));
        assert!(!format!("{config:?}").contains("do-not-show"));
        for key in [
            "accessKeyId",
            "secretKeyId",
            "session-token",
            "clientSecret",
            "api-key",
        ] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in [
            "region",
            "keyVaultUri",
            "secretNamePrefix",
            "tenantId",
            "project",
        ] {
            assert!(!is_credential_key(key), "{key}");
        }
    }

    #[test]
    fn bad_documents_name_the_key() {
        let err = NamespaceBackendConfig::parse(json!({"type": "vault", "vault": {}})).unwrap_err();
        assert!(err.key.starts_with("vault"), "{err}");
        let err = NamespaceBackendConfig::parse(json!({"type": "jdbc"})).unwrap_err();
        assert_eq!(err.key, "type");
        let err = NamespaceBackendConfig::parse(json!({"vault": {}})).unwrap_err();
        assert_eq!(err.key, "type");
        let err = NamespaceBackendConfig::parse(json!({"type": "vault", "cache": {}})).unwrap_err();
        assert_eq!(err.key, "cache");
        let err = NamespaceBackendConfig::parse(json!("vault")).unwrap_err();
        assert_eq!(err.key, "secret-manager");
    }

    #[test]
    fn sealed_rows_open_only_where_they_were_sealed() {
        let keyring = Keyring::new(SecretKey::generate());
        let ns = Namespace::parse("company").unwrap();
        let config = NamespaceBackendConfig::parse(vault()).unwrap();
        let sealed = config.seal(&keyring, "main", &ns);
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("do-not-show"));
        let opened = NamespaceBackendConfig::open(&sealed, &keyring, "main", &ns).unwrap();
        assert_eq!(opened.redacted(), config.redacted());
        let other = Namespace::parse("other").unwrap();
        let err = NamespaceBackendConfig::open(&sealed, &keyring, "main", &other).unwrap_err();
        assert!(err.to_string().contains("could not be decrypted"), "{err}");
        assert!(NamespaceBackendConfig::open(&sealed, &keyring, "t2", &ns).is_err());
    }
}
