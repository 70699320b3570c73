//! One batch of a purge on PostgreSQL (the statements are in `purge_sql`, shared with
//! SQLite). The batch loop is in `PgStore`; PostgreSQL's autovacuum reuses the freed space.

use postgres::types::ToSql;

use super::Tx;
use crate::Result;
use crate::purge::{ExecutionPurge, LogPurge, PurgedExecutions};
use crate::purge_sql::{self, ExecutionCursor, Param, Sql};

fn values(sql: &Sql) -> Vec<&(dyn ToSql + Sync)> {
    sql.params
        .iter()
        .map(|param| -> &(dyn ToSql + Sync) {
            match param {
                Param::Text(text) => text,
                Param::Int(n) => n,
                Param::Small(n) => n,
            }
        })
        .collect()
}

fn execute(tx: &mut Tx<'_>, sql: &Sql) -> Result<u64> {
    tx.execute(&sql.text, &values(sql))
}

fn count(tx: &mut Tx<'_>, sql: &Sql) -> Result<u64> {
    let n: i64 = tx.query_one(&sql.text, &values(sql))?.try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One batch of an execution purge: what it removed, how many executions it looked at and
/// where the next batch resumes.
pub(super) fn execution_batch(
    tx: &mut Tx<'_>,
    purge: &ExecutionPurge,
    cursor: Option<ExecutionCursor>,
) -> Result<(PurgedExecutions, usize, Option<ExecutionCursor>)> {
    let select = purge_sql::execution_batch('$', purge, cursor);
    let rows = tx.query(&select.text, &values(&select))?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut next = None;
    for row in &rows {
        let seq: i64 = row.try_get(0)?;
        ids.push(row.try_get::<_, String>(1)?);
        let ended: i64 = row.try_get(2)?;
        next = Some((ended, seq));
    }
    if ids.is_empty() {
        return Ok((PurgedExecutions::default(), 0, None));
    }
    let mut removed = PurgedExecutions::default();
    if purge.executions {
        let runs = purge_sql::by_ids('$', "SELECT COUNT(*) FROM task_runs", "execution_id", &ids);
        let logs = purge_sql::by_ids('$', "SELECT COUNT(*) FROM logs", "execution_id", &ids);
        removed.task_runs = count(tx, &runs)?;
        removed.logs = count(tx, &logs)?;
        // Task runs and log lines go with their execution (ON DELETE CASCADE).
        let delete = purge_sql::by_ids('$', "DELETE FROM executions", "id", &ids);
        removed.executions = execute(tx, &delete)?;
    } else if purge.logs {
        let delete = purge_sql::by_ids('$', "DELETE FROM logs", "execution_id", &ids);
        removed.logs = execute(tx, &delete)?;
    }
    Ok((removed, ids.len(), next))
}

/// One batch of a log purge: how many lines it removed, how many it looked at and the last
/// `seq` seen.
pub(super) fn log_batch(
    tx: &mut Tx<'_>,
    purge: &LogPurge,
    after_seq: Option<i64>,
) -> Result<(u64, usize, Option<i64>)> {
    let select = purge_sql::log_batch('$', purge, after_seq);
    let rows = tx.query(&select.text, &values(&select))?;
    let seqs = rows
        .iter()
        .map(|row| Ok(row.try_get::<_, i64>(0)?))
        .collect::<Result<Vec<i64>>>()?;
    let Some(&last) = seqs.last() else {
        return Ok((0, 0, None));
    };
    let removed = execute(tx, &purge_sql::delete_logs('$', &seqs))?;
    Ok((removed, seqs.len(), Some(last)))
}
