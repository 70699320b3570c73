//! Results: submitted by workers ([`ResultsOut`]), applied by the executor ([`ResultsIn`]).

use std::sync::{Mutex, PoisonError};

use chrono::Utc;
use saker_engine::queue::{PopFuture, Queue, QueueClosed, WorkerResult};
use saker_engine::wire::WireMessage;
use saker_store::queue::{NewResult, Submitted, WakeChannel};
use tokio::sync::mpsc;

use crate::Db;
use crate::jobs::ClaimBook;
use crate::threads::{BATCH, Incoming, Outgoing, Step, retried, spawn_reader};

/// How many times a result is tried before it is given up (about five minutes): its job's
/// lease lapses meanwhile only if the worker also stops heartbeating.
const SUBMIT_ATTEMPTS: u32 = 64;

/// The worker's side: each result is submitted under the claim its job came with, by a
/// thread of its own; the results waiting together are submitted in one transaction. A
/// result the queue refuses (the job was requeued or cancelled, or this worker was declared
/// gone) is dropped: another claim owns that job now.
pub type ResultsOut = Outgoing<WorkerResult>;

impl ResultsOut {
    pub fn new(db: Db, instance: String, book: ClaimBook) -> Self {
        Outgoing::spawn("saker-results-out", move |batch: Vec<WorkerResult>| {
            submit(db, &instance, &book, &batch);
        })
    }
}

/// A result ready to be submitted: its claim and its message.
struct Ready<'a> {
    result: &'a WorkerResult,
    job_id: String,
    delivery: u32,
    payload: String,
}

fn submit(db: Db, instance: &str, book: &ClaimBook, batch: &[WorkerResult]) {
    let ready: Vec<Ready<'_>> = batch
        .iter()
        .filter_map(|result| {
            let Some((job_id, delivery)) = book.claim_of(&result.task_run_id, result.attempt)
            else {
                tracing::warn!(task_run = %result.task_run_id, "a result without a claim is dropped");
                return None;
            };
            match result.to_wire() {
                Ok(payload) => Some(Ready {
                    result,
                    job_id,
                    delivery,
                    payload,
                }),
                Err(error) => {
                    tracing::error!(%error, task_run = %result.task_run_id, "a result could not be written; it is dropped");
                    book.release(&result.task_run_id, result.attempt);
                    None
                }
            }
        })
        .collect();
    if ready.is_empty() {
        return;
    }
    let submitted = retried("submitting results", SUBMIT_ATTEMPTS, || {
        let now = Utc::now();
        let rows: Vec<NewResult<'_>> = ready
            .iter()
            .map(|r| NewResult {
                job_id: &r.job_id,
                delivery: r.delivery,
                instance,
                payload: &r.payload,
                now,
            })
            .collect();
        db.submit_results(&rows)
    });
    // Released only now: a worker stopping waits until it holds no claim, so every result it
    // produced has been submitted.
    for r in &ready {
        book.release(&r.result.task_run_id, r.result.attempt);
    }
    let outcomes = match submitted {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::error!(%error, results = ready.len(), "results could not be submitted");
            return;
        }
    };
    for (r, outcome) in ready.iter().zip(outcomes) {
        match outcome {
            Ok(Submitted::Accepted | Submitted::Duplicate) => {}
            Ok(Submitted::Stale) => tracing::warn!(
                task_run = %r.result.task_run_id,
                attempt = r.result.attempt,
                "a result was refused: the job is no longer this worker's (resubmitted, \
                 cancelled, or this worker was declared gone); it is dropped"
            ),
            Err(error) => {
                tracing::error!(%error, task_run = %r.result.task_run_id, "a result could not be submitted")
            }
        }
    }
}

/// The executor's side: results read as they are submitted (woken by their notification),
/// taken (read and marked applied) in one transaction per batch before they are handed
/// over. Marking before the executor has recorded them is safe: an executor that takes over re-reads the result of every attempt still RUNNING
/// whatever its mark (`crate::recovery`), and the executor ignores a result for an attempt
/// that is no longer running.
pub struct ResultsIn {
    incoming: Incoming<WorkerResult>,
    start: Mutex<Option<(Db, mpsc::UnboundedSender<WorkerResult>)>>,
}

impl ResultsIn {
    /// Results of `db`, read once [`ResultsIn::start`] is called: an executor that takes over
    /// starts reading after its recovery, so that no result reaches it before the execution
    /// it belongs to.
    pub fn new(db: Db) -> Self {
        let (tx, incoming) = Incoming::channel();
        Self {
            incoming,
            start: Mutex::new(Some((db, tx))),
        }
    }

    /// Starts reading results (once; later calls do nothing).
    pub fn start(&self) {
        let Some((db, tx)) = self
            .start
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        spawn_reader("saker-results-in", db, WakeChannel::Results, move |db| {
            let taken = db.take_pending_results(BATCH as u32, Utc::now())?;
            let found = taken.len();
            for row in taken {
                match WorkerResult::from_wire(&row.payload) {
                    Ok(result) => {
                        if tx.send(result).is_err() {
                            return Ok(Step::Stop);
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, task_run = %row.task_run_id, "a stored result could not be read; it is skipped")
                    }
                }
            }
            Ok(Step::Found(found))
        });
    }
}

impl Queue<WorkerResult> for ResultsIn {
    /// The executor pushes no results.
    fn push(&self, _result: WorkerResult) -> Result<(), QueueClosed> {
        Err(QueueClosed)
    }

    fn pop(&self) -> PopFuture<'_, WorkerResult> {
        self.incoming.pop()
    }
}
