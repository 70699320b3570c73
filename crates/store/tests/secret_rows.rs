//! The `SecretRows` contract on the SQLite store: check-and-set, pruning, withdrawal,
//! destruction, rekey paging and concurrent writers (the assertions are shared with
//! PostgreSQL in `common::contract`).

mod common;

use std::sync::Arc;

use common::contract::secret_rows as contract;
use saker_store::SqliteStore;

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn create_then_write_versions_with_check_and_set() {
    contract::create_then_write_versions_with_check_and_set(&store());
}

#[test]
fn old_versions_beyond_the_kept_number_are_pruned() {
    contract::old_versions_beyond_the_kept_number_are_pruned(&store());
}

#[test]
fn changes_check_the_generation_and_withdraw_versions() {
    contract::changes_check_the_generation_and_withdraw_versions(&store());
}

#[test]
fn destroy_removes_everything_and_numbering_restarts() {
    contract::destroy_removes_everything_and_numbering_restarts(&store());
}

#[test]
fn reads_are_recorded_monotonically() {
    contract::reads_are_recorded_monotonically(&store());
}

#[test]
fn listing_is_per_namespace_and_sorted() {
    contract::listing_is_per_namespace_and_sorted(&store());
}

#[test]
fn version_pages_walk_every_tenant_and_skip_withdrawn_rows() {
    contract::version_pages_walk_every_tenant_and_skip_withdrawn_rows(&store());
}

#[test]
fn ciphertext_replacement_is_check_and_set() {
    contract::ciphertext_replacement_is_check_and_set(&store());
}

#[test]
fn a_corrupt_row_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let store = SqliteStore::open(&path).unwrap();
    contract::a_corrupt_row_is_an_error_naming_it(&store, &|| {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA ignore_check_constraints = 1; UPDATE secrets SET state = 'weird'",
        )
        .unwrap();
    });
}

#[test]
fn concurrent_writers_never_share_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    contract::concurrent_writers_never_share_a_version(store);
}
