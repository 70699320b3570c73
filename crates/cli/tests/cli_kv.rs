//! The KV store through the API and the CLI, and `saker flow deploy`: KVSTORE permissions at
//! the namespace, a sealed value never returned (its stored ciphertext is remembered, so every
//! response is scanned for it), expiry by `ttl` (polled with a deadline, no timing assertion),
//! a flow's copy of a secret stored sealed and read back as `****` through a running server,
//! and flows stored from files as new revisions.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// A sealed value as a flow leaves it: the engine's `$sealed` document (the text is what the
/// test remembers: it must never come back).
const CIPHERTEXT: &str = "v1.c2VhbGVkLWt2LWNpcGhlcnRleHQtZm9yLXRoZS10ZXN0";

fn as_admin(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    call(port, method, path, body, ADMIN_BASIC)
}

fn as_alice(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    call(port, method, path, body, ALICE_BASIC)
}

fn call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    authorization: &str,
) -> (u16, Value) {
    let (status, text) = http_as(
        port,
        method,
        path,
        body.map(|b| ("text/plain", b)),
        Some(authorization),
    )
    .unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The status alone, for the calls whose answer says nothing more.
fn status_of(port: u16, who: &str, method: &str, path: &str, body: Option<&str>) -> u16 {
    call(port, method, path, body, who).0
}

/// A PUT with a `ttl` header (the shared client sends no extra headers); the answer is
/// scanned for remembered secrets like every other.
fn put_with_ttl(port: u16, path: &str, body: &str, ttl: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "PUT {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: {ADMIN_BASIC}\r\nttl: {ttl}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert_no_secret(&format!("PUT {path}"), &response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Writes a sealed entry as the engine would (the server has no key to open it anyway).
fn write_sealed_entry(data: &Path, namespace: &str, key: &str) {
    let db = rusqlite::Connection::open(data.join("saker.db")).unwrap();
    db.execute(
        "INSERT INTO kv_entries (tenant, namespace, key, kv_type, value, sealed, description, \
         created_at, updated_at, expires_at) VALUES ('main', ?1, ?2, 'STRING', ?3, 1, NULL, \
         1764000000000000, 1764000000000000, NULL)",
        rusqlite::params![namespace, key, json!({"$sealed": CIPHERTEXT}).to_string()],
    )
    .unwrap();
}

#[test]
fn the_api_reads_and_writes_under_kvstore_permissions_and_never_returns_a_sealed_value() {
    remember_secret(CIPHERTEXT);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    add_team_user_alice(&data, &config);
    write_sealed_entry(&data, "company.team", "copied");
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));

    let (status, stored) = as_admin(
        port,
        "PUT",
        "/api/v1/main/namespaces/company.team.x/kv/settings",
        Some(r#"{"retries": 3}"#),
    );
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["key"], "settings");
    assert!(stored["creationDate"].is_string() && stored["expirationDate"].is_null());
    for (body, kv_type, value) in [
        (r#""hello""#, "STRING", json!("hello")),
        ("plain words", "STRING", json!("plain words")),
        ("42", "NUMBER", json!(42)),
        ("2026-12-06", "DATE", json!("2026-12-06")),
    ] {
        let (status, _) = as_alice(
            port,
            "PUT",
            "/api/v1/main/namespaces/company.team/kv/typed",
            Some(body),
        );
        assert_eq!(status, 200, "{body}");
        let (status, got) = as_alice(
            port,
            "GET",
            "/api/v1/main/namespaces/company.team/kv/typed",
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(
            got,
            json!({"type": kv_type, "value": value, "sealed": false})
        );
    }
    let (_, got) = as_alice(
        port,
        "GET",
        "/api/v1/main/namespaces/company.team.x/kv/settings",
        None,
    );
    assert_eq!(got["value"]["retries"], 3);

    // The copy of a secret: its type, never its value.
    let (status, got) = as_alice(
        port,
        "GET",
        "/api/v1/main/namespaces/company.team/kv/copied",
        None,
    );
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got,
        json!({"type": "STRING", "value": "****", "sealed": true})
    );
    let (status, list) = as_alice(port, "GET", "/api/v1/main/namespaces/company.team/kv", None);
    assert_eq!(status, 200);
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["copied", "typed"]);

    // Alice's binding covers company.team only.
    assert_eq!(
        status_of(
            port,
            ADMIN_BASIC,
            "PUT",
            "/api/v1/main/namespaces/company.other/kv/k",
            Some("1")
        ),
        200
    );
    // Hidden answers exactly as missing does.
    let (status, hidden) = as_alice(
        port,
        "GET",
        "/api/v1/main/namespaces/company.other/kv/k",
        None,
    );
    assert_eq!(status, 404, "{hidden}");
    assert_eq!(hidden["message"], "KV key k not found in company.other");
    let (status, missing) = as_admin(
        port,
        "GET",
        "/api/v1/main/namespaces/company.other/kv/none",
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(missing["message"], "KV key none not found in company.other");
    assert_eq!(
        status_of(
            port,
            ALICE_BASIC,
            "PUT",
            "/api/v1/main/namespaces/company.other/kv/k",
            Some("2")
        ),
        403
    );
    assert_eq!(
        status_of(
            port,
            ALICE_BASIC,
            "DELETE",
            "/api/v1/main/namespaces/company.other/kv/k",
            None
        ),
        404
    );
    assert_eq!(
        status_of(
            port,
            ALICE_BASIC,
            "GET",
            "/api/v1/main/namespaces/company.team/kv/k",
            None
        ),
        404
    );

    // Bad input is refused with what is wrong.
    let (status, err) = as_admin(
        port,
        "PUT",
        "/api/v1/main/namespaces/company.team/kv/not%20valid",
        Some("1"),
    );
    assert_eq!(status, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not a valid KV key"),
        "{err}"
    );
    assert_eq!(
        put_with_ttl(
            port,
            "/api/v1/main/namespaces/company.team/kv/t",
            "1",
            "soon"
        ),
        400
    );

    // A key with a one-second ttl reads as missing once it passed.
    assert_eq!(
        put_with_ttl(
            port,
            "/api/v1/main/namespaces/company.team/kv/brief",
            "\"x\"",
            "PT1S"
        ),
        200
    );
    let (_, list) = as_alice(port, "GET", "/api/v1/main/namespaces/company.team/kv", None);
    let brief = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "brief")
        .cloned();
    assert!(
        brief.is_some_and(|e| e["expirationDate"].is_string()),
        "{list}"
    );
    eventually("the key never expired", || {
        match as_alice(
            port,
            "GET",
            "/api/v1/main/namespaces/company.team/kv/brief",
            None,
        ) {
            (404, _) => Ok(()),
            (status, body) => Err(format!("{status} {body}")),
        }
    });

    assert_eq!(
        status_of(
            port,
            ALICE_BASIC,
            "DELETE",
            "/api/v1/main/namespaces/company.team/kv/typed",
            None
        ),
        204
    );
    assert_eq!(
        status_of(
            port,
            ALICE_BASIC,
            "DELETE",
            "/api/v1/main/namespaces/company.team/kv/typed",
            None
        ),
        404
    );
    stop(server);
}

#[test]
fn saker_kv_sets_gets_lists_and_deletes_in_the_data_directory() {
    remember_secret(CIPHERTEXT);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "saker: {}\n");
    let kv = |args: &[&str], stdin: &str| {
        let mut all = vec!["kv"];
        all.extend_from_slice(args);
        saker_cli(&data, &config, &all, stdin)
    };
    let (ok, _, err) = kv(&["set", "company.team", "greeting", "hello world"], "");
    assert!(ok, "{err}");
    assert!(err.contains("(STRING)"), "{err}");
    let (ok, _, err) = kv(
        &["set", "company.team", "count", "--type", "NUMBER"],
        "41\n",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = kv(
        &["set", "company.team", "count2", "forty", "--type", "NUMBER"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("kvType NUMBER"), "{err}");
    let (ok, _, err) = kv(&["set", "company.team", "bad key", "x"], "");
    assert!(!ok);
    assert!(err.contains("not a valid KV key"), "{err}");
    let (ok, _, err) = kv(&["set", "company.team", "t", "x", "--ttl", "soon"], "");
    assert!(!ok);
    assert!(err.contains("ttl 'soon'"), "{err}");

    let (ok, out, _) = kv(&["get", "company.team", "greeting"], "");
    assert!(ok);
    assert_eq!(out, "hello world\n");
    let (_, out, _) = kv(&["get", "company.team", "count"], "");
    assert_eq!(out, "41\n");
    let (ok, _, err) = kv(&["get", "company.team", "nope"], "");
    assert!(!ok);
    assert!(
        err.contains("no key nope in namespace company.team"),
        "{err}"
    );

    write_sealed_entry(&data, "company.team", "copied");
    let (ok, out, err) = kv(&["get", "company.team", "copied"], "");
    assert!(ok, "{err}");
    assert_eq!(out, "****\n");
    assert_no_secret("saker kv get", &format!("{out}{err}"));

    let (ok, _, err) = kv(&["set", "company.team", "brief", "x", "--ttl", "PT1H"], "");
    assert!(ok, "{err}");
    let (ok, out, _) = kv(&["list", "company.team"], "");
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("KEY"), "{out}");
    let keys: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(keys, ["brief", "copied", "count", "greeting"]);
    assert!(out.contains("STRING (sealed)"), "{out}");
    assert_no_secret("saker kv list", &out);

    let (ok, _, _) = kv(&["delete", "company.team", "greeting"], "");
    assert!(ok);
    let (ok, _, err) = kv(&["delete", "company.team", "greeting"], "");
    assert!(!ok);
    assert!(err.contains("no key greeting"), "{err}");
}

#[test]
fn saker_flow_deploy_stores_every_flow_of_every_file_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "saker: {}\n");
    let two = dir.path().join("two.yml");
    std::fs::write(
        &two,
        "id: parent\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: parent\n---\nid: child\nnamespace: company.team\ntasks:\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: child\n",
    )
    .unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "id: fine\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: ok\n---\nid: wrong\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Lgo\n    message: ok\n",
    )
    .unwrap();
    let deploy = |files: &[&Path]| {
        let mut args = vec!["flow", "deploy"];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        saker_cli(&data, &config, &args, "")
    };

    let (ok, out, err) = deploy(&[&broken, &two]);
    assert!(!ok);
    assert!(
        out.contains(&format!("{}:12:11: unknown task type", broken.display())),
        "the error is placed in the whole file: {out}"
    );
    assert!(err.contains("nothing deployed"), "{err}");

    let (ok, out, err) = deploy(&[&two]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "company.team.parent revision 1\ncompany.team.child revision 1\n"
    );
    let (ok, out, _) = deploy(&[&two]);
    assert!(ok);
    assert!(
        out.contains("company.team.parent revision 1 (unchanged)"),
        "{out}"
    );

    // The server finds what the CLI stored, and nothing of the refused file.
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let (status, flow) = json(port, "GET", "/api/v1/main/flows/company.team/child", None);
    assert_eq!(status, 200, "{flow}");
    let (status, _) = json(port, "GET", "/api/v1/main/flows/company.team/fine", None);
    assert_eq!(status, 404);
    stop(server);
}

#[test]
fn a_flow_s_copy_of_a_secret_is_stored_sealed_and_read_back_as_stars() {
    const VALUE: &str = "kv-flow-copied-secret-7c21";
    remember_secret(VALUE);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start_server(&data, port);
    let (status, body) = json(
        port,
        "PUT",
        "/api/v1/main/namespaces/company/secrets",
        Some((
            "application/json",
            &format!(r#"{{"key": "TOKEN", "value": "{VALUE}"}}"#),
        )),
    );
    assert_eq!(status, 200, "{body}");
    deploy(
        port,
        "id: copy\nnamespace: company.team\ntasks:\n  - id: copy\n    type: io.kestra.plugin.core.kv.Set\n    key: copied\n    value: \"{{ secret('TOKEN') }}\"\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"copy {{ kv('copied') }}\"\n",
    );
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/copy",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    wait_for_state(port, &id, "SUCCESS");
    let (_, logs) = json(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
    assert!(logs.to_string().contains("copy ****"), "{logs}");
    let (status, got) = json(
        port,
        "GET",
        "/api/v1/main/namespaces/company.team/kv/copied",
        None,
    );
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got,
        json!({"type": "STRING", "value": "****", "sealed": true})
    );
    stop(server);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
}
