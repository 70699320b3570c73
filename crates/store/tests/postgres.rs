//! The PostgreSQL backend against a throwaway cluster (`common::pg`): the same contract as
//! the SQLite tests (`common::contract`), plus what only a server shows: several stores (as
//! several processes) writing at once, reconnecting, schema versions, corrupt rows, readers
//! beside an open write transaction.
//!
//! The same holds for the other traits ([`saker_store::SecretRows`], [`AuditLog`],
//! [`AuthRows`]); only PostgreSQL can show audit appends from several processes at once.
//!
//! One `#[test]` runs every case, each on a fresh database, so that one cluster serves the
//! whole run whatever the test runner (nextest runs each test in its own process). A failing
//! case is reported by name and the others still run.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::pg::{self, PgCluster};
use common::{contract, execution, log, task_run};
use saker_model::execution::{Level, StateType};
use saker_store::{
    AuditEvent, AuditFilter, AuditLog, AuthRows, ExecutionFilter, LogQuery, PgStore, Store,
    StoreError, UserRow, verify_audit,
};

/// A case gets the URL of its own empty database.
type Case = pg::Case<str>;

macro_rules! on_store {
    ($($module:ident :: $name:ident),* $(,)?) => {
        [$((
            concat!(stringify!($module), "::", stringify!($name)),
            (|url: &str| contract::$module::$name(&PgStore::connect(url).unwrap())) as fn(&str),
        )),*]
    };
}

macro_rules! on_shared_store {
    ($($module:ident :: $name:ident),* $(,)?) => {
        [$((
            concat!(stringify!($module), "::", stringify!($name)),
            (|url: &str| contract::$module::$name(Arc::new(PgStore::connect(url).unwrap())))
                as fn(&str),
        )),*]
    };
}

/// For the cases that tamper with the database behind the store's back.
macro_rules! on_tampered_store {
    ($($module:ident :: $name:ident),* $(,)?) => {
        [$((
            concat!(stringify!($module), "::", stringify!($name)),
            (|url: &str| contract::$module::$name(&PgStore::connect(url).unwrap(), &|sql: &str| {
                raw(url).batch_execute(sql).unwrap()
            })) as fn(&str),
        )),*]
    };
}

#[test]
fn postgres_keeps_the_store_contract() {
    let started = Instant::now();
    let cluster = PgCluster::start();
    eprintln!("cluster started in {:?}", started.elapsed());
    let mut cases: Vec<Case> = Vec::new();
    cases.extend(on_store![
        flows::saving_creates_revisions_and_skips_identical_sources,
        flows::the_source_is_kept_verbatim,
        flows::tenants_and_namespaces_are_separate_flows,
        flows::deleting_keeps_history_and_hides_the_flow,
        flows::listing_returns_latest_revisions_below_a_namespace,
        executions::an_execution_round_trips_with_its_task_runs_in_creation_order,
        executions::creating_twice_is_refused,
        executions::saving_replaces_the_execution_but_not_its_task_runs,
        executions::saving_an_unknown_execution_is_not_found,
        executions::an_execution_keeps_its_identity,
        executions::a_task_run_needs_its_execution,
        executions::a_task_run_id_cannot_move_to_another_execution,
        executions::creating_with_a_foreign_task_run_stores_nothing,
        executions::a_batch_is_applied_in_order,
        executions::deleted_task_runs_are_gone_but_not_another_executions_or_the_logs,
        executions::a_failing_batch_leaves_nothing_behind,
        executions::listing_filters_and_returns_newest_first,
        executions::executions_in_states_finds_unfinished_ones_oldest_first,
        executions::deleting_an_execution_takes_its_task_runs_and_logs,
        logs::lines_come_back_in_order_with_growing_seq,
        logs::the_cursor_returns_only_newer_lines,
        logs::filters_by_level_and_task_run,
        logs::lines_of_an_unknown_execution_are_refused_all_together,
        trigger_state::an_unknown_trigger_has_no_state,
        trigger_state::a_state_round_trips_and_saving_again_replaces_it,
        trigger_state::states_are_listed_per_tenant_in_key_order,
        trigger_state::deleting_a_state_says_whether_there_was_one,
        trigger_state::a_batch_commits_an_execution_with_its_trigger_state,
        trigger_state::a_failing_batch_keeps_neither_the_execution_nor_the_trigger_state,
        trigger_state::flow_tenants_are_the_tenants_with_live_flows,
        purge::ended_executions_before_the_date_go_with_their_task_runs_and_logs,
        purge::an_execution_that_ends_later_is_purged_by_its_end,
        purge::filters_select_by_namespace_flow_state_and_start,
        purge::purging_only_logs_keeps_the_executions,
        purge::more_than_one_batch_is_purged_and_counted,
        purge::a_log_purge_filters_by_date_level_execution_and_namespace,
        purge::the_audit_trail_is_never_purged,
    ]);
    cases.extend(on_store![
        secret_rows::create_then_write_versions_with_check_and_set,
        secret_rows::old_versions_beyond_the_kept_number_are_pruned,
        secret_rows::changes_check_the_generation_and_withdraw_versions,
        secret_rows::destroy_removes_everything_and_numbering_restarts,
        secret_rows::reads_are_recorded_monotonically,
        secret_rows::listing_is_per_namespace_and_sorted,
        secret_rows::version_pages_walk_every_tenant_and_skip_withdrawn_rows,
        secret_rows::ciphertext_replacement_is_check_and_set,
        audit::an_untouched_trail_verifies,
        audit::appends_link_each_event_to_the_previous_one,
        audit::filters_select_by_namespace_key_actor_and_time,
        auth_rows::keys_and_references_are_enforced,
        auth_rows::deletes_cascade,
        auth_rows::users_can_be_updated_and_roles_replaced,
        auth_rows::an_invitation_is_accepted_once_with_its_user_and_bindings,
        auth_rows::a_failed_acceptance_leaves_no_user_and_does_not_spend_the_invitation,
        kv::an_entry_round_trips_with_its_type_description_and_sealed_flag,
        kv::overwrite_replaces_the_value_and_keeps_the_creation_date,
        kv::tenants_and_namespaces_are_separate,
        kv::listing_is_sorted_by_key_and_filtered_by_prefix,
        kv::deleting_says_whether_there_was_an_entry,
        kv::an_expired_entry_reads_as_missing_everywhere,
        namespace_backends::a_configuration_is_set_replaced_and_removed,
    ]);
    cases.extend(on_tampered_store![
        audit::an_edited_event_is_named,
        audit::an_edited_hash_is_named,
        audit::a_deleted_event_is_named,
        audit::deleting_the_first_event_is_named,
        audit::deleting_the_newest_events_is_noticed_through_the_head,
        audit::reordered_events_are_named,
        audit::an_event_inserted_by_hand_is_named,
        audit::a_deleted_head_is_noticed,
        trigger_state::a_corrupt_state_is_an_error_naming_it,
    ]);
    cases.extend(on_shared_store![
        concurrency::concurrent_writers_and_readers_see_whole_batches,
        concurrency::a_follower_sees_every_line_once_in_order,
        secret_rows::concurrent_writers_never_share_a_version,
        audit::concurrent_appends_keep_one_chain,
        trigger_state::concurrent_saves_of_one_trigger_keep_one_state,
    ]);
    cases.extend([
        (
            "pg::reconnecting_keeps_everything",
            reconnecting_keeps_everything as fn(&str),
        ),
        ("pg::a_newer_schema_is_refused", a_newer_schema_is_refused),
        (
            "pg::a_failing_migration_keeps_the_previous_version",
            a_failing_migration_keeps_the_previous_version,
        ),
        (
            "pg::corrupt_rows_are_errors_naming_table_and_id",
            corrupt_rows_are_errors,
        ),
        (
            "pg::reads_do_not_wait_for_a_writer",
            reads_do_not_wait_for_a_writer,
        ),
        (
            "pg::stores_saving_one_flow_at_once_get_consecutive_revisions",
            stores_saving_one_flow_at_once_get_consecutive_revisions,
        ),
        (
            "pg::a_follower_misses_nothing_from_concurrent_appenders",
            a_follower_misses_nothing_from_concurrent_appenders,
        ),
        (
            "pg::calls_from_async_runtime_threads_work",
            calls_from_async_runtime_threads_work,
        ),
        ("secret_rows::a_corrupt_row_is_an_error_naming_it", |url| {
            contract::secret_rows::a_corrupt_row_is_an_error_naming_it(
                &PgStore::connect(url).unwrap(),
                &|| {
                    raw(url)
                        .execute("UPDATE secrets SET created_at = $1", &[&i64::MAX])
                        .unwrap();
                },
            )
        }),
        ("audit::a_garbled_column_is_reported_not_a_panic", |url| {
            contract::audit::a_garbled_column_is_reported_not_a_panic(
                &PgStore::connect(url).unwrap(),
                &|sql| raw(url).batch_execute(sql).unwrap(),
                // A BIGINT column cannot hold text: an instant chrono cannot represent.
                "UPDATE audit_events SET timestamp = 9223372036854775807 WHERE seq = 2",
            )
        }),
        (
            "auth_rows::rows_round_trip_through_a_reopened_store",
            |url| {
                contract::auth_rows::rows_round_trip_through_a_reopened_store(
                    &|| -> Box<dyn AuthRows> { Box::new(PgStore::connect(url).unwrap()) },
                )
            },
        ),
        ("trigger_state::states_survive_reopening_the_store", |url| {
            contract::trigger_state::states_survive_reopening_the_store(&|| -> Box<dyn Store> {
                Box::new(PgStore::connect(url).unwrap())
            })
        }),
        (
            "pg::audit_appends_from_several_stores_keep_one_gapless_chain",
            audit_appends_from_several_stores_keep_one_gapless_chain,
        ),
        (
            "pg::corrupt_auth_and_audit_rows_are_errors_naming_table_and_id",
            corrupt_auth_and_audit_rows_are_errors,
        ),
    ]);

    pg::run_cases(&cases, |n| cluster.create_database(&format!("case{n}")));
}

fn raw(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

fn schema_version(url: &str) -> i64 {
    raw(url)
        .query_one("SELECT version FROM saker_schema", &[])
        .unwrap()
        .get(0)
}

/// The server calls the store from axum handlers and worker tasks, on tokio's threads, where
/// the `postgres` client alone would panic ("cannot start a runtime from within a runtime").
fn calls_from_async_runtime_threads_work(url: &str) {
    let url = url.to_owned();
    let single = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = single.block_on(async { PgStore::connect(&url).unwrap() });
    single.block_on(async {
        store.save_flow("main", "ns", "async", "v1").unwrap();
        assert_eq!(store.list_flows("main", Some("ns")).unwrap().len(), 1);
    });
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let store = Arc::new(store);
    multi.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .save_flow("main", "ns", &format!("task{i}"), "v1")
                    .unwrap();
                let mut e = execution("ns", &format!("task{i}"));
                e.task_run_list.push(task_run(&e, "a"));
                store.create_execution(&e).unwrap();
                store.get_execution(&e.id).unwrap().unwrap().id == e.id
            }));
        }
        for task in tasks {
            assert!(task.await.unwrap());
        }
    });
    assert_eq!(store.list_flows("main", Some("ns")).unwrap().len(), 5);
}

fn reconnecting_keeps_everything(url: &str) {
    let (flow, exec, logs) = {
        let s = PgStore::connect(url).unwrap();
        s.save_flow("main", "ns", "f", "v1").unwrap();
        let flow = s.save_flow("main", "ns", "f", "v2").unwrap().flow;
        let mut e = execution("ns", "f");
        e.task_run_list.push(task_run(&e, "a"));
        e.task_run_list.push(task_run(&e, "b"));
        s.create_execution(&e).unwrap();
        s.append_logs(&[log(&e, None, Level::Warn, "kept")])
            .unwrap();
        let logs = s.list_logs(&LogQuery::new(&e.id)).unwrap();
        (flow, e, logs)
    };
    let s = PgStore::connect(url).unwrap();
    assert_eq!(s.get_flow("main", "ns", "f", None).unwrap(), Some(flow));
    assert_eq!(s.flow_revisions("main", "ns", "f").unwrap().len(), 2);
    assert_eq!(s.list_logs(&LogQuery::new(&exec.id)).unwrap(), logs);
    assert_eq!(s.get_execution(&exec.id).unwrap(), Some(exec));
    assert_eq!(schema_version(url), PgStore::schema_version());
}

fn a_newer_schema_is_refused(url: &str) {
    drop(PgStore::connect(url).unwrap());
    let future = PgStore::schema_version() + 1;
    raw(url)
        .execute("UPDATE saker_schema SET version = $1", &[&future])
        .unwrap();
    let err = PgStore::connect(url).err().expect("must refuse");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported }
            if found == future && supported == PgStore::schema_version()),
        "{err}"
    );
    assert_eq!(
        schema_version(url),
        future,
        "the database is left untouched"
    );

    // A server that is not there is a connection error that names where, not who.
    let err = PgStore::connect("postgres://saker:hunter2@127.0.0.1:1/nowhere")
        .err()
        .expect("must fail");
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("127.0.0.1") && text.contains("nowhere"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

fn a_failing_migration_keeps_the_previous_version(url: &str) {
    // A table that migration 1 wants to create makes it fail part-way.
    raw(url)
        .batch_execute("CREATE TABLE logs (x INTEGER)")
        .unwrap();
    let err = PgStore::connect(url).err().expect("must fail");
    assert!(
        matches!(err, StoreError::Migration { version: 1, .. }),
        "{err}"
    );
    let flows: bool = raw(url)
        .query_one("SELECT to_regclass('flows') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(!flows, "the partial migration must be rolled back");
}

fn corrupt_rows_are_errors(url: &str) {
    let s = PgStore::connect(url).unwrap();
    let mut e = execution("ns", "f");
    let tr = task_run(&e, "t");
    e.task_run_list.push(tr.clone());
    s.create_execution(&e).unwrap();
    s.append_logs(&[log(&e, None, Level::Info, "x")]).unwrap();
    let seq = s.list_logs(&LogQuery::new(&e.id)).unwrap()[0].seq;
    s.save_flow("main", "ns", "f", "v1").unwrap();

    let mut raw = raw(url);
    let expect_corrupt = |err: StoreError, table: &str, id: &str| match &err {
        StoreError::Corrupt {
            table: t, id: i, ..
        } if *t == table && i.contains(id) => {}
        _ => panic!("expected a corrupt-row error on {table} {id}, got {err}"),
    };
    raw.execute(
        "UPDATE task_runs SET doc = '{\"id\": 7}' WHERE id = $1",
        &[&tr.id],
    )
    .unwrap();
    expect_corrupt(s.get_execution(&e.id).unwrap_err(), "task_runs", &tr.id);

    raw.execute(
        "UPDATE executions SET doc = '{not json' WHERE id = $1",
        &[&e.id],
    )
    .unwrap();
    expect_corrupt(s.get_execution(&e.id).unwrap_err(), "executions", &e.id);
    expect_corrupt(
        s.list_executions(&ExecutionFilter::new("main"))
            .unwrap_err(),
        "executions",
        &e.id,
    );

    raw.execute(
        "UPDATE logs SET doc = '{\"message\": \"hunter2\", \"level\": \"hunter2\"}' \
         WHERE seq = $1",
        &[&seq],
    )
    .unwrap();
    let err = s.list_logs(&LogQuery::new(&e.id)).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    expect_corrupt(err, "logs", &seq.to_string());

    raw.execute("UPDATE flows SET created_at = $1", &[&i64::MAX])
        .unwrap();
    expect_corrupt(
        s.get_flow("main", "ns", "f", None).unwrap_err(),
        "flows",
        "f@1",
    );
    raw.execute(
        "UPDATE flows SET created_at = 0, revision = $1",
        &[&i64::MAX],
    )
    .unwrap();
    expect_corrupt(
        s.flow_revisions("main", "ns", "f").unwrap_err(),
        "flows",
        &format!("f@{}", i64::MAX),
    );

    let fresh = execution("ns", "f");
    s.create_execution(&fresh).unwrap();
    assert!(s.get_execution(&fresh.id).unwrap().is_some());
}

fn reads_do_not_wait_for_a_writer(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let e = execution("ns", "f");
    store.create_execution(&e).unwrap();

    // Another client holds the row with an uncommitted change.
    let mut blocker = raw(url);
    let mut tx = blocker.transaction().unwrap();
    tx.execute("UPDATE executions SET state = 'KILLED'", &[])
        .unwrap();

    let got = store.get_execution(&e.id).unwrap().unwrap();
    assert_eq!(got.state.current, StateType::Created);
    assert_eq!(
        store.executions_in_states(&[StateType::Created]).unwrap(),
        vec![e.id.clone()]
    );
    assert_eq!(store.list_logs(&LogQuery::new(&e.id)).unwrap(), []);
    tx.rollback().unwrap();
}

/// Several stores, as several processes would, save one flow at the same moment: every save
/// gets its own revision and none fails.
fn stores_saving_one_flow_at_once_get_consecutive_revisions(url: &str) {
    const STORES: usize = 4;
    const SAVES: usize = 15;
    let revisions: Vec<u32> = std::thread::scope(|scope| {
        let savers: Vec<_> = (0..STORES)
            .map(|w| {
                scope.spawn(move || {
                    let s = PgStore::connect(url).unwrap();
                    (0..SAVES)
                        .map(|n| {
                            let saved =
                                s.save_flow("main", "ns", "f", &format!("{w}/{n}")).unwrap();
                            assert!(saved.created);
                            saved.flow.revision
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        savers.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    let mut sorted = revisions.clone();
    sorted.sort_unstable();
    let expected: Vec<u32> = (1..=(STORES * SAVES) as u32).collect();
    assert_eq!(sorted, expected);
    let s = PgStore::connect(url).unwrap();
    assert_eq!(
        s.flow_revisions("main", "ns", "f").unwrap().len(),
        STORES * SAVES
    );
}

/// Several stores append to one execution at once while a follower polls with the cursor:
/// it sees every line exactly once, each appender's lines in their order.
fn a_follower_misses_nothing_from_concurrent_appenders(url: &str) {
    const APPENDERS: usize = 3;
    const BATCHES: usize = 60;
    let follower = PgStore::connect(url).unwrap();
    let e = execution("ns", "f");
    follower.create_execution(&e).unwrap();
    let appenders: Vec<_> = (0..APPENDERS)
        .map(|w| {
            let (url, e) = (url.to_owned(), e.clone());
            std::thread::spawn(move || {
                let s = PgStore::connect(&url).unwrap();
                for b in 0..BATCHES {
                    let lines: Vec<_> = (0..=(b % 3))
                        .map(|i| log(&e, None, Level::Info, &format!("{w}:{b}.{i}")))
                        .collect();
                    s.append_logs(&lines).unwrap();
                }
            })
        })
        .collect();

    let mut seen: Vec<String> = Vec::new();
    let mut cursor = None;
    let mut last_seq = i64::MIN;
    loop {
        let finished = appenders.iter().all(|a| a.is_finished());
        let page = follower
            .list_logs(&LogQuery {
                after_seq: cursor,
                limit: Some(5),
                ..LogQuery::new(&e.id)
            })
            .unwrap();
        for line in &page {
            assert!(line.seq > last_seq, "seq must strictly increase");
            last_seq = line.seq;
            seen.push(line.entry.message.clone());
        }
        cursor = page.last().map(|l| l.seq).or(cursor);
        if finished && page.is_empty() {
            break;
        }
    }
    for a in appenders {
        a.join().unwrap();
    }
    let all = follower.list_logs(&LogQuery::new(&e.id)).unwrap();
    let stored: Vec<String> = all.into_iter().map(|l| l.entry.message).collect();
    assert_eq!(
        seen, stored,
        "the follower saw exactly what is stored, in order"
    );
    for w in 0..APPENDERS {
        let mine: Vec<&String> = seen
            .iter()
            .filter(|m| m.starts_with(&format!("{w}:")))
            .collect();
        let expected: Vec<String> = (0..BATCHES)
            .flat_map(|b| (0..=(b % 3)).map(move |i| format!("{w}:{b}.{i}")))
            .collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>());
    }
}

fn audit_event(n: usize, actor: &str) -> AuditEvent {
    AuditEvent {
        timestamp: chrono::DateTime::<chrono::Utc>::from_timestamp_micros(
            1_764_000_000_000_000 + n as i64,
        )
        .unwrap(),
        tenant: "main".into(),
        namespace: Some("company".into()),
        key: Some("K".into()),
        action: "read".into(),
        actor: actor.into(),
        service: None,
        execution_id: None,
        flow_id: None,
        task_run_id: None,
        outcome: "success".into(),
        detail: Some(format!("append {n}")),
    }
}

/// Several stores (separate connections, as separate processes would have) append audit
/// events at once: one chain that verifies, numbered 1..=n without a gap, nothing lost.
fn audit_appends_from_several_stores_keep_one_gapless_chain(url: &str) {
    const STORES: usize = 4;
    const APPENDS: usize = 40;
    std::thread::scope(|scope| {
        for s in 0..STORES {
            scope.spawn(move || {
                let store = PgStore::connect(url).unwrap();
                for n in 0..APPENDS {
                    store
                        .append_audit(&audit_event(n, &format!("s{s}")))
                        .unwrap();
                }
            });
        }
    });
    let total = (STORES * APPENDS) as i64;
    let store = PgStore::connect(url).unwrap();
    let report = verify_audit(&store).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert_eq!(report.verified, total as u64);
    assert_eq!(report.head.unwrap().seq, total);
    let records = store.list_audit(&AuditFilter::default()).unwrap();
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>(), "no seq gap");
    for s in 0..STORES {
        let mine: Vec<String> = records
            .iter()
            .filter(|r| r.event.actor == format!("s{s}"))
            .filter_map(|r| r.event.detail.clone())
            .collect();
        let expected: Vec<String> = (0..APPENDS).map(|n| format!("append {n}")).collect();
        assert_eq!(
            mine, expected,
            "store {s}'s events, each once, in its order"
        );
    }
}

fn corrupt_auth_and_audit_rows_are_errors(url: &str) {
    let s = PgStore::connect(url).unwrap();
    s.insert_user(&UserRow {
        id: "u1".into(),
        username: "ann".into(),
        password_hash: Some("$argon2id$hunter2".into()),
        created_at: chrono::DateTime::<chrono::Utc>::from_timestamp_micros(0).unwrap(),
        disabled: false,
    })
    .unwrap();
    s.append_audit(&audit_event(1, "alice")).unwrap();
    let mut raw = raw(url);
    raw.execute("UPDATE users SET created_at = $1", &[&i64::MAX])
        .unwrap();
    let err = s.get_user("u1").unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, StoreError::Corrupt { table: "users", id, .. } if id == "u1"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    raw.execute("UPDATE audit_events SET timestamp = $1", &[&i64::MIN])
        .unwrap();
    let err = s.list_audit(&AuditFilter::default()).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { table: "audit_events", id, .. } if id == "1"),
        "{err}"
    );
}
