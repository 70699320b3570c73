//! Flowable tasks through the engine API: the task-run tree, outputs addressed by iteration
//! value, branches, parallel starts, DAG order, local errors, pauses and resumes.

mod common;

use std::sync::Arc;
use std::time::Duration;

use saker_engine::{Engine, EngineParts};
use saker_model::{StateType, TaskRun};
use saker_store::{SqliteStore, Store};
use serde_json::{Value, json};

use common::flows::{messages, output, run, runs, start, wait};

fn engine() -> (Engine, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    (Engine::start(EngineParts::new(store.clone())), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreach_outputs_are_addressed_by_value_inside_and_after_the_loop() {
    let (engine, _) = engine();
    let source = r#"
id: loop
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["alpha", "beta", {"k": 1}]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "got {{ taskrun.value }}"
      - id: again
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.inner[taskrun.value].value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.inner['beta'].value }}|{{ outputs.again['alpha'].value }}"
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    let inner = runs(&done, "inner");
    assert_eq!(inner.len(), 3);
    let each = done.task_run("each").unwrap();
    for run in &inner {
        assert_eq!(run.parent_task_run_id.as_deref(), Some(each.id.as_str()));
    }
    let values: Vec<&Value> = inner.iter().map(|r| r.value.as_ref().unwrap()).collect();
    assert_eq!(
        values,
        [&json!("alpha"), &json!("beta"), &json!(r#"{"k":1}"#)]
    );
    let again: Vec<&Value> = runs(&done, "again")
        .iter()
        .map(|r| &r.outputs["value"])
        .collect();
    assert_eq!(
        again,
        [
            &json!("got alpha"),
            &json!("got beta"),
            &json!(r#"got {"k":1}"#)
        ]
    );
    assert_eq!(output(&done, "after", "value"), "got beta|got alpha");

    // The API shape: Kestra's field names on every run of the tree.
    let json = serde_json::to_value(inner[0]).unwrap();
    assert_eq!(json["parentTaskRunId"], json!(each.id));
    assert_eq!(json["value"], "alpha");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_loops_address_outputs_by_both_values_and_see_their_parents() {
    let (engine, _) = engine();
    let source = r#"
id: nested
namespace: company.team
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.EachSequential
    value: ["s1", "s2"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.EachParallel
        value: '["a a", "b b"]'
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: leaf
                type: io.kestra.plugin.core.debug.Return
                format: "{{ parent.taskrun.value }}/{{ parents[1].taskrun.value }}/{{ parents | length }}"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.leaf.s2['b b'].value }}"
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(runs(&done, "leaf").len(), 4);
    assert_eq!(runs(&done, "inner").len(), 2);
    assert_eq!(output(&done, "last", "value"), "b b/s2/2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_branches_start_together() {
    let (engine, _) = engine();
    let source = r#"
id: par
namespace: company.team
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT2S
      - id: b
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT2S
      - id: c
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT2S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: done
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    // Every branch started before any branch ended: they ran side by side.
    let branches: Vec<&TaskRun> = ["a", "b", "c"]
        .iter()
        .map(|t| done.task_run(t).unwrap())
        .collect();
    let last_start = branches
        .iter()
        .map(|r| r.state.start_date().unwrap())
        .max()
        .unwrap();
    let first_end = branches
        .iter()
        .map(|r| r.state.end_date().unwrap())
        .min()
        .unwrap();
    assert!(
        last_start < first_end,
        "the branches ran one after the other"
    );
    let after = done.task_run("after").unwrap();
    assert!(after.state.start_date().unwrap() >= first_end);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_and_switch_choose_their_branch() {
    let (engine, _) = engine();
    let source = r#"
id: choose
namespace: company.team
inputs:
  - id: flag
    type: BOOLEAN
  - id: pick
    type: STRING
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.flag }}"
    then:
      - id: yes
        type: io.kestra.plugin.core.log.Log
        message: "yes"
    else:
      - id: no
        type: io.kestra.plugin.core.log.Log
        message: "no"
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.pick }}"
    cases:
      FIRST:
        - id: first
          type: io.kestra.plugin.core.log.Log
          message: first
      SECOND:
        - id: second
          type: io.kestra.plugin.core.log.Log
          message: second
    defaults:
      - id: other
        type: io.kestra.plugin.core.log.Log
        message: other
"#;
    for (flag, pick, ran, absent) in [
        (true, "SECOND", ["yes", "second"], ["no", "first", "other"]),
        (false, "NONE", ["no", "other"], ["yes", "first", "second"]),
    ] {
        let done = run(&engine, source, json!({"flag": flag, "pick": pick})).await;
        assert_eq!(done.state.current, StateType::Success);
        for task in ran {
            assert_eq!(
                done.task_run(task).map(|r| r.state.current),
                Some(StateType::Success),
                "{task}"
            );
        }
        for task in absent {
            assert!(done.task_run(task).is_none(), "{task} should not run");
        }
        assert_eq!(output(&done, "switch", "value"), pick);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_starts_each_task_after_its_dependencies() {
    let (engine, _) = engine();
    let source = r#"
id: dag
namespace: company.team
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task: { id: t1, type: Log, message: one }
      - task: { id: t2, type: Log, message: two }
        dependsOn: [t1]
      - task: { id: t3, type: Log, message: three }
        dependsOn: [t1]
      - task: { id: t4, type: Log, message: four }
        dependsOn: [t2, t3]
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    let end = |t: &str| done.task_run(t).unwrap().state.end_date().unwrap();
    let start = |t: &str| done.task_run(t).unwrap().state.start_date().unwrap();
    assert!(start("t2") >= end("t1") && start("t3") >= end("t1"));
    assert!(start("t4") >= end("t2") && start("t4") >= end("t3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_errors_run_inside_the_flowable_and_the_failure_stands() {
    let (engine, store) = engine();
    let source = r#"
id: local
namespace: company.team
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: never
        type: Log
        message: never
    errors:
      - id: handler
        type: Log
        message: "handled {{ task.id }}"
  - id: after
    type: Log
    message: after
errors:
  - id: global
    type: Log
    message: global handler
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Failed);
    assert_eq!(
        done.task_run("seq").unwrap().state.current,
        StateType::Failed
    );
    assert_eq!(
        done.task_run("handler").unwrap().state.current,
        StateType::Success
    );
    assert!(done.task_run("never").is_none());
    assert!(done.task_run("after").is_none());
    assert_eq!(
        done.task_run("global").unwrap().state.current,
        StateType::Success
    );
    let logs = messages(store.as_ref(), &done.id);
    assert!(logs.iter().any(|l| l == "handled handler"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_failure_turns_a_failed_child_into_a_warning() {
    let (engine, _) = engine();
    let source = r#"
id: allowed
namespace: company.team
tasks:
  - id: allow
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
  - id: after
    type: Log
    message: after
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Warning);
    assert_eq!(
        done.task_run("allow").unwrap().state.current,
        StateType::Warning
    );
    assert_eq!(
        done.task_run("after").unwrap().state.current,
        StateType::Success
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_loop_stops_new_iterations() {
    let (engine, store) = engine();
    let source = r#"
id: killloop
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["1", "2", "3", "4"]
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT30S
"#;
    let execution = start(&engine, source, Value::Null);
    for _ in 0..400 {
        let stored = store.get_execution(&execution.id).unwrap().unwrap();
        if stored.task_run("nap").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    engine.kill(&execution.id).unwrap();
    let done = wait(&engine, &execution.id).await;
    assert_eq!(done.state.current, StateType::Killed);
    assert_eq!(runs(&done, "nap").len(), 1);
    assert_eq!(
        done.task_run("each").unwrap().state.current,
        StateType::Killed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_bounds_the_iterations_running_at_once() {
    let (engine, _) = engine();
    let source = r#"
id: limited
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["1", "2", "3", "4"]
    concurrencyLimit: 2
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.3S
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    let naps = runs(&done, "nap");
    assert_eq!(naps.len(), 4);
    // At no start were more than two iterations running.
    for run in &naps {
        let at = run.state.start_date().unwrap();
        let overlapping = naps
            .iter()
            .filter(|o| o.state.start_date().unwrap() <= at && o.state.end_date().unwrap() > at)
            .count();
        assert!(overlapping <= 2, "{overlapping} iterations ran at once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_directory_tasks_share_their_files_and_the_directory_goes_at_the_end() {
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let mut parts = EngineParts::new(store.clone());
    parts.confinement = saker_confine::Confinement::new(saker_confine::Settings {
        work_root: Some(root.path().to_path_buf()),
        ..saker_confine::Settings::default()
    });
    let engine = Engine::start(parts);
    let source = r#"
id: wd
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo shared-content > note.txt
          - pwd > where.txt
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat note.txt
          - cat where.txt
  - id: outside
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - test ! -e note.txt && echo fresh
"#;
    let done = run(&engine, source, Value::Null).await;
    let logs = messages(store.as_ref(), &done.id);
    assert_eq!(done.state.current, StateType::Success, "{logs:?}");
    assert!(logs.iter().any(|l| l == "shared-content"), "{logs:?}");
    assert!(logs.iter().any(|l| l == "fresh"), "{logs:?}");
    // Nothing is left under the work root: the shared directory went with its
    // WorkingDirectory, each other attempt's with the attempt.
    let left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let inside: Vec<_> = left
        .iter()
        .flat_map(|p| {
            std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .map(|e| e.unwrap().path())
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?} {inside:?}");
}
