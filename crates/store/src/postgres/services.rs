//! Service instances on PostgreSQL: registration, heartbeats, state changes through the
//! state machine, the coordinator's round and the purge of old rows (see
//! `crate::services`). An instance's row is locked before any job row, as in `queue`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use postgres::Row;
use saker_model::execution::StateType;

use super::commands::insert_command;
use super::queue::{group_column, lease_end};
use super::{PgStore, Tx, from_micros, to_micros};
use crate::commands::{JOB_ABANDONED, JOB_CANCELLED, JOB_RESUBMITTED, NewCommand};
use crate::queue::WakeChannel;
use crate::services::coordinator::{self, Decisions, HeldJob, JobAction, JobDecision};
use crate::services::settings::LivenessSettings;
use crate::services::{InstanceJob, NewInstance, ServiceInstance, ServiceState};
use crate::{Result, StoreError};

/// The advisory lock that elects the coordinator of a round ("saker-co").
const COORDINATOR_LOCK: i64 = 0x7361_6b65_722d_636f;

const COLUMNS: &str = "id, service_type, state, host, started_at, last_heartbeat, \
                       state_changed_at, worker_group, config";

fn corrupt(id: &str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table: "service_instances",
        id: id.to_owned(),
        detail: detail.into(),
    }
}

fn decode(row: &Row) -> Result<ServiceInstance> {
    let id: String = row.try_get(0)?;
    let date = |index: usize| -> Result<DateTime<Utc>> {
        from_micros(row.try_get(index)?).ok_or_else(|| corrupt(&id, "date out of range"))
    };
    let service_type: String = row.try_get(1)?;
    let state: String = row.try_get(2)?;
    let config: String = row.try_get(8)?;
    Ok(ServiceInstance {
        service_type: service_type
            .parse()
            .map_err(|_| corrupt(&id, "unknown service type"))?,
        state: state.parse().map_err(|_| corrupt(&id, "unknown state"))?,
        host: row.try_get(3)?,
        started_at: date(4)?,
        last_heartbeat: date(5)?,
        state_changed_at: date(6)?,
        worker_group: row.try_get(7)?,
        config: serde_json::from_str(&config)
            .map_err(|err| StoreError::corrupt_json("service_instances", &id, &err))?,
        jobs: Vec::new(),
        id,
    })
}

fn get_for_update(tx: &mut Tx<'_>, id: &str) -> Result<ServiceInstance> {
    let sql = format!("SELECT {COLUMNS} FROM service_instances WHERE id = $1 FOR UPDATE");
    match tx.query_opt(&sql, &[&id])? {
        Some(row) => decode(&row),
        None => Err(StoreError::NotFound {
            kind: "service instance",
            id: id.to_owned(),
        }),
    }
}

/// Moves `id` to `to` after checking the state machine.
fn transition(
    tx: &mut Tx<'_>,
    id: &str,
    to: ServiceState,
    now: DateTime<Utc>,
) -> Result<ServiceInstance> {
    let mut instance = get_for_update(tx, id)?;
    instance
        .state
        .check_transition(to)
        .map_err(|refused| StoreError::IllegalTransition {
            id: id.to_owned(),
            from: refused.from,
            to: refused.to,
        })?;
    if instance.state != to {
        tx.execute(
            "UPDATE service_instances SET state = $2, state_changed_at = $3 WHERE id = $1",
            &[&id, &to.as_str(), &to_micros(now)],
        )?;
        instance.state = to;
        instance.state_changed_at = now;
    }
    Ok(instance)
}

fn execution_state(text: Option<String>) -> Option<StateType> {
    let text = text?;
    StateType::ALL.into_iter().find(|s| s.as_str() == text)
}

impl PgStore {
    /// Registers a process as CREATED, its heartbeat at `now`. An id already registered is
    /// [`StoreError::AlreadyExists`]: every process start takes a new id.
    pub fn register_instance(
        &self,
        new: &NewInstance,
        now: DateTime<Utc>,
    ) -> Result<ServiceInstance> {
        let config = serde_json::to_string(&new.config).map_err(|err| StoreError::Encode {
            kind: "service instance",
            id: new.id.clone(),
            detail: StoreError::json_detail(&err),
        })?;
        self.write_tx(|tx| {
            let inserted = tx.execute(
                "INSERT INTO service_instances (id, service_type, state, host, started_at, \
                 last_heartbeat, state_changed_at, worker_group, config) \
                 VALUES ($1, $2, 'CREATED', $3, $4, $4, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                &[
                    &new.id,
                    &new.service_type.as_str(),
                    &new.host,
                    &to_micros(now),
                    &new.worker_group,
                    &config,
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists {
                    kind: "service instance",
                    id: new.id.clone(),
                });
            }
            get_for_update(tx, &new.id)
        })
    }

    /// Moves an instance to `to`; [`StoreError::IllegalTransition`] when the state machine
    /// does not allow it (a DISCONNECTED instance never becomes RUNNING again, ...).
    pub fn set_instance_state(
        &self,
        id: &str,
        to: ServiceState,
        now: DateTime<Utc>,
    ) -> Result<ServiceInstance> {
        self.write_tx(|tx| transition(tx, id, to, now))
    }

    /// Records a heartbeat at `now` and renews, until `now + lease`, the leases of the jobs
    /// and executions the instance holds; all only while it is alive. Returns its state: a caller that
    /// reads DISCONNECTED or later must stop its jobs (their results will be refused).
    pub fn heartbeat(&self, id: &str, now: DateTime<Utc>, lease: Duration) -> Result<ServiceState> {
        let until = lease_end(now, lease)?;
        self.write_tx(|tx| {
            let instance = get_for_update(tx, id)?;
            if !instance.state.is_alive() {
                return Ok(instance.state);
            }
            tx.execute(
                "UPDATE service_instances SET last_heartbeat = $2 WHERE id = $1",
                &[&id, &to_micros(now)],
            )?;
            tx.execute(
                "UPDATE worker_jobs SET lease_until = $2 \
                 WHERE claimed_by = $1 AND state = 'CLAIMED' AND lease_until < $2",
                &[&id, &to_micros(until)],
            )?;
            super::execution_leases::renew(tx, id, until)?;
            Ok(instance.state)
        })
    }

    /// Every registered instance, oldest first.
    pub fn list_instances(&self) -> Result<Vec<ServiceInstance>> {
        let rows = self.read_tx(|tx| {
            tx.query(
                &format!("SELECT {COLUMNS} FROM service_instances ORDER BY started_at, id"),
                &[],
            )
        })?;
        let mut instances = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
        let held = self.read_tx(|tx| {
            tx.query(
                "SELECT claimed_by, id, execution_id, task_run_id, attempt FROM worker_jobs \
                 WHERE state = 'CLAIMED' ORDER BY seq",
                &[],
            )
        })?;
        for row in &held {
            let holder: Option<String> = row.try_get(0)?;
            let Some(instance) = instances
                .iter_mut()
                .find(|i| holder.as_deref() == Some(i.id.as_str()))
            else {
                continue;
            };
            let job_id: String = row.try_get(1)?;
            let attempt: i64 = row.try_get(4)?;
            instance.jobs.push(InstanceJob {
                execution_id: row.try_get(2)?,
                task_run_id: row.try_get(3)?,
                attempt: u32::try_from(attempt)
                    .map_err(|_| corrupt(&job_id, "attempt out of range"))?,
                job_id,
            });
        }
        Ok(instances)
    }

    /// One round of the coordinator at `now` ([`coordinator::decide`]), applied in one
    /// transaction. Only one process coordinates at a time (a transaction-level advisory
    /// lock); the others get empty decisions for this round.
    pub fn coordinate(&self, settings: &LivenessSettings, now: DateTime<Utc>) -> Result<Decisions> {
        if !settings.enabled {
            return Ok(Decisions::default());
        }
        self.write_tx(|tx| {
            let elected: bool = tx
                .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&COORDINATOR_LOCK])?
                .try_get(0)?;
            if !elected {
                return Ok(Decisions::default());
            }
            // A row locked by a session whose client was cut off must not hold up the round
            // for the whole statement timeout: this round gives up, the next one tries again.
            tx.execute("SET LOCAL lock_timeout = '2s'", &[])?;
            let sql = format!("SELECT {COLUMNS} FROM service_instances ORDER BY id FOR UPDATE");
            let instances = tx
                .query(&sql, &[])?
                .iter()
                .map(decode)
                .collect::<Result<Vec<_>>>()?;
            let held = held_jobs(tx)?;
            let decisions = coordinator::decide(now, settings, &instances, &held);
            apply(tx, &decisions, now)?;
            Ok(decisions)
        })
    }

    /// How many WORKER instances of `group` (`None`: the default group) are CREATED or
    /// RUNNING: none means that the jobs of that group wait for a worker that is not there.
    pub fn alive_workers_in_group(&self, group: Option<&str>) -> Result<u64> {
        let group = group_column(group);
        self.read_tx(|tx| {
            let row = tx.query_one(
                "SELECT count(*) FROM service_instances WHERE service_type = 'WORKER' \
                 AND state IN ('CREATED', 'RUNNING') AND COALESCE(worker_group, '') = $1",
                &[&group],
            )?;
            Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
        })
    }

    /// Deletes the rows of instances TERMINATED_GRACEFULLY, NOT_RUNNING or EMPTY since before
    /// `now - retention` (`server.service.purge.retention`) that hold no job; returns how
    /// many.
    pub fn purge_instances(&self, retention: Duration, now: DateTime<Utc>) -> Result<u64> {
        let before = TimeDelta::from_std(retention)
            .ok()
            .and_then(|keep| now.checked_sub_signed(keep))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.write_tx(|tx| {
            tx.execute(
                "DELETE FROM service_instances s \
                 WHERE s.state IN ('TERMINATED_GRACEFULLY', 'NOT_RUNNING', 'EMPTY') AND s.state_changed_at < $1 \
                   AND NOT EXISTS (SELECT 1 FROM worker_jobs j \
                                    WHERE j.claimed_by = s.id AND j.state = 'CLAIMED')",
                &[&to_micros(before)],
            )
        })
    }
}

/// The jobs held by instances that are not alive, or whose heartbeat is late enough that
/// this round may declare them gone (`decide` sorts out which).
fn held_jobs(tx: &mut Tx<'_>) -> Result<Vec<HeldJob>> {
    let sql = "SELECT j.id, j.claimed_by, e.state FROM worker_jobs j \
               LEFT JOIN executions e ON e.id = j.execution_id \
               WHERE j.state = 'CLAIMED' ORDER BY j.seq FOR UPDATE OF j";
    tx.query(sql, &[])?
        .iter()
        .map(|row| {
            Ok(HeldJob {
                job_id: row.try_get(0)?,
                holder: row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
                execution_state: execution_state(row.try_get(2)?),
            })
        })
        .collect()
}

fn apply(tx: &mut Tx<'_>, decisions: &Decisions, now: DateTime<Utc>) -> Result<()> {
    for change in &decisions.transitions {
        transition(tx, &change.instance_id, change.to, now)?;
        tracing::warn!(
            instance = %change.instance_id,
            from = %change.from,
            to = %change.to,
            "service instance state changed by the liveness coordinator"
        );
    }
    let mut woken = false;
    let mut told = false;
    for job in &decisions.jobs {
        // A requeued job is QUEUED again (the next claim takes it, and a later round no
        // longer sees it as held, so it is requeued and reported once).
        let (sql, kind) = match job.action {
            JobAction::Requeue => (
                "UPDATE worker_jobs SET state = 'QUEUED', claimed_by = NULL, claimed_at = NULL, \
                 lease_until = NULL WHERE id = $1 AND state = 'CLAIMED' \
                 RETURNING execution_id, task_run_id, attempt",
                JOB_RESUBMITTED,
            ),
            JobAction::Abandon => (
                "UPDATE worker_jobs SET state = 'ABANDONED', lease_until = NULL \
                 WHERE id = $1 AND state = 'CLAIMED' \
                 RETURNING execution_id, task_run_id, attempt",
                JOB_ABANDONED,
            ),
            // Its execution has ended or is being killed: an ended one ignores the command, a
            // killing one ends the attempt KILLED instead of waiting for it forever.
            JobAction::Cancel => (
                "UPDATE worker_jobs SET state = 'CANCELLED', lease_until = NULL \
                 WHERE id = $1 AND state = 'CLAIMED' \
                 RETURNING execution_id, task_run_id, attempt",
                JOB_CANCELLED,
            ),
        };
        let Some(changed) = tx.query_opt(sql, &[&job.job_id])? else {
            continue;
        };
        woken |= job.action == JobAction::Requeue;
        tell_executor(tx, job, kind, &changed, now)?;
        told = true;
    }
    if woken {
        tx.execute("SELECT pg_notify($1, '')", &[&WakeChannel::Jobs.name()])?;
    }
    if told {
        tx.execute("SELECT pg_notify($1, '')", &[&WakeChannel::Commands.name()])?;
    }
    Ok(())
}

/// Queues the executor command that reports `decision` on the job `changed` (its execution,
/// task run and attempt), so that the executor holding the execution follows up: waits for
/// the requeued attempt, or fails the abandoned task run.
fn tell_executor(
    tx: &mut Tx<'_>,
    decision: &JobDecision,
    kind: &str,
    changed: &Row,
    now: DateTime<Utc>,
) -> Result<()> {
    let execution_id: String = changed.try_get(0)?;
    let task_run_id: String = changed.try_get(1)?;
    let attempt: i64 = changed.try_get(2)?;
    let payload = serde_json::json!({
        "taskRunId": task_run_id,
        "attempt": attempt,
        "holder": decision.holder,
    })
    .to_string();
    let command = NewCommand {
        kind,
        execution_id: &execution_id,
        payload: &payload,
    };
    insert_command(tx, &command, now)?;
    Ok(())
}
