//! The audit trail on the SQLite store: appends chain, filters select, and `verify_audit`
//! names the first event edited, deleted, reordered or inserted by hand (the assertions are
//! shared with PostgreSQL in `common::contract`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::contract::audit as contract;
use saker_store::SqliteStore;

/// A file-backed store, and where it is, to tamper with it through another connection.
fn file_store() -> (tempfile::TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, store)
}

fn tamper(path: &Path) -> impl Fn(&str) + '_ {
    move |sql: &str| {
        rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }
}

macro_rules! tampering {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let (_dir, path, store) = file_store();
            contract::$name(&store, &tamper(&path));
        }
    )*};
}

tampering![
    an_edited_event_is_named,
    an_edited_hash_is_named,
    a_deleted_event_is_named,
    deleting_the_first_event_is_named,
    deleting_the_newest_events_is_noticed_through_the_head,
    reordered_events_are_named,
    an_event_inserted_by_hand_is_named,
    a_deleted_head_is_noticed,
];

#[test]
fn an_untouched_trail_verifies() {
    let (_dir, _path, store) = file_store();
    contract::an_untouched_trail_verifies(&store);
    contract::an_untouched_trail_verifies(&SqliteStore::open_in_memory().unwrap());
}

#[test]
fn appends_link_each_event_to_the_previous_one() {
    contract::appends_link_each_event_to_the_previous_one(&SqliteStore::open_in_memory().unwrap());
}

#[test]
fn a_garbled_column_is_reported_not_a_panic() {
    let (_dir, path, store) = file_store();
    contract::a_garbled_column_is_reported_not_a_panic(
        &store,
        &tamper(&path),
        "UPDATE audit_events SET timestamp = 'soon' WHERE seq = 2",
    );
}

#[test]
fn filters_select_by_namespace_key_actor_and_time() {
    contract::filters_select_by_namespace_key_actor_and_time(
        &SqliteStore::open_in_memory().unwrap(),
    );
}

#[test]
fn concurrent_appends_keep_one_chain() {
    let (_dir, _path, store) = file_store();
    contract::concurrent_appends_keep_one_chain(Arc::new(store));
}
