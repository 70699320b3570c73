//! The 1Password backend against the Connect test server of `tests/servers/onepassword.rs`,
//! through the secret service: items titled by Saker's layout with their password field,
//! notes and tags, versions as the item's, inheritance, check-and-set, destroy, read-only,
//! an outage and a refused token, and 1Password's official Python SDK
//! (`onepasswordconnectsdk`) run against the same server.

mod common;
#[path = "servers/harness.rs"]
mod harness;
mod servers;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{ns, same};
use harness::{who, write};
use saker_secrets::{SecretService, ServiceError, StoreError};
use saker_store::{AuditFilter, AuditLog, SqliteStore};
use serde_json::{Value, json};
use servers::onepassword::{ConnectServer, TOKEN, VAULT};

fn section(server: &ConnectServer) -> Value {
    json!({"address": server.address, "token": TOKEN, "vaultId": VAULT,
        "tags": {"owner": "platform"}})
}

fn service(section: Value, read_only: bool) -> (SecretService, Arc<SqliteStore>) {
    harness::open(json!({"type": "1password", "read-only": read_only, "1password": section}))
}

#[test]
fn lifecycle_through_the_service() {
    let connect = ConnectServer::start();
    let (service, db) = service(section(&connect), false);
    let company = ns("company");

    let mut first = write("first-value", Some(0));
    first.update.description = Some(Some("the API key".into()));
    first.update.tags = Some(BTreeMap::from([("team".to_owned(), "a".to_owned())]));
    let meta = service
        .put("main", &company, "API_KEY", first, &who())
        .unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.description.as_deref(), Some("the API key"));
    assert_eq!(meta.tags.get("owner").map(String::as_str), Some("platform"));
    // Saker's layout, as the vault holds it.
    let item = connect.item("main/company/API_KEY").unwrap();
    assert_eq!(item["category"], "PASSWORD");
    let password = item["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["purpose"] == "PASSWORD")
        .unwrap();
    assert_eq!(password["value"], "first-value");
    assert_eq!(password["type"], "CONCEALED");
    let tags = item["tags"].as_array().unwrap();
    assert!(
        tags.contains(&json!("saker")) && tags.contains(&json!("team=a")),
        "{tags:?}"
    );

    let found = service
        .resolve("main", &ns("company.team"), "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-value"));
    assert_eq!(found.namespace, company);

    // Versions are the item's; check-and-set compares them.
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
        .put("main", &company, "API_KEY", write("lost", Some(1)), &who())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Store(StoreError::VersionConflict { actual: 2, .. })
        ),
        "{err}"
    );
    let found = service
        .resolve("main", &company, "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "second-value"));

    // Listing: the namespace's items only.
    service
        .put(
            "main",
            &ns("company.team"),
            "CHILD",
            write("child", None),
            &who(),
        )
        .unwrap();
    service
        .put("main", &company, "SECOND", write("second", None), &who())
        .unwrap();
    let listed: Vec<String> = service
        .list("main", &company)
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, ["API_KEY", "SECOND"]);

    // Connect's delete is final: delete is refused, destroy removes the item.
    let err = service
        .delete("main", &company, "API_KEY", &who())
        .unwrap_err();
    assert!(err.to_string().contains("does not support delete"), "{err}");
    assert!(
        service
            .destroy("main", &company, "API_KEY", &who())
            .unwrap()
    );
    assert!(
        !service
            .destroy("main", &company, "API_KEY", &who())
            .unwrap()
    );
    assert!(connect.item("main/company/API_KEY").is_none());
    assert!(
        service
            .resolve("main", &company, "API_KEY", None, &who())
            .is_err()
    );

    for record in &db.list_audit(&AuditFilter::default()).unwrap() {
        let text = format!("{:?}", record.event);
        assert!(!text.contains("first-value") && !text.contains("second-value"));
    }
}

#[test]
fn read_only_refuses_writes_and_reads_the_vault() {
    let connect = ConnectServer::start();
    harness::assert_read_only(|read_only| service(section(&connect), read_only));
}

#[test]
fn outages_and_a_refused_token_fail_closed_naming_backend_and_key() {
    let port = servers::closed_port();
    let (down, db) = service(
        json!({"address": format!("http://127.0.0.1:{port}"), "token": "down-token-value",
            "vaultId": VAULT}),
        false,
    );
    harness::assert_fails_closed(&down, &db, "1password", "down-token-value");

    let connect = ConnectServer::start();
    let mut wrong = section(&connect);
    wrong["token"] = json!("wrong-token-value");
    let (refused, _db) = service(wrong, false);
    let err = refused
        .resolve("main", &ns("company"), "DB_PASSWORD", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("401") && text.contains("Invalid token signature"),
        "{text}"
    );
    assert!(!text.contains("wrong-token-value"), "{text}");
}

const PYTHON_CHECK: &str = r#"
import sys
from onepasswordconnectsdk import new_client
from onepasswordconnectsdk.models import Item, Field
url, token, vault = sys.argv[1:4]
client = new_client(url, token)
assert client.get_vault(vault).id == vault
# What Saker wrote, read by the SDK.
item = client.get_item_by_title('main/company/FROM_SAKER', vault)
password = [f for f in item.fields if f.purpose == 'PASSWORD'][0]
assert password.value == 'written-by-saker', 'saker value'
assert 'saker' in item.tags
assert item.version == 1
created = client.create_item(vault, Item(vault={'id': vault}, title='py-item',
    category='LOGIN', tags=['py'],
    fields=[Field(label='password', value='p1', purpose='PASSWORD', type='CONCEALED')]))
assert created.id and created.version == 1
created.fields[0].value = 'p2'
updated = client.update_item(created.id, vault, created)
assert updated.version == 2
assert client.get_item(created.id, vault).fields[0].value == 'p2'
titles = [i.title for i in client.get_items(vault)]
assert 'py-item' in titles and 'main/company/FROM_SAKER' in titles, titles
assert [i.title for i in client.get_items(vault, 'title eq "py-item"')] == ['py-item']
client.delete_item(created.id, vault)
try:
    client.get_item_by_title('py-item', vault)
    raise SystemExit('deleted item found')
except Exception as err:
    assert 'py-item' in str(err) or '404' in str(err), err
try:
    new_client(url, 'wrong').get_items(vault)
    raise SystemExit('a wrong token was accepted')
except Exception as err:
    assert '401' in str(err), err
print('onepasswordconnectsdk agrees')
"#;

#[test]
fn the_official_python_sdk_agrees_with_the_test_server() {
    let connect = ConnectServer::start();
    let (service, _db) = service(section(&connect), false);
    harness::assert_python_agrees(
        &service,
        PYTHON_CHECK,
        &[&connect.address, TOKEN, VAULT],
        "onepasswordconnectsdk agrees",
    );
}

#[test]
fn a_wrong_vault_fails_instead_of_reading_as_absent() {
    let connect = ConnectServer::start();
    let mut wrong = section(&connect);
    wrong["vaultId"] = json!("nosuchvaultnosuchvaultnosu");
    let (service, _db) = service(wrong, false);
    let text = harness::resolve_failure(&service);
    assert!(
        text.contains("404") && text.contains("vault not found"),
        "{text}"
    );
}
