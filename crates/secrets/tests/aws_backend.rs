//! The AWS Secrets Manager backend against moto's server (`scripts/peers/moto.sh`), driven by
//! Saker's own client: check-and-set, versions as tags, metadata, listing exactly one
//! namespace, AWS's soft delete, restore and destroy, and the default credential chain.

mod common;
#[path = "moto/peer.rs"]
mod peer;

use common::write;
use std::collections::BTreeMap;

use common::{ns, same};
use peer::moto;
use saker_secrets::{Lookup, SecretConfig, SecretState, SecretStore, StoreError};
use serde_json::json;

fn backend(
    endpoint: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::sync::Arc<dyn SecretStore> {
    let config = SecretConfig::from_value_with_env(
        json!({"type": "aws-secret-manager", "aws-secret-manager": {
            "region": "us-east-1", "prefix": "team-a", "endpoint-override": endpoint}}),
        env,
    )
    .unwrap();
    saker_secrets::open_remote(&config).unwrap()
}

fn keys(name: &str) -> Option<String> {
    match name {
        "AWS_ACCESS_KEY_ID" => Some("from-env".into()),
        "AWS_SECRET_ACCESS_KEY" => Some("env-secret".into()),
        "AWS_SESSION_TOKEN" => Some("env-session".into()),
        _ => None,
    }
}

#[test]
fn lifecycle_against_moto() {
    let Some(moto) = moto() else { return };
    // The default credential chain (environment variables) signs the requests.
    let store = backend(&moto.endpoint, &keys);
    let company = ns("company");

    let mut first = write("value-one", Some(0));
    first.update.description = Some(Some("the API key".into()));
    first.update.tags = Some(BTreeMap::from([("team".to_owned(), "a".to_owned())]));
    let meta = store.put("main", &company, "API_KEY", first).unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.description.as_deref(), Some("the API key"));
    assert_eq!(meta.tags.get("team").map(String::as_str), Some("a"));
    assert!(
        !meta.tags.keys().any(|k| k.starts_with("saker:")),
        "{:?}",
        meta.tags
    );

    // Check-and-set: creating again, or writing over a version that moved, conflicts.
    let err = store
        .put("main", &company, "API_KEY", write("lost", Some(0)))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::VersionConflict { actual: 1, .. }),
        "{err}"
    );
    let mut second = write("value-two", Some(1));
    second.update.tags = Some(BTreeMap::new());
    let meta = store.put("main", &company, "API_KEY", second).unwrap();
    assert_eq!(meta.version, 2);
    assert!(
        meta.tags.is_empty(),
        "replaced tags are removed: {:?}",
        meta.tags
    );
    assert_eq!(meta.description.as_deref(), Some("the API key"), "kept");
    match store.get("main", &company, "API_KEY").unwrap() {
        Lookup::Found { value, metadata } => {
            assert!(same(&value, "value-two"));
            assert_eq!(metadata.version, 2);
        }
        other => panic!("expected a value, got {other:?}"),
    }

    // A list holds exactly the namespace's secrets, not a child's.
    store
        .put(
            "main",
            &ns("company.team"),
            "OTHER",
            write("child-value", None),
        )
        .unwrap();
    store
        .put("main", &company, "SECOND", write("second-value", None))
        .unwrap();
    let listed: Vec<String> = store
        .list("main", &company)
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, ["API_KEY", "SECOND"]);
    assert!(store.list("main", &ns("elsewhere")).unwrap().is_empty());

    // Soft delete is AWS's scheduled deletion: absent to reads, listed as deleted.
    assert!(store.delete("main", &company, "API_KEY").unwrap());
    assert!(
        !store.delete("main", &company, "API_KEY").unwrap(),
        "already deleted"
    );
    assert!(matches!(
        store.get("main", &company, "API_KEY").unwrap(),
        Lookup::Absent
    ));
    let deleted = store
        .metadata("main", &company, "API_KEY")
        .unwrap()
        .unwrap();
    assert!(matches!(deleted.state, SecretState::Deleted { .. }));
    assert!(
        store
            .list("main", &company)
            .unwrap()
            .iter()
            .any(|m| m.key == "API_KEY")
    );
    let restored = store.restore("main", &company, "API_KEY").unwrap();
    assert_eq!(restored.state, SecretState::Active);
    assert!(matches!(
        store.get("main", &company, "API_KEY").unwrap(),
        Lookup::Found { .. }
    ));

    // Writing over a soft-deleted secret brings it back as the next version.
    assert!(store.delete("main", &company, "API_KEY").unwrap());
    let meta = store
        .put("main", &company, "API_KEY", write("value-three", Some(0)))
        .unwrap();
    assert_eq!((meta.version, meta.state.clone()), (3, SecretState::Active));
    match store.get("main", &company, "API_KEY").unwrap() {
        Lookup::Found { value, .. } => assert!(same(&value, "value-three")),
        other => panic!("expected a value, got {other:?}"),
    }

    // Destroy is a deletion without recovery, also of a soft-deleted secret.
    assert!(store.delete("main", &company, "SECOND").unwrap());
    assert!(store.destroy("main", &company, "SECOND").unwrap());
    assert!(
        store
            .metadata("main", &company, "SECOND")
            .unwrap()
            .is_none()
    );
    assert!(store.destroy("main", &company, "API_KEY").unwrap());
    assert!(!store.destroy("main", &company, "API_KEY").unwrap());
    let err = store.restore("main", &company, "API_KEY").unwrap_err();
    assert!(matches!(err, StoreError::NoSuchSecret { .. }), "{err}");
}

#[test]
fn credentials_are_required_somewhere() {
    let err = SecretConfig::from_value_with_env(
        json!({"type": "aws-secret-manager", "aws-secret-manager": {"region": "us-east-1"}}),
        &|_| None,
    )
    .unwrap_err();
    assert_eq!(err.key, "secret.aws-secret-manager.accessKeyId");
    assert!(err.message.contains("AWS_ACCESS_KEY_ID"), "{err}");
}
