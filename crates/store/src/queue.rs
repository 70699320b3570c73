//! The durable job queue of distributed mode (PostgreSQL only; see `PgStore::enqueue_jobs`
//! and ARCHITECTURE.md, "Distributed mode"): jobs for workers, their results for executors.
//! The store treats a payload as opaque JSON text (the engine's worker protocol message,
//! `saker_engine::wire`); it never reads or logs it.

use chrono::{DateTime, Utc};

/// A job to queue: one attempt of one task run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Unique; queueing an id twice keeps the first.
    pub id: String,
    pub execution_id: String,
    pub task_run_id: String,
    /// 1-based.
    pub attempt: u32,
    /// Only workers of this group claim it (`None`: the default group).
    pub worker_group: Option<String>,
    /// The worker protocol message, as JSON text.
    pub payload: String,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// Held by a worker under a lease.
    Claimed,
    /// Its result was submitted.
    Done,
    /// Its holder died under the NEVER restart strategy: never run again.
    Abandoned,
    /// Its holder died after its execution ended or while it was killed: nothing to run.
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Claimed,
        JobState::Done,
        JobState::Abandoned,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Claimed => "CLAIMED",
            JobState::Done => "DONE",
            JobState::Abandoned => "ABANDONED",
            JobState::Cancelled => "CANCELLED",
        }
    }
}

/// What a worker asks for.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The claiming instance; it must be registered and RUNNING.
    pub instance: &'a str,
    pub worker_group: Option<&'a str>,
    /// At most this many jobs.
    pub max: u32,
    /// How long the jobs stay the claimer's without a heartbeat renewing them.
    pub lease: std::time::Duration,
    pub now: DateTime<Utc>,
}

/// A job a worker now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: String,
    pub execution_id: String,
    pub task_run_id: String,
    pub attempt: u32,
    pub worker_group: Option<String>,
    pub payload: String,
    /// How many times the job has been claimed, this claim included: a result is accepted
    /// only with the delivery of the claim that still holds the job.
    pub delivery: u32,
    pub lease_until: DateTime<Utc>,
    /// When the job was queued (by the executor's clock): the claim latency is measured
    /// from here.
    pub queued_at: DateTime<Utc>,
}

/// A job as stored, for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: String,
    pub execution_id: String,
    pub task_run_id: String,
    pub attempt: u32,
    pub worker_group: Option<String>,
    pub state: JobState,
    pub delivery: u32,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub lease_until: Option<DateTime<Utc>>,
}

/// A worker's result for the job it holds.
#[derive(Debug, Clone, Copy)]
pub struct NewResult<'a> {
    pub job_id: &'a str,
    /// The delivery of the claim ([`ClaimedJob::delivery`]).
    pub delivery: u32,
    pub instance: &'a str,
    /// The worker protocol's result message, as JSON text.
    pub payload: &'a str,
    pub now: DateTime<Utc>,
}

/// What became of a submitted result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Stored; the job is DONE and the executors are notified.
    Accepted,
    /// A result for this task run and attempt is already stored: nothing changed.
    Duplicate,
    /// The job is no longer this claim's (requeued, abandoned, cancelled, claimed again) or
    /// the instance is no longer alive: nothing stored. The worker drops the result.
    Stale,
}

/// A stored result, for the executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingResult {
    /// Its position; [`crate::PgStore::mark_result_applied`] takes it.
    pub seq: i64,
    pub job_id: String,
    pub execution_id: String,
    pub task_run_id: String,
    pub attempt: u32,
    pub payload: String,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
}

/// What became of one attempt of a task run, for an executor recovering an execution it
/// took over ([`crate::PgStore::job_fate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFate {
    /// The newest job of that task run attempt.
    pub job_id: String,
    pub state: JobState,
    /// The stored result's payload, applied or not; `None` while there is none.
    pub result: Option<String>,
}

/// What woke a [`crate::JobWaiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A notification arrived (one or more, coalesced).
    Notified,
    /// The fallback poll interval passed without one.
    TimedOut,
}

/// The notification channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeChannel {
    /// A job was queued or requeued (payload: its worker group, empty for the default).
    Jobs,
    /// A result was submitted (payload: its execution id).
    Results,
    /// A command was queued for the executor (payload: empty; see `crate::commands`).
    Commands,
    /// A control was published for the workers (payload: empty).
    Controls,
}

impl WakeChannel {
    pub fn name(self) -> &'static str {
        match self {
            WakeChannel::Jobs => "saker_worker_jobs",
            WakeChannel::Results => "saker_worker_results",
            WakeChannel::Commands => "saker_executor_commands",
            WakeChannel::Controls => "saker_worker_controls",
        }
    }
}
