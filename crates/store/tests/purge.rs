//! Retention on SQLite (the assertions are shared with PostgreSQL in `common::contract`).

mod common;

use common::contract;
use saker_store::SqliteStore;

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn ended_executions_before_the_date_go_with_their_task_runs_and_logs() {
    contract::purge::ended_executions_before_the_date_go_with_their_task_runs_and_logs(&store());
}

#[test]
fn an_execution_that_ends_later_is_purged_by_its_end() {
    contract::purge::an_execution_that_ends_later_is_purged_by_its_end(&store());
}

#[test]
fn filters_select_by_namespace_flow_state_and_start() {
    contract::purge::filters_select_by_namespace_flow_state_and_start(&store());
}

#[test]
fn purging_only_logs_keeps_the_executions() {
    contract::purge::purging_only_logs_keeps_the_executions(&store());
}

#[test]
fn more_than_one_batch_is_purged_and_counted() {
    contract::purge::more_than_one_batch_is_purged_and_counted(&store());
}

#[test]
fn a_log_purge_filters_by_date_level_execution_and_namespace() {
    contract::purge::a_log_purge_filters_by_date_level_execution_and_namespace(&store());
}

#[test]
fn the_audit_trail_is_never_purged() {
    contract::purge::the_audit_trail_is_never_purged(&store());
}
