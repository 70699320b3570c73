//! The trigger state contract, for every backend: upserts by key, listings per tenant in key
//! order, deletion, atomicity with the execution a trigger starts, the tenants that have
//! live flows, durability across a reopen, corrupt rows.

use std::sync::Arc;

use chrono::TimeDelta;
use saker_model::execution::Execution;
use saker_store::{Store, StoreError, TriggerState, Write};

use crate::common::{at, execution};

/// A state of tenant `main`, due at `at(due_ms)`, written at `at(0)`.
pub fn state(namespace: &str, flow_id: &str, trigger_id: &str, due_ms: i64) -> TriggerState {
    TriggerState {
        tenant: "main".into(),
        namespace: namespace.into(),
        flow_id: flow_id.into(),
        trigger_id: trigger_id.into(),
        next_date: at(due_ms),
        fingerprint: format!("cron 0 * * * * of {flow_id}"),
        updated_at: at(0),
    }
}

fn of_tenant(tenant: &str, mut s: TriggerState) -> TriggerState {
    s.tenant = tenant.into();
    s
}

fn get(s: &dyn Store, key: &TriggerState) -> Option<TriggerState> {
    s.trigger_state(&key.tenant, &key.namespace, &key.flow_id, &key.trigger_id)
        .unwrap()
}

fn delete(s: &dyn Store, key: &TriggerState) -> bool {
    s.delete_trigger_state(&key.tenant, &key.namespace, &key.flow_id, &key.trigger_id)
        .unwrap()
}

pub fn an_unknown_trigger_has_no_state(s: &dyn Store) {
    assert_eq!(s.trigger_state("main", "ns", "f", "t").unwrap(), None);
    assert_eq!(s.trigger_states("main").unwrap(), []);
    assert!(!s.delete_trigger_state("main", "ns", "f", "t").unwrap());
}

pub fn a_state_round_trips_and_saving_again_replaces_it(s: &dyn Store) {
    let mut first = state("company.team", "nightly", "schedule", 60_000);
    // Every microsecond is kept, and dates before the epoch too.
    first.next_date += TimeDelta::microseconds(123);
    first.updated_at = chrono::DateTime::from_timestamp_micros(-1_234_567).unwrap();
    first.fingerprint = "id=schedule cron=\"0 3 * * *\" tz=Europe/Paris \u{e9}".into();
    s.save_trigger_state(&first).unwrap();
    assert_eq!(get(s, &first), Some(first.clone()));

    // The same key in another tenant, namespace, flow or trigger is another state.
    let neighbours = [
        of_tenant("acme", first.clone()),
        TriggerState {
            namespace: "company".into(),
            ..first.clone()
        },
        TriggerState {
            flow_id: "nightly2".into(),
            ..first.clone()
        },
        TriggerState {
            trigger_id: "schedule2".into(),
            ..first.clone()
        },
    ];
    for key in &neighbours {
        assert_eq!(get(s, key), None);
    }

    let second = TriggerState {
        next_date: at(120_000),
        fingerprint: "id=schedule cron=\"0 4 * * *\"".into(),
        updated_at: at(60_001),
        ..first.clone()
    };
    s.save_trigger_state(&second).unwrap();
    assert_eq!(get(s, &first), Some(second.clone()), "saved over, by key");
    assert_eq!(
        s.trigger_states("main").unwrap(),
        std::slice::from_ref(&second)
    );

    // Going back to an earlier date is a plain overwrite too.
    s.save_trigger_state(&first).unwrap();
    assert_eq!(get(s, &second), Some(first));
}

pub fn states_are_listed_per_tenant_in_key_order(s: &dyn Store) {
    // Bytewise order: "B" < "a" < "a.b" < "a_b" < "ab" (a locale-aware order differs).
    let expected = [
        state("B", "f", "t", 1),
        state("a", "f", "t", 2),
        state("a", "g", "a", 3),
        state("a", "g", "b", 4),
        state("a", "g", "b_", 5),
        state("a", "g", "bb", 6),
        state("a.b", "f", "t", 7),
        state("a_b", "F", "t", 8),
        state("a_b", "f", "t", 9),
        state("ab", "f", "t", 10),
    ];
    for i in [7, 2, 9, 0, 5, 3, 8, 1, 6, 4] {
        s.save_trigger_state(&expected[i]).unwrap();
    }
    s.save_trigger_state(&of_tenant("acme", state("a", "f", "t", 11)))
        .unwrap();
    s.save_trigger_state(&of_tenant("main2", state("a", "f", "t", 12)))
        .unwrap();

    assert_eq!(s.trigger_states("main").unwrap(), expected);
    assert_eq!(
        s.trigger_states("acme").unwrap(),
        [of_tenant("acme", state("a", "f", "t", 11))]
    );
    assert_eq!(s.trigger_states("mai").unwrap(), []);
    assert_eq!(s.trigger_states("nobody").unwrap(), []);
}

pub fn deleting_a_state_says_whether_there_was_one(s: &dyn Store) {
    let gone = state("ns", "f", "t", 1);
    let kept = [
        state("ns", "f", "u", 2),
        state("ns", "g", "t", 3),
        of_tenant("acme", state("ns", "f", "t", 4)),
    ];
    s.save_trigger_state(&gone).unwrap();
    for k in &kept {
        s.save_trigger_state(k).unwrap();
    }
    assert!(delete(s, &gone));
    assert_eq!(get(s, &gone), None);
    assert!(!delete(s, &gone), "already deleted");
    for k in &kept {
        assert_eq!(get(s, k).as_ref(), Some(k));
    }
    assert_eq!(s.trigger_states("main").unwrap(), kept[..2]);

    // A deleted trigger starts afresh when saved again.
    s.save_trigger_state(&gone).unwrap();
    assert_eq!(get(s, &gone), Some(gone));
}

pub fn a_batch_commits_an_execution_with_its_trigger_state(s: &dyn Store) {
    let before = state("company.team", "nightly", "schedule", 1_000);
    s.save_trigger_state(&before).unwrap();
    let e = execution("company.team", "nightly");
    let advanced = TriggerState {
        next_date: at(2_000),
        updated_at: at(1_000),
        ..before.clone()
    };
    s.write(&[
        Write::CreateExecution(&e),
        Write::SaveTriggerState(&advanced),
    ])
    .unwrap();
    assert_eq!(s.get_execution(&e.id).unwrap(), Some(e));
    assert_eq!(get(s, &before), Some(advanced));

    // The first state of a trigger can come with its first execution, in either order.
    let e2 = execution("company.team", "hourly");
    let first = state("company.team", "hourly", "schedule", 3_000);
    s.write(&[Write::SaveTriggerState(&first), Write::CreateExecution(&e2)])
        .unwrap();
    assert_eq!(s.get_execution(&e2.id).unwrap(), Some(e2));
    assert_eq!(get(s, &first), Some(first));
}

fn assert_already_exists(err: &StoreError, id: &str) {
    assert!(
        matches!(err, StoreError::AlreadyExists { kind: "execution", id: i } if i == id),
        "{err}"
    );
}

pub fn a_failing_batch_keeps_neither_the_execution_nor_the_trigger_state(s: &dyn Store) {
    let original = execution("company.team", "nightly");
    s.create_execution(&original).unwrap();
    let before = state("company.team", "nightly", "schedule", 1_000);
    s.save_trigger_state(&before).unwrap();
    let advanced = TriggerState {
        next_date: at(2_000),
        fingerprint: "changed".into(),
        updated_at: at(1_500),
        ..before.clone()
    };
    // An execution whose id is taken (its contents differ, so a stray write would show).
    let mut clash = execution("company.team", "nightly");
    clash.id.clone_from(&original.id);
    clash
        .labels
        .insert("stray".into(), serde_json::json!("must not be stored"));

    // The scheduler's order: the execution, then the trigger's advance.
    let err = s
        .write(&[
            Write::CreateExecution(&clash),
            Write::SaveTriggerState(&advanced),
        ])
        .unwrap_err();
    assert_already_exists(&err, &original.id);
    assert_eq!(get(s, &before), Some(before.clone()));
    assert_eq!(
        s.get_execution(&original.id).unwrap(),
        Some(original.clone())
    );

    // Writes before the failing one are rolled back too: the advance, a new trigger's first
    // state and a fresh execution.
    let fresh = execution("company.team", "nightly");
    let new_trigger = state("company.team", "nightly", "other", 5_000);
    let err = s
        .write(&[
            Write::SaveTriggerState(&advanced),
            Write::SaveTriggerState(&new_trigger),
            Write::CreateExecution(&fresh),
            Write::CreateExecution(&clash),
        ])
        .unwrap_err();
    assert_already_exists(&err, &original.id);
    assert_eq!(s.get_execution(&fresh.id).unwrap(), None);
    assert_eq!(get(s, &new_trigger), None);
    assert_eq!(s.trigger_states("main").unwrap(), [before]);
    assert_eq!(s.get_execution(&original.id).unwrap(), Some(original));
}

pub fn flow_tenants_are_the_tenants_with_live_flows(s: &dyn Store) {
    assert_eq!(s.flow_tenants().unwrap(), Vec::<String>::new());
    let save = |tenant: &str, namespace: &str, id: &str| {
        s.save_flow(tenant, namespace, id, "v1").unwrap();
    };
    save("main", "company", "a");
    save("main", "company.team", "b");
    // One live flow is enough.
    save("acme", "company", "a");
    save("acme", "company", "b");
    assert!(s.delete_flow("acme", "company", "b").unwrap());
    // Every flow deleted: absent.
    save("gone", "company", "a");
    save("gone", "other", "a");
    assert!(s.delete_flow("gone", "company", "a").unwrap());
    assert!(s.delete_flow("gone", "other", "a").unwrap());
    // Deleted, then saved again: live.
    save("Zed", "ns", "f");
    assert!(s.delete_flow("Zed", "ns", "f").unwrap());
    save("Zed", "ns", "f");
    // Trigger states and executions do not make a tenant.
    s.save_trigger_state(&of_tenant("states-only", state("ns", "f", "t", 1)))
        .unwrap();
    s.create_execution(&Execution::new("runs-only", "ns", "f", 1))
        .unwrap();

    assert_eq!(s.flow_tenants().unwrap(), ["Zed", "acme", "main"]);
    // The tenants with states are listed apart, so the states of a tenant without flows
    // can still be found.
    assert_eq!(s.trigger_state_tenants().unwrap(), ["states-only"]);

    assert!(s.delete_flow("main", "company", "a").unwrap());
    assert_eq!(s.flow_tenants().unwrap(), ["Zed", "acme", "main"]);
    assert!(s.delete_flow("main", "company.team", "b").unwrap());
    assert_eq!(s.flow_tenants().unwrap(), ["Zed", "acme"]);
}

pub fn states_survive_reopening_the_store(open: &dyn Fn() -> Box<dyn Store>) {
    let kept = [
        state("company", "a", "t", 1),
        state("company.team", "b", "t", 2),
        of_tenant("acme", state("company", "a", "t", 3)),
    ];
    let deleted = state("company", "a", "u", 4);
    {
        let s = open();
        s.save_flow("main", "company", "a", "v1").unwrap();
        for k in &kept {
            s.save_trigger_state(k).unwrap();
        }
        s.save_trigger_state(&deleted).unwrap();
        assert!(delete(&*s, &deleted));
    }
    let s = open();
    assert_eq!(s.trigger_states("main").unwrap(), kept[..2]);
    assert_eq!(s.trigger_states("acme").unwrap(), kept[2..]);
    assert_eq!(get(&*s, &deleted), None);
    assert_eq!(s.flow_tenants().unwrap(), ["main"]);
}

/// `tamper` runs SQL on the store's database behind its back.
pub fn a_corrupt_state_is_an_error_naming_it(s: &dyn Store, tamper: &dyn Fn(&str)) {
    let mut st = state("company.team", "nightly", "schedule", 1);
    st.fingerprint = "fp-hunter2".into();
    s.save_trigger_state(&st).unwrap();
    // An instant out of chrono's range.
    tamper("UPDATE trigger_states SET next_date = 9223372036854775807");
    let key = "main/company.team/nightly/schedule";
    for err in [
        s.trigger_state("main", "company.team", "nightly", "schedule")
            .unwrap_err(),
        s.trigger_states("main").unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(
            matches!(&err, StoreError::Corrupt { table: "trigger_states", id, .. } if id == key),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "no value is quoted: {text}");
    }
    // A corrupt row can still be replaced and deleted.
    s.save_trigger_state(&st).unwrap();
    assert_eq!(get(s, &st), Some(st.clone()));
    assert!(delete(s, &st));
}

/// Several threads saving one trigger at once: every save succeeds and the state left is
/// the last one of some thread.
pub fn concurrent_saves_of_one_trigger_keep_one_state(s: Arc<dyn Store>) {
    const THREADS: i64 = 4;
    const SAVES: i64 = 25;
    let of = |thread: i64, n: i64| TriggerState {
        fingerprint: format!("thread {thread}"),
        ..state("ns", "f", "t", thread * 1_000 + n)
    };
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for n in 0..SAVES {
                    s.save_trigger_state(&of(thread, n)).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let left = get(&*s, &of(0, 0)).unwrap();
    let lasts: Vec<TriggerState> = (0..THREADS).map(|t| of(t, SAVES - 1)).collect();
    assert!(lasts.contains(&left), "{left:?}");
    assert_eq!(s.trigger_states("main").unwrap(), [left]);
}
