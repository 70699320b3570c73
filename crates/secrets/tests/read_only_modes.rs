//! Read-only mode around the remote backends: `filter-on-tags` and `filter-on-prefix`
//! (with and without `keep-prefix`) on list and get against moto, Kestra's read-only Vault
//! layout (`secret-path-prefix` plus KV secrets of several fields, whose JSON `subkey`
//! reads) against the Vault test server, `cache.stale-if-error` when moto goes away, and
//! the configuration errors of the filters.

mod common;
#[path = "moto/peer.rs"]
mod peer;
#[allow(dead_code)] // the server's controls serve other test files
#[path = "vault/server.rs"]
mod server;

use common::who;
use std::collections::BTreeMap;
use std::sync::Arc;

use common::{ns, same};
use peer::moto;
use saker_secrets::{SecretConfig, SecretService, SecretStore, SecretValue, SecretWrite, Service};
use saker_store::SqliteStore;
use serde_json::{Value, json};
use server::{ROOT_TOKEN, VaultServer};

fn config(secret: Value) -> SecretConfig {
    SecretConfig::from_value_with_env(secret, &|_| None).unwrap()
}

/// The service a process would build from `config`: backend, read-only and filters.
fn service(config: &SecretConfig) -> SecretService {
    let backend = saker_secrets::open_remote(config).unwrap();
    let backend: Arc<dyn SecretStore> = saker_secrets::apply_read_only(config, backend);
    let db = Arc::new(SqliteStore::open_in_memory().unwrap());
    SecretService::new(backend, db, config, Service::Worker)
}

fn tagged(value: &str, tags: &[(&str, &str)]) -> SecretWrite {
    let mut write = SecretWrite::new(SecretValue::new(value));
    write.update.tags = Some(
        tags.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    );
    write
}

fn aws_section(endpoint: &str) -> Value {
    json!({"access-key-id": "testing", "secret-key-id": "testing", "region": "us-east-1",
        "prefix": "ro-test", "endpoint-override": endpoint})
}

fn resolves(service: &SecretService, namespace: &str, key: &str) -> Option<SecretValue> {
    service
        .resolve("main", &ns(namespace), key, None, &who())
        .ok()
        .map(|found| found.value)
}

fn keys(service: &SecretService, namespace: &str) -> Vec<String> {
    service
        .list("main", &ns(namespace))
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect()
}

#[test]
fn aws_filters_on_tags_and_prefix() {
    let Some(moto) = moto() else { return };
    let writer = service(&config(
        json!({"type": "aws-secret-manager", "aws-secret-manager": aws_section(&moto.endpoint)}),
    ));
    let company = ns("company");
    for (key, value, application) in [
        ("prod_DB", "prod-db-value-1", "saker-production"),
        ("prod_OLD", "prod-old-value-2", "legacy"),
        ("dev_DB", "dev-db-value-3", "saker-production"),
        ("API", "api-value-4", "saker-production"),
    ] {
        writer
            .put(
                "main",
                &company,
                key,
                tagged(value, &[("application", application)]),
                &who(),
            )
            .unwrap();
    }

    // Tags alone: what carries application=saker-production, names as stored.
    let mut section = aws_section(&moto.endpoint);
    section["filter-on-tags"] = json!({"tags": {"application": "saker-production"}});
    let by_tags = service(&config(
        json!({"type": "aws-secret-manager", "read-only": true,
        "aws-secret-manager": section}),
    ));
    assert_eq!(keys(&by_tags, "company"), ["API", "dev_DB", "prod_DB"]);
    assert!(resolves(&by_tags, "company.team", "prod_OLD").is_none());
    assert!(same(
        &resolves(&by_tags, "company.team", "API").unwrap(),
        "api-value-4"
    ));

    // Tags and prefix, the prefix stripped (the default): prod_DB is seen as DB.
    let mut section = aws_section(&moto.endpoint);
    section["filterOnTags"] = json!({"tags": {"application": "saker-production"}});
    section["filterOnPrefix"] = json!({"prefix": "prod_"});
    let stripped = service(&config(
        json!({"type": "aws-secret-manager", "readOnly": true,
        "awsSecretManager": section}),
    ));
    assert_eq!(keys(&stripped, "company"), ["DB"]);
    assert!(same(
        &resolves(&stripped, "company.team", "DB").unwrap(),
        "prod-db-value-1"
    ));
    for hidden in ["prod_DB", "dev_DB", "API", "OLD"] {
        assert!(
            resolves(&stripped, "company.team", hidden).is_none(),
            "{hidden} is filtered out"
        );
    }
    let metadata = stripped.metadata("main", &company, "DB").unwrap().unwrap();
    assert_eq!(metadata.key, "DB");
    let err = stripped
        .put(
            "main",
            &company,
            "DB",
            SecretWrite::new(SecretValue::new("x")),
            &who(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");

    // keep-prefix: the prefix stays part of the name users give.
    let mut section = aws_section(&moto.endpoint);
    section["filter-on-prefix"] = json!({"prefix": "prod_", "keep-prefix": true});
    let kept = service(&config(
        json!({"type": "aws-secret-manager", "read-only": true,
        "aws-secret-manager": section}),
    ));
    assert_eq!(keys(&kept, "company"), ["prod_DB", "prod_OLD"]);
    assert!(resolves(&kept, "company", "DB").is_none());
    assert!(same(
        &resolves(&kept, "company", "prod_OLD").unwrap(),
        "prod-old-value-2"
    ));
}

/// Writes a KV v2 secret the way Vault's own tools do (several fields, no Saker layout).
fn vault_put(vault: &VaultServer, path: &str, data: Value) {
    vault_post(vault, &format!("secret/data/{path}"), json!({"data": data}));
}

fn vault_post(vault: &VaultServer, path: &str, body: Value) {
    let url = format!("{}/v1/{path}", vault.address);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(url)
            .header("X-Vault-Token", ROOT_TOKEN)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
}

#[test]
fn vault_read_only_layout_with_secret_path_prefix() {
    let vault = VaultServer::start();
    vault_put(
        &vault,
        "app1/api",
        json!({"API_TOKEN": "api-token-5521", "keys": "k-1"}),
    );
    vault_put(&vault, "app1/db", json!({"value": "db-password-8812"}));
    vault_put(&vault, "app1/prod_CACHE", json!({"value": "cache-value-3"}));
    vault_put(&vault, "app2/config", json!({"value": "other-app-value"}));
    let section = json!({"address": vault.address, "token": {"token": ROOT_TOKEN},
        "secret-path-prefix": "app1"});
    // A namespace's own secret, written in Saker's layout before read-only mode.
    let writer = service(&config(json!({"type": "vault", "vault": section.clone()})));
    writer
        .put(
            "main",
            &ns("company"),
            "db",
            SecretWrite::new(SecretValue::new("own-db-value-1")),
            &who(),
        )
        .unwrap();
    writer
        .put(
            "main",
            &ns("company.team"),
            "OWN",
            SecretWrite::new(SecretValue::new("own-value-2")),
            &who(),
        )
        .unwrap();

    assert_eq!(
        vault.current_value("secret", "app1/db"),
        Some(json!({"value": "db-password-8812"}))
    );
    let reader = service(&config(
        json!({"type": "vault", "read-only": true, "vault": section.clone()}),
    ));
    // A secret of several fields is their JSON object: `subkey` reads one field.
    let api = resolves(&reader, "company.team", "api").unwrap();
    let fields: Value = serde_json::from_str(api.expose()).unwrap();
    assert!(fields["API_TOKEN"] == "api-token-5521" && fields["keys"] == "k-1");
    // A namespace's own secret comes first; the shared one is the far end of the chain.
    assert!(same(
        &resolves(&reader, "company.team", "db").unwrap(),
        "own-db-value-1"
    ));
    assert!(same(
        &resolves(&reader, "other", "db").unwrap(),
        "db-password-8812"
    ));
    assert!(same(
        &resolves(&reader, "company.team", "OWN").unwrap(),
        "own-value-2"
    ));
    assert!(resolves(&reader, "company", "config").is_none(), "app2");
    let visible: Vec<(String, bool)> = reader
        .list_visible("main", &ns("company.team"))
        .unwrap()
        .into_iter()
        .map(|v| (v.metadata.key, v.metadata.namespace.is_none()))
        .collect();
    assert_eq!(
        visible,
        [
            ("OWN".to_owned(), false),
            ("api".to_owned(), true),
            ("db".to_owned(), false),
            ("prod_CACHE".to_owned(), true)
        ]
    );
    let err = reader
        .put(
            "main",
            &ns("company"),
            "api",
            SecretWrite::new(SecretValue::new("x")),
            &who(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");

    // Without read-only, the shared paths are not Saker's and are not read.
    assert!(resolves(&writer, "other", "api").is_none());

    // filter-on-prefix over the same layout.
    let mut filtered = section;
    filtered["filter-on-prefix"] = json!({"prefix": "prod_"});
    let reader = service(&config(
        json!({"type": "vault", "read-only": true, "vault": filtered}),
    ));
    assert!(same(
        &resolves(&reader, "other", "CACHE").unwrap(),
        "cache-value-3"
    ));
    assert!(resolves(&reader, "other", "api").is_none());
    assert_eq!(keys(&reader, "other"), ["CACHE"]);
}

#[test]
fn stale_if_error_serves_the_last_value_only_when_set() {
    let Some(moto) = moto() else { return };
    let section = aws_section(&moto.endpoint);
    let cache = |stale: bool| {
        json!({"enabled": true, "maximum-size": 10, "expire-after-write": "1ms",
            "stale-if-error": stale})
    };
    let closed = service(&config(json!({"type": "aws-secret-manager",
        "aws-secret-manager": section.clone(), "cache": cache(false)})));
    let stale = service(&config(json!({"type": "aws-secret-manager",
        "aws-secret-manager": section, "cache": cache(true)})));
    closed
        .put(
            "main",
            &ns("company"),
            "API_KEY",
            SecretWrite::new(SecretValue::new("stale-value-77")),
            &who(),
        )
        .unwrap();
    for service in [&closed, &stale] {
        assert!(same(
            &resolves(service, "company", "API_KEY").unwrap(),
            "stale-value-77"
        ));
    }
    drop(moto);
    // Past the 1 ms time to live, both ask the backend, which is gone.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let err = closed
        .resolve("main", &ns("company"), "API_KEY", None, &who())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("aws-secret-manager") && err.contains("API_KEY"),
        "{err}"
    );
    assert!(!err.contains("stale-value-77"));
    assert!(same(
        &resolves(&stale, "company", "API_KEY").unwrap(),
        "stale-value-77"
    ));
}

#[test]
fn filter_configuration_errors_name_the_key() {
    let err = SecretConfig::from_value_with_env(
        json!({"type": "vault", "vault": {"address": "http://v:8200", "token": {"token": "t"},
            "filter-on-prefix": {"prefix": "prod_"}}}),
        &|_| None,
    )
    .unwrap_err();
    assert_eq!(err.key, "secret.vault.filter-on-tags");
    assert!(err.message.contains("read-only"), "{err}");
    let err = SecretConfig::from_value_with_env(
        json!({"type": "vault", "read-only": true, "vault": {"address": "http://v:8200",
            "token": {"token": "t"}, "filter-on-prefix": {"prefix": ""}}}),
        &|_| None,
    )
    .unwrap_err();
    assert_eq!(err.key, "secret.vault.filter-on-prefix.prefix");
    let err = SecretConfig::from_value_with_env(
        json!({"type": "vault", "read-only": true, "vault": {"address": "http://v:8200",
            "token": {"token": "t"}, "filter-on-tags": {"tag": {"a": "b"}}}}),
        &|_| None,
    )
    .unwrap_err();
    assert!(
        err.key.starts_with("secret.vault.filter-on-tags"),
        "{}",
        err.key
    );
    // Filters of a section that is not the selected backend are not read.
    let config = SecretConfig::from_value_with_env(
        json!({"type": "jdbc", "vault": {"filter-on-prefix": {"prefix": "p"}}}),
        &|_| None,
    )
    .unwrap();
    assert!(config.filter.is_empty());
}

#[test]
fn default_tags_are_written_on_every_write_to_aws() {
    let Some(moto) = moto() else { return };
    let plain = service(&config(
        json!({"type": "aws-secret-manager", "aws-secret-manager": aws_section(&moto.endpoint)}),
    ));
    let company = ns("company");
    plain
        .put(
            "main",
            &company,
            "OLD",
            tagged("old-value-1", &[("team", "data")]),
            &who(),
        )
        .unwrap();
    let mut section = aws_section(&moto.endpoint);
    section["tags"] = json!({"application": "saker-production", "team": "default-team"});
    let tagging = service(&config(
        json!({"type": "aws-secret-manager", "aws-secret-manager": section}),
    ));
    // A secret from before the defaults gains those it lacks and keeps its own.
    let meta = tagging
        .put(
            "main",
            &company,
            "OLD",
            SecretWrite::new(SecretValue::new("old-value-2")),
            &who(),
        )
        .unwrap();
    assert_eq!(meta.tags["application"], "saker-production");
    assert_eq!(meta.tags["team"], "data");
    let stored = plain.metadata("main", &company, "OLD").unwrap().unwrap();
    assert_eq!(stored.tags["application"], "saker-production", "in AWS");
    // A new secret gets them all.
    let meta = tagging
        .put(
            "main",
            &company,
            "NEW",
            SecretWrite::new(SecretValue::new("new-value-3")),
            &who(),
        )
        .unwrap();
    assert_eq!(meta.tags["team"], "default-team");
}

/// Creates a secret in moto the way an organisation would, outside Saker (moto does not
/// check signatures).
fn aws_create(endpoint: &str, name: &str, value: &str, tags: &[(&str, &str)]) {
    let tags: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    let body = json!({"Name": name, "SecretString": value, "Tags": tags}).to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(endpoint)
            .header("X-Amz-Target", "secretsmanager.CreateSecret")
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
}

#[test]
fn aws_read_only_reads_secrets_tagged_by_namespace_and_key() {
    let Some(moto) = moto() else { return };
    let endpoint = moto.endpoint.as_str();
    aws_create(
        endpoint,
        "billing-db-password",
        "tagged-db-value-1",
        &[
            ("namespace", "company"),
            ("key", "DB_PASSWORD"),
            ("prefix", "ro-test"),
        ],
    );
    aws_create(
        endpoint,
        "other-prefix-secret",
        "other-prefix-value-2",
        &[
            ("namespace", "company"),
            ("key", "OTHER"),
            ("prefix", "elsewhere"),
        ],
    );
    aws_create(
        endpoint,
        "sales-tenant-secret",
        "sales-tenant-value-3",
        &[
            ("namespace", "company"),
            ("key", "SALES"),
            ("prefix", "ro-test"),
            ("tenant", "sales"),
        ],
    );
    let writer = service(&config(
        json!({"type": "aws-secret-manager", "aws-secret-manager": aws_section(endpoint)}),
    ));
    writer
        .put(
            "main",
            &ns("company"),
            "OWN",
            SecretWrite::new(SecretValue::new("own-aws-value-4")),
            &who(),
        )
        .unwrap();
    // Not read-only: only Saker's layout.
    assert!(resolves(&writer, "company.team", "DB_PASSWORD").is_none());

    let reader = service(&config(
        json!({"type": "aws-secret-manager", "read-only": true,
        "aws-secret-manager": aws_section(endpoint)}),
    ));
    assert!(same(
        &resolves(&reader, "company.team", "DB_PASSWORD").unwrap(),
        "tagged-db-value-1"
    ));
    assert!(same(
        &resolves(&reader, "company.team", "OWN").unwrap(),
        "own-aws-value-4"
    ));
    assert!(
        resolves(&reader, "company", "OTHER").is_none(),
        "other prefix"
    );
    assert!(
        resolves(&reader, "company", "SALES").is_none(),
        "other tenant"
    );
    let sales = reader
        .resolve("sales", &ns("company"), "SALES", None, &who())
        .unwrap();
    assert!(same(&sales.value, "sales-tenant-value-3"));
    assert_eq!(keys(&reader, "company"), ["DB_PASSWORD", "OWN"]);
    let meta = reader
        .metadata("main", &ns("company"), "DB_PASSWORD")
        .unwrap()
        .unwrap();
    assert_eq!(meta.tags["key"], "DB_PASSWORD");
}

#[test]
fn vault_kv1_read_only_layout() {
    let vault = VaultServer::start();
    vault_post(
        &vault,
        "kv/app1/api",
        json!({"API_TOKEN": "kv1-token-3391", "OTHER": "kv1-other"}),
    );
    let reader = service(&config(
        json!({"type": "vault", "read-only": true, "vault": {
        "address": vault.address, "token": {"token": ROOT_TOKEN}, "root-engine": "kv",
        "engine-version": 1, "secret-path-prefix": "app1"}}),
    ));
    let api = resolves(&reader, "company.team", "api").unwrap();
    let fields: Value = serde_json::from_str(api.expose()).unwrap();
    assert!(fields["API_TOKEN"] == "kv1-token-3391");
    assert_eq!(keys(&reader, "company"), ["api"]);
}
