//! The Vault backend against the Vault test server of `tests/vault/server.rs`: KV v2 through
//! the secret service (inheritance, versions, check-and-set, soft delete, restore, rollback,
//! destroy, audit), KV v1, the three auth methods with renewal and logging in again, the
//! Enterprise namespace header, an outage, and hvac (HashiCorp's Python client) run against
//! the same server, reading what Saker wrote.

mod common;
#[path = "vault/server.rs"]
mod server;

use common::{service, who, write};
use std::sync::Arc;

use common::{ns, same};
use saker_secrets::vault::VaultSecretStore;
use saker_secrets::{SecretConfig, SecretStore, ServiceError, StoreError};
use saker_store::{AuditFilter, AuditLog};
use serde_json::{Value, json};
use server::{ROOT_TOKEN, VaultServer};

fn config(section: Value) -> SecretConfig {
    SecretConfig::from_value_with_env(json!({"type": "vault", "vault": section}), &|_| None)
        .unwrap()
}

fn store(config: &SecretConfig) -> Arc<VaultSecretStore> {
    Arc::new(VaultSecretStore::new(config.vault.clone().unwrap()).unwrap())
}

#[test]
fn kv2_lifecycle_through_the_service() {
    let vault = VaultServer::start();
    let config = config(
        json!({"address": vault.address, "token": {"token": ROOT_TOKEN},
        "namespace": "team-ns", "secret-path-prefix": "saker", "tags": {"owner": "platform"}}),
    );
    let (service, db) = service(&config, store(&config));
    let company = ns("company");

    let meta = service
        .put(
            "main",
            &company,
            "API_KEY",
            write("first-value", Some(0)),
            &who(),
        )
        .unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.tags.get("owner").map(String::as_str), Some("platform"));
    // Saker's layout, as Vault holds it.
    assert_eq!(
        vault.current_value("secret", "saker/main/company/API_KEY"),
        Some(json!({"value": "first-value"}))
    );
    // Inherited by a child namespace.
    let found = service
        .resolve("main", &ns("company.team"), "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-value"));
    assert_eq!(found.namespace, company);

    // Check-and-set is Vault's own.
    let meta = service
        .put(
            "main",
            &company,
            "API_KEY",
            write("second-value", Some(1)),
            &who(),
        )
        .unwrap();
    assert_eq!(meta.version, 2);
    let err = service
        .put(
            "main",
            &company,
            "API_KEY",
            write("lost-update", Some(1)),
            &who(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Store(StoreError::VersionConflict { actual: 2, .. })
        ),
        "{err}"
    );
    let versions = service.versions("main", &company, "API_KEY").unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    let listed = service.list("main", &company).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, "API_KEY");

    // Soft delete hides it (resolution goes on to the parent: none), restore brings it back.
    assert!(service.delete("main", &company, "API_KEY", &who()).unwrap());
    assert!(
        service
            .resolve("main", &company, "API_KEY", None, &who())
            .is_err()
    );
    service
        .restore("main", &company, "API_KEY", &who())
        .unwrap();
    let found = service
        .resolve("main", &company, "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "second-value"));

    // Rollback writes version 1's value as version 3.
    let meta = service
        .rollback("main", &company, "API_KEY", 1, &who())
        .unwrap();
    assert_eq!(meta.version, 3);
    let found = service
        .resolve("main", &company, "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-value"));

    // Destroy erases versions and metadata.
    assert!(
        service
            .destroy("main", &company, "API_KEY", &who())
            .unwrap()
    );
    assert!(
        service
            .metadata("main", &company, "API_KEY")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        vault.current_value("secret", "saker/main/company/API_KEY"),
        None
    );

    // Every request carried the Enterprise namespace; every access was audited.
    vault.controls(|c| {
        assert!(!c.namespaces.is_empty());
        assert!(c.namespaces.iter().all(|n| n.as_deref() == Some("team-ns")));
    });
    let audit = db.list_audit(&AuditFilter::default()).unwrap();
    let actions: Vec<String> = audit.iter().map(|r| r.event.action.clone()).collect();
    for action in ["write", "read", "delete", "restore", "rollback", "destroy"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    for record in &audit {
        let text = format!("{:?}", record.event);
        assert!(!text.contains("first-value") && !text.contains("second-value"));
    }
}

#[test]
fn userpass_renews_its_token_and_logs_in_again_after_revocation() {
    let vault = VaultServer::start();
    vault.controls(|c| c.login_ttl = 1);
    let config = config(json!({"address": vault.address,
        "password": {"user": "saker", "password": "user-password"}}));
    let store = store(&config);
    let team = ns("team");
    store
        .put("main", &team, "K", write("the-value", None))
        .unwrap();
    assert_eq!(vault.controls(|c| (c.logins, c.renewals)), (1, 0));

    // Past two thirds of the one-second lease the next call renews first.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(store.metadata("main", &team, "K").unwrap().is_some());
    assert_eq!(vault.controls(|c| c.renewals), 1);
    assert_eq!(store.session_counts().renewals, 1);

    // A token Vault no longer honours (expired, revoked): 403, log in again, same call.
    vault.revoke_issued_tokens();
    assert!(store.metadata("main", &team, "K").unwrap().is_some());
    assert_eq!(vault.controls(|c| c.logins), 2);
}

#[test]
fn approle_in_either_spelling_and_a_wrong_secret_id() {
    let vault = VaultServer::start();
    for section in [
        json!({"address": vault.address, "app-role": {"path": "approle", "role-id": "role-1",
            "secret-id": "secret-id-1"}}),
        json!({"address": vault.address, "appRole": {"path": "approle", "roleId": "role-1",
            "secretId": "secret-id-1"}}),
    ] {
        let config = config(section);
        let backend = saker_secrets::open_remote(&config).unwrap();
        assert_eq!(backend.backend_name(), "vault");
        backend
            .put("main", &ns("a"), "K", write("approle-value", None))
            .unwrap();
    }
    assert_eq!(vault.controls(|c| c.logins), 2);
    let config = config(
        json!({"address": vault.address, "app-role": {"path": "approle",
        "role-id": "role-1", "secret-id": "wrong-secret-id"}}),
    );
    let err = store(&config).get("main", &ns("a"), "K").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("vault") && text.contains("'K'"), "{text}");
    assert!(text.contains("invalid role or secret ID"), "{text}");
    assert!(!text.contains("wrong-secret-id"), "{text}");
}

#[test]
fn kv1_keeps_one_value_without_soft_delete() {
    let vault = VaultServer::start();
    let config = config(
        json!({"address": vault.address, "token": {"token": ROOT_TOKEN},
        "engine-version": 1, "root-engine": "kv"}),
    );
    let (service, _db) = service(&config, store(&config));
    let company = ns("company");
    service
        .put("main", &company, "K1", write("v1-value", None), &who())
        .unwrap();
    let found = service
        .resolve("main", &ns("company.x"), "K1", None, &who())
        .unwrap();
    assert!(same(&found.value, "v1-value"));
    assert_eq!(service.list("main", &company).unwrap().len(), 1);
    let err = service.delete("main", &company, "K1", &who()).unwrap_err();
    assert!(err.to_string().contains("does not support delete"), "{err}");
    assert!(service.destroy("main", &company, "K1", &who()).unwrap());
    assert!(
        service
            .resolve("main", &company, "K1", None, &who())
            .is_err()
    );
}

#[test]
fn a_vault_that_is_down_fails_closed_naming_backend_and_key() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config(json!({"address": format!("http://127.0.0.1:{port}"),
        "token": {"token": "down-token-value"}}));
    let (service, db) = service(&config, store(&config));
    let err = service
        .resolve("main", &ns("company.team"), "DB_PASSWORD", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("vault"), "{text}");
    assert!(text.contains("DB_PASSWORD"), "{text}");
    assert!(!text.contains("down-token-value"), "{text}");
    let last = db
        .list_audit(&AuditFilter::default())
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.event.outcome, "failed");
}

const HVAC_SCRIPT: &str = r#"
import sys, hvac
url, token = sys.argv[1], sys.argv[2]
c = hvac.Client(url=url, token=token)
kv = c.secrets.kv.v2
# What Saker wrote, read by hvac.
saker = kv.read_secret_version(path='saker/main/company/FROM_SAKER', mount_point='secret',
                               raise_on_deleted_version=True)
assert saker['data']['data'] == {'value': 'written-by-saker'}, 'saker value'
assert saker['data']['metadata']['version'] == 1
kv.create_or_update_secret(path='hv/app', secret={'value': 'v1'}, mount_point='secret')
kv.create_or_update_secret(path='hv/app', secret={'value': 'v2'}, cas=1, mount_point='secret')
try:
    kv.create_or_update_secret(path='hv/app', secret={'value': 'v3'}, cas=1, mount_point='secret')
    raise SystemExit('cas did not fail')
except hvac.exceptions.InvalidRequest:
    pass
assert kv.read_secret_version(path='hv/app', mount_point='secret',
    raise_on_deleted_version=True)['data']['data']['value'] == 'v2'
assert 'app' in kv.list_secrets(path='hv', mount_point='secret')['data']['keys']
kv.delete_latest_version_of_secret(path='hv/app', mount_point='secret')
try:
    kv.read_secret_version(path='hv/app', mount_point='secret', raise_on_deleted_version=True)
    raise SystemExit('deleted version was readable')
except hvac.exceptions.InvalidPath:
    pass
kv.undelete_secret_versions(path='hv/app', versions=[2], mount_point='secret')
kv.destroy_secret_versions(path='hv/app', versions=[1], mount_point='secret')
meta = kv.read_secret_metadata(path='hv/app', mount_point='secret')['data']
assert meta['current_version'] == 2 and meta['versions']['1']['destroyed'] is True
kv.delete_metadata_and_all_versions(path='hv/app', mount_point='secret')
try:
    kv.read_secret_metadata(path='hv/app', mount_point='secret')
    raise SystemExit('metadata survived')
except hvac.exceptions.InvalidPath:
    pass
# KV v1, tokens and the two login methods.
c.secrets.kv.v1.create_or_update_secret(path='one/k', secret={'value': 'x'}, mount_point='kv')
assert c.secrets.kv.v1.read_secret(path='one/k', mount_point='kv')['data'] == {'value': 'x'}
assert c.secrets.kv.v1.list_secrets(path='one', mount_point='kv')['data']['keys'] == ['k']
assert c.auth.token.lookup_self()['data']['id'] == token
u = hvac.Client(url=url)
u.auth.userpass.login(username='saker', password='user-password')
assert u.is_authenticated()
assert u.auth.token.renew_self()['auth']['renewable'] is True
a = hvac.Client(url=url)
a.auth.approle.login(role_id='role-1', secret_id='secret-id-1')
assert a.is_authenticated()
try:
    hvac.Client(url=url, token='not-a-token').secrets.kv.v2.read_secret_version(
        path='x', mount_point='secret', raise_on_deleted_version=True)
    raise SystemExit('a bad token was accepted')
except hvac.exceptions.Forbidden:
    pass
print('hvac agrees')
"#;

#[test]
fn hvac_agrees_with_the_test_server() {
    let Some(python) = std::env::var_os("SAKER_SECRET_PEERS_PYTHON") else {
        println!("SKIPPED: SAKER_SECRET_PEERS_PYTHON is not set (source scripts/peers/moto.sh)");
        return;
    };
    let vault = VaultServer::start();
    let config = config(
        json!({"address": vault.address, "token": {"token": ROOT_TOKEN},
        "secret-path-prefix": "saker"}),
    );
    store(&config)
        .put(
            "main",
            &ns("company"),
            "FROM_SAKER",
            write("written-by-saker", None),
        )
        .unwrap();
    let out = std::process::Command::new(python)
        .args(["-c", HVAC_SCRIPT, &vault.address, ROOT_TOKEN])
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("hvac agrees"), "{shown}");
}
