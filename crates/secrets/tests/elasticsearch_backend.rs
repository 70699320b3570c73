//! The Elasticsearch backend against the test server of `tests/servers/elasticsearch.rs`,
//! through the secret service: inheritance, versions, check-and-set, soft delete, restore,
//! rollback, destroy, read-only, an outage, values sealed before they reach the index (the
//! server's raw documents hold no plaintext, and a document copied to another secret does
//! not open), and the official `elasticsearch` Python client run against the same server.

mod common;
#[path = "servers/harness.rs"]
mod harness;
mod servers;

use std::sync::Arc;

use common::{ns, same};
use harness::{who, write};
use saker_secrets::{SecretService, ServiceError, StoreError};
use saker_store::{AuditFilter, AuditLog, SqliteStore};
use serde_json::{Value, json};
use servers::elasticsearch::EsServer;

const PASSPHRASE: &str = "elasticsearch-secret-of-at-least-32-chars";
const INDEX: &str = "saker_secrets";

fn section(es: &EsServer) -> Value {
    json!({"hosts": [es.address], "secret": PASSPHRASE,
        "basic-auth": {"username": "elastic", "password": "es-password"},
        "tags": {"owner": "platform"}})
}

fn es_service(section: Value, read_only: bool) -> (SecretService, Arc<SqliteStore>) {
    harness::open(json!({"type": "elasticsearch", "read-only": read_only,
        "elasticsearch": section}))
}

fn raw_index(es: &EsServer) -> String {
    serde_json::to_string(&es.documents(INDEX)).unwrap()
}

#[test]
fn lifecycle_through_the_service_with_sealed_values() {
    let es = EsServer::start(Some(("elastic", "es-password")));
    let (service, db) = es_service(section(&es), false);
    let company = ns("company");

    let meta = service
        .put(
            "main",
            &company,
            "API_KEY",
            write("first-plaintext", Some(0)),
            &who(),
        )
        .unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.tags.get("owner").map(String::as_str), Some("platform"));
    // Inherited by a child namespace.
    let found = service
        .resolve("main", &ns("company.team"), "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-plaintext"));
    assert_eq!(found.namespace, company);

    // Saker's layout in the index, keyword mappings, and no plaintext anywhere in it.
    let ids: Vec<String> = es.documents(INDEX).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["main/company/API_KEY", "main/company/API_KEY/1"]);
    assert_eq!(
        es.mappings(INDEX).unwrap()["properties"]["namespace"]["type"],
        "keyword"
    );

    // Check-and-set.
    let meta = service
        .put(
            "main",
            &company,
            "API_KEY",
            write("second-plaintext", Some(1)),
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
    let raw = raw_index(&es);
    for plaintext in [
        "first-plaintext",
        "second-plaintext",
        "lost-update",
        PASSPHRASE,
    ] {
        assert!(!raw.contains(plaintext), "plaintext in the index");
    }

    // Listing: exactly the namespace's secrets, through search_after pages.
    for n in 0..120 {
        service
            .put(
                "main",
                &ns("company.many"),
                &format!("K{n:03}"),
                write("v", None),
                &who(),
            )
            .unwrap();
    }
    let listed = service.list("main", &ns("company.many")).unwrap();
    assert_eq!(listed.len(), 120);
    assert_eq!(listed[119].key, "K119");
    assert_eq!(service.list("main", &company).unwrap().len(), 1);

    // Soft delete hides it, restore brings it back, rollback writes version 1 as version 3.
    assert!(service.delete("main", &company, "API_KEY", &who()).unwrap());
    assert!(
        service
            .resolve("main", &company, "API_KEY", None, &who())
            .is_err()
    );
    service
        .restore("main", &company, "API_KEY", &who())
        .unwrap();
    let meta = service
        .rollback("main", &company, "API_KEY", 1, &who())
        .unwrap();
    assert_eq!(meta.version, 3);
    let found = service
        .resolve("main", &company, "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-plaintext"));

    // Destroy removes every document of the secret.
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
    assert!(
        !es.documents(INDEX)
            .iter()
            .any(|(id, _)| id.starts_with("main/company/API_KEY"))
    );

    let audit = db.list_audit(&AuditFilter::default()).unwrap();
    let actions: Vec<String> = audit.iter().map(|r| r.event.action.clone()).collect();
    for action in ["write", "read", "delete", "restore", "rollback", "destroy"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[test]
fn a_document_copied_to_another_secret_or_another_passphrase_does_not_open() {
    let es = EsServer::start(None);
    let mut plain = section(&es);
    plain.as_object_mut().unwrap().remove("basic-auth");
    let (service, _db) = es_service(plain.clone(), false);
    let team = ns("team");
    service
        .put("main", &team, "A", write("value-of-a", None), &who())
        .unwrap();
    service
        .put("main", &team, "B", write("value-of-b", None), &who())
        .unwrap();
    // An attacker with write access to the index copies A's sealed value over B's.
    let a = es
        .documents(INDEX)
        .into_iter()
        .find(|(id, _)| id == "main/team/A/1")
        .unwrap()
        .1;
    let mut forged = a.clone();
    forged["key"] = json!("B");
    es.overwrite(INDEX, "main/team/B/1", forged);
    let err = service
        .resolve("main", &team, "B", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("elasticsearch") && text.contains("'B'"),
        "{text}"
    );
    assert!(!text.contains("value-of-a"), "{text}");

    // Another passphrase cannot read A.
    plain["secret"] = json!("another-passphrase-of-at-least-32-chars");
    let (other, _db) = es_service(plain, false);
    let err = other.resolve("main", &team, "A", None, &who()).unwrap_err();
    assert!(
        err.to_string().contains("secret.elasticsearch.secret"),
        "{err}"
    );
}

#[test]
fn read_only_refuses_writes_and_reads_what_the_index_holds() {
    let es = EsServer::start(Some(("elastic", "es-password")));
    let (reader, _db) = harness::assert_read_only(|read_only| es_service(section(&es), read_only));
    assert_eq!(reader.list("main", &ns("company")).unwrap().len(), 1);
}

#[test]
fn outages_and_wrong_credentials_fail_closed_naming_backend_and_key() {
    let port = servers::closed_port();
    let (down, db) = es_service(
        json!({"hosts": format!("http://127.0.0.1:{port}"), "secret": PASSPHRASE,
            "basic-auth": {"username": "elastic", "password": "down-password"}}),
        false,
    );
    harness::assert_fails_closed(&down, &db, "elasticsearch", "down-password");

    // A cluster that answers 503, and one that refuses the credentials.
    let es = EsServer::start(Some(("elastic", "es-password")));
    let (service, _db) = es_service(section(&es), false);
    service
        .put("main", &ns("a"), "K", write("k-value", None), &who())
        .unwrap();
    es.set_unavailable(true);
    let err = service
        .resolve("main", &ns("a"), "K", None, &who())
        .unwrap_err();
    assert!(err.to_string().contains("cluster_block_exception"), "{err}");
    es.set_unavailable(false);
    let mut wrong = section(&es);
    wrong["basic-auth"]["password"] = json!("wrong-password");
    let (service, _db) = es_service(wrong, false);
    let err = service
        .resolve("main", &ns("a"), "K", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("401") && text.contains("security_exception"),
        "{text}"
    );
    assert!(!text.contains("wrong-password"), "{text}");
}

#[test]
fn a_second_host_answers_when_the_first_is_down() {
    let es = EsServer::start(None);
    let port = servers::closed_port();
    let (service, _db) = es_service(
        json!({"hosts": [format!("http://127.0.0.1:{port}"),
        es.address], "secret": PASSPHRASE, "index": "other-index"}),
        false,
    );
    service
        .put("main", &ns("a"), "K", write("k-value", None), &who())
        .unwrap();
    assert_eq!(es.documents("other-index").len(), 2);
}

const PYTHON_CHECK: &str = r#"
import sys
from elasticsearch import Elasticsearch, ConflictError, NotFoundError, AuthenticationException
url, index = sys.argv[1], sys.argv[2]
es = Elasticsearch(url, basic_auth=('elastic', 'es-password'))
assert es.info()['version']['number'].startswith('8.'), 'info'
# What Saker wrote: its layout, and no plaintext.
doc = es.get(index=index, id='main/company/FROM_SAKER/1')
assert doc['found'] and doc['_source']['kind'] == 'version'
assert 'written-by-saker' not in str(doc['_source'])
hits = es.search(index=index, query={'bool': {'filter': [{'term': {'kind': 'secret'}},
    {'term': {'namespace': 'company'}}]}}, sort=[{'key': {'order': 'asc'}}])['hits']['hits']
assert [h['_source']['key'] for h in hits] == ['FROM_SAKER'], hits
# The calls themselves, with the client's own reading of status codes and errors.
assert es.indices.exists(index=index)
try:
    es.indices.create(index=index)
    raise SystemExit('index created twice')
except Exception as err:
    assert 'resource_already_exists_exception' in str(err), err
es.index(index='py', id='a', document={'n': 1, 't': 'x'}, refresh=True)
es.index(index='py', id='b', document={'n': 2, 't': 'x'}, refresh=True)
es.create(index='py', id='c', document={'n': 3, 't': 'y'}, refresh=True)
try:
    es.create(index='py', id='c', document={'n': 4})
    raise SystemExit('create overwrote')
except ConflictError:
    pass
page = es.search(index='py', query={'term': {'t': 'x'}}, sort=[{'n': 'asc'}], size=1)
first = page['hits']['hits']
assert [h['_id'] for h in first] == ['a'] and page['hits']['total']['value'] == 2
second = es.search(index='py', query={'term': {'t': 'x'}}, sort=[{'n': 'asc'}], size=1,
                   search_after=first[-1]['sort'])['hits']['hits']
assert [h['_id'] for h in second] == ['b']
es.indices.refresh(index='py')
assert es.delete(index='py', id='a', refresh=True)['result'] == 'deleted'
for call in (lambda: es.get(index='py', id='a'), lambda: es.delete(index='py', id='a'),
             lambda: es.get(index='missing', id='x')):
    try:
        call()
        raise SystemExit('found what was not there')
    except NotFoundError:
        pass
try:
    Elasticsearch(url, basic_auth=('elastic', 'nope')).info()
    raise SystemExit('wrong password accepted')
except AuthenticationException:
    pass
print('elasticsearch-py agrees')
"#;

#[test]
fn the_official_python_client_agrees_with_the_test_server() {
    let es = EsServer::start(Some(("elastic", "es-password")));
    let (service, _db) = es_service(section(&es), false);
    harness::assert_python_agrees(
        &service,
        PYTHON_CHECK,
        &[&es.address, INDEX],
        "elasticsearch-py agrees",
    );
}

#[test]
fn revoke_and_metadata_changes() {
    let es = EsServer::start(None);
    let mut plain = section(&es);
    plain.as_object_mut().unwrap().remove("basic-auth");
    let (service, _db) = es_service(plain, false);
    let team = ns("team");
    service
        .put("main", &team, "K", write("old-value", None), &who())
        .unwrap();
    service
        .put("main", &team, "K", write("leaked-value", None), &who())
        .unwrap();

    let update = saker_secrets::MetadataUpdate {
        description: Some(Some("rotated monthly".into())),
        rotation_period: Some(Some(std::time::Duration::from_secs(30 * 86_400))),
        ..Default::default()
    };
    let meta = service
        .update_metadata("main", &team, "K", update, &who())
        .unwrap();
    assert_eq!(
        (meta.version, meta.description.as_deref()),
        (2, Some("rotated monthly"))
    );

    // Revoked: resolution fails with "revoked" (not falling back), the version is gone for
    // rollback, and a new value makes the secret active again.
    service
        .revoke("main", &team, "K", Some("leaked in a ticket"), &who())
        .unwrap();
    let err = service
        .resolve("main", &ns("team.x"), "K", None, &who())
        .unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    let versions = service.versions("main", &team, "K").unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.available))
            .collect::<Vec<_>>(),
        [(2, false), (1, true)]
    );
    assert!(service.rollback("main", &team, "K", 2, &who()).is_err());
    let meta = service.rollback("main", &team, "K", 1, &who()).unwrap();
    assert_eq!(meta.version, 3);
    assert_eq!(meta.description.as_deref(), Some("rotated monthly"));
    let found = service.resolve("main", &team, "K", None, &who()).unwrap();
    assert!(same(&found.value, "old-value"));
}

#[test]
fn a_404_that_is_not_elasticsearchs_fails_instead_of_reading_as_absent() {
    // Another HTTP service (here the 1Password test server) answers 404 Not Found to every
    // Elasticsearch path, as a wrong path-prefix or proxy would: that must not read as
    // "absent" and let resolution go on to a parent namespace.
    let other = servers::onepassword::ConnectServer::start();
    let (service, _db) = es_service(
        json!({"hosts": other.address, "secret": PASSPHRASE,
        "headers": [format!("Authorization: Bearer {}", servers::onepassword::TOKEN)]}),
        false,
    );
    let text = harness::resolve_failure(&service);
    assert!(
        text.contains("elasticsearch") && text.contains("404"),
        "{text}"
    );
}
