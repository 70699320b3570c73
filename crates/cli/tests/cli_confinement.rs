//! Invariant 7 end to end: `saker server local` with its encryption key, its admin password
//! and an env-backend secret in its environment; a flow author's shell task hunts for them
//! through /proc and the data directory and finds nothing. A `kill -9` of the server takes
//! its task processes with it, and the restart removes the interrupted attempt's working
//! directory. Without confinement, no task process starts unless `tasks.confinement: none`.
//! Needs bubblewrap (`scripts/test.sh` installs it).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::Value;

/// 32 bytes, base64: the server's `encryption.secret-key`.
const KEY: &str = "Y29uZmluZS10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGU=";
const PASSWORD: &str = "Admin-pass-2026!";
/// An env-backend secret (`SECRET_<KEY>`, base64 of `env-secret-in-another-ns-42`).
const ENV_SECRET: &str = "ZW52LXNlY3JldC1pbi1hbm90aGVyLW5zLTQy";
const DATA_CANARY: &str = "DATA-DIR-CANARY-31c4";

/// Starts `saker server local` with `envs` added to its environment, as an operator who
/// keeps every secret out of the configuration file would.
fn start_server_env(data: &Path, port: u16, config: &Path, envs: &[(&str, &str)]) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "local", "--port", &port.to_string()])
        .env("SAKER_DATA_DIR", data)
        .env("SAKER_CONFIG", config)
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually("the server answers /health", || {
        match http(port, "GET", "/health", None) {
            Ok((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    child
}

fn call(port: u16, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, Value) {
    let (status, body) = http_as(port, method, path, body, Some(ADMIN_BASIC)).unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn run_flow(port: u16, flow: &str, id: &str) -> String {
    let (status, body) = call(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200, "{body}");
    let (status, execution) = call(
        port,
        "POST",
        &format!("/api/v1/main/executions/company.team/{id}"),
        None,
    );
    assert_eq!(status, 200, "{execution}");
    execution["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_task_finds_nothing_of_the_server_through_proc_or_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // A file in the data directory the task must not read (the key itself comes from the
    // environment here, so no key file is written).
    std::fs::write(data.join("notes.txt"), DATA_CANARY).unwrap();
    let config = write_config(
        dir.path(),
        "saker:\n  server:\n    basic-auth:\n      username: admin\n  secret:\n    type: env\n",
    );
    for secret in [KEY, PASSWORD, ENV_SECRET, DATA_CANARY] {
        remember_secret(secret);
    }
    let port = free_port();
    let server = start_server_env(
        &data,
        port,
        &config,
        &[
            ("SAKER_ENCRYPTION_SECRET_KEY", KEY),
            ("SAKER_SERVER_BASIC_AUTH_PASSWORD", PASSWORD),
            ("SECRET_OTHER_NS_TOKEN", ENV_SECRET),
        ],
    );

    let data_dir = data.display();
    let flow = format!(
        "id: hunt\nnamespace: company.team\ntasks:\n  - id: hunt\n    type: io.kestra.plugin.scripts.shell.Commands\n    failFast: false\n    commands:\n\
         \x20     - tr '\\0' '\\n' < /proc/$PPID/environ\n\
         \x20     - for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ; tr '\\0' ' ' < $p/cmdline; readlink $p/cwd $p/exe; done\n\
         \x20     - ls -la {data_dir} {data_dir}/work\n\
         \x20     - head -c 16 {data_dir}/saker.db | base64\n\
         \x20     - cat {data_dir}/notes.txt\n\
         \x20     - cp {data_dir}/saker.db /tmp/copy.db && echo COPIED-THE-DATA''BASE\n\
         \x20     - find / -xdev -name saker.db 2>/dev/null\n\
         \x20     - echo HUNT-DONE\n"
    );
    let id = run_flow(port, &flow, "hunt");
    let execution = eventually("the hunt ends", || {
        let (_, execution) = call(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
        match execution["state"]["current"].as_str() {
            Some("SUCCESS" | "FAILED" | "WARNING") => Ok(execution),
            _ => Err(execution.to_string()),
        }
    });
    // Every response went through `http_as`, which fails the test if it holds the key, the
    // password, the env secret or the data canary (or their encodings).
    let (status, logs) = call(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
    assert_eq!(status, 200);
    let text = logs.to_string();
    assert_eq!(execution["state"]["current"], "SUCCESS", "{text}");
    assert!(text.contains("HUNT-DONE"), "{text}");
    // (The script spells its success marker apart, so that its own command line, which the
    // /proc walk prints, does not hold it.)
    for found in [
        "COPIED-THE-DATABASE",
        "SAKER_",
        "SECRET_OTHER",
        "U1FMaXRlIGZvcm1hdCAz",
    ] {
        assert!(!text.contains(found), "the task found {found}: {text}");
    }
    assert!(
        !text.contains(env!("CARGO_BIN_EXE_saker")),
        "the task saw the server's executable: {text}"
    );
    stop(server);
}

/// The processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            found.push(name);
        }
    }
    found
}

#[test]
fn kill_9_of_the_server_takes_its_task_processes_and_the_restart_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = start_server(&data, port);
    // A duration no other process uses, and a marker in the script: both show in the
    // command lines of the task's processes.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let marker = format!("confine-marker-{}-{nanos}", std::process::id());
    let sleep = format!("4321.{}", std::process::id());
    let flow = format!(
        "id: sleeper\nnamespace: company.team\ntasks:\n  - id: sleep\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo started\n      - sleep {sleep}\n      - echo {marker}\n"
    );
    deploy(port, &flow);
    let (status, execution) = json(
        port,
        "POST",
        "/api/v1/main/executions/company.team/sleeper",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    eventually("the task runs", || {
        let (_, logs) = json(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
        match logs.to_string().contains("started") && !processes_with(&sleep).is_empty() {
            true => Ok(()),
            false => Err(logs.to_string()),
        }
    });
    assert!(!processes_with(&marker).is_empty());
    let attempts = data.join("work").join(&id);
    let first: Vec<_> = std::fs::read_dir(&attempts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(first.len(), 1, "{first:?}");

    server.kill().unwrap(); // SIGKILL: no destructor, no kill_on_drop runs
    server.wait().unwrap();
    eventually("the task's processes die with the server", || {
        let left = [processes_with(&marker), processes_with(&sleep)].concat();
        match left.is_empty() {
            true => Ok(()),
            false => Err(format!("still running: {left:?}")),
        }
    });

    let port = free_port();
    let server = start_server(&data, port);
    // Recovery ran before the server answered: the interrupted attempt's directory is gone.
    assert!(!first[0].exists(), "{} is still there", first[0].display());
    eventually("the new attempt runs in a directory of its own", || {
        let now: Vec<_> = std::fs::read_dir(&attempts)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        match now.len() == 1 && now[0] != first[0] && !processes_with(&sleep).is_empty() {
            true => Ok(()),
            false => Err(format!("{now:?}")),
        }
    });
    let (status, _) = json(
        port,
        "DELETE",
        &format!("/api/v1/main/executions/{id}/kill"),
        None,
    );
    assert_eq!(status, 200);
    wait_for_state(port, &id, "KILLED");
    eventually(
        "the killed attempt's directory is removed",
        || match attempts.exists() {
            false => Ok(()),
            true => Err(format!("{} is still there", attempts.display())),
        },
    );
    stop(server);
}

const HELLO: &str = "id: hello\nnamespace: company.team\ntasks:\n  - id: hello\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo hello-from-the-task\n";

#[test]
fn without_confinement_tasks_are_refused_unless_none_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flow = dir.path().join("hello.yml");
    std::fs::write(&flow, HELLO).unwrap();
    let flow = flow.to_str().unwrap();

    let config = write_config(
        dir.path(),
        "saker:\n  tasks:\n    bubblewrap-path: /nonexistent/saker-test/bwrap\n",
    );
    let (ok, out, err) = saker_cli(&data, &config, &["flow", "run", flow], "");
    assert!(!ok, "{out}{err}");
    assert!(!out.contains("hello-from-the-task"), "{out}");
    assert!(
        out.contains("tasks.confinement") && out.contains("apt-get install bubblewrap"),
        "the task's error: {out}"
    );
    assert!(
        err.contains("will be refused") && err.contains("/nonexistent/saker-test/bwrap"),
        "the warning at start: {err}"
    );

    let config = write_config(
        dir.path(),
        "saker:\n  tasks:\n    confinement: none\n    bubblewrap-path: /nonexistent/saker-test/bwrap\n",
    );
    let (ok, out, err) = saker_cli(&data, &config, &["flow", "run", flow], "");
    assert!(ok, "{out}{err}");
    assert!(out.contains("hello-from-the-task"), "{out}");
    assert!(
        err.contains("WARN") && err.contains("tasks.confinement is `none`"),
        "{err}"
    );
}
