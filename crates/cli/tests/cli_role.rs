//! `saker role list|create|delete`: roles made on the command line, bound with `saker user
//! bind`, decide what a user may do through the API.

mod common;

use base64::Engine as _;
use common::*;

const ALICE_PASSWORD: &str = "Alice-pass-2026!";

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn flow(namespace: &str) -> String {
    format!(
        "id: hello\nnamespace: {namespace}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
}

#[test]
fn roles_are_created_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        &format!(
            "{ADMIN_CONFIG}  security:\n    default-role:\n      name: viewer\n      permissions:\n        FLOW: [READ]\n"
        ),
    );
    let run = |args: &[&str]| saker_cli(&data, &config, args, "");

    let (ok, _, err) = run(&[
        "role",
        "create",
        "flow-editor",
        "--description",
        "edits flows",
        "--permission",
        "FLOW=CREATE,READ,UPDATE",
        "--permission",
        "EXECUTION=ALL",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("created role flow-editor"), "{err}");
    let (ok, list, err) = run(&["role", "list"]);
    assert!(ok, "{err}");
    let line = list
        .lines()
        .find(|l| l.starts_with("flow-editor"))
        .unwrap_or_else(|| panic!("flow-editor is not listed: {list}"));
    assert!(line.contains("edits flows"), "{line}");
    assert!(
        line.contains("FLOW=CREATE,READ,UPDATE EXECUTION=CREATE,READ,UPDATE,DELETE"),
        "{line}"
    );
    assert!(
        list.lines().any(|l| l.starts_with("viewer")),
        "the configured default role is listed: {list}"
    );
    // Roles are per tenant.
    let (ok, list, _) = run(&["role", "list", "--tenant", "staging"]);
    assert!(ok && list.trim().is_empty(), "{list}");

    // Refusals name the problem.
    for (args, expected) in [
        (
            &["role", "create", "flow-editor", "--permission", "FLOW=READ"][..],
            "already exists",
        ),
        (
            &["role", "create", "x", "--permission", "FLOWS=READ"][..],
            "unknown permission",
        ),
        (
            &["role", "create", "x", "--permission", "FLOW=RUN"][..],
            "unknown action",
        ),
        (
            &["role", "create", "x", "--permission", "AUDITLOG=DELETE"][..],
            "AUDITLOG",
        ),
        (
            &["role", "create", "a/b", "--permission", "FLOW=READ"][..],
            "invalid role name",
        ),
        (
            &["role", "create", "admin", "--permission", "FLOW=READ"][..],
            "built in",
        ),
        (&["role", "delete", "viewer"][..], "security.default-role"),
        (
            &["role", "delete", "viewer", "--force"][..],
            "security.default-role",
        ),
        (&["role", "delete", "ghost"][..], "no role named ghost"),
    ] {
        let (ok, _, err) = run(args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(expected), "{args:?}: {err}");
    }

    // A bound role is kept until --force.
    let (ok, _, err) = saker_cli(
        &data,
        &config,
        &["user", "add", "alice"],
        "Alice-pass-2026!\n",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(&[
        "user",
        "bind",
        "alice",
        "flow-editor",
        "--namespace",
        "company.team",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["role", "delete", "flow-editor"]);
    assert!(!ok);
    assert!(
        err.contains("still bound 1 time") && err.contains("--force"),
        "{err}"
    );
    let (ok, _, err) = run(&["role", "delete", "flow-editor", "--force"]);
    assert!(ok, "{err}");
    assert!(err.contains("and its 1 binding"), "{err}");
    let (ok, list, _) = run(&["role", "list"]);
    assert!(ok && !list.contains("flow-editor"), "{list}");

    // An unbound role goes without --force.
    let (ok, _, err) = run(&["role", "create", "spare", "--permission", "SECRET=READ"]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["role", "delete", "spare"]);
    assert!(ok, "{err}");
}

#[test]
fn a_role_made_on_the_command_line_decides_what_its_user_may_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    let run = |args: &[&str], stdin: &str| saker_cli(&data, &config, args, stdin);
    let (ok, _, err) = run(
        &["role", "create", "flow-reader", "--permission", "FLOW=READ"],
        "",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["user", "add", "alice"], &format!("{ALICE_PASSWORD}\n"));
    assert!(ok, "{err}");
    let (ok, _, err) = run(
        &[
            "user",
            "bind",
            "alice",
            "flow-reader",
            "--namespace",
            "company.team",
        ],
        "",
    );
    assert!(ok, "{err}");

    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let admin = basic("admin", "Admin-pass-2026!");
    let alice = basic("alice", ALICE_PASSWORD);
    for namespace in ["company.team.x", "company.other"] {
        let source = flow(namespace);
        let (status, body) = http_as(
            port,
            "POST",
            "/api/v1/main/flows",
            Some(("application/x-yaml", &source)),
            Some(&admin),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let get = |path: &str| http_as(port, "GET", path, None, Some(&alice)).unwrap();
    let (status, body) = get("/api/v1/main/flows/company.team.x/hello");
    assert_eq!(status, 200, "{body}");
    let (status, body) = get("/api/v1/main/flows/company.other/hello");
    assert_eq!(status, 404, "{body}");
    // READ only: deploying in its own namespace is forbidden.
    let source = flow("company.team.y");
    let (status, body) = http_as(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", &source)),
        Some(&alice),
    )
    .unwrap();
    assert_eq!(status, 403, "{body}");
    stop(server);
}
