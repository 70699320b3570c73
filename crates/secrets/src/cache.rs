//! The resolution cache (`secret.cache`): what a backend answered for one (tenant, namespace,
//! key), found, revoked or absent, kept for `expire-after-write` in a moka cache bounded by
//! `maximum-size`.
//!
//! Consistency: within one process every write, delete, restore, destroy, revoke and rollback
//! through the service invalidates the entry at once, and a lookup that raced with such a
//! change is returned but not cached (an epoch under a lock decides). Across processes (a
//! server and a `saker secret set` in another shell, or several workers) nothing is shared: a
//! change made elsewhere is seen at the latest `expire-after-write` later. Keep that TTL short
//! where secrets rotate often.
//!
//! Outages: by default a backend that fails fails the lookup (closed), whatever the cache
//! held before. With `stale-if-error: true` the cache also keeps, without time to live but
//! within `maximum-size`, the last answer the backend gave for each key, and answers it when
//! the backend fails, with a warning naming the backend, the namespace, the key and the
//! error (never the value). Invalidation by a write through Saker forgets that copy too.

use std::sync::{Arc, Mutex, PoisonError};

use moka::sync::Cache;

use crate::config::CacheConfig;
use crate::metadata::SecretMetadata;
use crate::namespace::Namespace;
use crate::store::{Capabilities, Lookup, SecretStore, StoreError};
use crate::value::SecretValue;

/// tenant, namespace, key.
type CacheKey = (String, Namespace, String);

/// A cloneable copy of a [`Lookup`].
#[derive(Clone)]
enum Entry {
    Absent,
    Found {
        value: SecretValue,
        metadata: SecretMetadata,
    },
    Revoked {
        metadata: SecretMetadata,
    },
}

impl Entry {
    fn from_lookup(lookup: &Lookup) -> Self {
        match lookup {
            Lookup::Absent => Entry::Absent,
            Lookup::Found { value, metadata } => Entry::Found {
                value: value.clone(),
                metadata: metadata.clone(),
            },
            Lookup::Revoked { metadata } => Entry::Revoked {
                metadata: metadata.clone(),
            },
        }
    }

    fn to_lookup(&self) -> Lookup {
        match self {
            Entry::Absent => Lookup::Absent,
            Entry::Found { value, metadata } => Lookup::Found {
                value: value.clone(),
                metadata: metadata.clone(),
            },
            Entry::Revoked { metadata } => Lookup::Revoked {
                metadata: metadata.clone(),
            },
        }
    }
}

/// The cache [`crate::SecretService`] keeps in front of its backend. Cloning shares it.
///
/// Public so that its own cost can be measured apart from the service's (the `remote_resolve`
/// bench: "a cache hit under 1 µs" is this type's `get`). It adds nothing the backend does not
/// already give: whoever holds a store can read it directly. Resolution with isolation, the
/// namespace rule and the audit trail is [`crate::SecretService::resolve`]'s, not this.
#[derive(Clone)]
pub struct LookupCache {
    entries: Cache<CacheKey, Arc<Entry>>,
    /// The last answer per key, past its time to live: only with `stale-if-error`.
    last_good: Option<Cache<CacheKey, Arc<Entry>>>,
    /// Bumped by every invalidation; a lookup caches its answer only if the epoch did not
    /// move while it asked the backend.
    epoch: Arc<Mutex<u64>>,
}

impl LookupCache {
    /// A cache as configured, or `None` when disabled.
    pub fn new(config: &CacheConfig) -> Option<Self> {
        config.enabled.then(|| Self {
            entries: Cache::builder()
                .max_capacity(config.maximum_size)
                .time_to_live(config.expire_after_write)
                .build(),
            last_good: config
                .stale_if_error
                .then(|| Cache::builder().max_capacity(config.maximum_size).build()),
            epoch: Arc::new(Mutex::new(0)),
        })
    }

    fn epoch(&self) -> std::sync::MutexGuard<'_, u64> {
        self.epoch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The backend's answer, from the cache when it holds one.
    pub fn get(
        &self,
        store: &dyn SecretStore,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Lookup, StoreError> {
        let cache_key = (tenant.to_owned(), namespace.clone(), key.to_owned());
        if let Some(entry) = self.entries.get(&cache_key) {
            return Ok(entry.to_lookup());
        }
        let started = *self.epoch();
        let lookup = match store.get(tenant, namespace, key) {
            Ok(lookup) => lookup,
            Err(err) => {
                let Some(stale) = self.last_good.as_ref().and_then(|c| c.get(&cache_key)) else {
                    return Err(err);
                };
                tracing::warn!(
                    backend = store.backend_name(),
                    tenant,
                    namespace = namespace.as_str(),
                    key,
                    error = %err,
                    "secret backend failed: answering the last value it gave for this key \
                     (secret.cache.stale-if-error)"
                );
                return Ok(stale.to_lookup());
            }
        };
        let epoch = self.epoch();
        if *epoch == started {
            let entry = Arc::new(Entry::from_lookup(&lookup));
            if let Some(last_good) = &self.last_good {
                last_good.insert(cache_key.clone(), entry.clone());
            }
            self.entries.insert(cache_key, entry);
        }
        Ok(lookup)
    }

    /// Forgets one secret.
    pub fn invalidate(&self, tenant: &str, namespace: &Namespace, key: &str) {
        let mut epoch = self.epoch();
        *epoch += 1;
        let cache_key = (tenant.to_owned(), namespace.clone(), key.to_owned());
        if let Some(last_good) = &self.last_good {
            last_good.invalidate(&cache_key);
        }
        self.entries.invalidate(&cache_key);
    }

    /// Forgets everything: a namespace changed backend, so any value may now come from
    /// elsewhere.
    pub(crate) fn invalidate_all(&self) {
        let mut epoch = self.epoch();
        *epoch += 1;
        if let Some(last_good) = &self.last_good {
            last_good.invalidate_all();
        }
        self.entries.invalidate_all();
    }
}

/// A read-only view of a store whose `get` goes through the cache, for [`crate::resolve()`].
pub(crate) struct ThroughCache<'a> {
    pub(crate) store: &'a dyn SecretStore,
    pub(crate) cache: Option<&'a LookupCache>,
}

impl SecretStore for ThroughCache<'_> {
    fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only()
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        match self.cache {
            Some(cache) => cache.get(self.store, tenant, namespace, key),
            None => self.store.get(tenant, namespace, key),
        }
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        self.store.metadata(tenant, namespace, key)
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        self.store.list(tenant, namespace)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Counts backend reads; answers a value that changes with every read, or fails while
    /// `down` is set.
    #[derive(Default)]
    struct Counting {
        reads: AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    impl SecretStore for Counting {
        fn backend_name(&self) -> &'static str {
            "counting"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::read_only()
        }
        fn get(&self, _: &str, _: &Namespace, key: &str) -> Result<Lookup, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Backend {
                    backend: "counting",
                    message: format!("cannot read secret '{key}': connection refused"),
                });
            }
            let n = self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(Lookup::Found {
                value: SecretValue::new(format!("v{n}")),
                metadata: SecretMetadata::new(key, None),
            })
        }
        fn metadata(
            &self,
            _: &str,
            _: &Namespace,
            _: &str,
        ) -> Result<Option<SecretMetadata>, StoreError> {
            Ok(None)
        }
        fn list(&self, _: &str, _: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
            Ok(Vec::new())
        }
    }

    fn value(lookup: Lookup) -> String {
        match lookup {
            Lookup::Found { value, .. } => value.expose().to_owned(),
            _ => String::from("-"),
        }
    }

    #[test]
    fn hits_skip_the_backend_and_invalidation_forgets() {
        let cache = LookupCache::new(&CacheConfig {
            enabled: true,
            maximum_size: 10,
            expire_after_write: Duration::from_secs(3600),
            stale_if_error: false,
        })
        .unwrap();
        let store = Counting::default();
        let ns = Namespace::parse("company").unwrap();
        assert_eq!(value(cache.get(&store, "main", &ns, "K").unwrap()), "v0");
        assert_eq!(value(cache.get(&store, "main", &ns, "K").unwrap()), "v0");
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
        // Another tenant is another entry.
        assert_eq!(value(cache.get(&store, "other", &ns, "K").unwrap()), "v1");
        cache.invalidate("main", &ns, "K");
        assert_eq!(value(cache.get(&store, "main", &ns, "K").unwrap()), "v2");
        assert_eq!(value(cache.get(&store, "other", &ns, "K").unwrap()), "v1");
    }

    #[test]
    fn a_disabled_cache_is_none() {
        let config = CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        };
        assert!(LookupCache::new(&config).is_none());
    }

    fn cache(stale_if_error: bool) -> LookupCache {
        LookupCache::new(&CacheConfig {
            enabled: true,
            maximum_size: 10,
            expire_after_write: Duration::from_millis(1),
            stale_if_error,
        })
        .unwrap()
    }

    #[test]
    fn a_failing_backend_fails_closed_unless_stale_if_error() {
        let ns = Namespace::parse("company").unwrap();
        for stale_if_error in [false, true] {
            let cache = cache(stale_if_error);
            let store = Counting::default();
            assert_eq!(value(cache.get(&store, "main", &ns, "K").unwrap()), "v0");
            store.down.store(true, Ordering::SeqCst);
            // Past the time to live: the fresh entry is gone, the backend is asked and fails.
            cache.entries.invalidate_all();
            let answer = cache.get(&store, "main", &ns, "K");
            if stale_if_error {
                assert_eq!(value(answer.unwrap()), "v0");
            } else {
                let err = answer.expect_err("fails closed").to_string();
                assert!(err.contains("'K'"), "{err}");
            }
            // A key never read has nothing stale to give.
            assert!(cache.get(&store, "main", &ns, "OTHER").is_err());
            // A write through Saker forgets the stale copy as well.
            cache.invalidate("main", &ns, "K");
            assert!(cache.get(&store, "main", &ns, "K").is_err());
        }
    }
}
