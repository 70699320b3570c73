//! What a batch of events decided, kept until the batch is committed.

use std::time::Duration;

use saker_model::{Execution, LogEntry, TaskRun};
use saker_store::Write;
use tokio::sync::oneshot;

use crate::queue::WorkerJob;

/// Events handled per transaction at most.
pub(super) const MAX_BATCH: usize = 256;

/// What a batch of events decided: written first, acted on after the commit.
#[derive(Default)]
pub(super) struct Outbox {
    pub writes: Vec<Owned>,
    pub jobs: Vec<WorkerJob>,
    pub retries: Vec<(String, String, Duration)>,
    /// Pauses with a duration: (execution, task run, how long).
    pub pauses: Vec<(String, String, Duration)>,
    /// Loops between iterations: (execution, task run, interval).
    pub loops: Vec<(String, String, Duration)>,
    /// Executions that ended in this batch, with their flow, for the Flow triggers.
    pub ended: Vec<(std::sync::Arc<saker_model::Flow>, Execution)>,
    pub replies: Vec<(oneshot::Sender<Option<Execution>>, Execution)>,
    pub lookups: Vec<(String, oneshot::Sender<Option<Execution>>)>,
    /// Answered once everything handled before them is committed.
    pub barriers: Vec<oneshot::Sender<()>>,
}

/// An owned [`Write`], kept until the batch is committed.
pub(super) enum Owned {
    /// A new execution (a subflow's child).
    Created(Execution),
    Execution(Execution),
    TaskRun(TaskRun),
    Logs(Vec<LogEntry>),
}

impl Owned {
    pub(super) fn as_write(&self) -> Write<'_> {
        match self {
            Owned::Created(e) => Write::CreateExecution(e),
            Owned::Execution(e) => Write::SaveExecution(e),
            Owned::TaskRun(t) => Write::SaveTaskRun(t),
            Owned::Logs(l) => Write::AppendLogs(l),
        }
    }
}

/// The execution without its task runs (saved separately), to keep the batch small. Built
/// field by field: cloning the whole execution to drop its task runs cost O(task runs) on
/// every step (the pattern names every field, so a new one cannot be forgotten here).
pub(super) fn execution_header(execution: &Execution) -> Execution {
    let Execution {
        id,
        tenant_id,
        namespace,
        flow_id,
        flow_revision,
        state,
        inputs,
        outputs,
        labels,
        variables,
        task_run_list: _,
        trigger,
    } = execution;
    Execution {
        id: id.clone(),
        tenant_id: tenant_id.clone(),
        namespace: namespace.clone(),
        flow_id: flow_id.clone(),
        flow_revision: *flow_revision,
        state: state.clone(),
        inputs: inputs.clone(),
        outputs: outputs.clone(),
        labels: labels.clone(),
        variables: variables.clone(),
        task_run_list: Vec::new(),
        trigger: trigger.clone(),
    }
}
