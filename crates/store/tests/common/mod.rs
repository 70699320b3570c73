//! Builders shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

pub mod contract;
pub mod distributed;
pub mod pg;

use chrono::{DateTime, Utc};
use saker_model::execution::{Execution, Level, LogEntry, StateType, TaskRun, TaskRunAttempt};
use serde_json::json;

/// A fixed instant with whole microseconds (what the store keeps), plus `offset_ms`.
pub fn at(offset_ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000 + offset_ms * 1000)
        .expect("in range")
}

/// An execution with inputs, outputs and labels filled in, so round trips check them all.
pub fn execution(namespace: &str, flow_id: &str) -> Execution {
    let mut e = Execution::new("main", namespace, flow_id, 3);
    e.inputs.insert("day".into(), json!("2026-11-22"));
    e.inputs.insert(
        "token".into(),
        saker_model::execution::sealed_value("c2VhbGVk"),
    );
    e.outputs.insert("count".into(), json!(42));
    e.labels.insert("team".into(), json!("data"));
    e
}

pub fn task_run(execution: &Execution, task_id: &str) -> TaskRun {
    let mut tr = TaskRun::new(execution, task_id);
    tr.attempts.push(TaskRunAttempt {
        state: tr.state.clone(),
    });
    tr
}

pub fn log(
    execution: &Execution,
    task_run: Option<&TaskRun>,
    level: Level,
    message: &str,
) -> LogEntry {
    LogEntry {
        tenant_id: execution.tenant_id.clone(),
        namespace: execution.namespace.clone(),
        flow_id: execution.flow_id.clone(),
        execution_id: execution.id.clone(),
        task_run_id: task_run.map(|t| t.id.clone()),
        task_id: task_run.map(|t| t.task_id.clone()),
        attempt_number: task_run.map(|_| 1),
        timestamp: Utc::now(),
        level,
        message: message.to_owned(),
    }
}

/// Moves a task run (and its last attempt) to `state`.
pub fn transition(tr: &mut TaskRun, state: StateType) {
    tr.state.transition(state);
    if let Some(attempt) = tr.attempts.last_mut() {
        attempt.state.transition(state);
    }
}
