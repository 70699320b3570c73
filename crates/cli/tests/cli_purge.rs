//! Retention through the real binary: `saker execution purge` (counts, filters, bad input,
//! the audit trail still verifying after it), the server's `executions.retention` run, and a
//! PurgeExecutions flow run by the server.

mod common;

use std::path::Path;

use common::{
    deploy, eventually, free_port, json, saker_cli, start_server_with, stop, write_config,
};

const SECRET_FLOW: &str = "id: uses_secret\nnamespace: company.team\ntasks:\n  - id: log\n    type: Log\n    message: \"{{ secret('K') | length }}\"\n";
const OTHER_FLOW: &str =
    "id: other\nnamespace: company.other\ntasks:\n  - id: log\n    type: Log\n    message: hello\n";

/// Runs a flow file with `flow run` and returns the execution id it printed.
fn run_flow(data: &Path, config: &Path, dir: &Path, name: &str, source: &str) -> String {
    let file = dir.join(name);
    std::fs::write(&file, source).unwrap();
    let (ok, out, err) = saker_cli(data, config, &["flow", "run", file.to_str().unwrap()], "");
    assert!(ok, "{out}{err}");
    // "Execution <id> SUCCESS in 0.012s"
    let line = out
        .lines()
        .find(|l| l.starts_with("Execution "))
        .unwrap_or_else(|| panic!("no result line in {out}"));
    assert!(line.contains("SUCCESS"), "{line}");
    line.split_whitespace().nth(1).unwrap().to_owned()
}

fn purge(data: &Path, config: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["execution", "purge"];
    all.extend_from_slice(args);
    saker_cli(data, config, &all, "")
}

fn listed(data: &Path, config: &Path) -> String {
    let (ok, out, err) = saker_cli(data, config, &["execution", "list"], "");
    assert!(ok, "{err}");
    out
}

#[test]
fn purge_removes_ended_executions_and_the_audit_trail_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "saker: {}\n");
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["secret", "set", "company.team", "K"],
        "purge-test-value",
    );
    assert!(ok, "{err}");
    let first = run_flow(&data, &config, dir.path(), "a.yml", SECRET_FLOW);
    let second = run_flow(&data, &config, dir.path(), "a.yml", SECRET_FLOW);
    let other = run_flow(&data, &config, dir.path(), "b.yml", OTHER_FLOW);

    // Nothing ended a day ago.
    let (ok, out, err) = purge(&data, &config, &["--older-than", "1d"]);
    assert!(ok, "{err}");
    assert!(out.contains("executions: 0"), "{out}");

    let (ok, out, err) = purge(
        &data,
        &config,
        &[
            "--older-than",
            "0s",
            "--namespace",
            "company.team",
            "--state",
            "SUCCESS",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("executions: 2"), "{out}");
    assert!(out.contains("task runs:  2"), "{out}");
    let list = listed(&data, &config);
    assert!(!list.contains(&first) && !list.contains(&second), "{list}");
    assert!(list.contains(&other), "{list}");

    // Log lines only: the execution stays.
    let (ok, out, err) = purge(&data, &config, &["--older-than", "0s", "--logs-only"]);
    assert!(ok, "{err}");
    assert!(out.contains("log lines:  1"), "{out}");
    assert!(listed(&data, &config).contains(&other));

    // The secret reads of the purged executions are still in a trail that verifies.
    let (ok, out, err) = saker_cli(&data, &config, &["audit", "verify"], "");
    assert!(ok, "audit verify failed after a purge: {out}{err}");
    let (ok, out, err) = saker_cli(&data, &config, &["audit", "list", "--key", "K"], "");
    assert!(ok, "{err}");
    assert!(out.contains(&first), "{out}");
}

#[test]
fn bad_purge_arguments_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "saker: {}\n");
    run_flow(&data, &config, dir.path(), "b.yml", OTHER_FLOW);
    for (args, expected) in [
        (&["--older-than", "30"][..], "--older-than 30"),
        (
            &["--older-than", "1d", "--state", "RUNNING"][..],
            "only ended executions",
        ),
        (
            &["--older-than", "1d", "--state", "DONE"][..],
            "unknown state 'DONE'",
        ),
        (
            &["--older-than", "1d", "--state", "SUCCESS", "--logs-only"][..],
            "cannot be used with",
        ),
    ] {
        let (ok, out, err) = purge(&data, &config, args);
        assert!(!ok, "{args:?}: {out}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn the_server_purges_on_its_retention_schedule_and_runs_purge_flows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        "saker:\n  executions:\n    retention: 1s\n    retention-delay: 1s\n    retention-interval: 1s\n",
    );
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    deploy(port, OTHER_FLOW);
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.other/other",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    eventually("the retention never purged the execution", || {
        let (status, body) = json(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
        if status == 404 {
            Ok(())
        } else {
            Err(format!("{status} {body}"))
        }
    });
    stop(server);

    // A PurgeExecutions flow in the server, which gives the task its store.
    let config = write_config(dir.path(), "saker: {}\n");
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let purge_flow = "id: purge\nnamespace: company\ntasks:\n  - id: purge\n    type: io.kestra.plugin.core.execution.PurgeExecutions\n    endDate: \"{{ now() | dateAdd(1, 'HOURS') }}\"\n";
    deploy(port, OTHER_FLOW);
    deploy(port, purge_flow);
    let (_, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.other/other",
        None,
    );
    let other = execution["id"].as_str().unwrap().to_owned();
    common::wait_for_state(port, &other, "SUCCESS");
    let (_, execution) = json(port, "POST", "/api/v1/main/executions/company/purge", None);
    let purge_id = execution["id"].as_str().unwrap().to_owned();
    let done = common::wait_for_state(port, &purge_id, "SUCCESS");
    assert_eq!(
        done["taskRunList"][0]["outputs"]["executionsCount"], 1,
        "{done}"
    );
    let (status, _) = json(
        port,
        "GET",
        &format!("/api/v1/main/executions/{other}"),
        None,
    );
    assert_eq!(status, 404);
    stop(server);
}
