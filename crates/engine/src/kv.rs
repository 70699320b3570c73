//! The KV store as one task run sees it ([`TaskKv`]): `kv()` in its templates and the kv.*
//! tasks, over the engine's store, in the tenant of the execution and by default in the
//! flow's namespace.
//!
//! A value written from a tainted render (derived from a secret) is sealed before the store
//! sees it, with the engine's [`ValueSealer`](crate::ValueSealer) bound to the entry's tenant,
//! namespace and key (a sealed value copied under another key does not open). Reading one
//! opens it, adds it to the execution's mask set and hands it to the template tainted, so
//! whatever is computed from it is masked like the secret it came from.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_expr::{KvLookupError, KvResolver, Value};
use saker_model::Execution;
use saker_model::execution::{as_sealed, sealed_value};
use saker_store::{KvEntry, KvPut, KvType, Store};
use serde_json::Value as Json;
use zeroize::Zeroizing;

use crate::logs::off_worker;
use crate::masks::{ExecutionMasks, MaskSource};
use crate::sealing::Protector;

/// A value read from the KV store.
pub struct KvRead {
    pub kv_type: KvType,
    /// The value; for a sealed entry, the opened one.
    pub value: Json,
    /// The entry was sealed: the value derives from a secret.
    pub sealed: bool,
}

/// What a kv.Set writes.
pub struct KvWrite<'a> {
    pub namespace: &'a str,
    pub key: &'a str,
    pub kv_type: KvType,
    pub value: &'a Json,
    /// The value derives from a secret: it is stored sealed.
    pub tainted: bool,
    pub overwrite: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The KV store for one task run (see the module documentation).
pub struct TaskKv {
    store: Arc<dyn Store>,
    protector: Protector,
    masks: Arc<ExecutionMasks>,
    tenant: String,
    /// The flow's namespace: where `kv()` and the kv.* tasks look when none is named.
    namespace: String,
}

impl TaskKv {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        protector: Protector,
        masks: Arc<ExecutionMasks>,
        execution: &Execution,
    ) -> Self {
        Self {
            store,
            protector,
            masks,
            tenant: execution.tenant_id.clone(),
            namespace: execution.namespace.clone(),
        }
    }

    /// The flow's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The live value under `key`; a sealed one is opened and joins the mask set.
    pub fn read(&self, namespace: &str, key: &str) -> Result<Option<KvRead>, String> {
        let entry = off_worker(|| self.store.get_kv(&self.tenant, namespace, key))
            .map_err(|e| e.to_string())?;
        entry.map(|entry| self.open(&entry)).transpose()
    }

    /// Writes a value, sealed when it is tainted. Says whether an entry was created, replaced
    /// or kept (`overwrite: false` and a live entry).
    pub fn write(&self, write: &KvWrite<'_>) -> Result<KvPut, String> {
        let text = Zeroizing::new(write.value.to_string());
        let value = if write.tainted {
            let sealer = self.protector.sealer.as_ref().ok_or_else(|| {
                format!(
                    "the value of KV key '{}' derives from a secret and is stored encrypted: \
                     configure encryption.secret-key (generate one with `openssl rand -base64 32`)",
                    write.key
                )
            })?;
            let (scope, path) = self.sealing_place(write.namespace, write.key);
            let sealed = sealer.seal(&scope, &path, &text).map_err(|e| {
                format!(
                    "the value of KV key '{}' cannot be encrypted: {e}",
                    write.key
                )
            })?;
            sealed_value(sealed).to_string()
        } else {
            text.to_string()
        };
        let entry = KvEntry {
            sealed: write.tainted,
            expires_at: write.expires_at,
            ..KvEntry::new(
                &self.tenant,
                write.namespace,
                write.key,
                write.kv_type,
                value,
            )
        };
        off_worker(|| self.store.put_kv(&entry, write.overwrite)).map_err(|e| e.to_string())
    }

    /// Deletes the entry; false when there was no live one.
    pub fn delete(&self, namespace: &str, key: &str) -> Result<bool, String> {
        off_worker(|| self.store.delete_kv(&self.tenant, namespace, key)).map_err(|e| e.to_string())
    }

    /// The live keys of a namespace starting with `prefix`, sorted.
    pub fn keys(&self, namespace: &str, prefix: Option<&str>) -> Result<Vec<String>, String> {
        let entries = off_worker(|| self.store.list_kv(&self.tenant, namespace, prefix))
            .map_err(|e| e.to_string())?;
        Ok(entries.into_iter().map(|e| e.key).collect())
    }

    /// Where a value is sealed: the sealer binds it to a scope (the tenant's KV store) and a
    /// path (namespace and key), as it binds execution values to their execution and path.
    fn sealing_place(&self, namespace: &str, key: &str) -> (String, String) {
        (format!("kv/{}", self.tenant), format!("{namespace}/{key}"))
    }

    fn open(&self, entry: &KvEntry) -> Result<KvRead, String> {
        let stored: Json = serde_json::from_str(&entry.value).map_err(|_| {
            format!(
                "KV key '{}' in namespace '{}' holds a value that is not JSON",
                entry.key, entry.namespace
            )
        })?;
        if !entry.sealed {
            return Ok(KvRead {
                kv_type: entry.kv_type,
                value: stored,
                sealed: false,
            });
        }
        let place = format!("kv:{}/{}", entry.namespace, entry.key);
        let sealed = as_sealed(&stored)
            .ok_or_else(|| format!("{place} is marked sealed but holds no sealed value"))?;
        let sealer = self.protector.sealer.as_ref().ok_or_else(|| {
            format!("{place} is encrypted but no encryption.secret-key is configured")
        })?;
        let (scope, path) = self.sealing_place(&entry.namespace, &entry.key);
        let plain: Zeroizing<String> = sealer
            .open(&scope, &path, sealed)
            .map_err(|e| format!("{place} cannot be decrypted: {e}"))?;
        let value: Json = serde_json::from_str(&plain)
            .map_err(|_| format!("{place} does not hold JSON once decrypted"))?;
        self.masks
            .add_source(MaskSource::Sealed(place.clone()), plain.as_str());
        add_leaves(&self.masks, &place, &value);
        Ok(KvRead {
            kv_type: entry.kv_type,
            value,
            sealed: true,
        })
    }
}

/// The strings inside an opened value join the mask set too: a part of it may be printed.
fn add_leaves(masks: &ExecutionMasks, place: &str, value: &Json) {
    match value {
        Json::String(s) => masks.add_source(MaskSource::Sealed(place.to_owned()), s),
        Json::Array(items) => items.iter().for_each(|v| add_leaves(masks, place, v)),
        Json::Object(map) => map.values().for_each(|v| add_leaves(masks, place, v)),
        _ => {}
    }
}

impl KvResolver for TaskKv {
    fn default_namespace(&self) -> &str {
        &self.namespace
    }

    fn get(&self, namespace: &str, key: &str) -> Result<Option<Value>, KvLookupError> {
        let read = self.read(namespace, key).map_err(KvLookupError::new)?;
        Ok(read.map(|read| {
            let value = Value::from_json(&read.value);
            if read.sealed { value.tainted() } else { value }
        }))
    }
}
