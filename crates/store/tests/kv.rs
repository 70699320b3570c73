//! The KV store on SQLite (the assertions are shared with PostgreSQL in `common::contract`),
//! plus entries surviving a reopened file.

mod common;

use common::contract::kv as contract;
use saker_store::{KvStore, SqliteStore};

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn an_entry_round_trips_with_its_type_description_and_sealed_flag() {
    contract::an_entry_round_trips_with_its_type_description_and_sealed_flag(&store());
}

#[test]
fn overwrite_replaces_the_value_and_keeps_the_creation_date() {
    contract::overwrite_replaces_the_value_and_keeps_the_creation_date(&store());
}

#[test]
fn tenants_and_namespaces_are_separate() {
    contract::tenants_and_namespaces_are_separate(&store());
}

#[test]
fn listing_is_sorted_by_key_and_filtered_by_prefix() {
    contract::listing_is_sorted_by_key_and_filtered_by_prefix(&store());
}

#[test]
fn deleting_says_whether_there_was_an_entry() {
    contract::deleting_says_whether_there_was_an_entry(&store());
}

#[test]
fn an_expired_entry_reads_as_missing_everywhere() {
    contract::an_expired_entry_reads_as_missing_everywhere(&store());
}

#[test]
fn entries_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let e = contract::entry("company", "k", "\"kept\"");
    SqliteStore::open(&path).unwrap().put_kv(&e, true).unwrap();
    let back = SqliteStore::open(&path)
        .unwrap()
        .get_kv("main", "company", "k")
        .unwrap();
    assert_eq!(back, Some(e));
}
