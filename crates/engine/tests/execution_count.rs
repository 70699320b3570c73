//! `io.kestra.plugin.core.execution.Count` through the engine: the executions of listed flows
//! (zero for a flow that never ran) and of every flow of a namespace, in a date range and in
//! some states, kept by an expression on `count`; and a flow refused the counts of a
//! namespace outside its own.

mod common;

use common::data_dir::DataDir;
use saker_model::Execution;
use serde_json::{Value, json};

fn output(done: &Execution, task: &str, name: &str) -> Value {
    done.task_run(task).unwrap().outputs[name].clone()
}

fn hello(id: &str, namespace: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_are_counted_per_flow_and_kept_by_the_expression() {
    let data = DataDir::start(|_, _| {});
    for _ in 0..2 {
        data.run_ok(&hello("target", "company.team")).await;
    }
    data.run_ok(&hello("other", "company.team")).await;
    data.run_ok(&hello("deeper", "company.team.sub")).await;
    let done = data
        .run_ok(
            r#"id: counter
namespace: company.team
tasks:
  - id: all_listed
    type: io.kestra.plugin.core.execution.Count
    startDate: "{{ now() | dateAdd(-1, 'HOURS') }}"
    expression: "{{ count >= 0 }}"
    flows:
      - namespace: company.team
        flowId: target
      - namespace: company.team.sub
        flowId: deeper
      - namespace: company.team
        flowId: never_ran
  - id: silent
    type: io.kestra.core.tasks.executions.Counts
    startDate: "{{ now() | dateAdd(-1, 'HOURS') }}"
    expression: "{{ count == 0 }}"
    flows:
      - namespace: company.team
        flowId: target
      - namespace: company.team
        flowId: never_ran
  - id: namespace_successes
    type: io.kestra.plugin.core.execution.Count
    startDate: "{{ now() | dateAdd(-1, 'HOURS') }}"
    expression: "{{ count > 0 }}"
    namespaces: [company.team]
    states: [SUCCESS]
  - id: too_early
    type: io.kestra.plugin.core.execution.Count
    startDate: "{{ now() | dateAdd(-2, 'HOURS') }}"
    endDate: "{{ now() | dateAdd(-1, 'HOURS') }}"
    expression: "{{ count > 0 }}"
    namespaces: [company.team]
"#,
        )
        .await;
    assert_eq!(
        output(&done, "all_listed", "results"),
        json!([
            {"namespace": "company.team", "flowId": "never_ran", "count": 0},
            {"namespace": "company.team", "flowId": "target", "count": 2},
            {"namespace": "company.team.sub", "flowId": "deeper", "count": 1},
        ])
    );
    assert_eq!(output(&done, "all_listed", "total"), json!(3));
    assert_eq!(
        output(&done, "silent", "results"),
        json!([{"namespace": "company.team", "flowId": "never_ran", "count": 0}])
    );
    // The namespace's own flows only (not company.team.sub), and not this RUNNING execution.
    assert_eq!(
        output(&done, "namespace_successes", "results"),
        json!([
            {"namespace": "company.team", "flowId": "other", "count": 1},
            {"namespace": "company.team", "flowId": "target", "count": 2},
        ])
    );
    assert_eq!(output(&done, "too_early", "results"), json!([]));
    assert_eq!(output(&done, "too_early", "total"), json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_counts_only_its_namespace_and_below() {
    let data = DataDir::start(|_, _| {});
    data.run_ok(&hello("secretive", "company.other")).await;
    for (what, expected) in [
        (
            "namespaces: [company.other]",
            "a flow of namespace 'company.team' may only count the executions of 'company.team' \
             and the namespaces below it, not 'company.other'",
        ),
        (
            "flows:\n      - namespace: company\n        flowId: x",
            "a flow of namespace 'company.team' may only count the executions of 'company.team' \
             and the namespaces below it, not 'company'",
        ),
        (
            "states: [SUCCESS]",
            "provide the 'flows' or the 'namespaces' whose executions to count",
        ),
    ] {
        let done = data
            .run(&format!(
                "id: counter\nnamespace: company.team\ntasks:\n  - id: count\n    type: io.kestra.plugin.core.execution.Count\n    startDate: \"{{{{ now() | dateAdd(-1, 'HOURS') }}}}\"\n    expression: \"{{{{ count > 0 }}}}\"\n    {what}\n"
            ))
            .await;
        data.failed_saying(&done, expected);
    }
}
