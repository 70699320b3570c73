//! Waiting and going again, through the engine API: pauses (by duration, by resume with
//! `onResume` inputs), LoopUntil iterations, what runs after the end (afterExecution,
//! listeners), and a CREATE_NEW_EXECUTION retry's chain of executions.

mod common;

use std::sync::Arc;
use std::time::Duration;

use saker_engine::{Engine, EngineError, EngineParts};
use saker_model::StateType;
use saker_store::{SqliteStore, Store};
use serde_json::{Map, Value, json};

use common::flows::{messages, output, run, runs, start, wait};

fn engine() -> (Engine, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    (Engine::start(EngineParts::new(store.clone())), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_with_a_duration_resumes_by_itself() {
    let (engine, _) = engine();
    let source = r#"
id: pause
namespace: company.team
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.2S
  - id: after
    type: Log
    message: after
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    let pause = done.task_run("pause").unwrap();
    let history: Vec<StateType> = pause.state.histories.iter().map(|h| h.state).collect();
    assert!(history.contains(&StateType::Paused), "{history:?}");
    assert_eq!(pause.state.current, StateType::Success);
    let execution_history: Vec<StateType> = done.state.histories.iter().map(|h| h.state).collect();
    assert!(execution_history.contains(&StateType::Paused));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_waits_for_resume_and_hands_on_its_inputs() {
    let (engine, store) = engine();
    let source = r#"
id: ask
namespace: company.team
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: asked
        type: STRING
      - id: count
        type: INT
        defaults: 3
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.pause.onResume.asked }} x{{ outputs.pause.onResume.count }}"
"#;
    let execution = start(&engine, source, Value::Null);
    // Wait until it is paused, as stored.
    let mut paused = false;
    for _ in 0..400 {
        let stored = store.get_execution(&execution.id).unwrap().unwrap();
        if stored.state.current == StateType::Paused {
            paused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(paused, "the execution never paused");
    // A missing required input is refused and the execution stays paused.
    let missing = engine.resume(&execution.id, Map::new()).unwrap_err();
    assert!(matches!(missing, EngineError::Inputs(_)), "{missing}");
    assert!(missing.to_string().contains("asked"), "{missing}");
    let mut inputs = Map::new();
    inputs.insert("asked".into(), json!("go"));
    engine.resume(&execution.id, inputs).unwrap();
    let done = wait(&engine, &execution.id).await;
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(output(&done, "last", "value"), "go x3");
    // Resuming an execution that is no longer paused says so.
    let again = engine.resume(&execution.id, Map::new()).unwrap_err();
    assert!(matches!(again, EngineError::NotPaused { .. }), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_until_goes_round_until_its_condition_holds() {
    let (engine, _) = engine();
    let source = r#"
id: loop
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.count.value == '3' }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: count
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.loop.iterationCount }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.loop.iterationCount }}"
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    let counts: Vec<(Option<u32>, &Value)> = runs(&done, "count")
        .iter()
        .map(|r| (r.iteration, &r.outputs["value"]))
        .collect();
    assert_eq!(
        counts,
        [
            (Some(0), &json!("0")),
            (Some(1), &json!("1")),
            (Some(2), &json!("2")),
            (Some(3), &json!("3"))
        ]
    );
    assert_eq!(output(&done, "after", "value"), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_until_stops_at_its_maximum_and_fails_when_told() {
    let (engine, store) = engine();
    let source = r#"
id: capped
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ false }}"
    failOnMaxReached: true
    checkFrequency:
      maxIterations: 2
      interval: PT0.05S
    tasks:
      - id: step
        type: Log
        message: "round {{ outputs.loop.iterationCount }}"
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Failed);
    assert_eq!(runs(&done, "step").len(), 2);
    let logs = messages(store.as_ref(), &done.id);
    assert!(
        logs.iter().any(|l| l.contains("reached its maximum")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_execution_and_matching_listeners_run_once_the_state_is_decided() {
    let (engine, _) = engine();
    let source = r#"
id: after
namespace: company.team
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
afterExecution:
  - id: cleanup
    type: Log
    message: cleaning up
listeners:
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FAILED]
    tasks:
      - id: on_failure
        type: Log
        message: it failed
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
    tasks:
      - id: on_success
        type: Log
        message: it worked
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Failed);
    for task in ["cleanup", "on_failure"] {
        assert_eq!(
            done.task_run(task).map(|r| r.state.current),
            Some(StateType::Success),
            "{task}"
        );
    }
    assert!(done.task_run("on_success").is_none());
    let end = |t: &str| done.task_run(t).unwrap().state.end_date().unwrap();
    assert!(
        done.task_run("cleanup")
            .unwrap()
            .state
            .start_date()
            .unwrap()
            >= end("boom")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_new_execution_retry_starts_new_executions_up_to_its_limit() {
    let (engine, store) = engine();
    let source = r#"
id: again
namespace: company.team
inputs:
  - id: who
    type: STRING
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "failing for {{ inputs.who }}"
    retry:
      behavior: CREATE_NEW_EXECUTION
      type: constant
      interval: PT0.05S
      maxAttempt: 3
"#;
    let first = run(&engine, source, json!({"who": "ann"})).await;
    assert_eq!(first.state.current, StateType::Failed);
    assert_eq!(first.task_run("fail").unwrap().attempts.len(), 1);
    // The chain: three executions in all, each with the same inputs, the last not retried.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let chain = loop {
        let mut filter = saker_store::ExecutionFilter::new(saker_model::DEFAULT_TENANT);
        filter.flow_id = Some("again".into());
        let all = store.list_executions(&filter).unwrap();
        let ended = all
            .iter()
            .filter(|e| e.state.current.is_terminated())
            .count();
        if ended >= 3 || std::time::Instant::now() > deadline {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(chain.len(), 3, "{chain:#?}");
    let mut attempts: Vec<&str> = chain
        .iter()
        .map(|e| {
            e.labels
                .get("system.executionAttempt")
                .and_then(|v| v.as_str())
                .unwrap_or("1")
        })
        .collect();
    attempts.sort();
    assert_eq!(attempts, ["1", "2", "3"]);
    for e in &chain {
        assert_eq!(e.inputs["who"], "ann");
        if e.id != first.id {
            assert_eq!(e.labels["system.originalId"], first.id.as_str());
        }
    }
    // No fourth: the limit holds once the last one failed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut filter = saker_store::ExecutionFilter::new(saker_model::DEFAULT_TENANT);
    filter.flow_id = Some("again".into());
    assert_eq!(store.list_executions(&filter).unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_task_resumes_another_paused_execution_of_its_namespace() {
    let (engine, store) = engine();
    let paused_flow = r#"
id: approval
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "approved: {{ outputs.wait.onResume.approved }}"
"#;
    let waiting = start(&engine, paused_flow, Value::Null);
    for _ in 0..400 {
        let stored = store.get_execution(&waiting.id).unwrap().unwrap();
        if stored.state.current == StateType::Paused {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let resumer = |namespace: &str| {
        format!(
            "id: resumer\nnamespace: {namespace}\ninputs:\n  - id: target\n    type: STRING\ntasks:\n  - id: resume\n    type: io.kestra.plugin.core.execution.Resume\n    executionId: \"{{{{ inputs.target }}}}\"\n    inputs:\n      approved: \"true\"\n"
        )
    };
    // Another namespace may not resume it.
    let refused = run(
        &engine,
        &resumer("other.team"),
        json!({"target": waiting.id}),
    )
    .await;
    assert_eq!(refused.state.current, StateType::Failed);
    let logs = messages(store.as_ref(), &refused.id);
    assert!(
        logs.iter()
            .any(|l| l.contains("not an execution of this namespace")),
        "{logs:?}"
    );

    let done = run(
        &engine,
        &resumer("company.team"),
        json!({"target": waiting.id}),
    )
    .await;
    assert_eq!(done.state.current, StateType::Success);
    let resumed = wait(&engine, &waiting.id).await;
    assert_eq!(resumed.state.current, StateType::Success);
    assert_eq!(output(&resumed, "after", "value"), "approved: true");

    // An execution that is no longer paused cannot be resumed: the task says so.
    let again = run(
        &engine,
        &resumer("company.team"),
        json!({"target": waiting.id}),
    )
    .await;
    assert_eq!(again.state.current, StateType::Failed);
    assert_eq!(runs(&again, "resume")[0].state.current, StateType::Failed);
}
