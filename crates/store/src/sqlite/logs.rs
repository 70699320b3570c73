//! Log lines. `seq` (the rowid) is the follow cursor: with a single writer, SQLite gives each
//! new row `max(seq) + 1` at insert time and commits are serial, so within an execution a line
//! with a lower `seq` is never committed after one with a higher `seq`.

use rusqlite::{Transaction, params};
use saker_model::execution::LogEntry;

use super::{is_foreign_key_violation, to_micros};
use crate::columns::level_rank;
use crate::{LogQuery, Result, StoreError, StoredLog};

pub(super) fn append(tx: &Transaction<'_>, entries: &[LogEntry]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO logs (execution_id, task_run_id, level, timestamp, doc) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for entry in entries {
        let doc = serde_json::to_string(entry).map_err(|err| StoreError::Encode {
            kind: "log line of execution",
            id: entry.execution_id.clone(),
            detail: StoreError::json_detail(&err),
        })?;
        let inserted = stmt.execute(params![
            entry.execution_id,
            entry.task_run_id,
            level_rank(entry.level),
            to_micros(entry.timestamp),
            doc,
        ]);
        match inserted {
            Ok(_) => {}
            Err(err) if is_foreign_key_violation(&err) => {
                return Err(StoreError::NotFound {
                    kind: "execution",
                    id: entry.execution_id.clone(),
                });
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// One fixed statement for every query shape: absent filters become values that match
/// everything, so the plan (the (execution_id, seq) index) never changes.
pub(super) const LIST_SQL: &str = "SELECT seq, doc FROM logs \
     WHERE execution_id = ?1 AND seq > ?2 AND level >= ?3 \
       AND (?4 IS NULL OR task_run_id = ?4) \
     ORDER BY seq LIMIT ?5";

pub(super) fn list(tx: &Transaction<'_>, query: &LogQuery) -> Result<Vec<StoredLog>> {
    let mut stmt = tx.prepare_cached(LIST_SQL)?;
    let rows = stmt.query_map(
        params![
            query.execution_id,
            query.after_seq.unwrap_or(i64::MIN),
            query
                .min_level
                .map_or(i64::MIN, |l| i64::from(level_rank(l))),
            query.task_run_id,
            query.limit.map_or(-1, i64::from),
        ],
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
    )?;
    let mut logs = Vec::new();
    for row in rows {
        let (seq, doc) = row?;
        let entry = serde_json::from_str(&doc)
            .map_err(|err| StoreError::corrupt_json("logs", &seq.to_string(), &err))?;
        logs.push(StoredLog { seq, entry });
    }
    Ok(logs)
}
