//! The engine's [`SecretSource`] over the secret service: every `secret()` of a flow goes
//! through isolation, namespace inheritance, the cache and the audit trail, as the given
//! service (WORKER for tasks).

use saker_engine::{ResolvedSecret, SecretRequester, SecretSource};
use saker_secrets::{Accessor, Namespace, SecretService};
use zeroize::Zeroizing;

/// Resolves flow secrets through a [`SecretService`].
pub struct ServiceSecrets {
    pub service: SecretService,
}

impl SecretSource for ServiceSecrets {
    fn resolve(
        &self,
        requester: &SecretRequester,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<ResolvedSecret, String> {
        let flow_namespace = Namespace::parse(&requester.namespace).map_err(|e| e.to_string())?;
        let requested = namespace
            .map(Namespace::parse)
            .transpose()
            .map_err(|e| format!("secret('{key}', namespace=...): {e}"))?;
        let who = Accessor::execution(
            requester.flow_id.clone(),
            requester.execution_id.clone(),
            requester.task_run_id.clone(),
        );
        let resolution = self
            .service
            .resolve(
                &requester.tenant_id,
                &flow_namespace,
                key,
                requested.as_ref(),
                &who,
            )
            .map_err(|e| e.to_string())?;
        Ok(ResolvedSecret {
            value: Zeroizing::new(resolution.value.expose().to_owned()),
            warning: resolution.warning.map(|w| w.to_string()),
        })
    }
}
