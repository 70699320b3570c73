//! `secret()` resolution through every remote backend, with and without the cache: the
//! figures of issue 15's speed point. Vault, Google, Azure (over HTTPS), Elasticsearch,
//! 1Password Connect and Doppler are the test servers of `tests/` (same process, loopback);
//! AWS is moto's server when `SAKER_MOTO_SERVER` is set (`scripts/peers/moto.sh`).
//!
//! Five figures per backend, median and 95th percentile:
//! - backend get: the backend's own `get`, one round trip to its server;
//! - resolve, cache off: `SecretService::resolve` in the namespace holding the key (isolation,
//!   namespace rule, one backend get, the audit event into an in-memory SQLite log);
//! - resolve, cache hit: the same with the cache on and the key already read (the audit write
//!   is still paid: every read is audited, cached or not);
//! - its audit event: the time the hits above spent appending their audit event (hash chain
//!   and SQLite insert), timed inside the trail;
//! - cache hit alone: [`LookupCache::get`] answering from memory, what "a cache hit under
//!   1 µs" means.
//!
//! cargo bench -p saker-secrets --bench remote_resolve [--profile dev]

#[allow(dead_code)] // the bench uses only part of the test server
#[path = "../tests/azure/server.rs"]
mod azure_server;
#[allow(dead_code)] // the bench uses only part of the test server
#[path = "../tests/gcp/server.rs"]
mod gcp_server;
#[path = "../tests/moto/peer.rs"]
mod moto;
#[path = "../tests/servers/mod.rs"]
mod servers;
#[allow(dead_code)] // the bench uses only part of the test server
#[path = "../tests/vault/server.rs"]
mod vault_server;

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use saker_secrets::{
    Accessor, LookupCache, Namespace, SecretConfig, SecretService, SecretValue, SecretWrite,
    Service,
};
use saker_store::{AuditEvent, AuditFilter, AuditLog, AuditRecord, AuditStep, SqliteStore};
use serde_json::{Value, json};

/// Rounds of what crosses the loopback (a backend round trip).
const REMOTE_ROUNDS: usize = 300;
/// Rounds of what stays in memory (cache hits; the service's hit still writes SQLite).
const LOCAL_ROUNDS: usize = 20_000;
const KEY: &str = "BENCH_KEY";

/// Median and 95th percentile of one measurement.
#[derive(Clone, Copy)]
struct Stats {
    median: Duration,
    p95: Duration,
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", shown(self.median), shown(self.p95))
    }
}

/// µs with one decimal below 100 µs, ms with two above.
fn shown(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 100.0 {
        format!("{micros:.2} µs")
    } else {
        format!("{:.2} ms", micros / 1000.0)
    }
}

/// The in-memory SQLite trail, timing each append: how much of a resolution is its audit
/// event.
struct TimedAudit {
    db: SqliteStore,
    appends: Mutex<Vec<Duration>>,
}

impl TimedAudit {
    fn new() -> Self {
        Self {
            db: SqliteStore::open_in_memory().unwrap(),
            appends: Mutex::new(Vec::new()),
        }
    }

    /// The appends timed so far, forgotten.
    fn take(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.appends.lock().unwrap())
    }
}

impl AuditLog for TimedAudit {
    fn append_audit(&self, event: &AuditEvent) -> saker_store::Result<AuditRecord> {
        let start = Instant::now();
        let stored = self.db.append_audit(event);
        self.appends.lock().unwrap().push(start.elapsed());
        stored
    }

    fn list_audit(&self, filter: &AuditFilter) -> saker_store::Result<Vec<AuditRecord>> {
        self.db.list_audit(filter)
    }

    fn walk_audit(
        &self,
        visit: &mut (dyn FnMut(AuditStep) -> ControlFlow<()> + Send),
    ) -> saker_store::Result<()> {
        self.db.walk_audit(visit)
    }

    fn find_audit_hash(&self, hash: &str) -> saker_store::Result<Option<i64>> {
        self.db.find_audit_hash(hash)
    }
}

/// Median and 95th percentile of `times`.
fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    Stats {
        median: times[times.len() / 2],
        p95: times[times.len() * 95 / 100],
    }
}

/// Times `rounds` calls of `f` one by one, after one untimed call (connection, login, fill).
fn time(rounds: usize, mut f: impl FnMut()) -> Stats {
    f();
    stats(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

struct Row {
    backend: &'static str,
    get: Stats,
    resolve_cold: Stats,
    resolve_hit: Stats,
    audit: Stats,
    cache_hit: Stats,
}

fn service(section: &Value, cache: bool, audit: Arc<TimedAudit>) -> (SecretConfig, SecretService) {
    let mut section = section.clone();
    section["cache"] = json!({"enabled": cache});
    let config = SecretConfig::from_value(section).unwrap();
    let store = saker_secrets::open_remote(&config).unwrap();
    let service = SecretService::new(store, audit, &config, Service::Worker);
    (config, service)
}

fn measure(backend: &'static str, section: Value) -> Row {
    let ns = Namespace::parse("company").unwrap();
    let who = Accessor::execution("flow", "exec", None);
    let (_, cold) = service(&section, false, Arc::new(TimedAudit::new()));
    cold.put(
        "main",
        &ns,
        KEY,
        SecretWrite::new(SecretValue::new("bench-value")),
        &Accessor::user("cli:bench"),
    )
    .unwrap();
    let store =
        saker_secrets::open_remote(&SecretConfig::from_value(section.clone()).unwrap()).unwrap();
    let get = time(REMOTE_ROUNDS, || {
        store.get("main", &ns, KEY).unwrap();
    });
    let resolve_cold = time(REMOTE_ROUNDS, || {
        cold.resolve("main", &ns, KEY, None, &who).unwrap();
    });
    let audit = Arc::new(TimedAudit::new());
    let (config, warm) = service(&section, true, audit.clone());
    warm.resolve("main", &ns, KEY, None, &who).unwrap(); // the miss that fills the cache
    audit.take();
    let resolve_hit = time(LOCAL_ROUNDS, || {
        warm.resolve("main", &ns, KEY, None, &who).unwrap();
    });
    let audit = stats(audit.take());
    let cache = LookupCache::new(&config.cache).expect("the cache is enabled");
    let cache_hit = time(LOCAL_ROUNDS, || {
        cache.get(store.as_ref(), "main", &ns, KEY).unwrap();
    });
    let row = Row {
        backend,
        get,
        resolve_cold,
        resolve_hit,
        audit,
        cache_hit,
    };
    print_row(&row);
    row
}

fn print_header() {
    println!(
        "| backend (server) | backend get | resolve, cache off | resolve, cache hit | \
         its audit event | cache hit alone |"
    );
    println!("|---|---|---|---|---|---|");
}

fn print_row(row: &Row) {
    println!(
        "| {} | {} | {} | {} | {} | {} |",
        row.backend, row.get, row.resolve_cold, row.resolve_hit, row.audit, row.cache_hit
    );
}

fn main() {
    print_header();
    let mut rows = Vec::new();

    let vault = vault_server::VaultServer::start();
    rows.push(measure(
        "vault (test server)",
        json!({"type": "vault", "vault": {"address": vault.address,
            "token": {"token": vault_server::ROOT_TOKEN}}}),
    ));

    match moto::moto() {
        Some(moto) => rows.push(measure(
            "aws-secret-manager (moto)",
            json!({"type": "aws-secret-manager", "aws-secret-manager": {
                "accessKeyId": "testing", "secretKeyId": "testing", "region": "us-east-1",
                "endpointOverride": moto.endpoint}}),
        )),
        None => println!("SKIPPED aws-secret-manager: SAKER_MOTO_SERVER is not set"),
    }

    let gcp = gcp_server::GcpServer::start();
    rows.push(measure(
        "google-secret-manager (test server)",
        json!({"type": "google-secret-manager", "google-secret-manager": {
            "serviceAccount": gcp.service_account_json(), "endpoint": gcp.address}}),
    ));

    let azure = azure_server::AzureServer::start();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &azure.ca_pem).unwrap();
    rows.push(measure(
        "azure-key-vault (test server, HTTPS)",
        json!({"type": "azure-key-vault", "azure-key-vault": {
            "clientSecret": {"tenantId": azure_server::TENANT_ID,
                "clientId": azure_server::CLIENT_ID, "clientSecret": azure_server::CLIENT_SECRET},
            "keyVaultUri": azure.address, "authority": azure.address, "caFile": ca.path()}}),
    ));

    let es = servers::elasticsearch::EsServer::start(None);
    rows.push(measure(
        "elasticsearch (test server)",
        json!({"type": "elasticsearch", "elasticsearch": {"hosts": [es.address],
            "secret": "elasticsearch-secret-of-at-least-32-chars"}}),
    ));

    let connect = servers::onepassword::ConnectServer::start();
    rows.push(measure(
        "1password (Connect test server)",
        json!({"type": "1password", "1password": {"address": connect.address,
            "token": servers::onepassword::TOKEN, "vaultId": servers::onepassword::VAULT}}),
    ));

    let doppler = servers::doppler::DopplerServer::start();
    rows.push(measure(
        "doppler (test server)",
        json!({"type": "doppler", "doppler": {"token": servers::doppler::TOKEN,
            "project": servers::doppler::PROJECT, "config": servers::doppler::CONFIG,
            "secretNamePrefix": "SAKER_",
            "endpointOverride": doppler.address}}),
    ));

    println!("\nmedian / p95, {REMOTE_ROUNDS} rounds over the loopback, {LOCAL_ROUNDS} in memory");
    println!();
    print_header();
    rows.iter().for_each(print_row);
}
