//! Resolution of one `secret('X')` call against a store along a namespace chain, applying
//! the lifecycle: the lowest namespace holding the key wins, a revoked or expired secret
//! there is an error (it does not fall back to the parent), and nothing found is an error,
//! never a null. Isolation, cache and audit wrap this in the service.

use chrono::{DateTime, Utc};

use crate::metadata::SecretMetadata;
use crate::namespace::{AccessDenied, Namespace, SecretNotFound};
use crate::store::{Lookup, SecretStore, StoreError};
use crate::value::SecretValue;

/// A resolved secret.
#[derive(Debug)]
pub struct Resolved {
    /// The value.
    pub value: SecretValue,
    /// The namespace of the chain where it was found.
    pub namespace: Namespace,
    /// Its metadata.
    pub metadata: SecretMetadata,
}

/// Why a secret did not resolve. No variant holds a value.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// In no namespace of the chain.
    #[error(transparent)]
    NotFound(#[from] SecretNotFound),
    /// The flow named a namespace it may not read.
    #[error(transparent)]
    Denied(#[from] AccessDenied),
    /// Found, but revoked.
    #[error("secret '{key}' in {namespace} is revoked: set a new value to use it again")]
    Revoked {
        /// Key.
        key: String,
        /// Namespace holding the revoked secret.
        namespace: Namespace,
    },
    /// Found, but past its `expires-at`.
    #[error(
        "secret '{key}' in {namespace} expired at {expired_at}: set a new value or a later \
         expiry"
    )]
    Expired {
        /// Key.
        key: String,
        /// Namespace holding it.
        namespace: Namespace,
        /// Its expiry.
        expired_at: DateTime<Utc>,
    },
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Looks `key` up in each namespace of `chain` in order (build the chain with
/// [`crate::NamespaceAccess::lookup_chain`]) and applies the lifecycle at the first hit.
pub fn resolve(
    store: &dyn SecretStore,
    tenant: &str,
    chain: &[Namespace],
    key: &str,
    now: DateTime<Utc>,
) -> Result<Resolved, ResolveError> {
    crate::namespace::check_secret_key(key).map_err(StoreError::from)?;
    for namespace in chain {
        match store.get(tenant, namespace, key)? {
            Lookup::Absent => continue,
            Lookup::Revoked { .. } => {
                return Err(ResolveError::Revoked {
                    key: key.to_owned(),
                    namespace: namespace.clone(),
                });
            }
            Lookup::Found { value, metadata } => {
                if let Some(expired_at) = metadata.expires_at.filter(|_| metadata.is_expired(now)) {
                    return Err(ResolveError::Expired {
                        key: key.to_owned(),
                        namespace: namespace.clone(),
                        expired_at,
                    });
                }
                return Ok(Resolved {
                    value,
                    namespace: namespace.clone(),
                    metadata,
                });
            }
        }
    }
    Err(SecretNotFound {
        key: key.to_owned(),
        searched: chain.to_vec(),
    }
    .into())
}
