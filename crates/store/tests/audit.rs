//! The audit trail on the SQLite store: appends chain, filters select, and `verify_audit`
//! names the first event edited, deleted, reordered or inserted by hand.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_store::{
    AuditEvent, AuditFilter, AuditLog, BreakKind, ChainBreak, SqliteStore, verify_audit,
};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000 + seconds * 1_000_000).unwrap()
}

fn event(n: i64, namespace: &str, key: &str, actor: &str) -> AuditEvent {
    AuditEvent {
        timestamp: at(n),
        tenant: "main".into(),
        namespace: Some(namespace.into()),
        key: Some(key.into()),
        action: "read".into(),
        actor: actor.into(),
        service: Some("WORKER".into()),
        execution_id: Some(format!("exec-{n}")),
        flow_id: Some("report".into()),
        task_run_id: None,
        outcome: "success".into(),
        detail: None,
    }
}

/// A file-backed store with `n` events, and a raw connection to tamper with it.
fn trail(n: i64) -> (tempfile::TempDir, SqliteStore, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let store = SqliteStore::open(&path).unwrap();
    for i in 1..=n {
        store
            .append_audit(&event(i, "company", "K", "alice"))
            .unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    (dir, store, conn)
}

fn first_break(store: &SqliteStore) -> ChainBreak {
    let report = verify_audit(store).unwrap();
    report.problem.expect("verification should fail")
}

#[test]
fn an_untouched_trail_verifies() {
    let (_dir, store, _conn) = trail(5);
    let report = verify_audit(&store).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert_eq!(report.verified, 5);
    assert_eq!(report.head.unwrap().seq, 5);
    let empty = SqliteStore::open_in_memory().unwrap();
    assert!(verify_audit(&empty).unwrap().is_intact());
}

#[test]
fn appends_link_each_event_to_the_previous_one() {
    let store = SqliteStore::open_in_memory().unwrap();
    let first = store
        .append_audit(&event(1, "company", "K", "alice"))
        .unwrap();
    let second = store
        .append_audit(&event(2, "company", "K", "alice"))
        .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, saker_store::audit::GENESIS_HASH);
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    assert_ne!(first.hash, second.hash);
}

#[test]
fn an_edited_event_is_named() {
    let (_dir, store, conn) = trail(5);
    conn.execute(
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3",
        [],
    )
    .unwrap();
    let problem = first_break(&store);
    assert_eq!((problem.seq, problem.kind), (3, BreakKind::Edited));
}

#[test]
fn an_edited_hash_is_named() {
    let (_dir, store, conn) = trail(4);
    conn.execute("UPDATE audit_events SET hash = prev_hash WHERE seq = 2", [])
        .unwrap();
    assert_eq!(first_break(&store).seq, 2);
}

#[test]
fn a_deleted_event_is_named() {
    let (_dir, store, conn) = trail(5);
    conn.execute("DELETE FROM audit_events WHERE seq = 4", [])
        .unwrap();
    let problem = first_break(&store);
    assert_eq!(problem.seq, 4);
    assert_eq!(problem.kind, BreakKind::Deleted { next: 5 });
    assert!(problem.to_string().contains("event 4 was deleted"));
}

#[test]
fn deleting_the_first_event_is_named() {
    let (_dir, store, conn) = trail(3);
    conn.execute("DELETE FROM audit_events WHERE seq = 1", [])
        .unwrap();
    assert_eq!(first_break(&store).seq, 1);
}

#[test]
fn deleting_the_newest_events_is_noticed_through_the_head() {
    let (_dir, store, conn) = trail(5);
    conn.execute("DELETE FROM audit_events WHERE seq >= 4", [])
        .unwrap();
    let problem = first_break(&store);
    assert_eq!(problem.seq, 4);
    assert_eq!(problem.kind, BreakKind::TailDeleted { head_seq: 5 });
}

#[test]
fn reordered_events_are_named() {
    let (_dir, store, conn) = trail(5);
    conn.execute_batch(
        "UPDATE audit_events SET seq = -1 WHERE seq = 2;
         UPDATE audit_events SET seq = 2 WHERE seq = 3;
         UPDATE audit_events SET seq = 3 WHERE seq = -1;",
    )
    .unwrap();
    let problem = first_break(&store);
    assert_eq!(problem.seq, 2);
    assert_eq!(problem.kind, BreakKind::Reordered { follows: 3 });
}

#[test]
fn an_event_inserted_by_hand_is_named() {
    let (_dir, store, conn) = trail(3);
    // A forged row with a correct-looking link but no head update.
    conn.execute(
        "INSERT INTO audit_events (timestamp, tenant, action, actor, outcome, prev_hash, hash) \
         SELECT timestamp, tenant, action, 'mallory', outcome, hash, hash FROM audit_events \
         WHERE seq = 3",
        [],
    )
    .unwrap();
    assert_eq!(first_break(&store).seq, 4);
}

#[test]
fn a_garbled_column_is_reported_not_a_panic() {
    let (_dir, store, conn) = trail(3);
    conn.execute(
        "UPDATE audit_events SET timestamp = 'soon' WHERE seq = 2",
        [],
    )
    .unwrap();
    let problem = first_break(&store);
    assert_eq!(problem.seq, 2);
    assert!(matches!(problem.kind, BreakKind::Unreadable(_)));
}

#[test]
fn a_deleted_head_is_noticed() {
    let (_dir, store, conn) = trail(2);
    conn.execute("DELETE FROM audit_head", []).unwrap();
    assert_eq!(first_break(&store).kind, BreakKind::HeadMissing);
}

#[test]
fn filters_select_by_namespace_key_actor_and_time() {
    let store = SqliteStore::open_in_memory().unwrap();
    store
        .append_audit(&event(1, "company", "A", "alice"))
        .unwrap();
    store
        .append_audit(&event(2, "company.team", "B", "bob"))
        .unwrap();
    store
        .append_audit(&event(3, "companyx", "A", "alice"))
        .unwrap();
    store
        .append_audit(&event(4, "company.team", "A", "bob"))
        .unwrap();
    let seqs = |filter: AuditFilter| -> Vec<i64> {
        store
            .list_audit(&filter)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    };
    assert_eq!(seqs(AuditFilter::default()), [1, 2, 3, 4]);
    let ns = |n: &str| AuditFilter {
        namespace: Some(n.into()),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(ns("company")), [1, 2, 4]);
    assert_eq!(seqs(ns("company.team")), [2, 4]);
    assert_eq!(
        seqs(AuditFilter {
            key: Some("A".into()),
            ..AuditFilter::default()
        }),
        [1, 3, 4]
    );
    assert_eq!(
        seqs(AuditFilter {
            actor: Some("bob".into()),
            ..AuditFilter::default()
        }),
        [2, 4]
    );
    assert_eq!(
        seqs(AuditFilter {
            since: Some(at(2)),
            until: Some(at(3)),
            ..AuditFilter::default()
        }),
        [2, 3]
    );
    assert_eq!(
        seqs(AuditFilter {
            after_seq: Some(1),
            limit: Some(2),
            ..AuditFilter::default()
        }),
        [2, 3]
    );
    assert!(
        seqs(AuditFilter {
            tenant: Some("other".into()),
            ..AuditFilter::default()
        })
        .is_empty()
    );
}

#[test]
fn concurrent_appends_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..40 {
                    let actor = format!("t{thread}");
                    store
                        .append_audit(&event(i, "company", "K", &actor))
                        .unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let report = verify_audit(store.as_ref()).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert_eq!(report.verified, 320);
}
