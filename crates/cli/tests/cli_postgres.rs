//! `saker server local` on PostgreSQL (`repository.type: postgres`, Kestra's `datasources`
//! keys): flows, executions, logs, secrets, their audit trail, users and the scheduler's
//! trigger states all live in the database, and a restarted server finds them there.

mod common;

#[path = "../../store/tests/common/pg.rs"]
mod pg;

use common::*;
use serde_json::{Value, json};

const ADMIN: &str = ADMIN_BASIC;

const TICKING: &str = "id: ticking\nnamespace: company.team\ntasks:\n  - id: r\n    type: Return\n    format: \"{{ trigger.date }}\"\ntriggers:\n  - id: every_second\n    type: Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n";

const FLOW: &str = "id: pg\nnamespace: company.team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"token {{ secret('PG_TOKEN') }}\"\n";

#[test]
fn a_server_on_postgresql_keeps_everything_in_the_database() {
    let cluster = pg::PgCluster::start();
    let url = cluster.create_database("saker");
    let jdbc = url.replace("postgres://postgres@", "jdbc:postgresql://");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        &format!(
            "saker:\n  repository:\n    type: postgres\n  server:\n    basic-auth:\n      username: admin\n      password: Admin-pass-2026!\ndatasources:\n  postgres:\n    url: {jdbc}\n    username: postgres\n"
        ),
    );
    let call = |port: u16, method: &str, path: &str, body: Option<(&str, &str)>| {
        let (status, text) = http_as(port, method, path, body, Some(ADMIN)).unwrap();
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };

    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let secret = "pg-secret-token-value-8841";
    remember_secret(secret);
    let put = json!({"key": "PG_TOKEN", "value": secret}).to_string();
    let secrets = "/api/v1/main/namespaces/company.team/secrets";
    assert_eq!(
        call(port, "PUT", secrets, Some(("application/json", &put))).0,
        200
    );
    assert_eq!(
        call(
            port,
            "POST",
            "/api/v1/main/flows",
            Some(("application/x-yaml", FLOW))
        )
        .0,
        200
    );
    let (status, ended) = call(
        port,
        "POST",
        "/api/v1/main/executions/company.team/pg?wait=true",
        None,
    );
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    let id = ended["id"].as_str().unwrap().to_owned();
    // A scheduled flow: its trigger state lives in the database too.
    assert_eq!(
        call(
            port,
            "POST",
            "/api/v1/main/flows",
            Some(("application/x-yaml", TICKING))
        )
        .0,
        200
    );
    // A second process may not run executions on the same database meanwhile.
    let other = dir.path().join("other-data");
    let (ok, _, err) = saker_cli(&other, &config, &["server", "local", "--port", "0"], "");
    assert!(!ok);
    assert!(
        err.contains("another Saker process runs executions"),
        "{err}"
    );
    stop(server);
    assert!(!data.join("saker.db").exists(), "nothing went to SQLite");

    // A new process finds the flow, the execution, its masked log, the secret and its trail.
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    assert_eq!(
        call(port, "GET", "/api/v1/main/flows/company.team/pg", None).0,
        200
    );
    let (_, execution) = call(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
    assert_eq!(execution["state"]["current"], "SUCCESS");
    let (_, logs) = call(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
    assert!(logs.to_string().contains("token ****"), "{logs}");
    let (_, listed) = call(port, "GET", secrets, None);
    assert_eq!(listed["results"][0]["key"], "PG_TOKEN", "{listed}");
    let (_, trail) = call(
        port,
        "GET",
        "/api/v1/main/auditlogs/search?key=PG_TOKEN",
        None,
    );
    let actions: Vec<&str> = trail["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["write", "read"], "{trail}");
    // The restarted scheduler goes on from the state it finds: no date starts twice.
    let scheduled = eventually("fewer than 3 scheduled executions", || {
        let (_, page) = call(
            port,
            "GET",
            "/api/v1/main/executions?flowId=ticking&size=100",
            None,
        );
        let results = page["results"].as_array().cloned().unwrap_or_default();
        if results.len() >= 3 {
            Ok(results)
        } else {
            Err(page.to_string())
        }
    });
    let dates: std::collections::HashSet<&str> = scheduled
        .iter()
        .map(|e| e["trigger"]["variables"]["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates.len(), scheduled.len(), "{scheduled:?}");
    let (_, triggers) = call(port, "GET", "/api/v1/main/triggers/search", None);
    assert_eq!(
        triggers["results"][0]["triggerContext"]["triggerId"], "every_second",
        "{triggers}"
    );
    stop(server);
    // The trail verifies from the command line too, on the same database.
    let (ok, out, err) = saker_cli(&data, &config, &["audit", "verify"], "");
    assert!(ok, "{out}{err}");
}
