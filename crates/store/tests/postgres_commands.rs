//! Distributed mode's messages between processes on a throwaway PostgreSQL cluster
//! (`common::pg`): the executor's command queue, the workers' controls, and what the
//! executor and the metrics ask of the job queue (a job's fate, queued jobs cancelled, queue
//! depth, living workers per group). Time is passed explicitly. One `#[test]` runs every
//! case, each on a fresh database, as in `postgres.rs`.

mod common;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use common::distributed::*;
use common::pg::{self, PgCluster};
use saker_store::commands::NewCommand;
use saker_store::queue::{JobState, NewJob, NewResult, Submitted, Wake, WakeChannel};
use saker_store::services::ServiceState;
use saker_store::{PgStore, SqliteStore, Store, StoreError, Write};

#[test]
fn postgres_commands_and_controls() {
    let cluster = PgCluster::start();
    let cases: Vec<pg::Case<str>> = cases![
        commands_are_taken_once_in_order,
        peeked_commands_stay_until_acknowledged,
        a_command_is_queued_with_its_execution_or_not_at_all,
        concurrent_takers_never_share_a_command,
        a_command_wakes_the_executor,
        every_worker_reads_every_control_until_purged,
        a_control_wakes_the_workers,
        a_nul_in_a_payload_is_refused_without_showing_it,
        the_fate_of_a_job_is_its_newest_row_with_its_result,
        cancelling_an_execution_cancels_only_its_queued_jobs,
        claims_come_back_in_queueing_order,
        queue_depth_counts_queued_jobs_per_group,
        living_workers_are_counted_per_group,
        a_database_at_migration_8_upgrades,
    ];
    pg::run_cases(&cases, |n| {
        cluster.create_database(&format!("commands_{n}"))
    });
}

fn command<'a>(kind: &'a str, execution_id: &'a str, payload: &'a str) -> NewCommand<'a> {
    NewCommand {
        kind,
        execution_id,
        payload,
    }
}

/// A webserver stores a new execution and the command to start it in one transaction: a
/// batch that fails stores neither. The embedded store has no executor queue.
fn a_command_is_queued_with_its_execution_or_not_at_all(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let mut waiter = store.waiter(WakeChannel::Commands).unwrap();
    let execution = common::execution("company.team", "flow");
    let start = NewCommand {
        kind: "start",
        execution_id: &execution.id,
        payload: "{}",
    };
    store
        .write(&[
            Write::CreateExecution(&execution),
            Write::QueueCommand(start),
        ])
        .unwrap();
    assert_eq!(
        waiter.wait(Duration::from_secs(60)).unwrap(),
        Wake::Notified
    );
    let queued = store.peek_commands(10).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].execution_id, execution.id);
    // The same execution again: the batch fails, and its command is not queued either.
    let again = store.write(&[
        Write::CreateExecution(&execution),
        Write::QueueCommand(start),
    ]);
    assert!(again.is_err());
    assert_eq!(store.peek_commands(10).unwrap().len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("saker.db")).unwrap();
    let refused = sqlite
        .write(&[
            Write::CreateExecution(&execution),
            Write::QueueCommand(start),
        ])
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("distributed mode needs PostgreSQL"),
        "{refused}"
    );
    assert!(sqlite.get_execution(&execution.id).unwrap().is_none());
}

/// The executor's way: read, apply, then delete what it applied; a command read but not
/// deleted (its executor died) is read again by the next reader.
fn peeked_commands_stay_until_acknowledged(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let mut seqs = Vec::new();
    for n in 0..3 {
        seqs.push(
            store
                .push_command(&command("kill", &format!("e{n}"), "{}"), at(n))
                .unwrap(),
        );
    }
    let read = |max| -> Vec<i64> {
        store
            .peek_commands(max)
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect()
    };
    assert_eq!(read(2), seqs[..2]);
    assert_eq!(read(2), seqs[..2], "reading deletes nothing");
    assert_eq!(store.delete_commands(&seqs[..2]).unwrap(), 2);
    assert_eq!(read(10), seqs[2..]);
    assert_eq!(store.delete_commands(&seqs[..2]).unwrap(), 0);
    assert_eq!(store.delete_commands(&[]).unwrap(), 0);
}

fn commands_are_taken_once_in_order(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let mut seqs = Vec::new();
    for n in 0..5 {
        let payload = format!(r#"{{"n":{n}}}"#);
        let seq = store
            .push_command(&command("killExecution", &format!("e{n}"), &payload), at(n))
            .unwrap();
        seqs.push(seq);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let first = store.take_commands(3).unwrap();
    let taken: Vec<_> = first
        .iter()
        .map(|c| (c.seq, c.execution_id.as_str(), c.payload.as_str()))
        .collect();
    assert_eq!(
        taken,
        [
            (seqs[0], "e0", r#"{"n":0}"#),
            (seqs[1], "e1", r#"{"n":1}"#),
            (seqs[2], "e2", r#"{"n":2}"#)
        ]
    );
    assert_eq!(first[0].kind, "killExecution");
    assert_eq!(first[2].created_at, at(2));
    let rest: Vec<i64> = store
        .take_commands(10)
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(rest, seqs[3..]);
    assert!(store.take_commands(10).unwrap().is_empty());
}

fn concurrent_takers_never_share_a_command(url: &str) {
    const COMMANDS: i64 = 200;
    const TAKERS: usize = 4;
    let setup = PgStore::connect(url).unwrap();
    for n in 0..COMMANDS {
        setup
            .push_command(&command("k", &format!("e{n}"), "{}"), at(n))
            .unwrap();
    }
    let handles: Vec<_> = (0..TAKERS)
        .map(|_| {
            let store = PgStore::connect(url).unwrap();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let got = store.take_commands(7).unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
                    mine.extend(got.into_iter().map(|c| c.execution_id));
                }
            })
        })
        .collect();
    let mut all: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!((total, all.len()), (200, 200));
}

/// Waits on `waiter` on another thread while `act` runs; the wake it got.
fn woken_by(mut waiter: saker_store::JobWaiter, act: impl FnOnce()) -> Wake {
    let (woke_tx, woke_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // A fallback of a day: only the notification ends this wait in time.
        let wake = waiter.wait(Duration::from_secs(24 * 3600));
        let _ = woke_tx.send(wake.map_err(|e| e.to_string()));
    });
    act();
    woke_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the waiter was not woken by the notification")
        .unwrap()
}

fn a_command_wakes_the_executor(url: &str) {
    let store = Arc::new(PgStore::connect(url).unwrap());
    // A control is another channel: it does not wake the executor.
    let mut commands = store.waiter(WakeChannel::Commands).unwrap();
    store.push_control("{}", at(0)).unwrap();
    assert_eq!(
        commands.wait(Duration::from_millis(200)).unwrap(),
        Wake::TimedOut
    );
    let wake = woken_by(commands, || {
        store
            .push_command(&command("killExecution", "e1", "{}"), at(1))
            .unwrap();
    });
    assert_eq!(wake, Wake::Notified);
}

fn every_worker_reads_every_control_until_purged(url: &str) {
    let store = PgStore::connect(url).unwrap();
    assert_eq!(store.last_control_seq().unwrap(), 0);
    let a = store.push_control(r#"{"cancel":"j1"}"#, at(0)).unwrap();
    let b = store.push_control(r#"{"ended":"e1"}"#, at(10)).unwrap();
    assert_eq!(store.last_control_seq().unwrap(), b);
    // Two workers read the same controls; reading deletes nothing.
    for _worker in 0..2 {
        assert_eq!(
            store.controls_after(0, 10).unwrap(),
            [
                (a, r#"{"cancel":"j1"}"#.to_owned()),
                (b, r#"{"ended":"e1"}"#.to_owned())
            ]
        );
    }
    assert_eq!(
        store.controls_after(0, 1).unwrap(),
        [(a, r#"{"cancel":"j1"}"#.to_owned())]
    );
    assert_eq!(store.controls_after(a, 10).unwrap().len(), 1);
    assert!(store.controls_after(b, 10).unwrap().is_empty());
    // A worker starting now begins after the last one and sees only newer controls.
    let start = store.last_control_seq().unwrap();
    let c = store.push_control(r#"{"ended":"e2"}"#, at(20)).unwrap();
    assert_eq!(
        store.controls_after(start, 10).unwrap(),
        [(c, r#"{"ended":"e2"}"#.to_owned())]
    );
    assert_eq!(store.purge_controls(at(10)).unwrap(), 1);
    assert_eq!(store.controls_after(0, 10).unwrap().len(), 2);
    // The purge of finished jobs takes the old controls too.
    store.purge_finished_jobs(at(15)).unwrap();
    let left: Vec<i64> = store
        .controls_after(0, 10)
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(left, [c]);
    assert_eq!(store.last_control_seq().unwrap(), c);
}

fn a_control_wakes_the_workers(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let controls = store.waiter(WakeChannel::Controls).unwrap();
    let wake = woken_by(controls, || {
        store.push_control(r#"{"cancel":"j1"}"#, at(0)).unwrap();
    });
    assert_eq!(wake, Wake::Notified);
}

fn a_nul_in_a_payload_is_refused_without_showing_it(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let payload = "hunter2-secret\0";
    let errors = [
        store
            .push_command(&command("k", "e1", payload), at(0))
            .unwrap_err(),
        store.push_control(payload, at(0)).unwrap_err(),
    ];
    for err in errors {
        assert!(matches!(err, StoreError::Encode { .. }), "{err}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    assert!(store.take_commands(10).unwrap().is_empty());
    assert_eq!(store.last_control_seq().unwrap(), 0);
}

fn the_fate_of_a_job_is_its_newest_row_with_its_result(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "w1", None, at(0));
    assert_eq!(store.job_fate("tr-j1", 1).unwrap(), None);
    store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    let fate = store.job_fate("tr-j1", 1).unwrap().unwrap();
    assert_eq!(
        (fate.job_id.as_str(), fate.state, fate.result),
        ("j1", JobState::Queued, None)
    );
    // Another attempt of the same task run is another fate.
    assert_eq!(store.job_fate("tr-j1", 2).unwrap(), None);
    let claimed = store.claim_jobs(&claim("w1", None, 1, at(1))).unwrap();
    assert_eq!(
        store.job_fate("tr-j1", 1).unwrap().unwrap().state,
        JobState::Claimed
    );
    let result = NewResult {
        job_id: "j1",
        delivery: claimed[0].delivery,
        instance: "w1",
        payload: r#"{"state":"SUCCESS"}"#,
        now: at(2),
    };
    assert_eq!(store.submit_result(&result).unwrap(), Submitted::Accepted);
    let done = store.job_fate("tr-j1", 1).unwrap().unwrap();
    assert_eq!(
        (done.state, done.result.as_deref()),
        (JobState::Done, Some(r#"{"state":"SUCCESS"}"#))
    );
    // Applied or not, the result is there.
    let pending = store.pending_results(1).unwrap();
    store.mark_result_applied(pending[0].seq, at(3)).unwrap();
    assert_eq!(store.job_fate("tr-j1", 1).unwrap().unwrap(), done);
    // The same attempt queued again (a loop's check is a job of the running attempt): the
    // newest row speaks, with its own result (none yet).
    store
        .enqueue_jobs(
            &[NewJob {
                id: "j1-again".into(),
                ..job("j1", "e1", None)
            }],
            at(4),
        )
        .unwrap();
    let again = store.job_fate("tr-j1", 1).unwrap().unwrap();
    assert_eq!(
        (again.job_id.as_str(), again.state, again.result.as_deref()),
        ("j1-again", JobState::Queued, None)
    );
}

fn cancelling_an_execution_cancels_only_its_queued_jobs(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "w1", None, at(0));
    store
        .enqueue_jobs(
            &[
                job("held", "e1", None),
                job("q1", "e1", None),
                job("q2", "e1", Some("gpu")),
                job("other", "e2", None),
            ],
            at(0),
        )
        .unwrap();
    assert_eq!(claimed_ids(&store, &claim("w1", None, 1, at(1))), ["held"]);
    assert_eq!(store.cancel_queued_jobs("e1").unwrap(), 2);
    let state = |id: &str| store.job(id).unwrap().unwrap().state;
    assert_eq!(state("q1"), JobState::Cancelled);
    assert_eq!(state("q2"), JobState::Cancelled);
    assert_eq!(state("held"), JobState::Claimed);
    assert_eq!(state("other"), JobState::Queued);
    // Nobody claims a cancelled job; a second call changes nothing.
    assert_eq!(
        claimed_ids(&store, &claim("w1", None, 10, at(2))),
        ["other"]
    );
    assert_eq!(store.cancel_queued_jobs("e1").unwrap(), 0);
    assert_eq!(store.cancel_queued_jobs("unknown").unwrap(), 0);
}

fn claims_come_back_in_queueing_order(url: &str) {
    let store = PgStore::connect(url).unwrap();
    worker(&store, "w1", None, at(0));
    // Ids that sort against the queueing order, in several batches.
    let ids: Vec<String> = (0..40).map(|n| format!("j{:03}", 999 - n * 7)).collect();
    for batch in ids.chunks(9) {
        let jobs: Vec<NewJob> = batch.iter().map(|id| job(id, "e1", None)).collect();
        store.enqueue_jobs(&jobs, at(0)).unwrap();
    }
    let mut got = Vec::new();
    loop {
        let claimed = claimed_ids(&store, &claim("w1", None, 15, at(1)));
        if claimed.is_empty() {
            break;
        }
        got.extend(claimed);
    }
    assert_eq!(got, ids);
}

fn queue_depth_counts_queued_jobs_per_group(url: &str) {
    let store = PgStore::connect(url).unwrap();
    assert!(store.queue_depth().unwrap().is_empty());
    worker(&store, "w1", None, at(0));
    store
        .enqueue_jobs(
            &[
                job("d1", "e1", None),
                job("d2", "e1", None),
                job("d3", "e1", None),
                job("g1", "e1", Some("gpu")),
            ],
            at(0),
        )
        .unwrap();
    claimed_ids(&store, &claim("w1", None, 1, at(1)));
    assert_eq!(
        store.queue_depth().unwrap(),
        [(None, 2), (Some("gpu".to_owned()), 1)]
    );
}

fn living_workers_are_counted_per_group(url: &str) {
    let store = PgStore::connect(url).unwrap();
    assert_eq!(store.alive_workers_in_group(None).unwrap(), 0);
    worker(&store, "d1", None, at(0));
    worker(&store, "d2", None, at(0));
    worker(&store, "gone", None, at(0));
    worker(&store, "g1", Some("gpu"), at(0));
    worker(&store, "blank", Some(""), at(0));
    store
        .set_instance_state("gone", ServiceState::Disconnected, at(1))
        .unwrap();
    store
        .set_instance_state("d2", ServiceState::Terminating, at(1))
        .unwrap();
    // An executor is no worker, even in no group.
    store
        .register_instance(
            &saker_store::services::NewInstance {
                id: "x1".into(),
                service_type: saker_store::services::ServiceType::Executor,
                host: "h".into(),
                worker_group: None,
                config: serde_json::json!({}),
            },
            at(0),
        )
        .unwrap();
    // The default group is a NULL or an empty group.
    assert_eq!(store.alive_workers_in_group(None).unwrap(), 2);
    assert_eq!(store.alive_workers_in_group(Some("gpu")).unwrap(), 1);
    assert_eq!(store.alive_workers_in_group(Some("cpu")).unwrap(), 0);
}

fn a_database_at_migration_8_upgrades(url: &str) {
    {
        let store = PgStore::connect(url).unwrap();
        store.enqueue_jobs(&[job("j1", "e1", None)], at(0)).unwrap();
    }
    // Back to migration 8: what migration 9 added is gone.
    let mut raw = postgres::Client::connect(url, postgres::NoTls).unwrap();
    raw.batch_execute(
        "DROP TABLE executor_commands; DROP TABLE worker_controls; \
         DROP INDEX worker_jobs_by_task_run; DROP INDEX worker_results_by_task_run; \
         ALTER TABLE worker_results DROP CONSTRAINT worker_results_job_id_key; \
         ALTER TABLE worker_results ADD CONSTRAINT worker_results_task_run_id_attempt_key \
           UNIQUE (task_run_id, attempt); \
         UPDATE saker_schema SET version = 8",
    )
    .unwrap();
    let store = PgStore::connect(url).unwrap();
    let version: i64 = raw
        .query_one("SELECT version FROM saker_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 9);
    assert_eq!(PgStore::schema_version(), 9);
    assert_eq!(store.job("j1").unwrap().unwrap().state, JobState::Queued);
    store
        .push_command(&command("k", "e1", "{}"), at(1))
        .unwrap();
    assert_eq!(store.take_commands(1).unwrap().len(), 1);
    let seq = store.push_control("{}", at(1)).unwrap();
    assert_eq!(store.last_control_seq().unwrap(), seq);
    assert_eq!(store.job_fate("tr-j1", 1).unwrap().unwrap().job_id, "j1");
}
