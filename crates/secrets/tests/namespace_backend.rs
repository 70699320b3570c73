//! A dedicated backend per namespace (issue 15 item 4): the instance keeps its secrets in the
//! encrypted jdbc store while namespace `team` has a Vault backend (the Vault test server of
//! `tests/vault/server.rs`). Flows in `team`'s children resolve from Vault, flows elsewhere
//! from jdbc; the configuration is shown with its token blanked, stored sealed (the SQLite
//! file holds no token), audited, and removing it falls back to the instance's backend.

mod common;
#[path = "vault/server.rs"]
#[allow(dead_code)] // the other half of the server's controls is for vault_backend.rs
mod server;

use common::who;
use std::sync::Arc;

use common::{ns, same};
use saker_crypto::{Keyring, SecretKey};
use saker_secrets::{
    BackendSettings, JdbcSecretStore, NamespaceBackendError, SecretConfig, SecretService,
    SecretValue, SecretWrite, Service,
};
use saker_store::{AuditFilter, AuditLog, SqliteStore};
use serde_json::{Value, json};
use server::{ROOT_TOKEN, VaultServer};

struct Setup {
    service: SecretService,
    db: Arc<SqliteStore>,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// jdbc as the instance's backend, namespace backends enabled, no cache (so that every
/// resolution shows which backend answered).
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let db = Arc::new(SqliteStore::open(&path).unwrap());
    let keyring = Keyring::new(SecretKey::generate());
    let config =
        SecretConfig::from_value(json!({"type": "jdbc", "cache": {"enabled": false}})).unwrap();
    let jdbc = Arc::new(JdbcSecretStore::new(db.clone(), keyring.clone(), 10));
    let service = SecretService::new(jdbc, db.clone(), &config, Service::Worker)
        .with_namespace_backends(BackendSettings {
            rows: db.clone(),
            keyring,
        });
    Setup {
        service,
        db,
        path,
        _dir: dir,
    }
}

fn vault_document(vault: &VaultServer, read_only: bool) -> Value {
    json!({
        "type": "vault",
        "read-only": read_only,
        "vault": {"address": vault.address, "token": {"token": ROOT_TOKEN},
                  "secret-path-prefix": "teams"}
    })
}

fn put(service: &SecretService, namespace: &str, key: &str, value: &str) {
    service
        .put(
            "main",
            &ns(namespace),
            key,
            SecretWrite::new(SecretValue::new(value)),
            &who(),
        )
        .unwrap();
}

fn resolve(service: &SecretService, namespace: &str, key: &str) -> SecretValue {
    service
        .resolve("main", &ns(namespace), key, None, &who())
        .unwrap()
        .value
}

#[test]
fn a_namespace_with_its_own_vault_beside_the_jdbc_store() {
    let vault = VaultServer::start();
    // `_dir` bound by name: left to `..`, it would be dropped (the directory removed) at once.
    let Setup {
        service,
        db,
        path,
        _dir,
    } = setup();
    put(&service, "team", "API_KEY", "jdbc-team-value");
    put(&service, "other", "API_KEY", "jdbc-other-value");

    let shown = service
        .set_namespace_backend("main", &ns("team"), vault_document(&vault, false), &who())
        .unwrap();
    assert_eq!(shown["vault"]["token"], json!("****"));
    assert!(!shown.to_string().contains(ROOT_TOKEN));

    // Writes under `team` now land in Vault, under Saker's layout.
    put(&service, "team", "API_KEY", "vault-team-value");
    assert_eq!(
        vault.current_value("secret", "teams/main/team/API_KEY"),
        Some(json!({"value": "vault-team-value"}))
    );
    // A flow in a child of `team` resolves from Vault; one elsewhere from jdbc.
    assert!(same(
        &resolve(&service, "team.project", "API_KEY"),
        "vault-team-value"
    ));
    assert!(same(
        &resolve(&service, "other.project", "API_KEY"),
        "jdbc-other-value"
    ));

    // Shown again, from the stored row: still blanked.
    let stored = service
        .namespace_backend("main", &ns("team"))
        .unwrap()
        .unwrap();
    assert_eq!(stored["type"], json!("vault"));
    assert_eq!(stored["vault"]["address"], json!(vault.address));
    assert_eq!(stored["vault"]["token"], json!("****"));
    assert_eq!(
        service.namespace_backend("main", &ns("other")).unwrap(),
        None
    );
    // Not another tenant's.
    assert_eq!(service.namespace_backend("t2", &ns("team")).unwrap(), None);

    // No plaintext token anywhere in the database file.
    drop(service.clone());
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for haystack in [&bytes, &wal] {
        assert!(
            !haystack
                .windows(ROOT_TOKEN.len())
                .any(|w| w == ROOT_TOKEN.as_bytes()),
            "the Vault token is stored in plaintext"
        );
    }

    // Removing it falls back to the instance's store, where the older value still is.
    assert!(
        service
            .remove_namespace_backend("main", &ns("team"), &who())
            .unwrap()
    );
    assert!(
        !service
            .remove_namespace_backend("main", &ns("team"), &who())
            .unwrap()
    );
    assert!(same(
        &resolve(&service, "team.project", "API_KEY"),
        "jdbc-team-value"
    ));

    // Set and remove are audited, without the token.
    let events: Vec<_> = db
        .list_audit(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .map(|record| record.event)
        .collect();
    let details: Vec<String> = events
        .iter()
        .filter(|e| e.key.is_none() && e.namespace.as_deref() == Some("team"))
        .map(|e| format!("{} {}", e.action, e.detail.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        details,
        [
            "write secret-manager set: vault",
            "delete secret-manager removed"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| !format!("{e:?}").contains(ROOT_TOKEN))
    );
}

#[test]
fn a_read_only_namespace_refuses_writes_while_others_write() {
    let vault = VaultServer::start();
    let setup = setup();
    let service = setup.service;
    service
        .set_namespace_backend("main", &ns("team"), vault_document(&vault, true), &who())
        .unwrap();
    let err = service
        .put(
            "main",
            &ns("team.project"),
            "K",
            SecretWrite::new(SecretValue::new("v")),
            &who(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    put(&service, "other", "K", "jdbc-value");
    assert!(same(&resolve(&service, "other", "K"), "jdbc-value"));
}

#[test]
fn bad_configurations_name_the_key_and_store_nothing() {
    let setup = setup();
    let service = setup.service;
    let err = service
        .set_namespace_backend(
            "main",
            &ns("team"),
            json!({"type": "vault", "vault": {"token": {"token": "hvs.secret-token"}}}),
            &who(),
        )
        .unwrap_err();
    let NamespaceBackendError::Invalid(config) = &err else {
        panic!("expected an invalid configuration, got {err}");
    };
    assert!(config.key.starts_with("vault"), "{err}");
    assert!(!err.to_string().contains("hvs.secret-token"), "{err}");
    let err = service
        .set_namespace_backend("main", &ns("team"), json!({"type": "nope"}), &who())
        .unwrap_err();
    assert!(err.to_string().contains("type"), "{err}");
    assert_eq!(
        service.namespace_backend("main", &ns("team")).unwrap(),
        None
    );
}

#[test]
fn a_service_without_namespace_backends_says_so() {
    let db = Arc::new(SqliteStore::open_in_memory().unwrap());
    let jdbc = Arc::new(JdbcSecretStore::new(
        db.clone(),
        Keyring::new(SecretKey::generate()),
        10,
    ));
    let service = SecretService::new(jdbc, db, &SecretConfig::default(), Service::Worker);
    let err = service.namespace_backend("main", &ns("team")).unwrap_err();
    assert!(matches!(err, NamespaceBackendError::NotEnabled), "{err}");
}

#[test]
fn an_unreachable_namespace_backend_fails_closed_naming_the_key() {
    let vault = VaultServer::start();
    let setup = setup();
    let service = setup.service;
    let mut document = vault_document(&vault, false);
    // A port nothing listens on.
    document["vault"]["address"] = json!("http://127.0.0.1:9");
    service
        .set_namespace_backend("main", &ns("team"), document, &who())
        .unwrap();
    let err = service
        .resolve("main", &ns("team.project"), "K", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("vault"), "{text}");
    assert!(!text.contains(ROOT_TOKEN), "{text}");
}
