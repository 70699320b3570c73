//! The contracts of the store's traits ([`saker_store::Store`], [`saker_store::SecretRows`],
//! [`saker_store::AuditLog`], [`saker_store::AuthRows`], [`saker_store::KvStore`]) as functions over any backend: the
//! SQLite test files and the PostgreSQL one (`tests/postgres.rs`) run the same assertions.

pub mod audit;
pub mod auth_rows;
pub mod concurrency;
pub mod executions;
pub mod flows;
pub mod kv;
pub mod logs;
pub mod namespace_backends;
pub mod purge;
pub mod secret_rows;
pub mod trigger_state;
