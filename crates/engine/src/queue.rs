//! What travels between the executor and the workers: a job to run one attempt of one task
//! run, and its result. In local mode they cross in-memory channels; the durable copy of
//! everything they carry is in the store, which is what recovery reads after a crash.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use saker_model::{Execution, Flow, LogEntry, StateType, TaskDef, TaskRun};
use serde_json::{Map, Value};

/// One attempt of one task run, ready for a worker.
#[derive(Debug, Clone)]
pub struct WorkerJob {
    pub flow: Arc<Flow>,
    /// A snapshot of the execution when the job was queued: inputs, labels and the outputs
    /// of the tasks that ran before this one.
    pub execution: Arc<Execution>,
    pub task: Arc<TaskDef>,
    pub task_run: TaskRun,
    /// 1-based number of the attempt this job runs.
    pub attempt: u32,
    /// The run of the `WorkingDirectory` this task is in (or is): its attempts work in that
    /// run's shared directory instead of one of their own.
    pub working_directory: Option<String>,
    /// Not an attempt: render the `condition` of this `LoopUntil` run after an iteration.
    pub check: bool,
}

/// What a worker reports for a job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerResult {
    pub execution_id: String,
    pub task_run_id: String,
    /// The attempt the result is for (1-based; 0 in a result written before attempts were
    /// named, accepted for any).
    #[serde(default)]
    pub attempt: u32,
    /// SUCCESS, WARNING, FAILED, SKIPPED or KILLED.
    pub state: StateType,
    pub outputs: Map<String, Value>,
    /// A flowable task's decision: its children start from it. Values derived from a
    /// secret are already sealed.
    pub resolved: Option<Box<saker_model::Resolved>>,
    /// Labels the task sets on the execution.
    pub labels: Map<String, Value>,
    /// The state an `Exit` task ends the execution in.
    pub exit: Option<StateType>,
    /// The paused execution a `Resume` task resumes.
    #[serde(default)]
    pub resume: Option<Box<ResumeRequest>>,
    /// The change a `SetVariables` or `UnsetVariables` task makes to the execution's
    /// variables.
    #[serde(default)]
    pub variables: Option<Box<VariablesUpdate>>,
    /// When the worker started and finished the attempt (the attempt's own history uses
    /// these, so it measures the task and nothing of the orchestration around it).
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Log lines not yet written by the worker's periodic flush; the executor writes them
    /// in the same transaction as the task run's new state.
    pub logs: Vec<LogEntry>,
}

impl WorkerResult {
    /// The result of an attempt that ended in `state` without running to its end (its
    /// worker died, or could not read its job): no outputs, no decision, only `logs`.
    pub fn ended_without_outputs(
        execution_id: String,
        task_run_id: String,
        attempt: u32,
        state: StateType,
        started_at: DateTime<Utc>,
        logs: Vec<LogEntry>,
    ) -> Self {
        Self {
            execution_id,
            task_run_id,
            attempt,
            state,
            outputs: Map::new(),
            resolved: None,
            labels: Map::new(),
            exit: None,
            resume: None,
            variables: None,
            started_at,
            ended_at: Utc::now(),
            logs,
        }
    }
}

/// A change to an execution's variables, applied by the executor on the variables the
/// execution has then (the flow's until a first change): `set` deep-merged in (maps key by key,
/// as Kestra's `MapUtils.deepMerge`), then the `unset` names removed. Values never derive from
/// a secret (the tasks refuse them): variables are stored and shown in clear.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VariablesUpdate {
    #[serde(default)]
    pub set: Map<String, Value>,
    #[serde(default)]
    pub unset: Vec<String>,
}

impl VariablesUpdate {
    /// `variables` with this change made.
    pub fn apply(&self, variables: &mut Map<String, Value>) {
        deep_merge(variables, &self.set);
        for name in &self.unset {
            variables.remove(name);
        }
    }
}

fn deep_merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => deep_merge(old, new),
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// What a `Resume` task asks: resume this paused execution with these `onResume` inputs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeRequest {
    pub execution_id: String,
    /// When given, the execution must be of this namespace and flow.
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub inputs: Map<String, Value>,
}

/// The queue is closed: its other end is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the queue is closed")]
pub struct QueueClosed;

/// The future [`Queue::pop`] returns.
pub type PopFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<T>> + Send + 'a>>;

/// A queue between the executor and the workers: jobs one way, results the other. In one
/// process it is [`LocalQueue`]; executor and workers in separate processes need a durable
/// implementation (rows claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL), which is an
/// addition behind this trait, not a change to either side.
pub trait Queue<T>: Send + Sync {
    /// Adds an item; never waits.
    fn push(&self, item: T) -> Result<(), QueueClosed>;
    /// The next item, or `None` once the queue is closed and empty.
    fn pop(&self) -> PopFuture<'_, T>;
    /// Between one and `max` items, waiting for the first; `None` once the queue is closed
    /// and empty. A queue that can hand several at the cost of one (a claim in the database)
    /// overrides it; by default, one.
    fn pop_up_to(&self, max: usize) -> PopFuture<'_, Vec<T>>
    where
        T: Send + 'static,
    {
        let _ = max;
        Box::pin(async move { self.pop().await.map(|item| vec![item]) })
    }
}

/// An in-memory queue for a single process. The store holds the durable truth of every
/// job it carries (a RUNNING task run), which recovery reads after a crash. It holds both
/// ends, so it never closes: the tasks waiting on it end with the runtime.
pub struct LocalQueue<T> {
    tx: tokio::sync::mpsc::UnboundedSender<T>,
    rx: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<T>>,
}

impl<T> Default for LocalQueue<T> {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Self {
            tx,
            rx: tokio::sync::Mutex::new(rx),
        }
    }
}

impl<T: Send + 'static> Queue<T> for LocalQueue<T> {
    fn push(&self, item: T) -> Result<(), QueueClosed> {
        self.tx.send(item).map_err(|_| QueueClosed)
    }

    fn pop(&self) -> PopFuture<'_, T> {
        Box::pin(async move { self.rx.lock().await.recv().await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_queue_is_first_in_first_out() {
        let q = LocalQueue::default();
        q.push(1).unwrap();
        q.push(2).unwrap();
        assert_eq!(q.pop().await, Some(1));
        assert_eq!(q.pop().await, Some(2));
    }
}
