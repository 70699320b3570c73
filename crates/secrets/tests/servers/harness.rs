//! What the elasticsearch, 1password and doppler backend tests share: a secret service over
//! the configured remote backend (with `secret.read-only` applied, as the binary does), an
//! accessor, writes, and the fail-closed check of an outage.
#![allow(dead_code)] // each test file uses a different subset

use std::sync::Arc;

use saker_secrets::{SecretConfig, SecretService, Service};
use saker_store::{AuditFilter, AuditLog, SqliteStore};
use serde_json::Value;

pub use crate::common::{who, write};

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

/// `DB` written in `company` through `open(false)` is resolved from `company.team` through
/// `open(true)` (read-only), which refuses to write it; returns the read-only service.
pub fn assert_read_only(
    open: impl Fn(bool) -> (SecretService, Arc<SqliteStore>),
) -> (SecretService, Arc<SqliteStore>) {
    let company = saker_secrets::Namespace::parse("company").unwrap();
    let company_team = saker_secrets::Namespace::parse("company.team").unwrap();
    let (writer, _db) = open(false);
    writer
        .put("main", &company, "DB", write("db-value", None), &who())
        .unwrap();
    let (reader, db) = open(true);
    let found = reader
        .resolve("main", &company_team, "DB", None, &who())
        .unwrap();
    assert!(found.value.expose() == "db-value", "another value");
    let err = reader
        .put("main", &company, "DB", write("other", None), &who())
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    (reader, db)
}

/// Writes `FROM_SAKER` = `written-by-saker` in `company`, for the Python clients to read.
pub fn put_from_saker(service: &SecretService) {
    let company = saker_secrets::Namespace::parse("company").unwrap();
    service
        .put(
            "main",
            &company,
            "FROM_SAKER",
            write("written-by-saker", None),
            &who(),
        )
        .unwrap();
}

/// Writes `FROM_SAKER` through `service`, then runs `script` (an official client's check of
/// the test server, reading what Saker wrote) with `args`; it must print `agreed`. Skips
/// (with a SKIPPED line) without the peers' Python.
pub fn assert_python_agrees(service: &SecretService, script: &str, args: &[&str], agreed: &str) {
    put_from_saker(service);
    let Some(shown) = super::servers::python(script, args) else {
        return;
    };
    assert!(shown.contains(agreed), "{shown}");
}
