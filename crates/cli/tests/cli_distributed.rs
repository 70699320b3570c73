//! Distributed mode end to end on real processes (issue 14's first "Done when"): a
//! PostgreSQL cluster, an executor, a scheduler, a webserver and two workers as separate
//! `saker server …` processes. Executions all succeed, each once; a worker killed with
//! `kill -9` while its task sleeps has that task handled as
//! `server.worker-task-restart-strategy` says (IMMEDIATELY: resubmitted to the other worker;
//! NEVER: failed, never run again; AFTER_TERMINATION_GRACE_PERIOD: resubmitted once the grace
//! period has passed); the API lists every service and the dead one; SIGTERM lets a worker's
//! running task finish and ends it TERMINATED_GRACEFULLY.

mod common;
#[path = "common/distributed.rs"]
mod distributed;

use std::collections::HashSet;

use common::eventually;
use distributed::{Api, Cluster, Role, Service, Settings, history, task_run};
use serde_json::Value;

const NAMESPACE: &str = "company.team";

/// Two tasks that the workers run.
const TWO_TASKS: &str = "id: two\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: first of {{ execution.id }}\n  - id: second\n    type: io.kestra.plugin.core.debug.Return\n    format: second of {{ execution.id }}\n";

/// A task that says it started, sleeps, and says it finished (its side effect).
const NAP: &str = "id: nap\nnamespace: company.team\ntasks:\n  - id: nap\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo nap started\n      - sleep 3\n      - echo nap finished\n";

const EXECUTIONS: usize = 200;

/// The executor, webserver and two workers (and a scheduler when `scheduler`), all
/// registered as RUNNING.
struct Services {
    executor: Service,
    scheduler: Option<Service>,
    webserver: Service,
    api: Api,
    workers: Vec<(Service, String)>,
}

fn start_services(cluster: &Cluster, scheduler: bool) -> Services {
    let mut executor = cluster.spawn(Role::Executor, "executor", &[]);
    executor.wait_log("is the active executor");
    let mut scheduler = scheduler.then(|| cluster.spawn(Role::Scheduler, "scheduler", &[]));
    if let Some(scheduler) = scheduler.as_mut() {
        scheduler.wait_log("is the active scheduler");
    }
    let (webserver, api) = cluster.webserver("webserver");
    let workers = ["worker-a", "worker-b"]
        .into_iter()
        .map(|name| {
            let mut worker = cluster.spawn(Role::Worker, name, &[]);
            let id = worker.instance_id(cluster);
            (worker, id)
        })
        .collect();
    Services {
        executor,
        scheduler,
        webserver,
        api,
        workers,
    }
}

/// Starts an execution of [`NAP`], waits until a worker runs its task and it has said it
/// started; returns the execution id, its task run id and the index of the worker.
fn nap_running(cluster: &Cluster, services: &Services) -> (String, String, usize) {
    let api = services.api;
    let id = api.create_execution(NAMESPACE, "nap");
    let (run, holder) = eventually("the nap task claimed by a worker", || {
        let execution = api.execution(&id);
        let Some(run) = execution["taskRunList"]
            .as_array()
            .and_then(|runs| runs.first())
            .and_then(|r| r["id"].as_str())
        else {
            return Err(execution.to_string());
        };
        let jobs = cluster.jobs_of(run);
        match jobs.last() {
            Some(job) if job.state == "CLAIMED" => {
                Ok((run.to_owned(), job.claimed_by.clone().unwrap()))
            }
            _ => Err(format!("jobs {jobs:?}")),
        }
    });
    eventually("the nap task saying it started", || {
        let logs = api.log_messages(&id);
        if logs.iter().any(|l| l.contains("nap started")) {
            Ok(())
        } else {
            Err(format!("{logs:?}"))
        }
    });
    let worker = services
        .workers
        .iter()
        .position(|(_, instance)| *instance == holder)
        .unwrap_or_else(|| panic!("job held by {holder}, not one of the workers"));
    (id, run, worker)
}

/// How many log lines of execution `id` contain `text`.
fn lines_with(api: &Api, id: &str, text: &str) -> usize {
    api.log_messages(id)
        .iter()
        .filter(|l| l.contains(text))
        .count()
}

/// How many times `state` appears in the task run's history.
fn times(run: &Value, state: &str) -> usize {
    history(run).iter().filter(|s| *s == state).count()
}

/// Creates [`EXECUTIONS`] executions of [`TWO_TASKS`] and checks that each ends SUCCESS,
/// once, with each task run once by one worker.
fn executions_all_succeed_once(cluster: &Cluster, api: &Api) {
    api.deploy(TWO_TASKS);
    let ids: Vec<String> = (0..EXECUTIONS)
        .map(|_| api.create_execution(NAMESPACE, "two"))
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), EXECUTIONS);
    let mut runs = HashSet::new();
    for id in &ids {
        let execution = api.wait_ended(id);
        assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
        let list = execution["taskRunList"].as_array().unwrap();
        assert_eq!(list.len(), 2, "{execution}");
        for run in list {
            assert_eq!(times(run, "SUCCESS"), 1, "{run}");
            assert!(runs.insert(run["id"].as_str().unwrap().to_owned()), "{run}");
        }
    }
    // The store holds each execution once, each SUCCESS.
    let count = |query: &str| {
        let (status, page) = common::json(
            api.port,
            "GET",
            &format!("/api/v1/main/executions/search?flowId=two&size=1{query}"),
            None,
        );
        assert_eq!(status, 200, "{page}");
        page["total"].as_u64().unwrap() as usize
    };
    assert_eq!(count(""), EXECUTIONS);
    assert_eq!(count("&state=SUCCESS"), EXECUTIONS);
    // Each task run was one job, delivered once, with one result.
    let mut sql = cluster.sql();
    let row = sql
        .query_one(
            "SELECT count(*), count(DISTINCT task_run_id), \
                    count(*) FILTER (WHERE state = 'DONE' AND delivery = 1) \
             FROM worker_jobs WHERE execution_id = ANY($1)",
            &[&ids],
        )
        .unwrap();
    let (jobs, distinct, done_once): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((jobs, distinct, done_once), (400, 400, 400));
    let row = sql
        .query_one(
            "SELECT count(*), count(DISTINCT task_run_id) FROM worker_results \
             WHERE execution_id = ANY($1)",
            &[&ids],
        )
        .unwrap();
    let (results, distinct): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!((results, distinct), (400, 400));
}

#[test]
fn separate_services_run_executions_once_and_hand_a_killed_workers_task_on() {
    let cluster = Cluster::start(&Settings::with_strategy("IMMEDIATELY"));
    let mut services = start_services(&cluster, true);
    let api = services.api;

    executions_all_succeed_once(&cluster, &api);

    // kill -9 of the worker running a sleeping task: the coordinator declares it gone and
    // the task goes to the other worker.
    api.deploy(NAP);
    let (id, run_id, victim) = nap_running(&cluster, &services);
    let survivor = 1 - victim;
    let dead = services.workers[victim].1.clone();
    let alive = services.workers[survivor].1.clone();
    services.workers[victim].0.kill_9();
    let execution = api.wait_ended(&id);
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let run = task_run(&execution, "nap");
    assert_eq!(run["id"], run_id.as_str());
    assert!(history(run).contains(&"RESUBMITTED".to_owned()), "{run}");
    assert_eq!(times(run, "SUCCESS"), 1, "{run}");
    // It ran again on the survivor, which alone submitted its result; its side effect
    // happened once.
    assert_eq!(cluster.job_holder(&run_id).as_deref(), Some(alive.as_str()));
    assert_eq!(cluster.results_of(&run_id), vec![alive.clone()]);
    assert_eq!(lines_with(&api, &id, "nap finished"), 1);
    assert_eq!(lines_with(&api, &id, "nap started"), 2);

    // The API lists the four service types, the dead worker gone.
    cluster.wait_instance_state(&dead, &["DISCONNECTED", "NOT_RUNNING"]);
    let rows = api.services();
    for kind in ["EXECUTOR", "WORKER", "WEBSERVER", "SCHEDULER"] {
        assert!(
            rows.iter()
                .any(|r| r["type"] == kind && r["state"] == "RUNNING"),
            "no RUNNING {kind}: {rows:?}"
        );
    }
    let dead_row = rows.iter().find(|r| r["id"] == dead.as_str()).unwrap();
    assert!(
        ["DISCONNECTED", "NOT_RUNNING"].contains(&dead_row["state"].as_str().unwrap()),
        "{dead_row}"
    );

    // SIGTERM while the survivor runs a task: the task finishes, then the worker ends
    // TERMINATED_GRACEFULLY with exit code 0.
    let (id, run_id, worker) = nap_running(&cluster, &services);
    assert_eq!(worker, survivor);
    let status = services.workers[survivor].0.sigterm();
    assert!(
        status.success(),
        "{status}: {}",
        services.workers[survivor].0.log()
    );
    assert_eq!(cluster.instance_state(&alive), "TERMINATED_GRACEFULLY");
    assert_eq!(cluster.results_of(&run_id), vec![alive.clone()]);
    let execution = api.wait_ended(&id);
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(lines_with(&api, &id, "nap finished"), 1);

    // The other services end gracefully too.
    for service in [
        &mut services.executor,
        services.scheduler.as_mut().unwrap(),
        &mut services.webserver,
    ] {
        let status = service.sigterm();
        assert!(
            status.success(),
            "{}: {status}: {}",
            service.name,
            service.log()
        );
    }
}
