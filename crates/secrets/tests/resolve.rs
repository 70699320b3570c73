//! Resolution along the namespace chain against a minimal writable store, which also shows
//! that the trait can be implemented outside the crate and used as `Arc<dyn SecretStore>`.

mod common;

use common::ns;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use saker_secrets::{
    Capabilities, Lookup, Namespace, NamespaceAccess, NamespaceGrant, Operation, ResolveError,
    SecretMetadata, SecretState, SecretStore, SecretValue, SecretWrite, StoreError, resolve,
};

/// tenant, namespace, key -> (value, metadata)
type Rows = BTreeMap<(String, String, String), (SecretValue, SecretMetadata)>;

#[derive(Default)]
struct MemoryStore {
    rows: Mutex<Rows>,
}

impl MemoryStore {
    fn set(&self, tenant: &str, namespace: &str, key: &str, value: &str) {
        let ns = Namespace::parse(namespace).unwrap();
        self.put(tenant, &ns, key, SecretWrite::new(SecretValue::new(value)))
            .unwrap();
    }

    fn edit(&self, namespace: &str, key: &str, change: impl FnOnce(&mut SecretMetadata)) {
        let mut rows = self.rows.lock().unwrap();
        let row = rows
            .get_mut(&("main".into(), namespace.into(), key.into()))
            .unwrap();
        change(&mut row.1);
    }
}

impl SecretStore for MemoryStore {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only().with(Operation::Put)
    }

    fn get(&self, tenant: &str, namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let rows = self.rows.lock().unwrap();
        let id = (tenant.to_owned(), namespace.to_string(), key.to_owned());
        Ok(match rows.get(&id) {
            None => Lookup::Absent,
            Some((_, meta)) if matches!(meta.state, SecretState::Deleted { .. }) => Lookup::Absent,
            Some((_, meta)) if matches!(meta.state, SecretState::Revoked { .. }) => {
                Lookup::Revoked {
                    metadata: meta.clone(),
                }
            }
            Some((value, meta)) => Lookup::Found {
                value: value.clone(),
                metadata: meta.clone(),
            },
        })
    }

    fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let rows = self.rows.lock().unwrap();
        let id = (tenant.to_owned(), namespace.to_string(), key.to_owned());
        Ok(rows.get(&id).map(|(_, meta)| meta.clone()))
    }

    fn list(&self, tenant: &str, namespace: &Namespace) -> Result<Vec<SecretMetadata>, StoreError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .iter()
            .filter(|((t, n, _), _)| t == tenant && n == namespace.as_str())
            .map(|(_, (_, meta))| meta.clone())
            .collect())
    }

    fn put(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: SecretWrite,
    ) -> Result<SecretMetadata, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let id = (tenant.to_owned(), namespace.to_string(), key.to_owned());
        let version = rows.get(&id).map_or(1, |(_, meta)| meta.version + 1);
        let mut meta = SecretMetadata::new(key, Some(namespace.clone()));
        meta.version = version;
        rows.insert(id, (write.value, meta.clone()));
        Ok(meta)
    }
}

fn lookup(
    store: &dyn SecretStore,
    flow: &str,
    requested: Option<&str>,
    key: &str,
) -> Result<String, ResolveError> {
    lookup_at(store, flow, requested, key, Utc::now())
}

fn lookup_at(
    store: &dyn SecretStore,
    flow: &str,
    requested: Option<&str>,
    key: &str,
    now: DateTime<Utc>,
) -> Result<String, ResolveError> {
    let access = NamespaceAccess::new(vec![NamespaceGrant {
        namespace: ns("shared.db"),
        flows: vec![ns("company.team")],
    }]);
    let requested = requested.map(ns);
    let chain = access.lookup_chain(&ns(flow), requested.as_ref())?;
    resolve(store, "main", &chain, key, now).map(|found| found.value.expose().to_owned())
}

#[test]
fn parent_secret_is_inherited_and_the_lowest_level_wins() {
    let memory = Arc::new(MemoryStore::default());
    let store: Arc<dyn SecretStore> = memory.clone();
    memory.set("main", "company", "API_TOKEN", "from-company");
    assert_eq!(
        lookup(memory.as_ref(), "company.team", None, "API_TOKEN").unwrap(),
        "from-company"
    );
    memory.set("main", "company.team", "API_TOKEN", "from-team");
    assert_eq!(
        lookup(memory.as_ref(), "company.team", None, "API_TOKEN").unwrap(),
        "from-team"
    );
    assert_eq!(
        lookup(memory.as_ref(), "company.team.project", None, "API_TOKEN").unwrap(),
        "from-team"
    );
    // Object safety: the same calls work through a trait object.
    assert_eq!(
        lookup(store.as_ref(), "company", None, "API_TOKEN").unwrap(),
        "from-company"
    );
}

#[test]
fn tenants_never_mix() {
    let memory = MemoryStore::default();
    memory.set("other", "company", "K", "other-tenant");
    let err = lookup(&memory, "company.team", None, "K").unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret 'K' not found in company.team, company"
    );
}

#[test]
fn explicit_namespace_follows_the_ancestor_rule() {
    let memory = MemoryStore::default();
    memory.set("main", "company", "K", "company");
    memory.set("main", "company.team", "K", "team");
    memory.set("main", "company.team.project", "K", "project");
    memory.set("main", "company.other", "K", "sibling");
    memory.set("main", "shared", "K", "shared-root");
    memory.set("main", "shared.db", "DB", "granted");

    let flow = "company.team.project";
    assert_eq!(
        lookup(&memory, flow, Some("company"), "K").unwrap(),
        "company"
    );
    assert_eq!(
        lookup(&memory, flow, Some("company.team"), "K").unwrap(),
        "team"
    );
    assert_eq!(lookup(&memory, flow, Some(flow), "K").unwrap(), "project");
    // A child, a sibling and an ungranted namespace are refused before any lookup.
    for denied in ["company.team.project.child", "company.other", "shared"] {
        let err = lookup(&memory, flow, Some(denied), "K").unwrap_err();
        assert!(matches!(err, ResolveError::Denied(_)), "{denied}: {err}");
        assert!(err.to_string().contains(denied), "{err}");
    }
    // A parent flow does not see its children's secrets.
    assert!(matches!(
        lookup(&memory, "company", Some("company.team"), "K"),
        Err(ResolveError::Denied(_))
    ));
    // The grant opens shared.db to company.team's subtree, not shared itself.
    assert_eq!(
        lookup(&memory, flow, Some("shared.db"), "DB").unwrap(),
        "granted"
    );
    assert_eq!(
        lookup(&memory, flow, Some("shared.db"), "K")
            .unwrap_err()
            .to_string(),
        "secret 'K' not found in shared.db"
    );
    assert!(matches!(
        lookup(&memory, "company.other", Some("shared.db"), "DB"),
        Err(ResolveError::Denied(_))
    ));
}

#[test]
fn revoked_secret_fails_and_does_not_fall_back() {
    let memory = MemoryStore::default();
    memory.set("main", "company", "K", "parent");
    memory.set("main", "company.team", "K", "compromised");
    memory.edit("company.team", "K", |meta| {
        meta.state = SecretState::Revoked {
            at: Utc::now(),
            reason: None,
        }
    });
    let err = lookup(&memory, "company.team", None, "K").unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret 'K' in company.team is revoked: set a new value to use it again"
    );
}

#[test]
fn soft_deleted_secret_falls_back_to_the_parent() {
    let memory = MemoryStore::default();
    memory.set("main", "company", "K", "parent");
    memory.set("main", "company.team", "K", "deleted");
    memory.edit("company.team", "K", |meta| {
        meta.state = SecretState::Deleted { at: Utc::now() }
    });
    assert_eq!(
        lookup(&memory, "company.team", None, "K").unwrap(),
        "parent"
    );
}

#[test]
fn expired_secret_fails_after_expiry_only() {
    let memory = MemoryStore::default();
    memory.set("main", "company", "K", "s3cr3t-val");
    let expiry = Utc::now() + Duration::hours(1);
    memory.edit("company", "K", |meta| meta.expires_at = Some(expiry));
    assert_eq!(
        lookup_at(&memory, "company", None, "K", expiry - Duration::seconds(1)).unwrap(),
        "s3cr3t-val"
    );
    let err = lookup_at(&memory, "company", None, "K", expiry).unwrap_err();
    assert!(matches!(err, ResolveError::Expired { .. }), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    assert!(!err.to_string().contains("s3cr3t-val"), "{err}");
}

#[test]
fn invalid_keys_are_refused_before_any_lookup() {
    let memory = MemoryStore::default();
    let err = lookup(&memory, "company", None, "bad key").unwrap_err();
    assert!(
        matches!(err, ResolveError::Store(StoreError::InvalidName(_))),
        "{err}"
    );
}

#[test]
fn default_write_methods_refuse_unsupported_operations() {
    let memory = MemoryStore::default();
    let namespace = ns("company");
    assert_eq!(
        memory
            .delete("main", &namespace, "K")
            .unwrap_err()
            .to_string(),
        "the memory secret backend does not support delete"
    );
    assert!(
        memory
            .record_read("main", &namespace, "K", Utc::now())
            .is_ok()
    );
}
