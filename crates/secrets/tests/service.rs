//! The secret service over the jdbc and env backends: inheritance, isolation, lifecycle,
//! cache, default tags, expiry warnings and the audit hook (every attempt, never a value).
//!
//! Assertions about values compare through `same`, with messages that never show a value.

mod common;

use common::{ns, same};

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use saker_crypto::{Keyring, SecretKey};
use saker_secrets::{
    Accessor, Charset, EnvSecretStore, GenerateSpec, JdbcSecretStore, MetadataUpdate, Namespace,
    ResolveError, SecretConfig, SecretService, SecretState, SecretStore, SecretValue, SecretWrite,
    Service, ServiceError,
};
use saker_store::{AuditEvent, AuditFilter, AuditLog, AuditRecord, SqliteStore, verify_audit};

fn config(yaml_like: serde_json::Value) -> SecretConfig {
    SecretConfig::from_value(yaml_like).unwrap()
}

struct Fixture {
    db: Arc<SqliteStore>,
    service: SecretService,
}

fn jdbc(config: &SecretConfig, service: Service) -> Fixture {
    let db = Arc::new(SqliteStore::open_in_memory().unwrap());
    let store = JdbcSecretStore::new(db.clone(), Keyring::new(SecretKey::generate()), 10);
    let service = SecretService::new(Arc::new(store), db.clone(), config, service);
    Fixture { db, service }
}

fn worker() -> Fixture {
    jdbc(&SecretConfig::default(), Service::Worker)
}

fn user() -> Accessor {
    Accessor::user("cli:alice")
}

fn task() -> Accessor {
    Accessor::execution("report", "exec-1", Some("taskrun-1".into()))
}

fn set(service: &SecretService, namespace: &str, key: &str, value: &str) {
    service
        .put(
            "main",
            &ns(namespace),
            key,
            SecretWrite::new(SecretValue::new(value)),
            &user(),
        )
        .unwrap();
}

fn resolve(service: &SecretService, flow: &str, key: &str) -> Result<SecretValue, ServiceError> {
    service
        .resolve("main", &ns(flow), key, None, &task())
        .map(|resolution| resolution.value)
}

fn trail(fx: &Fixture) -> Vec<AuditRecord> {
    fx.db.list_audit(&AuditFilter::default()).unwrap()
}

#[test]
fn a_parent_secret_is_inherited_and_the_nearest_wins() {
    let fx = worker();
    set(&fx.service, "company", "API_TOKEN", "company-token");
    let found = fx
        .service
        .resolve("main", &ns("company.team"), "API_TOKEN", None, &task())
        .unwrap();
    assert!(
        same(&found.value, "company-token"),
        "inherited from company"
    );
    assert_eq!(found.namespace, ns("company"));

    set(&fx.service, "company.team", "API_TOKEN", "team-token");
    let value = resolve(&fx.service, "company.team", "API_TOKEN").unwrap();
    assert!(
        same(&value, "team-token"),
        "company.team wins, cache invalidated"
    );
    let value = resolve(&fx.service, "company", "API_TOKEN").unwrap();
    assert!(same(&value, "company-token"), "company still has its own");

    let err = resolve(&fx.service, "company.team.project", "MISSING").unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret 'MISSING' not found in company.team.project, company.team, company"
    );
}

#[test]
fn naming_another_namespace_follows_the_rule_and_denials_are_audited() {
    let fx = worker();
    set(&fx.service, "company.other", "K", "other-value");
    let err = fx
        .service
        .resolve(
            "main",
            &ns("company.team"),
            "K",
            Some(&ns("company.other")),
            &task(),
        )
        .unwrap_err();
    assert!(err.is_denied());
    let last = trail(&fx).pop().unwrap();
    assert_eq!(
        (last.event.action.as_str(), last.event.outcome.as_str()),
        ("read", "denied")
    );
    assert_eq!(last.event.namespace.as_deref(), Some("company.other"));
}

#[test]
fn isolation_denies_the_configured_service_and_audits_it() {
    let cfg = config(serde_json::json!({
        "isolation": {"enabled": true, "denied-services": ["EXECUTOR"]}
    }));
    let fx = jdbc(&cfg, Service::Worker);
    set(&fx.service, "company", "K", "a-value");
    assert!(resolve(&fx.service, "company", "K").is_ok());

    let executor = fx.service.for_service(Service::Executor);
    let err = resolve(&executor, "company", "K").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("EXECUTOR") && message.contains("isolation denies it"),
        "{message}"
    );
    assert!(matches!(err, ServiceError::Isolation(_)));
    let last = trail(&fx).pop().unwrap();
    assert_eq!(last.event.outcome, "denied");
    assert_eq!(last.event.service.as_deref(), Some("EXECUTOR"));
    assert_eq!(last.event.execution_id.as_deref(), Some("exec-1"));
    assert_eq!(last.event.task_run_id.as_deref(), Some("taskrun-1"));

    // The webserver never resolves, whatever the configuration.
    let web = fx.service.for_service(Service::Webserver);
    assert!(resolve(&web, "company", "K").unwrap_err().is_denied());
}

#[test]
fn revoked_secrets_fail_with_revoked_and_do_not_fall_back() {
    let fx = worker();
    set(&fx.service, "company", "K", "parent-value");
    set(&fx.service, "company.team", "K", "leaked-value");
    assert!(resolve(&fx.service, "company.team", "K").is_ok());
    fx.service
        .revoke("main", &ns("company.team"), "K", Some("leaked"), &user())
        .unwrap();
    let err = resolve(&fx.service, "company.team", "K").unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    let last = trail(&fx).pop().unwrap();
    assert_eq!(
        (last.event.action.as_str(), last.event.outcome.as_str()),
        ("read", "failed")
    );
    set(&fx.service, "company.team", "K", "new-value");
    assert!(
        same(
            &resolve(&fx.service, "company.team", "K").unwrap(),
            "new-value"
        ),
        "new"
    );
}

#[test]
fn expired_secrets_fail_and_expiring_ones_warn() {
    let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
    let cfg = config(serde_json::json!({"expiry-warning": "7d"}));
    let mut fx = jdbc(&cfg, Service::Worker);
    fx.service = fx.service.clone().with_clock(Arc::new(move || now));
    let with_expiry = |key: &str, at: DateTime<Utc>| {
        let mut write = SecretWrite::new(SecretValue::new("expiring-value"));
        write.update.expires_at = Some(Some(at));
        fx.service
            .put("main", &ns("company"), key, write, &user())
            .unwrap();
    };
    with_expiry("PAST", now - ChronoDuration::seconds(1));
    with_expiry("SOON", now + ChronoDuration::days(2));
    with_expiry("LATER", now + ChronoDuration::days(30));

    let err = resolve(&fx.service, "company", "PAST").unwrap_err();
    assert!(
        matches!(err, ServiceError::Resolve(ResolveError::Expired { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("expired"), "{err}");
    let soon = fx
        .service
        .resolve("main", &ns("company"), "SOON", None, &task())
        .unwrap();
    let warning = soon.warning.expect("a warning within the window");
    assert_eq!(warning.key, "SOON");
    assert!(warning.to_string().contains("expires at"));
    let later = fx
        .service
        .resolve("main", &ns("company"), "LATER", None, &task())
        .unwrap();
    assert!(later.warning.is_none());
}

#[test]
fn every_change_and_attempt_is_audited_and_the_chain_holds() {
    let fx = worker();
    let service = &fx.service;
    let company = ns("company");
    set(service, "company", "K", "first-value");
    set(service, "company", "K", "second-value");
    resolve(service, "company", "K").unwrap();
    resolve(service, "company", "MISSING").unwrap_err();
    service
        .update_metadata("main", &company, "K", MetadataUpdate::default(), &user())
        .unwrap();
    service.rollback("main", &company, "K", 1, &user()).unwrap();
    service.delete("main", &company, "K", &user()).unwrap();
    service.restore("main", &company, "K", &user()).unwrap();
    service
        .revoke("main", &company, "K", None, &user())
        .unwrap();
    let spec = GenerateSpec {
        length: 24,
        charset: Charset::Alnum,
        update: MetadataUpdate::default(),
    };
    service
        .generate("main", &company, "GEN", spec, &user())
        .unwrap();
    service.rekey(None, &user()).unwrap();
    service.destroy("main", &company, "K", &user()).unwrap();
    service.delete("main", &company, "NOPE", &user()).unwrap();

    let actions: Vec<(String, String)> = trail(&fx)
        .into_iter()
        .map(|r| (r.event.action, r.event.outcome))
        .collect();
    let expected = [
        ("write", "success"),
        ("write", "success"),
        ("read", "success"),
        ("read", "failed"),
        ("update-metadata", "success"),
        ("rollback", "success"),
        ("delete", "success"),
        ("restore", "success"),
        ("revoke", "success"),
        ("generate", "success"),
        ("rekey", "success"),
        ("destroy", "success"),
        ("delete", "success"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, o)| (a.to_string(), o.to_string()))
        .collect();
    assert_eq!(actions, expected);
    let records = trail(&fx);
    assert_eq!(records[0].event.actor, "cli:alice");
    assert_eq!(records[2].event.actor, "execution");
    assert_eq!(records[2].event.flow_id.as_deref(), Some("report"));
    assert!(verify_audit(fx.db.as_ref()).unwrap().is_intact());
}

#[test]
fn a_rollback_is_written_by_its_caller() {
    let fx = worker();
    let company = ns("company");
    set(&fx.service, "company", "K", "first-value");
    set(&fx.service, "company", "K", "second-value");
    fx.service
        .rollback("main", &company, "K", 1, &Accessor::user("api:admin"))
        .unwrap();
    let authors: Vec<(u64, Option<String>)> = fx
        .service
        .versions("main", &company, "K")
        .unwrap()
        .into_iter()
        .map(|v| (v.version, v.created_by))
        .collect();
    assert_eq!(
        authors,
        [
            (3, Some("api:admin".to_owned())),
            (2, Some("cli:alice".to_owned())),
            (1, Some("cli:alice".to_owned())),
        ]
    );
}

#[test]
fn no_audit_event_holds_a_value() {
    let fx = worker();
    let values = ["audit-probe-one-4471", "audit-probe-two-9923"];
    set(&fx.service, "company", "A", values[0]);
    set(&fx.service, "company", "A", values[1]);
    resolve(&fx.service, "company.team", "A").unwrap();
    fx.service
        .rollback("main", &ns("company"), "A", 1, &user())
        .unwrap();
    fx.service
        .revoke("main", &ns("company"), "A", Some("why"), &user())
        .unwrap();
    resolve(&fx.service, "company", "A").unwrap_err();
    for record in trail(&fx) {
        let text = format!("{:?}", record.event);
        for value in values {
            assert!(!text.contains(value), "an audit event holds a value");
        }
    }
}

#[test]
fn writes_through_this_process_invalidate_the_cache_and_others_see_them_within_the_ttl() {
    let db = Arc::new(SqliteStore::open_in_memory().unwrap());
    let key = SecretKey::generate();
    let make = |cache: serde_json::Value| {
        let store = JdbcSecretStore::new(db.clone(), Keyring::new(key.clone()), 10);
        let cfg = config(serde_json::json!({ "cache": cache }));
        SecretService::new(Arc::new(store), db.clone(), &cfg, Service::Worker)
    };
    let here = make(serde_json::json!({"enabled": true, "expire-after-write": "1h"}));
    let elsewhere = make(serde_json::json!({"enabled": true, "expire-after-write": "1h"}));
    let uncached = make(serde_json::json!({"enabled": false}));
    set(&here, "company", "K", "old-value");
    assert!(
        same(&resolve(&elsewhere, "company", "K").unwrap(), "old-value"),
        "cached"
    );
    set(&here, "company", "K", "new-value");
    assert!(
        same(&resolve(&here, "company", "K").unwrap(), "new-value"),
        "invalidated"
    );
    assert!(
        same(&resolve(&uncached, "company", "K").unwrap(), "new-value"),
        "uncached"
    );
    // Another process's cache keeps its answer until its TTL (one hour here).
    assert!(
        same(&resolve(&elsewhere, "company", "K").unwrap(), "old-value"),
        "stale"
    );
    // A revocation through this process takes effect here at once.
    here.revoke("main", &ns("company"), "K", None, &user())
        .unwrap();
    assert!(
        resolve(&here, "company", "K")
            .unwrap_err()
            .to_string()
            .contains("revoked")
    );
}

#[test]
fn default_tags_are_given_to_new_secrets_and_merged_under_explicit_ones() {
    let cfg = config(serde_json::json!({
        "jdbc": {"tags": {"application": "saker-production"}}
    }));
    let fx = jdbc(&cfg, Service::Worker);
    set(&fx.service, "company", "PLAIN", "a-value");
    let meta = fx
        .service
        .metadata("main", &ns("company"), "PLAIN")
        .unwrap()
        .unwrap();
    assert_eq!(meta.tags["application"], "saker-production");
    let mut write = SecretWrite::new(SecretValue::new("b-value"));
    write.update.tags = Some([("team".to_owned(), "data".to_owned())].into());
    let meta = fx
        .service
        .put("main", &ns("company"), "TAGGED", write, &user())
        .unwrap();
    assert_eq!(meta.tags["application"], "saker-production");
    assert_eq!(meta.tags["team"], "data");
}

#[test]
fn generated_values_are_stored_but_never_returned() {
    let fx = worker();
    let spec = GenerateSpec {
        length: 40,
        charset: Charset::Hex,
        update: MetadataUpdate::default(),
    };
    let meta = fx
        .service
        .generate("main", &ns("company"), "GEN", spec, &user())
        .unwrap();
    assert_eq!(meta.version, 1);
    let value = resolve(&fx.service, "company", "GEN").unwrap();
    assert_eq!(value.len(), 40);
    assert!(
        value.expose().bytes().all(|b| b.is_ascii_hexdigit()),
        "hex only"
    );
    let short = GenerateSpec {
        length: 2,
        charset: Charset::Hex,
        update: MetadataUpdate::default(),
    };
    assert!(
        fx.service
            .generate("main", &ns("company"), "X", short, &user())
            .is_err()
    );
}

#[test]
fn listing_what_a_namespace_sees() {
    let fx = worker();
    set(&fx.service, "company", "SHARED", "company-value");
    set(&fx.service, "company", "ONLY_PARENT", "parent-value");
    set(&fx.service, "company.team", "SHARED", "team-value");
    set(&fx.service, "company.team", "GONE", "gone-value");
    fx.service
        .delete("main", &ns("company.team"), "GONE", &user())
        .unwrap();
    let visible = fx
        .service
        .list_visible("main", &ns("company.team"))
        .unwrap();
    let rows: Vec<(String, Option<Namespace>, Vec<Namespace>)> = visible
        .into_iter()
        .map(|v| (v.metadata.key, v.metadata.namespace, v.shadows))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("ONLY_PARENT".to_owned(), Some(ns("company")), vec![]),
            (
                "SHARED".to_owned(),
                Some(ns("company.team")),
                vec![ns("company")]
            ),
        ]
    );
    let levels = fx
        .service
        .describe("main", &ns("company.team.x"), "SHARED")
        .unwrap();
    assert_eq!(
        levels
            .iter()
            .map(|m| m.namespace.clone().unwrap())
            .collect::<Vec<_>>(),
        [ns("company.team"), ns("company")]
    );
    let listed = fx.service.list("main", &ns("company.team")).unwrap();
    assert!(matches!(listed[0].state, SecretState::Deleted { .. }));
}

#[test]
fn reads_record_the_last_read_time() {
    let fx = worker();
    set(&fx.service, "company", "K", "a-value");
    assert!(
        fx.service
            .metadata("main", &ns("company"), "K")
            .unwrap()
            .unwrap()
            .last_read_at
            .is_none()
    );
    resolve(&fx.service, "company.team", "K").unwrap();
    let meta = fx
        .service
        .metadata("main", &ns("company"), "K")
        .unwrap()
        .unwrap();
    assert!(meta.last_read_at.is_some());
}

#[test]
fn the_seed_env_secret_resolves_and_writes_are_refused_and_audited() {
    let env = EnvSecretStore::from_vars([("SECRET_MYPASSWORD", "bXlQcml2YXRlQ29kZQ==")]);
    let db = Arc::new(SqliteStore::open_in_memory().unwrap());
    let cfg = config(serde_json::json!({"type": "env"}));
    let service = SecretService::new(Arc::new(env), db.clone(), &cfg, Service::Worker);
    let value = resolve(&service, "company.team", "MYPASSWORD").unwrap();
    assert!(same(&value, "myPrivateCode"), "the seed's example decodes");
    let err = service
        .put(
            "main",
            &ns("company"),
            "X",
            SecretWrite::new(SecretValue::new("v-1234")),
            &user(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    let last = db
        .list_audit(&AuditFilter::default())
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (last.event.action.as_str(), last.event.outcome.as_str()),
        ("write", "failed")
    );
}

/// An audit trail that cannot be written.
struct BrokenAudit;

impl AuditLog for BrokenAudit {
    fn append_audit(&self, _: &AuditEvent) -> saker_store::Result<AuditRecord> {
        Err(saker_store::StoreError::Backend("disk full".into()))
    }
    fn list_audit(&self, _: &AuditFilter) -> saker_store::Result<Vec<AuditRecord>> {
        Ok(Vec::new())
    }
    fn walk_audit(
        &self,
        _: &mut (dyn FnMut(saker_store::AuditStep) -> std::ops::ControlFlow<()> + Send),
    ) -> saker_store::Result<()> {
        Ok(())
    }
    fn find_audit_hash(&self, _: &str) -> saker_store::Result<Option<i64>> {
        Ok(None)
    }
}

#[test]
fn a_read_that_cannot_be_audited_is_refused() {
    let db = Arc::new(SqliteStore::open_in_memory().unwrap());
    let store = Arc::new(JdbcSecretStore::new(
        db,
        Keyring::new(SecretKey::generate()),
        10,
    ));
    store
        .put(
            "main",
            &ns("company"),
            "K",
            SecretWrite::new(SecretValue::new("a-value")),
        )
        .unwrap();
    let service = SecretService::new(
        store,
        Arc::new(BrokenAudit),
        &SecretConfig::default(),
        Service::Worker,
    );
    let err = resolve(&service, "company", "K").unwrap_err();
    assert!(matches!(err, ServiceError::AuditRefused { .. }), "{err}");
    let err = service
        .delete("main", &ns("company"), "K", &user())
        .unwrap_err();
    assert!(err.to_string().contains("could not be recorded"), "{err}");
}

#[test]
fn many_threads_resolve_and_write_through_one_service() {
    let fx = worker();
    set(&fx.service, "company", "A", "start-value");
    set(&fx.service, "company.team", "B", "start-value");
    let written = Arc::new(Mutex::new(0usize));
    let handles: Vec<_> = (0..8)
        .map(|thread| {
            let service = fx.service.clone();
            let written = Arc::clone(&written);
            std::thread::spawn(move || {
                let mut bad = 0;
                for round in 0..25 {
                    if round % 5 == thread % 5 {
                        let (namespace, key) = if round % 2 == 0 {
                            ("company", "A")
                        } else {
                            ("company.team", "B")
                        };
                        set(&service, namespace, key, &format!("value-{thread}-{round}"));
                        *written.lock().unwrap() += 1;
                    }
                    for key in ["A", "B"] {
                        let value = resolve(&service, "company.team.project", key).unwrap();
                        let text = value.expose();
                        if !(text == "start-value" || text.starts_with("value-")) {
                            bad += 1;
                        }
                    }
                }
                bad
            })
        })
        .collect();
    let bad: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(bad, 0, "a read returned a value nobody wrote");
    let writes = *written.lock().unwrap();
    let versions = fx
        .service
        .metadata("main", &ns("company"), "A")
        .unwrap()
        .unwrap()
        .version
        + fx.service
            .metadata("main", &ns("company.team"), "B")
            .unwrap()
            .unwrap()
            .version;
    assert_eq!(versions as usize, writes + 2);
    let report = verify_audit(fx.db.as_ref()).unwrap();
    assert!(report.is_intact());
    assert_eq!(report.verified as usize, 2 + writes + 8 * 25 * 2);
}

#[test]
fn the_backend_is_reachable_as_a_trait_object() {
    let fx = worker();
    assert_eq!(fx.service.backend_name(), "jdbc");
    assert!(!fx.service.capabilities().is_read_only());
    let store: Arc<dyn SecretStore> =
        Arc::new(EnvSecretStore::from_vars(Vec::<(String, String)>::new()));
    assert!(store.capabilities().is_read_only());
}
