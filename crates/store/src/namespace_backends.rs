//! Where a namespace's own secret backend configuration is kept (issue 15 item 4): one row
//! per (tenant, namespace) holding the configuration sealed by the secrets crate, behind the
//! object-safe, synchronous [`NamespaceBackendRows`] trait.
//!
//! The store knows no cryptography: `sealed` is an opaque envelope (the backend's
//! credentials are in it), never plaintext, and it is never logged.

use chrono::{DateTime, Utc};

use crate::Result;

/// The sealed backend configurations of namespaces.
pub trait NamespaceBackendRows: Send + Sync {
    /// The sealed configuration of exactly (`tenant`, `namespace`), if one is set.
    fn namespace_backend(&self, tenant: &str, namespace: &str) -> Result<Option<Vec<u8>>>;

    /// Sets (or replaces) the sealed configuration of (`tenant`, `namespace`).
    fn put_namespace_backend(
        &self,
        tenant: &str,
        namespace: &str,
        sealed: &[u8],
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// Removes it; `Ok(false)` when none was set.
    fn delete_namespace_backend(&self, tenant: &str, namespace: &str) -> Result<bool>;
}
