//! `secret.read-only: true`: the external system is the source of truth. The configured
//! backend is wrapped so that its capabilities lose every write and each write answers a
//! "read-only" error naming the backend and the setting; reads go through unchanged.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::metadata::SecretMetadata;
use crate::namespace::Namespace;
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};

/// A backend with its writes refused.
pub struct ReadOnlyStore {
    inner: Arc<dyn SecretStore>,
}

impl ReadOnlyStore {
    /// `inner`, read-only.
    pub fn new(inner: Arc<dyn SecretStore>) -> Self {
        Self { inner }
    }
}

impl SecretStore for ReadOnlyStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        Operation::ALL
            .into_iter()
            .filter(|op| !op.is_write() && inner.supports(*op))
            .fold(Capabilities::NONE, Capabilities::with)
    }

    fn refusal(&self, operation: Operation) -> StoreError {
        if operation.is_write() {
            StoreError::ReadOnly {
                backend: self.inner.backend_name(),
                hint: "secret.read-only is true, so the external system is the source of \
                       truth: change the value there",
            }
        } else {
            self.inner.refusal(operation)
        }
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        self.inner.get(tenant, namespace, key)
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        self.inner.metadata(tenant, namespace, key)
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        self.inner.list(tenant, namespace)
    }

    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<crate::SecretVersion>, StoreError> {
        self.inner.versions(tenant, namespace, key)
    }

    fn namespaces(&self) -> Result<Option<Vec<(String, Namespace)>>, StoreError> {
        self.inner.namespaces()
    }

    fn record_read(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.record_read(tenant, namespace, key, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EnvSecretStore, SecretValue, SecretWrite};

    #[test]
    fn writes_answer_read_only_and_reads_pass() {
        let env = EnvSecretStore::from_vars([(
            std::ffi::OsString::from("SECRET_K"),
            std::ffi::OsString::from("dmFsdWU="),
        )]);
        let store = ReadOnlyStore::new(Arc::new(env));
        assert!(store.capabilities().is_read_only());
        let ns = Namespace::parse("company").unwrap();
        assert!(matches!(
            store.get("main", &ns, "K").unwrap(),
            Lookup::Found { .. }
        ));
        let err = store
            .put("main", &ns, "K", SecretWrite::new(SecretValue::new("x")))
            .unwrap_err();
        // The service refuses before calling put, through `refusal`:
        let refusal = store.refusal(Operation::Put).to_string();
        assert!(refusal.contains("read-only"), "{refusal}");
        assert!(refusal.contains("secret.read-only"), "{refusal}");
        assert!(err.to_string().contains("read-only"), "{err}");
    }
}
