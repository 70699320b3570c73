//! The executor's command queue and the workers' controls (see `crate::commands` for the
//! types and ARCHITECTURE.md, "Distributed mode"). As in `queue`, a notification is sent
//! inside the transaction that makes the change, and no payload ever reaches an error or a
//! log.

use chrono::{DateTime, Utc};

use super::queue::{no_nul, notify};
use super::{PgStore, Tx, from_micros, to_micros};
use crate::commands::{Command, NewCommand};
use crate::queue::WakeChannel;
use crate::{Result, StoreError};

/// The advisory lock that numbers controls in commit order ("saker-wc"): a row is
/// committed before the next one takes its `seq`, so a worker reading after the last `seq`
/// it saw never skips a row that commits late.
const CONTROLS_LOCK: i64 = 0x7361_6b65_722d_7763;

/// Queues a command for the executor, without notifying (the caller notifies once per
/// transaction).
pub(super) fn insert_command(
    tx: &mut Tx<'_>,
    command: &NewCommand<'_>,
    now: DateTime<Utc>,
) -> Result<i64> {
    no_nul(
        "executor command",
        command.execution_id,
        &[command.kind, command.execution_id, command.payload],
    )?;
    let row = tx.query_one(
        "INSERT INTO executor_commands (kind, execution_id, payload, created_at) \
         VALUES ($1, $2, $3, $4) RETURNING seq",
        &[
            &command.kind,
            &command.execution_id,
            &command.payload,
            &to_micros(now),
        ],
    )?;
    Ok(row.try_get(0)?)
}

/// Deletes the controls published before `before`; how many.
pub(super) fn delete_controls(tx: &mut Tx<'_>, before: DateTime<Utc>) -> Result<u64> {
    tx.execute(
        "DELETE FROM worker_controls WHERE created_at < $1",
        &[&to_micros(before)],
    )
}

impl PgStore {
    /// Queues `command` for the executor and wakes it (`saker_executor_commands`), in one
    /// transaction; returns the command's `seq`.
    pub fn push_command(&self, command: &NewCommand<'_>, now: DateTime<Utc>) -> Result<i64> {
        self.write_tx(|tx| {
            let seq = insert_command(tx, command, now)?;
            notify(tx, WakeChannel::Commands, "")?;
            Ok(seq)
        })
    }

    /// Takes (deletes and returns) the oldest `max` commands, in `seq` order, in one
    /// transaction. Concurrent takers skip each other's rows: each command is taken once.
    pub fn take_commands(&self, max: u32) -> Result<Vec<Command>> {
        let mut rows = self.write_tx(|tx| {
            self.fence(tx)?;
            tx.query(
                "DELETE FROM executor_commands WHERE seq IN ( \
                   SELECT seq FROM executor_commands ORDER BY seq LIMIT $1 \
                   FOR UPDATE SKIP LOCKED \
                 ) RETURNING seq, kind, execution_id, payload, created_at",
                &[&i64::from(max)],
            )
        })?;
        rows.sort_by_key(|row| row.get::<_, i64>(0));
        rows.iter().map(command_of).collect()
    }

    /// The oldest `max` commands, in `seq` order, left in place: the executor deletes them
    /// ([`PgStore::delete_commands`]) once what they asked is recorded, so a command taken by
    /// an executor that dies before that is read again by the next one.
    pub fn peek_commands(&self, max: u32) -> Result<Vec<Command>> {
        let rows = self.read_tx(|tx| {
            tx.query(
                "SELECT seq, kind, execution_id, payload, created_at FROM executor_commands \
                 ORDER BY seq LIMIT $1",
                &[&i64::from(max)],
            )
        })?;
        rows.iter().map(command_of).collect()
    }

    /// Deletes the commands numbered `seqs` (an executor's acknowledgement); returns how many.
    pub fn delete_commands(&self, seqs: &[i64]) -> Result<u64> {
        if seqs.is_empty() {
            return Ok(0);
        }
        self.write_tx(|tx| {
            self.fence(tx)?;
            tx.execute(
                "DELETE FROM executor_commands WHERE seq = ANY($1)",
                &[&seqs],
            )
        })
    }

    /// Publishes a control for every worker and wakes them (`saker_worker_controls`), in
    /// one transaction; returns its `seq`. Controls are numbered in commit order.
    pub fn push_control(&self, payload: &str, now: DateTime<Utc>) -> Result<i64> {
        let seqs = self.push_controls(&[payload], now)?;
        seqs.first().copied().ok_or_else(|| StoreError::Corrupt {
            table: "worker_controls",
            id: "(new)".to_owned(),
            detail: "the insert returned no seq".to_owned(),
        })
    }

    /// [`PgStore::push_control`] for several controls, in one transaction with one
    /// notification; returns their `seq`s, in the order given (which is their order).
    pub fn push_controls(&self, payloads: &[&str], now: DateTime<Utc>) -> Result<Vec<i64>> {
        for payload in payloads {
            no_nul("worker control", "(new)", &[payload])?;
        }
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        self.write_tx(|tx| {
            self.fence(tx)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CONTROLS_LOCK])?;
            let mut seqs = Vec::with_capacity(payloads.len());
            for payload in payloads {
                let row = tx.query_one(
                    "INSERT INTO worker_controls (payload, created_at) VALUES ($1, $2) \
                     RETURNING seq",
                    &[payload, &to_micros(now)],
                )?;
                seqs.push(row.try_get(0)?);
            }
            notify(tx, WakeChannel::Controls, "")?;
            Ok(seqs)
        })
    }

    /// The controls after `after_seq`, at most `max`, as `(seq, payload)` in `seq` order.
    /// Reading deletes nothing: every worker reads every control, remembering the last
    /// `seq` it saw.
    pub fn controls_after(&self, after_seq: i64, max: u32) -> Result<Vec<(i64, String)>> {
        let rows = self.read_tx(|tx| {
            tx.query(
                "SELECT seq, payload FROM worker_controls WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after_seq, &i64::from(max)],
            )
        })?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    /// The `seq` of the newest control, 0 when there is none: a starting worker reads the
    /// controls after it (the older ones are about jobs it never held).
    pub fn last_control_seq(&self) -> Result<i64> {
        self.read_tx(|tx| {
            let row = tx.query_one("SELECT COALESCE(max(seq), 0) FROM worker_controls", &[])?;
            Ok(row.try_get(0)?)
        })
    }

    /// Deletes the controls published before `before`; returns how many.
    /// [`PgStore::purge_finished_jobs`] does the same with its own cutoff.
    pub fn purge_controls(&self, before: DateTime<Utc>) -> Result<u64> {
        self.write_tx(|tx| delete_controls(tx, before))
    }
}

/// A row of `executor_commands` (seq, kind, execution_id, payload, created_at).
fn command_of(row: &postgres::Row) -> Result<Command> {
    let seq: i64 = row.try_get(0)?;
    let created_at = from_micros(row.try_get(4)?).ok_or_else(|| StoreError::Corrupt {
        table: "executor_commands",
        id: seq.to_string(),
        detail: "date out of range in column created_at".to_owned(),
    })?;
    Ok(Command {
        seq,
        kind: row.try_get(1)?,
        execution_id: row.try_get(2)?,
        payload: row.try_get(3)?,
        created_at,
    })
}

/// The advisory lock key that makes one scheduler of a database the active one
/// ([`PgStore::claim_scheduler`]).
const SCHEDULER_LOCK: i64 = 0x7361_6b65_722d_7363;

/// A held session lock: released when dropped, or when its session ends with the process.
pub struct SessionLock {
    client: super::pool::Session,
}

impl SessionLock {
    /// False once the session that holds the lock has closed (the database restarted or
    /// the connection was cut): the lock is no longer held, and another process may take it.
    pub fn is_held(&self) -> bool {
        !self.client.is_closed()
    }
}

impl PgStore {
    /// Takes the scheduler's lock on a session of its own, if no other process holds it:
    /// one scheduler at a time fires triggers, so that each fires once.
    pub fn claim_scheduler(&self) -> Result<Option<SessionLock>> {
        super::off_runtime(|| {
            let mut conn = self.connector.open()?;
            let claimed: bool = conn
                .client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&SCHEDULER_LOCK])?
                .try_get(0)?;
            if !claimed {
                return Ok(None);
            }
            super::hold_session_lock_briefly(&mut conn.client);
            Ok(Some(SessionLock {
                client: conn.client,
            }))
        })
    }
}
