//! Distributed mode under crashes and partitions (issue 14, point 7), on real processes:
//! `saker server executor | worker | webserver` over a throwaway PostgreSQL cluster.
//!
//! Every task of these flows calls the test's hits server (`common/hits.rs`), which records
//! each call the moment it arrives and holds its answer, so that the task stays on its
//! worker that long: the calls are the side effect that must not happen twice where the
//! restart strategy forbids it, and the answer (the caller's address) says which worker's
//! output the execution kept.
//!
//! - An active executor killed with `kill -9`, its standby frozen meanwhile so that
//!   executions are created while no executor runs: the standby takes over, every
//!   execution ends SUCCESS, every task ran once.
//! - A killed execution whose task's worker dies: the job is cancelled, not resubmitted,
//!   and the execution ends KILLED, under IMMEDIATELY.
//! - PostgreSQL restarted under load: every execution ends SUCCESS, each task ran once,
//!   every service is RUNNING again and heartbeats.
//! - A worker in a network namespace cut off longer than the liveness timeout: declared
//!   DISCONNECTED, its task resubmitted to the other worker; when the link is back it
//!   stops and exits, and its result is refused.

mod common;
#[path = "common/distributed.rs"]
mod distributed;
#[path = "common/hits.rs"]
mod hits;
#[path = "common/netns.rs"]
mod netns;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::eventually;
use distributed::{Api, Cluster, Role, Service, Settings, history, is_terminal, task_run};
use hits::Hits;
use netns::Netns;
use serde_json::Value;

const NAMESPACE: &str = "failures";

/// A flow of one or more tasks, each calling the hits server at `base` (which holds the
/// answer `hold` milliseconds) under the path `/hit/<execution>/<task>`.
fn flow(id: &str, base: &str, tasks: &[(&str, u64)]) -> String {
    let mut yaml = format!("id: {id}\nnamespace: {NAMESPACE}\ntasks:\n");
    for (task, hold) in tasks {
        yaml.push_str(&format!(
            "  - id: {task}\n    type: io.kestra.plugin.core.http.Request\n    \
             uri: \"{base}/hit/{{{{ execution.id }}}}/{task}?hold={hold}\"\n    \
             options:\n      readTimeout: PT120S\n"
        ));
    }
    yaml
}

/// The hits server's path for `task` of `execution`.
fn hit_path(execution: &str, task: &str) -> String {
    format!("/hit/{execution}/{task}")
}

/// How many `attempts` a task run lists.
fn attempts(run: &Value) -> usize {
    run["attempts"].as_array().map_or(0, Vec::len)
}

/// How many times `state` appears in a task run's history.
fn times_in(run: &Value, state: &str) -> usize {
    history(run).iter().filter(|s| *s == state).count()
}

/// Checks that `task` of execution `execution` ran exactly once: one call to the hits
/// server, one attempt, one job delivered once and done, one result, no resubmission.
fn ran_once(cluster: &Cluster, hits: &Hits, execution: &Value, task: &str) {
    let id = execution["id"].as_str().unwrap();
    let run = task_run(execution, task);
    let calls = hits.of(&hit_path(id, task));
    assert_eq!(calls.len(), 1, "{id}/{task} called {calls:?}");
    assert_eq!(attempts(run), 1, "{id}/{task}: {run}");
    assert_eq!(times_in(run, "RESUBMITTED"), 0, "{id}/{task}: {run}");
    assert_eq!(times_in(run, "SUCCESS"), 1, "{id}/{task}: {execution}");
    let run_id = run["id"].as_str().unwrap();
    let jobs = cluster.jobs_of(run_id);
    assert!(
        jobs.len() == 1 && jobs[0].state == "DONE" && jobs[0].delivery == 1,
        "{id}/{task}: jobs {jobs:?}"
    );
    assert_eq!(cluster.results_of(run_id).len(), 1, "{id}/{task}");
}

/// Every execution stored, by id.
fn stored_executions(cluster: &Cluster) -> Vec<String> {
    cluster
        .sql()
        .query("SELECT id FROM executions ORDER BY id", &[])
        .unwrap()
        .into_iter()
        .map(|row| row.get(0))
        .collect()
}

/// Waits until execution `id` has ended in `state`; returns it.
fn ends_in(api: &Api, id: &str, state: &str) -> Value {
    let execution = api.wait_ended(id);
    assert_eq!(execution["state"]["current"], state, "{execution}");
    execution
}

/// Execution `id` once it has ended, or as it is after `limit` (the caller's assertions
/// then say what is wrong with it, beside what else they show).
fn ended_or_last(api: &Api, id: &str, limit: Duration) -> Value {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let execution = api.execution(id);
        let state = execution["state"]["current"].as_str().unwrap_or_default();
        if is_terminal(state) || std::time::Instant::now() >= deadline {
            return execution;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_standby_executor_takes_over_a_killed_one_without_losing_or_repeating_a_task() {
    let hits = Hits::start();
    let base = format!("http://127.0.0.1:{}", hits.port);
    let cluster = Cluster::start(&Settings::with_strategy("IMMEDIATELY"));
    let mut active = cluster.spawn(Role::Executor, "executor-a", &[]);
    active.wait_log("is the active executor");
    let mut standby = cluster.spawn(Role::Executor, "executor-b", &[]);
    standby.wait_log("stands by to take over");
    let _workers: Vec<Service> = ["worker-1", "worker-2"]
        .into_iter()
        .map(|name| cluster.spawn(Role::Worker, name, &["--thread", "8"]))
        .collect();
    let (_web, api) = cluster.webserver("webserver");
    // Tasks that end while no executor runs, and tasks that end after the takeover.
    api.deploy(&flow("short", &base, &[("first", 1_500), ("second", 200)]));
    api.deploy(&flow("long", &base, &[("first", 8_000), ("second", 200)]));
    let mut ids: Vec<String> = (0..3)
        .flat_map(|_| {
            [
                api.create_execution(NAMESPACE, "short"),
                api.create_execution(NAMESPACE, "long"),
            ]
        })
        .collect();
    eventually("every first task running on a worker", || {
        let waiting: Vec<&String> = ids
            .iter()
            .filter(|id| hits.of(&hit_path(id, "first")).is_empty())
            .collect();
        if waiting.is_empty() {
            Ok(())
        } else {
            Err(format!("not started: {waiting:?}"))
        }
    });

    // Frozen, the standby cannot take over yet: the next executions are created while no
    // executor runs at all, and the short tasks' results wait in the database.
    standby.signal("STOP");
    active.kill_9();
    let orphans: Vec<String> = (0..3)
        .map(|_| api.create_execution(NAMESPACE, "short"))
        .collect();
    eventually(
        "the short tasks' results stored while no executor runs",
        || {
            let stored: i64 = cluster
                .sql()
                .query_one("SELECT count(*) FROM worker_results", &[])
                .unwrap()
                .get(0);
            if stored >= 3 {
                Ok(())
            } else {
                Err(format!("{stored} results"))
            }
        },
    );
    standby.signal("CONT");
    standby.wait_log("is the active executor");

    ids.extend(orphans);
    for id in &ids {
        let execution = ends_in(&api, id, "SUCCESS");
        for task in ["first", "second"] {
            ran_once(&cluster, &hits, &execution, task);
        }
    }
    let mut all = ids.clone();
    all.sort();
    assert_eq!(stored_executions(&cluster), all, "executions lost or added");
    // Nothing else was called: every call belongs to a task counted above.
    assert_eq!(hits.all().len(), ids.len() * 2, "{:?}", hits.all());
    standby.check_alive().unwrap();
}

#[test]
fn a_killed_execution_whose_worker_died_is_not_resubmitted() {
    let hits = Hits::start();
    let base = format!("http://127.0.0.1:{}", hits.port);
    // A timeout long enough that the execution is KILLING before the frozen worker is
    // declared gone (checked below): that order is the case under test.
    let settings = Settings {
        liveness: "{interval: 200ms, timeout: 5s, initial-delay: 1s, heartbeat-interval: 200ms}",
        ..Settings::with_strategy("IMMEDIATELY")
    };
    let cluster = Cluster::start(&settings);
    let executor = cluster.spawn(Role::Executor, "executor", &[]);
    let (_web, api) = cluster.webserver("webserver");
    let mut dying = cluster.spawn(Role::Worker, "worker-dying", &["--thread", "1"]);
    let dying_id = dying.instance_id(&cluster);
    api.deploy(&flow("held", &base, &[("hold", 120_000)]));
    let id = api.create_execution(NAMESPACE, "held");
    let path = hit_path(&id, "hold");
    eventually("the task running on the first worker", || {
        match hits.of(&path).len() {
            1 => Ok(()),
            n => Err(format!("{n} calls")),
        }
    });
    // A second worker that would take the task if it were resubmitted.
    let mut other = cluster.spawn(Role::Worker, "worker-other", &["--thread", "1"]);
    let other_id = other.instance_id(&cluster);
    cluster.wait_instance_state(&other_id, &["RUNNING"]);

    // Frozen, the worker cannot stop its task when the kill comes; then it dies.
    dying.signal("STOP");
    let (status, body) = common::http(
        api.port,
        "DELETE",
        &format!("/api/v1/main/executions/{id}/kill"),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    eventually("the execution KILLING", || {
        let state = api.execution(&id)["state"]["current"].clone();
        if state == "KILLING" || is_terminal(state.as_str().unwrap_or_default()) {
            Ok(())
        } else {
            Err(state.to_string())
        }
    });
    assert_eq!(
        cluster.instance_state(&dying_id),
        "RUNNING",
        "the frozen worker was declared gone before the execution was being killed: the \
         machine is too slow for this case's 5 s liveness timeout"
    );
    dying.kill_9();
    cluster.wait_instance_state(&dying_id, &["DISCONNECTED", "NOT_RUNNING"]);

    let execution = ended_or_last(&api, &id, Duration::from_secs(20));
    let run = task_run(&execution, "hold");
    let jobs = cluster.jobs_of(run["id"].as_str().unwrap());
    assert_eq!(
        execution["state"]["current"],
        "KILLED",
        "jobs {jobs:?}; {execution}; executor's log:\n{}",
        executor.log()
    );
    assert_eq!(run["state"]["current"], "KILLED", "{run}");
    assert_eq!(attempts(run), 1, "{run}");
    assert_eq!(times_in(run, "RESUBMITTED"), 0, "{run}");
    assert!(
        jobs.len() == 1
            && jobs[0].state == "CANCELLED"
            && jobs[0].delivery == 1
            && jobs[0].claimed_by.as_deref() == Some(dying_id.as_str()),
        "jobs {jobs:?}"
    );
    assert!(cluster.results_of(run["id"].as_str().unwrap()).is_empty());
    assert_eq!(
        hits.of(&path).len(),
        1,
        "the task ran again: {:?}",
        hits.all()
    );
    other.check_alive().unwrap();
}

#[test]
fn postgres_restarted_under_load_loses_nothing_and_every_service_reconnects() {
    let hits = Hits::start();
    let base = format!("http://127.0.0.1:{}", hits.port);
    // The executor waits out an unreachable database for as long as the liveness timeout,
    // and nobody is declared gone for an outage shorter than it: well above a restart.
    let settings = Settings {
        liveness: "{interval: 200ms, timeout: 20s, initial-delay: 1s, heartbeat-interval: 200ms}",
        ..Settings::with_strategy("IMMEDIATELY")
    };
    let cluster = Cluster::start(&settings);
    let mut services = vec![cluster.spawn(Role::Executor, "executor", &[])];
    services[0].wait_log("is the active executor");
    for name in ["worker-1", "worker-2"] {
        services.push(cluster.spawn(Role::Worker, name, &["--thread", "4"]));
    }
    let (web, api) = cluster.webserver("webserver");
    services.push(web);
    api.deploy(&flow("steady", &base, &[("first", 300), ("second", 300)]));
    let mut ids: Vec<String> = (0..10)
        .map(|_| api.create_execution(NAMESPACE, "steady"))
        .collect();

    // Executions asked for all along the restart: those the API accepted are counted; a
    // refusal while the database is down is expected.
    let stop = Arc::new(AtomicBool::new(false));
    let creator = {
        let stop = stop.clone();
        let port = api.port;
        std::thread::spawn(move || {
            let mut accepted = Vec::new();
            while !stop.load(Ordering::Acquire) {
                let path = format!("/api/v1/main/executions/{NAMESPACE}/steady");
                if let Ok((200, body)) = common::http(port, "POST", &path, None)
                    && let Ok(created) = serde_json::from_str::<Value>(&body)
                    && let Some(id) = created["id"].as_str()
                {
                    accepted.push(id.to_owned());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            accepted
        })
    };
    eventually("tasks running when PostgreSQL restarts", || {
        if hits.all().len() >= 5 {
            Ok(())
        } else {
            Err(format!("{:?}", hits.all()))
        }
    });
    cluster.restart_postgres();
    let restarted: DateTime<Utc> = Utc::now();
    // Going on after the restart, until the API accepts executions again.
    let calls_before = stored_executions(&cluster).len();
    eventually("executions accepted after the restart", || {
        let now = stored_executions(&cluster).len();
        if now >= calls_before + 3 {
            Ok(())
        } else {
            Err(format!("{now} executions"))
        }
    });
    stop.store(true, Ordering::Release);
    ids.extend(creator.join().unwrap());

    // Every execution stored ends SUCCESS, whether or not its creation was answered.
    let stored = stored_executions(&cluster);
    // Shown when a check below fails: what the services said about the outage.
    for service in &services {
        let said: Vec<String> = service
            .log()
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("error"))
            .map(str::to_owned)
            .collect();
        eprintln!("{} errors:\n{}", service.name, said.join("\n"));
    }
    for id in &ids {
        assert!(
            stored.contains(id),
            "accepted execution {id} was not stored"
        );
    }
    for id in &stored {
        let execution = ends_in(&api, id, "SUCCESS");
        for task in ["first", "second"] {
            ran_once(&cluster, &hits, &execution, task);
        }
    }
    // Every service is RUNNING again and heartbeats after the restart.
    for service in services.iter_mut() {
        service.check_alive().unwrap();
        let instance = service.instance_id(&cluster);
        eventually(
            &format!("{} heartbeating after the restart", service.name),
            || {
                let rows = cluster.services();
                let row = rows.iter().find(|r| r["id"] == instance.as_str());
                let row = row.ok_or_else(|| format!("{instance} not listed: {rows:?}"))?;
                let beat = row["lastHeartbeat"].as_str().unwrap_or_default();
                let beat = DateTime::parse_from_rfc3339(beat).map_err(|e| e.to_string())?;
                if row["state"] == "RUNNING" && beat > restarted {
                    Ok(())
                } else {
                    Err(format!("{row}"))
                }
            },
        );
    }
    let executor_log = services[0].log();
    assert!(
        !executor_log.contains("lost its hold on the database"),
        "{executor_log}"
    );
}

#[test]
fn a_worker_cut_off_longer_than_the_timeout_comes_back_and_commits_nothing() {
    if let Some(why) = Netns::unavailable() {
        eprintln!("SKIPPED: a worker in a network namespace needs `ip netns`: {why}");
        return;
    }
    let netns = Netns::create("cut");
    let hits = Hits::start();
    let cluster = Cluster::start(&Settings::with_strategy("IMMEDIATELY"));
    cluster.listen_also(&netns.host_address(), &netns.cidr());
    let _executor = cluster.spawn(Role::Executor, "executor", &[]);
    let (_web, api) = cluster.webserver("webserver");
    // The cut-off worker reaches PostgreSQL and the hits server through its link only.
    let config = cluster.config_for_host(&netns.host_address());
    let mut cut = cluster.spawn_command(
        netns.command(env!("CARGO_BIN_EXE_saker")),
        Role::Worker,
        "worker-cut",
        &["--thread", "1"],
        &config,
    );
    let cut_id = cut.instance_id(&cluster);
    let base = format!("http://{}:{}", netns.host_address(), hits.port);
    api.deploy(&flow("partitioned", &base, &[("work", 10_000)]));
    let id = api.create_execution(NAMESPACE, "partitioned");
    let path = hit_path(&id, "work");
    let inner: std::net::IpAddr = netns.inner_address().parse().unwrap();
    let host: std::net::IpAddr = netns.host_address().parse().unwrap();
    eventually(
        "the task running on the worker in the namespace",
        || match hits.of(&path).as_slice() {
            [one] if one.from == inner => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    let mut survivor = cluster.spawn(Role::Worker, "worker-host", &["--thread", "1"]);
    let survivor_id = survivor.instance_id(&cluster);

    netns.cut();
    cluster.wait_instance_state(&cut_id, &["DISCONNECTED", "NOT_RUNNING"]);
    eventually("the task resubmitted to the other worker", || {
        match hits.of(&path).as_slice() {
            [first, second] if first.from == inner && second.from == host => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    netns.restore();

    // Back on the network, the worker finds itself gone, stops its task and exits.
    let exit = cut.wait_exit();
    let log = cut.log();
    assert!(!exit.success(), "{log}");
    assert!(
        log.contains("declared gone by the liveness coordinator"),
        "{log}"
    );

    let execution = ends_in(&api, &id, "SUCCESS");
    let run = task_run(&execution, "work");
    // The output is the surviving worker's call (the answer is the caller's address).
    assert_eq!(run["outputs"]["body"], netns.host_address(), "{execution}");
    assert_eq!(times_in(run, "RESUBMITTED"), 1, "{run}");
    assert_eq!(times_in(run, "SUCCESS"), 1, "{run}");
    assert_eq!(attempts(run), 1, "{run}");
    let run_id = run["id"].as_str().unwrap();
    assert_eq!(cluster.results_of(run_id), vec![survivor_id.clone()]);
    let jobs = cluster.jobs_of(run_id);
    assert!(
        jobs.len() == 1
            && jobs[0].state == "DONE"
            && jobs[0].delivery == 2
            && jobs[0].claimed_by.as_deref() == Some(survivor_id.as_str()),
        "jobs {jobs:?}"
    );
    assert_eq!(hits.of(&path).len(), 2, "{:?}", hits.all());
    survivor.check_alive().unwrap();
}
