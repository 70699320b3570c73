//! How the engine reaches secrets: through a [`SecretSource`] supplied by whoever builds the
//! engine (the secret service, with its isolation checks, namespace inheritance, cache and
//! audit). The engine adds every value it resolves to the execution's mask set, and the raw
//! value to the process-wide set that masks Saker's own log.

use std::sync::{Arc, Mutex};

use saker_expr::{SecretLookupError, SecretResolver};
use zeroize::Zeroizing;

use crate::masks::{ExecutionMasks, MaskSource, process_masks};

/// Who asks for a secret, for isolation checks and the audit trail.
#[derive(Debug, Clone)]
pub struct SecretRequester {
    pub tenant_id: String,
    /// The namespace of the flow; `secret()` looks here, then in its parents.
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    pub task_run_id: Option<String>,
}

/// A secret value, and a warning for the execution log (such as an expiry coming soon).
pub struct ResolvedSecret {
    pub value: Zeroizing<String>,
    pub warning: Option<String>,
}

impl From<Zeroizing<String>> for ResolvedSecret {
    fn from(value: Zeroizing<String>) -> Self {
        Self {
            value,
            warning: None,
        }
    }
}

/// Resolves secrets for the engine.
pub trait SecretSource: Send + Sync {
    /// The value of `key` for `requester`; `namespace` is the one a template named
    /// explicitly with `secret(key, namespace=...)`. The error message is shown to users:
    /// it must name what is wrong, never hold a value.
    fn resolve(
        &self,
        requester: &SecretRequester,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<ResolvedSecret, String>;
}

/// The source used when no secret backend is configured.
#[derive(Debug, Default)]
pub struct NoSecrets;

impl SecretSource for NoSecrets {
    fn resolve(
        &self,
        _requester: &SecretRequester,
        key: &str,
        _namespace: Option<&str>,
    ) -> Result<ResolvedSecret, String> {
        Err(format!(
            "secret '{key}' cannot be resolved: no secret backend is configured"
        ))
    }
}

/// Adapts a [`SecretSource`] to the template engine for one task run, recording each value
/// it hands out in the execution's mask set before the template can use it.
pub(crate) struct TaskSecrets {
    pub source: Arc<dyn SecretSource>,
    pub requester: SecretRequester,
    pub masks: Arc<ExecutionMasks>,
    /// Warnings from resolutions, for the task's log.
    pub warnings: Mutex<Vec<String>>,
    /// The keys resolved since the last [`take_read_keys`](Self::take_read_keys), to name
    /// the secret behind a value that cannot be used (never the value).
    read: Mutex<Vec<String>>,
}

impl TaskSecrets {
    pub fn new(
        source: Arc<dyn SecretSource>,
        requester: SecretRequester,
        masks: Arc<ExecutionMasks>,
    ) -> Self {
        Self {
            source,
            requester,
            masks,
            warnings: Mutex::new(Vec::new()),
            read: Mutex::new(Vec::new()),
        }
    }

    /// The keys resolved since the last call, forgetting them.
    pub fn take_read_keys(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.read))
    }

    /// The keys resolved since the last [`take_read_keys`](Self::take_read_keys).
    pub fn read_keys(&self) -> Vec<String> {
        lock(&self.read).clone()
    }

    /// The warnings gathered since the last call.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.warnings))
    }
}

impl SecretResolver for TaskSecrets {
    fn resolve(
        &self,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, SecretLookupError> {
        // Saker's own log masks raw secrets resolved recently; the identity (never the
        // value) lets a rotated value replace the old one there, and a secret that no longer
        // resolves (deleted, revoked) leave it.
        let identity = format!(
            "{}/{}/{}/{key}",
            self.requester.tenant_id,
            self.requester.namespace,
            namespace.unwrap_or("")
        );
        let resolved = match self.source.resolve(&self.requester, key, namespace) {
            Ok(resolved) => resolved,
            Err(message) => {
                process_masks().forget(&identity);
                return Err(SecretLookupError { message });
            }
        };
        self.masks
            .add_source(MaskSource::Secret(key.to_owned()), &resolved.value);
        process_masks().remember(&identity, &resolved.value);
        let mut read = lock(&self.read);
        if !read.iter().any(|k| k == key) {
            read.push(key.to_owned());
        }
        drop(read);
        if let Some(warning) = resolved.warning {
            lock(&self.warnings).push(warning);
        }
        Ok(resolved.value)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
