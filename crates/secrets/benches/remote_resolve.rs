//! `secret()` resolution through the remote backends, with and without the cache: the
//! figures of issue 15's speed point. Vault, Google and Azure are the test servers of
//! `tests/{vault,gcp,azure}/server.rs` (same process, loopback HTTP; HTTPS for Azure); AWS is moto's server when `SAKER_MOTO_SERVER` is set
//! (`scripts/peers/moto.sh`). Each resolution goes through the whole `SecretService`
//! (isolation, namespace chain, cache, audit into an in-memory SQLite log), so a cache hit
//! still pays for its audit event; the backend's own `get` is timed too.
//!
//! cargo bench -p saker-secrets --bench remote_resolve [--profile dev]

#[allow(dead_code)] // the bench uses only part of the test server
#[path = "../tests/azure/server.rs"]
mod azure_server;
#[allow(dead_code)] // the bench uses only part of the test server
#[path = "../tests/gcp/server.rs"]
mod gcp_server;
#[allow(dead_code)] // the bench uses only part of the test server
#[path = "../tests/vault/server.rs"]
mod server;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use saker_secrets::{
    Accessor, Namespace, SecretConfig, SecretService, SecretValue, SecretWrite, Service,
};
use saker_store::SqliteStore;
use serde_json::{Value, json};

const ROUNDS: usize = 300;

fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let median = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!("{label:<48} median {median:>10.1?}   p95 {p95:>10.1?}");
}

fn time(mut f: impl FnMut()) -> Vec<Duration> {
    f(); // warm: connection, login
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect()
}

fn measure(name: &str, config: Value) {
    let ns = Namespace::parse("company").unwrap();
    let child = Namespace::parse("company.team").unwrap();
    let who = Accessor::execution("flow", "exec", None);
    for cache in [false, true] {
        let mut section = config.clone();
        section["cache"] = json!({"enabled": cache});
        let config = SecretConfig::from_value(section).unwrap();
        let store = saker_secrets::open_remote(&config).unwrap();
        store
            .put(
                "main",
                &ns,
                "BENCH_KEY",
                SecretWrite::new(SecretValue::new("bench-value")),
            )
            .unwrap();
        let db = Arc::new(SqliteStore::open_in_memory().unwrap());
        let service = SecretService::new(store.clone(), db, &config, Service::Worker);
        let resolve = || {
            service
                .resolve("main", &child, "BENCH_KEY", None, &who)
                .unwrap();
        };
        let label = if cache {
            "cache on (hits)"
        } else {
            "cache off"
        };
        summary(&format!("{name}: resolve, {label}"), time(resolve));
        if !cache {
            summary(
                &format!("{name}: backend get alone"),
                time(|| {
                    store.get("main", &ns, "BENCH_KEY").unwrap();
                }),
            );
        }
    }
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let vault = server::VaultServer::start();
    measure(
        "vault (test server)",
        json!({"type": "vault", "vault": {"address": vault.address,
            "token": {"token": server::ROOT_TOKEN}}}),
    );
    // Google and Azure: their test servers (Azure's over HTTPS), in this process.
    let gcp = gcp_server::GcpServer::start();
    measure(
        "google-secret-manager (test server)",
        json!({"type": "google-secret-manager", "google-secret-manager": {
            "serviceAccount": gcp.service_account_json(), "endpoint": gcp.address}}),
    );
    let azure = azure_server::AzureServer::start();
    let ca = std::env::temp_dir().join(format!("saker-bench-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, &azure.ca_pem).unwrap();
    measure(
        "azure-key-vault (test server, HTTPS)",
        json!({"type": "azure-key-vault", "azure-key-vault": {
            "clientSecret": {"tenantId": azure_server::TENANT_ID,
                "clientId": azure_server::CLIENT_ID, "clientSecret": azure_server::CLIENT_SECRET},
            "keyVaultUri": azure.address, "authority": azure.address, "caFile": ca}}),
    );
    let _ = std::fs::remove_file(&ca);
    let Some(moto) = std::env::var_os("SAKER_MOTO_SERVER") else {
        println!("SKIPPED aws: SAKER_MOTO_SERVER is not set");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _moto = Moto(
        Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(100));
    }
    measure(
        "aws-secret-manager (moto)",
        json!({"type": "aws-secret-manager", "aws-secret-manager": {"accessKeyId": "testing",
            "secretKeyId": "testing", "region": "us-east-1",
            "endpointOverride": format!("http://127.0.0.1:{port}")}}),
    );
}
