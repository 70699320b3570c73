//! Deploying a namespace's flows as Kestra's CLI (`flow namespace update`) and its deploy
//! actions do, replayed as their REST calls: `POST /api/v1/flows/{namespace}` (the older
//! tenant-less path they use, and the tenant form) makes the namespace hold exactly the
//! body's flows unless `delete=false`; an invalid flow or one of another namespace changes
//! nothing; `POST …/flows/bulk` deploys flows of several namespaces.

mod common;

use common::*;
use serde_json::Value;

fn flow(id: &str, namespace: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )
}

/// (id, revision) of the namespace's flows, sorted.
fn stored(port: u16, namespace: &str) -> Vec<(String, u64)> {
    let (status, body) = json(port, "GET", &format!("/api/v1/flows/{namespace}"), None);
    assert_eq!(status, 200, "{body}");
    let mut flows: Vec<(String, u64)> = body
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["namespace"] == namespace)
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["revision"].as_u64().unwrap(),
            )
        })
        .collect();
    flows.sort();
    flows
}

fn post(port: u16, path: &str, body: &str) -> (u16, Value) {
    json(port, "POST", path, Some(("application/x-yaml", body)))
}

#[test]
fn a_namespace_update_replaces_the_namespaces_flows() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(&dir.path().join("data"), port);
    let ns = "company.team";
    // A child namespace's flow is never touched by the parent's update.
    deploy(port, &flow("child", "company.team.sub", "child"));

    // What the deploy action sends: every file of a directory, as one multi-document body.
    let first = format!("{}---\n{}", flow("a", ns, "a1"), flow("b", ns, "b1"));
    let (status, body) = post(port, &format!("/api/v1/flows/{ns}"), &first);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 2, "{body}");
    assert_eq!(stored(port, ns), [("a".into(), 1), ("b".into(), 1)]);

    // Again with b changed and c new: a goes, b gets revision 2, c revision 1.
    let second = format!("{}---\n{}", flow("b", ns, "b2"), flow("c", ns, "c1"));
    let (status, body) = post(port, &format!("/api/v1/main/flows/{ns}"), &second);
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored(port, ns), [("b".into(), 2), ("c".into(), 1)]);
    assert_eq!(stored(port, "company.team.sub"), [("child".into(), 1)]);

    // `delete=false` keeps the others; an unchanged flow keeps its revision.
    let third = format!("{}---\n{}", flow("c", ns, "c1"), flow("d", ns, "d1"));
    let (status, body) = post(port, &format!("/api/v1/flows/{ns}?delete=false"), &third);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        stored(port, ns),
        [("b".into(), 2), ("c".into(), 1), ("d".into(), 1)]
    );

    // One invalid flow, one of another namespace, one id twice: 422 and nothing changes.
    let invalid = format!(
        "{}---\nid: broken\nnamespace: {ns}\ntasks: 3\n",
        flow("e", ns, "e")
    );
    let (status, body) = post(port, &format!("/api/v1/flows/{ns}"), &invalid);
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("nothing was stored"), "{body}");
    let elsewhere = flow("f", "company.other", "f");
    let (status, body) = post(port, &format!("/api/v1/flows/{ns}"), &elsewhere);
    assert_eq!(status, 422, "{body}");
    assert!(
        message(&body).contains("not in namespace company.team"),
        "{body}"
    );
    let twice = format!("{}---\n{}", flow("g", ns, "1"), flow("g", ns, "2"));
    let (status, body) = post(port, &format!("/api/v1/flows/{ns}"), &twice);
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        stored(port, ns),
        [("b".into(), 2), ("c".into(), 1), ("d".into(), 1)]
    );

    // The validation the deploy action runs first.
    let (status, body) = post(port, "/api/v1/flows/validate", &invalid);
    assert_eq!(status, 200, "{body}");
    assert!(body[0]["constraints"].is_null() && body[1]["constraints"].is_string());

    // Bulk: several namespaces; with `namespace`, that one's other flows go.
    let bulk = format!(
        "{}---\n{}",
        flow("b", ns, "b3"),
        flow("x", "company.data", "x")
    );
    let (status, body) = post(port, &format!("/api/v1/flows/bulk?namespace={ns}"), &bulk);
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored(port, ns), [("b".into(), 3)]);
    assert_eq!(stored(port, "company.data"), [("x".into(), 1)]);
    stop(server);
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

/// Runs `saker` with `args` (no data directory needed: it only calls the server).
fn saker(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(args)
        .env_remove("SAKER_API_TOKEN")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn kestras_cli_shapes_deploy_and_validate_against_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let url = format!("http://127.0.0.1:{port}");
    let ns = "company.team";
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(flows.join("sub")).unwrap();
    std::fs::write(flows.join("a.yml"), flow("a", ns, "a")).unwrap();
    std::fs::write(flows.join("sub/b.yaml"), flow("b", ns, "b")).unwrap();
    std::fs::write(flows.join("notes.txt"), "not a flow").unwrap();

    // As a CI step runs Kestra's CLI: user and password, then a token.
    let flows_dir = flows.to_str().unwrap();
    let user = ["--user", "admin:Admin-pass-2026!"];
    let mut args = vec![
        "flow",
        "namespace",
        "update",
        ns,
        flows_dir,
        "--server",
        &url,
    ];
    args.extend(user);
    let (ok, out, err) = saker(&args);
    assert!(ok, "{out}{err}");
    assert!(out.contains("company.team.a revision 1"), "{out}");
    assert!(err.contains("2 flow(s) deployed"), "{err}");
    let list = |port| {
        let (status, body) = http_as(
            port,
            "GET",
            "/api/v1/main/flows/company.team",
            None,
            Some(ADMIN_BASIC),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let mut ids: Vec<String> = serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(list(port), ["a", "b"]);

    // b's file goes; with --no-delete b stays, without it b is deleted.
    std::fs::remove_file(flows.join("sub/b.yaml")).unwrap();
    let (ok, out, err) = saker(&[&args[..], &["--no-delete"]].concat());
    assert!(ok, "{out}{err}");
    assert_eq!(list(port), ["a", "b"]);
    let (ok, out, err) = saker(&args);
    assert!(ok, "{out}{err}");
    assert_eq!(list(port), ["a"]);

    // A token works too; wrong credentials are the server's 401, exit code 1.
    let (ok, out, err) = saker_cli(
        &data,
        &config,
        &["token", "create", "admin", "--name", "ci"],
        "",
    );
    assert!(ok, "{err}");
    let token = out.lines().last().unwrap_or_default().trim().to_owned();
    std::fs::write(flows.join("c.yml"), flow("c", ns, "c")).unwrap();
    let (ok, out, err) = saker(&[
        "flow",
        "namespace",
        "update",
        ns,
        flows_dir,
        "--server",
        &url,
        "--api-token",
        &token,
    ]);
    assert!(ok, "{out}{err}");
    assert_eq!(list(port), ["a", "c"]);
    let (ok, _, err) = saker(&[
        "flow",
        "namespace",
        "update",
        ns,
        flows_dir,
        "--server",
        &url,
        "--user",
        "admin:wrong",
    ]);
    assert!(!ok);
    assert!(err.contains("the server answered 401"), "{err}");

    // Validation by the server: the invalid document is reported and the exit code is 1.
    std::fs::write(
        flows.join("broken.yml"),
        format!("id: broken\nnamespace: {ns}\ntasks: 3\n"),
    )
    .unwrap();
    let mut args = vec!["flow", "validate", flows_dir, "--server", &url];
    args.extend(user);
    let (ok, out, err) = saker(&args);
    assert!(!ok, "{out}{err}");
    assert!(out.contains("document 1:"), "{out}");
    assert!(
        err.contains("company.team.a: valid") && err.contains("1 invalid flow(s)"),
        "{err}"
    );
    stop(server);
}
