//! Secrets and the audit trail through the API: values go in, never come back out.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

#[test]
fn secrets_are_write_only_through_the_api_and_flows_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start_server(&data, port);
    const VALUE: &str = "api-secret-value-321";
    remember_secret(VALUE);
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
    stop(server);

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

/// The API as the configured admin of [`ADMIN_CONFIG`].
struct Admin {
    port: u16,
    authorization: String,
}

impl Admin {
    fn new(port: u16) -> Self {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode("admin:Admin-pass-2026!");
        Self {
            port,
            authorization: format!("Basic {credentials}"),
        }
    }

    /// Sends `body` (JSON) and answers the status and the parsed body (`Null` when empty).
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        self.send(method, path, body.map(|b| ("application/json", b)))
    }

    fn send(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, Value) {
        let (status, text) =
            http_as(self.port, method, path, body, Some(&self.authorization)).unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Runs `company.team/which` to its end; answers its state and its log messages.
    fn run_which(&self) -> (String, String) {
        let (status, execution) =
            self.call("POST", "/api/v1/main/executions/company.team/which", None);
        assert_eq!(status, 200, "{execution}");
        let id = execution["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(20);
        let state = loop {
            let (_, execution) = self.call("GET", &format!("/api/v1/main/executions/{id}"), None);
            let state = execution["state"]["current"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            if ["SUCCESS", "FAILED", "WARNING", "KILLED"].contains(&state.as_str()) {
                break state;
            }
            assert!(Instant::now() < deadline, "never ended: {execution}");
            std::thread::sleep(Duration::from_millis(20));
        };
        let (status, logs) = self.call("GET", &format!("/api/v1/main/logs/{id}"), None);
        assert_eq!(status, 200, "{logs}");
        let messages = logs
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|line| line["message"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        (state, messages)
    }
}

const SECRETS: &str = "/api/v1/main/namespaces/company.team/secrets";
const KEY: &str = "/api/v1/main/namespaces/company.team/secrets/LIFECYCLE_KEY";

/// Says which of the test's values the flow resolved, by its prefix only: the flow's source
/// (which the API returns) must not hold a value.
const WHICH_FLOW: &str = "id: which\nnamespace: company.team\ntasks:\n  - id: check\n    type: io.kestra.plugin.scripts.shell.Commands\n    env:\n      PW: \"{{ secret('LIFECYCLE_KEY') }}\"\n    commands:\n      - 'case \"$PW\" in first-*) echo resolved-first ;; second-*) echo resolved-second ;; third-*) echo resolved-third ;; *) echo resolved-other ;; esac'\n";

#[test]
fn a_secrets_lifecycle_through_the_api_is_audited_and_flows_follow_it() {
    const FIRST: &str = "first-lifecycle-value-4471";
    const SECOND: &str = "second-lifecycle-value-9026";
    const THIRD: &str = "third-lifecycle-value-3158";
    for value in [FIRST, SECOND, THIRD] {
        remember_secret(value);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), ADMIN_CONFIG);
    let port = free_port();
    let server = start_server_with(&dir.path().join("data"), port, Some(&config));
    let api = Admin::new(port);
    let (status, body) = api.send(
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", WHICH_FLOW)),
    );
    assert_eq!(status, 200, "{body}");
    let put = |value: &str| {
        json!({"key": "LIFECYCLE_KEY", "value": value, "description": "first description"})
            .to_string()
    };

    // Two PUTs make two versions, newest first, each written by the API user.
    let (status, meta) = api.call("PUT", SECRETS, Some(&put(FIRST)));
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["state"], "ACTIVE");
    let (status, meta) = api.call("PUT", SECRETS, Some(&put(SECOND)));
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["version"], 2);
    let (status, versions) = api.call("GET", &format!("{KEY}/versions"), None);
    assert_eq!(status, 200, "{versions}");
    assert_eq!(versions["total"], 2, "{versions}");
    let listed: Vec<(u64, bool, &str)> = versions["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["createdBy"], "api:admin", "{v}");
            assert!(v["createdAt"].is_string(), "{v}");
            (
                v["version"].as_u64().unwrap(),
                v["current"].as_bool().unwrap(),
                v["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [(2, true, "AVAILABLE"), (1, false, "AVAILABLE")]);

    // PATCH changes metadata only: same version, and flows still resolve the same value.
    let (status, meta) = api.call(
        "PATCH",
        KEY,
        Some(
            r#"{"description": "patched", "tags": [{"key": "team", "value": "b"}],
                "rotationPeriod": "30d", "expiresAt": "2099-01-01T00:00:00Z"}"#,
        ),
    );
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["version"], 2, "{meta}");
    assert_eq!(meta["description"], "patched");
    assert_eq!(meta["tags"], json!({"team": "b"}));
    assert_eq!(meta["rotationPeriod"], "P30D");
    assert!(
        meta["expiresAt"]
            .as_str()
            .unwrap()
            .starts_with("2099-01-01T00:00:00"),
        "{meta}"
    );
    let (status, meta) = api.call("GET", KEY, None);
    assert_eq!(status, 200, "{meta}");
    assert_eq!(
        (meta["version"].clone(), meta["description"].clone()),
        (json!(2), json!("patched"))
    );
    assert_eq!(
        api.call("GET", &format!("{KEY}/versions"), None).1["total"],
        2
    );
    let (state, logs) = api.run_which();
    assert_eq!(
        (state.as_str(), logs.contains("resolved-second")),
        ("SUCCESS", true),
        "{logs}"
    );

    // Bad PATCH bodies: 400 naming the field and the fix, never quoting the value.
    let with_value = json!({"value": THIRD, "description": "x"}).to_string();
    let (status, err) = api.call("PATCH", KEY, Some(&with_value));
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().contains("PUT"), "{err}");
    for (body, field) in [
        (r#"{}"#, "nothing to change"),
        (r#"{"rotationPeriod": 5}"#, "rotationPeriod"),
        (r#"{"rotationPeriod": "soon"}"#, "rotationPeriod"),
        (r#"{"expiresAt": "tomorrow"}"#, "expiresAt"),
        (r#"{"tags": "team"}"#, "tags"),
        (r#"{"colour": "red"}"#, "colour"),
        (r#"{"description": "#, "not valid JSON"),
    ] {
        let (status, err) = api.call("PATCH", KEY, Some(body));
        assert_eq!(status, 400, "{body}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(field),
            "{body}: {err}"
        );
    }

    // Restoring a version writes its value again as a new version, written by the caller.
    let (status, meta) = api.call("POST", &format!("{KEY}/restore"), Some(r#"{"version": 1}"#));
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["version"], 3, "{meta}");
    let (status, versions) = api.call("GET", &format!("{KEY}/versions"), None);
    assert_eq!(status, 200, "{versions}");
    let newest = &versions["results"][0];
    assert_eq!(
        (newest["version"].as_u64(), newest["current"].as_bool()),
        (Some(3), Some(true)),
        "{versions}"
    );
    assert_eq!(newest["createdBy"], "api:admin", "{versions}");
    let (_, logs) = api.run_which();
    assert!(logs.contains("resolved-first"), "{logs}");
    let (status, err) = api.call("POST", &format!("{KEY}/restore"), Some(r#"{"version": 0}"#));
    assert_eq!(status, 400, "{err}");
    let (status, err) = api.call(
        "POST",
        &format!("{KEY}/restore"),
        Some(r#"{"version": 99}"#),
    );
    assert_eq!(status, 409, "{err}");

    // Delete, then restore: the flow fails in between and resolves again after.
    let (status, _) = api.call("DELETE", KEY, None);
    assert_eq!(status, 204);
    let (_, meta) = api.call("GET", KEY, None);
    assert_eq!(meta["state"], "DELETED", "{meta}");
    assert!(meta["deletedAt"].is_string(), "{meta}");
    let (state, _) = api.run_which();
    assert_eq!(state, "FAILED");
    let (status, meta) = api.call("POST", &format!("{KEY}/restore"), None);
    assert_eq!(status, 200, "{meta}");
    assert_eq!(
        (meta["state"].clone(), meta["version"].clone()),
        (json!("ACTIVE"), json!(3))
    );
    let (state, logs) = api.run_which();
    assert_eq!(
        (state.as_str(), logs.contains("resolved-first")),
        ("SUCCESS", true),
        "{logs}"
    );
    let (status, err) = api.call("POST", &format!("{KEY}/restore"), None);
    assert_eq!(status, 409, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("not deleted"),
        "{err}"
    );

    // Revoke: the flow fails saying so; no version can be brought back; a new value heals it.
    let (status, meta) = api.call(
        "POST",
        &format!("{KEY}/revoke"),
        Some(r#"{"reason": "leaked in a ticket"}"#),
    );
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["state"], "REVOKED");
    assert_eq!(meta["revokeReason"], "leaked in a ticket");
    let (state, logs) = api.run_which();
    assert_eq!(state, "FAILED");
    assert!(
        logs.contains("LIFECYCLE_KEY") && logs.contains("revoked"),
        "{logs}"
    );
    let (_, versions) = api.call("GET", &format!("{KEY}/versions"), None);
    assert!(
        versions["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["state"] == "DESTROYED"),
        "{versions}"
    );
    let (status, err) = api.call("POST", &format!("{KEY}/restore"), Some(r#"{"version": 2}"#));
    assert_eq!(status, 409, "{err}");
    let (status, err) = api.call("POST", &format!("{KEY}/restore"), Some("{}"));
    assert_eq!(status, 409, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("revoked"),
        "{err}"
    );
    let (status, err) = api.call("POST", &format!("{KEY}/revoke"), Some(r#"{"reason": 7}"#));
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().contains("reason"), "{err}");
    let (status, meta) = api.call("PUT", SECRETS, Some(&put(THIRD)));
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["state"], "ACTIVE");
    let (state, logs) = api.run_which();
    assert_eq!(
        (state.as_str(), logs.contains("resolved-third")),
        ("SUCCESS", true),
        "{logs}"
    );

    // Destroy: gone for good, metadata and versions with it.
    let (status, _) = api.call("POST", &format!("{KEY}/destroy"), None);
    assert_eq!(status, 204);
    for (method, path) in [
        ("GET", KEY.to_owned()),
        ("GET", format!("{KEY}/versions")),
        ("POST", format!("{KEY}/destroy")),
        ("POST", format!("{KEY}/restore")),
        ("POST", format!("{KEY}/revoke")),
        ("PATCH", KEY.to_owned()),
        ("DELETE", KEY.to_owned()),
    ] {
        let body = (method == "PATCH").then_some(r#"{"description": "x"}"#);
        let (status, err) = api.call(method, &path, body);
        assert_eq!(status, 404, "{method} {path}: {err}");
        assert_eq!(
            err["message"], "secret LIFECYCLE_KEY not found in company.team",
            "{method} {path}"
        );
    }

    // Every change is in the audit trail with the API user as actor.
    let (status, audit) = api.call(
        "GET",
        "/api/v1/main/auditlogs/search?namespace=company.team&key=LIFECYCLE_KEY&size=1000",
        None,
    );
    assert_eq!(status, 200, "{audit}");
    let changes: Vec<(&str, &str, &str)> = audit["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] != "read")
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        changes.iter().all(|(_, actor, _)| *actor == "api:admin"),
        "{audit}"
    );
    let succeeded: Vec<&str> = changes
        .iter()
        .filter(|(_, _, outcome)| *outcome == "success")
        .map(|(action, _, _)| *action)
        .collect();
    assert_eq!(
        succeeded[..9],
        [
            "write",
            "write",
            "update-metadata",
            "rollback",
            "delete",
            "restore",
            "revoke",
            "write",
            "destroy",
        ],
        "{audit}"
    );
    // Refused attempts that reached the service are recorded too: the two rollbacks to
    // versions without a value, and the revoke of the destroyed secret.
    let failed: Vec<&str> = changes
        .iter()
        .filter(|(_, _, outcome)| *outcome == "failed")
        .map(|(action, _, _)| *action)
        .collect();
    assert_eq!(
        failed.iter().filter(|a| **a == "rollback").count(),
        2,
        "{audit}"
    );
    assert!(failed.contains(&"revoke"), "{audit}");
    stop(server);
}

#[test]
fn malformed_requests_get_json_errors_naming_the_field_and_the_fix() {
    const VALUE: &str = "malformed-request-value-6620";
    remember_secret(VALUE);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), ADMIN_CONFIG);
    let port = free_port();
    let server = start_server_with(&dir.path().join("data"), port, Some(&config));
    let api = Admin::new(port);
    for (query, field) in [
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("size=many", "size"),
        ("after=-", "after"),
    ] {
        let (status, err) = api.call(
            "GET",
            &format!("/api/v1/main/auditlogs/search?{query}"),
            None,
        );
        assert_eq!(status, 400, "{query}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains(field) && message.contains("RFC 3339"),
            "{query}: {err}"
        );
    }
    let (status, err) = api.call("GET", &format!("{SECRETS}/%FF"), None);
    assert_eq!(status, 400, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("UTF-8") && message.contains("key"),
        "{err}"
    );
    // A bad field beside a value: the error names the field and never quotes the value
    // (every response is scanned for it).
    for (extra, field) in [
        (json!({"expiresAt": 5}), "expiresAt"),
        (json!({"rotationPeriod": "0s"}), "rotationPeriod"),
        (json!({"tags": [{"key": "team"}]}), "tags"),
        (json!({"description": ["a"]}), "description"),
    ] {
        let mut body = json!({"key": "MALFORMED", "value": VALUE});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, err) = api.call("PUT", SECRETS, Some(&body.to_string()));
        assert_eq!(status, 400, "{field}: {err}");
        assert!(err["message"].as_str().unwrap().contains(field), "{err}");
    }
    let (status, err) = api.call(
        "PUT",
        SECRETS,
        Some(&format!(r#"{{"key": "MALFORMED", "value": {VALUE}}}"#)),
    );
    assert_eq!(status, 400, "{err}");
    let (status, meta) = api.call(
        "PUT",
        SECRETS,
        Some(&json!({"key": "MALFORMED", "value": VALUE, "rotationPeriod": "PT12H"}).to_string()),
    );
    assert_eq!(
        (status, meta["rotationPeriod"].clone()),
        (200, json!("PT12H")),
        "{meta}"
    );
    stop(server);
}

#[test]
fn a_read_only_backend_answers_405_to_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "saker:\n  secret:\n    type: env\n");
    let port = free_port();
    let server = start_server_with(&dir.path().join("data"), port, Some(&config));
    let key = "/api/v1/main/namespaces/company.team/secrets/READ_ONLY_KEY";
    let put = r#"{"key": "READ_ONLY_KEY", "value": "read-only-value-1187"}"#;
    remember_secret("read-only-value-1187");
    for (method, path, body) in [
        ("PUT", SECRETS.to_owned(), Some(put)),
        ("PATCH", key.to_owned(), Some(r#"{"description": "x"}"#)),
        ("GET", format!("{key}/versions"), None),
        ("POST", format!("{key}/restore"), Some(r#"{"version": 1}"#)),
        ("POST", format!("{key}/revoke"), None),
        ("POST", format!("{key}/destroy"), None),
        ("DELETE", key.to_owned(), None),
    ] {
        let (status, err) = json(port, method, &path, body.map(|b| ("application/json", b)));
        assert_eq!(status, 405, "{method} {path}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains("read-only"),
            "{err}"
        );
    }
    let (status, _) = json(port, "GET", key, None);
    assert_eq!(status, 404);
    stop(server);
}
