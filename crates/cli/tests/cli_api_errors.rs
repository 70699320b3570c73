//! A 500 tells the client nothing of its cause: `internal error (correlation id …)`, with
//! the cause in the server's log under the same id.

mod common;

use common::*;
#[test]
fn an_internal_error_answers_a_correlation_id_and_logs_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let port = free_port();
    let server = start_server_logging(&data, port, None, &[], Some(&log));
    deploy(
        port,
        "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    let (status, execution) = json(port, "POST", "/api/v1/main/executions/company.team/f", None);
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    wait_for_state(port, &id, "SUCCESS");
    // A stored row that no longer decodes: the store's error names the table and the row.
    let db = rusqlite::Connection::open(data.join("saker.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let changed = db
        .execute(
            "UPDATE executions SET doc = 'not json at all' WHERE id = ?1",
            [&id],
        )
        .unwrap();
    assert_eq!(changed, 1);

    let (status, body) = json(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
    assert_eq!(status, 500, "{body}");
    let message = body["message"].as_str().unwrap();
    let correlation = message
        .strip_prefix("internal error (correlation id ")
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no correlation id in: {message}"));
    assert!(!correlation.is_empty());
    for internal in ["executions", "corrupt", "json", "table"] {
        assert!(!message.contains(internal), "{internal} in {message}");
    }
    stop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains(correlation))
        .unwrap_or_else(|| panic!("the correlation id is not in the log:\n{logged}"));
    assert!(line.contains("executions"), "the cause is logged: {line}");
}
