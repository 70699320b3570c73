//! Acting on an execution through the real binary: the API's resume (a `Pause` with an
//! `onResume` input), restart (a failed execution, same id) and replay (a new execution);
//! the CLI's `saker execution resume|restart|replay`; and `saker flow run`'s exit code (0
//! for SUCCESS and WARNING, 1 otherwise). Who may call each route is in
//! `api_matrix/executions.yaml`.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

/// Pauses after `before`; `after` shows the `onResume` input.
const PAUSES: &str = "id: pauses\nnamespace: company.team\ntasks:\n  - id: before\n    type: io.kestra.plugin.core.debug.Return\n    format: before\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: reason\n        type: STRING\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: \"resumed: {{ outputs.wait.onResume.reason }}\"\noutputs:\n  - id: said\n    type: STRING\n    value: \"{{ outputs.after.value }}\"\n";

/// Fails on its first attempt only: a restart makes it succeed.
const FAILS_ONCE: &str = "id: fails-once\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: first\n  - id: flaky\n    type: io.kestra.plugin.core.execution.Fail\n    condition: \"{{ taskrun.attemptsCount == 0 }}\"\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: last\n";

fn task_run<'a>(execution: &'a Value, task: &str) -> &'a Value {
    execution["taskRunList"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["taskId"] == task))
        .unwrap_or_else(|| panic!("no run of {task} in {execution}"))
}

fn start_execution(port: u16, flow: &str) -> String {
    let (status, created) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/company.team/{flow}"),
        None,
    );
    assert_eq!(status, 200, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

#[test]
fn the_api_resumes_a_pause_with_its_input_restarts_a_failure_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(dir.path(), port);
    deploy(port, PAUSES);
    deploy(port, FAILS_ONCE);

    // Resume, with the pause's onResume input as JSON.
    let id = start_execution(port, "pauses");
    wait_for_state(port, &id, "PAUSED");
    let resume = format!("/api/v1/main/executions/{id}/resume");
    let (status, body) = json(port, "POST", &resume, Some(("application/json", "{}")));
    assert_eq!(status, 422, "a missing required onResume input: {body}");
    assert!(body.to_string().contains("reason"), "{body}");
    let (status, body) = json(
        port,
        "POST",
        &resume,
        Some(("application/json", r#"{"reason": "approved"}"#)),
    );
    assert_eq!(status, 204, "{body}");
    let done = wait_for_state(port, &id, "SUCCESS");
    assert_eq!(
        task_run(&done, "after")["outputs"]["value"],
        json!("resumed: approved")
    );
    // Not paused any more.
    let (status, body) = json(
        port,
        "POST",
        &resume,
        Some(("application/json", r#"{"reason": "again"}"#)),
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("not PAUSED"), "{body}");

    // Resume as a form, as Kestra's UI sends it.
    let id = start_execution(port, "pauses");
    wait_for_state(port, &id, "PAUSED");
    let (status, body) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/{id}/resume"),
        Some(("application/x-www-form-urlencoded", "reason=by+form")),
    );
    assert_eq!(status, 204, "{body}");
    let done = wait_for_state(port, &id, "SUCCESS");
    assert_eq!(
        task_run(&done, "after")["outputs"]["value"],
        json!("resumed: by form")
    );

    // Restart: the same execution, the failed task with a second attempt.
    let id = start_execution(port, "fails-once");
    let failed = wait_for_state(port, &id, "FAILED");
    let (status, restarted) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/{id}/restart"),
        None,
    );
    assert_eq!(status, 200, "{restarted}");
    assert_eq!(restarted["id"], json!(id));
    let done = wait_for_state(port, &id, "SUCCESS");
    assert_eq!(
        task_run(&done, "flaky")["id"],
        task_run(&failed, "flaky")["id"]
    );
    assert_eq!(
        task_run(&done, "flaky")["attempts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        task_run(&done, "last")["state"]["current"],
        json!("SUCCESS")
    );
    let (status, body) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/{id}/restart"),
        None,
    );
    assert_eq!(status, 409, "a SUCCESS execution is not restarted: {body}");

    // Replay from `last`: a new execution with copies of the runs before it.
    let from = task_run(&done, "last")["id"].as_str().unwrap().to_owned();
    let (status, replayed) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/{id}/replay?taskRunId={from}"),
        None,
    );
    assert_eq!(status, 200, "{replayed}");
    let new_id = replayed["id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    let done = wait_for_state(port, &new_id, "SUCCESS");
    assert_eq!(done["labels"]["system.originalId"], json!(id));
    assert_eq!(done["taskRunList"].as_array().unwrap().len(), 3);
    let (status, body) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/{id}/replay?taskRunId=nope"),
        None,
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/{id}/replay"),
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("taskRunId"), "{body}");
    stop(server);
}

fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let config = data.with_extension("yml");
    if !config.exists() {
        std::fs::write(&config, "saker: {}\n").unwrap();
    }
    saker_cli(data, &config, args, "")
}

/// The execution id `saker flow run` printed ("Execution ID ... started" on stderr).
fn started_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("Execution ")?.split_whitespace().next())
        .unwrap_or_else(|| panic!("no execution id in {stderr}"))
        .to_owned()
}

#[test]
fn flow_run_exits_0_for_success_and_warning_and_the_cli_restarts_replays_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    let warns = dir.path().join("warns.yml");
    std::fs::write(
        &warns,
        "id: warns\nnamespace: company.team\ntasks:\n  - id: allowed\n    type: io.kestra.plugin.core.execution.Fail\n    allowFailure: true\n",
    )
    .unwrap();
    let (ok, out, err) = cli(&data, &["flow", "run", warns.to_str().unwrap()]);
    assert!(out.contains("WARNING"), "{out}{err}");
    assert!(ok, "a WARNING run exits 0: {out}{err}");

    let fails = dir.path().join("fails.yml");
    std::fs::write(&fails, FAILS_ONCE).unwrap();
    let (ok, out, err) = cli(&data, &["flow", "run", fails.to_str().unwrap()]);
    assert!(!ok, "a FAILED run exits 1: {out}{err}");
    assert!(out.contains("FAILED"), "{out}");
    let id = started_id(&err);

    let (ok, out, err) = cli(&data, &["execution", "restart", &id]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("Execution {id} SUCCESS")),
        "{out}{err}"
    );
    let (ok, out, err) = cli(&data, &["execution", "restart", &id]);
    assert!(!ok);
    assert!(
        err.contains("only a FAILED or KILLED execution"),
        "{out}{err}"
    );

    let (ok, out, err) = cli(&data, &["execution", "replay", &id, "--task", "flaky"]);
    assert!(ok, "{out}{err}");
    assert!(err.contains(&format!("replays {id}")), "{err}");
    assert!(out.contains("SUCCESS"), "{out}");
    let (ok, _, err) = cli(&data, &["execution", "replay", &id, "--task", "nope"]);
    assert!(!ok);
    assert!(err.contains("no run of task 'nope'"), "{err}");

    // A pause left by a server that stopped is resumed from the CLI, its input given.
    let port = free_port();
    let server = start_server(&data, port);
    deploy(port, PAUSES);
    let paused = start_execution(port, "pauses");
    wait_for_state(port, &paused, "PAUSED");
    // While the server runs, the CLI says to use its API.
    let (ok, _, err) = cli(&data, &["execution", "resume", &paused]);
    assert!(!ok);
    assert!(err.contains("/resume"), "{err}");
    stop(server);
    let (ok, out, err) = cli(
        &data,
        &[
            "execution",
            "resume",
            &paused,
            "--input",
            "reason=from the cli",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("Execution {paused} SUCCESS")),
        "{out}{err}"
    );
    // The flow's output shows the input reached the task after the pause.
    assert!(out.contains("resumed: from the cli"), "{out}");
    let (ok, _, err) = cli(&data, &["execution", "resume", &paused]);
    assert!(!ok);
    assert!(err.contains("not PAUSED"), "{err}");
}
