//! The PurgeExecutions and PurgeLogs tasks, run by the engine on a real store: what they
//! remove, what they report under Kestra's output names, and what they must not touch (other
//! namespaces than the flow's own and its children, the execution running them).

use std::sync::Arc;
use std::time::Duration;

use saker_engine::runner::Registry;
use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::{Map, json};

fn engine() -> (Engine, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let parts = EngineParts {
        registry: Registry::builtin().with_store_tasks(store.clone()),
        ..EngineParts::new(store.clone())
    };
    (Engine::start(parts), store)
}

async fn run(engine: &Engine, source: &str) -> Execution {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let execution = engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, Map::new())
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), engine.wait(&execution.id))
        .await
        .expect("the execution did not end")
        .expect("the execution exists")
}

/// Runs a two-line Log flow in `namespace` to its end.
async fn history(engine: &Engine, namespace: &str) -> Execution {
    let source = format!(
        "id: work\nnamespace: {namespace}\ntasks:\n  - id: a\n    type: Log\n    message: one\n  - id: b\n    type: Log\n    level: DEBUG\n    message: two\n"
    );
    let done = run(engine, &source).await;
    assert_eq!(done.state.current, StateType::Success);
    done
}

fn purge_flow(namespace: &str, task: &str) -> String {
    format!("id: purge\nnamespace: {namespace}\ntasks:\n  - id: purge\n{task}")
}

fn lines(store: &SqliteStore, execution: &Execution) -> usize {
    store
        .list_logs(&LogQuery::new(&execution.id))
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_executions_removes_its_namespace_and_children_only() {
    let (engine, store) = engine();
    let team = history(&engine, "company.team").await;
    let sub = history(&engine, "company.team.sub").await;
    let other = history(&engine, "company.other").await;
    let team_lines = lines(&store, &team) + lines(&store, &sub);

    let task = "    type: io.kestra.plugin.core.execution.PurgeExecutions\n    endDate: \"{{ now() | dateAdd(1, 'HOURS') }}\"\n    states: [SUCCESS]\n";
    let done = run(&engine, &purge_flow("company.team", task)).await;
    assert_eq!(done.state.current, StateType::Success, "{done:?}");
    let outputs = &done.task_run("purge").unwrap().outputs;
    assert_eq!(outputs["executionsCount"], json!(2));
    assert_eq!(outputs["logsCount"], json!(team_lines));
    assert_eq!(outputs["storagesCount"], json!(0));
    assert_eq!(outputs["metricsCount"], json!(0));
    assert!(store.get_execution(&team.id).unwrap().is_none());
    assert!(store.get_execution(&sub.id).unwrap().is_none());
    assert!(store.get_execution(&other.id).unwrap().is_some());
    // The purging execution is kept, with its own log lines.
    assert!(store.get_execution(&done.id).unwrap().is_some());
    assert!(lines(&store, &done) > 0);

    // A second run finds only the first purge's execution, which has ended SUCCESS since:
    // it goes now, and the running one stays.
    let again = run(&engine, &purge_flow("company.team", task)).await;
    let outputs = &again.task_run("purge").unwrap().outputs;
    assert_eq!(outputs["executionsCount"], json!(1));
    assert!(store.get_execution(&done.id).unwrap().is_none());
    assert!(store.get_execution(&again.id).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_date_in_the_past_and_a_foreign_namespace_purge_nothing() {
    let (engine, store) = engine();
    let team = history(&engine, "company.team").await;

    let task = "    type: PurgeExecutions\n    endDate: \"{{ now() | dateAdd(-1, 'DAYS') }}\"\n";
    let done = run(&engine, &purge_flow("company.team", task)).await;
    assert_eq!(
        done.task_run("purge").unwrap().outputs["executionsCount"],
        json!(0)
    );
    assert!(store.get_execution(&team.id).unwrap().is_some());

    let task = "    type: PurgeExecutions\n    namespace: company.team\n    endDate: \"{{ now() | dateAdd(1, 'HOURS') }}\"\n";
    let refused = run(&engine, &purge_flow("company.other", task)).await;
    assert_eq!(refused.state.current, StateType::Failed);
    let messages: Vec<String> = store
        .list_logs(&LogQuery::new(&refused.id))
        .unwrap()
        .into_iter()
        .map(|l| l.entry.message)
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("may only purge 'company.other'") && m.contains("company.team")),
        "{messages:?}"
    );
    assert!(store.get_execution(&team.id).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dates_and_states_fail_the_task_with_the_property_named() {
    let (engine, store) = engine();
    for (task, property) in [
        (
            "    type: PurgeExecutions\n    endDate: yesterday\n",
            "endDate",
        ),
        (
            "    type: PurgeExecutions\n    endDate: \"{{ now() }}\"\n    states: [DONE]\n",
            "states",
        ),
        (
            "    type: PurgeLogs\n    endDate: \"{{ now() }}\"\n    logLevels: [LOUD]\n",
            "logLevels",
        ),
    ] {
        let done = run(&engine, &purge_flow("ns", task)).await;
        assert_eq!(done.state.current, StateType::Failed, "{task}");
        let logs = store.list_logs(&LogQuery::new(&done.id)).unwrap();
        assert!(
            logs.iter()
                .any(|l| l.entry.message.contains(&format!("property '{property}'"))),
            "{task}: {:?}",
            logs.iter().map(|l| &l.entry.message).collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_logs_removes_lines_by_level_and_keeps_executions() {
    let (engine, store) = engine();
    let team = history(&engine, "company.team").await;
    let other = history(&engine, "company.other").await;
    let other_lines = lines(&store, &other);

    let task = "    type: io.kestra.plugin.core.log.PurgeLogs\n    endDate: \"{{ now() | dateAdd(1, 'HOURS') }}\"\n    logLevels: [DEBUG]\n";
    let done = run(&engine, &purge_flow("company.team", task)).await;
    assert_eq!(done.state.current, StateType::Success, "{done:?}");
    assert_eq!(done.task_run("purge").unwrap().outputs["count"], json!(1));
    let left = store.list_logs(&LogQuery::new(&team.id)).unwrap();
    assert!(left.iter().all(|l| l.entry.message != "two"), "{left:?}");
    assert!(left.iter().any(|l| l.entry.message == "one"));
    assert_eq!(lines(&store, &other), other_lines);
    assert!(store.get_execution(&team.id).unwrap().is_some());
    assert!(lines(&store, &done) > 0, "its own lines are kept");
}
