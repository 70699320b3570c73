//! What an executor that takes over needs from the job queue: the fate of each attempt the
//! previous executor left RUNNING (`saker_engine::recovery::AttemptFate`).

use chrono::Utc;
use saker_engine::queue::WorkerResult;
use saker_engine::recovery::AttemptFate;
use saker_engine::wire::WireMessage;
use saker_model::{StateType, TaskRun};
use saker_store::queue::JobState;

use crate::Db;

/// The fate of `run`'s current attempt, as its newest job says:
/// - queued or claimed: still on its way (a living worker holds it, or will);
/// - done: its stored result, applied again (the executor ignores it if it already was);
/// - abandoned (restart strategy NEVER): failed, never run again;
/// - cancelled, or no job at all (the executor died before queueing it): lost, so a new
///   attempt starts. A database error counts as lost too, with a warning: a new attempt is
///   the safe side of not knowing.
pub fn attempt_fate(db: Db, run: &TaskRun) -> AttemptFate {
    let attempt = run.attempts.len() as u32;
    let fate = match db.job_fate(&run.id, attempt) {
        Ok(fate) => fate,
        Err(error) => {
            tracing::warn!(%error, task_run = %run.id, "cannot read the fate of an interrupted attempt; a new attempt starts");
            return AttemptFate::Lost;
        }
    };
    let Some(fate) = fate else {
        return AttemptFate::Lost;
    };
    match fate.state {
        JobState::Queued | JobState::Claimed => AttemptFate::Pending,
        JobState::Done => match fate.result.as_deref().map(WorkerResult::from_wire) {
            Some(Ok(result)) => AttemptFate::Finished(Box::new(result)),
            _ => AttemptFate::Lost,
        },
        JobState::Abandoned => {
            AttemptFate::Finished(Box::new(WorkerResult::ended_without_outputs(
                run.execution_id.clone(),
                run.id.clone(),
                attempt,
                StateType::Failed,
                Utc::now(),
                Vec::new(),
            )))
        }
        JobState::Cancelled => AttemptFate::Lost,
    }
}
