//! [`NamespaceBackendRows`] on SQLite: table `namespace_backends` (migration 8).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replace_read_and_remove() {
        let store = SqliteStore::open_in_memory().unwrap();
        assert_eq!(store.namespace_backend("main", "company").unwrap(), None);
        store
            .put_namespace_backend("main", "company", b"one", Utc::now())
            .unwrap();
        store
            .put_namespace_backend("main", "company", b"two", Utc::now())
            .unwrap();
        assert_eq!(
            store.namespace_backend("main", "company").unwrap(),
            Some(b"two".to_vec())
        );
        assert_eq!(store.namespace_backend("other", "company").unwrap(), None);
        assert!(store.delete_namespace_backend("main", "company").unwrap());
        assert!(!store.delete_namespace_backend("main", "company").unwrap());
        assert_eq!(store.namespace_backend("main", "company").unwrap(), None);
    }
}
