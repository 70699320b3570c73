//! The debug expression (`POST …/executions/{id}/eval/{taskRunId}`) with users configured:
//! every call is in the audit trail by digest (never the expression, never the result), a
//! runaway expression is answered at its deadline without taking the server down, and what
//! derives from a SECRET input comes back masked.

mod common;

use common::*;
use serde_json::Value;

const FLOW: &str = "id: dbg
namespace: company.team
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: one
    type: Return
    format: \"{{ 6 * 7 }}\"
";

const INPUT: &str = "debug-audit-input-4417";

/// A server with users, one ended execution of [`FLOW`]; returns (server, port, eval path).
fn server_with_an_execution(dir: &std::path::Path) -> (std::process::Child, u16, String) {
    let config = write_config(dir, ADMIN_CONFIG);
    let data = dir.join("data");
    add_team_user_alice(&data, &config);
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let admin = Some(ADMIN_BASIC);
    let (status, body) = http_as(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", FLOW)),
        admin,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let inputs = format!(r#"{{"pw": "{INPUT}"}}"#);
    let (status, body) = http_as(
        port,
        "POST",
        "/api/v1/main/executions/company.team/dbg",
        Some(("application/json", &inputs)),
        admin,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    remember_secret(INPUT);
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let execution = eventually("the execution never ended", || {
        let (_, body) = http_as(
            port,
            "GET",
            &format!("/api/v1/main/executions/{id}"),
            None,
            admin,
        )
        .unwrap();
        let execution: Value = serde_json::from_str(&body).unwrap();
        if execution["state"]["current"] == "SUCCESS" {
            Ok(execution)
        } else {
            Err(body)
        }
    });
    let run = execution["taskRunList"][0]["id"].as_str().unwrap();
    (
        server,
        port,
        format!("/api/v1/main/executions/{id}/eval/{run}"),
    )
}

fn eval(port: u16, path: &str, expression: &str, auth: &str) -> (u16, Value) {
    let (status, body) = http_as(
        port,
        "POST",
        path,
        Some(("text/plain", expression)),
        Some(auth),
    )
    .unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// The trail's debug-expression events, oldest first.
fn debug_events(port: u16) -> Vec<Value> {
    let (status, body) = http_as(
        port,
        "GET",
        "/api/v1/main/auditlogs/search?size=1000",
        None,
        Some(ADMIN_BASIC),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "debug-expression")
        .cloned()
        .collect()
}

#[test]
fn every_debug_expression_is_audited_by_digest_never_by_text() {
    let dir = tempfile::tempdir().unwrap();
    let (server, port, path) = server_with_an_execution(dir.path());
    let expression = "{{ outputs.one.value }}-marker-5531";
    let (status, body) = eval(port, &path, expression, ADMIN_BASIC);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "42-marker-5531");
    let (status, _) = eval(port, &path, expression, ADMIN_BASIC);
    assert_eq!(status, 200);
    let (status, _) = eval(port, &path, "{{ task.id }}", ALICE_BASIC);
    assert_eq!(status, 200);
    // A caller who may not see the execution is refused, and that is recorded too.
    let (status, _) = eval(
        port,
        &path.replace("/executions/", "/executions/x"),
        expression,
        ALICE_BASIC,
    );
    assert_eq!(status, 404);

    let events = debug_events(port);
    assert_eq!(events.len(), 4, "{events:?}");
    let (id, run) = {
        let parts: Vec<&str> = path.split('/').collect();
        (parts[5].to_owned(), parts[7].to_owned())
    };
    for event in &events[..3] {
        assert_eq!(event["outcome"], "success", "{event}");
        assert_eq!(event["executionId"], id.as_str());
        assert_eq!(event["taskRunId"], run.as_str());
        assert_eq!(event["namespace"], "company.team");
        assert_eq!(event["flowId"], "dbg");
    }
    assert_eq!(events[0]["actor"], "api:admin");
    assert_eq!(events[2]["actor"], "api:alice");
    assert_eq!(events[3]["outcome"], "denied");
    assert_eq!(events[3]["actor"], "api:alice");
    let digest = |event: &Value| {
        event["detail"]
            .as_str()
            .and_then(|d| d.split("sha256:").nth(1))
            .map(|d| d.chars().take(64).collect::<String>())
            .unwrap_or_default()
    };
    assert_eq!(digest(&events[0]).len(), 64, "{}", events[0]);
    assert!(digest(&events[0]).chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(digest(&events[0]), digest(&events[1]), "same expression");
    assert_ne!(digest(&events[0]), digest(&events[2]), "another expression");
    let trail = serde_json::to_string(&events).unwrap();
    assert!(
        !trail.contains("marker-5531"),
        "no expression, no result: {trail}"
    );
    assert!(!trail.contains("outputs.one"), "{trail}");
    stop(server);
}

#[test]
fn a_runaway_expression_is_answered_at_its_deadline_and_the_server_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let (server, port, path) = server_with_an_execution(dir.path());
    // Two at once, as the attack sent them.
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                eval(port, &path, "{{ 1 | jq('def f: f; f') }}", ADMIN_BASIC)
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = calls.into_iter().map(|c| c.join().unwrap()).collect();
    for (status, body) in &answers {
        assert!(
            *status == 422 || *status == 503,
            "a deadline (422) or no free slot (503): {status} {body}"
        );
    }
    // Stopped by its deadline or by the step budget, whichever a machine reaches first.
    assert!(
        answers.iter().any(|(status, body)| *status == 422
            && body["message"].as_str().is_some_and(|m| {
                m.contains("did not finish") || m.contains("evaluation steps")
            })),
        "{answers:?}"
    );
    // The server still answers everything else.
    let (status, _) = http(port, "GET", "/health", None).unwrap();
    assert_eq!(status, 200);
    let (status, body) = http_as(
        port,
        "GET",
        "/api/v1/main/executions",
        None,
        Some(ADMIN_BASIC),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    stop(server);
}

#[test]
fn secret_inputs_and_what_derives_from_them_come_back_masked() {
    let dir = tempfile::tempdir().unwrap();
    let (server, port, path) = server_with_an_execution(dir.path());
    remember_secret("DEBUG-AUDIT-INPUT-4417");
    remember_secret("debug-audit-input");
    for expression in [
        "{{ inputs.pw }}",
        "{{ inputs.pw | upper }}",
        "{{ inputs.pw | replace({'4417': ''}) }}",
        "{{ inputs.pw | base64encode }}",
        "{{ inputs.pw | split('-') | join(' ') }}",
    ] {
        let (status, body) = eval(port, &path, expression, ALICE_BASIC);
        assert_eq!(status, 200, "{expression}: {body}");
        let result = body["result"].as_str().unwrap();
        assert!(result.contains("****"), "{expression}: {result}");
        assert!(
            !result.contains("4417") && !result.contains("audit"),
            "{expression}: {result}"
        );
    }
    stop(server);
}
