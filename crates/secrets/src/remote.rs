//! Opening the remote backend `secret.type` names (each behind its cargo feature, all on by
//! default), and `secret.read-only` (with its filters) around whichever backend is
//! configured.

use std::sync::Arc;

#[cfg(feature = "remote")]
use crate::config::BackendKind;
use crate::config::SecretConfig;
use crate::read_only::ReadOnlyStore;
use crate::store::{SecretStore, StoreError};

/// The remote backend of `config` (`secret.type` other than jdbc and env).
pub fn open_remote(config: &SecretConfig) -> Result<Arc<dyn SecretStore>, StoreError> {
    match config.backend {
        #[cfg(feature = "aws")]
        BackendKind::AwsSecretManager => {
            let section = config.aws.clone().ok_or_else(|| StoreError::Backend {
                backend: "aws-secret-manager",
                message: "secret.aws-secret-manager was not validated".into(),
            })?;
            let store = crate::aws::AwsSecretStore::new(section)?;
            Ok(Arc::new(if config.read_only {
                store.reading_tagged_secrets()
            } else {
                store
            }))
        }
        #[cfg(feature = "vault")]
        BackendKind::Vault => {
            let section = config.vault.clone().ok_or_else(|| StoreError::Backend {
                backend: "vault",
                message: "secret.vault was not validated".into(),
            })?;
            let store = crate::vault::VaultSecretStore::new(section)?;
            Ok(Arc::new(if config.read_only {
                store.reading_shared_paths()
            } else {
                store
            }))
        }
        #[cfg(feature = "gcp")]
        BackendKind::GoogleSecretManager => {
            let section = config.gcp.clone().ok_or_else(|| StoreError::Backend {
                backend: "google-secret-manager",
                message: "secret.google-secret-manager was not validated".into(),
            })?;
            Ok(Arc::new(crate::gcp::GcpSecretStore::new(section)?))
        }
        #[cfg(feature = "azure")]
        BackendKind::AzureKeyVault => {
            let section = config.azure.clone().ok_or_else(|| StoreError::Backend {
                backend: "azure-key-vault",
                message: "secret.azure-key-vault was not validated".into(),
            })?;
            Ok(Arc::new(crate::azure::AzureSecretStore::new(section)?))
        }
        other => Err(StoreError::Backend {
            backend: other.as_str(),
            message: format!(
                "secret.type: the '{other}' backend is not available in this build of Saker"
            ),
        }),
    }
}

/// `backend`, read-only when `secret.read-only` is set, behind the section's
/// `filter-on-tags`/`filter-on-prefix` when set (`filter.rs`).
pub fn apply_read_only(
    config: &SecretConfig,
    backend: Arc<dyn SecretStore>,
) -> Arc<dyn SecretStore> {
    let backend = crate::filter::apply_filter(&config.filter, backend);
    if config.read_only {
        Arc::new(ReadOnlyStore::new(backend))
    } else {
        backend
    }
}
