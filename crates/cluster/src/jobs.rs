//! Jobs: queued by the executor ([`JobsOut`]), claimed by workers ([`JobsIn`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use saker_engine::queue::{PopFuture, Queue, QueueClosed, WorkerJob, WorkerResult};
use saker_engine::wire::WireMessage;
use saker_model::StateType;
use saker_store::queue::{Claim, ClaimedJob, NewJob, NewResult, WakeChannel};

use crate::Db;
use crate::metrics::ServiceMetrics;
use crate::threads::{FALLBACK_POLL, Outgoing, retried};
use crate::worker_groups::GroupWatch;

/// The worker group a task asks for (`workerGroup: {key: …}`), `None` for the default one.
pub fn worker_group(job: &WorkerJob) -> Option<String> {
    job.task.worker_group_key().map(str::to_owned)
}

/// The executor's side: every job pushed is queued in the database, in batches, by a
/// thread of its own (pushing never waits). The executor has recorded the job's task run
/// as RUNNING before pushing; if the database stays unreachable the job is dropped with an
/// error, and the next executor's recovery starts a new attempt of it.
pub type JobsOut = Outgoing<WorkerJob>;

/// How many times a batch of jobs is tried before it is given up (about five minutes).
const ENQUEUE_ATTEMPTS: u32 = 64;

impl JobsOut {
    pub fn new(db: Db) -> Self {
        let mut groups = GroupWatch::default();
        Outgoing::spawn("saker-jobs-out", move |batch: Vec<WorkerJob>| {
            let mut queued = Vec::with_capacity(batch.len());
            let mut jobs = Vec::with_capacity(batch.len());
            for job in batch {
                match job.to_wire() {
                    Ok(payload) => {
                        jobs.push(NewJob {
                            id: saker_model::execution::new_id(),
                            execution_id: job.execution.id.clone(),
                            task_run_id: job.task_run.id.clone(),
                            attempt: job.attempt,
                            worker_group: worker_group(&job),
                            payload,
                        });
                        queued.push(job);
                    }
                    Err(error) => {
                        tracing::error!(%error, task_run = %job.task_run.id, "a job could not be written; it is dropped");
                    }
                }
            }
            match retried("queueing jobs", ENQUEUE_ATTEMPTS, || {
                db.enqueue_jobs(&jobs, Utc::now())
            }) {
                Ok(()) => groups.warn_waiting(db, &queued),
                Err(error) => {
                    tracing::error!(%error, jobs = jobs.len(), "jobs could not be queued; their task runs stay RUNNING until an executor takes over");
                }
            }
        })
    }
}

/// The claims a worker holds: which job and delivery each (task run, attempt) came from, so
/// that its result is submitted under that claim.
#[derive(Clone, Default)]
pub struct ClaimBook {
    claims: Arc<Mutex<Claims>>,
}

/// (task run, attempt) → (job id, delivery).
type Claims = HashMap<(String, u32), (String, u32)>;

impl ClaimBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, Claims> {
        self.claims.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hold(&self, job: &ClaimedJob) {
        self.lock().insert(
            (job.task_run_id.clone(), job.attempt),
            (job.id.clone(), job.delivery),
        );
    }

    /// The claim of `task_run_id`'s `attempt`.
    pub(crate) fn claim_of(&self, task_run_id: &str, attempt: u32) -> Option<(String, u32)> {
        self.lock().get(&(task_run_id.to_owned(), attempt)).cloned()
    }

    /// The claim of `task_run_id`'s `attempt`, forgotten.
    pub(crate) fn release(&self, task_run_id: &str, attempt: u32) -> Option<(String, u32)> {
        self.lock().remove(&(task_run_id.to_owned(), attempt))
    }

    /// How many jobs this worker holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Who is claiming, and for how long a claim holds without a heartbeat.
#[derive(Clone)]
pub struct Claimer {
    /// The worker's service instance (claims are refused unless it is RUNNING).
    pub instance: String,
    pub worker_group: Option<String>,
    pub lease: Duration,
    /// Where each claim's latency is recorded.
    pub metrics: Arc<ServiceMetrics>,
}

/// The worker's side: each pop claims one job (`FOR UPDATE SKIP LOCKED`), waiting on the
/// jobs channel while there is none. The engine's worker pops only when it has a free slot,
/// so a worker never holds a job it cannot start.
pub struct JobsIn {
    inner: Arc<ClaimLoop>,
}

struct ClaimLoop {
    db: Db,
    claimer: Claimer,
    book: ClaimBook,
    waiter: Arc<Mutex<Option<saker_store::JobWaiter>>>,
    stopping: Arc<AtomicBool>,
}

impl JobsIn {
    pub fn new(db: Db, claimer: Claimer, book: ClaimBook) -> Self {
        Self {
            inner: Arc::new(ClaimLoop {
                db,
                claimer,
                book,
                waiter: Arc::default(),
                stopping: Arc::default(),
            }),
        }
    }

    /// A flag that, once set, makes the worker stop asking for jobs (TERMINATING).
    pub fn stopping(&self) -> Arc<AtomicBool> {
        self.inner.stopping.clone()
    }
}

impl ClaimLoop {
    /// Claims between one and `max` jobs, waiting for one if none is queued; none once
    /// stopping.
    fn claim_some(&self, max: usize) -> Vec<WorkerJob> {
        let mut waiter = self.waiter.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.stopping.load(Ordering::Acquire) {
                return Vec::new();
            }
            if waiter.is_none() {
                match self.db.waiter(WakeChannel::Jobs) {
                    Ok(w) => *waiter = Some(w),
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for jobs; trying again");
                        std::thread::sleep(Duration::from_millis(500));
                        continue;
                    }
                }
            }
            let claim = Claim {
                instance: &self.claimer.instance,
                worker_group: self.claimer.worker_group.as_deref(),
                max: u32::try_from(max.max(1)).unwrap_or(u32::MAX),
                lease: self.claimer.lease,
                now: Utc::now(),
            };
            match self.db.claim_jobs(&claim) {
                Ok(claimed) if !claimed.is_empty() => {
                    let mut jobs = Vec::with_capacity(claimed.len());
                    for job in claimed {
                        self.book.hold(&job);
                        // A job claimed again after its worker died counts from its first
                        // queueing: only first claims measure how long the queue made it wait.
                        if job.delivery == 1 {
                            let waited = (claim.now - job.queued_at).to_std().unwrap_or_default();
                            self.claimer.metrics.job_claimed(waited);
                        }
                        match WorkerJob::from_wire(&job.payload) {
                            Ok(decoded) => jobs.push(decoded),
                            Err(error) => self.refuse(&job, &error),
                        }
                    }
                    if !jobs.is_empty() {
                        return jobs;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "claiming a job failed; trying again");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
            let wait = waiter.as_mut().map(|w| w.wait(FALLBACK_POLL));
            if let Some(Err(error)) = wait {
                tracing::warn!(%error, "the session listening for jobs failed; opening a new one");
                *waiter = None;
            }
        }
    }

    /// A job whose message cannot be read (its flow no longer parses on this worker): its
    /// attempt fails, with the reason in the worker's log.
    fn refuse(&self, job: &ClaimedJob, error: &str) {
        tracing::error!(%error, task_run = %job.task_run_id, "a claimed job could not be read; its attempt fails");
        let now = Utc::now();
        let result = WorkerResult::ended_without_outputs(
            job.execution_id.clone(),
            job.task_run_id.clone(),
            job.attempt,
            StateType::Failed,
            now,
            Vec::new(),
        );
        self.book.release(&job.task_run_id, job.attempt);
        if let Ok(payload) = result.to_wire() {
            let submitted = self.db.submit_result(&NewResult {
                job_id: &job.id,
                delivery: job.delivery,
                instance: &self.claimer.instance,
                payload: &payload,
                now,
            });
            if let Err(error) = submitted {
                tracing::warn!(%error, "the failure of an unreadable job could not be recorded");
            }
        }
    }
}

impl Queue<WorkerJob> for JobsIn {
    /// A worker pushes no jobs.
    fn push(&self, _job: WorkerJob) -> Result<(), QueueClosed> {
        Err(QueueClosed)
    }

    fn pop(&self) -> PopFuture<'_, WorkerJob> {
        Box::pin(async move { self.pop_up_to(1).await.and_then(|mut jobs| jobs.pop()) })
    }

    /// One claim for up to `max` jobs: the worker asks for as many as it has free slots.
    fn pop_up_to(&self, max: usize) -> PopFuture<'_, Vec<WorkerJob>> {
        let this = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.claim_some(max))
                .await
                .ok()
                .filter(|jobs| !jobs.is_empty())
        })
    }
}
