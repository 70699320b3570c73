//! Killing executions, task timeouts and secret inputs without a key, through the engine API.

use std::sync::Arc;
use std::time::Duration;

use saker_engine::{Engine, EngineError, EngineParts};
use saker_model::{DEFAULT_TENANT, StateType};
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::{Map, Value};

fn engine() -> (Engine, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    (Engine::start(EngineParts::new(store.clone())), store)
}

async fn run(
    engine: &Engine,
    source: &str,
    inputs: Map<String, Value>,
) -> Result<saker_model::Execution, EngineError> {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source)?;
    let execution = engine.create_execution(DEFAULT_TENANT, flow, saved.flow.revision, inputs)?;
    Ok(
        tokio::time::timeout(Duration::from_secs(30), engine.wait(&execution.id))
            .await
            .expect("the execution did not end")
            .expect("the execution exists"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_running_execution_stops_its_process_and_ends_killed() {
    let (engine, store) = engine();
    let source = "id: k\nnamespace: n\ntasks:\n  - id: long\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands: ['echo started', 'sleep 30']\n  - id: after\n    type: Log\n    message: never\n";
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let execution = engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, Map::new())
        .unwrap();
    // Wait until the process printed its first line, then kill.
    for _ in 0..200 {
        let logs = store.list_logs(&LogQuery::new(&execution.id)).unwrap();
        if logs.iter().any(|l| l.entry.message == "started") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    engine.kill(&execution.id).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(10), engine.wait(&execution.id))
        .await
        .expect("kill did not stop the execution")
        .unwrap();
    assert_eq!(done.state.current, StateType::Killed);
    assert_eq!(
        done.task_run("long").unwrap().state.current,
        StateType::Killed
    );
    assert!(done.task_run("after").is_none());
    let history: Vec<StateType> = done.state.histories.iter().map(|h| h.state).collect();
    assert_eq!(
        history,
        [
            StateType::Created,
            StateType::Running,
            StateType::Killing,
            StateType::Killed
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_over_its_timeout_fails() {
    let (engine, store) = engine();
    let source = "id: t\nnamespace: n\ntasks:\n  - id: slow\n    type: io.kestra.plugin.scripts.shell.Commands\n    timeout: PT0.3S\n    commands: ['sleep 20']\n";
    let done = run(&engine, source, Map::new()).await.unwrap();
    assert_eq!(done.state.current, StateType::Failed);
    let logs = store.list_logs(&LogQuery::new(&done.id)).unwrap();
    assert!(
        logs.iter()
            .any(|l| l.entry.message.contains("timed out after 0.300s")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_inputs_need_an_encryption_key() {
    let (engine, _) = engine();
    let source = "id: s\nnamespace: n\ninputs:\n  - id: pw\n    type: SECRET\ntasks:\n  - id: a\n    type: Log\n    message: hi\n";
    let mut inputs = Map::new();
    inputs.insert("pw".into(), Value::String("hunter2-long-enough".into()));
    let err = run(&engine, source, inputs).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("encryption.secret-key"), "{text}");
    assert!(text.contains("openssl rand -base64 32"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_flow_between_tasks_and_runif_skips() {
    let (engine, _) = engine();
    let source = "id: o\nnamespace: n\ntasks:\n  - id: one\n    type: Return\n    format: '{{ 20 + 1 }}'\n  - id: two\n    type: Return\n    format: '{{ (outputs.one.value | number) * 2 }}'\n  - id: skipped\n    type: Log\n    runIf: \"{{ outputs.two.value == '0' }}\"\n    message: no\n";
    let done = run(&engine, source, Map::new()).await.unwrap();
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(done.task_run("two").unwrap().outputs["value"], "42");
    assert_eq!(
        done.task_run("skipped").unwrap().state.current,
        StateType::Skipped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triggered_execution_records_its_trigger_and_sees_trigger_variables() {
    let (engine, store) = engine();
    let source = "id: w\nnamespace: n\ntasks:\n  - id: show\n    type: Return\n    format: '{{ trigger.id }}/{{ trigger.body.name }}'\ntriggers:\n  - id: hook\n    type: Webhook\n    key: k\n";
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let mut variables = Map::new();
    variables.insert("body".into(), serde_json::json!({"name": "Ada"}));
    let trigger = saker_model::ExecutionTrigger {
        id: "hook".into(),
        type_name: "io.kestra.plugin.core.trigger.Webhook".into(),
        variables,
    };
    let created = engine
        .create_execution_triggered(
            DEFAULT_TENANT,
            flow,
            saved.flow.revision,
            Map::new(),
            trigger.clone(),
        )
        .unwrap();
    assert_eq!(created.trigger.as_deref(), Some(&trigger));
    let done = tokio::time::timeout(Duration::from_secs(30), engine.wait(&created.id))
        .await
        .expect("the execution did not end")
        .expect("the execution exists");
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(done.task_run("show").unwrap().outputs["value"], "hook/Ada");
    // The trigger is stored with the execution.
    let stored = store.get_execution(&created.id).unwrap().unwrap();
    assert_eq!(stored.trigger.as_deref(), Some(&trigger));
}
