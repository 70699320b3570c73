//! The [`saker_store::Store`] contract as functions over any backend: the SQLite test files
//! and the PostgreSQL one (`tests/postgres.rs`) run the same assertions.

pub mod concurrency;
pub mod executions;
pub mod flows;
pub mod logs;
