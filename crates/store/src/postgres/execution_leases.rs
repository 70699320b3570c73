//! The executors' execution leases (distributed mode): each execution is advanced by one
//! executor at a time. A lease is taken for a while, renewed by its holder's heartbeats
//! (`PgStore::heartbeat`), and taken over by another executor only once it has expired
//! *and* its holder is no longer alive, the same rule as a worker job's lease. The taker
//! must be a RUNNING instance.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::queue::{ALIVE, lease_end};
use super::{PgStore, Tx, from_micros, to_micros};
use crate::{Result, StoreError};

/// Who holds an execution, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionLease {
    pub execution_id: String,
    pub holder: String,
    pub until: DateTime<Utc>,
    pub acquired_at: DateTime<Utc>,
}

/// Renews, until `until`, every lease `holder` has (from its heartbeat's transaction).
pub(super) fn renew(tx: &mut Tx<'_>, holder: &str, until: DateTime<Utc>) -> Result<u64> {
    tx.execute(
        "UPDATE execution_leases SET lease_until = $2 WHERE holder = $1 AND lease_until < $2",
        &[&holder, &to_micros(until)],
    )
}

impl PgStore {
    /// Takes (or renews) the lease on `execution_id` for `holder` until `now + lease`:
    /// `true` when `holder` now holds it. Refused (`false`) while another holder's lease
    /// runs or that holder is still alive, and when `holder` is not RUNNING.
    pub fn lease_execution(
        &self,
        execution_id: &str,
        holder: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let until = lease_end(now, lease)?;
        let sql = format!(
            "INSERT INTO execution_leases AS l (execution_id, holder, lease_until, acquired_at) \
             SELECT $1, $2, $3, $4 WHERE EXISTS ( \
               SELECT 1 FROM service_instances WHERE id = $2 AND state = 'RUNNING' FOR SHARE) \
             ON CONFLICT (execution_id) DO UPDATE \
               SET holder = excluded.holder, lease_until = excluded.lease_until, \
                   acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at \
                                      ELSE excluded.acquired_at END \
             WHERE l.holder = excluded.holder \
                OR (l.lease_until <= $4 AND NOT EXISTS ( \
                      SELECT 1 FROM service_instances s \
                       WHERE s.id = l.holder AND s.state IN {ALIVE}))"
        );
        self.write_tx(|tx| {
            let changed = tx.execute(
                &sql,
                &[&execution_id, &holder, &to_micros(until), &to_micros(now)],
            )?;
            Ok(changed == 1)
        })
    }

    /// Gives up `holder`'s lease on `execution_id` (an ended execution); `false` when it did
    /// not hold it.
    pub fn release_execution(&self, execution_id: &str, holder: &str) -> Result<bool> {
        self.write_tx(|tx| {
            let deleted = tx.execute(
                "DELETE FROM execution_leases WHERE execution_id = $1 AND holder = $2",
                &[&execution_id, &holder],
            )?;
            Ok(deleted == 1)
        })
    }

    /// The lease on `execution_id`, if any.
    pub fn execution_lease(&self, execution_id: &str) -> Result<Option<ExecutionLease>> {
        let row = self.read_tx(|tx| {
            tx.query_opt(
                "SELECT holder, lease_until, acquired_at FROM execution_leases \
                 WHERE execution_id = $1",
                &[&execution_id],
            )
        })?;
        let Some(row) = row else { return Ok(None) };
        let date = |index: usize| -> Result<DateTime<Utc>> {
            from_micros(row.try_get(index)?).ok_or_else(|| StoreError::Corrupt {
                table: "execution_leases",
                id: execution_id.to_owned(),
                detail: "date out of range".to_owned(),
            })
        };
        Ok(Some(ExecutionLease {
            execution_id: execution_id.to_owned(),
            holder: row.try_get(0)?,
            until: date(1)?,
            acquired_at: date(2)?,
        }))
    }
}
