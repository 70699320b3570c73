//! One batch of a purge on SQLite (the statements are in `purge_sql`, shared with
//! PostgreSQL). The batch loop and the space reclaiming between batches are in `SqliteStore`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Transaction, params_from_iter};

use crate::Result;
use crate::purge::{ExecutionPurge, LogPurge, PurgedExecutions};
use crate::purge_sql::{self, ExecutionCursor, Param, Sql};

fn values(sql: &Sql) -> impl Iterator<Item = SqlValue> + '_ {
    sql.params.iter().map(|param| match param {
        Param::Text(text) => SqlValue::Text(text.clone()),
        Param::Int(n) => SqlValue::Integer(*n),
        Param::Small(n) => SqlValue::Integer(i64::from(*n)),
    })
}

/// Runs a statement whose shape depends on the batch (the id list): not cached, so that the
/// cache keeps the statements that are run again and again.
fn execute(tx: &Transaction<'_>, sql: &Sql) -> Result<u64> {
    let changed = tx
        .prepare(&sql.text)?
        .execute(params_from_iter(values(sql)))?;
    Ok(changed as u64)
}

fn count(tx: &Transaction<'_>, sql: &Sql) -> Result<u64> {
    let n: i64 = tx
        .prepare(&sql.text)?
        .query_row(params_from_iter(values(sql)), |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One batch of an execution purge: what it removed, how many executions it looked at and
/// where the next batch resumes.
pub(super) fn execution_batch(
    tx: &Transaction<'_>,
    purge: &ExecutionPurge,
    cursor: Option<ExecutionCursor>,
) -> Result<(PurgedExecutions, usize, Option<ExecutionCursor>)> {
    let select = purge_sql::execution_batch('?', purge, cursor);
    let mut stmt = tx.prepare_cached(&select.text)?;
    let rows = stmt
        .query_map(params_from_iter(values(&select)), |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next = rows.last().map(|(seq, _, ended)| (*ended, *seq));
    let ids: Vec<String> = rows.into_iter().map(|(_, id, _)| id).collect();
    if ids.is_empty() {
        return Ok((PurgedExecutions::default(), 0, None));
    }
    let mut removed = PurgedExecutions::default();
    if purge.executions {
        let runs = purge_sql::by_ids('?', "SELECT COUNT(*) FROM task_runs", "execution_id", &ids);
        let logs = purge_sql::by_ids('?', "SELECT COUNT(*) FROM logs", "execution_id", &ids);
        removed.task_runs = count(tx, &runs)?;
        removed.logs = count(tx, &logs)?;
        // Task runs and log lines go with their execution (ON DELETE CASCADE).
        let delete = purge_sql::by_ids('?', "DELETE FROM executions", "id", &ids);
        removed.executions = execute(tx, &delete)?;
    } else if purge.logs {
        let delete = purge_sql::by_ids('?', "DELETE FROM logs", "execution_id", &ids);
        removed.logs = execute(tx, &delete)?;
    }
    Ok((removed, ids.len(), next))
}

/// One batch of a log purge: how many lines it removed, how many it looked at and the last
/// `seq` seen.
pub(super) fn log_batch(
    tx: &Transaction<'_>,
    purge: &LogPurge,
    after_seq: Option<i64>,
) -> Result<(u64, usize, Option<i64>)> {
    let select = purge_sql::log_batch('?', purge, after_seq);
    let seqs = tx
        .prepare_cached(&select.text)?
        .query_map(params_from_iter(values(&select)), |row| {
            row.get::<_, i64>(0)
        })?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    let Some(&last) = seqs.last() else {
        return Ok((0, 0, None));
    };
    let removed = execute(tx, &purge_sql::delete_logs('?', &seqs))?;
    Ok((removed, seqs.len(), Some(last)))
}

#[cfg(test)]
mod tests {
    use crate::{ExecutionPurge, PurgeScope, SqliteStore, Store, Write};
    use saker_model::execution::{Execution, State, StateType};

    fn pragma(store: &SqliteStore, name: &str) -> i64 {
        store
            .writer()
            .pragma_query_value(None, name, |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_purge_gives_the_freed_pages_back_to_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("saker.db")).unwrap();
        let start = chrono::Utc::now() - chrono::TimeDelta::days(2);
        let executions: Vec<Execution> = (0..2_500)
            .map(|_| {
                let mut e = Execution::new("main", "ns", "f", 1);
                e.state = State::starting_at(StateType::Created, start);
                e.state.transition_at(StateType::Success, start);
                e.outputs
                    .insert("blob".into(), serde_json::json!("x".repeat(2_000)));
                e
            })
            .collect();
        let writes: Vec<Write<'_>> = executions.iter().map(Write::CreateExecution).collect();
        store.write(&writes).unwrap();
        assert_eq!(pragma(&store, "auto_vacuum"), 2);
        let before = pragma(&store, "page_count");
        let purge = ExecutionPurge::new(PurgeScope::new("main"), chrono::Utc::now());
        assert_eq!(store.purge_executions(&purge).unwrap().executions, 2_500);
        assert_eq!(pragma(&store, "freelist_count"), 0);
        let after = pragma(&store, "page_count");
        assert!(after * 10 < before, "{before} pages before, {after} after");
    }
}
