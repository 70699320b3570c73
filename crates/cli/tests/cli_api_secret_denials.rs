//! Secret requests the API refuses (invariant 4): each leaves a denied event in the audit
//! trail, with the caller, and a refused write says nothing of which keys exist.

mod common;

use common::*;
use serde_json::{Value, json};

/// `admin:Admin-pass-2026!`, the user of [`ADMIN_CONFIG`].
const ADMIN: &str = ADMIN_BASIC;

#[test]
fn refused_secret_requests_are_audited_and_tell_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    add_team_user_alice(&data, &config);
    let (ok, token, err) = saker_cli(
        &data,
        &config,
        &["token", "create", "alice", "--name", "t"],
        "",
    );
    assert!(ok, "{err}");
    let alice = format!("Bearer {}", token.lines().last().unwrap().trim());
    remember_secret(token.lines().last().unwrap().trim());

    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let call = |method: &str, path: &str, body: Option<&str>, auth: &str| {
        let (status, text) = http_as(
            port,
            method,
            path,
            body.map(|b| ("application/json", b)),
            Some(auth),
        )
        .unwrap();
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let value = "other-team-secret-value-5531";
    remember_secret(value);
    let put = json!({"key": "EXISTING", "value": value}).to_string();
    let other = "/api/v1/main/namespaces/company.other/secrets";
    assert_eq!(call("PUT", other, Some(&put), ADMIN).0, 200);

    // A write into a sibling team's namespace: the same 403 whether the key exists or not.
    let attempt = |key: &str| {
        let body = json!({"key": key, "value": "alice-tries-this-value"}).to_string();
        call("PUT", other, Some(&body), &alice)
    };
    let (status, existing) = attempt("EXISTING");
    assert_eq!(status, 403, "{existing}");
    let (status, missing) = attempt("NOT_THERE");
    assert_eq!(status, 403, "{missing}");
    assert_eq!(existing, missing);
    // Reads and deletes of what alice may not see: 404, like a missing secret.
    assert_eq!(call("GET", other, None, &alice).0, 404);
    assert_eq!(
        call("DELETE", &format!("{other}/EXISTING"), None, &alice).0,
        404
    );
    assert_eq!(
        call("POST", &format!("{other}/EXISTING/revoke"), None, &alice).0,
        404
    );

    // Each refusal is in the trail, denied, with alice as the actor.
    let (status, trail) = call(
        "GET",
        "/api/v1/main/auditlogs/search?namespace=company.other&actor=api:alice",
        None,
        ADMIN,
    );
    assert_eq!(status, 200, "{trail}");
    let events: Vec<(String, String, Option<String>)> = trail["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["outcome"], "denied", "{e}");
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["key"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let actions: Vec<&str> = events.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["write", "write", "read", "delete", "revoke"],
        "{trail}"
    );
    assert_eq!(events[0].2.as_deref(), Some("EXISTING"));
    assert_eq!(events[2].2, None, "a listing names no key");
    // The trail still verifies.
    let (ok, out, err) = saker_cli(&data, &config, &["audit", "verify"], "");
    assert!(ok, "{out}{err}");
    stop(server);
}
