//! Reading a backend whole, for `saker secret migrate`: which (tenant, namespace) pairs hold
//! secrets, and each secret's current value in exactly its namespace (no inheritance, no
//! cache), audited as a read like any other.

use super::{SecretService, ServiceError};
use crate::audit::{Accessor, AuditAction, AuditOutcome};
use crate::metadata::SecretMetadata;
use crate::namespace::Namespace;
use crate::store::{Lookup, StoreError};
use crate::value::SecretValue;

impl SecretService {
    /// Every (tenant, namespace) holding at least one secret, sorted.
    pub fn namespaces(&self) -> Result<Vec<(String, Namespace)>, ServiceError> {
        self.store.namespaces()?.ok_or_else(|| {
            StoreError::Backend {
                backend: self.store.backend_name(),
                message: "this backend cannot enumerate its namespaces, so it cannot be \
                          the source of a migration"
                    .into(),
            }
            .into()
        })
    }

    /// The current value of `key` stored in exactly `namespace`, `None` when there is none
    /// to copy (absent, soft-deleted or revoked). Isolation applies and the read is audited,
    /// whatever its outcome.
    pub fn export(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        who: &Accessor,
    ) -> Result<Option<(SecretValue, SecretMetadata)>, ServiceError> {
        let audit = |outcome: AuditOutcome, detail: String| {
            self.record(
                tenant,
                Some(namespace),
                Some(key),
                AuditAction::Read,
                who,
                outcome,
                detail,
            )
            .map_err(|source| ServiceError::AuditRefused {
                action: AuditAction::Read,
                source,
            })
        };
        if let Err(denied) = self.isolation.check(self.service) {
            audit(AuditOutcome::Denied, denied.to_string())?;
            return Err(denied.into());
        }
        match self.store.get(tenant, namespace, key) {
            Ok(Lookup::Found { value, metadata }) => {
                audit(
                    AuditOutcome::Success,
                    format!("version {}, exported for migration", metadata.version),
                )?;
                Ok(Some((value, metadata)))
            }
            Ok(Lookup::Absent | Lookup::Revoked { .. }) => Ok(None),
            Err(err) => {
                audit(AuditOutcome::Failed, err.to_string())?;
                Err(err.into())
            }
        }
    }
}
