//! [`NamespaceBackends`]: the store the secret service sees when namespaces may have backends
//! of their own. Each call goes to the backend configured for the nearest namespace at or
//! above the one asked about, else to the instance's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{BackendSettings, NamespaceBackendConfig};
use crate::metadata::{MetadataUpdate, SecretMetadata, SecretVersion, SecretWrite};
use crate::namespace::Namespace;
use crate::store::{Capabilities, Lookup, RekeyReport, SecretStore, StoreError};
use chrono::{DateTime, Utc};

/// An opened namespace backend, with the sealed row it was opened from: a row that differs
/// (the configuration was set again) is opened anew. Keying by the sealed bytes keeps no
/// credential in the map's keys.
struct Opened {
    sealed: Vec<u8>,
    store: Arc<dyn SecretStore>,
}

/// Routes every call by (tenant, namespace) to the namespace's own backend or the global one.
pub struct NamespaceBackends {
    global: Arc<dyn SecretStore>,
    settings: BackendSettings,
    opened: Mutex<HashMap<(String, String), Opened>>,
}

impl NamespaceBackends {
    /// `global` for namespaces without a backend of their own; configurations read and
    /// opened through `settings`.
    pub fn new(global: Arc<dyn SecretStore>, settings: BackendSettings) -> Self {
        Self {
            global,
            settings,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The backend that serves `namespace` of `tenant`.
    pub fn backend_for(
        &self,
        tenant: &str,
        namespace: &Namespace,
    ) -> Result<Arc<dyn SecretStore>, StoreError> {
        for candidate in namespace.chain() {
            let sealed = self
                .settings
                .rows
                .namespace_backend(tenant, candidate.as_str())
                .map_err(|err| StoreError::Backend {
                    backend: "namespace-backend",
                    message: format!(
                        "could not read the backend configuration of namespace {candidate}: \
                         {err}"
                    ),
                })?;
            if let Some(sealed) = sealed {
                return self.open(tenant, &candidate, sealed);
            }
        }
        Ok(self.global.clone())
    }

    fn open(
        &self,
        tenant: &str,
        namespace: &Namespace,
        sealed: Vec<u8>,
    ) -> Result<Arc<dyn SecretStore>, StoreError> {
        let key = (tenant.to_owned(), namespace.as_str().to_owned());
        {
            let opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = opened.get(&key).filter(|found| found.sealed == sealed) {
                return Ok(found.store.clone());
            }
        }
        // Opened outside the lock: a remote backend may log in first.
        let store =
            NamespaceBackendConfig::open(&sealed, &self.settings.keyring, tenant, namespace)?
                .open_store()?;
        self.opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key,
                Opened {
                    sealed,
                    store: store.clone(),
                },
            );
        Ok(store)
    }
}

impl SecretStore for NamespaceBackends {
    fn backend_name(&self) -> &'static str {
        self.global.backend_name()
    }

    /// Every operation: which ones a call may use depends on the namespace it names, so each
    /// routed backend refuses what it does not support itself (a read-only namespace answers
    /// "read-only" from its own backend).
    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    /// The capabilities of the backend serving `namespace`; the instance's when its
    /// configuration cannot be read (the call itself will then say why).
    fn capabilities_at(&self, tenant: &str, namespace: &Namespace) -> Capabilities {
        self.backend_for(tenant, namespace)
            .map_or_else(|_| self.global.capabilities(), |b| b.capabilities())
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        self.backend_for(tenant, namespace)?
            .get(tenant, namespace, key)
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        self.backend_for(tenant, namespace)?
            .metadata(tenant, namespace, key)
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        self.backend_for(tenant, namespace)?.list(tenant, namespace)
    }

    fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let backend = self.backend_for(tenant, namespace)?;
        crate::store::ensure_supported(backend.as_ref(), crate::Operation::Put)?;
        backend.put(tenant, namespace, key, write)
    }

    fn delete(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let backend = self.backend_for(tenant, namespace)?;
        crate::store::ensure_supported(backend.as_ref(), crate::Operation::Delete)?;
        backend.delete(tenant, namespace, key)
    }

    fn restore(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<SecretMetadata, StoreError> {
        let backend = self.backend_for(tenant, namespace)?;
        crate::store::ensure_supported(backend.as_ref(), crate::Operation::Restore)?;
        backend.restore(tenant, namespace, key)
    }

    fn destroy(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let backend = self.backend_for(tenant, namespace)?;
        crate::store::ensure_supported(backend.as_ref(), crate::Operation::Destroy)?;
        backend.destroy(tenant, namespace, key)
    }

    fn revoke(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        reason: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        let backend = self.backend_for(tenant, namespace)?;
        crate::store::ensure_supported(backend.as_ref(), crate::Operation::Revoke)?;
        backend.revoke(tenant, namespace, key, reason)
    }

    fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, StoreError> {
        let backend = self.backend_for(tenant, namespace)?;
        crate::store::ensure_supported(backend.as_ref(), crate::Operation::Versions)?;
        backend.versions(tenant, namespace, key)
    }

    fn rollback(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
        created_by: Option<&str>,
    ) -> Result<SecretMetadata, StoreError> {
        let backend = self.backend_for(tenant, namespace)?;
        crate::store::ensure_supported(backend.as_ref(), crate::Operation::Rollback)?;
        backend.rollback(tenant, namespace, key, version, created_by)
    }

    fn update_metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        update: MetadataUpdate,
    ) -> Result<SecretMetadata, StoreError> {
        let backend = self.backend_for(tenant, namespace)?;
        crate::store::ensure_supported(backend.as_ref(), crate::Operation::UpdateMetadata)?;
        backend.update_metadata(tenant, namespace, key, update)
    }

    /// The instance's store only: namespace backends keep and encrypt their own values.
    fn rekey(&self, limit: Option<u64>) -> Result<RekeyReport, StoreError> {
        crate::store::ensure_supported(self.global.as_ref(), crate::Operation::Rekey)?;
        self.global.rekey(limit)
    }

    /// The instance's store only (what `saker secret migrate` copies).
    fn namespaces(&self) -> Result<Option<Vec<(String, Namespace)>>, StoreError> {
        self.global.namespaces()
    }

    fn record_read(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.backend_for(tenant, namespace)?
            .record_read(tenant, namespace, key, at)
    }
}
