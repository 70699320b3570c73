//! `saker server local` driven over HTTP, including a `kill -9` in the middle of an
//! execution and a restart that must find everything recorded before the kill.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const SLOW_FLOW: &str = "id: slow\nnamespace: company.team\ntasks:\n  - id: work\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo before the kill\n      - sleep 30\n";

#[test]
fn kill_9_during_an_execution_loses_nothing_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(dir.path(), port);

    let (status, flow) = json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", SLOW_FLOW)),
    );
    assert_eq!(status, 200, "{flow}");
    assert_eq!(flow["revision"], 1);
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/slow",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, logs) = json(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
        if logs.to_string().contains("before the kill") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the log line never reached the store"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    let port = free_port();
    let server = start_server(dir.path(), port);
    let (status, execution) = json(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(execution["flowId"], "slow");
    let runs = execution["taskRunList"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["taskId"], "work");
    let (_, logs) = json(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
    let text = logs.to_string();
    assert!(text.contains("before the kill"), "{text}");
    assert!(text.contains("starting a new attempt"), "{text}");

    // The resumed attempt can be killed through the API.
    let (status, _) = json(
        port,
        "DELETE",
        &format!("/api/v1/main/executions/{id}/kill"),
        None,
    );
    assert_eq!(status, 200);
    wait_for_state(port, &id, "KILLED");
    stop(server);
}

#[test]
fn api_deploys_runs_and_reports_errors_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(dir.path(), port);

    let (status, body) = json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", "id: x\nnamespace: a\ntasks: 3\n")),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("tasks"),
        "{body}"
    );

    let flow = "id: hi\nnamespace: company.team\ninputs:\n  - id: n\n    type: INT\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.n * 2 }}\"\n";
    deploy(port, flow);
    let (status, body) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/hi",
        Some(("application/json", r#"{"n": "x"}"#)),
    );
    assert_eq!(status, 422, "{body}");
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/hi",
        Some(("application/json", r#"{"n": 21}"#)),
    );
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    let done = wait_for_state(port, &id, "SUCCESS");
    assert_eq!(done["taskRunList"][0]["outputs"]["value"], "42");
    let (status, list) = json(
        port,
        "GET",
        "/api/v1/main/executions?namespace=company.team",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    let (status, _) = json(port, "GET", "/api/v1/main/executions/nope", None);
    assert_eq!(status, 404);
    stop(server);
}

#[test]
fn kestra_clients_can_wait_label_search_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(dir.path(), port);
    deploy(
        port,
        "id: hi\nnamespace: company.team\nlabels:\n  team: core\ntasks:\n  - id: r\n    type: Return\n    format: done\n",
    );
    // wait=true answers with the ended execution; labels add to the flow's.
    let (status, ended) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/hi?wait=true&labels=env:prod,team:data",
        None,
    );
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    assert_eq!(ended["taskRunList"][0]["outputs"]["value"], "done");
    assert_eq!(ended["labels"]["env"], "prod");
    assert_eq!(ended["labels"]["team"], "data", "the caller's label wins");
    let (status, body) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/hi?labels=system.correlationId:x",
        None,
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/hi?labels=nokey",
        None,
    );
    assert_eq!(status, 400, "{body}");
    // Kestra's search path finds it too.
    let (status, found) = json(
        port,
        "GET",
        "/api/v1/main/executions/search?flowId=hi",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(found["total"], 1, "{found}");
    // An ended execution can be deleted, with its logs; then it is gone.
    let id = ended["id"].as_str().unwrap();
    let (status, _) = json(
        port,
        "DELETE",
        &format!("/api/v1/main/executions/{id}"),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = json(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
    assert_eq!(status, 404);
    // A running one must be killed first.
    deploy(port, SLOW_FLOW);
    let (_, running) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/slow",
        None,
    );
    let id = running["id"].as_str().unwrap().to_owned();
    wait_for_state(port, &id, "RUNNING");
    let (status, body) = json(
        port,
        "DELETE",
        &format!("/api/v1/main/executions/{id}"),
        None,
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("kill it first"),
        "{body}"
    );
    let (status, _) = json(
        port,
        "DELETE",
        &format!("/api/v1/main/executions/{id}/kill"),
        None,
    );
    assert_eq!(status, 200);
    wait_for_state(port, &id, "KILLED");
    let (status, _) = json(
        port,
        "DELETE",
        &format!("/api/v1/main/executions/{id}"),
        None,
    );
    assert_eq!(status, 204);
    stop(server);
}

#[test]
fn ctrl_c_and_sigterm_stop_the_server_cleanly() {
    for signal in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut server = start_server(dir.path(), port);
        let status = Command::new("kill")
            .args([signal, &server.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let exit = loop {
            if let Some(exit) = server.try_wait().unwrap() {
                break exit;
            }
            assert!(Instant::now() < deadline, "the server ignored {signal}");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(exit.success(), "{signal}: {exit:?}");
        // The data directory is free again: a new server starts on it.
        let port = free_port();
        stop(start_server(dir.path(), port));
    }
}

#[test]
fn the_debug_expression_refuses_secret_and_masks_secret_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(dir.path(), port);
    let flow = "id: dbg\nnamespace: company.team\ninputs:\n  - id: pw\n    type: SECRET\ntasks:\n  - id: one\n    type: Return\n    format: \"{{ 6 * 7 }}\"\n";
    deploy(port, flow);
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/dbg",
        Some(("application/json", r#"{"pw": "debug-secret-input-789"}"#)),
    );
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["inputs"]["pw"], "****");
    // From here on every response is scanned for the input and its encodings.
    remember_secret("debug-secret-input-789");
    remember_secret("DEBUG-SECRET-INPUT-789");
    let id = execution["id"].as_str().unwrap().to_owned();
    let done = wait_for_state(port, &id, "SUCCESS");
    let run = done["taskRunList"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/main/executions/{id}/eval/{run}");
    let eval = |expr: &str| json(port, "POST", &path, Some(("text/plain", expr)));

    let (status, body) = eval("{{ outputs.one.value }} from {{ task.id }}");
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("42 from one")),
        "{body}"
    );
    let (status, body) =
        eval("{{ inputs.pw }} / {{ inputs.pw | upper }} / {{ inputs.pw | base64encode }}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "**** / **** / ****");
    let (status, body) = eval("{{ secret('ANY') }}");
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("secret"),
        "{body}"
    );
    let (status, _) = eval("{{ nope }}");
    assert_eq!(status, 422);
    let (status, _) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/{id}/eval/unknown"),
        Some(("text/plain", "x")),
    );
    assert_eq!(status, 404);
    // No answer of the endpoint, nor the execution as shown, holds the input.
    let (_, shown) = json(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
    assert!(!shown.to_string().contains("debug-secret-input-789"));
    assert!(!body.to_string().contains("debug-secret-input-789"));
    stop(server);
}

#[test]
fn logs_follow_as_server_sent_events_until_the_execution_ends() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(dir.path(), port);
    let flow = "id: chatty\nnamespace: company.team\ntasks:\n  - id: talk\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo line one\n      - sleep 0.4\n      - echo line two\n      - sleep 0.4\n      - echo line three\n";
    deploy(port, flow);
    let (_, e) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/chatty",
        None,
    );
    let id = e["id"].as_str().unwrap().to_owned();
    // Connected while the execution runs; the response ends when it has ended.
    let (status, body) =
        http(port, "GET", &format!("/api/v1/main/logs/{id}/follow"), None).unwrap();
    assert_eq!(status, 200);
    let messages: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages, ["line one", "line two", "line three"], "{body}");
    assert!(body.contains("event: log"));
    let (status, _) = http(port, "GET", "/api/v1/main/logs/nope/follow", None).unwrap();
    assert_eq!(status, 404);
    stop(server);
}

#[test]
fn management_endpoints_serve_metrics_behind_their_own_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "saker:\n  endpoints:\n    all:\n      basic-auth:\n        username: ops\n        password: ops-pass\n",
    );
    let port = free_port();
    let mport = free_port();
    let server = start_server_args(
        &dir.path().join("data"),
        port,
        Some(&config),
        &["--management-port", &mport.to_string()],
    );
    let ops = Some("Basic b3BzOm9wcy1wYXNz"); // ops:ops-pass
    let (status, _) = http(mport, "GET", "/metrics", None).unwrap();
    assert_eq!(status, 401);
    let (status, _) = http_as(mport, "GET", "/metrics", None, Some("Basic b3BzOndyb25n")).unwrap();
    assert_eq!(status, 401);
    let flow =
        "id: m\nnamespace: company.team\ntasks:\n  - id: r\n    type: Return\n    format: x\n";
    deploy(port, flow);
    let (_, e) = json(port, "POST", "/api/v1/main/executions/company.team/m", None);
    wait_for_state(port, e["id"].as_str().unwrap(), "SUCCESS");
    let (status, text) = http_as(mport, "GET", "/metrics", None, ops).unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("saker_executions_started_total 1"), "{text}");
    assert!(
        text.contains("saker_executions_ended_total{state=\"SUCCESS\"} 1"),
        "{text}"
    );
    let (status, _) = http_as(mport, "GET", "/health", None, ops).unwrap();
    assert_eq!(status, 200);
    // The API port does not serve /metrics.
    let (status, _) = http(port, "GET", "/metrics", None).unwrap();
    assert_eq!(status, 404);
    stop(server);
}

#[test]
fn the_configuration_file_can_be_deleted_once_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "saker:\n  configurations:\n    delete-files-on-start: true\n  server:\n    basic-auth:\n      username: admin\n      password: Admin-pass-2026!\n",
    );
    let port = free_port();
    let server = start_server_with(&dir.path().join("data"), port, Some(&config));
    assert!(!config.exists(), "the configuration file is still there");
    // What it configured still holds.
    let (status, _) = http(port, "GET", "/api/v1/main/executions", None).unwrap();
    assert_eq!(status, 401);
    stop(server);
}

#[test]
fn every_error_is_a_json_body_and_bodies_have_a_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(&dir.path().join("data"), port);
    let is_json_error = |status: u16, body: &str| {
        let value: Value = serde_json::from_str(body)
            .unwrap_or_else(|_| panic!("{status} is not a JSON body: {body}"));
        assert!(value["message"].is_string(), "{status}: {body}");
        value["message"].as_str().unwrap().to_owned()
    };
    // Nothing the API answers may be cached, sniffed or framed (errors included).
    for path in ["/health", "/api/v1/main/executions", "/api/v1/main/nothing"] {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        for header in [
            "cache-control: no-store",
            "x-content-type-options: nosniff",
            "x-frame-options: deny",
        ] {
            assert!(head.contains(header), "{path}: no {header} in {head}");
        }
    }
    // An unknown route, a wrong method, a malformed query: axum's own rejections, as JSON.
    let (status, body) = http(port, "GET", "/api/v1/main/nothing/here", None).unwrap();
    assert_eq!(status, 404);
    assert!(is_json_error(status, &body).contains("openapi.json"));
    let (status, body) = http(port, "DELETE", "/api/v1/main/executions", None).unwrap();
    assert_eq!(status, 405);
    is_json_error(status, &body);
    let (status, body) = http(port, "GET", "/api/v1/main/executions?size=many", None).unwrap();
    assert_eq!(status, 400);
    assert!(is_json_error(status, &body).contains("size"), "{body}");
    // A body over the limit is refused before it is read whole.
    let huge = format!(
        "id: big\nnamespace: company.team\ntasks: []\n# {}\n",
        "x".repeat(saker_server::MAX_BODY_BYTES)
    );
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", &huge)),
    )
    .unwrap();
    assert_eq!(status, 413);
    assert!(is_json_error(status, &body).contains("MiB"), "{body}");
    // Nothing was stored, and the server still answers.
    let (status, _) = http(port, "GET", "/api/v1/main/flows/company.team/big", None).unwrap();
    assert_eq!(status, 404);
    stop(server);
}
