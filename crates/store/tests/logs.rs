//! Log lines: order, the follow cursor and the filters, on SQLite (the assertions are shared
//! with PostgreSQL in `common::contract`).

mod common;

use common::contract;
use saker_store::SqliteStore;

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn lines_come_back_in_order_with_growing_seq() {
    contract::logs::lines_come_back_in_order_with_growing_seq(&store());
}

#[test]
fn the_cursor_returns_only_newer_lines() {
    contract::logs::the_cursor_returns_only_newer_lines(&store());
}

#[test]
fn filters_by_level_and_task_run() {
    contract::logs::filters_by_level_and_task_run(&store());
}

#[test]
fn lines_of_an_unknown_execution_are_refused_all_together() {
    contract::logs::lines_of_an_unknown_execution_are_refused_all_together(&store());
}
