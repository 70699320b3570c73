//! Flow triggers through the engine API: a listener starts when an upstream execution ends
//! as its conditions say, with inputs rendered from the upstream execution; a
//! MultipleCondition waits for all its conditions.

use std::sync::Arc;
use std::time::Duration;

use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_store::{ExecutionFilter, SqliteStore, Store};
use serde_json::Map;

fn engine() -> (Engine, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    (Engine::start(EngineParts::new(store.clone())), store)
}

async fn run(engine: &Engine, source: &str) -> Execution {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let execution = engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, Map::new())
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), engine.wait(&execution.id))
        .await
        .unwrap()
        .unwrap()
}

/// The ended executions of `flow_id`, waiting up to `patience` for `count` of them. A check
/// that none (or no more) start waits the whole `patience`: it can pass late on a slow
/// machine, never fail wrongly.
async fn ended_of(
    store: &SqliteStore,
    flow_id: &str,
    count: usize,
    patience: Duration,
) -> Vec<Execution> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        let mut filter = ExecutionFilter::new(DEFAULT_TENANT);
        filter.flow_id = Some(flow_id.to_owned());
        let found: Vec<Execution> = store
            .list_executions(&filter)
            .unwrap()
            .into_iter()
            .filter(|e| e.state.current.is_terminated())
            .filter_map(|e| store.get_execution(&e.id).unwrap())
            .collect();
        if found.len() >= count || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const UPSTREAM: &str = r#"
id: upstream
namespace: company.team
inputs:
  - id: outcome
    type: STRING
    defaults: ok
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "made by {{ execution.id }}"
  - id: maybe
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.outcome == 'fail' }}"
"#;

const LISTENER: &str = r#"
id: listener
namespace: company.team
inputs:
  - id: from
    type: STRING
tasks:
  - id: got
    type: io.kestra.plugin.core.debug.Return
    format: "got {{ inputs.from }} after {{ trigger.flowId }} {{ trigger.state }}"
triggers:
  - id: on-success
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      from: "{{ outputs.only.value }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: upstream
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_starts_after_a_matching_end_with_inputs_from_it() {
    let (engine, store) = engine();
    engine.deploy(DEFAULT_TENANT, LISTENER).unwrap();
    let upstream = run(&engine, UPSTREAM).await;
    assert_eq!(upstream.state.current, StateType::Success);
    let listened = ended_of(&store, "listener", 1, Duration::from_secs(30)).await;
    assert_eq!(listened.len(), 1);
    let listener = &listened[0];
    assert_eq!(listener.state.current, StateType::Success, "{listener:?}");
    assert_eq!(
        listener.task_run("got").unwrap().outputs["value"],
        format!("got made by {} after upstream SUCCESS", upstream.id)
    );
    let trigger = listener.trigger.as_deref().unwrap();
    assert_eq!(trigger.variables["executionId"], upstream.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_does_not_start_when_a_condition_fails() {
    let (engine, store) = engine();
    engine.deploy(DEFAULT_TENANT, LISTENER).unwrap();
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, UPSTREAM).unwrap();
    let mut inputs = Map::new();
    inputs.insert("outcome".into(), "fail".into());
    let failed = engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, inputs)
        .unwrap();
    let failed = engine.wait(&failed.id).await.unwrap();
    assert_eq!(failed.state.current, StateType::Failed);
    // A successful run afterwards starts exactly one listener: the failure started none.
    run(&engine, UPSTREAM).await;
    let listened = ended_of(&store, "listener", 2, Duration::from_secs(2)).await;
    assert_eq!(listened.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiple_condition_waits_for_all_of_its_flows() {
    let (engine, store) = engine();
    let listener = r#"
id: both
namespace: company.team
tasks:
  - id: done
    type: Log
    message: both ran
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - id: pair
        type: io.kestra.plugin.core.condition.MultipleCondition
        window: P1D
        conditions:
          first:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.team
            flowId: first
          second:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.team
            flowId: second
"#;
    engine.deploy(DEFAULT_TENANT, listener).unwrap();
    let flow = |id: &str| {
        format!(
            "id: {id}\nnamespace: company.team\ntasks:\n  - id: t\n    type: Log\n    message: hi\n"
        )
    };
    run(&engine, &flow("first")).await;
    run(&engine, &flow("first")).await;
    assert!(
        ended_of(&store, "both", 1, Duration::from_secs(1))
            .await
            .is_empty(),
        "fired with one flow"
    );
    run(&engine, &flow("second")).await;
    assert_eq!(
        ended_of(&store, "both", 1, Duration::from_secs(30))
            .await
            .len(),
        1
    );
}

/// Kestra's `flow-trigger-preconditions-flow-listen`: upstream flows with states, and `where`
/// groups, one of them an EXPRESSION on the upstream execution's labels. The labelled flow
/// meets its group; the other flow, which has no such label, still meets its own group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconditions_with_where_filters_fire_once_all_are_met() {
    let (engine, store) = engine();
    let listener = r#"
id: listen
namespace: company.team.preconditions
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "It works"
triggers:
  - id: flow
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: flow
      flows:
        - namespace: company.team.preconditions
          flowId: labelled
          states: [SUCCESS, WARNING, FAILED]
        - namespace: company.team.preconditions
          flowId: plain
          states: [SUCCESS]
      where:
        - id: by-label
          filters:
            - field: NAMESPACE
              type: STARTS_WITH
              value: company.team
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{ labels.some == 'label' }}"
        - id: plain-flow
          filters:
            - field: NAMESPACE
              type: ENDS_WITH
              value: team.preconditions
            - field: FLOW_ID
              type: EQUAL_TO
              value: plain
"#;
    engine.deploy(DEFAULT_TENANT, listener).unwrap();
    let flow = |id: &str, labels: &str| {
        format!(
            "id: {id}\nnamespace: company.team.preconditions\n{labels}tasks:\n  - id: t\n    \
             type: io.kestra.plugin.core.debug.Return\n    format: hi\n"
        )
    };
    let labelled = run(&engine, &flow("labelled", "labels:\n  some: label\n")).await;
    assert_eq!(labelled.state.current, StateType::Success);
    assert!(
        ended_of(&store, "listen", 1, Duration::from_secs(1))
            .await
            .is_empty(),
        "fired before the plain flow ran"
    );
    let plain = run(&engine, &flow("plain", "")).await;
    assert_eq!(plain.state.current, StateType::Success);
    let listened = ended_of(&store, "listen", 1, Duration::from_secs(30)).await;
    assert_eq!(listened.len(), 1);
    assert_eq!(listened[0].state.current, StateType::Success);
}
