//! Subflows through the engine API: a child started with inputs, its outputs reaching the
//! parent, failures passed on or not, and a parent that does not wait.

use std::sync::Arc;
use std::time::Duration;

use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_store::{SqliteStore, Store};
use serde_json::{Map, json};

const CHILD: &str = r#"
id: child
namespace: company.team
inputs:
  - id: name
    type: STRING
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }} x{{ inputs.times }}"
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.name == 'fail' }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
"#;

fn engine() -> (Engine, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    (Engine::start(EngineParts::new(store.clone())), store)
}

async fn run(engine: &Engine, source: &str) -> Execution {
    engine.deploy(DEFAULT_TENANT, CHILD).unwrap();
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let execution = engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, Map::new())
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), engine.wait(&execution.id))
        .await
        .expect("the execution did not end")
        .expect("the execution exists")
}

fn parent(name: &str, extra: &str) -> String {
    format!(
        r#"
id: parent
namespace: company.team
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      name: "{name}"
      times: "{{{{ 1 + 2 }}}}"
{extra}
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.sub.outputs.greeting ?? 'none' }}}}|{{{{ outputs.sub.state ?? 'none' }}}}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subflow_output_reaches_its_parent() {
    let (engine, store) = engine();
    let done = run(&engine, &parent("Ada", "")).await;
    assert_eq!(done.state.current, StateType::Success);
    let sub = done.task_run("sub").unwrap();
    assert_eq!(sub.state.current, StateType::Success);
    let child_id = sub.outputs["executionId"].as_str().unwrap().to_owned();
    assert_eq!(sub.outputs["state"], "SUCCESS");
    assert_eq!(sub.outputs["outputs"]["greeting"], "hello Ada x3");
    assert_eq!(
        done.task_run("after").unwrap().outputs["value"],
        "hello Ada x3|SUCCESS"
    );

    let child = store.get_execution(&child_id).unwrap().unwrap();
    assert_eq!(child.state.current, StateType::Success);
    assert_eq!(child.inputs["times"], json!(3));
    let trigger = child.trigger.as_deref().unwrap();
    assert_eq!(trigger.type_name, "io.kestra.plugin.core.flow.Subflow");
    assert_eq!(trigger.variables["executionId"], json!(done.id));
    assert_eq!(
        child.labels["system.correlationId"],
        done.labels["system.correlationId"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_child_fails_its_parent_unless_transmit_failed_is_off() {
    let (engine, _) = engine();
    let done = run(&engine, &parent("fail", "")).await;
    assert_eq!(done.state.current, StateType::Failed);
    assert_eq!(
        done.task_run("sub").unwrap().state.current,
        StateType::Failed
    );
    assert!(done.task_run("after").is_none());

    let done = run(&engine, &parent("fail", "    transmitFailed: false")).await;
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(
        done.task_run("after").unwrap().outputs["value"],
        "none|FAILED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_that_does_not_wait_ends_its_run_at_once() {
    let (engine, store) = engine();
    let done = run(&engine, &parent("Bob", "    wait: false")).await;
    assert_eq!(done.state.current, StateType::Success);
    let sub = done.task_run("sub").unwrap();
    assert!(sub.outputs.get("state").is_none());
    let child_id = sub.outputs["executionId"].as_str().unwrap().to_owned();
    let child = tokio::time::timeout(Duration::from_secs(30), engine.wait(&child_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.state.current, StateType::Success);
    assert!(store.get_execution(&child_id).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_subflow_fails_the_task_with_a_clear_message() {
    let (engine, store) = engine();
    let source = r#"
id: orphan
namespace: company.team
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: nowhere
"#;
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let execution = engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, Map::new())
        .unwrap();
    let done = engine.wait(&execution.id).await.unwrap();
    assert_eq!(done.state.current, StateType::Failed);
    let logs = store
        .list_logs(&saker_store::LogQuery::new(&done.id))
        .unwrap();
    assert!(
        logs.iter().any(|l| l
            .entry
            .message
            .contains("subflow company.team.nowhere not found")),
        "{:?}",
        logs.iter().map(|l| &l.entry.message).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_hands_its_file_input_on_to_a_child() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let storage = tempfile::tempdir().unwrap();
    let mut parts = EngineParts::new(store.clone());
    parts.storage = Some(Arc::new(saker_storage::LocalStorage::new(storage.path())));
    let engine = Engine::start(parts);
    engine
        .deploy(
            DEFAULT_TENANT,
            "id: reader\nnamespace: company.team\ninputs:\n  - id: doc\n    type: FILE\ntasks:\n  - id: read\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ read(inputs.doc) }}\"\noutputs:\n  - id: text\n    type: STRING\n    value: \"{{ outputs.read.value }}\"\n",
        )
        .unwrap();
    let (flow, saved) = engine
        .deploy(
            DEFAULT_TENANT,
            "id: handing\nnamespace: company.team\ninputs:\n  - id: doc\n    type: FILE\ntasks:\n  - id: sub\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team\n    flowId: reader\n    inputs:\n      doc: \"{{ inputs.doc }}\"\n",
        )
        .unwrap();
    let execution = engine
        .create_execution_with_files(
            DEFAULT_TENANT,
            flow,
            saved.flow.revision,
            Map::new(),
            Map::new(),
            vec![saker_engine::files::InputUpload {
                input: "doc".into(),
                file_name: "doc.txt".into(),
                bytes: b"handed down".to_vec(),
            }],
        )
        .unwrap();
    let done = tokio::time::timeout(Duration::from_secs(30), engine.wait(&execution.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state.current, StateType::Success, "{done:#?}");
    assert_eq!(
        done.task_run("sub").unwrap().outputs["outputs"]["text"],
        "handed down"
    );
}
