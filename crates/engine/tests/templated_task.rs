//! `io.kestra.plugin.core.templating.TemplatedTask` through the engine: a task written as a
//! templated `spec` (its very type from a variable) runs in the task run and gives it its
//! outputs; a flowable task, an invalid spec and a spec derived from a secret are refused,
//! and a secret the inner task reads itself stays masked and sealed.

mod common;

use common::data_dir::DataDir;
use serde_json::json;

const K: &str = "templated-secret-Qs5Nv1Ha";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_spec_runs_and_its_outputs_are_the_task_runs() {
    let data = DataDir::with_secret("K", K);
    let done = data
        .run_ok(
            r#"id: templated
namespace: company.team
variables:
  kind: io.kestra.plugin.core.debug.Return
tasks:
  - id: templated
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      id: inner
      type: "{{ vars.kind }}"
      format: "built by {{ flow.id }}"
  - id: old_name
    type: io.kestra.core.tasks.templating.TemplatedTask
    spec: |
      id: values
      type: io.kestra.plugin.core.output.OutputValues
      values:
        count: "{{ 40 + 2 }}"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.templated.value }} / {{ outputs.old_name['values'].count }}"
"#,
        )
        .await;
    assert_eq!(
        done.task_run("templated").unwrap().outputs["value"],
        json!("built by templated")
    );
    assert!(
        data.messages(&done)
            .contains(&"built by templated / 42".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_does_not_fit_is_refused_saying_why() {
    let data = DataDir::with_secret("K", K);
    let flow = |spec: &str| {
        let spec: String = spec.lines().map(|l| format!("      {l}\n")).collect();
        format!(
            "id: refused\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.templating.TemplatedTask\n    spec: |\n{spec}"
        )
    };
    for (spec, expected) in [
        (
            "id: seq\ntype: io.kestra.plugin.core.flow.Sequential\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi",
            "property 'spec': 'io.kestra.plugin.core.flow.Sequential' runs other tasks or flows, \
             which a TemplatedTask cannot: only a runnable task fits in task 't'",
        ),
        (
            "id: purge\ntype: io.kestra.plugin.core.log.PurgeLogs\nendDate: \"2020-01-01T00:00:00Z\"",
            "property 'spec': a 'io.kestra.plugin.core.log.PurgeLogs' task cannot run inside a \
             TemplatedTask",
        ),
        (
            "id: secret\ntype: io.kestra.plugin.core.debug.Return\nformat: \"{{ secret('K') }}\"",
            "property 'spec': is derived from a secret; rendered into the task's properties it \
             would no longer be known as one: write {% raw %}{{ secret('KEY') }}{% endraw %} in \
             the spec so that the task itself reads the secret",
        ),
    ] {
        let done = data.run(&flow(spec)).await;
        data.failed_saying(&done, expected);
        assert!(!data.messages(&done).iter().any(|m| m.contains(K)));
    }
    let unknown = data
        .run(&flow(
            "id: x\ntype: io.kestra.plugin.core.log.Logg\nmessage: hi",
        ))
        .await;
    let messages = data.messages(&unknown);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("property 'spec': is not a valid task: ")
                && m.contains("io.kestra.plugin.core.log.Logg")),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_inner_task_reads_itself_stays_masked_and_sealed() {
    let data = DataDir::with_secret("K", K);
    let done = data
        .run_ok(
            r#"id: inner_secret
namespace: company.team
tasks:
  - id: templated
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      id: inner
      type: io.kestra.plugin.core.debug.Return
      format: "token={% raw %}{{ secret('K') }}{% endraw %}"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.templated.value }}"
"#,
        )
        .await;
    let messages = data.messages(&done);
    // The output was sealed as a whole (the inner render was tainted): read back, all of it
    // is secret.
    assert_eq!(messages, ["****"]);
    let stored = done.task_run("templated").unwrap().outputs["value"].to_string();
    assert!(!stored.contains(K), "{stored}");
    data.assert_no_file_holds(K);
}
