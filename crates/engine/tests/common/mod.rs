//! What the engine's integration tests share.
#![allow(dead_code)]

pub mod data_dir;
pub mod flows;

use saker_engine::{ResolvedSecret, SecretRequester, SecretSource};
use zeroize::Zeroizing;

/// A secret source holding fixed values by key, whatever the namespace; an unknown key is
/// "not found", as a real backend says it.
pub struct KeyedSecrets(Vec<(&'static str, String)>);

impl KeyedSecrets {
    pub fn new(entries: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        Self(entries.into_iter().collect())
    }
}

impl SecretSource for KeyedSecrets {
    fn resolve(
        &self,
        _r: &SecretRequester,
        key: &str,
        _ns: Option<&str>,
    ) -> Result<ResolvedSecret, String> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| Zeroizing::new(v.clone()).into())
            .ok_or_else(|| format!("secret '{key}' not found"))
    }
}

/// Every file under `dir`, at any depth, for the tests that scan every stored byte.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
