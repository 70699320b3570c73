//! The Azure Key Vault backend against the HTTPS test server of `tests/azure/server.rs`:
//! through the secret service (set, inheritance, versions as tagged Key Vault versions,
//! check-and-set, soft delete, recovery, rollback, destroy with purge, listing exactly one
//! namespace, audit), names as Azure holds them, the client-credentials token fetched once
//! and again when refused, read-only, an outage, configuration in both spellings and from
//! the environment, and Microsoft's Python clients run against the same server, reading
//! what Saker wrote.

mod common;
#[path = "azure/server.rs"]
mod server;

use common::{service, who, write};
use std::sync::Arc;

use common::{ns, same};
use saker_secrets::azure::AzureSecretStore;
use saker_secrets::{SecretConfig, SecretState, SecretStore, ServiceError, StoreError};
use saker_store::{AuditFilter, AuditLog};
use serde_json::{Value, json};
use server::AzureServer;

/// The server and its CA file (kept alive with it).
struct Vault {
    server: AzureServer,
    _dir: tempfile::TempDir,
    ca_file: String,
}

fn vault() -> Vault {
    let server = AzureServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &server.ca_pem).unwrap();
    Vault {
        server,
        ca_file: path.display().to_string(),
        _dir: dir,
    }
}

fn section(vault: &Vault) -> Value {
    json!({"clientSecret": {"tenantId": server::TENANT_ID, "clientId": server::CLIENT_ID,
            "clientSecret": server::CLIENT_SECRET},
        "keyVaultUri": vault.server.address, "authority": vault.server.address,
        "caFile": vault.ca_file, "prefix": "saker", "tags": {"owner": "platform"}})
}

fn config(section: Value, read_only: bool) -> SecretConfig {
    SecretConfig::from_value_with_env(
        json!({"type": "azure-key-vault", "read-only": read_only, "azure-key-vault": section}),
        &|_| None,
    )
    .unwrap()
}

fn store(config: &SecretConfig) -> Arc<AzureSecretStore> {
    Arc::new(AzureSecretStore::new(config.azure.clone().unwrap()).unwrap())
}

const API_KEY: &str = "saker--main--company---uapi-5fkey";

#[test]
fn lifecycle_through_the_service() {
    let vault = vault();
    let azure = &vault.server;
    let config = config(section(&vault), false);
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
    // Saker's layout, as Key Vault holds it.
    let (value, tags) = azure.current(API_KEY).unwrap();
    assert_eq!(value, "first-value");
    assert_eq!(tags["saker-key"], "API_KEY");
    assert_eq!(tags["saker-namespace"], "company");
    assert_eq!(tags["saker-version"], "1");
    assert_eq!(tags["owner"], "platform");

    // Inherited by a child namespace.
    let found = service
        .resolve("main", &ns("company.team"), "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-value"));
    assert_eq!(found.namespace, company);

    // Each write is a Key Vault version numbered by its tag.
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

    // Keys that differ only in case are two secrets in a case-blind vault.
    service
        .put(
            "main",
            &company,
            "api_key",
            write("lower-case", None),
            &who(),
        )
        .unwrap();
    // A list holds exactly the namespace's secrets (pages of 25 followed), not a child's.
    service
        .put(
            "main",
            &ns("company.team"),
            "OTHER",
            write("child-value", None),
            &who(),
        )
        .unwrap();
    for n in 0..30 {
        service
            .put(
                "main",
                &ns("bulk"),
                &format!("K{n}"),
                write("bulk", None),
                &who(),
            )
            .unwrap();
    }
    let listed: Vec<String> = service
        .list("main", &company)
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, ["API_KEY", "api_key"]);
    assert_eq!(service.list("main", &ns("bulk")).unwrap().len(), 30);
    let found = service
        .resolve("main", &company, "api_key", None, &who())
        .unwrap();
    assert!(same(&found.value, "lower-case"));

    // Soft delete is Key Vault's: absent to reads, listed as deleted, recoverable.
    assert!(service.delete("main", &company, "API_KEY", &who()).unwrap());
    assert!(azure.is_deleted(API_KEY));
    assert!(!backend.delete("main", &company, "API_KEY").unwrap());
    assert!(
        service
            .resolve("main", &company, "API_KEY", None, &who())
            .is_err()
    );
    let listed = service.list("main", &company).unwrap();
    let deleted = listed.iter().find(|m| m.key == "API_KEY").unwrap();
    assert!(matches!(deleted.state, SecretState::Deleted { .. }));
    let restored = service
        .restore("main", &company, "API_KEY", &who())
        .unwrap();
    assert_eq!((restored.state, restored.version), (SecretState::Active, 2));

    // Writing over a soft-deleted secret recovers it first: the next version.
    assert!(service.delete("main", &company, "API_KEY", &who()).unwrap());
    let meta = service
        .put(
            "main",
            &company,
            "API_KEY",
            write("third-value", Some(0)),
            &who(),
        )
        .unwrap();
    assert_eq!(meta.version, 3);

    // Rollback writes version 1's value as version 4.
    let meta = service
        .rollback("main", &company, "API_KEY", 1, &who())
        .unwrap();
    assert_eq!(meta.version, 4);
    let found = service
        .resolve("main", &company, "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-value"));

    // Destroy deletes and purges.
    assert!(
        service
            .destroy("main", &company, "API_KEY", &who())
            .unwrap()
    );
    assert!(!azure.is_deleted(API_KEY));
    assert!(azure.current(API_KEY).is_none());
    assert!(
        service
            .metadata("main", &company, "API_KEY")
            .unwrap()
            .is_none()
    );
    assert!(!backend.destroy("main", &company, "API_KEY").unwrap());

    // One token served every call.
    assert_eq!(backend.tokens_fetched(), 1);
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
fn tokens_are_fetched_again_when_refused() {
    let vault = vault();
    let config = config(section(&vault), false);
    let backend = store(&config);
    let team = ns("team");
    backend
        .put("main", &team, "K", write("the-value", None))
        .unwrap();
    assert_eq!(backend.tokens_fetched(), 1);
    vault.server.revoke_tokens();
    assert!(backend.metadata("main", &team, "K").unwrap().is_some());
    assert_eq!(backend.tokens_fetched(), 2);
    assert_eq!(vault.server.controls(|c| c.tokens_issued), 2);
}

#[test]
fn read_only_refuses_writes_and_reads_what_the_vault_holds() {
    let vault = vault();
    let writable = config(section(&vault), false);
    store(&writable)
        .put("main", &ns("company"), "API_KEY", write("held-value", None))
        .unwrap();
    let read_only = config(section(&vault), true);
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
    assert!(err.to_string().contains("azure-key-vault"), "{err}");
    assert_eq!(vault.server.current(API_KEY).unwrap().0, "held-value");
}

#[test]
fn a_vault_that_is_down_or_refuses_fails_closed_naming_backend_and_key() {
    let vault = vault();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut down = section(&vault);
    down["keyVaultUri"] = json!(format!("https://127.0.0.1:{port}"));
    let down = config(down, false);
    let (service, db) = service(&down, store(&down));
    let err = service
        .resolve("main", &ns("company.team"), "DB_PASSWORD", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("azure-key-vault"), "{text}");
    assert!(text.contains("DB_PASSWORD"), "{text}");
    let last = db
        .list_audit(&AuditFilter::default())
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.event.outcome, "failed");

    // A wrong client secret: Microsoft's message, the client id, never the secret.
    let mut wrong = section(&vault);
    wrong["clientSecret"]["clientSecret"] = json!("wrong-secret-hunter2");
    let wrong = config(wrong, false);
    let err = store(&wrong)
        .get("main", &ns("company"), "K")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("azure-key-vault") && err.contains("'K'"),
        "{err}"
    );
    assert!(
        err.contains("invalid_client") && err.contains(server::CLIENT_ID),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");

    // Without the CA file the test server's certificate is not trusted.
    let mut untrusted = section(&vault);
    untrusted.as_object_mut().unwrap().remove("caFile");
    let untrusted = config(untrusted, false);
    let err = store(&untrusted)
        .get("main", &ns("company"), "K")
        .unwrap_err()
        .to_string();
    assert!(err.contains("certificate"), "{err}");
}

#[test]
fn configuration_in_both_spellings_and_from_the_environment() {
    let kebab = SecretConfig::from_value_with_env(
        json!({"type": "azure-key-vault", "azure-key-vault": {
            "client-secret": {"tenant-id": "t1", "client-id": "c1", "client-secret": "s1"},
            "vault-name": "my-vault", "prefix": "p"}}),
        &|_| None,
    )
    .unwrap();
    let section = kebab.azure.clone().unwrap();
    assert_eq!(section.vault_url, "https://my-vault.vault.azure.net");
    assert_eq!(section.authority, "https://login.microsoftonline.com");
    assert!(!format!("{kebab:?}").contains("s1\""));
    let env = |name: &str| match name {
        "AZURE_TENANT_ID" => Some("t2".to_owned()),
        "AZURE_CLIENT_ID" => Some("c2".to_owned()),
        "AZURE_CLIENT_SECRET" => Some("s2".to_owned()),
        _ => None,
    };
    let from_env = SecretConfig::from_value_with_env(
        json!({"type": "azure-key-vault", "azureKeyVault": {"vaultName": "v-one"}}),
        &env,
    )
    .unwrap();
    assert_eq!(from_env.azure.unwrap().client_id, "c2");

    for (section, key) in [
        (json!({"vaultName": "v-one"}), "clientSecret"),
        (
            json!({"clientSecret": {"tenantId": "t", "clientId": "c"}, "vaultName": "v-one"}),
            "clientSecret.clientSecret",
        ),
        (
            json!({"clientSecret": {"tenantId": "t", "clientId": "c", "clientSecret": "hunter2"}}),
            "vaultName",
        ),
        (
            json!({"clientSecret": {"tenantId": "t", "clientId": "c", "clientSecret": "hunter2"},
                "vaultName": "1-bad_name"}),
            "vaultName",
        ),
        (
            json!({"clientSecret": {"tenantId": "t", "clientId": "c", "clientSecret": "hunter2"},
                "vaultName": "v-one", "prefix": "a_b"}),
            "prefix",
        ),
        (
            json!({"clientSecret": {"tenantId": "t", "clientId": "c", "clientSecret": "hunter2"},
                "vaultName": "v-one", "caFile": "/no/such/ca.pem"}),
            "caFile",
        ),
    ] {
        let err = SecretConfig::from_value_with_env(
            json!({"type": "azure-key-vault", "azure-key-vault": section}),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(err.key, format!("secret.azure-key-vault.{key}"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[test]
fn names_too_long_for_azure_are_refused_naming_the_key() {
    let vault = vault();
    let config = config(section(&vault), false);
    let key = "K".repeat(120);
    let err = store(&config)
        .put("main", &ns("company"), &key, write("v", None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("127") && err.contains(&key), "{err}");
}

const CLIENT_SCRIPT: &str = r#"
import sys
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from azure.core.exceptions import ResourceNotFoundError, ResourceExistsError, HttpResponseError
url, ca = sys.argv[1], sys.argv[2]
cred = ClientSecretCredential('test-tenant', 'saker-client', 'client-secret-value',
    authority=url, connection_verify=ca, disable_instance_discovery=True)
c = SecretClient(vault_url=url, credential=cred, connection_verify=ca,
    verify_challenge_resource=False)
# What Saker wrote, read by Microsoft's client.
saker = 'saker--main--company---ufrom-5fsaker'
got = c.get_secret(saker)
assert got.value == 'written-by-saker', 'saker value'
assert got.properties.tags['saker-version'] == '2', got.properties.tags
assert got.properties.tags['saker-key'] == 'FROM_SAKER'
versions = list(c.list_properties_of_secret_versions(saker))
assert sorted(v.tags['saker-version'] for v in versions) == ['1', '2'], versions
# Names are case-blind.
assert c.get_secret(saker.upper()).value == 'written-by-saker'
# Microsoft's client writes, lists, soft-deletes, recovers and purges.
s1 = c.set_secret('py-secret', 'one', tags={'team': 'py'})
s2 = c.set_secret('py-secret', 'two')
assert s1.properties.version != s2.properties.version
assert c.get_secret('py-secret', s1.properties.version).value == 'one'
c.update_secret_properties('py-secret', s1.properties.version, enabled=False)
try:
    c.get_secret('py-secret', s1.properties.version)
    raise SystemExit('a disabled version was readable')
except HttpResponseError as e:
    assert e.status_code == 403, e
for n in range(30):
    c.set_secret('bulk-%d' % n, 'v')
names = [p.name for p in c.list_properties_of_secrets()]
assert saker in names and 'py-secret' in names and len(names) == 32, names
c.begin_delete_secret('py-secret').wait()
assert c.get_deleted_secret('py-secret').name == 'py-secret'
try:
    c.set_secret('py-secret', 'three')
    raise SystemExit('a deleted name was reused')
except ResourceExistsError:
    pass
assert [d.name for d in c.list_deleted_secrets()] == ['py-secret']
c.begin_recover_deleted_secret('py-secret').wait()
assert c.get_secret('py-secret').value == 'two'
c.begin_delete_secret('py-secret').wait()
c.purge_deleted_secret('py-secret')
try:
    c.get_secret('py-secret')
    raise SystemExit('a purged secret was found')
except ResourceNotFoundError:
    pass
try:
    c.set_secret('not_valid', 'x')
    raise SystemExit('an invalid name was accepted')
except HttpResponseError as e:
    assert e.status_code == 400, e
print('azure-keyvault-secrets agrees')
"#;

#[test]
fn microsofts_client_agrees_with_the_test_server() {
    let Some(python) = std::env::var_os("SAKER_CLOUD_SECRETS_PYTHON") else {
        println!(
            "SKIPPED: SAKER_CLOUD_SECRETS_PYTHON is not set (source scripts/peers/cloud-secrets.sh)"
        );
        return;
    };
    let vault = vault();
    let config = config(section(&vault), false);
    let backend = store(&config);
    for value in ["first", "written-by-saker"] {
        backend
            .put("main", &ns("company"), "FROM_SAKER", write(value, None))
            .unwrap();
    }
    let out = std::process::Command::new(python)
        .args(["-c", CLIENT_SCRIPT, &vault.server.address, &vault.ca_file])
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("azure-keyvault-secrets agrees"), "{shown}");
    // The client met the challenge first, then fetched its token from the same endpoint.
    assert!(vault.server.controls(|c| c.challenges) > 0);
    assert!(vault.server.controls(|c| c.tokens_issued) >= 2);
}
