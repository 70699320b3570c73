//! How SQLite runs the statements of a purge batch (the statements and the batch logic are in
//! `purge_sql`, shared with PostgreSQL). The space reclaiming between batches is in
//! `SqliteStore`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Transaction, params_from_iter};

use crate::Result;
use crate::purge_sql::{BatchTx, Param, Sql};

/// A purge batch's transaction.
pub(super) struct PurgeTx<'a, 'c>(pub(super) &'a Transaction<'c>);

fn values(sql: &Sql) -> impl Iterator<Item = SqlValue> + '_ {
    sql.params.iter().map(|param| match param {
        Param::Text(text) => SqlValue::Text(text.clone()),
        Param::Int(n) => SqlValue::Integer(*n),
        Param::Small(n) => SqlValue::Integer(i64::from(*n)),
    })
}

impl BatchTx for PurgeTx<'_, '_> {
    fn execution_rows(&mut self, sql: &Sql) -> Result<Vec<(i64, String, i64)>> {
        let mut stmt = self.0.prepare_cached(&sql.text)?;
        let rows = stmt
            .query_map(params_from_iter(values(sql)), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn seqs(&mut self, sql: &Sql) -> Result<Vec<i64>> {
        let mut stmt = self.0.prepare_cached(&sql.text)?;
        let seqs = stmt
            .query_map(params_from_iter(values(sql)), |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok(seqs)
    }

    // The two below have a shape per batch (the id list): not cached, so that the cache
    // keeps the statements that are run again and again.

    fn count(&mut self, sql: &Sql) -> Result<u64> {
        let n: i64 = self
            .0
            .prepare(&sql.text)?
            .query_row(params_from_iter(values(sql)), |row| row.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn execute(&mut self, sql: &Sql) -> Result<u64> {
        let changed = self
            .0
            .prepare(&sql.text)?
            .execute(params_from_iter(values(sql)))?;
        Ok(changed as u64)
    }

    fn sigil(&self) -> char {
        '?'
    }

    fn executions(&self) -> &'static str {
        // Without statistics the planner prefers the tenant or state index and then sorts
        // every row it finds, for every batch.
        "executions e INDEXED BY executions_by_end"
    }
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

    /// A batch must read rows in the order it takes them, from where the last one stopped:
    /// a plan that sorts would read every matching row for every batch of a large purge.
    #[test]
    fn batches_walk_an_index_in_order_without_sorting() {
        use crate::purge_sql::{self, BatchTx};
        use crate::{LogPurge, PurgeScope};
        use saker_model::execution::Level;
        let store = SqliteStore::open_in_memory().unwrap();
        let mut scope = PurgeScope::new("main");
        scope.namespace = Some("company".into());
        scope.flow_id = Some("f".into());
        let now = chrono::Utc::now();
        let purge = ExecutionPurge {
            states: vec![StateType::Success],
            ..ExecutionPurge::new(scope.clone(), now)
        };
        let logs = LogPurge {
            levels: vec![Level::Debug],
            ..LogPurge::new(scope, now)
        };
        let conn = store.writer();
        let tx = conn.unchecked_transaction().unwrap();
        let batch = super::PurgeTx(&tx);
        let plan = |sql: &purge_sql::Sql| -> String {
            let mut stmt = tx
                .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
                .unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(super::values(sql)), |row| {
                    row.get::<_, String>(3)
                })
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let executions = plan(&purge_sql::execution_batch(
            '?',
            batch.executions(),
            &purge,
            Some((1, 2)),
        ));
        assert!(executions.contains("executions_by_end"), "{executions}");
        assert!(!executions.contains("TEMP B-TREE"), "{executions}");
        let lines = plan(&purge_sql::log_batch('?', &logs, Some(7)));
        assert!(
            lines.starts_with("SEARCH l USING INTEGER PRIMARY KEY"),
            "{lines}"
        );
        assert!(!lines.contains("TEMP B-TREE"), "{lines}");
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
