//! `io.kestra.plugin.core.execution.SetVariables` and `UnsetVariables` through the engine: the
//! tasks after them read the changed `vars` (merged into the flow's `variables`, maps key by
//! key), the change is stored with the execution, two tasks setting variables side by side
//! both count, `overwrite: false` and a missing name fail saying which, and a value derived
//! from a secret is refused and stored nowhere.

mod common;

use common::data_dir::DataDir;
use saker_store::Store;
use serde_json::json;

const K: &str = "vars-secret-Ld8Pc3Xe";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_tasks_read_the_changed_variables() {
    let data = DataDir::with_secret("K", K);
    let done = data
        .run_ok(
            r#"id: variables
namespace: company.team
variables:
  name: World
  nested:
    a: 1
tasks:
  - id: set_vars
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      message: Hello
      name: "{{ vars.name }} and Loïc"
      nested:
        b: 2
  - id: side_by_side
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.execution.SetVariables
        variables:
          left: L
      - id: right
        type: io.kestra.plugin.core.execution.SetVariables
        variables:
          right: R
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ vars.message }} {{ vars.name }} {{ vars.nested.a }}{{ vars.nested.b }} {{ vars.left }}{{ vars.right }}"
  - id: unset
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables: [message, left]
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ vars.message ?? 'no message' }} {{ vars.left ?? 'no left' }} {{ vars.right }}"
"#,
        )
        .await;
    let messages = data.messages(&done);
    for expected in ["Hello World and Loïc 12 LR", "no message no left R"] {
        assert!(messages.iter().any(|m| m == expected), "{messages:?}");
    }
    let stored = data.store.get_execution(&done.id).unwrap().unwrap();
    assert_eq!(
        stored.variables,
        Some(
            json!({"name": "World and Loïc", "nested": {"a": 1, "b": 2}, "right": "R"})
                .as_object()
                .unwrap()
                .clone()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_false_and_a_missing_name_fail_saying_which() {
    let data = DataDir::with_secret("K", K);
    let flow = |task: &str| {
        format!("id: strict\nnamespace: company.team\nvariables:\n  name: World\ntasks:\n{task}")
    };
    let kept = data
        .run(&flow(
            "  - id: set\n    type: io.kestra.plugin.core.execution.SetVariables\n    overwrite: false\n    variables:\n      name: other\n      fresh: yes\n",
        ))
        .await;
    data.failed_saying(
        &kept,
        "property 'overwrite': is false and these variables already exist: name",
    );
    let missing = data
        .run(&flow(
            "  - id: unset\n    type: io.kestra.plugin.core.execution.UnsetVariables\n    variables: [name, nope]\n",
        ))
        .await;
    data.failed_saying(
        &missing,
        "property 'variables': 'nope' is not a variable of this execution (set ignoreMissing: \
         true to skip the names that are not)",
    );
    data.run_ok(&flow(
        "  - id: unset\n    type: io.kestra.plugin.core.execution.UnsetVariables\n    ignoreMissing: true\n    variables: nope\n",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variable_derived_from_a_secret_is_refused_and_stored_nowhere() {
    let data = DataDir::with_secret("K", K);
    for value in ["\"{{ secret('K') }}\"", "\"{{ secret('K') | upper }}\""] {
        let done = data
            .run(&format!(
                "id: leak\nnamespace: company.team\ntasks:\n  - id: set\n    type: io.kestra.plugin.core.execution.SetVariables\n    variables:\n      token: {value}\n"
            ))
            .await;
        data.failed_saying(
            &done,
            "property 'variables': holds a value derived from a secret; execution variables are \
             stored and shown in clear, so a secret cannot be one: call secret() where the \
             value is used instead",
        );
        assert!(
            data.store
                .get_execution(&done.id)
                .unwrap()
                .unwrap()
                .variables
                .is_none()
        );
    }
    data.assert_no_file_holds(K);
}
