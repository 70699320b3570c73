//! Setup shared by the integration tests: an in-memory secret resolver (which also answers
//! `kv()` with the same entries, as plain values) and a render environment that uses it.

use std::collections::HashMap;

use saker_expr::{KvLookupError, KvResolver, RenderEnv, SecretLookupError, SecretResolver, Value};
use zeroize::Zeroizing;

/// Secrets held in memory. A key given with a namespace is looked up as `namespace/key`
/// first, then as plain `key`.
pub struct Secrets(HashMap<String, String>);

impl Secrets {
    pub fn new<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Secrets(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl SecretResolver for Secrets {
    /// Deliberately careless: a failed lookup echoes the key it was asked for, so tests can
    /// check that the engine keeps a secret used as a key out of its own messages.
    fn resolve(
        &self,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, SecretLookupError> {
        let scoped = namespace.map(|ns| format!("{ns}/{key}"));
        scoped
            .and_then(|k| self.0.get(&k))
            .or_else(|| self.0.get(key))
            .map(|v| Zeroizing::new(v.clone()))
            .ok_or_else(|| SecretLookupError::new(format!("secret '{key}' not found")))
    }
}

/// The entries read by `kv()` as plain (not sealed) values, whatever the namespace.
impl KvResolver for Secrets {
    fn default_namespace(&self) -> &str {
        "company.team"
    }

    fn get(&self, _namespace: &str, key: &str) -> Result<Option<Value>, KvLookupError> {
        Ok(self.0.get(key).map(|v| Value::from(v.as_str())))
    }
}

/// The default render environment, with `secrets` as its secret and KV resolver.
pub fn env_with(secrets: &Secrets) -> RenderEnv<'_> {
    RenderEnv {
        secrets: Some(secrets),
        kv: Some(secrets),
        ..RenderEnv::default()
    }
}
