//! Secrets and the audit trail through the API: values go in, never come back out.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

#[test]
fn secrets_are_write_only_through_the_api_and_flows_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start_server(&data, port);
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
