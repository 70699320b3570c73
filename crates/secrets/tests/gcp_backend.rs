//! The Google Secret Manager backend against the test server of `tests/gcp/server.rs`:
//! through the secret service (set, inheritance, versions, check-and-set, soft delete as a
//! disabled version, restore, rollback, destroy, listing exactly one namespace, audit),
//! labels and annotations as Google holds them, the service account's token fetched once
//! and again when refused, read-only, an outage, configuration in both spellings and from
//! GOOGLE_APPLICATION_CREDENTIALS, and Google's Python client run against the same server,
//! reading what Saker wrote.

mod common;
#[path = "gcp/server.rs"]
mod server;

use common::{service, who, write};
use std::collections::BTreeMap;
use std::sync::Arc;

use common::{ns, same};
use saker_secrets::gcp::GcpSecretStore;
use saker_secrets::{SecretConfig, SecretState, SecretStore, ServiceError, StoreError};
use saker_store::{AuditFilter, AuditLog};
use serde_json::{Value, json};
use server::GcpServer;

fn config(section: Value, read_only: bool) -> SecretConfig {
    SecretConfig::from_value_with_env(
        json!({"type": "google-secret-manager", "read-only": read_only,
            "google-secret-manager": section}),
        &|_| None,
    )
    .unwrap()
}

fn section(gcp: &GcpServer) -> Value {
    json!({"project": server::PROJECT, "serviceAccount": gcp.service_account_json(),
        "prefix": "saker", "endpoint": gcp.address, "tags": {"owner": "platform"}})
}

fn store(config: &SecretConfig) -> Arc<GcpSecretStore> {
    Arc::new(GcpSecretStore::new(config.gcp.clone().unwrap()).unwrap())
}

#[test]
fn lifecycle_through_the_service() {
    let gcp = GcpServer::start();
    let config = config(section(&gcp), false);
    let backend = store(&config);
    let (service, db) = service(&config, backend.clone());
    let company = ns("company");

    let mut first = write("first-value", Some(0));
    first.update.description = Some(Some("the API key".into()));
    let meta = service
        .put("main", &company, "API_KEY", first, &who())
        .unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.tags.get("owner").map(String::as_str), Some("platform"));
    assert_eq!(meta.description.as_deref(), Some("the API key"));
    // Saker's layout, as Google holds it.
    let id = "saker--main--company--API_KEY";
    assert_eq!(gcp.latest_value(id).as_deref(), Some("first-value"));
    let (labels, annotations) = gcp.labels_and_annotations(id).unwrap();
    assert_eq!(labels, json!({"owner": "platform"}));
    assert_eq!(annotations["saker-namespace"], "company");
    assert_eq!(annotations["saker-key"], "API_KEY");
    assert_eq!(annotations["saker-description"], "the API key");

    // Inherited by a child namespace.
    let found = service
        .resolve("main", &ns("company.team"), "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-value"));
    assert_eq!(found.namespace, company);

    // Versions are Google's; check-and-set compares the latest.
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
    assert_eq!(meta.description.as_deref(), Some("the API key"), "kept");
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

    // A list holds exactly the namespace's secrets (pages of 100 followed), not a child's.
    service
        .put(
            "main",
            &ns("company.team"),
            "OTHER",
            write("child-value", None),
            &who(),
        )
        .unwrap();
    service
        .put(
            "main",
            &company,
            "db.pass-word",
            write("second-key", None),
            &who(),
        )
        .unwrap();
    assert!(
        gcp.secret_ids()
            .contains(&"saker--main--company--db-2epass-2dword".to_owned()),
        "{:?}",
        gcp.secret_ids()
    );
    let listed: Vec<String> = service
        .list("main", &company)
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, ["API_KEY", "db.pass-word"]);
    assert!(service.list("other", &company).unwrap().is_empty());

    // Soft delete disables the latest version: resolution goes on (to nothing here).
    assert!(service.delete("main", &company, "API_KEY", &who()).unwrap());
    assert!(!backend.delete("main", &company, "API_KEY").unwrap());
    assert!(
        service
            .resolve("main", &company, "API_KEY", None, &who())
            .is_err()
    );
    let deleted = service
        .metadata("main", &company, "API_KEY")
        .unwrap()
        .unwrap();
    assert!(matches!(deleted.state, SecretState::Deleted { .. }));
    let restored = service
        .restore("main", &company, "API_KEY", &who())
        .unwrap();
    assert_eq!(restored.state, SecretState::Active);
    let found = service
        .resolve("main", &company, "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "second-value"));

    // Rollback adds version 1's value as version 3.
    let meta = service
        .rollback("main", &company, "API_KEY", 1, &who())
        .unwrap();
    assert_eq!(meta.version, 3);
    let found = service
        .resolve("main", &company, "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-value"));
    let err = service
        .rollback("main", &company, "API_KEY", 9, &who())
        .unwrap_err();
    assert!(err.to_string().contains("no available version 9"), "{err}");

    // Destroy deletes the secret and every version.
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
    assert_eq!(gcp.latest_value(id), None);
    assert!(!backend.destroy("main", &company, "API_KEY").unwrap());

    // One token served every call.
    assert_eq!(backend.tokens_fetched(), 1);
    assert_eq!(gcp.controls(|c| c.tokens_issued), 1);

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
fn tokens_are_fetched_again_when_refused_or_due() {
    let gcp = GcpServer::start();
    let config = config(section(&gcp), false);
    let backend = store(&config);
    let team = ns("team");
    backend
        .put("main", &team, "K", write("the-value", None))
        .unwrap();
    assert_eq!(backend.tokens_fetched(), 1);
    // Google no longer honours the token: 401, a new token, the same call.
    gcp.revoke_tokens();
    assert!(backend.metadata("main", &team, "K").unwrap().is_some());
    assert_eq!(backend.tokens_fetched(), 2);
    // A token that lives less than the renewal margin is renewed at two thirds of its life.
    gcp.controls(|c| c.token_lifetime = 1);
    gcp.revoke_tokens();
    assert!(backend.metadata("main", &team, "K").unwrap().is_some());
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert!(backend.metadata("main", &team, "K").unwrap().is_some());
    assert!(gcp.controls(|c| c.tokens_issued) >= 4);
}

#[test]
fn read_only_refuses_writes_and_reads_what_google_holds() {
    let gcp = GcpServer::start();
    let writable = config(section(&gcp), false);
    store(&writable)
        .put("main", &ns("company"), "API_KEY", write("held-value", None))
        .unwrap();
    let read_only = config(section(&gcp), true);
    let backend =
        saker_secrets::apply_read_only(&read_only, saker_secrets::open_remote(&read_only).unwrap());
    let (service, _db) = service(&read_only, backend);
    let found = service
        .resolve("main", &ns("company.team"), "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "held-value"));
    assert_eq!(service.list("main", &ns("company")).unwrap().len(), 1);
    let err = service
        .put(
            "main",
            &ns("company"),
            "API_KEY",
            write("new-value", None),
            &who(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    assert!(err.to_string().contains("google-secret-manager"), "{err}");
    assert_eq!(
        gcp.latest_value("saker--main--company--API_KEY").as_deref(),
        Some("held-value")
    );
}

#[test]
fn a_secret_manager_that_is_down_fails_closed_naming_backend_and_key() {
    let gcp = GcpServer::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut section = section(&gcp);
    section["endpoint"] = json!(format!("http://127.0.0.1:{port}"));
    let down = config(section, false);
    let (service, db) = service(&down, store(&down));
    let err = service
        .resolve("main", &ns("company.team"), "DB_PASSWORD", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("google-secret-manager"), "{text}");
    assert!(text.contains("DB_PASSWORD"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let last = db
        .list_audit(&AuditFilter::default())
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.event.outcome, "failed");

    // A key the token endpoint refuses: the error names the account, never the key.
    let other = GcpServer::start();
    let mut wrong = section_for_other_server(&gcp, &other);
    wrong["prefix"] = json!("x");
    let refused = config(wrong, false);
    let err = store(&refused)
        .get("main", &ns("company"), "K")
        .unwrap_err()
        .to_string();
    assert!(err.contains(server::CLIENT_EMAIL), "{err}");
    assert!(err.contains("invalid_grant"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
}

/// `gcp`'s key file with `other` as its API endpoint and `other`'s token endpoint, whose
/// expected audience (its own URL) the JWT made for `gcp` does not match.
fn section_for_other_server(gcp: &GcpServer, other: &GcpServer) -> Value {
    let mut key: Value = serde_json::from_str(&gcp.service_account_json()).unwrap();
    key["token_uri"] = json!(format!("{}/token?aud=elsewhere", other.address));
    json!({"project": server::PROJECT, "serviceAccount": key.to_string(),
        "endpoint": other.address})
}

#[test]
fn configuration_in_both_spellings_and_from_the_key_file() {
    let gcp = GcpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.json");
    std::fs::write(&file, gcp.service_account_json()).unwrap();
    let path = file.display().to_string();
    let env = move |name: &str| (name == "GOOGLE_APPLICATION_CREDENTIALS").then(|| path.clone());
    // The project comes from the key file when the section has none.
    let config = SecretConfig::from_value_with_env(
        json!({"type": "google-secret-manager",
            "google-secret-manager": {"endpoint": gcp.address, "prefix": "p"}}),
        &env,
    )
    .unwrap();
    let section = config.gcp.clone().unwrap();
    assert_eq!(section.project, server::PROJECT);
    assert!(!format!("{config:?}").contains("PRIVATE KEY"));
    store(&config)
        .put("main", &ns("a"), "K", write("from-file", None))
        .unwrap();
    assert_eq!(
        gcp.latest_value("p--main--a--K").as_deref(),
        Some("from-file")
    );
    let kebab = SecretConfig::from_value_with_env(
        json!({"type": "google-secret-manager", "googleSecretManager": {
            "project-id": "p1", "service-account": gcp.service_account_json()}}),
        &|_| None,
    )
    .unwrap();
    assert_eq!(
        kebab.gcp.unwrap().endpoint,
        "https://secretmanager.googleapis.com"
    );

    for (section, key, hint) in [
        (
            json!({"project": "p"}),
            "serviceAccount",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ),
        (
            json!({"serviceAccount": "{\"type\": \"service_account\", \"private_key\": \"hunter2\"}"}),
            "serviceAccount",
            "client_email",
        ),
        (
            json!({"serviceAccount": "not json hunter2"}),
            "serviceAccount",
            "not JSON",
        ),
        (
            json!({"serviceAccount": gcp.service_account_json(), "prefix": "a--b"}),
            "prefix",
            "--",
        ),
        (
            json!({"serviceAccount": gcp.service_account_json(), "prefix": "a.b"}),
            "prefix",
            "'.'",
        ),
    ] {
        let err = SecretConfig::from_value_with_env(
            json!({"type": "google-secret-manager", "google-secret-manager": section}),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(
            err.key,
            format!("secret.google-secret-manager.{key}"),
            "{err}"
        );
        assert!(err.message.contains(hint), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    let mut bad_key: Value = serde_json::from_str(&gcp.service_account_json()).unwrap();
    bad_key["private_key"] =
        json!("-----BEGIN PRIVATE KEY-----\nhunter2\n-----END PRIVATE KEY-----\n");
    let err = SecretConfig::from_value_with_env(
        json!({"type": "google-secret-manager",
            "google-secret-manager": {"serviceAccount": bad_key.to_string()}}),
        &|_| None,
    )
    .unwrap_err();
    assert!(err.message.contains("not an RSA private key"), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn labels_outside_google_rules_are_refused_naming_the_tag() {
    let gcp = GcpServer::start();
    let config = config(section(&gcp), false);
    let mut write = write("v", None);
    write.update.tags = Some(BTreeMap::from([("Team".to_owned(), "a".to_owned())]));
    let err = store(&config)
        .put("main", &ns("a"), "K", write)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tag 'Team'") && err.contains("Google label"),
        "{err}"
    );
}

const CLIENT_SCRIPT: &str = r#"
import sys, json
from google.cloud import secretmanager
from google.oauth2 import service_account
from google.api_core import exceptions
import google.auth.transport.requests
endpoint, key_file = sys.argv[1], sys.argv[2]
info = json.load(open(key_file))
# The token endpoint, as google-auth exchanges its JWT there.
exchanged = service_account.Credentials.from_service_account_info(
    info, scopes=['https://www.googleapis.com/auth/cloud-platform'])
exchanged.refresh(google.auth.transport.requests.Request())
assert exchanged.token.startswith('ya29.'), 'no access token'
creds = service_account.Credentials.from_service_account_info(
    info, scopes=['https://www.googleapis.com/auth/cloud-platform'])
c = secretmanager.SecretManagerServiceClient(
    credentials=creds, transport='rest', client_options={'api_endpoint': endpoint})
project = 'projects/test-project'
# What Saker wrote, read by Google's client.
saker = 'projects/test-project/secrets/saker--main--company--FROM_SAKER'
got = c.access_secret_version(name=saker + '/versions/latest')
assert got.payload.data == b'written-by-saker', 'saker value'
assert got.name.endswith('/versions/2'), got.name
meta = c.get_secret(name=saker)
assert meta.labels['owner'] == 'platform', meta.labels
assert meta.annotations['saker-key'] == 'FROM_SAKER', meta.annotations
# Google's client writes; Saker's layout is just ids to it.
s = c.create_secret(parent=project, secret_id='py-secret',
    secret={'replication': {'automatic': {}}, 'labels': {'team': 'py'}})
assert s.name == project + '/secrets/py-secret'
try:
    c.create_secret(parent=project, secret_id='py-secret',
        secret={'replication': {'automatic': {}}})
    raise SystemExit('a second create did not conflict')
except exceptions.Conflict as e:
    assert 'already exists' in str(e), e
v1 = c.add_secret_version(parent=s.name, payload={'data': b'one'})
v2 = c.add_secret_version(parent=s.name, payload={'data': b'two'})
assert v2.state == secretmanager.SecretVersion.State.ENABLED
assert c.access_secret_version(name=s.name + '/versions/latest').payload.data == b'two'
c.disable_secret_version(name=v2.name)
try:
    c.access_secret_version(name=s.name + '/versions/latest')
    raise SystemExit('a disabled version was readable')
except exceptions.BadRequest as e:
    assert 'DISABLED state' in str(e), e
c.enable_secret_version(name=v2.name)
c.destroy_secret_version(name=v1.name)
versions = list(c.list_secret_versions(request={'parent': s.name, 'page_size': 1}))
assert [v.state for v in versions] == [secretmanager.SecretVersion.State.ENABLED,
    secretmanager.SecretVersion.State.DESTROYED], versions
c.update_secret(secret={'name': s.name, 'labels': {'team': 'other'}},
    update_mask={'paths': ['labels']})
assert c.get_secret(name=s.name).labels['team'] == 'other'
names = [x.name for x in c.list_secrets(request={'parent': project, 'page_size': 1})]
assert saker in names and s.name in names, names
c.delete_secret(name=s.name)
try:
    c.get_secret(name=s.name)
    raise SystemExit('a deleted secret was found')
except exceptions.NotFound:
    pass
print('google-cloud-secret-manager agrees')
"#;

#[test]
fn googles_client_agrees_with_the_test_server() {
    let Some(python) = std::env::var_os("SAKER_CLOUD_SECRETS_PYTHON") else {
        println!(
            "SKIPPED: SAKER_CLOUD_SECRETS_PYTHON is not set (source scripts/peers/cloud-secrets.sh)"
        );
        return;
    };
    let gcp = GcpServer::start();
    let config = config(section(&gcp), false);
    let backend = store(&config);
    for value in ["first", "written-by-saker"] {
        let mut write = write(value, None);
        write.update.tags = Some(BTreeMap::from([(
            "owner".to_owned(),
            "platform".to_owned(),
        )]));
        backend
            .put("main", &ns("company"), "FROM_SAKER", write)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    std::fs::write(&key_file, gcp.service_account_json()).unwrap();
    let out = std::process::Command::new(python)
        .args([
            "-c",
            CLIENT_SCRIPT,
            &gcp.address,
            key_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("google-cloud-secret-manager agrees"),
        "{shown}"
    );
    // google-auth's JWT was exchanged at the token endpoint as Saker's is, and the client
    // then called with self-signed JWTs (its default), checked with the same key.
    assert_eq!(gcp.controls(|c| c.tokens_issued), 2);
    assert!(gcp.controls(|c| c.self_signed_jwts) > 0);
}
