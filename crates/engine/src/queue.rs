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
}

/// What a worker reports for a job.
#[derive(Debug, Clone)]
pub struct WorkerResult {
    pub execution_id: String,
    pub task_run_id: String,
    /// SUCCESS, WARNING, FAILED, SKIPPED or KILLED.
    pub state: StateType,
    pub outputs: Map<String, Value>,
    /// When the worker started and finished the attempt (the attempt's own history uses
    /// these, so it measures the task and nothing of the orchestration around it).
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Log lines not yet written by the worker's periodic flush; the executor writes them
    /// in the same transaction as the task run's new state.
    pub logs: Vec<LogEntry>,
}
