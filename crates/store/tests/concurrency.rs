//! Several threads on one SQLite store: writers do not lose each other's rows, readers never
//! see a half-written batch, a log follower misses nothing (shared with PostgreSQL in
//! `common::contract`), and reads do not wait for writers.

mod common;

use std::sync::Arc;

use common::{contract, execution};
use rusqlite::Connection;
use saker_model::execution::StateType;
use saker_store::{SqliteStore, Store};

fn file_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("saker.db")).unwrap();
    (dir, Arc::new(store))
}

#[test]
fn concurrent_writers_and_readers_see_whole_batches() {
    let (_dir, store) = file_store();
    contract::concurrency::concurrent_writers_and_readers_see_whole_batches(store);
}

#[test]
fn a_follower_sees_every_line_once_in_order() {
    let (_dir, store) = file_store();
    contract::concurrency::a_follower_sees_every_line_once_in_order(store);
}

#[test]
fn reads_do_not_wait_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let store = SqliteStore::open(&path).unwrap();
    let e = execution("ns", "f");
    store.create_execution(&e).unwrap();

    // Another connection holds the write lock with uncommitted changes.
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    blocker
        .execute("UPDATE executions SET state = 'KILLED'", [])
        .unwrap();

    // Reads proceed, and see the last committed snapshot, not the pending change.
    let got = store.get_execution(&e.id).unwrap().unwrap();
    assert_eq!(got.state.current, StateType::Created);
    assert_eq!(
        store.executions_in_states(&[StateType::Created]).unwrap(),
        vec![e.id.clone()]
    );
    blocker.execute_batch("ROLLBACK").unwrap();
}
