//! Routes Kestra's clients call, on a real server: an execution followed as server-sent
//! events until its end, a preview of an execution's file, and labels set on an ended
//! execution (refused on one that has not ended, and for `system.` keys).

mod common;

use common::*;
use serde_json::{Value, json};

const FLOW: &str = "id: files
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hi
";

const PAUSED: &str = "id: paused
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
";

/// Runs `files` with a FILE input holding `content` named `name`; the ended execution.
fn run_with_file(port: u16, name: &str, content: &str) -> Value {
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"data\"; filename=\"{name}\"\r\n\r\n{content}\r\n--XyZ--\r\n"
    );
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/executions/company.team/files?wait=true",
        Some(("multipart/form-data; boundary=XyZ", &body)),
    );
    assert_eq!(status, 200, "{execution}");
    execution
}

#[test]
fn follow_preview_and_labels_answer_as_kestra_clients_expect() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(&dir.path().join("data"), port);
    deploy(port, FLOW);
    deploy(port, PAUSED);

    // Follow: an ended execution is one event, `id: end`, with its final state.
    let execution = run_with_file(port, "a.txt", "line 1\nline 2\nline 3");
    let id = execution["id"].as_str().unwrap();
    let (status, body) = http(
        port,
        "GET",
        &format!("/api/v1/executions/{id}/follow"),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let events: Vec<&str> = body.split("\n\n").filter(|e| e.contains("data:")).collect();
    assert_eq!(events.len(), 1, "{body}");
    assert!(events[0].contains("id: end"), "{body}");
    let data: Value = serde_json::from_str(
        events[0]
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(data["state"]["current"], "SUCCESS");

    // Preview: the first lines, `truncated` when there are more.
    let uri = format!("kestra:///company/team/files/executions/{id}/inputs/data/a.txt");
    let (status, preview) = json(
        port,
        "GET",
        &format!("/api/v1/executions/{id}/file/preview?path={uri}&maxRows=2"),
        None,
    );
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview,
        json!({"extension": "txt", "type": "TEXT", "content": "line 1\nline 2", "truncated": true})
    );
    let rows = run_with_file(port, "rows.ion", "{\"a\":1}\n{\"a\":2}\n");
    let rows_id = rows["id"].as_str().unwrap();
    let uri = format!("kestra:///company/team/files/executions/{rows_id}/inputs/data/rows.ion");
    let (status, preview) = json(
        port,
        "GET",
        &format!("/api/v1/main/executions/{rows_id}/file/preview?path={uri}"),
        None,
    );
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["type"], "LIST");
    assert_eq!(preview["content"], json!([{"a": 1}, {"a": 2}]));
    assert_eq!(preview["truncated"], false);

    // Labels: added to an ended execution, kept in what it answers afterwards.
    let labels = r#"[{"key": "team", "value": "data"}, {"key": "reviewed", "value": "yes"}]"#;
    let (status, labelled) = json(
        port,
        "POST",
        &format!("/api/v1/executions/{id}/labels"),
        Some(("application/json", labels)),
    );
    assert_eq!(status, 200, "{labelled}");
    let (status, again) = json(port, "GET", &format!("/api/v1/executions/{id}"), None);
    assert_eq!(status, 200);
    let shown = again["labels"].to_string();
    assert!(
        shown.contains("reviewed") && shown.contains("data"),
        "{again}"
    );
    let system = r#"[{"key": "system.correlationId", "value": "x"}]"#;
    let (status, body) = json(
        port,
        "POST",
        &format!("/api/v1/executions/{id}/labels"),
        Some(("application/json", system)),
    );
    assert_eq!(status, 400, "{body}");

    // A paused execution has not ended: 409.
    let (status, paused) = json(port, "POST", "/api/v1/executions/company.team/paused", None);
    assert_eq!(status, 200, "{paused}");
    let paused_id = paused["id"].as_str().unwrap();
    wait_for_state(port, paused_id, "PAUSED");
    let (status, body) = json(
        port,
        "POST",
        &format!("/api/v1/executions/{paused_id}/labels"),
        Some(("application/json", labels)),
    );
    assert_eq!(status, 409, "{body}");
    stop(server);
}

#[test]
fn tenant_less_paths_answer_for_the_configured_default_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "saker:\n  server:\n    default-tenant: acme\n");
    let port = free_port();
    let server = start_server_with(&dir.path().join("data"), port, Some(&config));
    let flow = "id: hello\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let (status, body) = json(
        port,
        "POST",
        "/api/v1/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenantId"], "acme", "{body}");
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/executions/company.team/hello?wait=true",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["tenantId"], "acme", "{execution}");
    // The flow is acme's, not main's.
    let (status, _) = json(port, "GET", "/api/v1/main/flows/company.team/hello", None);
    assert_eq!(status, 404);
    let (status, _) = json(port, "GET", "/api/v1/acme/flows/company.team/hello", None);
    assert_eq!(status, 200);
    stop(server);
}
