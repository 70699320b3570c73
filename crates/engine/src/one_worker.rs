//! The job queue of an engine that runs its own worker (`saker server standalone`, `saker
//! flow run`): every job runs on that worker, whatever worker group its task names. Worker
//! groups need distributed mode (`saker server worker --worker-group KEY`); each group named
//! is reported once per process, so that nobody believes a task ran where it asked to.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::queue::{PopFuture, Queue, QueueClosed, WorkerJob};

pub(crate) struct OneWorkerJobs {
    inner: Arc<dyn Queue<WorkerJob>>,
    /// The worker groups already reported.
    reported: Mutex<HashSet<String>>,
}

impl OneWorkerJobs {
    pub(crate) fn new(inner: Arc<dyn Queue<WorkerJob>>) -> Self {
        Self {
            inner,
            reported: Mutex::default(),
        }
    }
}

impl Queue<WorkerJob> for OneWorkerJobs {
    fn push(&self, job: WorkerJob) -> Result<(), QueueClosed> {
        if let Some(group) = job.task.worker_group_key() {
            let first = self
                .reported
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(group.to_owned());
            if first {
                tracing::warn!(
                    worker_group = group,
                    task = %job.task.id,
                    "worker groups need distributed mode (saker server worker --worker-group \
                     KEY): tasks of worker group '{group}' run on this process's own worker"
                );
            }
        }
        self.inner.push(job)
    }

    fn pop(&self) -> PopFuture<'_, WorkerJob> {
        self.inner.pop()
    }
}
