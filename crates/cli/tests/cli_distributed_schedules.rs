//! Schedule triggers in distributed mode, on real processes: two `saker server scheduler`
//! processes (one active, one standing by), an executor, a webserver and a worker. A
//! Schedule fires every second through the active scheduler; killed with `kill -9`, the
//! standby takes over and the schedule goes on. Each scheduled date starts one execution,
//! never two, and every execution runs on the worker.

mod common;
#[path = "common/distributed.rs"]
mod distributed;

use std::collections::HashMap;

use common::eventually;
use distributed::{Cluster, Role, Settings};
use serde_json::Value;

const TICKS: &str = "id: ticks\nnamespace: company.team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: tick {{ trigger.date }}\ntriggers:\n  - id: every-second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n";

/// The stored executions of the `ticks` flow: (state, scheduled date) by execution id.
fn ticks(cluster: &Cluster) -> HashMap<String, (String, String)> {
    cluster
        .sql()
        .query(
            "SELECT id, doc FROM executions WHERE flow_id = 'ticks'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| {
            let doc: Value = serde_json::from_str(row.get::<_, &str>(1)).unwrap();
            let state = doc["state"]["current"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let date = doc["trigger"]["variables"]["date"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (row.get::<_, String>(0), (state, date))
        })
        .collect()
}

/// Every scheduled date started one execution, and every execution names a date.
fn assert_each_date_once(seen: &HashMap<String, (String, String)>) {
    let mut by_date: HashMap<&str, usize> = HashMap::new();
    for (state, date) in seen.values() {
        assert!(
            !date.is_empty(),
            "an execution without a scheduled date: {seen:?}"
        );
        assert!(!state.is_empty(), "an execution without a state: {seen:?}");
        *by_date.entry(date.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = by_date.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "dates that started more than one execution: {twice:?}"
    );
}

#[test]
fn a_standby_scheduler_takes_over_and_no_date_fires_twice() {
    let cluster = Cluster::start(&Settings::with_strategy("IMMEDIATELY"));
    let mut executor = cluster.spawn(Role::Executor, "executor", &[]);
    executor.wait_log("is the active executor");
    let mut first = cluster.spawn(Role::Scheduler, "scheduler-a", &[]);
    first.wait_log("is the active scheduler");
    let mut second = cluster.spawn(Role::Scheduler, "scheduler-b", &[]);
    second.wait_log("stands by");
    let (_webserver, api) = cluster.webserver("webserver");
    let _worker = cluster.spawn(Role::Worker, "worker", &[]);
    api.deploy(TICKS);

    // The active scheduler fires: executions start and end on the worker.
    eventually("three scheduled executions ended SUCCESS", || {
        let seen = ticks(&cluster);
        let done = seen.values().filter(|(s, _)| s == "SUCCESS").count();
        if done >= 3 {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    });
    assert_each_date_once(&ticks(&cluster));

    // The active one dies; the standby takes its lock and the schedule goes on.
    first.kill_9();
    second.wait_log("is the active scheduler");
    let before = ticks(&cluster).len();
    eventually("scheduled executions after the takeover", || {
        let seen = ticks(&cluster);
        if seen.len() >= before + 3 {
            Ok(())
        } else {
            Err(format!(
                "{} executions, {before} before the takeover",
                seen.len()
            ))
        }
    });
    // Stopped, then everything started has ended: each date once, each execution SUCCESS.
    let status = second.sigterm();
    assert!(status.success(), "the scheduler ended with {status}");
    let seen = eventually("every scheduled execution ended", || {
        let seen = ticks(&cluster);
        if seen.values().all(|(s, _)| s == "SUCCESS") {
            Ok(seen)
        } else {
            Err(format!("{seen:?}"))
        }
    });
    assert_each_date_once(&seen);
}
