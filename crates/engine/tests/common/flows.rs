//! Running a flow through the engine API in a test: deploy and start, wait for the end, and
//! read back task runs, outputs and log lines.

use std::time::Duration;

use saker_engine::Engine;
use saker_model::{DEFAULT_TENANT, Execution, TaskRun};
use saker_store::{LogQuery, Store};
use serde_json::{Map, Value};

/// Deploys `source` and starts an execution of it with `inputs` (a JSON object, or anything
/// else for none).
pub fn start(engine: &Engine, source: &str, inputs: Value) -> Execution {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let inputs = match inputs {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, inputs)
        .unwrap()
}

/// The execution once it ended (30 s at most).
pub async fn wait(engine: &Engine, id: &str) -> Execution {
    tokio::time::timeout(Duration::from_secs(30), engine.wait(id))
        .await
        .expect("the execution did not end")
        .expect("the execution exists")
}

/// [`start`] then [`wait`].
pub async fn run(engine: &Engine, source: &str, inputs: Value) -> Execution {
    let execution = start(engine, source, inputs);
    wait(engine, &execution.id).await
}

/// Every run of `task`, in creation order.
pub fn runs<'a>(e: &'a Execution, task: &'a str) -> Vec<&'a TaskRun> {
    e.task_runs_of(task).collect()
}

/// Output `name` of the first run of `task`.
pub fn output<'a>(e: &'a Execution, task: &str, name: &str) -> &'a Value {
    &e.task_run(task)
        .unwrap_or_else(|| panic!("no run of {task}"))
        .outputs[name]
}

/// The messages of an execution's log lines, in order.
pub fn messages(store: &dyn Store, id: &str) -> Vec<String> {
    store
        .list_logs(&LogQuery::new(id))
        .unwrap()
        .into_iter()
        .map(|l| l.entry.message)
        .collect()
}
