//! Restarting an ended execution from its failed task runs, and replaying one from a chosen
//! task run, through the engine API. The failing tasks fail on their first attempt only
//! (`taskrun.attemptsCount` is 0 then), so a restart is what makes them succeed.

use std::sync::Arc;
use std::time::Duration;

use saker_crypto::{Keyring, SecretKey};
use saker_engine::{Engine, EngineError, EngineParts, KeyringSealer};
use saker_model::{DEFAULT_TENANT, Execution, StateType, TaskRun};
use saker_store::{SqliteStore, Store};
use serde_json::{Map, Value, json};

fn engine() -> (Engine, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let mut parts = EngineParts::new(store.clone());
    parts.sealer = Some(Arc::new(KeyringSealer::new(Keyring::new(
        SecretKey::generate(),
    ))));
    (Engine::start(parts), store)
}

fn start(engine: &Engine, source: &str, inputs: Value) -> Execution {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let inputs = match inputs {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, inputs)
        .unwrap()
}

async fn wait(engine: &Engine, id: &str) -> Execution {
    tokio::time::timeout(Duration::from_secs(30), engine.wait(id))
        .await
        .expect("the execution did not end")
        .expect("the execution exists")
}

async fn run(engine: &Engine, source: &str, inputs: Value) -> Execution {
    let execution = start(engine, source, inputs);
    wait(engine, &execution.id).await
}

/// Restarts `id` and follows it to its end through the `Pause` that ends its flow: the
/// watch starts while the execution is still running here, so what comes back is the
/// executor's own view of the restarted execution.
async fn restart_past_a_pause(engine: &Engine, store: &SqliteStore, id: &str) -> Execution {
    engine.restart(id).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let state = store.get_execution(id).unwrap().unwrap().state.current;
        if state == StateType::Paused {
            break;
        }
        // `restart` recorded RUNNING before it returned: an end now is the restarted run's.
        assert!(!state.is_terminated(), "ended {state} without pausing");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never paused ({state})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut waiting = Box::pin(engine.wait(id));
    // One poll sends the watch to the executor before the resume.
    let _ = tokio::time::timeout(Duration::ZERO, &mut waiting).await;
    engine.resume(id, Map::new()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the execution did not end")
        .expect("the execution exists")
}

fn runs<'a>(e: &'a Execution, task: &'a str) -> Vec<&'a TaskRun> {
    e.task_runs_of(task).collect()
}

fn only<'a>(e: &'a Execution, task: &'a str) -> &'a TaskRun {
    let found: Vec<_> = e.task_runs_of(task).collect();
    assert_eq!(found.len(), 1, "runs of {task}: {found:?}");
    found[0]
}

const FAILS_ONCE: &str = r#"
id: fails-once
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "first"
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount == 0 }}"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "after {{ outputs.first.value }}"
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
errors:
  - id: handler
    type: io.kestra.plugin.core.log.Log
    message: "failed"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_execution_restarts_from_its_failed_task_to_success() {
    let (engine, store) = engine();
    let failed = run(&engine, FAILS_ONCE, Value::Null).await;
    assert_eq!(failed.state.current, StateType::Failed);
    assert!(runs(&failed, "last").is_empty());
    assert_eq!(only(&failed, "handler").state.current, StateType::Success);

    let done = restart_past_a_pause(&engine, &store, &failed.id).await;
    assert_eq!(done.state.current, StateType::Success, "{done:?}");
    // The same task runs, the failed one with a second attempt; the earlier task is not
    // run again.
    assert_eq!(only(&done, "first").id, only(&failed, "first").id);
    assert_eq!(only(&done, "first").attempts.len(), 1);
    assert_eq!(only(&done, "flaky").id, only(&failed, "flaky").id);
    assert_eq!(only(&done, "flaky").attempts.len(), 2);
    assert_eq!(only(&done, "last").outputs["value"], json!("after first"));
    // The errors branch ran because of the failure the restart undid.
    assert!(runs(&done, "handler").is_empty(), "{done:?}");
    let states: Vec<StateType> = done.state.histories.iter().map(|h| h.state).collect();
    assert_eq!(
        &states[2..],
        [
            StateType::Failed,
            StateType::Running,
            StateType::Paused,
            StateType::Running,
            StateType::Success
        ]
    );
    let stored = store.get_execution(&failed.id).unwrap().unwrap();
    assert_eq!(stored.state.current, StateType::Success);
    assert_eq!(only(&stored, "last").state.current, StateType::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_inside_a_sequential_and_a_foreach_restarts_in_place() {
    let (engine, store) = engine();
    let source = r#"
id: nested
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: inner
            type: io.kestra.plugin.core.execution.Fail
            condition: "{{ parent.taskrun.value == 'b' and taskrun.attemptsCount == 0 }}"
          - id: echo
            type: io.kestra.plugin.core.debug.Return
            format: "{{ parent.taskrun.value }}"
        errors:
          - id: local-handler
            type: io.kestra.plugin.core.log.Log
            message: "inner failed"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.echo['c'].value }}"
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
"#;
    let failed = run(&engine, source, Value::Null).await;
    assert_eq!(failed.state.current, StateType::Failed);
    // One value at a time: the failure in 'b' kept 'c' from starting.
    assert_eq!(runs(&failed, "inner").len(), 2, "{failed:#?}");
    assert_eq!(runs(&failed, "local-handler").len(), 1);

    let done = restart_past_a_pause(&engine, &store, &failed.id).await;
    assert_eq!(done.state.current, StateType::Success, "{done:?}");
    assert_eq!(only(&done, "each").id, only(&failed, "each").id);
    assert_eq!(only(&done, "each").state.current, StateType::Success);
    // Each iteration's Sequential holds one `inner` run: a, then b's with a second attempt,
    // then c's.
    let seqs = runs(&done, "seq");
    let attempts: Vec<(Value, usize)> = seqs
        .iter()
        .map(|seq| {
            let inner = done
                .task_run_list
                .iter()
                .find(|r| r.task_id == "inner" && r.parent_task_run_id.as_ref() == Some(&seq.id))
                .expect("an inner run in every iteration");
            (seq.value.clone().unwrap(), inner.attempts.len())
        })
        .collect();
    assert_eq!(
        attempts,
        [(json!("a"), 1), (json!("b"), 2), (json!("c"), 1)]
    );
    assert_eq!(runs(&done, "inner").len(), 3);
    assert!(runs(&done, "local-handler").is_empty());
    assert_eq!(only(&done, "after").outputs["value"], json!("c"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_refuses_a_successful_or_running_execution() {
    let (engine, _) = engine();
    let ok = run(
        &engine,
        "id: ok\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n",
        Value::Null,
    )
    .await;
    assert_eq!(ok.state.current, StateType::Success);
    let refused = engine.restart(&ok.id).unwrap_err();
    assert!(
        matches!(
            refused,
            EngineError::NotRestartable {
                state: StateType::Success,
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .contains("only a FAILED or KILLED execution")
    );

    let paused = start(
        &engine,
        "id: waits\nnamespace: company.team\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n",
        Value::Null,
    );
    let refused = loop {
        match engine.restart(&paused.id) {
            Err(EngineError::NotRestartable { state, .. }) if state == StateType::Paused => {
                break state;
            }
            Err(EngineError::NotRestartable { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("restart of a running execution: {other:?}"),
        }
    };
    assert_eq!(refused, StateType::Paused);
    engine.kill(&paused.id).unwrap();
    assert_eq!(
        wait(&engine, &paused.id).await.state.current,
        StateType::Killed
    );

    assert!(matches!(
        engine.restart("no-such-execution"),
        Err(EngineError::ExecutionNotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_makes_a_new_execution_that_keeps_the_runs_before_the_chosen_one() {
    let (engine, store) = engine();
    let source = r#"
id: replayed
namespace: company.team
labels:
  team: data
inputs:
  - id: password
    type: SECRET
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "a"
  - id: b
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.password != 'hunter2-long' }}"
  - id: c
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.a.value }} {{ taskrun.attemptsCount }}"
"#;
    let original = run(&engine, source, json!({"password": "hunter2-long"})).await;
    assert_eq!(original.state.current, StateType::Success);

    let from = only(&original, "b").id.clone();
    let created = engine.replay(&original.id, &from).unwrap();
    assert_ne!(created.id, original.id);
    let replayed = wait(&engine, &created.id).await;
    assert_eq!(replayed.state.current, StateType::Success, "{replayed:?}");
    // `a` is copied (new id, its outputs and attempts), `b` runs again, `c` runs anew.
    assert_ne!(only(&replayed, "a").id, only(&original, "a").id);
    assert_eq!(only(&replayed, "a").attempts.len(), 1);
    assert_eq!(only(&replayed, "a").outputs["value"], json!("a"));
    // The SECRET input was sealed again for the new execution, so it opens there (the
    // Fail task checks its value).
    assert_eq!(only(&replayed, "b").attempts.len(), 2);
    assert_eq!(only(&replayed, "b").state.current, StateType::Success);
    assert_eq!(only(&replayed, "c").outputs["value"], json!("a 0"));
    assert_eq!(replayed.labels["team"], json!("data"));
    assert_eq!(replayed.labels["system.replay"], json!("true"));
    assert_eq!(replayed.labels["system.originalId"], json!(original.id));
    // The original is untouched.
    let again = store.get_execution(&original.id).unwrap().unwrap();
    assert_eq!(again.task_run_list, original.task_run_list);

    // A replay of the replay still names the first execution.
    let second = engine
        .replay(&replayed.id, &only(&replayed, "c").id)
        .unwrap();
    let second = wait(&engine, &second.id).await;
    assert_eq!(second.state.current, StateType::Success);
    assert_eq!(second.labels["system.originalId"], json!(original.id));
    assert_eq!(second.task_run_list.len(), 3);

    assert!(matches!(
        engine.replay(&original.id, "no-such-run"),
        Err(EngineError::TaskRunNotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_from_a_run_inside_a_parallel_keeps_the_branches_beside_it() {
    let (engine, _) = engine();
    let source = r#"
id: par
namespace: company.team
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: "before"
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.debug.Return
        format: "left"
      - id: right
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: r1
            type: io.kestra.plugin.core.debug.Return
            format: "r1"
          - id: r2
            type: io.kestra.plugin.core.debug.Return
            format: "r2 {{ taskrun.attemptsCount }}"
  - id: end
    type: io.kestra.plugin.core.debug.Return
    format: "end"
"#;
    let original = run(&engine, source, Value::Null).await;
    assert_eq!(original.state.current, StateType::Success);
    let created = engine
        .replay(&original.id, &only(&original, "r2").id)
        .unwrap();
    // Before it runs: the runs before `r2` and beside it are copied, `end` is not.
    let ids: Vec<&str> = created
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(ids, ["before", "par", "left", "right", "r1", "r2"]);
    let replayed = wait(&engine, &created.id).await;
    assert_eq!(replayed.state.current, StateType::Success, "{replayed:?}");
    assert_eq!(replayed.task_run_list.len(), 7);
    assert_eq!(only(&replayed, "left").attempts.len(), 1);
    assert_eq!(only(&replayed, "r2").outputs["value"], json!("r2 1"));
    assert_eq!(only(&replayed, "end").state.current, StateType::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_directory_restarts_whole_since_the_directory_its_tasks_shared_is_gone() {
    let (engine, store) = engine();
    let source = r#"
id: wd
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: prepare
        type: io.kestra.plugin.core.debug.Return
        format: "prepared"
      - id: hold
        type: io.kestra.plugin.core.flow.Pause
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
"#;
    let first = start(&engine, source, Value::Null);
    let paused = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let e = store.get_execution(&first.id).unwrap().unwrap();
            if e.state.current == StateType::Paused || e.state.current.is_terminated() {
                break e;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("never paused");
    assert_eq!(paused.state.current, StateType::Paused);
    engine.resume(&first.id, Map::new()).unwrap();
    let failed = wait(&engine, &first.id).await;
    assert_eq!(failed.state.current, StateType::Failed);

    let done = restart_past_a_pause(&engine, &store, &first.id).await;
    assert_eq!(done.state.current, StateType::Failed, "{done:?}");
    // The WorkingDirectory's run is the same, with a new attempt; its children ran anew.
    assert_eq!(only(&done, "wd").id, only(&failed, "wd").id);
    assert_eq!(only(&done, "wd").attempts.len(), 2);
    assert_ne!(only(&done, "prepare").id, only(&failed, "prepare").id);
    assert_eq!(only(&done, "boom").attempts.len(), 1);
    assert_eq!(only(&done, "hold").state.current, StateType::Success);
}
