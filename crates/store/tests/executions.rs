//! Executions and task runs: round trips, upserts, filters, batches and their atomicity, on
//! SQLite (the assertions are shared with PostgreSQL in `common::contract`).

mod common;

use common::{contract, execution};
use saker_store::{SqliteStore, Store};

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn an_execution_round_trips_with_its_task_runs_in_creation_order() {
    contract::executions::an_execution_round_trips_with_its_task_runs_in_creation_order(&store());
}

#[test]
fn creating_twice_is_refused() {
    contract::executions::creating_twice_is_refused(&store());
}

#[test]
fn saving_replaces_the_execution_but_not_its_task_runs() {
    contract::executions::saving_replaces_the_execution_but_not_its_task_runs(&store());
}

#[test]
fn saving_an_unknown_execution_is_not_found() {
    contract::executions::saving_an_unknown_execution_is_not_found(&store());
}

#[test]
fn an_execution_keeps_its_identity() {
    contract::executions::an_execution_keeps_its_identity(&store());
}

#[test]
fn a_task_run_needs_its_execution() {
    contract::executions::a_task_run_needs_its_execution(&store());
}

#[test]
fn a_task_run_id_cannot_move_to_another_execution() {
    contract::executions::a_task_run_id_cannot_move_to_another_execution(&store());
}

#[test]
fn creating_with_a_foreign_task_run_stores_nothing() {
    contract::executions::creating_with_a_foreign_task_run_stores_nothing(&store());
}

#[test]
fn deleted_task_runs_are_gone_but_not_another_executions_or_the_logs() {
    contract::executions::deleted_task_runs_are_gone_but_not_another_executions_or_the_logs(
        &store(),
    );
}

#[test]
fn a_batch_is_applied_in_order() {
    contract::executions::a_batch_is_applied_in_order(&store());
}

#[test]
fn a_failing_batch_leaves_nothing_behind() {
    contract::executions::a_failing_batch_leaves_nothing_behind(&store());
}

#[test]
fn listing_filters_and_returns_newest_first() {
    contract::executions::listing_filters_and_returns_newest_first(&store());
}

#[test]
fn executions_in_states_finds_unfinished_ones_oldest_first() {
    contract::executions::executions_in_states_finds_unfinished_ones_oldest_first(&store());
}

#[test]
fn deleting_an_execution_takes_its_task_runs_and_logs() {
    contract::executions::deleting_an_execution_takes_its_task_runs_and_logs(&store());
}

#[test]
fn the_store_is_usable_as_a_trait_object() {
    let s: std::sync::Arc<dyn Store> = std::sync::Arc::new(store());
    let e = execution("ns", "f");
    s.create_execution(&e).unwrap();
    assert_eq!(s.get_execution(&e.id).unwrap().unwrap().id, e.id);
}
