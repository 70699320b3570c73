//! The [`saker_store::AuditLog`] contract, for every backend: appends chain, filters select,
//! and `verify_audit` names the first event edited, deleted, reordered or inserted by hand.
//! The tampering cases get `tamper`, which runs SQL (portable between SQLite and PostgreSQL)
//! on the store's database behind its back.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_store::{AuditEvent, AuditFilter, AuditLog, BreakKind, ChainBreak, verify_audit};

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

/// Appends `n` events to `log`.
fn trail(log: &dyn AuditLog, n: i64) {
    for i in 1..=n {
        log.append_audit(&event(i, "company", "K", "alice"))
            .unwrap();
    }
}

fn first_break(log: &dyn AuditLog) -> ChainBreak {
    let report = verify_audit(log).unwrap();
    report.problem.expect("verification should fail")
}

pub fn an_untouched_trail_verifies(log: &dyn AuditLog) {
    assert!(verify_audit(log).unwrap().is_intact(), "an empty trail");
    trail(log, 5);
    let report = verify_audit(log).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert_eq!(report.verified, 5);
    assert_eq!(report.head.unwrap().seq, 5);
}

pub fn appends_link_each_event_to_the_previous_one(log: &dyn AuditLog) {
    let first = log
        .append_audit(&event(1, "company", "K", "alice"))
        .unwrap();
    let second = log
        .append_audit(&event(2, "company", "K", "alice"))
        .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, saker_store::audit::GENESIS_HASH);
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    assert_ne!(first.hash, second.hash);
}

pub fn an_edited_event_is_named(log: &dyn AuditLog, tamper: &dyn Fn(&str)) {
    trail(log, 5);
    tamper("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3");
    let problem = first_break(log);
    assert_eq!((problem.seq, problem.kind), (3, BreakKind::Edited));
}

pub fn an_edited_hash_is_named(log: &dyn AuditLog, tamper: &dyn Fn(&str)) {
    trail(log, 4);
    tamper("UPDATE audit_events SET hash = prev_hash WHERE seq = 2");
    assert_eq!(first_break(log).seq, 2);
}

pub fn a_deleted_event_is_named(log: &dyn AuditLog, tamper: &dyn Fn(&str)) {
    trail(log, 5);
    tamper("DELETE FROM audit_events WHERE seq = 4");
    let problem = first_break(log);
    assert_eq!(problem.seq, 4);
    assert_eq!(problem.kind, BreakKind::Deleted { next: 5 });
    assert!(problem.to_string().contains("event 4 was deleted"));
}

pub fn deleting_the_first_event_is_named(log: &dyn AuditLog, tamper: &dyn Fn(&str)) {
    trail(log, 3);
    tamper("DELETE FROM audit_events WHERE seq = 1");
    assert_eq!(first_break(log).seq, 1);
}

pub fn deleting_the_newest_events_is_noticed_through_the_head(
    log: &dyn AuditLog,
    tamper: &dyn Fn(&str),
) {
    trail(log, 5);
    tamper("DELETE FROM audit_events WHERE seq >= 4");
    let problem = first_break(log);
    assert_eq!(problem.seq, 4);
    assert_eq!(problem.kind, BreakKind::TailDeleted { head_seq: 5 });
}

pub fn reordered_events_are_named(log: &dyn AuditLog, tamper: &dyn Fn(&str)) {
    trail(log, 5);
    tamper(
        "UPDATE audit_events SET seq = -1 WHERE seq = 2;
         UPDATE audit_events SET seq = 2 WHERE seq = 3;
         UPDATE audit_events SET seq = 3 WHERE seq = -1;",
    );
    let problem = first_break(log);
    assert_eq!(problem.seq, 2);
    assert_eq!(problem.kind, BreakKind::Reordered { follows: 3 });
}

pub fn an_event_inserted_by_hand_is_named(log: &dyn AuditLog, tamper: &dyn Fn(&str)) {
    trail(log, 3);
    // A forged row with a correct-looking link but no head update.
    tamper(
        "INSERT INTO audit_events \
         (seq, timestamp, tenant, action, actor, outcome, prev_hash, hash) \
         SELECT seq + 1, timestamp, tenant, action, 'mallory', outcome, hash, hash \
         FROM audit_events WHERE seq = 3",
    );
    assert_eq!(first_break(log).seq, 4);
}

/// `garble_second` makes a column of event 2 hold what no event can (SQL for the backend).
pub fn a_garbled_column_is_reported_not_a_panic(
    log: &dyn AuditLog,
    tamper: &dyn Fn(&str),
    garble_second: &str,
) {
    trail(log, 3);
    tamper(garble_second);
    let problem = first_break(log);
    assert_eq!(problem.seq, 2);
    assert!(matches!(problem.kind, BreakKind::Unreadable(_)));
}

pub fn a_deleted_head_is_noticed(log: &dyn AuditLog, tamper: &dyn Fn(&str)) {
    trail(log, 2);
    tamper("DELETE FROM audit_head");
    assert_eq!(first_break(log).kind, BreakKind::HeadMissing);
}

pub fn filters_select_by_namespace_key_actor_and_time(log: &dyn AuditLog) {
    log.append_audit(&event(1, "company", "A", "alice"))
        .unwrap();
    log.append_audit(&event(2, "company.team", "B", "bob"))
        .unwrap();
    log.append_audit(&event(3, "companyx", "A", "alice"))
        .unwrap();
    log.append_audit(&event(4, "company.team", "A", "bob"))
        .unwrap();
    let seqs = |filter: AuditFilter| -> Vec<i64> {
        log.list_audit(&filter)
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

pub fn concurrent_appends_keep_one_chain(log: Arc<dyn AuditLog>) {
    let handles: Vec<_> = (0..8)
        .map(|thread| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..40 {
                    let actor = format!("t{thread}");
                    log.append_audit(&event(i, "company", "K", &actor)).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let report = verify_audit(log.as_ref()).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert_eq!(report.verified, 320);
}
