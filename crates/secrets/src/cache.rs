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

/// The cache. Cloning shares it.
#[derive(Clone)]
pub(crate) struct LookupCache {
    entries: Cache<CacheKey, Arc<Entry>>,
    /// Bumped by every invalidation; a lookup caches its answer only if the epoch did not
    /// move while it asked the backend.
    epoch: Arc<Mutex<u64>>,
}

impl LookupCache {
    /// A cache as configured, or `None` when disabled.
    pub(crate) fn new(config: &CacheConfig) -> Option<Self> {
        config.enabled.then(|| Self {
            entries: Cache::builder()
                .max_capacity(config.maximum_size)
                .time_to_live(config.expire_after_write)
                .build(),
            epoch: Arc::new(Mutex::new(0)),
        })
    }

    fn epoch(&self) -> std::sync::MutexGuard<'_, u64> {
        self.epoch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The backend's answer, from the cache when it holds one.
    pub(crate) fn get(
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
        let lookup = store.get(tenant, namespace, key)?;
        let epoch = self.epoch();
        if *epoch == started {
            self.entries
                .insert(cache_key, Arc::new(Entry::from_lookup(&lookup)));
        }
        Ok(lookup)
    }

    /// Forgets one secret.
    pub(crate) fn invalidate(&self, tenant: &str, namespace: &Namespace, key: &str) {
        let mut epoch = self.epoch();
        *epoch += 1;
        self.entries
            .invalidate(&(tenant.to_owned(), namespace.clone(), key.to_owned()));
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

    /// Counts backend reads; answers a value that changes with every read.
    #[derive(Default)]
    struct Counting {
        reads: AtomicUsize,
    }

    impl SecretStore for Counting {
        fn backend_name(&self) -> &'static str {
            "counting"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::read_only()
        }
        fn get(&self, _: &str, _: &Namespace, key: &str) -> Result<Lookup, StoreError> {
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
}
