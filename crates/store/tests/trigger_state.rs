//! The scheduler's trigger states: upserts by key, listings in key order, deletion,
//! atomicity with the execution a trigger starts, the tenants with live flows, a reopened
//! file and corrupt rows, on SQLite (the assertions are shared with PostgreSQL in
//! `common::contract`).

mod common;

use std::sync::Arc;

use common::contract::trigger_state as contract;
use saker_store::{SqliteStore, Store};

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn an_unknown_trigger_has_no_state() {
    contract::an_unknown_trigger_has_no_state(&store());
}

#[test]
fn a_state_round_trips_and_saving_again_replaces_it() {
    contract::a_state_round_trips_and_saving_again_replaces_it(&store());
}

#[test]
fn states_are_listed_per_tenant_in_key_order() {
    contract::states_are_listed_per_tenant_in_key_order(&store());
}

#[test]
fn deleting_a_state_says_whether_there_was_one() {
    contract::deleting_a_state_says_whether_there_was_one(&store());
}

#[test]
fn a_batch_commits_an_execution_with_its_trigger_state() {
    contract::a_batch_commits_an_execution_with_its_trigger_state(&store());
}

#[test]
fn a_failing_batch_keeps_neither_the_execution_nor_the_trigger_state() {
    contract::a_failing_batch_keeps_neither_the_execution_nor_the_trigger_state(&store());
}

#[test]
fn flow_tenants_are_the_tenants_with_live_flows() {
    contract::flow_tenants_are_the_tenants_with_live_flows(&store());
}

#[test]
fn states_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    contract::states_survive_reopening_the_store(&|| -> Box<dyn Store> {
        Box::new(SqliteStore::open(&path).unwrap())
    });
}

#[test]
fn a_corrupt_state_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let store = SqliteStore::open(&path).unwrap();
    contract::a_corrupt_state_is_an_error_naming_it(&store, &|sql: &str| {
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    });
}

#[test]
fn concurrent_saves_of_one_trigger_keep_one_state() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    contract::concurrent_saves_of_one_trigger_keep_one_state(store);
}
