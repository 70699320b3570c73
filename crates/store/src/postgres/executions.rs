//! Executions and their task runs: the full JSON document in `doc` (TEXT), with the columns
//! that queries filter or sort on copied beside it, as in the SQLite backend. An execution's
//! document leaves out its task runs, which live in their own rows.

use chrono::Utc;
use postgres::types::ToSql;
use saker_model::execution::{Execution, StateType, TaskRun};

use super::{Tx, is_foreign_key_violation, is_unique_violation, namespace_children, to_micros};
use crate::execution_doc::{ExecutionDoc, decode_execution, decode_task_run, encode};
use crate::{ExecutionFilter, Result, StoreError};

pub(super) fn create(tx: &mut Tx<'_>, execution: &Execution) -> Result<()> {
    let doc = encode("execution", &execution.id, &ExecutionDoc::of(execution))?;
    let created_at = execution.state.start_date().unwrap_or_else(Utc::now);
    let inserted = tx.try_execute(
        "INSERT INTO executions \
         (id, tenant, namespace, flow_id, flow_revision, state, created_at, doc, ended_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &execution.id,
            &execution.tenant_id,
            &execution.namespace,
            &execution.flow_id,
            &i64::from(execution.flow_revision),
            &execution.state.current.as_str(),
            &to_micros(created_at),
            &doc,
            &execution.state.end_date().map(to_micros),
        ],
    )?;
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

pub(super) fn save(tx: &mut Tx<'_>, execution: &Execution) -> Result<()> {
    let doc = encode("execution", &execution.id, &ExecutionDoc::of(execution))?;
    // The identity is fixed at creation; the WHERE checks it so that the document cannot
    // contradict the columns the listings filter on.
    let updated = tx.execute(
        "UPDATE executions SET state = $6, doc = $7, ended_at = $8 WHERE id = $1 \
         AND tenant = $2 AND namespace = $3 AND flow_id = $4 AND flow_revision = $5",
        &[
            &execution.id,
            &execution.tenant_id,
            &execution.namespace,
            &execution.flow_id,
            &i64::from(execution.flow_revision),
            &execution.state.current.as_str(),
            &doc,
            &execution.state.end_date().map(to_micros),
        ],
    )?;
    if updated == 1 {
        return Ok(());
    }
    let exists = tx
        .query_opt("SELECT 1 FROM executions WHERE id = $1", &[&execution.id])?
        .is_some();
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
    tx: &mut Tx<'_>,
    execution_id: &str,
    task_run_ids: &[String],
) -> Result<()> {
    for id in task_run_ids {
        tx.execute(
            "DELETE FROM task_runs WHERE execution_id = $1 AND id = $2",
            &[&execution_id, id],
        )?;
    }
    Ok(())
}

pub(super) fn save_task_run(tx: &mut Tx<'_>, task_run: &TaskRun) -> Result<()> {
    let doc = encode("task run", &task_run.id, task_run)?;
    // An upsert keeps the row (and so its `seq`, the creation order) when the run is saved
    // again. The WHERE turns "same id, other execution" into zero rows, reported below.
    let changed = tx.try_execute(
        "INSERT INTO task_runs (id, execution_id, task_id, state, doc) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET \
           task_id = excluded.task_id, state = excluded.state, doc = excluded.doc \
         WHERE task_runs.execution_id = excluded.execution_id",
        &[
            &task_run.id,
            &task_run.execution_id,
            &task_run.task_id,
            &task_run.state.current.as_str(),
            &doc,
        ],
    )?;
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

pub(super) fn get(tx: &mut Tx<'_>, id: &str) -> Result<Option<Execution>> {
    let Some(row) = tx.query_opt("SELECT doc FROM executions WHERE id = $1", &[&id])? else {
        return Ok(None);
    };
    let mut execution = decode_execution(id, row.try_get(0)?)?;
    let rows = tx.query(
        "SELECT id, doc FROM task_runs WHERE execution_id = $1 ORDER BY seq",
        &[&id],
    )?;
    let mut task_runs = Vec::with_capacity(rows.len());
    for row in &rows {
        task_runs.push(decode_task_run(row.try_get(0)?, row.try_get(1)?)?);
    }
    execution.task_run_list = task_runs;
    Ok(Some(execution))
}

/// The current-state names of `states`, for `state = ANY($n)`.
fn state_names(states: &[StateType]) -> Vec<&'static str> {
    states.iter().map(|state| state.as_str()).collect()
}

/// `WHERE …` of the executions `filter` matches (its limit and offset aside) and its text
/// parameters, numbered from `$1`. Built from fixed fragments only; every value is bound.
fn matching(filter: &ExecutionFilter) -> (String, Vec<String>) {
    let mut params = vec![filter.tenant.clone()];
    let mut sql = String::from(" WHERE tenant = $1");
    let bind = |params: &mut Vec<String>, value: String| {
        params.push(value);
        format!("${}", params.len())
    };
    if let Some(prefix) = &filter.namespace_prefix {
        let (lo, hi) = namespace_children(prefix);
        let (p, l, h) = (
            bind(&mut params, prefix.clone()),
            bind(&mut params, lo),
            bind(&mut params, hi),
        );
        sql.push_str(&format!(
            " AND (namespace = {p} OR (namespace >= {l} AND namespace < {h}))"
        ));
    }
    if let Some(scopes) = &filter.namespace_scopes {
        sql.push_str(" AND (FALSE");
        for scope in scopes {
            let (lo, hi) = namespace_children(scope);
            let (p, l, h) = (
                bind(&mut params, scope.clone()),
                bind(&mut params, lo),
                bind(&mut params, hi),
            );
            sql.push_str(&format!(
                " OR namespace = {p} OR (namespace >= {l} AND namespace < {h})"
            ));
        }
        sql.push(')');
    }
    if let Some(flow_id) = &filter.flow_id {
        let f = bind(&mut params, flow_id.clone());
        sql.push_str(&format!(" AND flow_id = {f}"));
    }
    (sql, params)
}

/// The states condition, bound as the next parameter after `texts`, when there is one.
fn states_clause(sql: &mut String, texts: usize, states: &[StateType]) -> bool {
    if states.is_empty() {
        return false;
    }
    sql.push_str(&format!(" AND state = ANY(${})", texts + 1));
    true
}

pub(super) fn count(tx: &mut Tx<'_>, filter: &ExecutionFilter) -> Result<u64> {
    let (clause, texts) = matching(filter);
    let mut sql = format!("SELECT COUNT(*) FROM executions{clause}");
    let states = state_names(&filter.states);
    let mut params: Vec<&(dyn ToSql + Sync)> = texts.iter().map(|t| t as _).collect();
    if states_clause(&mut sql, texts.len(), &filter.states) {
        params.push(&states);
    }
    let count: i64 = tx.query_one(&sql, &params)?.try_get(0)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(super) fn list(tx: &mut Tx<'_>, filter: &ExecutionFilter) -> Result<Vec<Execution>> {
    let (clause, texts) = matching(filter);
    let mut sql = format!("SELECT id, doc FROM executions{clause}");
    let states = state_names(&filter.states);
    let mut params: Vec<&(dyn ToSql + Sync)> = texts.iter().map(|t| t as _).collect();
    if states_clause(&mut sql, texts.len(), &filter.states) {
        params.push(&states);
    }
    // LIMIT NULL is no limit.
    let limit = filter.limit.map(i64::from);
    let offset = i64::from(filter.offset);
    sql.push_str(&format!(
        " ORDER BY seq DESC LIMIT ${} OFFSET ${}",
        params.len() + 1,
        params.len() + 2
    ));
    params.push(&limit);
    params.push(&offset);
    let rows = tx.query(&sql, &params)?;
    let mut executions = Vec::with_capacity(rows.len());
    for row in &rows {
        executions.push(decode_execution(row.try_get(0)?, row.try_get(1)?)?);
    }
    Ok(executions)
}

pub(super) fn in_states(tx: &mut Tx<'_>, states: &[StateType]) -> Result<Vec<String>> {
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let names = state_names(states);
    let rows = tx.query(
        "SELECT id FROM executions WHERE state = ANY($1) ORDER BY seq",
        &[&names],
    )?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}

pub(super) fn delete(tx: &mut Tx<'_>, id: &str) -> Result<bool> {
    // Task runs and logs go with it through ON DELETE CASCADE.
    Ok(tx.execute("DELETE FROM executions WHERE id = $1", &[&id])? > 0)
}
