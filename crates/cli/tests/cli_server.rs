//! `saker server local` driven over HTTP, including a `kill -9` in the middle of an
//! execution and a restart that must find everything recorded before the kill.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(data: &Path, port: u16) -> Child {
    start_server_with(data, port, None)
}

fn start_server_with(data: &Path, port: u16, config: Option<&Path>) -> Child {
    start_server_args(data, port, config, &[])
}

fn start_server_args(data: &Path, port: u16, config: Option<&Path>, extra: &[&str]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saker"));
    command.args(["server", "local"]).args(extra);
    match config {
        Some(file) => command.env("SAKER_CONFIG", file),
        None => command.env_remove("SAKER_CONFIG"),
    };
    let mut child = command
        .args(["--port", &port.to_string()])
        .env("SAKER_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http(port, "GET", "/health", None) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not answer /health within 30 s");
}

/// A minimal HTTP/1.1 client (one request per connection), enough for these tests.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> std::io::Result<(u16, String)> {
    http_as(port, method, path, body, None)
}

/// [`http`] with an `Authorization` header.
fn http_as(
    port: u16,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
    authorization: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (content_type, body) = body.unwrap_or(("application/json", ""));
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn json(port: u16, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, Value) {
    let (status, body) = http(port, method, path, body).unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// Polls the execution until its state is `state` (20 s at most) and returns it.
fn wait_for_state(port: u16, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, execution) = json(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
        if execution["state"]["current"] == state {
            return execution;
        }
        assert!(Instant::now() < deadline, "never {state}: {execution}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

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
    let mut server = start_server(dir.path(), port);
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
        "POST",
        &format!("/api/v1/main/executions/{id}/kill"),
        None,
    );
    assert_eq!(status, 200);
    wait_for_state(port, &id, "KILLED");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn api_deploys_runs_and_reports_errors_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(dir.path(), port);

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
    let (status, _) = json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200);
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
    server.kill().unwrap();
    server.wait().unwrap();
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
        let mut again = start_server(dir.path(), port);
        again.kill().unwrap();
        again.wait().unwrap();
    }
}

#[test]
fn the_debug_expression_refuses_secret_and_masks_secret_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(dir.path(), port);
    let flow = "id: dbg\nnamespace: company.team\ninputs:\n  - id: pw\n    type: SECRET\ntasks:\n  - id: one\n    type: Return\n    format: \"{{ 6 * 7 }}\"\n";
    let (status, _) = json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200);
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/dbg",
        Some(("application/json", r#"{"pw": "debug-secret-input-789"}"#)),
    );
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["inputs"]["pw"], "****");
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
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn with_basic_auth_configured_only_health_and_open_urls_need_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("saker.yml");
    std::fs::write(
        &config,
        "saker:\n  server:\n    basic-auth:\n      username: admin@kestra.io\n      password: Change-me-2026!\n      open-urls:\n        - \"/api/v1/main/executions/webhook/\"\n",
    )
    .unwrap();
    let port = free_port();
    let mut server = start_server_with(&dir.path().join("data"), port, Some(&config));
    let good = "Basic YWRtaW5Aa2VzdHJhLmlvOkNoYW5nZS1tZS0yMDI2IQ=="; // admin@kestra.io:Change-me-2026!
    let bad = "Basic YWRtaW5Aa2VzdHJhLmlvOndyb25n"; // admin@kestra.io:wrong

    let (status, _) = http(port, "GET", "/health", None).unwrap();
    assert_eq!(status, 200);
    let (status, body) = http(port, "GET", "/api/v1/main/executions", None).unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("authentication required"), "{body}");
    let (status, body) = http_as(port, "GET", "/api/v1/main/executions", None, Some(bad)).unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("wrong"));
    let (status, body) = http_as(
        port,
        "GET",
        "/api/v1/main/executions",
        None,
        Some("Bearer sak_nope_nope"),
    )
    .unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, body) = http_as(port, "GET", "/api/v1/main/executions", None, Some(good)).unwrap();
    assert_eq!(status, 200, "{body}");
    // An open URL is let through without credentials (no webhook route yet: 404, not 401).
    let (status, _) = http(
        port,
        "POST",
        "/api/v1/main/executions/webhook/company.team/f/key",
        None,
    )
    .unwrap();
    assert_eq!(status, 404);
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Runs `saker` on a data directory with `stdin` piped in; returns (status, stdout, stderr).
fn saker_cli(data: &Path, config: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(args)
        .env("SAKER_DATA_DIR", data)
        .env("SAKER_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn users_and_api_tokens_made_with_the_cli_open_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("saker.yml");
    std::fs::write(
        &config,
        "saker:\n  server:\n    basic-auth:\n      username: admin\n      password: Admin-pass-2026!\n",
    )
    .unwrap();
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["user", "add", "alice"],
        "Alice-pass-2026!\n",
    );
    assert!(ok, "{err}");
    let (ok, token, err) = saker_cli(
        &data,
        &config,
        &[
            "token",
            "create",
            "alice",
            "--name",
            "ci",
            "--expires-in",
            "1d",
        ],
        "",
    );
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("sak_"), "unexpected token shape");
    let (ok, list, _) = saker_cli(&data, &config, &["user", "list"], "");
    assert!(ok);
    assert!(
        list.contains("alice") && !list.contains("Alice-pass"),
        "{list}"
    );
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["token", "create", "bob", "--name", "x"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("no user named bob"), "{err}");

    let port = free_port();
    let mut server = start_server_with(&data, port, Some(&config));
    let bearer = format!("Bearer {token}");
    let (status, body) =
        http_as(port, "GET", "/api/v1/main/executions", None, Some(&bearer)).unwrap();
    assert_eq!(status, 200, "{body}");
    let alice = "Basic YWxpY2U6QWxpY2UtcGFzcy0yMDI2IQ=="; // alice:Alice-pass-2026!
    let (status, body) =
        http_as(port, "GET", "/api/v1/main/executions", None, Some(alice)).unwrap();
    assert_eq!(status, 200, "{body}");
    let tampered = format!("Bearer {}x", token);
    let (status, _) = http_as(
        port,
        "GET",
        "/api/v1/main/executions",
        None,
        Some(&tampered),
    )
    .unwrap();
    assert_eq!(status, 401);
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn a_user_bound_to_a_namespace_sees_it_and_its_children_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("saker.yml");
    std::fs::write(
        &config,
        "saker:\n  server:\n    basic-auth:\n      username: admin\n      password: Admin-pass-2026!\n",
    )
    .unwrap();
    // The first start creates the admin role; bindings need it.
    let port = free_port();
    let mut server = start_server_with(&data, port, Some(&config));
    server.kill().unwrap();
    server.wait().unwrap();
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["user", "add", "alice"],
        "Alice-pass-2026!\n",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &[
            "user",
            "bind",
            "alice",
            "admin",
            "--namespace",
            "company.team",
        ],
        "",
    );
    assert!(ok, "{err}");

    let port = free_port();
    let mut server = start_server_with(&data, port, Some(&config));
    let admin = Some("Basic YWRtaW46QWRtaW4tcGFzcy0yMDI2IQ=="); // admin:Admin-pass-2026!
    let alice = Some("Basic YWxpY2U6QWxpY2UtcGFzcy0yMDI2IQ=="); // alice:Alice-pass-2026!
    let flow = |ns: &str| {
        format!("id: f\nnamespace: {ns}\ntasks:\n  - id: r\n    type: Return\n    format: x\n")
    };
    let as_json = |r: std::io::Result<(u16, String)>| {
        let (status, body) = r.unwrap();
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
        )
    };
    for ns in ["company.team.x", "company.other"] {
        let (status, body) = as_json(http_as(
            port,
            "POST",
            "/api/v1/main/flows",
            Some(("application/x-yaml", &flow(ns))),
            admin,
        ));
        assert_eq!(status, 200, "{body}");
        let (status, body) = as_json(http_as(
            port,
            "POST",
            &format!("/api/v1/main/executions/{ns}/f"),
            None,
            admin,
        ));
        assert_eq!(status, 200, "{body}");
    }
    // A child namespace of the binding: allowed.
    let (status, _) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/flows/company.team.x/f",
        None,
        alice,
    ));
    assert_eq!(status, 200);
    let (status, e) = as_json(http_as(
        port,
        "POST",
        "/api/v1/main/executions/company.team.x/f",
        None,
        alice,
    ));
    assert_eq!(status, 200, "{e}");
    // A sibling: exactly as if it did not exist.
    let (status, hidden) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/flows/company.other/f",
        None,
        alice,
    ));
    let (_, missing) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/flows/company.other/nope",
        None,
        admin,
    ));
    assert_eq!(status, 404);
    assert_eq!(hidden["message"], "flow company.other.f not found");
    assert_eq!(missing["message"], "flow company.other.nope not found");
    let (status, _) = as_json(http_as(
        port,
        "POST",
        "/api/v1/main/executions/company.other/f",
        None,
        alice,
    ));
    assert_eq!(status, 404);
    let (status, _) = as_json(http_as(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", &flow("company.other"))),
        alice,
    ));
    assert_eq!(status, 403);
    // Listings show only what the binding covers.
    let (status, list) = as_json(http_as(port, "GET", "/api/v1/main/executions", None, alice));
    assert_eq!(status, 200);
    let namespaces: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["namespace"].as_str().unwrap())
        .collect();
    assert!(
        !namespaces.is_empty() && namespaces.iter().all(|ns| *ns == "company.team.x"),
        "{namespaces:?}"
    );
    let (_, list) = as_json(http_as(port, "GET", "/api/v1/main/executions", None, admin));
    assert_eq!(list["results"].as_array().unwrap().len(), 3);
    // An execution of the sibling namespace, by id: not found.
    let other = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["namespace"] == "company.other")
        .unwrap();
    let id = other["id"].as_str().unwrap();
    let (status, _) = as_json(http_as(
        port,
        "GET",
        &format!("/api/v1/main/executions/{id}"),
        None,
        alice,
    ));
    assert_eq!(status, 404);
    let (status, _) = as_json(http_as(
        port,
        "GET",
        &format!("/api/v1/main/logs/{id}"),
        None,
        alice,
    ));
    assert_eq!(status, 404);
    // The audit trail is tenant-wide: a namespace binding does not open it.
    let (status, _) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/auditlogs/search",
        None,
        alice,
    ));
    assert_eq!(status, 403);
    let (status, _) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/auditlogs/search",
        None,
        admin,
    ));
    assert_eq!(status, 200);
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn secrets_are_write_only_through_the_api_and_flows_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = start_server(&data, port);
    const VALUE: &str = "api-secret-value-321";
    let mut bodies = Vec::new();
    let mut call = |method: &str, path: &str, body: Option<(&str, &str)>| {
        let (status, text) = http(port, method, path, body).unwrap();
        bodies.push(text.clone());
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let put = format!(
        r#"{{"key": "API_TOKEN", "value": "{VALUE}", "description": "for the API", "tags": [{{"key": "team", "value": "a"}}]}}"#
    );
    let (status, meta) = call(
        "PUT",
        "/api/v1/main/namespaces/company/secrets",
        Some(("application/json", &put)),
    );
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["key"], "API_TOKEN");
    let (status, list) = call("GET", "/api/v1/main/namespaces/company/secrets", None);
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    let (status, inherited) = call(
        "GET",
        "/api/v1/main/namespaces/company.team/inherited-secrets",
        None,
    );
    assert_eq!(status, 200, "{inherited}");
    assert_eq!(inherited[0]["key"], "API_TOKEN");
    assert_eq!(inherited[0]["namespace"], "company");
    let (status, _) = call(
        "PUT",
        "/api/v1/main/namespaces/company/secrets",
        Some(("application/json", r#"{"key": "X", "value": 5}"#)),
    );
    assert_eq!(status, 400);
    let bad = format!(r#"{{"key": "X", "value": "{VALUE}", "oops": 1}}"#);
    let (status, err) = call(
        "PUT",
        "/api/v1/main/namespaces/company/secrets",
        Some(("application/json", &bad)),
    );
    assert_eq!(status, 400, "{err}");
    let truncated = format!(r#"{{"key": "X", "value": "{VALUE}"#);
    let (status, _) = call(
        "PUT",
        "/api/v1/main/namespaces/company/secrets",
        Some(("application/json", &truncated)),
    );
    assert_eq!(status, 400);

    let flow = "id: use\nnamespace: company.team\ntasks:\n  - id: log\n    type: Log\n    message: \"token {{ secret('API_TOKEN') }}\"\n";
    let (status, _) = call(
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200);
    let (status, e) = call("POST", "/api/v1/main/executions/company.team/use", None);
    assert_eq!(status, 200);
    let id = e["id"].as_str().unwrap().to_owned();
    wait_for_state(port, &id, "SUCCESS");
    let (_, logs) = call("GET", &format!("/api/v1/main/logs/{id}"), None);
    assert!(logs.to_string().contains("token ****"), "{logs}");

    let (status, _) = call(
        "DELETE",
        "/api/v1/main/namespaces/company/secrets/API_TOKEN",
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = call(
        "DELETE",
        "/api/v1/main/namespaces/company/secrets/API_TOKEN",
        None,
    );
    assert_eq!(status, 404);
    let (_, e) = call("POST", "/api/v1/main/executions/company.team/use", None);
    let id = e["id"].as_str().unwrap().to_owned();
    wait_for_state(port, &id, "FAILED");
    let (status, audit) = call("GET", "/api/v1/main/auditlogs/search?key=API_TOKEN", None);
    assert_eq!(status, 200, "{audit}");
    let events = audit["results"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "write" && e["actor"] == "api:anonymous"),
        "{audit}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "read" && e["executionId"].is_string()),
        "{audit}"
    );
    for body in &bodies {
        assert!(
            !body.contains(VALUE),
            "a response body holds the secret value"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();

    // The audit trail names the API caller for each change.
    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["audit", "list", "--key", "API_TOKEN"])
        .env("SAKER_DATA_DIR", &data)
        .env_remove("SAKER_CONFIG")
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&out.stdout);
    assert!(audit.contains("api:anonymous"), "{audit}");
    assert!(!audit.contains(VALUE));
}

#[test]
fn logs_follow_as_server_sent_events_until_the_execution_ends() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(dir.path(), port);
    let flow = "id: chatty\nnamespace: company.team\ntasks:\n  - id: talk\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo line one\n      - sleep 0.4\n      - echo line two\n      - sleep 0.4\n      - echo line three\n";
    let (status, _) = json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200);
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
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn management_endpoints_serve_metrics_behind_their_own_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("saker.yml");
    std::fs::write(
        &config,
        "saker:\n  endpoints:\n    all:\n      basic-auth:\n        username: ops\n        password: ops-pass\n",
    )
    .unwrap();
    let port = free_port();
    let mport = free_port();
    let mut server = start_server_args(
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
    let (status, _) = json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200);
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
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn the_configuration_file_can_be_deleted_once_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("saker.yml");
    std::fs::write(
        &config,
        "saker:\n  configurations:\n    delete-files-on-start: true\n  server:\n    basic-auth:\n      username: admin\n      password: Admin-pass-2026!\n",
    )
    .unwrap();
    let port = free_port();
    let mut server = start_server_with(&dir.path().join("data"), port, Some(&config));
    assert!(!config.exists(), "the configuration file is still there");
    // What it configured still holds.
    let (status, _) = http(port, "GET", "/api/v1/main/executions", None).unwrap();
    assert_eq!(status, 401);
    server.kill().unwrap();
    server.wait().unwrap();
}
