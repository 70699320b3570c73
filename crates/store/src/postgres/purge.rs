//! How PostgreSQL runs the statements of a purge batch (the statements and the batch logic
//! are in `purge_sql`, shared with SQLite). PostgreSQL's autovacuum reuses the freed space.

use postgres::types::ToSql;

use super::Tx;
use crate::Result;
use crate::purge_sql::{BatchTx, Param, Sql};

/// A purge batch's transaction.
pub(super) struct PurgeTx<'a, 'c>(pub(super) &'a mut Tx<'c>);

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

impl BatchTx for PurgeTx<'_, '_> {
    fn execution_rows(&mut self, sql: &Sql) -> Result<Vec<(i64, String, i64)>> {
        let rows = self.0.query(&sql.text, &values(sql))?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect()
    }

    fn seqs(&mut self, sql: &Sql) -> Result<Vec<i64>> {
        let rows = self.0.query(&sql.text, &values(sql))?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    fn count(&mut self, sql: &Sql) -> Result<u64> {
        let n: i64 = self.0.query_one(&sql.text, &values(sql))?.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn execute(&mut self, sql: &Sql) -> Result<u64> {
        self.0.execute(&sql.text, &values(sql))
    }

    fn sigil(&self) -> char {
        '$'
    }

    fn executions(&self) -> &'static str {
        "executions e"
    }
}
