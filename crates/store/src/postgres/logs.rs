//! Log lines. `seq` (an identity column) is the follow cursor. A bare sequence is not enough
//! for it: two transactions appending to one execution could take seq 10 and 11 and commit
//! in the other order, so a follower that already read 11 would never see 10. Appending
//! therefore first locks the row of each execution it writes to (`FOR NO KEY UPDATE`, held to
//! the end of the transaction): appends to one execution run one after another, each taking
//! its numbers after the previous one committed, so within an execution a lower `seq` is
//! never committed after a higher one. Appends to different executions do not wait for each
//! other. One append takes its locks in id order, so two appends naming the same executions
//! cannot deadlock on them (a deadlock across the writes of two batches is retried by
//! `write_tx`).

use saker_model::execution::LogEntry;

use super::{Tx, to_micros};
use crate::columns::level_rank;
use crate::{LogQuery, Result, StoreError, StoredLog};

/// Locks the executions `entries` name, or says which one (first in the given order) does
/// not exist.
fn lock_executions(tx: &mut Tx<'_>, entries: &[LogEntry]) -> Result<()> {
    let mut ids: Vec<&str> = entries.iter().map(|e| e.execution_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut missing = Vec::new();
    for id in ids {
        let row = tx.query_opt(
            "SELECT 1 FROM executions WHERE id = $1 FOR NO KEY UPDATE",
            &[&id],
        )?;
        if row.is_none() {
            missing.push(id);
        }
    }
    if let Some(entry) = entries
        .iter()
        .find(|e| missing.contains(&e.execution_id.as_str()))
    {
        return Err(StoreError::NotFound {
            kind: "execution",
            id: entry.execution_id.clone(),
        });
    }
    Ok(())
}

pub(super) fn append(tx: &mut Tx<'_>, entries: &[LogEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    lock_executions(tx, entries)?;
    // One row at a time, in order: the order in which identity values are drawn for a
    // multi-row INSERT ... SELECT is not something PostgreSQL promises.
    for entry in entries {
        let doc = serde_json::to_string(entry).map_err(|err| StoreError::Encode {
            kind: "log line of execution",
            id: entry.execution_id.clone(),
            detail: StoreError::json_detail(&err),
        })?;
        tx.execute(
            "INSERT INTO logs (execution_id, task_run_id, level, timestamp, doc) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &entry.execution_id,
                &entry.task_run_id,
                &level_rank(entry.level),
                &to_micros(entry.timestamp),
                &doc,
            ],
        )?;
    }
    Ok(())
}

/// One fixed statement for every query shape: absent filters become values that match
/// everything (LIMIT NULL is no limit).
const LIST_SQL: &str = "SELECT seq, doc FROM logs \
     WHERE execution_id = $1 AND seq > $2 AND level >= $3 \
       AND ($4::text IS NULL OR task_run_id = $4) \
     ORDER BY seq LIMIT $5";

pub(super) fn list(tx: &mut Tx<'_>, query: &LogQuery) -> Result<Vec<StoredLog>> {
    let rows = tx.query(
        LIST_SQL,
        &[
            &query.execution_id,
            &query.after_seq.unwrap_or(i64::MIN),
            &query.min_level.map_or(i16::MIN, level_rank),
            &query.task_run_id,
            &query.limit.map(i64::from),
        ],
    )?;
    let mut logs = Vec::with_capacity(rows.len());
    for row in &rows {
        let seq: i64 = row.try_get(0)?;
        let doc: &str = row.try_get(1)?;
        let entry = serde_json::from_str(doc)
            .map_err(|err| StoreError::corrupt_json("logs", &seq.to_string(), &err))?;
        logs.push(StoredLog { seq, entry });
    }
    Ok(logs)
}
