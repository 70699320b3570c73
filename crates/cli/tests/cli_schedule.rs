//! `saker server local` runs the scheduler: a flow with a Schedule trigger starts by itself,
//! and its executions see `trigger.date`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const EVERY_SECOND: &str = "id: ticking\nnamespace: company.team\ntasks:\n  - id: hello\n    type: Log\n    message: \"scheduled for {{ trigger.date }}\"\ntriggers:\n  - id: every_second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n";

/// The executions of the flow, once at least `n` exist (panics after a generous wait).
fn executions(port: u16, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, page) = json(
            port,
            "GET",
            "/api/v1/main/executions?namespace=company.team&flowId=ticking",
            None,
        );
        assert_eq!(status, 200, "{page}");
        let results = page["results"].as_array().cloned().unwrap_or_default();
        if results.len() >= n {
            return results;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduler started {} execution(s), expected {n}",
            results.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_scheduled_flow_starts_by_itself_and_sees_its_date() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(dir.path(), port);
    deploy(port, EVERY_SECOND);

    let found = executions(port, 2);
    let id = found[0]["id"].as_str().unwrap().to_owned();
    let execution = wait_for_state(port, &id, "SUCCESS");
    let (_, logs) = json(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
    let messages: Vec<String> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect();
    let line = messages
        .iter()
        .find(|m| m.starts_with("scheduled for "))
        .unwrap_or_else(|| panic!("no scheduled line in {messages:?}: {execution}"));
    // The date is a whole second, in UTC (the default timezone).
    let date = line.trim_start_matches("scheduled for ");
    let parsed =
        chrono::DateTime::parse_from_rfc3339(date).unwrap_or_else(|e| panic!("{date}: {e}"));
    assert_eq!(parsed.timestamp_subsec_nanos(), 0, "{date}");
    assert_eq!(parsed.offset().local_minus_utc(), 0, "{date}");

    // Each execution records its trigger, and no date started twice.
    let found = executions(port, 3);
    let dates: Vec<&str> = found
        .iter()
        .map(|e| {
            assert_eq!(e["trigger"]["id"], "every_second", "{e}");
            assert_eq!(
                e["trigger"]["type"], "io.kestra.plugin.core.trigger.Schedule",
                "{e}"
            );
            e["trigger"]["variables"]["date"].as_str().unwrap()
        })
        .collect();
    let distinct: std::collections::HashSet<&&str> = dates.iter().collect();
    assert_eq!(distinct.len(), dates.len(), "{dates:?}");
    stop(server);
}
