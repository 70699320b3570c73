//! Worker groups seen from the executor: a job of a group that no living worker serves
//! waits in the queue (Kestra's `fallback: WAIT`), and its execution's log says so, once per
//! task run, with the command that starts such a worker.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use saker_engine::queue::WorkerJob;
use saker_model::{Level, LogEntry};
use saker_store::Store as _;

use crate::Db;
use crate::jobs::worker_group;

/// How long the answer "does group G have a living worker" is reused: a burst of jobs costs
/// one query per group.
const ALIVE_CACHE: Duration = Duration::from_secs(1);

/// Task runs already warned about are forgotten beyond this many (the set stays small).
const WARNED_MAX: usize = 10_000;

/// The executor's memory of which groups have workers, and of the task runs it warned about.
#[derive(Default)]
pub(crate) struct GroupWatch {
    /// Group (`None`: the default one) → (when asked, whether a worker is alive).
    alive: HashMap<Option<String>, (Instant, bool)>,
    warned: HashSet<String>,
}

impl GroupWatch {
    /// After `batch` was queued: appends a warning to the log of each job's execution whose
    /// worker group has no living worker (once per task run).
    pub(crate) fn warn_waiting(&mut self, db: Db, batch: &[WorkerJob]) {
        let mut entries = Vec::new();
        for job in batch {
            let group = worker_group(job);
            if self.has_worker(db, &group) || self.warned.contains(&job.task_run.id) {
                continue;
            }
            if self.warned.len() >= WARNED_MAX {
                self.warned.clear();
            }
            self.warned.insert(job.task_run.id.clone());
            tracing::warn!(
                worker_group = group.as_deref().unwrap_or("default"),
                task_run = %job.task_run.id,
                "a job waits: no worker of its group is running"
            );
            entries.push(warning(job, group.as_deref()));
        }
        if entries.is_empty() {
            return;
        }
        if let Err(error) = db.append_logs(&entries) {
            tracing::warn!(%error, "the warning about a worker group without workers could not be logged");
        }
    }

    /// Whether a worker of `group` is CREATED or RUNNING, asked at most once a second. A
    /// failed query counts as "yes": no warning rather than a false one.
    fn has_worker(&mut self, db: Db, group: &Option<String>) -> bool {
        if let Some((asked, alive)) = self.alive.get(group)
            && asked.elapsed() < ALIVE_CACHE
        {
            return *alive;
        }
        let alive = match db.alive_workers_in_group(group.as_deref()) {
            Ok(n) => n > 0,
            Err(error) => {
                tracing::warn!(%error, "cannot count the living workers of a worker group");
                true
            }
        };
        self.alive.insert(group.clone(), (Instant::now(), alive));
        alive
    }
}

/// The line in the execution's log for `job`, waiting for a worker of `group`.
fn warning(job: &WorkerJob, group: Option<&str>) -> LogEntry {
    let message = match group {
        Some(group) => format!(
            "No worker of worker group '{group}' is running: task '{}' waits until one starts \
             (start one with `saker server worker --worker-group {group}`)",
            job.task.id
        ),
        None => format!(
            "No worker is running: task '{}' waits until one starts (start one with `saker \
             server worker`)",
            job.task.id
        ),
    };
    let execution = &job.execution;
    LogEntry {
        tenant_id: execution.tenant_id.clone(),
        namespace: execution.namespace.clone(),
        flow_id: execution.flow_id.clone(),
        execution_id: execution.id.clone(),
        task_run_id: Some(job.task_run.id.clone()),
        task_id: Some(job.task.id.clone()),
        attempt_number: Some(job.attempt),
        timestamp: Utc::now(),
        level: Level::Warn,
        message,
    }
}
