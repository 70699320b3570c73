//! The namespace backend rows on SQLite (the assertions are shared with PostgreSQL in
//! `common::contract`).

mod common;

use common::contract::namespace_backends as contract;
use saker_store::SqliteStore;

#[test]
fn a_configuration_is_set_replaced_and_removed() {
    contract::a_configuration_is_set_replaced_and_removed(&SqliteStore::open_in_memory().unwrap());
}
