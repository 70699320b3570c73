//! Executions and their task runs. Each row keeps the full JSON document in `doc` and copies
//! into typed columns only what queries filter or sort on. An execution's document leaves out
//! its task runs: they live in their own rows, so saving one task run rewrites one small row
//! instead of the whole execution.

use chrono::Utc;
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Transaction, params, params_from_iter};
use saker_model::execution::{Execution, StateType, TaskRun};

use super::{is_foreign_key_violation, is_unique_violation, namespace_children, to_micros};
use crate::execution_doc::{ExecutionDoc, decode_execution, decode_task_run, encode};
use crate::{ExecutionFilter, Result, StoreError};

pub(super) fn create(tx: &Transaction<'_>, execution: &Execution) -> Result<()> {
    let doc = encode("execution", &execution.id, &ExecutionDoc::of(execution))?;
    let created_at = execution.state.start_date().unwrap_or_else(Utc::now);
    let inserted = tx
        .prepare_cached(
            "INSERT INTO executions \
             (id, tenant, namespace, flow_id, flow_revision, state, created_at, doc, ended_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            execution.id,
            execution.tenant_id,
            execution.namespace,
            execution.flow_id,
            execution.flow_revision,
            execution.state.current.as_str(),
            to_micros(created_at),
            doc,
            execution.state.end_date().map(to_micros),
        ]);
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            return Err(StoreError::AlreadyExists {
                kind: "execution",
                id: execution.id.clone(),
            });
        }
        other => other?,
    };
    for task_run in &execution.task_run_list {
        if task_run.execution_id != execution.id {
            return Err(StoreError::Conflict {
                kind: "task run",
                id: task_run.id.clone(),
                reason: "is in the task run list of another execution than its own",
            });
        }
        save_task_run(tx, task_run)?;
    }
    Ok(())
}

pub(super) fn save(tx: &Transaction<'_>, execution: &Execution) -> Result<()> {
    let doc = encode("execution", &execution.id, &ExecutionDoc::of(execution))?;
    // Only `state`, `doc` and `ended_at` change: SQLite then leaves alone the indexes on the
    // identity columns, which is most of the pages a save would otherwise rewrite. The
    // identity is fixed at creation, and the WHERE checks it so the document cannot
    // contradict the columns the listings filter on.
    let updated = tx
        .prepare_cached(
            "UPDATE executions SET state = ?6, doc = ?7, ended_at = ?8 WHERE id = ?1 \
             AND tenant = ?2 AND namespace = ?3 AND flow_id = ?4 AND flow_revision = ?5",
        )?
        .execute(params![
            execution.id,
            execution.tenant_id,
            execution.namespace,
            execution.flow_id,
            execution.flow_revision,
            execution.state.current.as_str(),
            doc,
            execution.state.end_date().map(to_micros),
        ])?;
    if updated == 1 {
        return Ok(());
    }
    let exists = tx
        .prepare_cached("SELECT 1 FROM executions WHERE id = ?1")?
        .exists([&execution.id])?;
    Err(if exists {
        StoreError::Conflict {
            kind: "execution",
            id: execution.id.clone(),
            reason: "tenant, namespace, flow id and flow revision cannot change",
        }
    } else {
        StoreError::NotFound {
            kind: "execution",
            id: execution.id.clone(),
        }
    })
}

pub(super) fn delete_task_runs(
    tx: &Transaction<'_>,
    execution_id: &str,
    task_run_ids: &[String],
) -> Result<()> {
    let mut delete =
        tx.prepare_cached("DELETE FROM task_runs WHERE execution_id = ?1 AND id = ?2")?;
    for id in task_run_ids {
        delete.execute(params![execution_id, id])?;
    }
    Ok(())
}

pub(super) fn save_task_run(tx: &Transaction<'_>, task_run: &TaskRun) -> Result<()> {
    let doc = encode("task run", &task_run.id, task_run)?;
    // An upsert keeps the row (and so its `seq`, the creation order) when the run is saved
    // again. The WHERE turns "same id, other execution" into zero changes, reported below.
    let changed = tx
        .prepare_cached(
            "INSERT INTO task_runs (id, execution_id, task_id, state, doc) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (id) DO UPDATE SET \
               task_id = excluded.task_id, state = excluded.state, doc = excluded.doc \
             WHERE task_runs.execution_id = excluded.execution_id",
        )?
        .execute(params![
            task_run.id,
            task_run.execution_id,
            task_run.task_id,
            task_run.state.current.as_str(),
            doc,
        ]);
    match changed {
        Ok(0) => Err(StoreError::Conflict {
            kind: "task run",
            id: task_run.id.clone(),
            reason: "already belongs to another execution",
        }),
        Ok(_) => Ok(()),
        Err(err) if is_foreign_key_violation(&err) => Err(StoreError::NotFound {
            kind: "execution",
            id: task_run.execution_id.clone(),
        }),
        Err(err) => Err(err.into()),
    }
}

pub(super) fn get(tx: &Transaction<'_>, id: &str) -> Result<Option<Execution>> {
    let doc: Option<String> = tx
        .prepare_cached("SELECT doc FROM executions WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    let Some(doc) = doc else {
        return Ok(None);
    };
    let mut execution = decode_execution(id, &doc)?;
    let mut stmt =
        tx.prepare_cached("SELECT id, doc FROM task_runs WHERE execution_id = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([id], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut task_runs = Vec::new();
    for row in rows {
        let (task_run_id, doc) = row?;
        task_runs.push(decode_task_run(&task_run_id, &doc)?);
    }
    execution.task_run_list = task_runs;
    Ok(Some(execution))
}

/// Appends ` AND column IN (?, ?, ...)` for `states`, or nothing if there are none.
fn push_states(sql: &mut String, params: &mut Vec<SqlValue>, states: &[StateType]) {
    if states.is_empty() {
        return;
    }
    sql.push_str(" AND state IN (");
    for (i, state) in states.iter().enumerate() {
        sql.push_str(if i == 0 { "?" } else { ", ?" });
        params.push(SqlValue::Text(state.as_str().to_owned()));
    }
    sql.push(')');
}

/// `WHERE …` of the executions `filter` matches (its limit and offset aside), with its
/// parameters. Built from fixed fragments only; every value is a bound parameter.
fn matching(filter: &ExecutionFilter) -> (String, Vec<SqlValue>) {
    let mut sql = String::from(" WHERE tenant = ?");
    let mut params = vec![SqlValue::Text(filter.tenant.clone())];
    if let Some(prefix) = &filter.namespace_prefix {
        let (lo, hi) = namespace_children(prefix);
        sql.push_str(" AND (namespace = ? OR (namespace >= ? AND namespace < ?))");
        params.extend([
            SqlValue::Text(prefix.clone()),
            SqlValue::Text(lo),
            SqlValue::Text(hi),
        ]);
    }
    if let Some(scopes) = &filter.namespace_scopes {
        sql.push_str(" AND (0 = 1");
        for scope in scopes {
            let (lo, hi) = namespace_children(scope);
            sql.push_str(" OR namespace = ? OR (namespace >= ? AND namespace < ?)");
            params.extend([
                SqlValue::Text(scope.clone()),
                SqlValue::Text(lo),
                SqlValue::Text(hi),
            ]);
        }
        sql.push(')');
    }
    if let Some(flow_id) = &filter.flow_id {
        sql.push_str(" AND flow_id = ?");
        params.push(SqlValue::Text(flow_id.clone()));
    }
    push_states(&mut sql, &mut params, &filter.states);
    (sql, params)
}

pub(super) fn count(tx: &Transaction<'_>, filter: &ExecutionFilter) -> Result<u64> {
    let (clause, params) = matching(filter);
    let sql = format!("SELECT COUNT(*) FROM executions{clause}");
    let count: i64 = tx
        .prepare_cached(&sql)?
        .query_row(params_from_iter(params), |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(super) fn list(tx: &Transaction<'_>, filter: &ExecutionFilter) -> Result<Vec<Execution>> {
    // prepare_cached keys on the text, so each shape of filter is prepared once per
    // connection.
    let (clause, mut params) = matching(filter);
    let mut sql = format!("SELECT id, doc FROM executions{clause}");
    sql.push_str(" ORDER BY seq DESC LIMIT ? OFFSET ?");
    // SQLite reads a negative LIMIT as "no limit".
    params.push(SqlValue::Integer(filter.limit.map_or(-1, i64::from)));
    params.push(SqlValue::Integer(i64::from(filter.offset)));

    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut executions = Vec::new();
    for row in rows {
        let (id, doc) = row?;
        executions.push(decode_execution(&id, &doc)?);
    }
    Ok(executions)
}

pub(super) fn in_states(tx: &Transaction<'_>, states: &[StateType]) -> Result<Vec<String>> {
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = String::from("SELECT id FROM executions WHERE 1 = 1");
    let mut params = Vec::new();
    push_states(&mut sql, &mut params, states);
    sql.push_str(" ORDER BY seq");
    let mut stmt = tx.prepare_cached(&sql)?;
    let ids = stmt
        .query_map(params_from_iter(params), |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(ids)
}

pub(super) fn delete(tx: &Transaction<'_>, id: &str) -> Result<bool> {
    // Task runs and logs go with it through ON DELETE CASCADE.
    let deleted = tx
        .prepare_cached("DELETE FROM executions WHERE id = ?1")?
        .execute([id])?;
    Ok(deleted > 0)
}
