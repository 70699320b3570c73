//! Plugin defaults for a trigger, at run time on a real server: a Webhook trigger whose `key`
//! comes only from `pluginDefaults` answers on that key, and the execution it starts runs a
//! task whose message also comes from a default. `saker plugins list` lists what the catalog
//! has.

mod common;

use common::*;
use serde_json::Value;

const FLOW: &str = r#"id: hooked
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.core.trigger.Webhook
    values:
      key: key-from-a-default-42
  - type: io.kestra.plugin.core.log
    values:
      message: "started by {{ trigger.id }} through the default key"
tasks:
  - id: hello
    type: Log
triggers:
  - id: hook
    type: Webhook
"#;

#[test]
fn a_webhook_key_given_by_a_plugin_default_starts_the_flow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start_server(&data, port);
    deploy(port, FLOW);

    let (status, wrong) = json(
        port,
        "POST",
        "/api/v1/main/executions/webhook/company.team/hooked/some-other-key",
        None,
    );
    assert_eq!(status, 404, "{wrong}");

    let (status, created) = json(
        port,
        "POST",
        "/api/v1/main/executions/webhook/company.team/hooked/key-from-a-default-42",
        None,
    );
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("an execution id").to_owned();
    wait_for_state(port, &id, "SUCCESS");
    let (status, logs) = json(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
    assert_eq!(status, 200, "{logs}");
    let messages: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"started by hook through the default key"),
        "{messages:?}"
    );
    stop(server);
}

#[test]
fn plugins_list_prints_every_type_with_its_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "saker: {}\n");
    let (ok, out, err) = saker_cli(&dir.path().join("data"), &config, &["plugins", "list"], "");
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("task     io.kestra.plugin.core.log.Log")
                && l.contains("io.kestra.core.tasks.log.Log")),
        "{out}"
    );
    let (ok, out, err) = saker_cli(
        &dir.path().join("data"),
        &config,
        &["plugins", "list", "--json"],
        "",
    );
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let log = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "io.kestra.plugin.core.log.Log")
        .expect("Log is listed");
    assert_eq!(log["category"], "task");
    assert_eq!(log["properties"][0]["name"], "message");
    assert_eq!(log["properties"][0]["required"], true);
    let schedule = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "io.kestra.plugin.core.trigger.Schedule")
        .expect("Schedule is listed");
    assert_eq!(
        schedule["outputs"],
        serde_json::json!(["date", "next", "previous"])
    );
}
