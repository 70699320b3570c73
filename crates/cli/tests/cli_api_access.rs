//! Who may call the API: Basic credentials, API tokens, and namespace-scoped roles.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn with_basic_auth_configured_only_health_and_open_urls_need_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "saker:\n  server:\n    basic-auth:\n      username: admin@kestra.io\n      password: Change-me-2026!\n      open-urls:\n        - \"/api/v1/main/executions/webhook/\"\n",
    );
    let port = free_port();
    let log = dir.path().join("server.log");
    let server = start_server_logging(
        &dir.path().join("data"),
        port,
        Some(&config),
        &[],
        Some(&log),
    );
    let good = "Basic YWRtaW5Aa2VzdHJhLmlvOkNoYW5nZS1tZS0yMDI2IQ=="; // admin@kestra.io:Change-me-2026!
    let bad = "Basic YWRtaW5Aa2VzdHJhLmlvOndyb25nLXBhc3N3b3JkLTc3MzE="; // admin@kestra.io:wrong-password-7731

    let (status, _) = http(port, "GET", "/health", None).unwrap();
    assert_eq!(status, 200);
    let (status, body) = http(port, "GET", "/api/v1/main/executions", None).unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("authentication required"), "{body}");
    let (status, body) = http_as(port, "GET", "/api/v1/main/executions", None, Some(bad)).unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("wrong"));
    // The failure is in the server's log, with the user and address, never the password.
    let server_log = std::fs::read_to_string(&log).unwrap();
    assert!(server_log.contains("failed login"), "{server_log}");
    assert!(server_log.contains("admin@kestra.io"), "{server_log}");
    assert!(!server_log.contains("wrong-password-7731"), "{server_log}");
    let (status, body) = http_as(
        port,
        "GET",
        "/api/v1/main/executions",
        None,
        Some("Bearer sak_nope_nope"),
    )
    .unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, body) = http_as(port, "GET", "/api/v1/main/executions", None, Some(good)).unwrap();
    assert_eq!(status, 200, "{body}");
    // An open URL is let through without credentials: an unknown webhook is 404, not 401.
    let (status, _) = http(
        port,
        "POST",
        "/api/v1/main/executions/webhook/company.team/f/key",
        None,
    )
    .unwrap();
    assert_eq!(status, 404);
    stop(server);
}

#[test]
fn users_and_api_tokens_made_with_the_cli_open_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["user", "add", "alice"],
        "Alice-pass-2026!\n",
    );
    assert!(ok, "{err}");
    let (ok, token, err) = saker_cli(
        &data,
        &config,
        &[
            "token",
            "create",
            "alice",
            "--name",
            "ci",
            "--expires-in",
            "1d",
        ],
        "",
    );
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("sak_"), "unexpected token shape");
    let (ok, list, _) = saker_cli(&data, &config, &["user", "list"], "");
    assert!(ok);
    assert!(
        list.contains("alice") && !list.contains("Alice-pass"),
        "{list}"
    );
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["token", "create", "bob", "--name", "x"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("no user named bob"), "{err}");

    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let bearer = format!("Bearer {token}");
    let (status, body) =
        http_as(port, "GET", "/api/v1/main/executions", None, Some(&bearer)).unwrap();
    assert_eq!(status, 200, "{body}");
    let alice = ALICE_BASIC;
    let (status, body) =
        http_as(port, "GET", "/api/v1/main/executions", None, Some(alice)).unwrap();
    assert_eq!(status, 200, "{body}");
    let tampered = format!("Bearer {}x", token);
    let (status, _) = http_as(
        port,
        "GET",
        "/api/v1/main/executions",
        None,
        Some(&tampered),
    )
    .unwrap();
    assert_eq!(status, 401);
    stop(server);
}

#[test]
fn a_user_bound_to_a_namespace_sees_it_and_its_children_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    add_team_user_alice(&data, &config);

    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let admin = Some(ADMIN_BASIC);
    let alice = Some(ALICE_BASIC);
    let flow = |ns: &str| {
        format!("id: f\nnamespace: {ns}\ntasks:\n  - id: r\n    type: Return\n    format: x\n")
    };
    let as_json = |r: std::io::Result<(u16, String)>| {
        let (status, body) = r.unwrap();
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
        )
    };
    for ns in ["company.team.x", "company.other"] {
        let (status, body) = as_json(http_as(
            port,
            "POST",
            "/api/v1/main/flows",
            Some(("application/x-yaml", &flow(ns))),
            admin,
        ));
        assert_eq!(status, 200, "{body}");
        let (status, body) = as_json(http_as(
            port,
            "POST",
            &format!("/api/v1/main/executions/{ns}/f"),
            None,
            admin,
        ));
        assert_eq!(status, 200, "{body}");
    }
    // A child namespace of the binding: allowed.
    let (status, _) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/flows/company.team.x/f",
        None,
        alice,
    ));
    assert_eq!(status, 200);
    let (status, e) = as_json(http_as(
        port,
        "POST",
        "/api/v1/main/executions/company.team.x/f",
        None,
        alice,
    ));
    assert_eq!(status, 200, "{e}");
    // A sibling: exactly as if it did not exist.
    let (status, hidden) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/flows/company.other/f",
        None,
        alice,
    ));
    let (_, missing) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/flows/company.other/nope",
        None,
        admin,
    ));
    assert_eq!(status, 404);
    assert_eq!(hidden["message"], "flow company.other.f not found");
    assert_eq!(missing["message"], "flow company.other.nope not found");
    let (status, _) = as_json(http_as(
        port,
        "POST",
        "/api/v1/main/executions/company.other/f",
        None,
        alice,
    ));
    assert_eq!(status, 404);
    let (status, _) = as_json(http_as(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", &flow("company.other"))),
        alice,
    ));
    assert_eq!(status, 403);
    // Listings show only what the binding covers.
    let (status, list) = as_json(http_as(port, "GET", "/api/v1/main/executions", None, alice));
    assert_eq!(status, 200);
    let namespaces: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["namespace"].as_str().unwrap())
        .collect();
    assert!(
        !namespaces.is_empty() && namespaces.iter().all(|ns| *ns == "company.team.x"),
        "{namespaces:?}"
    );
    let (_, list) = as_json(http_as(port, "GET", "/api/v1/main/executions", None, admin));
    assert_eq!(list["results"].as_array().unwrap().len(), 3);
    // Pages are filtered before they are cut, and `total` counts every page.
    let page = "/api/v1/main/executions?size=1&page=1";
    let (_, first) = as_json(http_as(port, "GET", page, None, admin));
    assert_eq!(
        (
            first["results"].as_array().unwrap().len(),
            first["total"].as_u64()
        ),
        (1, Some(3))
    );
    let (_, mine) = as_json(http_as(port, "GET", page, None, alice));
    assert_eq!(mine["results"][0]["namespace"], "company.team.x", "{mine}");
    assert_eq!(mine["total"].as_u64(), Some(namespaces.len() as u64));
    // An execution of the sibling namespace, by id: not found.
    let other = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["namespace"] == "company.other")
        .unwrap();
    let id = other["id"].as_str().unwrap();
    let (status, _) = as_json(http_as(
        port,
        "GET",
        &format!("/api/v1/main/executions/{id}"),
        None,
        alice,
    ));
    assert_eq!(status, 404);
    let (status, _) = as_json(http_as(
        port,
        "GET",
        &format!("/api/v1/main/logs/{id}"),
        None,
        alice,
    ));
    assert_eq!(status, 404);
    // The audit trail is tenant-wide: a namespace binding does not open it.
    let (status, _) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/auditlogs/search",
        None,
        alice,
    ));
    assert_eq!(status, 403);
    let (status, _) = as_json(http_as(
        port,
        "GET",
        "/api/v1/main/auditlogs/search",
        None,
        admin,
    ));
    assert_eq!(status, 200);
    stop(server);
}
