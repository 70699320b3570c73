//! What the other processes of distributed mode ask of the executor (`executor_commands`),
//! and what the executor tells every worker (`worker_controls`); PostgreSQL only (see
//! `PgStore::push_command`, `PgStore::push_control` and ARCHITECTURE.md, "Distributed
//! mode"). A payload is opaque JSON text: the store never reads nor logs it.

use chrono::{DateTime, Utc};

/// The kind of the command the coordinator queues when it requeued a job of a gone worker
/// (payload: `{"taskRunId", "attempt", "holder"}`).
pub const JOB_RESUBMITTED: &str = "jobResubmitted";
/// The kind of the command the coordinator queues when it abandoned a job of a gone worker
/// under the NEVER restart strategy (same payload as [`JOB_RESUBMITTED`]).
pub const JOB_ABANDONED: &str = "jobAbandoned";
/// The kind of the command the coordinator queues when it cancelled a job of a gone worker
/// because its execution ended or is being killed (same payload): an execution being killed
/// waits for that attempt, which will never report, so the executor ends it KILLED.
pub const JOB_CANCELLED: &str = "jobCancelled";

/// A command to queue for the executor.
#[derive(Debug, Clone, Copy)]
pub struct NewCommand<'a> {
    /// What is asked (`killExecution`, [`JOB_RESUBMITTED`], ...); the executor's vocabulary.
    pub kind: &'a str,
    pub execution_id: &'a str,
    /// JSON text.
    pub payload: &'a str,
}

/// A command taken from the queue (taking deletes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Its position: commands are taken in this order.
    pub seq: i64,
    pub kind: String,
    pub execution_id: String,
    pub payload: String,
    pub created_at: DateTime<Utc>,
}
