//! The env backend (seed 002) and the `envs` template map.

mod common;

use common::ns;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use chrono::Utc;
use saker_secrets::env::{DEFAULT_ENV_VARS_PREFIX, envs_map};
use saker_secrets::{
    EnvProblem, EnvSecretStore, Lookup, NamespaceAccess, Operation, ResolveError, SecretStore,
    SecretValue, SecretWrite, StoreError, resolve, store::ensure_supported,
};

fn value_of(store: &EnvSecretStore, key: &str) -> Option<String> {
    match store.get("main", &ns("company.team"), key).unwrap() {
        Lookup::Found { value, .. } => Some(value.expose().to_owned()),
        Lookup::Absent => None,
        Lookup::Revoked { .. } => panic!("env secrets are never revoked"),
    }
}

#[test]
fn seed_002_mypassword_resolves() {
    let store = EnvSecretStore::from_vars([("SECRET_MYPASSWORD", "bXlQcml2YXRlQ29kZQ==")]);
    let flow = ns("company.team");
    let chain = NamespaceAccess::default()
        .lookup_chain(&flow, None)
        .unwrap();
    let resolved = resolve(&store, "main", &chain, "MYPASSWORD", Utc::now()).unwrap();
    assert_eq!(resolved.value.expose(), "myPrivateCode");
    assert_eq!(resolved.namespace, flow);
    assert_eq!(resolved.metadata.namespace, None);
}

#[test]
fn base64_with_line_breaks_and_without_padding() {
    let store = EnvSecretStore::from_vars([
        // `base64` wraps at 76 columns; a value pasted from it keeps the breaks.
        ("SECRET_WRAPPED", "bXlQcml2\nYXRlQ29k\r\nZQ==\n"),
        ("SECRET_UNPADDED", "bXlQcml2YXRlQ29kZQ"),
        ("SECRET_URLSAFE", "Pz8_Pw=="),
    ]);
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
    assert_eq!(
        value_of(&store, "WRAPPED").as_deref(),
        Some("myPrivateCode")
    );
    assert_eq!(
        value_of(&store, "UNPADDED").as_deref(),
        Some("myPrivateCode")
    );
    assert_eq!(value_of(&store, "URLSAFE").as_deref(), Some("????"));
}

#[test]
fn keys_are_case_insensitive_but_the_prefix_is_not() {
    let store = EnvSecretStore::from_vars([
        ("SECRET_MyPassword", "bXlQcml2YXRlQ29kZQ=="),
        ("secret_LOWER", "bXlQcml2YXRlQ29kZQ=="),
    ]);
    for key in ["MYPASSWORD", "mypassword", "MyPassword"] {
        assert_eq!(
            value_of(&store, key).as_deref(),
            Some("myPrivateCode"),
            "{key}"
        );
    }
    assert_eq!(value_of(&store, "LOWER"), None);
    assert_eq!(store.len(), 1);
}

#[test]
fn bad_variables_are_reported_by_name_only_and_absent() {
    let sentinel = "c2VjcmV0LXNlbnRpbmVs!!"; // not base64 because of "!!"
    let store = EnvSecretStore::from_vars([
        ("SECRET_GOOD", "Z29vZA=="),
        ("SECRET_BROKEN", sentinel),
        ("SECRET_BINARY", "//79"),
        ("SECRET_EMPTY", ""),
        ("SECRET_", "Z29vZA=="),
        ("SECRET_A/B", "Z29vZA=="),
        ("PATH", "/usr/bin"),
    ]);
    assert_eq!(value_of(&store, "GOOD").as_deref(), Some("good"));
    for key in ["BROKEN", "BINARY", "EMPTY"] {
        assert_eq!(value_of(&store, key), None, "{key}");
    }
    let warnings: Vec<(String, EnvProblem)> = store
        .warnings()
        .iter()
        .map(|w| (w.variable.clone(), w.problem.clone()))
        .collect();
    assert_eq!(
        warnings,
        vec![
            ("SECRET_".into(), EnvProblem::NoKey),
            ("SECRET_A/B".into(), EnvProblem::InvalidKey),
            ("SECRET_BINARY".into(), EnvProblem::DecodedNotUtf8),
            ("SECRET_BROKEN".into(), EnvProblem::NotBase64),
            ("SECRET_EMPTY".into(), EnvProblem::Empty),
        ]
    );
    for warning in store.warnings() {
        let text = format!("{warning} {warning:?}");
        assert!(text.contains(&warning.variable), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
        assert!(!text.contains("secret-sentinel"), "{text}");
    }
    assert_eq!(
        store.warnings()[3].to_string(),
        "environment variable SECRET_BROKEN is ignored: its value is not valid base64 \
         (encode it with `echo -n VALUE | base64` or `saker secret encode-env`)"
    );
}

#[test]
fn two_spellings_of_one_key_are_both_refused() {
    let store = EnvSecretStore::from_vars([
        ("SECRET_TOKEN", "b25l"),
        ("SECRET_token", "dHdv"),
        ("SECRET_OTHER", "b25l"),
    ]);
    assert_eq!(value_of(&store, "TOKEN"), None);
    assert_eq!(value_of(&store, "OTHER").as_deref(), Some("one"));
    let names: Vec<&str> = store
        .warnings()
        .iter()
        .map(|w| w.variable.as_str())
        .collect();
    assert_eq!(names, ["SECRET_TOKEN", "SECRET_token"]);
    assert_eq!(
        store.warnings()[0].problem,
        EnvProblem::SameKeyAs("SECRET_token".into())
    );
}

#[test]
fn non_unicode_variables_warn_instead_of_panicking() {
    let bad_value = OsString::from_vec(vec![0x66, 0xff, 0x6f]);
    let store = EnvSecretStore::from_vars([
        (OsString::from("SECRET_RAW"), bad_value.clone()),
        (
            OsString::from_vec(b"SECRET_\xffNAME".to_vec()),
            OsString::from("eA=="),
        ),
        (OsString::from("UNRELATED"), bad_value),
    ]);
    assert!(store.is_empty());
    assert_eq!(store.warnings().len(), 2);
    assert!(
        store
            .warnings()
            .iter()
            .all(|w| w.problem == EnvProblem::NotUnicode)
    );
}

#[test]
fn every_namespace_and_tenant_sees_env_secrets() {
    let store = EnvSecretStore::from_vars([("SECRET_SHARED", "eA==")]);
    for (tenant, namespace) in [("main", "company"), ("other", "a.b.c.d"), ("main", "zzz")] {
        assert!(matches!(
            store.get(tenant, &ns(namespace), "SHARED").unwrap(),
            Lookup::Found { .. }
        ));
    }
    let listed = store.list("main", &ns("anything")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, "SHARED");
    assert_eq!(listed[0].namespace, None);
    assert!(
        store
            .metadata("main", &ns("x"), "shared")
            .unwrap()
            .is_some()
    );
    assert!(store.metadata("main", &ns("x"), "nope").unwrap().is_none());
}

#[test]
fn writes_are_refused_with_the_read_only_message() {
    let store = EnvSecretStore::from_vars([("SECRET_X", "eA==")]);
    assert!(store.capabilities().is_read_only());
    let expected = "the env secret backend is read-only: set SECRET_<KEY> in the server's \
                    environment instead";
    let namespace = ns("company");
    let errors: Vec<StoreError> = vec![
        store
            .put(
                "main",
                &namespace,
                "X",
                SecretWrite::new(SecretValue::new("new")),
            )
            .unwrap_err(),
        store.delete("main", &namespace, "X").unwrap_err(),
        store.revoke("main", &namespace, "X", None).unwrap_err(),
        store
            .rollback("main", &namespace, "X", 1, Some("cli:alice"))
            .unwrap_err(),
        store.versions("main", &namespace, "X").unwrap_err(),
        ensure_supported(&store, Operation::Destroy).unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.to_string(), expected);
    }
    assert!(ensure_supported(&store, Operation::Get).is_ok());
}

#[test]
fn missing_env_secret_reports_the_chain() {
    let store = EnvSecretStore::from_vars([("SECRET_X", "eA==")]);
    let chain = ns("company.team.project").chain();
    let err = resolve(&store, "main", &chain, "Y", Utc::now()).unwrap_err();
    assert!(matches!(err, ResolveError::NotFound(_)));
    assert_eq!(
        err.to_string(),
        "secret 'Y' not found in company.team.project, company.team, company"
    );
}

#[test]
fn debug_lists_keys_not_values() {
    let store = EnvSecretStore::from_vars([("SECRET_X", "aHVudGVyMg==")]);
    let debug = format!("{store:?}");
    assert!(debug.contains("\"X\""), "{debug}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("aHVudGVyMg"),
        "{debug}"
    );
}

#[test]
fn envs_map_strips_prefix_lowercases_and_hides_reserved() {
    let vars = [
        ("ENV_MY_VAR", "one"),
        ("ENV_Mixed_Case", "two"),
        ("ENV_", "nameless"),
        ("PATH", "/usr/bin"),
        ("SECRET_MYPASSWORD", "bXlQcml2YXRlQ29kZQ=="),
        ("SAKER_ENCRYPTION_SECRET_KEY", "key"),
        ("KESTRA_CONFIGURATION", "datasources: ..."),
    ];
    let map = envs_map(vars, DEFAULT_ENV_VARS_PREFIX);
    let entries: Vec<(&str, &str)> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(entries, [("mixed_case", "two"), ("my_var", "one")]);

    // Even with an empty prefix (every variable), reserved ones never appear, in any case.
    let everything = envs_map(
        [
            ("PATH", "/usr/bin"),
            ("SECRET_X", "eA=="),
            ("secret_y", "eA=="),
            ("Saker_Data_Dir", "/var/lib/saker"),
            ("SAKER_ENCRYPTION_SECRET_KEY", "key"),
        ],
        "",
    );
    assert_eq!(everything.keys().collect::<Vec<_>>(), ["path"]);

    // A prefix that itself starts like a reserved one still exposes nothing reserved.
    assert!(envs_map([("SECRET_X", "eA==")], "SECRET_").is_empty());
}

#[test]
fn envs_map_collisions_are_deterministic() {
    let forward = envs_map([("ENV_A", "upper"), ("ENV_a", "lower")], "ENV_");
    let backward = envs_map([("ENV_a", "lower"), ("ENV_A", "upper")], "ENV_");
    assert_eq!(forward, backward);
    assert_eq!(forward["a"], "upper");
}

#[test]
fn one_store_serves_many_threads() {
    let store: std::sync::Arc<dyn SecretStore> =
        std::sync::Arc::new(EnvSecretStore::from_vars([(
            "SECRET_MYPASSWORD",
            "bXlQcml2YXRlQ29kZQ==",
        )]));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let chain = ns("company.team").chain();
                for _ in 0..100 {
                    let found = resolve(store.as_ref(), "main", &chain, "mypassword", Utc::now());
                    assert_eq!(found.unwrap().value.expose(), "myPrivateCode");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}
