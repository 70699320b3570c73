//! Kestra's own Python client against `saker server local`: the `kestra` package from the
//! Python package registry (in the venv `scripts/test.sh` installs, named by
//! `SAKER_KESTRA_VENV`) runs a flow with a text and a FILE input, waits for it and reads its
//! logs, with `tenant="main"` and without a tenant (the package's default, Kestra's paths
//! before the tenant moved into them), on a server without users and with an API token and
//! basic authentication. The secret the flow logs comes back masked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

const SECRET: &str = "pyclient-S3cret-Kq8Wz2";

const FLOW: &str = "id: pyclient
namespace: company.team
inputs:
  - id: who
    type: STRING
  - id: data
    type: FILE
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: \"hello {{ inputs.who }}, file says {{ read(inputs.data) }}, key {{ secret('PY_TOKEN') }}\"
";

/// What the client does: `Flow(wait_for_completion=True).execute(...)`, printed as JSON.
const CLIENT: &str = r#"
import json, os, sys
from kestra import Flow
tenant = os.environ.get("CLIENT_TENANT") or None
flow = Flow(wait_for_completion=True, poll_interval=0.2, tenant=tenant)
if os.environ.get("CLIENT_PASSWORD"):
    flow.password = os.environ["CLIENT_PASSWORD"]
with open(os.environ["CLIENT_FILE"], "rb") as f:
    result = flow.execute("company.team", "pyclient", {"who": "x", "data": ("data.txt", f, "text/plain")})
print(json.dumps({"status": result.status, "log": result.log, "error": result.error}))
"#;

fn kestra_python() -> Option<PathBuf> {
    let venv = PathBuf::from(std::env::var_os("SAKER_KESTRA_VENV")?);
    let python = venv.join("bin/python3");
    python.exists().then_some(python)
}

/// Runs the client with `env` and returns what it printed.
fn run_client(python: &Path, dir: &Path, port: u16, env: &[(&str, &str)]) -> Value {
    let file = dir.join("data.txt");
    std::fs::write(&file, "from a file").unwrap();
    let mut command = Command::new(python);
    command
        .args(["-c", CLIENT])
        .env("KESTRA_HOSTNAME", format!("http://127.0.0.1:{port}"))
        .env("CLIENT_FILE", &file)
        .env_remove("KESTRA_USER")
        .env_remove("KESTRA_API_TOKEN");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn assert_ran(result: &Value, how: &str) {
    assert_eq!(result["status"], "SUCCESS", "{how}: {result}");
    let log = result["log"].as_str().unwrap_or_default();
    assert!(
        log.contains("[hello] hello x, file says from a file, key ****"),
        "{how}: {log}"
    );
    assert!(!log.contains(SECRET), "{how}: the secret came back: {log}");
}

#[test]
fn the_kestra_python_client_runs_a_flow_with_and_without_a_tenant() {
    let Some(python) = kestra_python() else {
        eprintln!(
            "SKIPPED: SAKER_KESTRA_VENV names no venv holding the `kestra` package \
             (scripts/test.sh installs one)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(&dir.path().join("data"), port);
    deploy(port, FLOW);
    let body = format!(r#"{{"key": "PY_TOKEN", "value": "{SECRET}"}}"#);
    let (status, answer) = http(
        port,
        "PUT",
        "/api/v1/main/namespaces/company.team/secrets",
        Some(("application/json", &body)),
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");

    let with_tenant = run_client(&python, dir.path(), port, &[("CLIENT_TENANT", "main")]);
    assert_ran(&with_tenant, "tenant main");
    let without = run_client(&python, dir.path(), port, &[]);
    assert_ran(&without, "no tenant");
    stop(server);
}

#[test]
fn the_kestra_python_client_authenticates_with_a_token_or_a_password() {
    let Some(python) = kestra_python() else {
        eprintln!("SKIPPED: SAKER_KESTRA_VENV names no venv holding the `kestra` package");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let (status, answer) = http_as(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", FLOW)),
        Some(ADMIN_BASIC),
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let body = format!(r#"{{"key": "PY_TOKEN", "value": "{SECRET}"}}"#);
    let (status, answer) = http_as(
        port,
        "PUT",
        "/api/v1/main/namespaces/company.team/secrets",
        Some(("application/json", &body)),
        Some(ADMIN_BASIC),
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let (ok, out, err) = saker_cli(
        &data,
        &config,
        &["token", "create", "admin", "--name", "pyclient"],
        "",
    );
    assert!(ok, "{err}");
    let token = out.lines().last().unwrap_or_default().trim().to_owned();

    let by_token = run_client(&python, dir.path(), port, &[("KESTRA_API_TOKEN", &token)]);
    assert_ran(&by_token, "token, no tenant");
    let by_password = run_client(
        &python,
        dir.path(),
        port,
        &[
            ("KESTRA_USER", "admin"),
            ("CLIENT_PASSWORD", "Admin-pass-2026!"),
            ("CLIENT_TENANT", "main"),
        ],
    );
    assert_ran(&by_password, "password, tenant main");
    stop(server);
}
