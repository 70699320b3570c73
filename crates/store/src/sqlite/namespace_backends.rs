//! [`NamespaceBackendRows`] on SQLite: table `namespace_backends` (migration 8). Tested with
//! PostgreSQL's by the shared contract (`tests/common/contract/namespace_backends.rs`).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, to_micros};
use crate::Result;
use crate::namespace_backends::NamespaceBackendRows;

impl NamespaceBackendRows for SqliteStore {
    fn namespace_backend(&self, tenant: &str, namespace: &str) -> Result<Option<Vec<u8>>> {
        self.read_tx(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT sealed FROM namespace_backends WHERE tenant = ?1 AND namespace = ?2",
                )?
                .query_row(params![tenant, namespace], |row| row.get(0))
                .optional()?)
        })
    }

    fn put_namespace_backend(
        &self,
        tenant: &str,
        namespace: &str,
        sealed: &[u8],
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.write_tx(|tx| {
            tx.prepare_cached(
                "INSERT INTO namespace_backends (tenant, namespace, sealed, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, namespace)
                 DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
            )?
            .execute(params![tenant, namespace, sealed, to_micros(at)])?;
            Ok(())
        })
    }

    fn delete_namespace_backend(&self, tenant: &str, namespace: &str) -> Result<bool> {
        self.write_tx(|tx| {
            let removed = tx
                .prepare_cached(
                    "DELETE FROM namespace_backends WHERE tenant = ?1 AND namespace = ?2",
                )?
                .execute(params![tenant, namespace])?;
            Ok(removed > 0)
        })
    }
}
