//! What the elasticsearch, 1password and doppler backend tests share: a secret service over
//! the configured remote backend (with `secret.read-only` applied, as the binary does), an
//! accessor, writes, and the fail-closed check of an outage.
#![allow(dead_code)] // each test file uses a different subset

use std::sync::Arc;

use saker_secrets::{Accessor, SecretConfig, SecretService, SecretValue, SecretWrite, Service};
use saker_store::{AuditFilter, AuditLog, SqliteStore};
use serde_json::Value;

/// The service over the backend of the `secret` section `config`, and its audit database.
pub fn open(config: Value) -> (SecretService, Arc<SqliteStore>) {
    let config = SecretConfig::from_value(config).unwrap();
    let backend = saker_secrets::open_remote(&config).unwrap();
    let backend = saker_secrets::apply_read_only(&config, backend);
    let db = Arc::new(SqliteStore::open_in_memory().unwrap());
    (
        SecretService::new(backend, db.clone(), &config, Service::Worker),
        db,
    )
}

pub fn who() -> Accessor {
    Accessor::user("cli:test")
}

pub fn write(value: &str, expected: Option<u64>) -> SecretWrite {
    let mut write = SecretWrite::new(SecretValue::new(value));
    write.expected_version = expected;
    write
}

/// Resolving `DB_PASSWORD` from `company.team` fails naming `backend` and the key, never
/// `credential` (the configured password or token), and the attempt is audited as failed.
pub fn assert_fails_closed(
    service: &SecretService,
    db: &SqliteStore,
    backend: &str,
    credential: &str,
) {
    let company_team = saker_secrets::Namespace::parse("company.team").unwrap();
    let err = service
        .resolve("main", &company_team, "DB_PASSWORD", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(backend) && text.contains("DB_PASSWORD"),
        "{text}"
    );
    assert!(!text.contains(credential), "{text}");
    let last = db
        .list_audit(&AuditFilter::default())
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.event.outcome, "failed");
}

/// The error of resolving `K` from `company.team` (which must fail).
pub fn resolve_failure(service: &SecretService) -> String {
    let company_team = saker_secrets::Namespace::parse("company.team").unwrap();
    service
        .resolve("main", &company_team, "K", None, &who())
        .unwrap_err()
        .to_string()
}
