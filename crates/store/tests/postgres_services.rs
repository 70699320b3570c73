//! Distributed mode's service instances on a throwaway PostgreSQL cluster (`common::pg`):
//! the coordinator's rounds applied, state changes through the state machine, the purge of
//! old rows, the executors' execution leases. Time is passed explicitly.

mod common;

use std::time::Duration;

use common::distributed::*;
use common::pg::{self, PgCluster};
use saker_model::execution::StateType;
use saker_store::commands::{Command, JOB_ABANDONED, JOB_CANCELLED, JOB_RESUBMITTED};
use saker_store::queue::{JobState, Wake, WakeChannel};
use saker_store::services::coordinator::JobAction;
use saker_store::services::settings::{LivenessSettings, RestartStrategy};
use saker_store::services::{NewInstance, ServiceState, ServiceType};
use saker_store::{PgStore, Store, StoreError, Write};

#[test]
fn postgres_service_instances() {
    let cluster = PgCluster::start();
    let cases: Vec<pg::Case<str>> = cases![
        the_coordinator_requeues_immediately,
        the_coordinator_abandons_under_never,
        a_requeued_job_is_reported_to_the_executor_once,
        instance_state_changes_follow_the_state_machine,
        old_rows_of_gone_instances_are_purged,
        one_executor_at_a_time_holds_an_execution,
        an_executor_that_lost_its_claim_writes_nothing,
    ];
    pg::run_cases(&cases, |n| {
        cluster.create_database(&format!("services_{n}"))
    });
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
    // The instance list shows what each one holds.
    let held: Vec<(String, String)> = store
        .list_instances()
        .unwrap()
        .into_iter()
        .flat_map(|i| i.jobs.into_iter().map(move |j| (i.id.clone(), j.job_id)))
        .collect();
    assert_eq!(
        held,
        [
            ("dead".to_owned(), "live".to_owned()),
            ("dead".to_owned(), "of-killed".to_owned())
        ]
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
    // The executor hears of both: the requeued job, and the cancelled one (an execution
    // being killed would otherwise wait for it forever; an ended one ignores it).
    let commands = store.take_commands(10).unwrap();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_command(&commands[0], JOB_RESUBMITTED, &running, "tr-live", "dead");
    assert_command(&commands[1], JOB_CANCELLED, &killed, "tr-of-killed", "dead");
    assert_eq!(commands[0].created_at, at(100));
    assert_eq!(store.job("live").unwrap().unwrap().state, JobState::Queued);
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
    let commands = store.take_commands(10).unwrap();
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert_command(&commands[0], JOB_ABANDONED, &running, "tr-j1", "dead");
    // Never claimable again, however long one waits.
    assert!(claimed_ids(&store, &claim("alive", None, 10, at(100_000))).is_empty());
}

/// `command` is of `kind`, about `execution` and names the task run, attempt 1 and the
/// gone holder.
fn assert_command(command: &Command, kind: &str, execution: &str, task_run: &str, holder: &str) {
    assert_eq!(
        (command.kind.as_str(), command.execution_id.as_str()),
        (kind, execution)
    );
    let payload: serde_json::Value = serde_json::from_str(&command.payload).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({"taskRunId": task_run, "attempt": 1, "holder": holder})
    );
}

fn a_requeued_job_is_reported_to_the_executor_once(url: &str) {
    let store = PgStore::connect(url).unwrap();
    let running = stored_execution(&store, StateType::Running);
    worker(&store, "dead", None, at(0));
    store
        .register_instance(
            &NewInstance {
                id: "x1".into(),
                service_type: ServiceType::Executor,
                host: "h".into(),
                worker_group: None,
                config: serde_json::json!({}),
            },
            at(0),
        )
        .unwrap();
    store
        .enqueue_jobs(&[job("j1", &running, None)], at(0))
        .unwrap();
    claimed_ids(&store, &claim("dead", None, 1, at(1)));
    let mut commands = store.waiter(WakeChannel::Commands).unwrap();
    let settings = settings(RestartStrategy::Immediately);
    for round in [100, 105, 110] {
        store
            .heartbeat("x1", at(round), Duration::from_secs(45))
            .unwrap();
        store.coordinate(&settings, at(round)).unwrap();
    }
    // Nobody claimed it in between: it waits QUEUED, and later rounds leave it alone.
    assert_eq!(store.job("j1").unwrap().unwrap().state, JobState::Queued);
    assert_eq!(
        commands.wait(Duration::from_secs(60)).unwrap(),
        Wake::Notified
    );
    let taken = store.take_commands(10).unwrap();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_command(&taken[0], JOB_RESUBMITTED, &running, "tr-j1", "dead");
    let dead = store
        .list_instances()
        .unwrap()
        .into_iter()
        .find(|i| i.id == "dead")
        .unwrap();
    assert_eq!(dead.state, ServiceState::NotRunning);
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

/// The claim fences every write of the store that holds it: once its session is gone (the
/// database restarted, the connection was cut: here, the backend terminated), writes fail as
/// Busy until the claim is taken again; if another executor took it meanwhile, the first
/// never writes again.
fn an_executor_that_lost_its_claim_writes_nothing(url: &str) {
    let first = PgStore::connect(url).unwrap();
    let second = PgStore::connect(url).unwrap();
    let admin = PgStore::connect(url).unwrap();
    assert!(first.claim_executor().unwrap());
    let running = stored_execution(&first, StateType::Running);
    let execution = |store: &PgStore| store.get_execution(&running).unwrap().unwrap();
    let terminate = || {
        let url = url.to_owned();
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let killed = client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks \
                 WHERE locktype = 'advisory' AND objsubid = 1 AND granted",
                &[],
            )
            .unwrap();
        assert_eq!(killed, 1, "one session holds the executor's lock");
    };

    terminate();
    let mut changed = execution(&first);
    changed.state.transition(StateType::Success);
    let refused = first.write(&[Write::SaveExecution(&changed)]).unwrap_err();
    assert!(matches!(refused, StoreError::Busy { .. }), "{refused}");
    assert!(refused.to_string().contains("executor's lock"), "{refused}");
    assert_eq!(execution(&admin).state.current, StateType::Running);
    // Nobody took it: the first claims it again and writes.
    assert!(first.claim_executor().unwrap());
    first.write(&[Write::SaveExecution(&changed)]).unwrap();
    assert_eq!(execution(&admin).state.current, StateType::Success);

    // Another executor takes it while the first's session is gone: the first is refused
    // for good, and so are its queue writes.
    terminate();
    assert!(second.claim_executor().unwrap());
    assert!(!first.claim_executor().unwrap());
    let refused = first.write(&[Write::SaveExecution(&changed)]).unwrap_err();
    assert!(matches!(refused, StoreError::Busy { .. }), "{refused}");
    let enqueued = first.enqueue_jobs(&[job("stale", &running, None)], at(0));
    assert!(
        matches!(enqueued, Err(StoreError::Busy { .. })),
        "{enqueued:?}"
    );
    assert!(first.take_commands(10).is_err());
    second.write(&[Write::SaveExecution(&changed)]).unwrap();
    // Stores that never claimed are not fenced.
    admin.write(&[Write::SaveExecution(&changed)]).unwrap();
}
