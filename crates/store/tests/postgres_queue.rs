//! Distributed mode's queue and service instances on a throwaway PostgreSQL cluster
//! (`common::pg`): concurrent claimers, wake-ups by notification, results applied once,
//! leases, worker groups, the coordinator's round applied, the purge.
//!
//! Time is passed explicitly (`now` arguments), so leases and timeouts are crossed without
//! sleeping. One `#[test]` runs every case, each on a fresh database, as in `postgres.rs`.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::pg::{self, PgCluster};
use saker_model::execution::StateType;
use saker_store::queue::{Claim, JobState, NewJob, NewResult, Submitted, Wake, WakeChannel};
use saker_store::services::coordinator::JobAction;
use saker_store::services::settings::{LivenessSettings, RestartStrategy};
use saker_store::services::{NewInstance, ServiceState, ServiceType};
use saker_store::{PgStore, Store, StoreError, Write};

type Case = pg::Case<str>;

/// Each case named after its function.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), $name as fn(&str))),*]
    };
}

#[test]
fn postgres_queue_and_services() {
    let cluster = PgCluster::start();
    let cases: Vec<Case> = cases![
        concurrent_claimers_never_share_a_job,
        a_notification_wakes_a_waiter_without_polling,
        a_wait_without_notification_times_out,
        a_result_delivered_twice_changes_nothing,
        an_expired_lease_of_a_gone_holder_frees_the_job,
        heartbeats_renew_leases_only_while_alive,
        the_coordinator_requeues_immediately,
        the_coordinator_abandons_under_never,
        instance_state_changes_follow_the_state_machine,
        old_rows_of_gone_instances_are_purged,
        only_running_instances_claim,
        worker_groups_separate_jobs,
        one_executor_at_a_time_holds_an_execution,
    ];
    pg::run_cases(&cases, |n| cluster.create_database(&format!("queue_{n}")));
}

fn t0() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

/// Registers `id` as a RUNNING worker of `group` at `when`.
fn worker(store: &PgStore, id: &str, group: Option<&str>, when: DateTime<Utc>) {
    store
        .register_instance(
            &NewInstance {
                id: id.to_owned(),
                service_type: ServiceType::Worker,
                host: "test-host".to_owned(),
                worker_group: group.map(str::to_owned),
                config: serde_json::json!({"threads": 4}),
            },
            when,
        )
        .unwrap();
    store
        .set_instance_state(id, ServiceState::Running, when)
        .unwrap();
}

fn job(id: &str, execution: &str, group: Option<&str>) -> NewJob {
    NewJob {
        id: id.to_owned(),
        execution_id: execution.to_owned(),
        task_run_id: format!("tr-{id}"),
        attempt: 1,
        worker_group: group.map(str::to_owned),
        payload: format!(r#"{{"job":"{id}"}}"#),
    }
}

fn claim<'a>(instance: &'a str, group: Option<&'a str>, max: u32, now: DateTime<Utc>) -> Claim<'a> {
    Claim {
        instance,
        worker_group: group,
        max,
        lease: Duration::from_secs(45),
        now,
    }
}

fn claimed_ids(store: &PgStore, claim: &Claim<'_>) -> Vec<String> {
    store
        .claim_jobs(claim)
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect()
}

fn concurrent_claimers_never_share_a_job(url: &str) {
    const JOBS: usize = 300;
    const CLAIMERS: usize = 6;
    let setup = PgStore::connect(url).unwrap();
    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|n| job(&format!("j{n:04}"), "e1", None))
        .collect();
    setup.enqueue_jobs(&jobs, at(0)).unwrap();
    for n in 0..CLAIMERS {
        worker(&setup, &format!("w{n}"), None, at(0));
    }
    // Each claimer on a store of its own: its own connections, as a separate process.
    let handles: Vec<_> = (0..CLAIMERS)
        .map(|n| {
            let store = PgStore::connect(url).unwrap();
            std::thread::spawn(move || {
                let me = format!("w{n}");
                let mut mine = Vec::new();
                loop {
                    let got = claimed_ids(&store, &claim(&me, None, 7, at(1)));
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got);
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for handle in handles {
        for id in handle.join().unwrap() {
            total += 1;
            assert!(seen.insert(id.clone()), "job {id} claimed twice");
        }
    }
    assert_eq!(total, JOBS);
    assert_eq!(seen.len(), JOBS);
    for n in [0, JOBS / 2, JOBS - 1] {
        let row = setup.job(&format!("j{n:04}")).unwrap().unwrap();
        assert_eq!((row.state, row.delivery), (JobState::Claimed, 1));
    }
}

fn a_notification_wakes_a_waiter_without_polling(url: &str) {
    let store = Arc::new(PgStore::connect(url).unwrap());
    worker(&store, "w1", None, at(0));
    // Listening before the first claim: nothing queued between the claim and the wait is
    // missed.
    let mut waiter = store.waiter(WakeChannel::Jobs).unwrap();
    assert!(claimed_ids(&store, &claim("w1", None, 10, at(1))).is_empty());
    let (woke_tx, woke_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // A fallback poll of a day: only the notification can end this wait in time.
        let wake = waiter.wait(Duration::from_secs(24 * 3600));
        let _ = woke_tx.send(wake.map_err(|e| e.to_string()));
    });
    let producer = PgStore::connect(url).unwrap();
    producer
        .enqueue_jobs(&[job("j1", "e1", None)], at(2))
        .unwrap();
    // A bound so that a broken wake-up fails the test instead of hanging it.
    let wake = woke_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the waiter was not woken by the notification");
    assert_eq!(wake, Ok(Wake::Notified));
    assert_eq!(claimed_ids(&store, &claim("w1", None, 10, at(3))), ["j1"]);
}

fn a_wait_without_notification_times_out(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let mut waiter = store.waiter(WakeChannel::Results).unwrap();
    // A job notification is another channel.
    store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    assert_eq!(
        waiter.wait(Duration::from_millis(200)).unwrap(),
        Wake::TimedOut
    );
}

fn a_result_delivered_twice_changes_nothing(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "w1", None, at(0));
    store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    let mut results = store.waiter(WakeChannel::Results).unwrap();
    let claimed = store.claim_jobs(&claim("w1", None, 1, at(1))).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].payload, r#"{"job":"j1"}"#);
    let result = NewResult {
        job_id: "j1",
        delivery: claimed[0].delivery,
        instance: "w1",
        payload: r#"{"state":"SUCCESS"}"#,
        now: at(2),
    };
    assert_eq!(store.submit_result(&result).unwrap(), Submitted::Accepted);
    assert_eq!(
        results.wait(Duration::from_secs(60)).unwrap(),
        Wake::Notified
    );
    let other = NewResult {
        payload: r#"{"state":"FAILED"}"#,
        now: at(3),
        ..result
    };
    assert_eq!(store.submit_result(&other).unwrap(), Submitted::Duplicate);
    assert_eq!(store.result_count("tr-j1", 1).unwrap(), 1);
    let pending = store.pending_results(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].payload, r#"{"state":"SUCCESS"}"#);
    assert_eq!(pending[0].submitted_at, at(2));
    assert_eq!(store.job("j1").unwrap().unwrap().state, JobState::Done);
    assert!(store.mark_result_applied(pending[0].seq, at(4)).unwrap());
    assert!(!store.mark_result_applied(pending[0].seq, at(5)).unwrap());
    assert!(store.pending_results(10).unwrap().is_empty());
    // A job queued again for the same attempt (a resubmission racing a late result) cannot
    // store a second result for it either.
    store
        .enqueue_jobs(
            &[NewJob {
                id: "j1-again".into(),
                ..job("j1", "e1", None)
            }],
            at(6),
        )
        .unwrap();
    let again = store.claim_jobs(&claim("w1", None, 1, at(6))).unwrap();
    assert_eq!(again[0].task_run_id, "tr-j1");
    let late = NewResult {
        job_id: "j1-again",
        delivery: again[0].delivery,
        ..result
    };
    assert_eq!(store.submit_result(&late).unwrap(), Submitted::Duplicate);
    assert_eq!(store.result_count("tr-j1", 1).unwrap(), 1);
    assert!(matches!(
        store.submit_result(&NewResult {
            job_id: "nope",
            ..result
        }),
        Err(StoreError::NotFound { .. })
    ));
}

fn an_expired_lease_of_a_gone_holder_frees_the_job(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "w1", None, at(0));
    worker(&store, "w2", None, at(0));
    store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    let first = store
        .claim_jobs(&Claim {
            lease: Duration::from_secs(10),
            ..claim("w1", None, 1, at(1))
        })
        .unwrap();
    assert_eq!(first[0].lease_until, at(11));
    // Lease running: nobody else gets it.
    assert!(claimed_ids(&store, &claim("w2", None, 1, at(5))).is_empty());
    // Lease expired but the holder still counts as alive: the coordinator has not judged
    // it, so the restart strategy has not spoken yet.
    assert!(claimed_ids(&store, &claim("w2", None, 1, at(20))).is_empty());
    store
        .set_instance_state("w1", ServiceState::Disconnected, at(21))
        .unwrap();
    let second = store.claim_jobs(&claim("w2", None, 1, at(22))).unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].delivery, 2);
    // The first holder, back, learns it is gone and its result is refused.
    assert_eq!(
        store
            .heartbeat("w1", at(23), Duration::from_secs(45))
            .unwrap(),
        ServiceState::Disconnected
    );
    let stale = NewResult {
        job_id: "j1",
        delivery: first[0].delivery,
        instance: "w1",
        payload: "{}",
        now: at(24),
    };
    assert_eq!(store.submit_result(&stale).unwrap(), Submitted::Stale);
    assert_eq!(store.result_count("tr-j1", 1).unwrap(), 0);
    // The new holder's result is taken.
    let fresh = NewResult {
        delivery: second[0].delivery,
        instance: "w2",
        ..stale
    };
    assert_eq!(store.submit_result(&fresh).unwrap(), Submitted::Accepted);
}

fn heartbeats_renew_leases_only_while_alive(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "w1", None, at(0));
    worker(&store, "w2", None, at(0));
    store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    let lease = Duration::from_secs(10);
    store
        .claim_jobs(&Claim {
            lease,
            ..claim("w1", None, 1, at(0))
        })
        .unwrap();
    assert_eq!(
        store.heartbeat("w1", at(8), lease).unwrap(),
        ServiceState::Running
    );
    assert_eq!(store.job("j1").unwrap().unwrap().lease_until, Some(at(18)));
    let listed = store.list_instances().unwrap();
    let w1 = listed.iter().find(|i| i.id == "w1").unwrap();
    assert_eq!(w1.last_heartbeat, at(8));
    assert_eq!(w1.config, serde_json::json!({"threads": 4}));
    store
        .set_instance_state("w1", ServiceState::Disconnected, at(9))
        .unwrap();
    assert_eq!(
        store.heartbeat("w1", at(12), lease).unwrap(),
        ServiceState::Disconnected
    );
    assert_eq!(store.job("j1").unwrap().unwrap().lease_until, Some(at(18)));
    assert!(matches!(
        store.heartbeat("nobody", at(12), lease),
        Err(StoreError::NotFound { .. })
    ));
}

fn only_running_instances_claim(url: &str) {
    let store = PgStore::connect(url).unwrap();
    store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    assert!(claimed_ids(&store, &claim("unregistered", None, 1, at(1))).is_empty());
    store
        .register_instance(
            &NewInstance {
                id: "w1".into(),
                service_type: ServiceType::Worker,
                host: "h".into(),
                worker_group: None,
                config: serde_json::json!({}),
            },
            at(0),
        )
        .unwrap();
    assert!(
        claimed_ids(&store, &claim("w1", None, 1, at(1))).is_empty(),
        "CREATED claims"
    );
    store
        .set_instance_state("w1", ServiceState::Running, at(1))
        .unwrap();
    store
        .set_instance_state("w1", ServiceState::Terminating, at(2))
        .unwrap();
    assert!(
        claimed_ids(&store, &claim("w1", None, 1, at(3))).is_empty(),
        "TERMINATING claims"
    );
    assert_eq!(store.job("j1").unwrap().unwrap().state, JobState::Queued);
}

fn worker_groups_separate_jobs(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "plain", None, at(0));
    worker(&store, "gpu", Some("gpu"), at(0));
    store
        .enqueue_jobs(
            &[job("g1", "e1", Some("gpu")), job("d1", "e1", None)],
            at(0),
        )
        .unwrap();
    assert_eq!(
        claimed_ids(&store, &claim("plain", None, 10, at(1))),
        ["d1"]
    );
    assert_eq!(
        claimed_ids(&store, &claim("gpu", Some("gpu"), 10, at(1))),
        ["g1"]
    );
    assert_eq!(
        store.job("g1").unwrap().unwrap().worker_group.as_deref(),
        Some("gpu")
    );
}

/// An execution in `state`, stored; returns its id.
fn stored_execution(store: &PgStore, state: StateType) -> String {
    let mut execution = common::execution("company.team", "flow");
    execution.state.transition(state);
    store.write(&[Write::CreateExecution(&execution)]).unwrap();
    execution.id
}

fn settings(strategy: RestartStrategy) -> LivenessSettings {
    LivenessSettings {
        restart_strategy: strategy,
        ..LivenessSettings::default()
    }
}

fn the_coordinator_requeues_immediately(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let running = stored_execution(&store, StateType::Running);
    let killed = stored_execution(&store, StateType::Killed);
    worker(&store, "dead", None, at(0));
    worker(&store, "alive", None, at(0));
    store
        .enqueue_jobs(
            &[job("live", &running, None), job("of-killed", &killed, None)],
            at(0),
        )
        .unwrap();
    assert_eq!(
        claimed_ids(&store, &claim("dead", None, 10, at(1))).len(),
        2
    );
    store
        .heartbeat("alive", at(100), Duration::from_secs(45))
        .unwrap();
    let settings = settings(RestartStrategy::Immediately);
    let decisions = store.coordinate(&settings, at(100)).unwrap();
    let states: Vec<_> = decisions
        .jobs
        .iter()
        .map(|d| (d.job_id.as_str(), d.action))
        .collect();
    assert_eq!(
        states,
        [
            ("live", JobAction::Requeue),
            ("of-killed", JobAction::Cancel)
        ]
    );
    let instances = store.list_instances().unwrap();
    let state_of = |id: &str| instances.iter().find(|i| i.id == id).unwrap().state;
    assert_eq!(state_of("dead"), ServiceState::Disconnected);
    assert_eq!(state_of("alive"), ServiceState::Running);
    assert_eq!(
        store.job("of-killed").unwrap().unwrap().state,
        JobState::Cancelled
    );
    assert_eq!(
        claimed_ids(&store, &claim("alive", None, 10, at(101))),
        ["live"]
    );
    // The next round finds the dead instance holding nothing: NOT_RUNNING.
    store
        .heartbeat("alive", at(105), Duration::from_secs(45))
        .unwrap();
    store.coordinate(&settings, at(105)).unwrap();
    let dead = store
        .list_instances()
        .unwrap()
        .into_iter()
        .find(|i| i.id == "dead")
        .unwrap();
    assert_eq!(dead.state, ServiceState::NotRunning);
}

fn the_coordinator_abandons_under_never(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let running = stored_execution(&store, StateType::Running);
    worker(&store, "dead", None, at(0));
    worker(&store, "alive", None, at(0));
    store
        .enqueue_jobs(&[job("j1", &running, None)], at(0))
        .unwrap();
    claimed_ids(&store, &claim("dead", None, 1, at(1)));
    store
        .heartbeat("alive", at(100), Duration::from_secs(45))
        .unwrap();
    store
        .coordinate(&settings(RestartStrategy::Never), at(100))
        .unwrap();
    assert_eq!(store.job("j1").unwrap().unwrap().state, JobState::Abandoned);
    // Never claimable again, however long one waits.
    assert!(claimed_ids(&store, &claim("alive", None, 10, at(100_000))).is_empty());
}

fn instance_state_changes_follow_the_state_machine(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "w1", None, at(0));
    let new = NewInstance {
        id: "w1".into(),
        service_type: ServiceType::Worker,
        host: "h".into(),
        worker_group: None,
        config: serde_json::json!({}),
    };
    assert!(matches!(
        store.register_instance(&new, at(1)),
        Err(StoreError::AlreadyExists { .. })
    ));
    store
        .set_instance_state("w1", ServiceState::Disconnected, at(2))
        .unwrap();
    let err = store
        .set_instance_state("w1", ServiceState::Running, at(3))
        .unwrap_err();
    assert!(matches!(err, StoreError::IllegalTransition { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("w1") && text.contains("DISCONNECTED") && text.contains("RUNNING"),
        "{text}"
    );
    for to in [
        ServiceState::Terminating,
        ServiceState::TerminatedGracefully,
        ServiceState::NotRunning,
        ServiceState::Empty,
    ] {
        store.set_instance_state("w1", to, at(4)).unwrap();
    }
    let row = store.list_instances().unwrap().remove(0);
    assert_eq!(
        (row.state, row.state_changed_at),
        (ServiceState::Empty, at(4))
    );
}

fn old_rows_of_gone_instances_are_purged(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let week = Duration::from_secs(7 * 86_400);
    for id in ["old", "recent", "running", "holding", "graceful"] {
        worker(&store, id, None, at(0));
    }
    store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    claimed_ids(&store, &claim("holding", None, 1, at(0)));
    for id in ["old", "holding"] {
        store
            .set_instance_state(id, ServiceState::Disconnected, at(1))
            .unwrap();
        store
            .set_instance_state(id, ServiceState::NotRunning, at(1))
            .unwrap();
    }
    for to in [
        ServiceState::Terminating,
        ServiceState::TerminatedGracefully,
    ] {
        store.set_instance_state("graceful", to, at(2)).unwrap();
    }
    store
        .set_instance_state("recent", ServiceState::Disconnected, at(1))
        .unwrap();
    store
        .set_instance_state("recent", ServiceState::NotRunning, at(8 * 86_400 - 10))
        .unwrap();
    let now = at(8 * 86_400);
    assert_eq!(store.purge_instances(week, now).unwrap(), 2);
    let mut left: Vec<String> = store
        .list_instances()
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    left.sort();
    assert_eq!(left, ["holding", "recent", "running"]);
}

fn executor(store: &PgStore, id: &str) {
    store
        .register_instance(
            &NewInstance {
                id: id.to_owned(),
                service_type: ServiceType::Executor,
                host: "test-host".to_owned(),
                worker_group: None,
                config: serde_json::json!({}),
            },
            at(0),
        )
        .unwrap();
    store
        .set_instance_state(id, ServiceState::Running, at(0))
        .unwrap();
}

fn one_executor_at_a_time_holds_an_execution(url: &str) {
    let store = PgStore::connect(url).unwrap();
    executor(&store, "x1");
    executor(&store, "x2");
    let lease = Duration::from_secs(10);
    assert!(store.lease_execution("e1", "x1", lease, at(0)).unwrap());
    assert!(!store.lease_execution("e1", "x2", lease, at(1)).unwrap());
    // Its holder renews it, by asking again or by heartbeating.
    assert!(store.lease_execution("e1", "x1", lease, at(5)).unwrap());
    store.heartbeat("x1", at(9), lease).unwrap();
    let held = store.execution_lease("e1").unwrap().unwrap();
    assert_eq!(
        (held.holder.as_str(), held.until, held.acquired_at),
        ("x1", at(19), at(0))
    );
    // Expired while its holder is still alive: not taken over yet.
    assert!(!store.lease_execution("e1", "x2", lease, at(30)).unwrap());
    // Its holder gone: the other executor takes over, and the gone one cannot take it back.
    store
        .set_instance_state("x1", ServiceState::Disconnected, at(31))
        .unwrap();
    assert!(store.lease_execution("e1", "x2", lease, at(31)).unwrap());
    assert!(!store.lease_execution("e1", "x1", lease, at(100)).unwrap());
    assert!(!store.release_execution("e1", "x1").unwrap());
    assert!(store.release_execution("e1", "x2").unwrap());
    assert_eq!(store.execution_lease("e1").unwrap(), None);
    // Only a RUNNING instance takes a lease.
    assert!(!store.lease_execution("e2", "x1", lease, at(101)).unwrap());
    assert!(
        !store
            .lease_execution("e2", "nobody", lease, at(101))
            .unwrap()
    );
}
