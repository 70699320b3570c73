//! Each distributed service's `/metrics` on `--management-port`, scraped from real
//! processes after some executions: the executor shows the queue depth per worker group
//! (a job of a group nobody serves counts there) and the instances its coordinator declared
//! gone (a worker killed with `kill -9`), a worker the latency of its claims, every service
//! its heartbeats; the webserver's joins its engine's counters and its own.

mod common;
#[path = "common/distributed.rs"]
mod distributed;

use common::*;
use distributed::{Cluster, Role, Settings};

const FLOW: &str = "id: hello\nnamespace: company.team\ntasks:\n  - id: one\n    type: io.kestra.plugin.core.log.Log\n    message: one\n  - id: two\n    type: io.kestra.plugin.core.log.Log\n    message: two\n";

/// A task of a worker group no worker serves: its job stays queued.
const STUCK: &str = "id: stuck\nnamespace: company.team\ntasks:\n  - id: waits\n    type: io.kestra.plugin.core.log.Log\n    message: never\n    workerGroup:\n      key: nobody\n";

fn scrape(port: u16) -> String {
    let (status, body) = http(port, "GET", "/metrics", None).unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of the sample whose name and labels are `series` (`name{labels}`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The value of `series`, waiting until it satisfies `ok`.
fn wait_sample(port: u16, series: &str, ok: impl Fn(f64) -> bool) -> f64 {
    eventually(&format!("{series} on :{port}"), || {
        let text = scrape(port);
        match sample(&text, series) {
            Some(value) if ok(value) => Ok(value),
            _ => Err(text),
        }
    })
}

#[test]
fn services_serve_queue_depth_claim_latency_and_heartbeats() {
    let cluster = Cluster::start(&Settings::with_strategy("IMMEDIATELY"));
    let executor_port = free_port();
    let mut executor = cluster.spawn(
        Role::Executor,
        "executor",
        &["--management-port", &executor_port.to_string()],
    );
    let executor_id = executor.instance_id(&cluster);
    executor.wait_log("is the active executor");
    let worker_port = free_port();
    let mut worker = cluster.spawn(
        Role::Worker,
        "worker",
        &["--management-port", &worker_port.to_string()],
    );
    let worker_id = worker.instance_id(&cluster);
    let (_webserver, api) = cluster.webserver("webserver");
    api.deploy(FLOW);
    api.deploy(STUCK);
    for _ in 0..3 {
        let id = api.create_execution("company.team", "hello");
        wait_for_state(api.port, &id, "SUCCESS");
    }
    api.create_execution("company.team", "stuck");

    let on_executor = format!("service=\"executor\",instance=\"{executor_id}\"");
    let on_worker = format!("service=\"worker\",instance=\"{worker_id}\"");
    // The stuck job is QUEUED in group `nobody`; the default group's queue is empty.
    wait_sample(
        executor_port,
        &format!("saker_queue_depth{{{on_executor},worker_group=\"nobody\"}}"),
        |depth| depth == 1.0,
    );
    let text = scrape(executor_port);
    assert_eq!(
        sample(
            &text,
            &format!("saker_queue_depth{{{on_executor},worker_group=\"\"}}")
        ),
        Some(0.0),
        "{text}"
    );
    // The engine's counters are there too.
    assert!(
        sample(&text, "saker_executions_started_total").is_some_and(|n| n >= 4.0),
        "{text}"
    );

    // Six jobs claimed, each measured once.
    let text = scrape(worker_port);
    assert_eq!(
        sample(
            &text,
            &format!("saker_job_claim_latency_seconds_count{{{on_worker}}}")
        ),
        Some(6.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("saker_job_claim_latency_seconds_bucket{{{on_worker},le=\"+Inf\"}}")
        ),
        Some(6.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            &format!("saker_queue_depth{{{on_worker},worker_group=\"nobody\"}}")
        ) == Some(1.0),
        "{text}"
    );

    // Heartbeats, and the missed ones counted by reason.
    for (port, labels) in [(executor_port, &on_executor), (worker_port, &on_worker)] {
        wait_sample(port, &format!("saker_heartbeats_total{{{labels}}}"), |n| {
            n > 0.0
        });
        let text = scrape(port);
        for reason in ["failed", "late"] {
            let series = format!("saker_heartbeats_missed_total{{{labels},reason=\"{reason}\"}}");
            assert!(sample(&text, &series).is_some(), "{series} in {text}");
        }
    }

    // A worker killed outright: the executor's coordinator declares it gone, and counts it.
    let gone_series = format!("saker_instances_declared_gone_total{{{on_executor}}}");
    assert_eq!(sample(&scrape(executor_port), &gone_series), Some(0.0));
    let mut doomed = cluster.spawn(Role::Worker, "doomed", &[]);
    doomed.instance_id(&cluster);
    doomed.kill_9();
    wait_sample(executor_port, &gone_series, |n| n == 1.0);
    worker.check_alive().unwrap();
}

#[test]
fn the_webservers_metrics_join_its_engine_and_its_service() {
    let cluster = Cluster::start(&Settings::with_strategy("IMMEDIATELY"));
    let mut executor = cluster.spawn(Role::Executor, "executor", &[]);
    executor.wait_log("is the active executor");
    let management = free_port();
    let port = free_port();
    let mut webserver = cluster.spawn(
        Role::Webserver,
        "webserver",
        &[
            "--port",
            &port.to_string(),
            "--management-port",
            &management.to_string(),
        ],
    );
    let text = eventually("the webserver's /metrics", || {
        webserver.check_alive()?;
        match http(management, "GET", "/metrics", None) {
            Ok((200, text)) if text.contains("saker_heartbeats_total{service=\"webserver\"") => {
                Ok(text)
            }
            other => Err(format!("{other:?}")),
        }
    });
    assert!(text.contains("saker_executions_started_total"), "{text}");
    // The webserver queues nothing: no queue depth of its own.
    assert!(!text.contains("saker_queue_depth"), "{text}");
}
