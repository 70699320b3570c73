//! The SQL of a purge, the same on both backends: which rows one batch takes, built from fixed
//! fragments with every value a numbered parameter (`?N` for SQLite, `$N` for PostgreSQL,
//! both of which accept a number after the sigil). Each backend runs the statements and turns
//! [`Param`]s into its own types.

use crate::Result;
use crate::columns::{level_rank, namespace_children, to_micros};
use crate::purge::{ExecutionPurge, LogPurge, PURGE_BATCH, PurgeScope, PurgedExecutions};

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    /// A log level's rank (PostgreSQL's column is SMALLINT and will not compare to a BIGINT
    /// parameter).
    Small(i16),
}

/// A statement being built, with its parameters.
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) params: Vec<Param>,
    sigil: char,
}

impl Sql {
    pub(crate) fn new(sigil: char, text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
            sigil,
        }
    }

    /// Adds a bound parameter and returns the marker that refers to it in the SQL text
    /// (`?1` for SQLite, `$1` for PostgreSQL).
    fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("{}{}", self.sigil, self.params.len())
    }

    fn push(&mut self, fragment: &str) {
        self.text.push_str(fragment);
    }

    /// ` AND (ns = p OR (ns >= lo AND ns < hi))`: the namespace or its children.
    fn namespace_or_children(&mut self, column: &str, namespace: &str) -> String {
        let (lo, hi) = namespace_children(namespace);
        let p = self.bind(Param::Text(namespace.to_owned()));
        let l = self.bind(Param::Text(lo));
        let h = self.bind(Param::Text(hi));
        format!("{column} = {p} OR ({column} >= {l} AND {column} < {h})")
    }

    /// ` AND column IN (…)` of `values`.
    fn any_of(&mut self, column: &str, values: Vec<Param>) {
        let markers: Vec<String> = values.into_iter().map(|v| self.bind(v)).collect();
        self.push(&format!(" AND {column} IN ({})", markers.join(", ")));
    }

    /// The conditions of `scope` on an executions table aliased `e`.
    fn scope(&mut self, scope: &PurgeScope) {
        if let Some(tenant) = &scope.tenant {
            let t = self.bind(Param::Text(tenant.clone()));
            self.push(&format!(" AND e.tenant = {t}"));
        }
        if let Some(namespace) = &scope.namespace {
            if scope.namespace_exact() {
                let n = self.bind(Param::Text(namespace.clone()));
                self.push(&format!(" AND e.namespace = {n}"));
            } else {
                let cond = self.namespace_or_children("e.namespace", namespace);
                self.push(&format!(" AND ({cond})"));
            }
        }
        if let Some(scopes) = &scope.namespace_scopes {
            self.push(" AND (1 = 0");
            for allowed in scopes {
                let cond = self.namespace_or_children("e.namespace", allowed);
                self.push(&format!(" OR {cond}"));
            }
            self.push(")");
        }
        if let Some(flow_id) = &scope.flow_id {
            let f = self.bind(Param::Text(flow_id.clone()));
            self.push(&format!(" AND e.flow_id = {f}"));
        }
        if let Some(keep) = &scope.keep_execution {
            let k = self.bind(Param::Text(keep.clone()));
            self.push(&format!(" AND e.id <> {k}"));
        }
    }
}

/// Where a batch of an execution purge resumes: the (end, seq) of the last execution seen.
pub(crate) type ExecutionCursor = (i64, i64);

/// The next batch of executions `purge` matches after `cursor`, oldest end first, as rows of
/// `(seq, id, ended_at)`. Only ended executions have an `ended_at`.
pub(crate) fn execution_batch(
    sigil: char,
    executions: &str,
    purge: &ExecutionPurge,
    cursor: Option<ExecutionCursor>,
) -> Sql {
    let mut sql = Sql::new(
        sigil,
        &format!("SELECT e.seq, e.id, e.ended_at FROM {executions} WHERE 1 = 1"),
    );
    sql.scope(&purge.scope);
    let before = sql.bind(Param::Int(to_micros(purge.ended_before)));
    sql.push(&format!(
        " AND e.ended_at IS NOT NULL AND e.ended_at < {before}"
    ));
    if let Some(after) = purge.started_after {
        let a = sql.bind(Param::Int(to_micros(after)));
        sql.push(&format!(" AND e.created_at >= {a}"));
    }
    if !purge.states.is_empty() {
        let states = purge
            .states
            .iter()
            .map(|s| Param::Text(s.as_str().to_owned()))
            .collect();
        sql.any_of("e.state", states);
    }
    if let Some((ended, seq)) = cursor {
        let (c1, c2) = (sql.bind(Param::Int(ended)), sql.bind(Param::Int(seq)));
        // The first term is implied by the second; it gives the planner a lower bound on
        // the index, so that a batch starts where the last one stopped instead of
        // re-reading every kept row before it.
        sql.push(&format!(
            " AND e.ended_at >= {c1} AND (e.ended_at > {c1} OR (e.ended_at = {c1} AND e.seq > {c2}))"
        ));
    }
    let limit = sql.bind(Param::Int(i64::from(PURGE_BATCH)));
    sql.push(&format!(" ORDER BY e.ended_at, e.seq LIMIT {limit}"));
    sql
}

/// A statement over the rows of `table` whose `column` is one of `ids`: `head` is what comes
/// before the WHERE (`SELECT COUNT(*) FROM logs`, `DELETE FROM executions`, ...).
pub(crate) fn by_ids(sigil: char, head: &str, column: &str, ids: &[String]) -> Sql {
    let mut sql = Sql::new(sigil, head);
    sql.push(" WHERE 1 = 1");
    sql.any_of(column, ids.iter().cloned().map(Param::Text).collect());
    sql
}

/// The next batch of log lines `purge` matches after the line `after_seq`, as their `seq`s.
pub(crate) fn log_batch(sigil: char, purge: &LogPurge, after_seq: Option<i64>) -> Sql {
    // CROSS JOIN: SQLite then walks the log lines in `seq` order (the order wanted, from the
    // cursor on) and looks each execution up, instead of sorting every line of the tenant's
    // executions for each batch. PostgreSQL plans it as any join.
    let mut sql = Sql::new(
        sigil,
        "SELECT l.seq FROM logs l CROSS JOIN executions e WHERE e.id = l.execution_id",
    );
    sql.scope(&purge.scope);
    let before = sql.bind(Param::Int(to_micros(purge.before)));
    sql.push(&format!(" AND l.timestamp < {before}"));
    if let Some(after) = purge.after {
        let a = sql.bind(Param::Int(to_micros(after)));
        sql.push(&format!(" AND l.timestamp >= {a}"));
    }
    if let Some(execution_id) = &purge.execution_id {
        let x = sql.bind(Param::Text(execution_id.clone()));
        sql.push(&format!(" AND l.execution_id = {x}"));
    }
    if !purge.levels.is_empty() {
        let levels = purge
            .levels
            .iter()
            .map(|l| Param::Small(level_rank(*l)))
            .collect();
        sql.any_of("l.level", levels);
    }
    if let Some(seq) = after_seq {
        let s = sql.bind(Param::Int(seq));
        sql.push(&format!(" AND l.seq > {s}"));
    }
    let limit = sql.bind(Param::Int(i64::from(PURGE_BATCH)));
    sql.push(&format!(" ORDER BY l.seq LIMIT {limit}"));
    sql
}

/// `DELETE FROM logs` of the given `seq`s.
pub(crate) fn delete_logs(sigil: char, seqs: &[i64]) -> Sql {
    let mut sql = Sql::new(sigil, "DELETE FROM logs WHERE 1 = 1");
    sql.any_of("seq", seqs.iter().copied().map(Param::Int).collect());
    sql
}

/// How a backend runs the statements of one batch, inside the batch's transaction.
pub(crate) trait BatchTx {
    /// The `(seq, id, ended_at)` rows of an [`execution_batch`] query.
    fn execution_rows(&mut self, sql: &Sql) -> Result<Vec<(i64, String, i64)>>;
    /// The `seq`s of a [`log_batch`] query.
    fn seqs(&mut self, sql: &Sql) -> Result<Vec<i64>>;
    /// The number a `SELECT COUNT(*)` gives.
    fn count(&mut self, sql: &Sql) -> Result<u64>;
    /// Runs a DELETE and says how many rows it removed.
    fn execute(&mut self, sql: &Sql) -> Result<u64>;
    /// `?` (SQLite) or `$` (PostgreSQL).
    fn sigil(&self) -> char;
    /// The executions table aliased `e` as a batch reads it: walking the end-date index in
    /// order, so that a batch reads what it takes and no more.
    fn executions(&self) -> &'static str;
}

/// One batch of an execution purge: what it removed, how many executions it looked at and
/// where the next batch resumes.
pub(crate) fn purge_execution_batch(
    tx: &mut impl BatchTx,
    purge: &ExecutionPurge,
    cursor: Option<ExecutionCursor>,
) -> Result<(PurgedExecutions, usize, Option<ExecutionCursor>)> {
    let sigil = tx.sigil();
    let rows = tx.execution_rows(&execution_batch(sigil, tx.executions(), purge, cursor))?;
    let next = rows.last().map(|(seq, _, ended)| (*ended, *seq));
    let ids: Vec<String> = rows.into_iter().map(|(_, id, _)| id).collect();
    let mut removed = PurgedExecutions::default();
    if ids.is_empty() {
        return Ok((removed, 0, None));
    }
    if purge.executions {
        let runs = "SELECT COUNT(*) FROM task_runs";
        removed.task_runs = tx.count(&by_ids(sigil, runs, "execution_id", &ids))?;
        let logs = "SELECT COUNT(*) FROM logs";
        removed.logs = tx.count(&by_ids(sigil, logs, "execution_id", &ids))?;
        // Task runs and log lines go with their execution (ON DELETE CASCADE).
        let delete = by_ids(sigil, "DELETE FROM executions", "id", &ids);
        removed.executions = tx.execute(&delete)?;
    } else if purge.logs {
        let delete = by_ids(sigil, "DELETE FROM logs", "execution_id", &ids);
        removed.logs = tx.execute(&delete)?;
    }
    Ok((removed, ids.len(), next))
}

/// One batch of a log purge: how many lines it removed, how many it looked at and the last
/// `seq` seen.
pub(crate) fn purge_log_batch(
    tx: &mut impl BatchTx,
    purge: &LogPurge,
    after_seq: Option<i64>,
) -> Result<(u64, usize, Option<i64>)> {
    let sigil = tx.sigil();
    let seqs = tx.seqs(&log_batch(sigil, purge, after_seq))?;
    let Some(&last) = seqs.last() else {
        return Ok((0, 0, None));
    };
    let removed = tx.execute(&delete_logs(sigil, &seqs))?;
    Ok((removed, seqs.len(), Some(last)))
}

/// Runs a purge batch after batch until one comes back short, adding up what each removed.
/// `step` runs one batch in its own transaction and returns what it removed, how many rows it
/// looked at, and where the next batch resumes.
fn in_batches<C, T>(
    mut step: impl FnMut(Option<C>) -> Result<(T, usize, Option<C>)>,
    mut add: impl FnMut(T),
) -> Result<()> {
    let mut cursor = None;
    loop {
        let (removed, seen, next) = step(cursor)?;
        add(removed);
        if seen < PURGE_BATCH as usize || next.is_none() {
            return Ok(());
        }
        cursor = next;
    }
}

/// A whole execution purge, given how a backend runs one batch in its own transaction.
pub(crate) fn purge_executions(
    purge: &ExecutionPurge,
    batch: impl FnMut(
        Option<ExecutionCursor>,
    ) -> Result<(PurgedExecutions, usize, Option<ExecutionCursor>)>,
) -> Result<PurgedExecutions> {
    let mut total = PurgedExecutions::default();
    if purge.executions || purge.logs {
        in_batches(batch, |removed| total.add(removed))?;
    }
    Ok(total)
}

/// A whole log purge, given how a backend runs one batch in its own transaction.
pub(crate) fn purge_logs(
    batch: impl FnMut(Option<i64>) -> Result<(u64, usize, Option<i64>)>,
) -> Result<u64> {
    let mut total = 0;
    in_batches(batch, |removed| total += removed)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn a_flow_id_makes_the_namespace_exact_and_values_are_bound() {
        let mut scope = PurgeScope::new("main");
        scope.namespace = Some("company'; DROP TABLE executions; --".into());
        scope.flow_id = Some("f".into());
        let purge = ExecutionPurge::new(scope, DateTime::from_timestamp_micros(5).unwrap());
        let sql = execution_batch('$', "executions e", &purge, Some((1, 2)));
        assert!(sql.text.contains("e.namespace = $2"), "{}", sql.text);
        assert!(!sql.text.contains("DROP"), "{}", sql.text);
        assert!(!sql.text.contains("e.namespace >="), "{}", sql.text);
        assert_eq!(sql.params.len(), 7);
    }

    #[test]
    fn without_a_flow_id_the_namespace_is_a_prefix() {
        let mut scope = PurgeScope::new("main");
        scope.namespace = Some("company".into());
        let purge = LogPurge::new(scope, DateTime::from_timestamp_micros(5).unwrap());
        let sql = log_batch('?', &purge, None);
        assert!(sql.text.contains("e.namespace >= ?3"), "{}", sql.text);
        assert_eq!(sql.params[2], Param::Text("company.".into()));
    }
}
