//! The `AuthRows` contract on the SQLite store: keys, references, cascades, single use of
//! invitations, round trips through a reopened file (the assertions are shared with
//! PostgreSQL in `common::contract`).

mod common;

use common::contract::auth_rows::{self as contract, token, user};
use saker_store::{AuthRows, SqliteStore};

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn rows_round_trip_through_a_reopened_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    contract::rows_round_trip_through_a_reopened_store(&|| -> Box<dyn AuthRows> {
        Box::new(SqliteStore::open(&path).unwrap())
    });
}

#[test]
fn keys_and_references_are_enforced() {
    contract::keys_and_references_are_enforced(&store());
}

#[test]
fn deletes_cascade() {
    contract::deletes_cascade(&store());
}

#[test]
fn users_can_be_updated_and_roles_replaced() {
    contract::users_can_be_updated_and_roles_replaced(&store());
}

#[test]
fn an_invitation_is_accepted_once_with_its_user_and_bindings() {
    contract::an_invitation_is_accepted_once_with_its_user_and_bindings(&store());
}

#[test]
fn a_failed_acceptance_leaves_no_user_and_does_not_spend_the_invitation() {
    contract::a_failed_acceptance_leaves_no_user_and_does_not_spend_the_invitation(&store());
}

#[test]
fn debug_never_prints_hashes() {
    let u = user("u1", "ann");
    let t = token("t1", "u1");
    assert!(!format!("{u:?}").contains("hash-of-ann"));
    assert!(!format!("{t:?}").contains(&"ab".repeat(32)));
}
