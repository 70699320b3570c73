//! Distributed mode's job queue on a throwaway PostgreSQL cluster (`common::pg`):
//! concurrent claimers, wake-ups by notification, results stored once, leases, worker
//! groups. Time is passed explicitly (`now` arguments), so leases are crossed without
//! sleeping. One `#[test]` runs every case, each on a fresh database, as in `postgres.rs`.

mod common;

use std::time::Duration;

use common::distributed::*;
use common::pg::{self, PgCluster};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc;

use saker_store::queue::{Claim, JobState, NewJob, NewResult, Submitted, Wake, WakeChannel};
use saker_store::services::{NewInstance, ServiceState, ServiceType};
use saker_store::{PgStore, StoreError};

#[test]
fn postgres_job_queue() {
    let cluster = PgCluster::start();
    let cases: Vec<pg::Case<str>> = cases![
        concurrent_claimers_never_share_a_job,
        a_notification_wakes_a_waiter_without_polling,
        a_wait_without_notification_times_out,
        a_result_delivered_twice_changes_nothing,
        an_expired_lease_of_a_gone_holder_frees_the_job,
        heartbeats_renew_leases_only_while_alive,
        only_running_instances_claim,
        worker_groups_separate_jobs,
        finished_jobs_and_applied_results_are_purged,
        a_waiter_whose_session_ends_says_so,
        a_waiter_lives_and_dies_inside_a_runtime,
    ];
    pg::run_cases(&cases, |n| cluster.create_database(&format!("queue_{n}")));
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
    // Another job of the same attempt (a LoopUntil's check, a WorkingDirectory's end step:
    // jobs of the attempt that runs) stores a result of its own. A resubmission is the same
    // job requeued, never a second one; the executor ignores a second result for an attempt
    // that is no longer running.
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
    assert_eq!(store.submit_result(&late).unwrap(), Submitted::Accepted);
    assert_eq!(store.submit_result(&late).unwrap(), Submitted::Duplicate);
    assert_eq!(store.result_count("tr-j1", 1).unwrap(), 2);
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

fn finished_jobs_and_applied_results_are_purged(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "w1", None, at(0));
    let jobs: Vec<NewJob> = ["done", "applied", "claimed", "queued"]
        .iter()
        .map(|id| job(id, "e1", None))
        .collect();
    store.enqueue_jobs(&jobs, at(0)).unwrap();
    let claimed = store.claim_jobs(&claim("w1", None, 3, at(1))).unwrap();
    for job in &claimed[..2] {
        let result = NewResult {
            job_id: &job.id,
            delivery: job.delivery,
            instance: "w1",
            payload: "{}",
            now: at(2),
        };
        assert_eq!(store.submit_result(&result).unwrap(), Submitted::Accepted);
    }
    let applied = store
        .pending_results(10)
        .unwrap()
        .into_iter()
        .find(|r| r.job_id == "applied")
        .unwrap();
    assert!(store.mark_result_applied(applied.seq, at(3)).unwrap());
    // Nothing is old enough yet.
    assert_eq!(store.purge_finished_jobs(at(0)).unwrap(), (0, 0));
    assert_eq!(store.purge_finished_jobs(at(100)).unwrap(), (2, 1));
    assert!(store.job("done").unwrap().is_none());
    assert!(store.job("applied").unwrap().is_none());
    assert_eq!(
        store.job("claimed").unwrap().unwrap().state,
        JobState::Claimed
    );
    assert_eq!(
        store.job("queued").unwrap().unwrap().state,
        JobState::Queued
    );
    // The result of "done" was never applied: it stays for the executor.
    let pending = store.pending_results(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].job_id, "done");
}

fn a_waiter_whose_session_ends_says_so(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let mut waiter = store.waiter(WakeChannel::Jobs).unwrap();
    // The database ends the listening session (a restart, an administrator): the wait
    // returns an error at once instead of sleeping through its fallback, and the caller
    // opens a new waiter.
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let ended: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ended, 1);
    assert!(waiter.wait(Duration::from_secs(60)).is_err());
    let mut again = store.waiter(WakeChannel::Jobs).unwrap();
    store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    assert_eq!(again.wait(Duration::from_secs(60)).unwrap(), Wake::Notified);
}

fn a_waiter_lives_and_dies_inside_a_runtime(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for runtime in [multi, current] {
        runtime.block_on(async {
            let mut waiter = store.waiter(WakeChannel::Jobs).unwrap();
            let wake = waiter.wait(Duration::from_millis(10)).unwrap();
            assert_eq!(wake, Wake::TimedOut);
            // Dropping its client here must not panic.
            drop(waiter);
        });
    }
}
