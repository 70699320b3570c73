//! The durable job queue and the result table (see `crate::queue` for the types and
//! ARCHITECTURE.md, "Distributed mode", for the life of a job).
//!
//! Lock order, the same in every transaction that takes both: the instance row first, then
//! job rows. A claim takes a share lock on its claimer's row and the jobs `FOR UPDATE SKIP
//! LOCKED`, so concurrent claimers skip each other's rows instead of waiting or taking the
//! same job. Notifications are sent inside the transaction that makes the change, so
//! PostgreSQL delivers them only once it is committed.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use postgres::Row;
use postgres::fallible_iterator::FallibleIterator;

use super::{PgStore, Tx, from_micros, off_runtime, to_micros};
use crate::queue::{
    Claim, ClaimedJob, JobFate, JobRow, JobState, NewJob, NewResult, PendingResult, Submitted,
    Wake, WakeChannel,
};
use crate::{Result, StoreError};

/// The instance states that may hold and renew jobs (`ServiceState::is_alive`).
pub(super) const ALIVE: &str = "('CREATED', 'RUNNING', 'TERMINATING')";

/// `now + lease`, refusing a lease too long to add.
pub(super) fn lease_end(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>> {
    TimeDelta::from_std(lease)
        .ok()
        .and_then(|lease| now.checked_add_signed(lease))
        .ok_or_else(|| StoreError::Encode {
            kind: "job lease",
            id: format!("{lease:?}"),
            detail: "too long".to_owned(),
        })
}

fn date(row: &Row, index: usize, table: &'static str, id: &str) -> Result<DateTime<Utc>> {
    let micros: i64 = row.try_get(index)?;
    from_micros(micros).ok_or_else(|| StoreError::Corrupt {
        table,
        id: id.to_owned(),
        detail: format!("date out of range in column {index}"),
    })
}

fn optional_date(
    row: &Row,
    index: usize,
    table: &'static str,
    id: &str,
) -> Result<Option<DateTime<Utc>>> {
    match row.try_get::<_, Option<i64>>(index)? {
        None => Ok(None),
        Some(_) => date(row, index, table, id).map(Some),
    }
}

fn state(row: &Row, index: usize, id: &str) -> Result<JobState> {
    let text: String = row.try_get(index)?;
    JobState::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| StoreError::Corrupt {
            table: "worker_jobs",
            id: id.to_owned(),
            detail: "unknown job state".to_owned(),
        })
}

fn number(row: &Row, index: usize, table: &'static str, id: &str) -> Result<u32> {
    let value: i64 = row.try_get(index)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt {
        table,
        id: id.to_owned(),
        detail: format!("number out of range in column {index}"),
    })
}

/// The stored form of a worker group: `''` for the default one.
pub(super) fn group_column(group: Option<&str>) -> &str {
    group.unwrap_or("")
}

fn group_of(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

pub(super) fn notify(tx: &mut Tx<'_>, channel: WakeChannel, payload: &str) -> Result<()> {
    tx.execute("SELECT pg_notify($1, $2)", &[&channel.name(), &payload])?;
    Ok(())
}

pub(super) fn no_nul(kind: &'static str, id: &str, texts: &[&str]) -> Result<()> {
    if texts.iter().any(|text| text.contains('\0')) {
        return Err(StoreError::Encode {
            kind,
            id: id.to_owned(),
            detail: "a field contains a NUL character".to_owned(),
        });
    }
    Ok(())
}

/// The columns of a [`PendingResult`], in the order [`pending_result`] reads them.
const PENDING_COLUMNS: &str =
    "seq, job_id, execution_id, task_run_id, attempt, payload, submitted_by, submitted_at";

fn pending_result(row: &Row) -> Result<PendingResult> {
    let seq: i64 = row.try_get(0)?;
    let id = seq.to_string();
    Ok(PendingResult {
        seq,
        job_id: row.try_get(1)?,
        execution_id: row.try_get(2)?,
        task_run_id: row.try_get(3)?,
        attempt: number(row, 4, "worker_results", &id)?,
        payload: row.try_get(5)?,
        submitted_by: row.try_get(6)?,
        submitted_at: date(row, 7, "worker_results", &id)?,
    })
}

/// One result of [`PgStore::submit_results`], its holder's liveness already read (and its
/// row share-locked): `Err(NotFound)` in the list, not as the transaction's error, for a
/// job that does not exist.
fn submit_one(
    tx: &mut Tx<'_>,
    result: &NewResult<'_>,
    holder_alive: bool,
) -> Result<Result<Submitted>> {
    let Some(job) = tx.query_opt(
        "SELECT execution_id, task_run_id, attempt, state, claimed_by, delivery \
         FROM worker_jobs WHERE id = $1 FOR UPDATE",
        &[&result.job_id],
    )?
    else {
        return Ok(Err(StoreError::NotFound {
            kind: "worker job",
            id: result.job_id.to_owned(),
        }));
    };
    let execution_id: String = job.try_get(0)?;
    let task_run_id: String = job.try_get(1)?;
    let attempt: i64 = job.try_get(2)?;
    let already = tx
        .query_opt(
            "SELECT 1 FROM worker_results WHERE job_id = $1",
            &[&result.job_id],
        )?
        .is_some();
    if already {
        return Ok(Ok(Submitted::Duplicate));
    }
    let state: String = job.try_get(3)?;
    let claimed_by: Option<String> = job.try_get(4)?;
    let delivery: i64 = job.try_get(5)?;
    let ours = holder_alive
        && state == JobState::Claimed.as_str()
        && claimed_by.as_deref() == Some(result.instance)
        && delivery == i64::from(result.delivery);
    if !ours {
        return Ok(Ok(Submitted::Stale));
    }
    let inserted = tx.execute(
        "INSERT INTO worker_results (job_id, execution_id, task_run_id, attempt, \
         payload, submitted_by, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (job_id) DO NOTHING",
        &[
            &result.job_id,
            &execution_id,
            &task_run_id,
            &attempt,
            &result.payload,
            &result.instance,
            &to_micros(result.now),
        ],
    )?;
    if inserted == 0 {
        return Ok(Ok(Submitted::Duplicate));
    }
    tx.execute(
        "UPDATE worker_jobs SET state = 'DONE', lease_until = NULL WHERE id = $1",
        &[&result.job_id],
    )?;
    Ok(Ok(Submitted::Accepted))
}

impl PgStore {
    /// Queues `jobs` (an id already queued keeps its first row) and wakes the workers of
    /// their groups, in one transaction.
    pub fn enqueue_jobs(&self, jobs: &[NewJob], now: DateTime<Utc>) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        self.write_tx(|tx| {
            self.fence(tx)?;
            let mut groups: Vec<&str> = Vec::new();
            for job in jobs {
                let group = group_column(job.worker_group.as_deref());
                no_nul(
                    "worker job",
                    &job.id,
                    &[
                        &job.id,
                        &job.execution_id,
                        &job.task_run_id,
                        group,
                        &job.payload,
                    ],
                )?;
                tx.execute(
                    "INSERT INTO worker_jobs (id, execution_id, task_run_id, attempt, \
                     worker_group, payload, state, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'QUEUED', $7) ON CONFLICT (id) DO NOTHING",
                    &[
                        &job.id,
                        &job.execution_id,
                        &job.task_run_id,
                        &i64::from(job.attempt),
                        &group,
                        &job.payload,
                        &to_micros(now),
                    ],
                )?;
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
            for group in groups {
                notify(tx, WakeChannel::Jobs, group)?;
            }
            Ok(())
        })
    }

    /// Claims up to `claim.max` queued jobs of the claimer's worker group, oldest first
    /// (returned in queueing order, `seq`). A job a gone worker held comes back only through
    /// the coordinator, which applies the restart strategy (requeued, abandoned or cancelled):
    /// an expired lease alone frees nothing. Nothing when the claimer is not a RUNNING
    /// instance. Concurrent claimers never get
    /// the same job.
    pub fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<ClaimedJob>> {
        let lease_until = lease_end(claim.now, claim.lease)?;
        let group = group_column(claim.worker_group);
        // Only QUEUED jobs, through their partial index (`worker_jobs_queued`): the claim
        // costs the same however many DONE jobs the table keeps.
        let sql = "WITH me AS ( \
               SELECT id FROM service_instances WHERE id = $1 AND state = 'RUNNING' FOR SHARE \
             ), picked AS ( \
               SELECT j.seq FROM worker_jobs j \
                WHERE EXISTS (SELECT 1 FROM me) AND j.state = 'QUEUED' AND j.worker_group = $2 \
                ORDER BY j.seq LIMIT $4 \
                FOR UPDATE OF j SKIP LOCKED \
             ) \
             UPDATE worker_jobs w SET state = 'CLAIMED', claimed_by = $1, claimed_at = $3, \
                    lease_until = $5, delivery = w.delivery + 1 \
               FROM picked WHERE w.seq = picked.seq \
             RETURNING w.seq, w.id, w.execution_id, w.task_run_id, w.attempt, w.worker_group, \
                       w.payload, w.delivery, w.created_at";
        let mut rows = self.write_tx(|tx| {
            tx.query(
                sql,
                &[
                    &claim.instance,
                    &group,
                    &to_micros(claim.now),
                    &i64::from(claim.max),
                    &to_micros(lease_until),
                ],
            )
        })?;
        rows.sort_by_key(|row| row.get::<_, i64>(0));
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(1)?;
                Ok(ClaimedJob {
                    execution_id: row.try_get(2)?,
                    task_run_id: row.try_get(3)?,
                    attempt: number(row, 4, "worker_jobs", &id)?,
                    worker_group: group_of(row.try_get(5)?),
                    payload: row.try_get(6)?,
                    delivery: number(row, 7, "worker_jobs", &id)?,
                    queued_at: date(row, 8, "worker_jobs", &id)?,
                    lease_until,
                    id,
                })
            })
            .collect()
    }

    /// Stores a worker's result for the job it holds, once: see [`Submitted`]. Accepting it
    /// marks the job DONE and wakes the executors, in the same transaction.
    pub fn submit_result(&self, result: &NewResult<'_>) -> Result<Submitted> {
        let mut outcomes = self.submit_results(std::slice::from_ref(result))?;
        outcomes.pop().unwrap_or_else(|| {
            Err(StoreError::NotFound {
                kind: "worker job",
                id: result.job_id.to_owned(),
            })
        })
    }

    /// [`PgStore::submit_result`] for several results, in one transaction (a worker submits
    /// what its tasks produced meanwhile together): each is accepted, a duplicate or stale
    /// exactly as on its own, and a job that does not exist is a `NotFound` in its place
    /// without failing the others. The executors are woken once, if any was accepted.
    pub fn submit_results(&self, results: &[NewResult<'_>]) -> Result<Vec<Result<Submitted>>> {
        for result in results {
            no_nul(
                "worker result",
                result.job_id,
                &[result.instance, result.payload],
            )?;
        }
        if results.is_empty() {
            return Ok(Vec::new());
        }
        self.write_tx(|tx| {
            // The instance rows first (the lock order of this module), each once.
            let mut alive: Vec<(&str, bool)> = Vec::new();
            for result in results {
                if alive.iter().any(|(id, _)| *id == result.instance) {
                    continue;
                }
                let holder_alive = tx
                    .query_opt(
                        &format!(
                            "SELECT 1 FROM service_instances WHERE id = $1 AND state IN {ALIVE} \
                             FOR SHARE"
                        ),
                        &[&result.instance],
                    )?
                    .is_some();
                alive.push((result.instance, holder_alive));
            }
            let mut outcomes = Vec::with_capacity(results.len());
            for result in results {
                let holder_alive = alive
                    .iter()
                    .any(|(id, alive)| *id == result.instance && *alive);
                outcomes.push(submit_one(tx, result, holder_alive)?);
            }
            if outcomes
                .iter()
                .any(|o| matches!(o, Ok(Submitted::Accepted)))
            {
                notify(tx, WakeChannel::Results, "")?;
            }
            Ok(outcomes)
        })
    }

    /// Results not yet applied, oldest first, at most `max`.
    pub fn pending_results(&self, max: u32) -> Result<Vec<PendingResult>> {
        let rows = self.read_tx(|tx| {
            tx.query(
                &format!(
                    "SELECT {PENDING_COLUMNS} FROM worker_results WHERE applied_at IS NULL \
                     ORDER BY seq LIMIT $1"
                ),
                &[&i64::from(max)],
            )
        })?;
        rows.iter().map(pending_result).collect()
    }

    /// Takes the results not yet applied, oldest first, at most `max`: marks them applied
    /// at `now` and returns them, in one transaction (what [`PgStore::pending_results`] and
    /// [`PgStore::mark_result_applied`] do, without a transaction per result). A result
    /// is taken once however many call this at the same time.
    pub fn take_pending_results(&self, max: u32, now: DateTime<Utc>) -> Result<Vec<PendingResult>> {
        let columns = PENDING_COLUMNS
            .split(", ")
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut rows = self.write_tx(|tx| {
            self.fence(tx)?;
            tx.query(
                &format!(
                    "UPDATE worker_results r SET applied_at = $2 FROM ( \
                       SELECT seq FROM worker_results WHERE applied_at IS NULL \
                        ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED \
                     ) taken WHERE r.seq = taken.seq RETURNING {columns}"
                ),
                &[&i64::from(max), &to_micros(now)],
            )
        })?;
        rows.sort_by_key(|row| row.get::<_, i64>(0));
        rows.iter().map(pending_result).collect()
    }

    /// Marks result `seq` applied; `true` only for the call that did, so a result is applied
    /// once however often this is called.
    pub fn mark_result_applied(&self, seq: i64, now: DateTime<Utc>) -> Result<bool> {
        self.write_tx(|tx| {
            self.fence(tx)?;
            let changed = tx.execute(
                "UPDATE worker_results SET applied_at = $2 WHERE seq = $1 AND applied_at IS NULL",
                &[&seq, &to_micros(now)],
            )?;
            Ok(changed == 1)
        })
    }

    /// Deletes the jobs that ended (DONE, ABANDONED, CANCELLED) and were queued before
    /// `before`, and the results applied before `before`; returns how many of each. Queued
    /// and claimed jobs and unapplied results are never touched. The worker controls
    /// published before `before` go too (not counted; [`PgStore::purge_controls`] counts).
    pub fn purge_finished_jobs(&self, before: DateTime<Utc>) -> Result<(u64, u64)> {
        self.write_tx(|tx| {
            super::commands::delete_controls(tx, before)?;
            let jobs = tx.execute(
                "DELETE FROM worker_jobs WHERE state IN ('DONE', 'ABANDONED', 'CANCELLED') \
                 AND created_at < $1",
                &[&to_micros(before)],
            )?;
            let results = tx.execute(
                "DELETE FROM worker_results WHERE applied_at IS NOT NULL AND applied_at < $1",
                &[&to_micros(before)],
            )?;
            Ok((jobs, results))
        })
    }

    /// The newest job of task run `task_run_id`'s attempt `attempt`, with its stored result
    /// (applied or not); `None` when no job of that attempt is stored (lost, or purged).
    pub fn job_fate(&self, task_run_id: &str, attempt: u32) -> Result<Option<JobFate>> {
        let row = self.read_tx(|tx| {
            tx.query_opt(
                "SELECT j.id, j.state, r.payload FROM worker_jobs j \
                 LEFT JOIN worker_results r ON r.job_id = j.id \
                 WHERE j.task_run_id = $1 AND j.attempt = $2 ORDER BY j.seq DESC LIMIT 1",
                &[&task_run_id, &i64::from(attempt)],
            )
        })?;
        let Some(row) = row else { return Ok(None) };
        let job_id: String = row.try_get(0)?;
        Ok(Some(JobFate {
            state: state(&row, 1, &job_id)?,
            result: row.try_get(2)?,
            job_id,
        }))
    }

    /// Cancels the QUEUED jobs of execution `execution_id`, so that no worker claims them
    /// (the execution is killed or ended); returns how many. Claimed jobs are left to their
    /// holders (a worker control stops them) and to the coordinator.
    pub fn cancel_queued_jobs(&self, execution_id: &str) -> Result<u64> {
        self.write_tx(|tx| {
            tx.execute(
                "UPDATE worker_jobs SET state = 'CANCELLED' \
                 WHERE execution_id = $1 AND state = 'QUEUED'",
                &[&execution_id],
            )
        })
    }

    /// How many jobs are QUEUED, per worker group (`None`: the default one), groups in
    /// order; groups with none are not listed.
    pub fn queue_depth(&self) -> Result<Vec<(Option<String>, u64)>> {
        let rows = self.read_tx(|tx| {
            tx.query(
                "SELECT worker_group, count(*) FROM worker_jobs WHERE state = 'QUEUED' \
                 GROUP BY worker_group ORDER BY worker_group",
                &[],
            )
        })?;
        rows.iter()
            .map(|row| {
                let count: i64 = row.try_get(1)?;
                Ok((group_of(row.try_get(0)?), count.unsigned_abs()))
            })
            .collect()
    }

    /// How many results are stored for one task run attempt (0 or 1), for tests and checks.
    pub fn result_count(&self, task_run_id: &str, attempt: u32) -> Result<u64> {
        self.read_tx(|tx| {
            let row = tx.query_one(
                "SELECT count(*) FROM worker_results WHERE task_run_id = $1 AND attempt = $2",
                &[&task_run_id, &i64::from(attempt)],
            )?;
            Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
        })
    }

    /// One job as stored.
    pub fn job(&self, id: &str) -> Result<Option<JobRow>> {
        let row = self.read_tx(|tx| {
            tx.query_opt(
                "SELECT id, execution_id, task_run_id, attempt, worker_group, state, delivery, \
                 claimed_by, claimed_at, lease_until FROM worker_jobs WHERE id = $1",
                &[&id],
            )
        })?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(JobRow {
            id: row.try_get(0)?,
            execution_id: row.try_get(1)?,
            task_run_id: row.try_get(2)?,
            attempt: number(&row, 3, "worker_jobs", id)?,
            worker_group: group_of(row.try_get(4)?),
            state: state(&row, 5, id)?,
            delivery: number(&row, 6, "worker_jobs", id)?,
            claimed_by: row.try_get(7)?,
            claimed_at: optional_date(&row, 8, "worker_jobs", id)?,
            lease_until: optional_date(&row, 9, "worker_jobs", id)?,
        }))
    }

    /// A waiter for `channel`'s notifications on a session of its own (outside the pool).
    /// It listens from now on: create it before the first claim, so that a job queued
    /// between an empty claim and the wait still wakes it.
    pub fn waiter(&self, channel: WakeChannel) -> Result<JobWaiter> {
        off_runtime(|| {
            let mut conn = self.connector.open()?;
            conn.client
                .batch_execute(&format!("LISTEN {}", channel.name()))?;
            Ok(JobWaiter {
                client: conn.client,
            })
        })
    }
}

/// Waits for notifications of one channel (see [`PgStore::waiter`]).
pub struct JobWaiter {
    client: super::pool::Session,
}

impl JobWaiter {
    /// Returns at the first notification (those already received count, and every other
    /// pending one is consumed with it), or after `fallback` without one: the caller then
    /// polls, which covers a notification lost with a connection. A closed connection is
    /// an error; the caller opens a new waiter.
    pub fn wait(&mut self, fallback: Duration) -> Result<Wake> {
        let client = &mut *self.client;
        off_runtime(|| {
            let mut notifications = client.notifications();
            let first = notifications.timeout_iter(fallback).next()?;
            if first.is_none() {
                return Ok(Wake::TimedOut);
            }
            // Coalesce what else is already here: one wake-up, one claim.
            let mut pending = notifications.iter();
            while pending.next()?.is_some() {}
            Ok(Wake::Notified)
        })
    }
}
