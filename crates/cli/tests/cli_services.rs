//! `saker server local` as a service instance on PostgreSQL (distributed mode, in
//! progress): it registers as STANDALONE and heartbeats, `saker service list` shows it,
//! SIGTERM ends it TERMINATED_GRACEFULLY, one killed with SIGKILL is declared DISCONNECTED
//! and then NOT_RUNNING by the next server's coordinator, and bad liveness settings stop
//! the server before it starts.

mod common;

#[path = "../../store/tests/common/pg.rs"]
mod pg;

use std::path::Path;
use std::process::{Child, Command};

use common::*;
use serde_json::Value;

/// Fast liveness, so that the test sees a death within seconds.
const LIVENESS: &str = "  server:\n    liveness:\n      interval: 200ms\n      timeout: 1s\n      initial-delay: 1s\n      heartbeat-interval: 100ms\n";

fn config(dir: &Path, url: &str, extra: &str) -> std::path::PathBuf {
    let jdbc = url.replace("postgres://postgres@", "jdbc:postgresql://");
    write_config(
        dir,
        &format!(
            "saker:\n  repository:\n    type: postgres\n{extra}datasources:\n  postgres:\n    url: {jdbc}\n    username: postgres\n"
        ),
    )
}

fn instances(data: &Path, config: &Path) -> Vec<Value> {
    let (ok, out, err) = saker_cli(data, config, &["service", "list", "--json"], "");
    assert!(ok, "{err}");
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn state_of(data: &Path, config: &Path, id: &str) -> String {
    instances(data, config)
        .iter()
        .find(|i| i["id"] == id)
        .map(|i| i["state"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The id of the one instance in `state`, when there is exactly one.
fn only_in_state(data: &Path, config: &Path, state: &str) -> Result<String, String> {
    let all = instances(data, config);
    let found: Vec<&Value> = all.iter().filter(|i| i["state"] == state).collect();
    match found.as_slice() {
        [one] => Ok(one["id"].as_str().unwrap().to_owned()),
        _ => Err(format!("instances: {all:?}")),
    }
}

fn terminate(mut server: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.wait().unwrap();
    assert!(exit.success(), "the server ended with {exit}");
}

#[test]
fn a_standalone_server_registers_heartbeats_and_ends_gracefully() {
    let cluster = pg::PgCluster::start();
    let url = cluster.create_database("saker");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = config(dir.path(), &url, LIVENESS);

    let server = start_server_with(&data, free_port(), Some(&config));
    let first = eventually("a RUNNING instance", || {
        only_in_state(&data, &config, "RUNNING")
    });
    let row = instances(&data, &config)
        .into_iter()
        .find(|i| i["id"] == first.as_str())
        .unwrap();
    assert_eq!(row["type"], "STANDALONE");
    assert!(!row["host"].as_str().unwrap().is_empty());
    let started = row["startedAt"].as_str().unwrap().to_owned();
    eventually("a heartbeat after the start", || {
        let now = instances(&data, &config);
        let beat = now.iter().find(|i| i["id"] == first.as_str()).unwrap()["lastHeartbeat"]
            .as_str()
            .unwrap()
            .to_owned();
        let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
        if parse(&beat) > parse(&started) {
            Ok(())
        } else {
            Err(format!("last heartbeat {beat}, started {started}"))
        }
    });
    let (ok, table, err) = saker_cli(&data, &config, &["service", "list"], "");
    assert!(ok, "{err}");
    assert!(
        table.contains(&first) && table.contains("STANDALONE"),
        "{table}"
    );

    terminate(server);
    assert_eq!(state_of(&data, &config, &first), "TERMINATED_GRACEFULLY");

    // A server killed outright never says goodbye: the next one's coordinator declares it
    // DISCONNECTED once its heartbeat is older than the timeout, then NOT_RUNNING.
    let mut killed = start_server_with(&data, free_port(), Some(&config));
    let second = eventually("the second instance RUNNING", || {
        only_in_state(&data, &config, "RUNNING")
    });
    killed.kill().unwrap();
    killed.wait().unwrap();
    let port = free_port();
    let third = start_server_with(&data, port, Some(&config));
    eventually("the killed instance declared gone", || {
        match state_of(&data, &config, &second).as_str() {
            "DISCONNECTED" | "NOT_RUNNING" => Ok(()),
            other => Err(other.to_owned()),
        }
    });
    eventually("the killed instance NOT_RUNNING", || {
        match state_of(&data, &config, &second).as_str() {
            "NOT_RUNNING" => Ok(()),
            other => Err(other.to_owned()),
        }
    });
    // The first one ended gracefully and stays so; the running one is untouched.
    assert_eq!(state_of(&data, &config, &first), "TERMINATED_GRACEFULLY");
    let running = only_in_state(&data, &config, "RUNNING").unwrap();
    assert!(running != first && running != second);
    // The API shows the same rows.
    let (status, listed) = json(port, "GET", "/api/v1/instance/services", None);
    assert_eq!(status, 200, "{listed}");
    let states: Vec<(String, String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let text = |key: &str| i[key].as_str().unwrap().to_owned();
            (text("id"), text("type"), text("state"))
        })
        .collect();
    for (id, state) in [
        (&first, "TERMINATED_GRACEFULLY"),
        (&second, "NOT_RUNNING"),
        (&running, "RUNNING"),
    ] {
        assert!(
            states.contains(&(id.clone(), "STANDALONE".to_owned(), state.to_owned())),
            "{states:?}"
        );
    }
    terminate(third);
}

#[test]
fn bad_liveness_settings_stop_the_server_naming_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        "saker:\n  server:\n    liveness:\n      timeout: 3s\n      heartbeat-interval: 3s\n",
    );
    let port = free_port().to_string();
    let (ok, _, err) = saker_cli(&data, &config, &["server", "local", "--port", &port], "");
    assert!(!ok);
    assert!(
        err.contains("server.liveness.heartbeat-interval")
            && err.contains("server.liveness.timeout"),
        "{err}"
    );
}

#[test]
fn service_list_needs_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "saker: {}\n");
    let (ok, _, err) = saker_cli(&data, &config, &["service", "list"], "");
    assert!(!ok);
    assert!(err.contains("repository.type: postgres"), "{err}");
}

#[test]
fn on_the_embedded_store_the_api_lists_this_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(&dir.path().join("data"), port);
    let (status, listed) = json(port, "GET", "/api/v1/instance/services", None);
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["type"], "STANDALONE");
    assert_eq!(listed[0]["state"], "RUNNING");
    stop(server);
}
