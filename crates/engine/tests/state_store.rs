//! Kestra's deprecated state store through the engine (`io.kestra.plugin.core.state.{Get,
//! Set, Delete}`, older names `io.kestra.core.tasks.states.*`): data merged into a state and
//! read back by a later execution, kept apart per flow, per name and per `taskrun.value` of a
//! ForEach unless told otherwise, deleted; and a state holding a secret stored sealed, read
//! back into sealed outputs, never in the log nor in clear in the data directory.

mod common;

use common::data_dir::DataDir;
use saker_model::Execution;
use serde_json::{Value, json};

const K: &str = "state-secret-Jm4Rk8Wd";

fn start() -> DataDir {
    DataDir::with_secret("K", K)
}

fn output(done: &Execution, task: &str, name: &str) -> Value {
    done.task_run(task).unwrap().outputs[name].clone()
}

const SET_THEN_GET: &str = r#"id: stateful
namespace: company.team
tasks:
  - id: set
    type: io.kestra.plugin.core.state.Set
    data:
      last: "{{ execution.id }}"
      nested:
        a: 1
  - id: set_more
    type: io.kestra.core.tasks.states.Set
    data:
      nested:
        b: 2
  - id: get
    type: io.kestra.plugin.core.state.Get
  - id: other_name
    type: io.kestra.plugin.core.state.Get
    name: other
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_is_merged_into_a_state_and_read_back_by_later_executions() {
    let data = start();
    let first = data.run_ok(SET_THEN_GET).await;
    assert_eq!(
        output(&first, "get", "data"),
        json!({"last": first.id, "nested": {"a": 1, "b": 2}})
    );
    assert_eq!(output(&first, "get", "count"), json!(2));
    assert_eq!(output(&first, "set_more", "count"), json!(2));
    assert_eq!(output(&first, "other_name", "data"), json!({}));
    assert!(
        output(&first, "set", "key")
            .as_str()
            .unwrap()
            .starts_with("kestra-state.default.")
    );

    // Another flow of the namespace does not see the flow's state; one sharing the
    // namespace's does, and a delete removes it once.
    let other = data
        .run_ok(
            r#"id: other_flow
namespace: company.team
tasks:
  - id: get
    type: io.kestra.plugin.core.state.Get
  - id: shared_set
    type: io.kestra.plugin.core.state.Set
    namespace: true
    data:
      from: other_flow
"#,
        )
        .await;
    assert_eq!(output(&other, "get", "data"), json!({}));

    let second = data
        .run_ok(
            r#"id: stateful
namespace: company.team
tasks:
  - id: get
    type: io.kestra.plugin.core.state.Get
    errorOnMissing: true
  - id: shared
    type: io.kestra.plugin.core.state.Get
    namespace: true
  - id: delete
    type: io.kestra.plugin.core.state.Delete
  - id: delete_again
    type: io.kestra.core.tasks.states.Delete
"#,
        )
        .await;
    assert_eq!(output(&second, "get", "data")["last"], json!(first.id));
    assert_eq!(
        output(&second, "shared", "data"),
        json!({"from": "other_flow"})
    );
    assert_eq!(output(&second, "delete", "deleted"), json!(true));
    assert_eq!(output(&second, "delete_again", "deleted"), json!(false));

    let missing = data
        .run(
            "id: stateful\nnamespace: company.team\ntasks:\n  - id: get\n    type: io.kestra.plugin.core.state.Get\n    errorOnMissing: true\n",
        )
        .await;
    data.failed_saying(
        &missing,
        "the state 'default' is not in the state store (never set, or deleted)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_value_of_a_for_each_has_its_own_state_unless_told_otherwise() {
    let data = start();
    let flow = r#"id: per_value
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: get
        type: io.kestra.plugin.core.state.Get
        name: seen
      - id: get_shared
        type: io.kestra.plugin.core.state.Get
        name: seen
        taskrunValue: false
      - id: set
        type: io.kestra.plugin.core.state.Set
        name: seen
        data:
          "{{ taskrun.value }}": true
      - id: set_shared
        type: io.kestra.plugin.core.state.Set
        name: seen
        taskrunValue: false
        data:
          "{{ taskrun.value }}": true
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}: own={{ outputs.get[taskrun.value].data | keys | sort | join(',') }} shared={{ outputs.get_shared[taskrun.value].data | keys | sort | join(',') }}"
"#;
    data.run_ok(flow).await;
    let done = data.run_ok(flow).await;
    let messages = data.messages(&done);
    // In the second execution each value finds its own state; the shared one holds both.
    for expected in ["a: own=a shared=a,b", "b: own=b shared=a,b"] {
        assert!(messages.iter().any(|m| m == expected), "{messages:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_holding_a_secret_is_stored_sealed_and_read_back_sealed() {
    let data = start();
    data.run_ok(
        r#"id: secret_state
namespace: company.team
tasks:
  - id: set
    type: io.kestra.plugin.core.state.Set
    data:
      token: "{{ secret('K') }}"
"#,
    )
    .await;
    let done = data
        .run_ok(
            r#"id: secret_state
namespace: company.team
tasks:
  - id: add_plain
    type: io.kestra.plugin.core.state.Set
    data:
      plain: visible
  - id: get
    type: io.kestra.plugin.core.state.Get
  - id: same
    type: io.kestra.plugin.core.execution.Assert
    conditions:
      - "{{ outputs.get.data.token == secret('K') }}"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "token={{ outputs.get.data.token }} count={{ outputs.get.count }}"
"#,
        )
        .await;
    let messages = data.messages(&done);
    assert!(
        messages.iter().any(|m| m == "token=**** count=2"),
        "{messages:?}"
    );
    assert!(!messages.iter().any(|m| m.contains(K)), "{messages:?}");
    // The stored output is sealed, not the secret.
    let stored = output(&done, "get", "data").to_string();
    assert!(!stored.contains(K), "{stored}");
    data.assert_no_file_holds(K);
}
