//! How `saker expr render` resolves `secret()`: through the secret service of the data
//! directory (as the WORKER service, so isolation applies and every read is audited), or,
//! when there is no data directory yet, not at all.

use saker_expr::{SecretLookupError, SecretResolver};
use saker_secrets::{Accessor, Namespace, SecretService, Service};
use zeroize::Zeroizing;

use crate::app::Globals;

/// Secrets for templates rendered from the command line, in one namespace.
pub struct CliSecrets {
    namespace: Namespace,
    service: Option<SecretService>,
}

impl CliSecrets {
    pub fn open(globals: &Globals, namespace: &str) -> anyhow::Result<Self> {
        let namespace = Namespace::parse(namespace)
            .map_err(|e| anyhow::anyhow!("--namespace {namespace}: {e}"))?;
        let app = globals.app()?;
        let service = if app.data_dir.join("saker.db").exists() {
            let store = app.open_store()?;
            Some(crate::secret_service::open_secret_service(
                &app,
                store,
                Service::Worker,
            )?)
        } else {
            None
        };
        Ok(Self { namespace, service })
    }
}

impl SecretResolver for CliSecrets {
    fn resolve(
        &self,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, SecretLookupError> {
        let Some(service) = &self.service else {
            return Err(SecretLookupError {
                message: format!(
                    "secret '{key}' cannot be resolved: no Saker data directory here (set secrets with `saker secret set`, or pass --data-dir)"
                ),
            });
        };
        let requested =
            namespace
                .map(Namespace::parse)
                .transpose()
                .map_err(|e| SecretLookupError {
                    message: e.to_string(),
                })?;
        let who = Accessor::user(format!("cli:{}", whoami()));
        service
            .resolve(
                saker_secrets::DEFAULT_TENANT,
                &self.namespace,
                key,
                requested.as_ref(),
                &who,
            )
            .map(|r| Zeroizing::new(r.value.expose().to_owned()))
            .map_err(|e| SecretLookupError {
                message: e.to_string(),
            })
    }
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
}
