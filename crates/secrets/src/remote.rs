//! Opening the remote backend `secret.type` names (each behind its cargo feature, all on by
//! default), and `secret.read-only` around whichever backend is configured.

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
            Ok(Arc::new(crate::aws::AwsSecretStore::new(section)?))
        }
        #[cfg(feature = "vault")]
        BackendKind::Vault => {
            let section = config.vault.clone().ok_or_else(|| StoreError::Backend {
                backend: "vault",
                message: "secret.vault was not validated".into(),
            })?;
            Ok(Arc::new(crate::vault::VaultSecretStore::new(section)?))
        }
        #[cfg(feature = "elasticsearch")]
        BackendKind::Elasticsearch => {
            let section = config
                .elasticsearch
                .clone()
                .ok_or_else(|| StoreError::Backend {
                    backend: "elasticsearch",
                    message: "secret.elasticsearch was not validated".into(),
                })?;
            Ok(Arc::new(
                crate::elasticsearch::ElasticsearchSecretStore::new(section)?,
            ))
        }
        #[cfg(feature = "onepassword")]
        BackendKind::OnePassword => {
            let section = config
                .onepassword
                .clone()
                .ok_or_else(|| StoreError::Backend {
                    backend: "1password",
                    message: "secret.1password was not validated".into(),
                })?;
            Ok(Arc::new(crate::onepassword::OnePasswordSecretStore::new(
                section,
            )?))
        }
        #[cfg(feature = "doppler")]
        BackendKind::Doppler => {
            let section = config.doppler.clone().ok_or_else(|| StoreError::Backend {
                backend: "doppler",
                message: "secret.doppler was not validated".into(),
            })?;
            Ok(Arc::new(crate::doppler::DopplerSecretStore::new(section)?))
        }
        other => Err(StoreError::Backend {
            backend: other.as_str(),
            message: format!(
                "secret.type: the '{other}' backend is not available in this build of Saker"
            ),
        }),
    }
}

/// `backend`, read-only when `secret.read-only` is set.
pub fn apply_read_only(
    config: &SecretConfig,
    backend: Arc<dyn SecretStore>,
) -> Arc<dyn SecretStore> {
    if config.read_only {
        Arc::new(ReadOnlyStore::new(backend))
    } else {
        backend
    }
}
