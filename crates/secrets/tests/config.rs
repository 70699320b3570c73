//! The `secret:` configuration subtree as the loader hands it over (YAML read into JSON).

use std::time::Duration;

use saker_crypto::SecretKey;
use saker_secrets::{BackendKind, ConfigError, SecretConfig, Service};
use serde_json::{Value, json};

fn load(value: Value) -> Result<SecretConfig, ConfigError> {
    SecretConfig::from_value(value)
}

fn error(value: Value) -> ConfigError {
    load(value).unwrap_err()
}

const PASSPHRASE: &str = "a-secure-32-character-minimum-key";

#[test]
fn defaults_without_a_section() {
    let config = load(Value::Null).unwrap();
    assert_eq!(config, SecretConfig::default());
    assert_eq!(config.backend, BackendKind::Jdbc);
    assert!(config.cache.enabled);
    assert_eq!(config.cache.maximum_size, 1000);
    assert_eq!(config.cache.expire_after_write, Duration::from_secs(60));
    assert!(!config.isolation.enabled);
    assert_eq!(config.jdbc.key, None);
    assert_eq!(load(json!({})).unwrap(), SecretConfig::default());
}

#[test]
fn full_section_in_kestra_syntax() {
    let config = load(json!({
        "type": "jdbc",
        "jdbc": {"secret": PASSPHRASE, "tags": {"application": "kestra-production"}},
        "cache": {"enabled": true, "maximum-size": 500, "expire-after-write": "PT1M"},
        "isolation": {"enabled": true, "denied-services": ["EXECUTOR", "scheduler"]},
        "expiry-warning": "3d",
        "namespace-grants": [{"namespace": "shared.db", "flows": ["company.team"]}],
    }))
    .unwrap();
    assert_eq!(
        config.jdbc.key.as_ref().map(SecretKey::id),
        Some(SecretKey::from_passphrase(PASSPHRASE).unwrap().id())
    );
    assert_eq!(config.tags["application"], "kestra-production");
    assert_eq!(config.cache.maximum_size, 500);
    assert_eq!(config.cache.expire_after_write, Duration::from_secs(60));
    assert_eq!(
        config
            .isolation
            .denied_services
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [Service::Executor, Service::Scheduler]
    );
    assert!(config.isolation.check(Service::Executor).is_err());
    assert!(config.isolation.check(Service::Worker).is_ok());
    assert_eq!(config.expiry_warning, Duration::from_secs(3 * 86_400));
    let access = config.namespace_access();
    let team = "company.team.x".parse().unwrap();
    assert!(access.may_name(&team, &"shared.db".parse().unwrap()));
    // The passphrase is not kept and not printed.
    assert!(!format!("{config:?}").contains(PASSPHRASE));
}

#[test]
fn camel_case_keys_are_accepted() {
    let config = load(json!({
        "cache": {"maximumSize": 5, "expireAfterWrite": "5m"},
        "isolation": {"enabled": true, "deniedServices": ["WORKER"]},
    }))
    .unwrap();
    assert_eq!(config.cache.maximum_size, 5);
    assert_eq!(config.cache.expire_after_write, Duration::from_secs(300));
    assert!(config.isolation.check(Service::Worker).is_err());
}

#[test]
fn env_backend_and_its_tags() {
    let config = load(json!({"type": "env", "env": {"tags": {"team": "data"}}})).unwrap();
    assert_eq!(config.backend, BackendKind::Env);
    assert_eq!(config.tags["team"], "data");
}

#[test]
fn other_backends_sections_are_tolerated() {
    // A Kestra file configuring a backend Saker lacks next to the one it uses.
    let config = load(json!({
        "type": "jdbc",
        "vault": {"address": "http://localhost:8200", "token": {"token": "hvs.SECRETTOKEN"}},
        "azure-key-vault": {"client-secret": {"tenant-id": "id", "client-secret": "s"}},
        "aws-secret-manager": {"accessKeyId": "a", "secretKeyId": "b", "tags": {"x": "y"}},
    }))
    .unwrap();
    assert!(
        config.tags.is_empty(),
        "tags of unused backends do not apply"
    );
    assert!(!format!("{config:?}").contains("SECRETTOKEN"));
}

#[test]
fn unavailable_backends_are_named() {
    let err = error(json!({"type": "elasticsearch"}));
    assert_eq!(err.key, "secret.type");
    assert_eq!(
        err.message,
        "secret backend 'elasticsearch' is not yet available in Saker; available: jdbc, env, \
         vault, aws-secret-manager, google-secret-manager, azure-key-vault"
    );
    // Available remote backends name the first key their section lacks.
    let err = SecretConfig::from_value_with_env(json!({"type": "vault"}), &|_| None).unwrap_err();
    assert_eq!(err.key, "secret.vault.address");
    // The name one Kestra page uses for Azure.
    let err = SecretConfig::from_value_with_env(json!({"type": "azure-secret-manager"}), &|_| None)
        .unwrap_err();
    assert_eq!(err.key, "secret.azure-key-vault.clientSecret");
    let unknown = error(json!({"type": "s3cr3t-backend"}));
    assert_eq!(
        unknown.to_string(),
        "secret.type: unknown secret backend; available: jdbc, env, vault, aws-secret-manager, \
         google-secret-manager, azure-key-vault"
    );
}

#[test]
fn short_jdbc_passphrase_is_refused_without_echo() {
    let err = error(json!({"jdbc": {"secret": "your-secret-key"}}));
    assert_eq!(err.key, "secret.jdbc.secret");
    assert!(err.message.contains("at least 32 characters"), "{err}");
    assert!(err.message.contains("openssl rand -base64 32"), "{err}");
    assert!(!err.to_string().contains("your-secret-key"), "{err}");
}

#[test]
fn bad_durations_name_the_key() {
    let err = error(json!({"cache": {"expire-after-write": "60 seconds"}}));
    assert_eq!(
        err.to_string(),
        "secret.cache.expire-after-write: not a duration: write it like 60s, 5m, 1h, 7d or PT1M"
    );
    assert_eq!(
        error(json!({"expiry-warning": "soon"})).key,
        "secret.expiry-warning"
    );
}

#[test]
fn unknown_services_name_the_entry() {
    let err =
        error(json!({"isolation": {"enabled": true, "denied-services": ["WORKER", "INDEXER"]}}));
    assert_eq!(
        err.to_string(),
        "secret.isolation.denied-services[1]: unknown service: use WEBSERVER, EXECUTOR, WORKER \
         or SCHEDULER"
    );
}

#[test]
fn denied_services_without_enabled_is_an_error() {
    let err = error(json!({"isolation": {"denied-services": ["EXECUTOR"]}}));
    assert_eq!(err.key, "secret.isolation.enabled");
    assert!(err.message.contains("enabled: true"), "{err}");
}

#[test]
fn cache_limits() {
    assert_eq!(
        error(json!({"cache": {"maximum-size": 0}})).key,
        "secret.cache.maximum-size"
    );
    assert_eq!(
        error(json!({"cache": {"expire-after-write": "0s"}})).key,
        "secret.cache.expire-after-write"
    );
    let off = load(json!({"cache": {"enabled": false, "maximum-size": 0}})).unwrap();
    assert!(!off.cache.enabled);
    assert_eq!(
        error(json!({"jdbc": {"max-versions": 0}})).key,
        "secret.jdbc.max-versions"
    );
}

#[test]
fn typos_and_wrong_types_name_the_key_but_not_the_value() {
    let typo = error(json!({"cahce": {"enabled": true}}));
    assert_eq!(typo.key, "secret.cahce");
    assert!(typo.message.contains("unknown field `cahce`"), "{typo}");

    let nested = error(json!({"cache": {"maximum_size": 5}}));
    assert_eq!(nested.key, "secret.cache.maximum_size");
    assert!(nested.message.contains("`maximum_size`"), "{nested}");

    // A secret pasted where a section belongs must not reach the start-up log.
    let misplaced = error(json!({"jdbc": "pasted-secret-value-0123456789-abcdef"}));
    assert_eq!(misplaced.key, "secret.jdbc");
    assert!(
        !misplaced.to_string().contains("pasted-secret"),
        "{misplaced}"
    );
    assert!(
        misplaced.message.starts_with("wrong type: expected"),
        "{misplaced}"
    );

    let number = error(json!({"jdbc": {"secret": 123456789012345678_u64}}));
    assert_eq!(number.key, "secret.jdbc.secret");
    assert!(
        !number.to_string().contains("123456789012345678"),
        "{number}"
    );

    let size = error(json!({"cache": {"maximum-size": "many"}}));
    assert_eq!(size.key, "secret.cache.maximum-size");
    assert!(!size.to_string().contains("many"), "{size}");
}

#[test]
fn grants_are_validated() {
    let empty = error(json!({"namespace-grants": [{"namespace": "shared", "flows": []}]}));
    assert_eq!(empty.key, "secret.namespace-grants[0].flows");
    let bad = error(json!({"namespace-grants": [{"namespace": "Shared", "flows": ["a"]}]}));
    assert_eq!(bad.key, "secret.namespace-grants[0].namespace");
    assert!(bad.message.contains("lower-case"), "{bad}");
}

#[test]
fn serde_deserialize_applies_the_same_validation() {
    let config: SecretConfig = serde_json::from_value(json!({"type": "env"})).unwrap();
    assert_eq!(config.backend, BackendKind::Env);
    let err = serde_json::from_value::<SecretConfig>(json!({"type": "elasticsearch"})).unwrap_err();
    assert!(
        err.to_string()
            .contains("'elasticsearch' is not yet available"),
        "{err}"
    );
}
