//! The [`saker_store::SecretRows`] contract, for every backend: check-and-set, pruning,
//! withdrawal, destruction, rekey paging and concurrent writers.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_store::{
    Cas, NewVersion, SecretChange, SecretRowState, SecretRows, StoreError, VersionCursor,
};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000 + seconds * 1_000_000).unwrap()
}

fn new_version<'a>(
    key: &'a str,
    generation: Option<u64>,
    version: u64,
    ciphertext: &'a [u8],
) -> NewVersion<'a> {
    NewVersion {
        tenant: "main",
        namespace: "company.team",
        key,
        expected_generation: generation,
        version,
        ciphertext,
        metadata: r#"{"description":"d"}"#,
        at: at(version as i64),
        created_by: Some("alice"),
        keep_versions: 3,
    }
}

fn done<T>(cas: Cas<T>) -> T {
    match cas {
        Cas::Done(value) => value,
        Cas::Conflict => panic!("unexpected check-and-set conflict"),
    }
}

pub fn create_then_write_versions_with_check_and_set(store: &dyn SecretRows) {
    let row = done(
        store
            .put_secret_version(&new_version("K", None, 1, b"c1"))
            .unwrap(),
    );
    assert_eq!(row.current_version, 1);
    assert_eq!(row.generation, 1);
    assert_eq!(row.state, SecretRowState::Active);
    assert_eq!(row.created_at, at(1));

    // Creating again, or writing with a stale generation, is a conflict that writes nothing.
    assert_eq!(
        store
            .put_secret_version(&new_version("K", None, 1, b"x"))
            .unwrap(),
        Cas::Conflict
    );
    assert_eq!(
        store
            .put_secret_version(&new_version("K", Some(7), 2, b"x"))
            .unwrap(),
        Cas::Conflict
    );
    // A wrong version number is refused outright.
    let err = store
        .put_secret_version(&new_version("K", Some(1), 5, b"x"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");

    let row = done(
        store
            .put_secret_version(&new_version("K", Some(1), 2, b"c2"))
            .unwrap(),
    );
    assert_eq!((row.current_version, row.generation), (2, 2));
    assert_eq!(row.created_at, at(1));
    assert_eq!(row.updated_at, at(2));
    let (current, version) = store
        .secret_current("main", "company.team", "K")
        .unwrap()
        .unwrap();
    assert_eq!(current, row);
    let version = version.unwrap();
    assert_eq!(version.ciphertext.as_deref(), Some(&b"c2"[..]));
    assert_eq!(version.created_by.as_deref(), Some("alice"));
    assert!(version.available);
    assert!(
        store
            .secret_current("main", "company", "K")
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .secret_current("other", "company.team", "K")
            .unwrap()
            .is_none()
    );
}

pub fn old_versions_beyond_the_kept_number_are_pruned(store: &dyn SecretRows) {
    let mut generation = None;
    for version in 1..=5u64 {
        let ct = format!("c{version}");
        let row = done(
            store
                .put_secret_version(&new_version("K", generation, version, ct.as_bytes()))
                .unwrap(),
        );
        generation = Some(row.generation);
    }
    let kept: Vec<u64> = store
        .secret_versions("main", "company.team", "K")
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(kept, vec![5, 4, 3]);
    assert!(
        store
            .secret_version("main", "company.team", "K", 2)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .secret_version("main", "company.team", "K", 4)
            .unwrap()
            .unwrap()
            .ciphertext
            .as_deref(),
        Some(&b"c4"[..])
    );
}

pub fn changes_check_the_generation_and_withdraw_versions(store: &dyn SecretRows) {
    let row = done(
        store
            .put_secret_version(&new_version("K", None, 1, b"c1"))
            .unwrap(),
    );
    let change = SecretChange {
        tenant: "main",
        namespace: "company.team",
        key: "K",
        expected_generation: row.generation,
        state: SecretRowState::Revoked,
        metadata: r#"{"reason":"leaked"}"#,
        withdraw_versions: true,
    };
    let revoked = done(store.change_secret(&change).unwrap());
    assert_eq!(revoked.state, SecretRowState::Revoked);
    assert_eq!(revoked.metadata, r#"{"reason":"leaked"}"#);
    assert_eq!(revoked.updated_at, row.updated_at);
    assert_eq!(store.change_secret(&change).unwrap(), Cas::Conflict);
    let version = store
        .secret_version("main", "company.team", "K", 1)
        .unwrap()
        .unwrap();
    assert_eq!(version.ciphertext, None);
    assert!(!version.available);

    // A missing secret is a conflict, not an error.
    let missing = SecretChange {
        key: "NOPE",
        ..change
    };
    assert_eq!(store.change_secret(&missing).unwrap(), Cas::Conflict);
}

pub fn destroy_removes_everything_and_numbering_restarts(store: &dyn SecretRows) {
    let row = done(
        store
            .put_secret_version(&new_version("K", None, 1, b"c1"))
            .unwrap(),
    );
    done(
        store
            .put_secret_version(&new_version("K", Some(row.generation), 2, b"c2"))
            .unwrap(),
    );
    assert!(store.destroy_secret("main", "company.team", "K").unwrap());
    assert!(!store.destroy_secret("main", "company.team", "K").unwrap());
    assert!(
        store
            .secret_row("main", "company.team", "K")
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .secret_versions("main", "company.team", "K")
            .unwrap()
            .is_empty()
    );
    let again = done(
        store
            .put_secret_version(&new_version("K", None, 1, b"n1"))
            .unwrap(),
    );
    assert_eq!(again.current_version, 1);
}

pub fn reads_are_recorded_monotonically(store: &dyn SecretRows) {
    done(
        store
            .put_secret_version(&new_version("K", None, 1, b"c1"))
            .unwrap(),
    );
    store
        .record_secret_read("main", "company.team", "K", at(50))
        .unwrap();
    store
        .record_secret_read("main", "company.team", "K", at(40))
        .unwrap();
    store
        .record_secret_read("main", "company.team", "NOPE", at(60))
        .unwrap();
    let row = store
        .secret_row("main", "company.team", "K")
        .unwrap()
        .unwrap();
    assert_eq!(row.last_read_at, Some(at(50)));
}

pub fn listing_is_per_namespace_and_sorted(store: &dyn SecretRows) {
    for key in ["B", "A", "C"] {
        done(
            store
                .put_secret_version(&new_version(key, None, 1, b"c"))
                .unwrap(),
        );
    }
    let mut other = new_version("Z", None, 1, b"c");
    other.namespace = "company";
    done(store.put_secret_version(&other).unwrap());
    let keys: Vec<String> = store
        .secret_rows_in("main", "company.team")
        .unwrap()
        .into_iter()
        .map(|row| row.key)
        .collect();
    assert_eq!(keys, ["A", "B", "C"]);
    assert_eq!(store.secret_rows_in("main", "company").unwrap().len(), 1);
    assert!(
        store
            .secret_rows_in("main", "company.team.sub")
            .unwrap()
            .is_empty()
    );
}

pub fn version_pages_walk_every_tenant_and_skip_withdrawn_rows(store: &dyn SecretRows) {
    for tenant in ["a", "b"] {
        for key in ["K1", "K2"] {
            let mut new = new_version(key, None, 1, b"c");
            new.tenant = tenant;
            done(store.put_secret_version(&new).unwrap());
        }
    }
    let row = store
        .secret_row("b", "company.team", "K2")
        .unwrap()
        .unwrap();
    done(
        store
            .change_secret(&SecretChange {
                tenant: "b",
                namespace: "company.team",
                key: "K2",
                expected_generation: row.generation,
                state: SecretRowState::Revoked,
                metadata: "{}",
                withdraw_versions: true,
            })
            .unwrap(),
    );
    let mut seen = Vec::new();
    let mut cursor: Option<VersionCursor> = None;
    loop {
        let page = store.secret_version_page(cursor.as_ref(), 1).unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.cursor());
        seen.extend(page.iter().map(|v| format!("{}/{}", v.tenant, v.key)));
    }
    assert_eq!(seen, ["a/K1", "a/K2", "b/K1"]);
}

pub fn ciphertext_replacement_is_check_and_set(store: &dyn SecretRows) {
    done(
        store
            .put_secret_version(&new_version("K", None, 1, b"old"))
            .unwrap(),
    );
    let cursor = VersionCursor {
        tenant: "main".into(),
        namespace: "company.team".into(),
        key: "K".into(),
        version: 1,
    };
    assert!(
        !store
            .replace_secret_ciphertext(&cursor, b"other", b"new")
            .unwrap()
    );
    assert!(
        store
            .replace_secret_ciphertext(&cursor, b"old", b"new")
            .unwrap()
    );
    assert!(
        !store
            .replace_secret_ciphertext(&cursor, b"old", b"newer")
            .unwrap()
    );
    let version = store
        .secret_version("main", "company.team", "K", 1)
        .unwrap()
        .unwrap();
    assert_eq!(version.ciphertext.as_deref(), Some(&b"new"[..]));
}

/// `corrupt` makes the state or a time of the secret row `main/company.team/K` undecodable
/// behind the store's back.
pub fn a_corrupt_row_is_an_error_naming_it(store: &dyn SecretRows, corrupt: &dyn Fn()) {
    done(
        store
            .put_secret_version(&new_version("K", None, 1, b"c"))
            .unwrap(),
    );
    corrupt();
    let err = store.secret_row("main", "company.team", "K").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("secrets") && text.contains("main/company.team/K"),
        "{text}"
    );
    assert!(!text.contains("description"), "no value is quoted: {text}");
}

pub fn concurrent_writers_never_share_a_version(store: Arc<dyn SecretRows>) {
    const THREADS: usize = 6;
    const WRITES: usize = 25;
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut won = 0;
                while won < WRITES {
                    let current = store.secret_row("main", "company.team", "K").unwrap();
                    let (generation, version) = match &current {
                        None => (None, 1),
                        Some(row) => (Some(row.generation), row.current_version + 1),
                    };
                    let ct = format!("t{thread}v{version}");
                    let mut new = new_version("K", generation, version, ct.as_bytes());
                    new.keep_versions = 1000;
                    if let Cas::Done(_) = store.put_secret_version(&new).unwrap() {
                        won += 1;
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let row = store
        .secret_row("main", "company.team", "K")
        .unwrap()
        .unwrap();
    assert_eq!(row.current_version, (THREADS * WRITES) as u64);
    let versions = store.secret_versions("main", "company.team", "K").unwrap();
    assert_eq!(versions.len(), THREADS * WRITES);
    // Each row holds the ciphertext its writer made for that very number.
    for version in versions {
        let text = String::from_utf8(version.ciphertext.unwrap()).unwrap();
        assert!(text.ends_with(&format!("v{}", version.version)), "{text}");
    }
}
