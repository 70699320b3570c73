//! A dedicated backend per namespace (issue 15 item 4): a namespace, and its children, may
//! keep their secrets in an external system of their own instead of the instance's
//! `secret.type`. The configuration is the backend part of a `secret:` section
//! ([`NamespaceBackendConfig`]), sealed with the instance key under the tenant and namespace
//! before it is stored ([`saker_store::NamespaceBackendRows`]), shown only with its
//! credentials blanked, and used through [`NamespaceBackends`], the [`crate::SecretStore`]
//! that routes each call to the nearest configured namespace's backend. The secret service
//! sets, shows and removes configurations (`service/namespace_backend.rs`), audited.

use std::sync::Arc;

use saker_crypto::Keyring;
use saker_store::NamespaceBackendRows;

mod config;
mod routing;

pub use config::{BLANKED, NamespaceBackendConfig, is_credential_key};
pub use routing::NamespaceBackends;

/// Where namespace configurations are kept and the key that seals them: what both the
/// routing store and the service's set/show/remove need.
#[derive(Clone)]
pub struct BackendSettings {
    /// The sealed rows.
    pub rows: Arc<dyn NamespaceBackendRows>,
    /// The instance key (`encryption.secret-key`).
    pub keyring: Keyring,
}

/// Why a namespace's backend could not be set, shown or removed. Never holds a value.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceBackendError {
    /// This service was built without namespace backends.
    #[error(
        "namespace backends are not enabled in this process: it has no instance key to seal \
         their configuration"
    )]
    NotEnabled,
    /// The document is invalid: the key named and how to fix it.
    #[error("invalid secret-manager configuration: {0}")]
    Invalid(#[from] crate::config::ConfigError),
    /// The backend could not be opened from it.
    #[error("the secret-manager configuration cannot be used: {0}")]
    Unusable(crate::store::StoreError),
    /// The stored configuration could not be read or written.
    #[error("the namespace's secret-manager configuration could not be stored or read: {0}")]
    Storage(#[from] saker_store::StoreError),
    /// The stored configuration could not be opened.
    #[error(transparent)]
    Sealed(crate::store::StoreError),
    /// The change went through but the audit trail could not record it.
    #[error(
        "the namespace's secret-manager configuration was changed but could not be recorded \
         in the audit trail: {0}"
    )]
    AuditUnrecorded(saker_store::StoreError),
}
