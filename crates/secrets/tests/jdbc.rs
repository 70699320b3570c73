//! The encrypted `jdbc` backend over a real SQLite repository: sealing bound to the row,
//! no plaintext at rest, versions, lifecycle, check-and-set, rekey and concurrent use.
//!
//! Assertions about values compare through `same`, with messages that never show a value.

mod common;

use common::{ns, same};

use std::path::Path;
use std::sync::Arc;

use chrono::{Duration as ChronoDuration, Utc};
use saker_crypto::{Keyring, SecretKey};
use saker_secrets::{
    JdbcSecretStore, Lookup, MetadataUpdate, SecretState, SecretStore, SecretValue, SecretWrite,
    StoreError,
};
use saker_store::SqliteStore;

struct Fixture {
    dir: tempfile::TempDir,
    rows: Arc<SqliteStore>,
    key: SecretKey,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rows = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
        Self {
            dir,
            rows,
            key: SecretKey::generate(),
        }
    }

    fn store(&self) -> JdbcSecretStore {
        self.store_with(Keyring::new(self.key.clone()), 3)
    }

    fn store_with(&self, keyring: Keyring, max_versions: u32) -> JdbcSecretStore {
        JdbcSecretStore::new(self.rows.clone(), keyring, max_versions)
    }

    fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("saker.db")).unwrap()
    }
}

fn put(store: &JdbcSecretStore, namespace: &str, key: &str, value: &str) -> u64 {
    store
        .put(
            "main",
            &ns(namespace),
            key,
            SecretWrite::new(SecretValue::new(value)),
        )
        .unwrap()
        .version
}

fn read(store: &JdbcSecretStore, namespace: &str, key: &str) -> Result<SecretValue, String> {
    match store.get("main", &ns(namespace), key) {
        Ok(Lookup::Found { value, .. }) => Ok(value),
        Ok(Lookup::Absent) => Err("absent".into()),
        Ok(Lookup::Revoked { .. }) => Err("revoked".into()),
        Err(err) => Err(err.to_string()),
    }
}

/// Every file under `dir`, as bytes.
fn all_bytes(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.push(std::fs::read(&path).unwrap());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn values_round_trip_with_metadata_and_versions() {
    let fx = Fixture::new();
    let store = fx.store();
    let mut write = SecretWrite::new(SecretValue::new("first-value"));
    let expires = Utc::now() + ChronoDuration::days(30);
    write.update = MetadataUpdate {
        description: Some(Some("the API token".into())),
        tags: Some([("team".to_owned(), "data".to_owned())].into()),
        expires_at: Some(Some(expires)),
        rotation_period: Some(Some(std::time::Duration::from_secs(90 * 86_400))),
    };
    write.created_by = Some("alice".into());
    let meta = store
        .put("main", &ns("company"), "API_TOKEN", write)
        .unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.description.as_deref(), Some("the API token"));
    assert_eq!(meta.tags["team"], "data");
    assert_eq!(meta.namespace, Some(ns("company")));
    assert!(meta.created_at.is_some());
    assert_eq!(put(&store, "company", "API_TOKEN", "second-value"), 2);

    let value = read(&store, "company", "API_TOKEN").unwrap();
    assert!(same(&value, "second-value"), "the current version is read");
    let meta = store
        .metadata("main", &ns("company"), "API_TOKEN")
        .unwrap()
        .unwrap();
    assert_eq!(meta.version, 2);
    // Metadata survives a new value that does not change it.
    assert_eq!(meta.description.as_deref(), Some("the API token"));
    assert_eq!(meta.rotation_period.map(|d| d.as_secs()), Some(90 * 86_400));
    let versions = store.versions("main", &ns("company"), "API_TOKEN").unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(versions[1].created_by.as_deref(), Some("alice"));
    assert!(versions.iter().all(|v| v.available));

    // Exactly the namespace and tenant asked.
    assert_eq!(
        read(&store, "company.team", "API_TOKEN").unwrap_err(),
        "absent"
    );
    assert!(matches!(
        store.get("other", &ns("company"), "API_TOKEN").unwrap(),
        Lookup::Absent
    ));
}

#[test]
fn no_plaintext_reaches_the_data_directory() {
    let fx = Fixture::new();
    let store = fx.store();
    let values = [
        "plaintext-alpha-7781",
        "plaintext-beta-2298",
        "plaintext-gamma-5531",
    ];
    for (i, value) in values.iter().enumerate() {
        put(&store, "company.team", &format!("K{i}"), value);
        put(&store, "company", &format!("K{i}"), value);
    }
    assert!(read(&store, "company", "K0").is_ok());
    let files = all_bytes(fx.dir.path());
    assert!(!files.is_empty());
    for value in values {
        let found = files.iter().any(|bytes| contains(bytes, value.as_bytes()));
        assert!(
            !found,
            "a secret's plaintext was found in the data directory"
        );
    }
}

#[test]
fn a_ciphertext_copied_onto_another_row_fails_to_decrypt() {
    let fx = Fixture::new();
    let store = fx.store();
    put(&store, "company", "SOURCE", "value-of-source");
    put(&store, "company", "TARGET", "value-of-target");
    fx.sql()
        .execute(
            "UPDATE secret_versions SET ciphertext = \
             (SELECT ciphertext FROM secret_versions WHERE key = 'SOURCE') \
             WHERE key = 'TARGET'",
            [],
        )
        .unwrap();
    let err = read(&store, "company", "TARGET").unwrap_err();
    assert!(err.contains("'TARGET' in company"), "{err}");
    assert!(err.contains("belongs to another record"), "{err}");
    assert!(
        same(
            &read(&store, "company", "SOURCE").unwrap(),
            "value-of-source"
        ),
        "source"
    );
}

#[test]
fn a_ciphertext_moved_to_another_version_or_namespace_fails_too() {
    let fx = Fixture::new();
    let store = fx.store();
    put(&store, "company", "K", "version-one");
    put(&store, "company", "K", "version-two");
    put(&store, "company.team", "K", "team-value");
    let conn = fx.sql();
    conn.execute(
        "UPDATE secret_versions SET ciphertext = (SELECT ciphertext FROM secret_versions \
         WHERE namespace = 'company' AND version = 1) \
         WHERE namespace = 'company' AND version = 2",
        [],
    )
    .unwrap();
    assert!(
        read(&store, "company", "K")
            .unwrap_err()
            .contains("another record")
    );
    conn.execute(
        "UPDATE secret_versions SET ciphertext = (SELECT ciphertext FROM secret_versions \
         WHERE namespace = 'company' AND version = 1) WHERE namespace = 'company.team'",
        [],
    )
    .unwrap();
    assert!(
        read(&store, "company.team", "K")
            .unwrap_err()
            .contains("another record")
    );
}

#[test]
fn an_altered_ciphertext_fails_authentication() {
    let fx = Fixture::new();
    let store = fx.store();
    put(&store, "company", "K", "some-value");
    let conn = fx.sql();
    let mut ct: Vec<u8> = conn
        .query_row("SELECT ciphertext FROM secret_versions", [], |r| r.get(0))
        .unwrap();
    let last = ct.len() - 1;
    ct[last] ^= 1;
    conn.execute("UPDATE secret_versions SET ciphertext = ?1", [ct])
        .unwrap();
    assert!(
        read(&store, "company", "K")
            .unwrap_err()
            .contains("altered")
    );
}

#[test]
fn each_write_uses_a_fresh_nonce() {
    let fx = Fixture::new();
    let store = fx.store();
    put(&store, "company", "A", "same-value");
    put(&store, "company", "B", "same-value");
    let cts: Vec<Vec<u8>> = fx
        .sql()
        .prepare("SELECT ciphertext FROM secret_versions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cts.len(), 2);
    // Header: version (1), key id (8), fingerprint (4), nonce (12).
    assert_ne!(cts[0][13..25], cts[1][13..25]);
}

#[test]
fn kept_versions_rollback_and_its_limits() {
    let fx = Fixture::new();
    let store = fx.store();
    for n in 1..=4 {
        put(&store, "company", "K", &format!("value-{n}"));
    }
    let kept: Vec<u64> = store
        .versions("main", &ns("company"), "K")
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(kept, [4, 3, 2]);
    let meta = store
        .rollback("main", &ns("company"), "K", 2, Some("cli:alice"))
        .unwrap();
    assert_eq!(meta.version, 5);
    assert!(
        same(&read(&store, "company", "K").unwrap(), "value-2"),
        "rolled back"
    );
    let newest = &store.versions("main", &ns("company"), "K").unwrap()[0];
    assert_eq!(newest.version, 5);
    assert_eq!(
        newest.created_by.as_deref(),
        Some("cli:alice"),
        "the rollback's author"
    );
    let meta = store
        .rollback("main", &ns("company"), "K", 3, None)
        .unwrap();
    assert_eq!(meta.version, 6);
    let newest = &store.versions("main", &ns("company"), "K").unwrap()[0];
    assert_eq!((newest.version, newest.created_by.as_deref()), (6, None));
    let err = store
        .rollback("main", &ns("company"), "K", 1, Some("cli:alice"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NoSuchVersion { version: 1, .. }),
        "{err}"
    );
    assert!(matches!(
        store
            .rollback("main", &ns("company"), "NOPE", 1, None)
            .unwrap_err(),
        StoreError::NoSuchSecret { .. }
    ));
}

#[test]
fn delete_restore_and_destroy() {
    let fx = Fixture::new();
    let store = fx.store();
    put(&store, "company", "K", "kept-value");
    assert!(store.delete("main", &ns("company"), "K").unwrap());
    assert!(!store.delete("main", &ns("company"), "K").unwrap());
    assert_eq!(read(&store, "company", "K").unwrap_err(), "absent");
    let meta = store
        .metadata("main", &ns("company"), "K")
        .unwrap()
        .unwrap();
    assert!(matches!(meta.state, SecretState::Deleted { .. }));
    let meta = store.restore("main", &ns("company"), "K").unwrap();
    assert_eq!(meta.state, SecretState::Active);
    assert!(
        same(&read(&store, "company", "K").unwrap(), "kept-value"),
        "restored"
    );

    assert!(store.destroy("main", &ns("company"), "K").unwrap());
    assert!(!store.destroy("main", &ns("company"), "K").unwrap());
    assert!(
        store
            .metadata("main", &ns("company"), "K")
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.restore("main", &ns("company"), "K").unwrap_err(),
        StoreError::NoSuchSecret { .. }
    ));
    let remaining: i64 = fx
        .sql()
        .query_row("SELECT count(*) FROM secret_versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(remaining, 0);
}

#[test]
fn revoke_withdraws_every_version_until_a_new_value() {
    let fx = Fixture::new();
    let store = fx.store();
    put(&store, "company", "K", "leaked-value");
    put(&store, "company", "K", "leaked-value-2");
    let meta = store
        .revoke("main", &ns("company"), "K", Some("posted in a ticket"))
        .unwrap();
    match &meta.state {
        SecretState::Revoked { reason, .. } => {
            assert_eq!(reason.as_deref(), Some("posted in a ticket"))
        }
        other => panic!("not revoked: {other:?}"),
    }
    assert_eq!(read(&store, "company", "K").unwrap_err(), "revoked");
    let versions = store.versions("main", &ns("company"), "K").unwrap();
    assert!(versions.iter().all(|v| !v.available));
    let nulls: i64 = fx
        .sql()
        .query_row(
            "SELECT count(*) FROM secret_versions WHERE ciphertext IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(nulls, 2);
    assert!(
        store
            .rollback("main", &ns("company"), "K", 1, None)
            .is_err()
    );
    assert_eq!(put(&store, "company", "K", "fresh-value"), 3);
    assert!(
        same(&read(&store, "company", "K").unwrap(), "fresh-value"),
        "new value"
    );
}

#[test]
fn check_and_set_versions() {
    let fx = Fixture::new();
    let store = fx.store();
    let cas = |expected: u64, value: &str| {
        let mut write = SecretWrite::new(SecretValue::new(value));
        write.expected_version = Some(expected);
        store.put("main", &ns("company"), "K", write)
    };
    assert_eq!(cas(0, "a-value").unwrap().version, 1);
    let err = cas(0, "b-value").unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionConflict {
                expected: 0,
                actual: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(cas(1, "c-value").unwrap().version, 2);
    assert!(cas(1, "d-value").is_err());
}

#[test]
fn metadata_updates_change_no_version() {
    let fx = Fixture::new();
    let store = fx.store();
    put(&store, "company", "K", "a-value");
    let meta = store
        .update_metadata(
            "main",
            &ns("company"),
            "K",
            MetadataUpdate {
                description: Some(Some("described".into())),
                ..MetadataUpdate::default()
            },
        )
        .unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.description.as_deref(), Some("described"));
    assert!(
        store
            .update_metadata("main", &ns("company"), "NOPE", MetadataUpdate::default())
            .is_err()
    );
}

/// The key id of every stored ciphertext.
fn key_ids(fx: &Fixture) -> Vec<String> {
    fx.sql()
        .prepare("SELECT ciphertext FROM secret_versions ORDER BY namespace, key, version")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|ct| Keyring::envelope_key_id(&ct.unwrap()).unwrap().to_string())
        .collect()
}

#[test]
fn rekey_interrupted_then_rerun_moves_everything_to_the_new_key() {
    let fx = Fixture::new();
    let old = fx.store();
    for n in 0..5 {
        put(&old, "company", &format!("K{n}"), &format!("value-{n}"));
    }
    let new_key = SecretKey::generate();
    let rotating = fx.store_with(Keyring::new(new_key.clone()).with_older(fx.key.clone()), 3);

    // Interrupted: only two values moved.
    let first = rotating.rekey(Some(2)).unwrap();
    assert_eq!(first.resealed, 2);
    assert!(first.stopped_early);
    assert!(!first.is_complete());
    let ids = key_ids(&fx);
    let new_id = new_key.id().to_string();
    assert_eq!(ids.iter().filter(|id| **id == new_id).count(), 2);
    // Both keys read meanwhile.
    for n in 0..5 {
        let value = read(&rotating, "company", &format!("K{n}")).unwrap();
        assert!(same(&value, &format!("value-{n}")), "readable mid-rekey");
    }

    // Rerun: the rest, skipping what is done.
    let second = rotating.rekey(None).unwrap();
    assert_eq!((second.resealed, second.already_current), (3, 2));
    assert!(second.is_complete());
    assert!(key_ids(&fx).iter().all(|id| *id == new_id));
    let third = rotating.rekey(None).unwrap();
    assert_eq!((third.resealed, third.already_current), (0, 5));

    // The old key is no longer needed, and alone it reads nothing.
    let new_only = fx.store_with(Keyring::new(new_key), 3);
    for n in 0..5 {
        let value = read(&new_only, "company", &format!("K{n}")).unwrap();
        assert!(
            same(&value, &format!("value-{n}")),
            "readable with the new key"
        );
    }
    let err = read(&old, "company", "K0").unwrap_err();
    assert!(err.contains("not in the keyring"), "{err}");
}

#[test]
fn rekey_reports_values_it_cannot_open() {
    let fx = Fixture::new();
    let store = fx.store();
    put(&store, "company", "GOOD", "good-value");
    put(&store, "company", "BAD", "bad-value");
    fx.sql()
        .execute(
            "UPDATE secret_versions SET ciphertext = (SELECT ciphertext FROM secret_versions \
             WHERE key = 'GOOD') WHERE key = 'BAD'",
            [],
        )
        .unwrap();
    let rotating = fx.store_with(
        Keyring::new(SecretKey::generate()).with_older(fx.key.clone()),
        3,
    );
    let report = rotating.rekey(None).unwrap();
    assert_eq!(report.resealed, 1);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].key, "BAD");
    assert!(report.failed[0].message.contains("another record"));
}

#[test]
fn many_threads_write_and_read_the_same_secrets() {
    let fx = Fixture::new();
    let store = Arc::new(fx.store_with(Keyring::new(fx.key.clone()), 1_000));
    const THREADS: usize = 8;
    const ROUNDS: usize = 20;
    let keys = ["SHARED_A", "SHARED_B"];
    for key in keys {
        put(&store, "company", key, "initial-value");
    }
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut wrong_reads = 0;
                for round in 0..ROUNDS {
                    let key = keys[round % 2];
                    let value = format!("value-t{thread}-r{round}");
                    store
                        .put(
                            "main",
                            &ns("company"),
                            key,
                            SecretWrite::new(SecretValue::new(value)),
                        )
                        .unwrap();
                    let read = read(&store, "company", key).unwrap();
                    let text = read.expose();
                    if !(text == "initial-value" || text.starts_with("value-t")) {
                        wrong_reads += 1;
                    }
                }
                wrong_reads
            })
        })
        .collect();
    let wrong: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(wrong, 0, "some reads returned a value nobody wrote");
    let total: u64 = keys
        .iter()
        .map(|key| {
            store
                .metadata("main", &ns("company"), key)
                .unwrap()
                .unwrap()
                .version
        })
        .sum();
    assert_eq!(total, (2 + THREADS * ROUNDS) as u64);
}

#[test]
fn debug_output_shows_no_key_material() {
    let fx = Fixture::new();
    let store = fx.store();
    let debug = format!("{store:?}");
    assert!(debug.contains(&fx.key.id().to_string()), "{debug}");
    assert!(!debug.contains(fx.key.to_base64().as_str()));
}

#[test]
fn an_older_keyring_keeps_reading_and_rekey_moves_its_values() {
    let fx = Fixture::new();
    put(&fx.store(), "company", "K", "under-the-old-key");
    let new_key = SecretKey::generate();
    let store = fx
        .store_with(Keyring::new(new_key.clone()), 3)
        .with_older_keyring(Keyring::new(fx.key.clone()));
    assert!(
        same(&read(&store, "company", "K").unwrap(), "under-the-old-key"),
        "old key reads"
    );
    let report = store.rekey(None).unwrap();
    assert_eq!(report.resealed, 1);
    assert!(
        key_ids(&fx)
            .iter()
            .all(|id| *id == new_key.id().to_string())
    );
    // New writes are sealed under the primary key.
    put(&store, "company", "K2", "under-the-new-key");
    assert!(
        key_ids(&fx)
            .iter()
            .all(|id| *id == new_key.id().to_string())
    );
}
