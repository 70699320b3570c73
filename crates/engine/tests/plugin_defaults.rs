//! Plugin defaults at run time: what `pluginDefaults` (and the older `taskDefaults`) give a
//! task is what the task runs with, not only what validation accepts. Each flow here runs on
//! an engine and the test reads its log and outputs.

mod common;

use common::data_dir::DataDir;
use saker_model::Level;

fn engine() -> DataDir {
    DataDir::start(|_, _| {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_message_given_only_by_a_plugin_default_is_logged() {
    let setup = engine();
    let done = setup
        .run_ok(
            r#"id: defaults
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.core.log.Log
    values:
      message: "from the default of {{ flow.id }}"
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
  - id: alias
    type: Log
"#,
        )
        .await;
    let messages = setup.messages(&done);
    // Rendered at run time, for the canonical name and for an alias alike.
    assert_eq!(
        messages
            .iter()
            .filter(|m| *m == "from the default of defaults")
            .count(),
        2,
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_default_overrides_the_task_and_a_plain_one_does_not() {
    let setup = engine();
    let done = setup
        .run_ok(
            r#"id: forced
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.core.debug.Return
    values:
      format: plain-default
  - type: io.kestra.plugin.core.log.Log
    forced: true
    values:
      message: forced-message
      level: WARN
tasks:
  - id: own
    type: Return
    format: own-value
  - id: filled
    type: Return
  - id: overridden
    type: Log
    message: the task's own message
    level: INFO
"#,
        )
        .await;
    assert_eq!(done.task_run("own").unwrap().outputs["value"], "own-value");
    assert_eq!(
        done.task_run("filled").unwrap().outputs["value"],
        "plain-default"
    );
    let levels = setup.levels(&done);
    assert!(
        levels.contains(&(Level::Warn, "forced-message".to_owned())),
        "{levels:?}"
    );
    assert!(
        !levels
            .iter()
            .any(|(_, m)| m.contains("the task's own message")),
        "{levels:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_prefix_default_reaches_nested_and_error_tasks() {
    let setup = engine();
    let done = setup
        .run_ok(
            r#"id: prefix
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.core.log
    values:
      message: from-the-prefix
      level: ERROR
  - type: io.kestra.plugin.core.debug
    values:
      format: "{{ outputs.first.value ?? 'prefix-return' }}"
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: first
        type: io.kestra.core.tasks.debugs.Return
      - id: nested
        type: io.kestra.plugin.core.log.Log
  - id: second
    type: Return
"#,
        )
        .await;
    assert_eq!(
        done.task_run("first").unwrap().outputs["value"],
        "prefix-return"
    );
    assert_eq!(
        done.task_run("second").unwrap().outputs["value"],
        "prefix-return"
    );
    let levels = setup.levels(&done);
    assert!(
        levels.contains(&(Level::Error, "from-the-prefix".to_owned())),
        "{levels:?}"
    );

    // A default reaches `errors` tasks too.
    let failed = setup
        .run(
            r#"id: prefix-errors
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.core.log
    values:
      message: "handled {{ task.id }}"
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
"#,
        )
        .await;
    let messages = setup.messages(&failed);
    assert!(
        messages.iter().any(|m| m == "handled on_error"),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_task_defaults_work_the_same() {
    let setup = engine();
    let done = setup
        .run_ok(
            r#"id: legacy
namespace: company.team
taskDefaults:
  - type: io.kestra.core.tasks.log.Log
    values:
      message: from-task-defaults
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
"#,
        )
        .await;
    let messages = setup.messages(&done);
    assert!(
        messages.iter().any(|m| m == "from-task-defaults"),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_property_missing_from_task_and_defaults_is_refused_before_running() {
    let setup = engine();
    let deployed = setup.engine.deploy(
        saker_model::DEFAULT_TENANT,
        "id: nothing\nnamespace: company.team\npluginDefaults:\n  - type: io.kestra.plugin.core.debug.Return\n    values:\n      format: x\ntasks:\n  - id: hello\n    type: Log\n",
    );
    let Err(refused) = deployed else {
        panic!("a Log without a message anywhere is refused");
    };
    let text = refused.to_string();
    assert!(
        text.contains("missing required property 'message'"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_default_gives_each_type_the_properties_it_has() {
    // `message` is Log's, `format` Return's: each task takes its own from one prefix default.
    let setup = engine();
    let done = setup
        .run_ok(
            r#"id: shared
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.core
    values:
      message: shared-message
      format: shared-format
tasks:
  - id: log
    type: Log
  - id: ret
    type: Return
"#,
        )
        .await;
    assert_eq!(
        done.task_run("ret").unwrap().outputs["value"],
        "shared-format"
    );
    let messages = setup.messages(&done);
    assert!(
        messages.iter().any(|m| m == "shared-message"),
        "{messages:?}"
    );
}
