//! What the conformance runner asks of the engine beyond creating and waiting: resuming a
//! paused execution, restarting and replaying an ended one, giving a FILE input, and
//! watching the store for states and for the executions a run started.

use std::time::Duration;

use saker_engine::Engine;
use saker_model::{DEFAULT_TENANT, Execution};
use saker_store::{ExecutionFilter, LogQuery, Store};
use serde_json::{Map, Value};

/// How long a scenario waits for an execution to end, pause or start.
pub const WAIT: Duration = Duration::from_secs(60);
/// How long a scenario watches for executions that must NOT start. Only an absence is
/// checked after it, so a slow machine can make such a check pass late, never fail wrongly.
pub const SETTLE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(25);

/// Resumes a PAUSED execution with the `onResume` inputs given.
pub fn resume(
    engine: &Engine,
    execution_id: &str,
    inputs: Map<String, Value>,
) -> Result<(), String> {
    engine
        .resume(execution_id, inputs)
        .map_err(|e| e.to_string())
}

/// Restarts an ended FAILED execution from its failed task run (same execution id).
pub fn restart(engine: &Engine, execution_id: &str) -> Result<(), String> {
    engine.restart(execution_id).map_err(|e| e.to_string())
}

/// Replays an ended execution from one of its task runs; returns the new execution's id.
pub fn replay(engine: &Engine, execution_id: &str, task_run_id: &str) -> Result<String, String> {
    engine
        .replay(execution_id, task_run_id)
        .map(|e| e.id)
        .map_err(|e| e.to_string())
}

/// Waits for an execution to end; `Err` says why it did not.
pub async fn wait_end(engine: &Engine, execution_id: &str) -> Result<Execution, String> {
    match tokio::time::timeout(WAIT, engine.wait(execution_id)).await {
        Ok(Some(execution)) => Ok(execution),
        Ok(None) => Err(format!("execution {execution_id} vanished")),
        Err(_) => Err(format!("did not end within {} s", WAIT.as_secs())),
    }
}

/// Polls the store until the execution is in `state` (by name: the states v2 brings, PAUSED
/// and QUEUED, are not in today's `StateType`); `Err` names the state it stayed in.
pub async fn wait_state(
    store: &dyn Store,
    execution_id: &str,
    state: &str,
) -> Result<Execution, String> {
    wait_until(store, execution_id, state, |s| s == state).await
}

/// Polls the store until the execution started: any state but CREATED and QUEUED (RUNNING,
/// or PAUSED already for a flow that pauses at once), before its end.
pub async fn wait_started(store: &dyn Store, execution_id: &str) -> Result<Execution, String> {
    wait_until(store, execution_id, "started", |s| {
        s != "CREATED" && s != "QUEUED"
    })
    .await
}

async fn wait_until(
    store: &dyn Store,
    execution_id: &str,
    what: &str,
    reached: impl Fn(&str) -> bool,
) -> Result<Execution, String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        match store.get_execution(execution_id) {
            Ok(Some(e)) if e.state.current.is_terminated() => {
                return Err(format!("ended {} without being {what}", e.state.current));
            }
            Ok(Some(e)) if reached(e.state.current.as_str()) => return Ok(e),
            Ok(Some(e)) => last = Some(e.state.current),
            Ok(None) => {}
            Err(e) => return Err(format!("could not read the execution: {e}")),
        }
        tokio::time::sleep(POLL).await;
    }
    Err(format!(
        "not {what} within {} s (last seen {last:?})",
        WAIT.as_secs()
    ))
}

/// The executions of `flow_id` once `count` of them ended (all of them for `count` 0, after
/// the settling time). `Err` says how many there were.
pub async fn wait_triggered(
    store: &dyn Store,
    flow_id: &str,
    count: usize,
) -> Result<Vec<Execution>, String> {
    let list = || {
        let mut filter = ExecutionFilter::new(DEFAULT_TENANT);
        filter.flow_id = Some(flow_id.to_owned());
        filter.limit = None;
        store
            .list_executions(&filter)
            .map_err(|e| format!("could not list executions of {flow_id}: {e}"))
    };
    if count == 0 {
        tokio::time::sleep(SETTLE).await;
        return list();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = list()?;
        let ended = found
            .iter()
            .filter(|e| e.state.current.is_terminated())
            .count();
        if ended >= count {
            // A listing holds the executions without their task runs: read each in full.
            return found
                .into_iter()
                .map(|e| {
                    store
                        .get_execution(&e.id)
                        .map_err(|err| format!("could not read execution {}: {err}", e.id))?
                        .ok_or_else(|| format!("execution {} vanished", e.id))
                })
                .collect();
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{ended} execution(s) of {flow_id} ended within {} s ({} found), expected {count}",
                WAIT.as_secs(),
                found.len()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The messages of an execution's log lines.
pub fn log_messages(store: &dyn Store, execution_id: &str) -> Vec<String> {
    store
        .list_logs(&LogQuery::new(execution_id))
        .map(|logs| logs.into_iter().map(|l| l.entry.message).collect())
        .unwrap_or_else(|e| vec![format!("(logs unreadable: {e})")])
}
