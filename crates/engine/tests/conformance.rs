//! Runs every flow of Kestra's conformance set (`../shared/conformance/kestra-flows/`) and
//! checks what `conformance.yaml` says Kestra's tests expect of it.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use saker_crypto::{Keyring, SecretKey};
use saker_engine::{Engine, EngineParts, KeyringSealer, display_masked};
use saker_model::{DEFAULT_TENANT, Execution};
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::{Map, Value};

fn conformance_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SAKER_CONFORMANCE_DIR") {
        return PathBuf::from(dir).join("kestra-flows");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kestra-flows")
}

const MY_SECRET: &str =
    r#"{"secretKey": "passwordveryveryveyrlongpasswordveryveryveyrlongpassword"}"#;
const NEW_LINE: &str = "passwordveryveryveyrlongpassword\nsecondlinepasswordveryveryveyrlong";

fn engine_parts(store: Arc<dyn Store>) -> EngineParts {
    let mut parts = EngineParts::new(store);
    parts.sealer = Some(Arc::new(KeyringSealer::new(Keyring::new(
        SecretKey::generate(),
    ))));
    parts.secrets = Arc::new(common::KeyedSecrets::new([
        ("my_secret", MY_SECRET.to_owned()),
        ("new_line", NEW_LINE.to_owned()),
    ]));
    parts.globals.envs.insert("test1".into(), "true".into());
    parts
        .globals
        .envs
        .insert("test2".into(), "Pierre Dupont".into());
    let globals: Value =
        serde_json::json!({"string": "string", "int": 1, "bool": true, "nested": {"int": 2}});
    parts.globals.globals = globals.as_object().unwrap().clone();
    parts
}

fn expectations() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let node = saker_model::yaml::parse(&text).unwrap();
    node.to_json().as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_conformance_flows_run_as_kestra_expects() {
    let dir = conformance_dir();
    assert!(
        dir.is_dir(),
        "conformance flows not found at {} (set SAKER_CONFORMANCE_DIR)",
        dir.display()
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let storage = tempfile::tempdir().unwrap();
    let mut parts = engine_parts(store.clone());
    parts.storage = Some(Arc::new(saker_storage::LocalStorage::new(storage.path())));
    let engine = Arc::new(Engine::start(parts));
    let cases = expectations();

    // Every flow file has an expectation, so a new file cannot slip through untested.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let covered: Vec<&str> = cases.iter().map(|c| c["file"].as_str().unwrap()).collect();
    for f in &files {
        assert!(
            covered.contains(&f.as_str()),
            "no expectation for {f} in conformance.yaml"
        );
    }

    let mut running = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let file = case["file"].as_str().unwrap().to_owned();
        let source = std::fs::read_to_string(dir.join(&file)).unwrap();
        let (flow, saved) = match engine.deploy(DEFAULT_TENANT, &source) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{file}: does not deploy: {e}"));
                continue;
            }
        };
        let inputs = case["inputs"].as_object().cloned().unwrap_or_default();
        let uploads = case["files"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(input, content)| saker_engine::files::InputUpload {
                input: input.clone(),
                file_name: format!("{input}.txt"),
                bytes: content.as_str().unwrap_or_default().as_bytes().to_vec(),
            })
            .collect();
        let created = engine.create_execution_with_files(
            DEFAULT_TENANT,
            flow,
            saved.flow.revision,
            inputs,
            Map::new(),
            uploads,
        );
        match (created, case["createError"].as_str()) {
            (Err(e), Some(expected)) if e.to_string().contains(expected) => {}
            (Err(e), _) => failures.push(format!("{file}: creation failed: {e}")),
            (Ok(_), Some(expected)) => {
                failures.push(format!("{file}: creation should fail with '{expected}'"))
            }
            (Ok(execution), None) => {
                let engine = engine.clone();
                running.push((
                    file,
                    case.clone(),
                    tokio::spawn(async move {
                        tokio::time::timeout(Duration::from_secs(60), engine.wait(&execution.id))
                            .await
                    }),
                ));
            }
        }
    }
    for (file, case, handle) in running {
        match handle.await.unwrap() {
            Ok(Some(execution)) => check(&file, &case, &execution, store.as_ref(), &mut failures),
            Ok(None) => failures.push(format!("{file}: execution vanished")),
            Err(_) => failures.push(format!("{file}: did not end within 60 s")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} conformance failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check(
    file: &str,
    case: &Value,
    execution: &Execution,
    store: &dyn Store,
    failures: &mut Vec<String>,
) {
    let mut fail = |m: String| failures.push(format!("{file}: {m}"));
    let logs: Vec<String> = store
        .list_logs(&LogQuery::new(&execution.id))
        .unwrap()
        .into_iter()
        .map(|l| l.entry.message)
        .collect();
    if let Some(state) = case["state"].as_str()
        && execution.state.current.as_str() != state
    {
        fail(format!(
            "state {} instead of {state}; logs: {logs:?}",
            execution.state.current
        ));
    }
    let runs: HashMap<&str, &saker_model::TaskRun> = execution
        .task_run_list
        .iter()
        .map(|r| (r.task_id.as_str(), r))
        .collect();
    for (task, state) in case["taskRuns"].as_object().into_iter().flatten() {
        match runs.get(task.as_str()) {
            Some(run) if run.state.current.as_str() == state.as_str().unwrap() => {}
            Some(run) => fail(format!(
                "task {task} ended {} instead of {state}",
                run.state.current
            )),
            None => fail(format!("task {task} has no task run")),
        }
    }
    for task in case["absent"].as_array().into_iter().flatten() {
        if runs.contains_key(task.as_str().unwrap()) {
            fail(format!("task {task} should not have run"));
        }
    }
    for (task, expected) in case["attempts"].as_object().into_iter().flatten() {
        let got = runs.get(task.as_str()).map_or(0, |r| r.attempts.len()) as u64;
        let ok = match expected {
            Value::Number(n) => n.as_u64() == Some(got),
            Value::Object(m) => m["min"].as_u64().is_some_and(|min| got >= min),
            _ => false,
        };
        if !ok {
            fail(format!(
                "task {task} made {got} attempt(s), expected {expected}"
            ));
        }
    }
    for text in case["logsContain"].as_array().into_iter().flatten() {
        let text = text.as_str().unwrap();
        if !logs.iter().any(|l| l.contains(text)) {
            fail(format!("no log line contains {text:?}; logs: {logs:?}"));
        }
    }
    for text in case["logsAbsent"].as_array().into_iter().flatten() {
        let text = text.as_str().unwrap();
        if logs.iter().any(|l| l.contains(text)) {
            fail(format!("a log line contains {text:?}"));
        }
    }
    if let Some(expected) = case.get("outputs") {
        let shown = display_masked(&Value::Object(execution.outputs.clone()));
        if &shown != expected {
            fail(format!("outputs {shown} instead of {expected}"));
        }
    }
    for (task, outputs) in case["taskOutputs"].as_object().into_iter().flatten() {
        let Some(run) = runs.get(task.as_str()) else {
            fail(format!("task {task} has no task run"));
            continue;
        };
        let shown = display_masked(&Value::Object(run.outputs.clone()));
        for (name, value) in outputs.as_object().unwrap() {
            if !shown.get(name).is_some_and(|got| includes(got, value)) {
                fail(format!(
                    "task {task} output {name} is {:?}, expected {value}",
                    shown.get(name)
                ));
            }
        }
    }
}

/// `got` equals `expected`, except that an expected object only needs its own keys.
fn includes(got: &Value, expected: &Value) -> bool {
    match (got, expected) {
        (Value::Object(g), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| includes(gv, v))),
        _ => got == expected,
    }
}
