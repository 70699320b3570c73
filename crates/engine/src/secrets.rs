//! How the engine reaches secrets: through a [`SecretSource`] supplied by whoever builds the
//! engine (the secret service, with its isolation checks, namespace inheritance, cache and
//! audit). The engine adds every value it resolves to the execution's mask set.

use std::sync::Arc;

use saker_expr::{SecretLookupError, SecretResolver};
use zeroize::Zeroizing;

use crate::masks::ExecutionMasks;

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

/// Resolves secrets for the engine.
pub trait SecretSource: Send + Sync {
    /// The value of `key` for `requester`; `namespace` is the one a template named
    /// explicitly with `secret(key, namespace=...)`.
    fn resolve(
        &self,
        requester: &SecretRequester,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, String>;
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
    ) -> Result<Zeroizing<String>, String> {
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
}

impl SecretResolver for TaskSecrets {
    fn resolve(
        &self,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, SecretLookupError> {
        let value = self
            .source
            .resolve(&self.requester, key, namespace)
            .map_err(|message| SecretLookupError { message })?;
        self.masks.add([value.as_str()]);
        Ok(value)
    }
}
