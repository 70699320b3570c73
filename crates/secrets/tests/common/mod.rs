//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

use std::sync::Arc;

use saker_secrets::{
    Accessor, Namespace, SecretConfig, SecretService, SecretStore, SecretValue, SecretWrite,
    Service,
};
use saker_store::SqliteStore;

/// `text` as a namespace (test names are valid).
pub fn ns(text: &str) -> Namespace {
    Namespace::parse(text).unwrap()
}

/// Compares a value without ever showing it in an assertion message.
pub fn same(value: &SecretValue, expected: &str) -> bool {
    value.expose() == expected
}

/// The accessor every backend test writes as.
pub fn who() -> Accessor {
    Accessor::user("cli:test")
}

/// A write of `value`, checked against `expected` (check-and-set) when given.
pub fn write(value: &str, expected: Option<u64>) -> SecretWrite {
    let mut write = SecretWrite::new(SecretValue::new(value));
    write.expected_version = expected;
    write
}

/// The worker's secret service over `store`, and its audit database (in memory).
pub fn service(
    config: &SecretConfig,
    store: Arc<dyn SecretStore>,
) -> (SecretService, Arc<SqliteStore>) {
    let db = Arc::new(SqliteStore::open_in_memory().unwrap());
    let service = SecretService::new(store, db.clone(), config, Service::Worker);
    (service, db)
}
