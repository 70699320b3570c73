//! [`NamespaceBackendRows`] on PostgreSQL: table `namespace_backends` (migration 8).

use chrono::{DateTime, Utc};

use super::{PgStore, to_micros};
use crate::Result;
use crate::namespace_backends::NamespaceBackendRows;

impl NamespaceBackendRows for PgStore {
    fn namespace_backend(&self, tenant: &str, namespace: &str) -> Result<Option<Vec<u8>>> {
        self.read_tx(|tx| {
            tx.query_opt(
                "SELECT sealed FROM namespace_backends WHERE tenant = $1 AND namespace = $2",
                &[&tenant, &namespace],
            )?
            .map(|row| row.try_get(0).map_err(Into::into))
            .transpose()
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
            tx.execute(
                "INSERT INTO namespace_backends (tenant, namespace, sealed, updated_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant, namespace) \
                 DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
                &[&tenant, &namespace, &sealed, &to_micros(at)],
            )
            .map(drop)
        })
    }

    fn delete_namespace_backend(&self, tenant: &str, namespace: &str) -> Result<bool> {
        self.write_tx(|tx| {
            tx.execute(
                "DELETE FROM namespace_backends WHERE tenant = $1 AND namespace = $2",
                &[&tenant, &namespace],
            )
            .map(|removed| removed > 0)
        })
    }
}
