//! A namespace's own secret backend through the real binary (issue 15 item 4): the instance
//! keeps the jdbc store while namespace `acme` is given the Vault test server of the secrets
//! crate's tests, with `saker namespace secret-manager set|show|remove` and with
//! `PUT|GET|DELETE /api/v1/{tenant}/namespaces/{ns}/secret-manager`. The Vault token is never
//! printed, never answered and never in the data directory in plaintext.

mod common;
#[allow(dead_code)] // this file uses part of the test server
#[path = "../../secrets/tests/vault/server.rs"]
mod vault_server;

use std::path::Path;

use common::*;
use serde_json::{Value, json};
use vault_server::{ROOT_TOKEN, VaultServer};

fn manager_file(dir: &Path, vault: &VaultServer) -> std::path::PathBuf {
    let path = dir.join("acme-vault.yml");
    std::fs::write(
        &path,
        format!(
            "type: vault\nvault:\n  address: {}\n  token:\n    token: {ROOT_TOKEN}\n  \
             secret-path-prefix: saker\n",
            vault.address
        ),
    )
    .unwrap();
    path
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            std::fs::read(e.path())
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .map(|e| e.path().display().to_string())
        .collect()
}

#[test]
fn the_cli_sets_shows_and_removes_a_namespace_backend() {
    let vault = VaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "saker: {}\n");
    let file = manager_file(dir.path(), &vault);
    let file = file.to_str().unwrap();

    let (ok, out, err) = saker_cli(
        &data,
        &config,
        &["namespace", "secret-manager", "set", "acme", "--file", file],
        "",
    );
    assert!(ok, "{err}");
    assert!(out.contains("****"), "{out}");
    assert!(!format!("{out}{err}").contains(ROOT_TOKEN));

    // A secret of a child namespace now lands in Vault, in Saker's layout.
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["secret", "set", "acme", "API_KEY"],
        "in-vault-value",
    );
    assert!(ok, "{err}");
    assert_eq!(
        vault.current_value("secret", "saker/main/acme/API_KEY"),
        Some(json!({"value": "in-vault-value"}))
    );
    // Other namespaces stay in the jdbc store.
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["secret", "set", "other", "API_KEY"],
        "in-jdbc-value",
    );
    assert!(ok, "{err}");
    assert_eq!(
        vault.current_value("secret", "saker/main/other/API_KEY"),
        None
    );

    // A flow in a child of `acme` resolves from Vault, one in a child of `other` from jdbc.
    // (Each compares the value in two pieces, so that its stored source does not hold it.)
    for (namespace, expected) in [("acme.team", "in-vault"), ("other.team", "in-jdbc")] {
        let flow = dir.path().join(format!("{namespace}.yml"));
        std::fs::write(
            &flow,
            format!(
                "id: f\nnamespace: {namespace}\ntasks:\n  - id: check\n    type: \
                 io.kestra.plugin.scripts.shell.Commands\n    env:\n      \
                 V: \"{{{{ secret('API_KEY') }}}}\"\n    commands:\n      - 'if [ \
                 \"${{V%-value}}\" = {expected} ]; then echo resolved-{expected}; \
                 else echo resolved-elsewhere; fi'\n"
            ),
        )
        .unwrap();
        let (ok, out, err) =
            saker_cli(&data, &config, &["flow", "run", flow.to_str().unwrap()], "");
        assert!(ok, "{out}{err}");
        let shown = format!("{out}{err}");
        assert!(
            shown.contains(&format!("check resolved-{expected}")),
            "{shown}"
        );
    }

    let (ok, out, err) = saker_cli(
        &data,
        &config,
        &["namespace", "secret-manager", "show", "acme"],
        "",
    );
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["vault"]["token"], json!("****"));
    assert_eq!(shown["vault"]["address"], json!(vault.address));

    assert_eq!(
        files_holding(&data, ROOT_TOKEN),
        Vec::<String>::new(),
        "the Vault token is stored in plaintext"
    );

    let remove = ["namespace", "secret-manager", "remove", "acme"];
    let (ok, _, err) = saker_cli(&data, &config, &remove, "");
    assert!(ok, "{err}");
    let (ok, _, err) = saker_cli(&data, &config, &remove, "");
    assert!(!ok);
    assert!(err.contains("had no backend"), "{err}");
    // Back on the jdbc store: Vault keeps its old value.
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["secret", "set", "acme", "API_KEY"],
        "in-jdbc-now",
    );
    assert!(ok, "{err}");
    assert_eq!(
        vault.current_value("secret", "saker/main/acme/API_KEY"),
        Some(json!({"value": "in-vault-value"}))
    );

    // A bad file names the key and stores nothing.
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "type: vault\nvault:\n  address: 5\n").unwrap();
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &[
            "namespace",
            "secret-manager",
            "set",
            "acme",
            "--file",
            bad.to_str().unwrap(),
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("vault.address"), "{err}");
}

#[test]
fn the_api_never_answers_the_token_and_names_bad_keys() {
    let vault = VaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start_server(&data, port);
    // Every response read from here on is scanned for the token and its encodings.
    remember_secret(ROOT_TOKEN);
    let path = "/api/v1/main/namespaces/acme/secret-manager";
    let document = json!({"type": "vault", "read-only": true,
        "vault": {"address": vault.address, "token": {"token": ROOT_TOKEN}}})
    .to_string();

    let (status, body) = json(port, "GET", path, None);
    assert_eq!(status, 404, "{body}");
    let (status, body) = json(port, "PUT", path, Some(("application/json", &document)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vault"]["token"], json!("****"));
    assert_eq!(body["read-only"], json!(true));
    let (status, body) = json(port, "GET", path, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vault"]["token"], json!("****"));

    // Read-only in that namespace only.
    let (status, body) = json(
        port,
        "PUT",
        "/api/v1/main/namespaces/acme.team/secrets",
        Some(("application/json", r#"{"key": "K", "value": "v"}"#)),
    );
    assert_eq!(status, 405, "{body}");
    assert!(message_of(&body).contains("read-only"), "{body}");
    let (status, body) = json(
        port,
        "PUT",
        "/api/v1/main/namespaces/other/secrets",
        Some(("application/json", r#"{"key": "K", "value": "v"}"#)),
    );
    assert_eq!(status, 200, "{body}");

    for (bad, key) in [
        (
            json!({"type": "vault", "vault": {"address": 5}}),
            "vault.address",
        ),
        (json!({"type": "jdbc"}), "type"),
        (json!({"type": "vault", "cache": {}}), "cache"),
    ] {
        let (status, body) = json(
            port,
            "PUT",
            path,
            Some(("application/json", &bad.to_string())),
        );
        assert_eq!(status, 400, "{body}");
        assert!(message_of(&body).contains(key), "{key}: {body}");
    }

    let (status, _) = json(port, "DELETE", path, None);
    assert_eq!(status, 204);
    let (status, _) = json(port, "DELETE", path, None);
    assert_eq!(status, 404);
    stop(server);
}

fn message_of(body: &Value) -> String {
    body["message"].as_str().unwrap_or_default().to_owned()
}
