//! The Webhook trigger through a real server: open URLs (seed 001), what the flow sees of the
//! request, one 404 for every miss, keys that are secrets (resolved as the SCHEDULER, audited,
//! never shown), and EXECUTION CREATE for callers with credentials.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `admin:Admin-pass-2026!`, the user of [`ADMIN_CONFIG`].
const ADMIN: &str = ADMIN_BASIC;

/// Seed 001's example: the webhook path is open, everything else needs credentials.
const OPEN_CONFIG: &str = "saker:\n  server:\n    basic-auth:\n      username: admin\n      password: Admin-pass-2026!\n      open-urls:\n        - \"/api/v1/main/executions/webhook/\"\n";

const WEBHOOK_SECRET: &str = "wh-key-7Hq2-secret-value";

/// A flow with three Webhook triggers (a plain key, a secret key, a disabled one) whose task
/// logs what the trigger gave it.
const HOOK_FLOW: &str = r#"id: hook
namespace: company.team
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "id={{ trigger.id }} type={{ trigger.type }} name={{ trigger.body.name ?? trigger.body }} tag={{ trigger.headers['x-tag'] | first }} headers={{ trigger.headers | keys | sort | join(',') }} q={{ trigger.parameters.q | first }}"
triggers:
  - id: plain
    type: io.kestra.plugin.core.trigger.Webhook
    key: plain-key-123
  - id: secret_hook
    type: Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
  - id: off
    type: io.kestra.plugin.core.trigger.Webhook
    key: off-key-456
    disabled: true
"#;

/// A flow whose only Webhook trigger names a secret that does not exist.
const BROKEN_FLOW: &str = r#"id: broken
namespace: company.team
tasks:
  - id: t
    type: Log
    message: never
triggers:
  - id: hook
    type: Webhook
    key: "{{ secret('NO_SUCH_KEY') }}"
"#;

/// A flow without a Webhook trigger.
const PLAIN_FLOW: &str =
    "id: plain\nnamespace: company.team\ntasks:\n  - id: t\n    type: Log\n    message: hi\n";

/// Starts `saker server local` with its own log (stderr) written to `log`.
fn start_logged(data: &Path, port: u16, config: &Path, log: &Path) -> Child {
    start_server_logging(data, port, Some(config), &[], Some(log))
}

/// One request with any method, headers and body; the response is scanned for remembered
/// secrets. Returns the status and the body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert_no_secret(&format!("{method} {path}"), &response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The whole response (status line and headers included) to a bare POST.
fn raw_response(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

fn admin_json(port: u16, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, Value) {
    let (status, text) = http_as(port, method, path, body, Some(ADMIN)).unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Polls the execution as admin until it has ended, and returns it.
fn wait_ended(port: u16, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, execution) =
            admin_json(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
        let state = execution["state"]["current"].as_str().unwrap_or("");
        if ["SUCCESS", "WARNING", "FAILED", "KILLED"].contains(&state) {
            return execution;
        }
        assert!(Instant::now() < deadline, "never ended: {execution}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The messages of an execution's log lines, read through the API as admin.
fn log_messages(port: u16, id: &str) -> Vec<String> {
    let (status, logs) = admin_json(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
    assert_eq!(status, 200, "{logs}");
    logs.as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

fn deploy_as_admin(port: u16, flow: &str) {
    let (status, body) = admin_json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200, "{body}");
}

const HOOK: &str = "/api/v1/main/executions/webhook/company.team";

#[test]
fn open_webhooks_start_flows_with_the_request_and_tell_nothing_on_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), OPEN_CONFIG);
    let log = dir.path().join("server.log");
    let port = free_port();
    let server = start_logged(&dir.path().join("data"), port, &config, &log);
    remember_secret(WEBHOOK_SECRET);
    deploy_as_admin(port, HOOK_FLOW);
    deploy_as_admin(port, BROKEN_FLOW);
    deploy_as_admin(port, PLAIN_FLOW);
    // In the parent namespace: found through inheritance.
    let (status, body) = admin_json(
        port,
        "PUT",
        "/api/v1/main/namespaces/company/secrets",
        Some((
            "application/json",
            &format!(r#"{{"key": "WEBHOOK_KEY", "value": "{WEBHOOK_SECRET}"}}"#),
        )),
    );
    assert_eq!(status, 200, "{body}");

    // Everything but the webhook path still needs credentials.
    for (method, path) in [
        ("GET", "/api/v1/main/executions"),
        ("GET", "/api/v1/main/flows/company.team/hook"),
        ("POST", "/api/v1/main/executions/company.team/hook"),
        ("GET", "/api/v1/main/namespaces/company/secrets"),
    ] {
        let (status, body) = request(port, method, path, &[], "");
        assert_eq!(status, 401, "{method} {path}: {body}");
    }

    // GET, POST and PUT with the plain key, without credentials; the body and headers reach
    // the task, credentials sent along do not.
    let mut ids = Vec::new();
    for (method, body, name) in [
        ("GET", "", ""),
        ("POST", r#"{"name": "Ada"}"#, "Ada"),
        ("PUT", "plain text body", "plain text body"),
    ] {
        let (status, text) = request(
            port,
            method,
            &format!("{HOOK}/hook/plain-key-123?q=search"),
            &[
                ("Content-Type", "application/json"),
                ("X-Tag", "tag-1"),
                ("Authorization", ADMIN),
                ("Cookie", "session=cookie-value-99"),
                ("Proxy-Authorization", "Basic cHJveHk6cHc="),
            ],
            body,
        );
        assert_eq!(status, 200, "{method}: {text}");
        let execution: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(execution["namespace"], "company.team");
        assert_eq!(execution["flowId"], "hook");
        assert_eq!(execution["trigger"]["id"], "plain");
        assert_eq!(
            execution["trigger"]["type"],
            "io.kestra.plugin.core.trigger.Webhook"
        );
        let headers = &execution["trigger"]["variables"]["headers"];
        assert_eq!(headers["x-tag"], serde_json::json!(["tag-1"]), "{headers}");
        for withheld in ["authorization", "cookie", "proxy-authorization"] {
            assert!(
                headers.get(withheld).is_none(),
                "{withheld} passed: {headers}"
            );
        }
        assert!(!text.contains("cookie-value-99"), "{text}");
        assert!(!text.contains(ADMIN), "{text}");
        let id = execution["id"].as_str().unwrap().to_owned();
        let done = wait_ended(port, &id);
        assert_eq!(done["state"]["current"], "SUCCESS", "{done}");
        assert_eq!(done["trigger"]["id"], "plain", "stored with the execution");
        let messages = log_messages(port, &id);
        let line = messages
            .iter()
            .find(|m| m.starts_with("id="))
            .unwrap_or_else(|| panic!("no log line: {messages:?}"));
        assert!(
            line.contains(&format!(
                "id=plain type=io.kestra.plugin.core.trigger.Webhook name={name} tag=tag-1"
            )),
            "{method}: {line}"
        );
        assert!(line.ends_with(" q=search"), "{line}");
        let header_names = line
            .split(" headers=")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap();
        assert!(header_names.split(',').any(|h| h == "x-tag"), "{line}");
        for withheld in ["authorization", "cookie", "proxy-authorization"] {
            assert!(
                !header_names.split(',').any(|h| h == withheld),
                "{withheld} reached the flow: {line}"
            );
        }
        ids.push(id);
    }

    // The key that is a secret works, and says which trigger matched.
    let (status, text) = request(
        port,
        "POST",
        &format!("{HOOK}/hook/{WEBHOOK_SECRET}"),
        &[("Content-Type", "application/json"), ("X-Tag", "s")],
        r#"{"name": "Grace"}"#,
    );
    assert_eq!(status, 200, "{text}");
    let execution: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(execution["trigger"]["id"], "secret_hook");
    let id = execution["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_ended(port, &id)["state"]["current"], "SUCCESS");
    let messages = log_messages(port, &id);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("id=secret_hook ") && m.contains("name=Grace")),
        "{messages:?}"
    );
    ids.push(id);

    // Every miss answers the same bytes: wrong key, a disabled trigger's key, another flow's
    // key, an unknown flow, a flow without a Webhook trigger, a key that cannot be rendered,
    // the secret's name instead of its value.
    let misses = [
        ("POST", format!("{HOOK}/hook/wrong-key")),
        ("GET", format!("{HOOK}/hook/off-key-456")),
        ("PUT", format!("{HOOK}/hook/plain-key-1234")),
        ("POST", format!("{HOOK}/hook/WEBHOOK_KEY")),
        ("POST", format!("{HOOK}/nope/plain-key-123")),
        ("POST", format!("{HOOK}/plain/plain-key-123")),
        ("POST", format!("{HOOK}/broken/plain-key-123")),
        (
            "POST",
            "/api/v1/main/executions/webhook/company.other/hook/plain-key-123".to_owned(),
        ),
    ];
    let mut bodies = Vec::new();
    for (method, path) in &misses {
        let (status, body) = request(port, method, path, &[], "{}");
        assert_eq!(status, 404, "{method} {path}: {body}");
        bodies.push(body);
    }
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "404 bodies differ: {bodies:?}"
    );
    assert!(bodies[0].contains("message"), "{}", bodies[0]);

    // Only the executions above were started.
    let (_, list) = admin_json(port, "GET", "/api/v1/main/executions", None);
    assert_eq!(
        list["results"].as_array().unwrap().len(),
        ids.len(),
        "{list}"
    );

    // The secret key was read by the SCHEDULER for the trigger, and that is audited.
    let (status, audit) = admin_json(
        port,
        "GET",
        "/api/v1/main/auditlogs/search?key=WEBHOOK_KEY",
        None,
    );
    assert_eq!(status, 200, "{audit}");
    let reads: Vec<&Value> = audit["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "read" && e["outcome"] == "success")
        .collect();
    assert!(
        !reads.is_empty()
            && reads.iter().all(|e| e["service"] == "SCHEDULER"
                && e["actor"] == "trigger:secret_hook"
                && e["flowId"] == "hook"),
        "{audit}"
    );
    // The key that cannot be rendered is a failed, audited read.
    let (_, audit) = admin_json(
        port,
        "GET",
        "/api/v1/main/auditlogs/search?key=NO_SUCH_KEY",
        None,
    );
    assert!(
        audit["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == "failed" && e["service"] == "SCHEDULER"),
        "{audit}"
    );

    stop(server);
    // The server's own log names the flow whose key cannot be rendered, and never the secret.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("company.team.broken") && log.contains("NO_SUCH_KEY"),
        "{log}"
    );
    assert_no_secret("the server log", &log);
}

#[test]
fn with_credentials_a_webhook_needs_execution_create_and_hidden_namespaces_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    // The first start creates the admin role; bindings need it.
    let port = free_port();
    stop(start_server_with(&data, port, Some(&config)));
    for (args, stdin) in [
        (&["user", "add", "alice"][..], "Alice-pass-2026!\n"),
        (&["user", "add", "bob"][..], "Bob-pass-2026!!\n"),
        (
            &[
                "role",
                "create",
                "reader",
                "--permission",
                "EXECUTION=READ",
                "--permission",
                "FLOW=READ",
            ][..],
            "",
        ),
        (
            &[
                "user",
                "bind",
                "alice",
                "admin",
                "--namespace",
                "company.team",
            ][..],
            "",
        ),
        (
            &[
                "user",
                "bind",
                "bob",
                "reader",
                "--namespace",
                "company.team",
            ][..],
            "",
        ),
    ] {
        let (ok, _, err) = saker_cli(&data, &config, args, stdin);
        assert!(ok, "{args:?}: {err}");
    }
    let alice = ALICE_BASIC;
    let bob = "Basic Ym9iOkJvYi1wYXNzLTIwMjYhIQ=="; // bob:Bob-pass-2026!!

    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let flow = |ns: &str| {
        format!(
            "id: f\nnamespace: {ns}\ntasks:\n  - id: t\n    type: Log\n    message: \"{{{{ trigger.id }}}}\"\ntriggers:\n  - id: hook\n    type: Webhook\n    key: k-123\n"
        )
    };
    deploy_as_admin(port, &flow("company.team.x"));
    deploy_as_admin(port, &flow("company.other"));
    let call = |method: &str, ns: &str, key: &str, auth: Option<&str>| {
        let path = format!("/api/v1/main/executions/webhook/{ns}/f/{key}");
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        request(port, method, &path, &headers, "")
    };

    // Not an open URL here: no credentials, no webhook.
    let (status, body) = call("POST", "company.team.x", "k-123", None);
    assert_eq!(status, 401, "{body}");
    // Allowed where EXECUTION CREATE is granted.
    for auth in [ADMIN, alice] {
        let (status, body) = call("PUT", "company.team.x", "k-123", Some(auth));
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = call("POST", "company.other", "k-123", Some(ADMIN));
    assert_eq!(status, 200, "{body}");
    // A namespace alice may not see answers as a wrong key does.
    let (hidden_status, hidden) = call("POST", "company.other", "k-123", Some(alice));
    let (wrong_status, wrong) = call("POST", "company.team.x", "nope", Some(alice));
    assert_eq!((hidden_status, wrong_status), (404, 404));
    assert_eq!(hidden, wrong);
    // Seeing the namespace without EXECUTION CREATE is refused.
    let (status, body) = call("POST", "company.team.x", "k-123", Some(bob));
    assert_eq!(status, 403, "{body}");
    let (_, list) = admin_json(port, "GET", "/api/v1/main/executions", None);
    assert_eq!(list["results"].as_array().unwrap().len(), 3, "{list}");
    stop(server);
}

#[test]
fn an_address_that_keeps_missing_without_credentials_is_throttled_before_any_key_is_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), OPEN_CONFIG);
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    deploy_as_admin(port, HOOK_FLOW);
    let hook = |key: &str| {
        request(
            port,
            "POST",
            &format!("/api/v1/main/executions/webhook/company.team/hook/{key}"),
            &[],
            "",
        )
    };
    // Twenty misses are answered as misses...
    for i in 0..20 {
        let (status, body) = hook(&format!("guess-{i}"));
        assert_eq!(status, 404, "{body}");
    }
    // (each miss rendered every key, the secret one included: one audited read each)
    let audited = || {
        let path = "/api/v1/main/auditlogs/search?key=WEBHOOK_KEY";
        admin_json(port, "GET", path, None).1["total"]
            .as_u64()
            .unwrap()
    };
    let reads = audited();
    assert_eq!(reads, 20);
    // ...then the address waits, whatever it presents, even the right key.
    let (status, body) = hook("guess-20");
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("retry in"), "{body}");
    let (status, raw) = raw_response(port, "/api/v1/main/executions/webhook/company.team/hook/x");
    assert_eq!(status, 429);
    assert!(
        raw.to_ascii_lowercase().contains("\r\nretry-after: "),
        "{raw}"
    );
    let (status, _) = hook("plain-key-123");
    assert_eq!(status, 429);
    // Refused before any key was rendered: the secret was not read again.
    assert_eq!(audited(), reads);
    stop(server);
}
