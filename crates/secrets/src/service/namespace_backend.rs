//! Setting, showing and removing a namespace's own backend through the service: validated,
//! sealed, audited (`write` / `delete` events with no key and a detail naming the backend),
//! and the resolution cache emptied, since any value below that namespace may now come from
//! elsewhere.

use std::sync::Arc;

use serde_json::Value;

use super::SecretService;
use crate::audit::{Accessor, AuditAction, AuditOutcome};
use crate::namespace::Namespace;
use crate::namespace_backend::{
    BackendSettings, NamespaceBackendConfig, NamespaceBackendError, NamespaceBackends,
};

impl SecretService {
    /// The same service where namespaces may have backends of their own, kept in `settings`:
    /// calls about a namespace go to the nearest configured one at or above it, else to this
    /// service's backend. Call it once per service.
    pub fn with_namespace_backends(mut self, settings: BackendSettings) -> Self {
        self.store = Arc::new(NamespaceBackends::new(self.store, settings.clone()));
        self.namespace_backends = Some(settings);
        self
    }

    fn backend_settings(&self) -> Result<&BackendSettings, NamespaceBackendError> {
        self.namespace_backends
            .as_ref()
            .ok_or(NamespaceBackendError::NotEnabled)
    }

    /// Validates `document` (`{"type": "vault", "vault": {...}}`), checks the backend opens,
    /// and makes it `namespace`'s backend. Answers the document with credentials blanked.
    pub fn set_namespace_backend(
        &self,
        tenant: &str,
        namespace: &Namespace,
        document: Value,
        who: &Accessor,
    ) -> Result<Value, NamespaceBackendError> {
        let settings = self.backend_settings()?;
        let config = NamespaceBackendConfig::parse(document)?;
        config
            .open_store()
            .map_err(NamespaceBackendError::Unusable)?;
        let sealed = config.seal(&settings.keyring, tenant, namespace);
        settings
            .rows
            .put_namespace_backend(tenant, namespace.as_str(), &sealed, self.now())?;
        self.backend_changed();
        let detail = format!(
            "secret-manager set: {}{}",
            config.backend(),
            if config.read_only() {
                ", read-only"
            } else {
                ""
            }
        );
        self.record(
            tenant,
            Some(namespace),
            None,
            AuditAction::Write,
            who,
            AuditOutcome::Success,
            detail,
        )
        .map_err(NamespaceBackendError::AuditUnrecorded)?;
        Ok(config.redacted())
    }

    /// `namespace`'s own backend configuration (not an inherited one), credentials blanked.
    pub fn namespace_backend(
        &self,
        tenant: &str,
        namespace: &Namespace,
    ) -> Result<Option<Value>, NamespaceBackendError> {
        let settings = self.backend_settings()?;
        let Some(sealed) = settings
            .rows
            .namespace_backend(tenant, namespace.as_str())?
        else {
            return Ok(None);
        };
        let config = NamespaceBackendConfig::open(&sealed, &settings.keyring, tenant, namespace)
            .map_err(NamespaceBackendError::Sealed)?;
        Ok(Some(config.redacted()))
    }

    /// Removes `namespace`'s own backend: it falls back to its parents' or the instance's.
    /// `Ok(false)` when it had none.
    pub fn remove_namespace_backend(
        &self,
        tenant: &str,
        namespace: &Namespace,
        who: &Accessor,
    ) -> Result<bool, NamespaceBackendError> {
        let settings = self.backend_settings()?;
        let removed = settings
            .rows
            .delete_namespace_backend(tenant, namespace.as_str())?;
        if removed {
            self.backend_changed();
            self.record(
                tenant,
                Some(namespace),
                None,
                AuditAction::Delete,
                who,
                AuditOutcome::Success,
                "secret-manager removed".to_owned(),
            )
            .map_err(NamespaceBackendError::AuditUnrecorded)?;
        }
        Ok(removed)
    }

    fn backend_changed(&self) {
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }
}
