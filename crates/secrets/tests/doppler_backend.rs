//! The Doppler backend against the test server of `tests/servers/doppler.rs`, through the
//! secret service: Saker's names in Doppler (the reversible encoding), inheritance,
//! check-and-set, destroy, read-only over secrets set in Doppler, an outage and a refused
//! token, and Doppler's official Python SDK (`doppler-sdk`) run against the same server.

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
use servers::doppler::{CONFIG, DopplerServer, PROJECT, TOKEN};

fn section(server: &DopplerServer) -> Value {
    json!({"token": TOKEN, "project": PROJECT, "config": CONFIG,
        "secretNamePrefix": "SAKER_", "endpointOverride": server.address})
}

fn service(section: Value, read_only: bool) -> (SecretService, Arc<SqliteStore>) {
    harness::open(json!({"type": "doppler", "read-only": read_only, "doppler": section}))
}

#[test]
fn lifecycle_through_the_service() {
    let doppler = DopplerServer::start();
    let (service, db) = service(section(&doppler), false);
    let company = ns("company");

    service
        .put(
            "main",
            &company,
            "API_KEY",
            write("first-value", Some(0)),
            &who(),
        )
        .unwrap();
    assert_eq!(
        doppler.raw("SAKER_MAIN__COMPANY__API_UKEY").as_deref(),
        Some("first-value")
    );
    let found = service
        .resolve("main", &ns("company.team"), "API_KEY", None, &who())
        .unwrap();
    assert!(same(&found.value, "first-value"));
    assert_eq!(found.namespace, company);

    // Check-and-set against what Doppler holds (version 1 while it exists).
    let err = service
        .put("main", &company, "API_KEY", write("lost", Some(0)), &who())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Store(StoreError::VersionConflict { actual: 1, .. })
        ),
        "{err}"
    );
    service
        .put(
            "main",
            &company,
            "API_KEY",
            write("second-value", Some(1)),
            &who(),
        )
        .unwrap();
    // A value with a Doppler reference comes back as written.
    service
        .put(
            "main",
            &ns("company.team"),
            "db.url",
            write("pg://${HOST}/x", None),
            &who(),
        )
        .unwrap();
    assert!(
        doppler
            .names()
            .contains(&"SAKER_MAIN__COMPANY_DTEAM___LD_LB_D_LU_LR_LL".into())
    );
    let found = service
        .resolve("main", &ns("company.team"), "db.url", None, &who())
        .unwrap();
    assert!(same(&found.value, "pg://${HOST}/x"));

    // Listing decodes exactly the namespace's names; foreign names are ignored.
    doppler.set("STRIPE_KEY", "not-saker");
    let listed: Vec<String> = service
        .list("main", &company)
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, ["API_KEY"]);
    let listed = service.list("main", &ns("company.team")).unwrap();
    assert_eq!(listed[0].key, "db.url");

    // No soft delete in Doppler: delete is refused, destroy removes the secret.
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
    assert!(
        service
            .resolve("main", &company, "API_KEY", None, &who())
            .is_err()
    );
    assert_eq!(doppler.raw("SAKER_MAIN__COMPANY__API_UKEY"), None);

    let audit = db.list_audit(&AuditFilter::default()).unwrap();
    for record in &audit {
        let text = format!("{:?}", record.event);
        assert!(!text.contains("first-value") && !text.contains("second-value"));
    }
}

#[test]
fn read_only_reads_what_doppler_holds_and_refuses_writes() {
    let doppler = DopplerServer::start();
    doppler.set("SAKER_MAIN__COMPANY__DB_UPASSWORD", "set-in-doppler");
    let (service, _db) = service(section(&doppler), true);
    let found = service
        .resolve("main", &ns("company.team.x"), "DB_PASSWORD", None, &who())
        .unwrap();
    assert!(same(&found.value, "set-in-doppler"));
    let err = service
        .put(
            "main",
            &ns("company"),
            "DB_PASSWORD",
            write("x", None),
            &who(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(
        doppler.raw("SAKER_MAIN__COMPANY__DB_UPASSWORD").as_deref(),
        Some("set-in-doppler")
    );
}

#[test]
fn outages_and_a_refused_token_fail_closed_naming_backend_and_key() {
    let port = servers::closed_port();
    let (service, db) = service(
        json!({"token": "dp.st.down-token", "project": PROJECT, "config": CONFIG,
            "endpointOverride": format!("http://127.0.0.1:{port}")}),
        false,
    );
    harness::assert_fails_closed(&service, &db, "doppler", "down-token");

    let doppler = DopplerServer::start();
    let mut wrong = section(&doppler);
    wrong["token"] = json!("dp.st.wrong-token");
    let (refused, _db) = self::service(wrong, false);
    let err = refused
        .resolve("main", &ns("company"), "DB_PASSWORD", None, &who())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("401") && text.contains("Invalid Auth token"),
        "{text}"
    );
    assert!(!text.contains("wrong-token"), "{text}");
}

const PYTHON_CHECK: &str = r#"
import sys
from dopplersdk import DopplerSDK
url, token, project, config = sys.argv[1:5]
sdk = DopplerSDK(access_token=token)
sdk.set_base_url(url)
s = sdk.secrets
got = s.get(name='SAKER_MAIN__COMPANY__FROM_USAKER', project=project, config=config)
assert got.value['raw'] == 'written-by-saker', got
s.update({'project': project, 'config': config, 'secrets': {'PY_ONE': 'one', 'PY_TWO': 'two'}})
assert set(s.names(project=project, config=config).names) >= {'PY_ONE', 'PY_TWO'}
listed = s.list(project=project, config=config).secrets
assert listed['PY_TWO']['raw'] == 'two', listed
s.delete(name='PY_ONE', project=project, config=config)
try:
    s.get(name='PY_ONE', project=project, config=config)
    raise SystemExit('deleted secret still readable')
except Exception as err:
    assert '404' in str(err) or 'Not Found' in str(err) or 'NotFound' in type(err).__name__, err
try:
    s.update({'project': project, 'config': config, 'secrets': {'lower-case': 'x'}})
    raise SystemExit('an invalid name was accepted')
except Exception as err:
    assert '400' in str(err) or 'BadRequest' in type(err).__name__, err
print('doppler-sdk agrees')
"#;

#[test]
fn the_official_python_sdk_agrees_with_the_test_server() {
    let doppler = DopplerServer::start();
    let (service, _db) = service(section(&doppler), false);
    harness::assert_python_agrees(
        &service,
        PYTHON_CHECK,
        &[&doppler.address, TOKEN, PROJECT, CONFIG],
        "doppler-sdk agrees",
    );
}

#[test]
fn an_unknown_config_fails_instead_of_reading_as_absent() {
    let doppler = DopplerServer::start();
    let mut wrong = section(&doppler);
    wrong["config"] = json!("no-such-config");
    let (service, _db) = service(wrong, false);
    let text = harness::resolve_failure(&service);
    assert!(
        text.contains("404") && text.contains("Could not find requested config"),
        "{text}"
    );
}
