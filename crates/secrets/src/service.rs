//! The secret service: the one door every caller (worker, executor, API, CLI) goes through.
//!
//! In front of one backend ([`SecretStore`]) it adds, in this order: isolation (the caller's
//! [`Service`] must be allowed to resolve secrets), the namespace rule and inheritance
//! ([`NamespaceAccess`], [`crate::resolve()`]), the cache ([`crate::cache`]; within this process
//! writes invalidate at once, across processes staleness is bounded by
//! `secret.cache.expire-after-write`), default tags (`secret.<type>.tags`) and the audit hook:
//! every read, write, generate, metadata change, delete, restore, destroy, revoke, rollback and
//! rekey, whether it succeeded, was denied or failed, appends one event to the [`AuditLog`]
//! before the caller gets its answer. Never a value: events hold names, versions and error
//! messages, which by this crate's rules never contain values. If the event cannot be written,
//! a read is refused (fail closed) and a change reports that it went unrecorded.
//!
//! Listing, metadata and version lists are not audited: they never touch a value.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use saker_store::AuditLog;

use crate::audit::{Accessor, AuditAction, AuditOutcome, event};
use crate::cache::{LookupCache, ThroughCache};
use crate::config::SecretConfig;
use crate::generate::{BadLength, Charset, generate_value};
use crate::isolation::{IsolationConfig, IsolationDenied, Service};
use crate::metadata::{MetadataUpdate, SecretMetadata, SecretWrite};
use crate::namespace::{Namespace, NamespaceAccess};
use crate::resolve::{ResolveError, resolve};
use crate::store::{
    Capabilities, Operation, RekeyReport, SecretStore, StoreError, ensure_supported,
};
use crate::value::SecretValue;

mod export;
mod namespace_backend;
mod tags;
mod view;

pub use view::VisibleSecret;

/// Where the service reads the time (tests pin it).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A resolved secret, and a warning for the execution log if it expires soon.
#[derive(Debug)]
pub struct Resolution {
    /// The value.
    pub value: SecretValue,
    /// The namespace of the chain where it was found.
    pub namespace: Namespace,
    /// Its metadata.
    pub metadata: SecretMetadata,
    /// Set when `expires-at` falls within `secret.expiry-warning`.
    pub warning: Option<ExpiryWarning>,
}

/// A secret that will expire within the configured window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "secret '{key}' in {namespace} expires at {expires_at} (within secret.expiry-warning): \
     set a new value or a later expiry before then"
)]
pub struct ExpiryWarning {
    /// Key.
    pub key: String,
    /// Namespace holding it.
    pub namespace: Namespace,
    /// Its expiry.
    pub expires_at: DateTime<Utc>,
}

/// What `generate` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSpec {
    /// Number of characters.
    pub length: usize,
    /// Which characters.
    pub charset: Charset,
    /// Metadata to set with it.
    pub update: MetadataUpdate,
}

/// Why a service call failed. No variant holds a value.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The calling service may not resolve secrets.
    #[error(transparent)]
    Isolation(#[from] IsolationDenied),
    /// Resolution failed (not found, revoked, expired, another namespace denied...).
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The backend refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A generated value of an impossible length was asked for.
    #[error(transparent)]
    Generate(#[from] BadLength),
    /// A read was refused because its audit event could not be written.
    #[error("the secret {action} was refused because the audit trail cannot be written: {source}")]
    AuditRefused {
        /// The attempted action.
        action: AuditAction,
        /// Why the trail could not be written.
        #[source]
        source: saker_store::StoreError,
    },
    /// A change went through but its audit event could not be written.
    #[error(
        "the secret {action} was carried out but could not be recorded in the audit trail: \
         {source}"
    )]
    AuditUnrecorded {
        /// The action.
        action: AuditAction,
        /// Why the trail could not be written.
        #[source]
        source: saker_store::StoreError,
    },
}

impl ServiceError {
    /// True for a refusal by isolation or by the namespace rule.
    pub fn is_denied(&self) -> bool {
        matches!(
            self,
            ServiceError::Isolation(_) | ServiceError::Resolve(ResolveError::Denied(_))
        )
    }
}

/// The secret service of one process and one role. Cloning shares the backend, the cache and
/// the audit trail.
#[derive(Clone)]
pub struct SecretService {
    store: Arc<dyn SecretStore>,
    audit: Arc<dyn AuditLog>,
    service: Service,
    isolation: IsolationConfig,
    access: NamespaceAccess,
    default_tags: BTreeMap<String, String>,
    expiry_warning: Duration,
    cache: Option<LookupCache>,
    clock: Clock,
    /// Set when namespaces may have backends of their own (`service/namespace_backend.rs`).
    namespace_backends: Option<crate::namespace_backend::BackendSettings>,
}

impl fmt::Debug for SecretService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretService")
            .field("backend", &self.store.backend_name())
            .field("service", &self.service)
            .field("isolation", &self.isolation)
            .field("cache", &self.cache.is_some())
            .finish()
    }
}

impl SecretService {
    /// The service of role `service` over `store`, configured by `config` (isolation,
    /// namespace grants, cache, default tags, expiry warning), auditing into `audit`.
    pub fn new(
        store: Arc<dyn SecretStore>,
        audit: Arc<dyn AuditLog>,
        config: &SecretConfig,
        service: Service,
    ) -> Self {
        Self {
            store,
            audit,
            service,
            isolation: config.isolation.clone(),
            access: config.namespace_access(),
            default_tags: config.tags.clone(),
            expiry_warning: config.expiry_warning,
            cache: LookupCache::new(&config.cache),
            clock: Arc::new(Utc::now),
            namespace_backends: None,
        }
    }

    /// The same service reading the time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The same backend, cache and trail for another role (the engine's worker and executor
    /// share one process).
    pub fn for_service(&self, service: Service) -> Self {
        Self {
            service,
            ..self.clone()
        }
    }

    /// The role this service acts as.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The backend's name (`jdbc`, `env`).
    pub fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }

    /// What the backend supports.
    pub fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }

    /// The current time, as this service sees it.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The audit trail this service appends to.
    pub fn audit_log(&self) -> &Arc<dyn AuditLog> {
        &self.audit
    }

    /// Resolves `secret(key)` for a flow in `namespace`, or `secret(key, namespace=requested)`:
    /// isolation, then the namespace rule, then the nearest namespace holding the key. Audited
    /// whatever the outcome.
    pub fn resolve(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        requested: Option<&Namespace>,
        who: &Accessor,
    ) -> Result<Resolution, ServiceError> {
        let now = self.now();
        let asked = requested.unwrap_or(namespace);
        let audit = |at: &Namespace, outcome: AuditOutcome, detail: String| {
            self.record(
                tenant,
                Some(at),
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
            audit(asked, AuditOutcome::Denied, denied.to_string())?;
            return Err(denied.into());
        }
        let chain = match self.access.lookup_chain(namespace, requested) {
            Ok(chain) => chain,
            Err(denied) => {
                audit(asked, AuditOutcome::Denied, denied.to_string())?;
                return Err(ResolveError::Denied(denied).into());
            }
        };
        let view = ThroughCache {
            store: self.store.as_ref(),
            cache: self.cache.as_ref(),
        };
        let found = match resolve(&view, tenant, &chain, key, now) {
            Ok(found) => found,
            Err(err) => {
                let at = match &err {
                    ResolveError::Revoked { namespace, .. }
                    | ResolveError::Expired { namespace, .. } => namespace,
                    _ => asked,
                };
                audit(at, AuditOutcome::Failed, err.to_string())?;
                return Err(err.into());
            }
        };
        let mut detail = format!("version {}", found.metadata.version);
        if &found.namespace != namespace {
            detail.push_str(&format!(", for a flow in {namespace}"));
        }
        audit(&found.namespace, AuditOutcome::Success, detail)?;
        // Best effort: `last_read_at` is informative, and the read itself is audited.
        let _ = self.store.record_read(tenant, &found.namespace, key, now);
        let warning = found
            .metadata
            .expires_within(now, self.expiry_warning)
            .then(|| ExpiryWarning {
                key: key.to_owned(),
                namespace: found.namespace.clone(),
                expires_at: found.metadata.expires_at.unwrap_or(now),
            });
        Ok(Resolution {
            value: found.value,
            namespace: found.namespace,
            metadata: found.metadata,
            warning,
        })
    }

    /// Writes a new version. Every write carries the default tags: tags given replace the
    /// old ones, merged over the defaults; without tags, a secret keeps its own and gains
    /// the defaults it lacks.
    pub fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        mut write: SecretWrite,
        who: &Accessor,
    ) -> Result<SecretMetadata, ServiceError> {
        self.prepare_write(tenant, namespace, key, &mut write, who);
        self.act(tenant, namespace, key, AuditAction::Write, who, |store| {
            store.put(tenant, namespace, key, write)
        })
    }

    /// Writes a random value as a new version without ever returning it.
    pub fn generate(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        spec: GenerateSpec,
        who: &Accessor,
    ) -> Result<SecretMetadata, ServiceError> {
        let value = generate_value(spec.length, spec.charset)?;
        let mut write = SecretWrite::new(value);
        write.update = spec.update;
        self.prepare_write(tenant, namespace, key, &mut write, who);
        self.act(
            tenant,
            namespace,
            key,
            AuditAction::Generate,
            who,
            |store| store.put(tenant, namespace, key, write),
        )
    }

    /// Changes description, tags, expiry or rotation period.
    pub fn update_metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        mut update: MetadataUpdate,
        who: &Accessor,
    ) -> Result<SecretMetadata, ServiceError> {
        if let Some(tags) = update.tags.take() {
            update.tags = Some(self.merged_tags(tags));
        }
        self.act(
            tenant,
            namespace,
            key,
            AuditAction::UpdateMetadata,
            who,
            |store| store.update_metadata(tenant, namespace, key, update),
        )
    }

    /// Soft-deletes; `false` if there was nothing to delete.
    pub fn delete(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        who: &Accessor,
    ) -> Result<bool, ServiceError> {
        self.act(tenant, namespace, key, AuditAction::Delete, who, |store| {
            store.delete(tenant, namespace, key)
        })
    }

    /// Undoes a soft delete.
    pub fn restore(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        who: &Accessor,
    ) -> Result<SecretMetadata, ServiceError> {
        self.act(tenant, namespace, key, AuditAction::Restore, who, |store| {
            store.restore(tenant, namespace, key)
        })
    }

    /// Erases every version for good; `false` if there was nothing to erase.
    pub fn destroy(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        who: &Accessor,
    ) -> Result<bool, ServiceError> {
        self.act(tenant, namespace, key, AuditAction::Destroy, who, |store| {
            store.destroy(tenant, namespace, key)
        })
    }

    /// Revokes: resolution then fails with "revoked" until a new value is set.
    pub fn revoke(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        reason: Option<&str>,
        who: &Accessor,
    ) -> Result<SecretMetadata, ServiceError> {
        self.act(tenant, namespace, key, AuditAction::Revoke, who, |store| {
            store.revoke(tenant, namespace, key, reason)
        })
    }

    /// Writes `version`'s value again as a new version, written by `who` (its `createdBy`).
    pub fn rollback(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        version: u64,
        who: &Accessor,
    ) -> Result<SecretMetadata, ServiceError> {
        self.act(
            tenant,
            namespace,
            key,
            AuditAction::Rollback,
            who,
            |store| {
                let author = (!who.actor.is_empty()).then_some(who.actor.as_str());
                store.rollback(tenant, namespace, key, version, author)
            },
        )
    }

    /// Re-encrypts every value under the backend's primary key (at most `limit`).
    pub fn rekey(&self, limit: Option<u64>, who: &Accessor) -> Result<RekeyReport, ServiceError> {
        let result = ensure_supported(self.store.as_ref(), Operation::Rekey)
            .and_then(|()| self.store.rekey(limit));
        let (outcome, detail) = match &result {
            Ok(report) => (
                if report.failed.is_empty() {
                    AuditOutcome::Success
                } else {
                    AuditOutcome::Failed
                },
                format!(
                    "resealed {}, already current {}, changed concurrently {}, failed {}{}",
                    report.resealed,
                    report.already_current,
                    report.changed_concurrently,
                    report.failed.len(),
                    if report.stopped_early {
                        ", stopped at its limit"
                    } else {
                        ""
                    }
                ),
            ),
            Err(err) => (AuditOutcome::Failed, err.to_string()),
        };
        self.record("*", None, None, AuditAction::Rekey, who, outcome, detail)
            .map_err(|source| ServiceError::AuditUnrecorded {
                action: AuditAction::Rekey,
                source,
            })?;
        Ok(result?)
    }

    /// Runs one change (refused unless the backend supports it), invalidates the cache and
    /// audits the outcome.
    fn act<T: Described>(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        action: AuditAction,
        who: &Accessor,
        op: impl FnOnce(&dyn SecretStore) -> Result<T, StoreError>,
    ) -> Result<T, ServiceError> {
        let store = self.store.as_ref();
        let result = ensure_supported(store, operation_of(action)).and_then(|()| op(store));
        if let Some(cache) = &self.cache {
            cache.invalidate(tenant, namespace, key);
        }
        let (outcome, detail) = match &result {
            Ok(value) => (AuditOutcome::Success, value.describe()),
            Err(err) => (AuditOutcome::Failed, err.to_string()),
        };
        self.record(
            tenant,
            Some(namespace),
            Some(key),
            action,
            who,
            outcome,
            detail,
        )
        .map_err(|source| ServiceError::AuditUnrecorded { action, source })?;
        Ok(result?)
    }

    /// Records an attempt refused before it reached the service (by the API's role
    /// bindings): a denied `action` by `who`, `reason` saying what was not granted. Never
    /// holds a value: there is none.
    pub fn record_denied(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: Option<&str>,
        action: AuditAction,
        who: &Accessor,
        reason: &str,
    ) -> Result<(), ServiceError> {
        self.record(
            tenant,
            Some(namespace),
            key,
            action,
            who,
            AuditOutcome::Denied,
            reason.to_owned(),
        )
        .map_err(|source| ServiceError::AuditRefused { action, source })
    }

    #[allow(clippy::too_many_arguments)] // one per event field the caller decides
    fn record(
        &self,
        tenant: &str,
        namespace: Option<&Namespace>,
        key: Option<&str>,
        action: AuditAction,
        who: &Accessor,
        outcome: AuditOutcome,
        detail: String,
    ) -> Result<(), saker_store::StoreError> {
        let event = event(
            self.now(),
            tenant,
            namespace.map(Namespace::as_str),
            key,
            action,
            who,
            self.service,
            outcome,
            (!detail.is_empty()).then_some(detail),
        );
        self.audit.append_audit(&event).map(|_| ())
    }
}

/// The audit detail of a successful change.
trait Described {
    fn describe(&self) -> String;
}

impl Described for SecretMetadata {
    fn describe(&self) -> String {
        format!("version {}", self.version)
    }
}

impl Described for bool {
    fn describe(&self) -> String {
        if *self {
            String::new()
        } else {
            "nothing to do".to_owned()
        }
    }
}

/// The backend operation an audited action needs.
fn operation_of(action: AuditAction) -> Operation {
    match action {
        AuditAction::Read => Operation::Get,
        AuditAction::Write | AuditAction::Generate => Operation::Put,
        AuditAction::UpdateMetadata => Operation::UpdateMetadata,
        AuditAction::Delete => Operation::Delete,
        AuditAction::Restore => Operation::Restore,
        AuditAction::Destroy => Operation::Destroy,
        AuditAction::Revoke => Operation::Revoke,
        AuditAction::Rollback => Operation::Rollback,
        AuditAction::Rekey => Operation::Rekey,
    }
}
