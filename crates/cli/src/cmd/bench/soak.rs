//! `saker bench --soak`: what months of running do to speed and memory, in minutes. Every
//! execution logs `{{ secret('K') ~ '-' ~ execution.id }}`: it reads the same stored secret
//! (through the real secret service, cache and audit trail) and derives a value never seen
//! before, which joins the execution's mask set. A process that keeps something per
//! execution (mask sets, caches, buffers) shows it here as throughput that falls and memory
//! that climbs from one tenth of the run to the next; a healthy one stays flat.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use saker_crypto::{Keyring, SecretKey};
use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_secrets::{
    Accessor, JdbcSecretStore, Namespace, SecretConfig, SecretService, SecretValue, SecretWrite,
    Service,
};
use saker_store::{Database, SqliteStore};
use tokio::sync::mpsc;

use crate::app::{Globals, runtime};
use crate::engine_secrets::ServiceSecrets;

const NAMESPACE: &str = "saker.soak";

const FLOW: &str = r#"
id: soak
namespace: saker.soak
tasks:
  - id: derive
    type: io.kestra.plugin.core.log.Log
    message: "{{ secret('K') ~ '-' ~ execution.id }}"
"#;

/// Where the run stood when the last execution of a tenth ended.
struct Sample {
    done: usize,
    elapsed: Duration,
    rss_kib: Option<u64>,
}

pub fn run(_globals: &Globals, executions: usize, in_flight: usize) -> anyhow::Result<ExitCode> {
    if executions < 10 {
        bail!("--soak needs at least 10 executions (--executions N), one tenth of the run per row");
    }
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(&dir.path().join("soak.db"))?);
    let secrets = secret_service(store.clone())?;
    let rt = runtime()?;
    print_header();
    let states = rt.block_on(async {
        let mut parts = EngineParts::new(store.clone());
        parts.secrets = Arc::new(ServiceSecrets {
            service: secrets.for_service(Service::Worker),
        });
        let engine = Arc::new(Engine::start(parts));
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        let collector = tokio::spawn(collect(ended_rx, executions, Instant::now()));
        super::run_executions(engine, FLOW, executions, in_flight, ended_tx).await?;
        collector.await.context("the soak collector stopped")
    })?;
    let failed = executions - states.success;
    println!(
        "\nexecutions: {executions} ({} SUCCESS, {failed} other)",
        states.success
    );
    if failed > 0 {
        bail!("{failed} executions did not succeed: the soak figures are not comparable");
    }
    Ok(ExitCode::SUCCESS)
}

/// The soak's own secret store: a jdbc store on the bench database, sealed with a key made
/// for this run, holding `K` in the flow's namespace.
fn secret_service(store: Arc<SqliteStore>) -> anyhow::Result<SecretService> {
    let database: Arc<dyn Database> = store;
    let backend = JdbcSecretStore::new(
        database.clone(),
        Keyring::new(SecretKey::generate()),
        SecretConfig::default().jdbc.max_versions,
    );
    let service = SecretService::new(
        Arc::new(backend),
        database,
        &SecretConfig::default(),
        Service::Webserver,
    );
    let namespace = Namespace::parse(NAMESPACE).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A value made here, never printed: it only has to be a secret the masker must find.
    let value = format!("soak-{}", SecretKey::generate().id());
    service
        .put(
            DEFAULT_TENANT,
            &namespace,
            "K",
            SecretWrite::new(SecretValue::new(value)),
            &Accessor::user("saker-bench"),
        )
        .context("cannot store the soak secret")?;
    Ok(service)
}

#[derive(Default)]
struct States {
    success: usize,
}

/// Counts ended executions and prints a row at the end of every tenth of the run, as it
/// happens (a long soak shows its trend before it ends).
async fn collect(
    mut ended: mpsc::UnboundedReceiver<Option<Execution>>,
    total: usize,
    started: Instant,
) -> States {
    let mut states = States::default();
    let mut tenths = 0;
    let mut previous = Sample {
        done: 0,
        elapsed: Duration::ZERO,
        rss_kib: None,
    };
    let mut done = 0;
    while let Some(execution) = ended.recv().await {
        done += 1;
        if execution.is_some_and(|e| e.state.current == StateType::Success) {
            states.success += 1;
        }
        // The k-th tenth ends at ceil(k * total / 10) executions.
        if done >= ((tenths + 1) * total).div_ceil(10) {
            tenths += 1;
            let sample = Sample {
                done,
                elapsed: started.elapsed(),
                rss_kib: rss_kib(),
            };
            print_row(tenths, &sample, &previous);
            previous = sample;
        }
    }
    states
}

/// This process's resident set size (`VmRSS` of /proc/self/status), in KiB; `None` where
/// there is no such file.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn print_header() {
    println!(
        "{:>6} {:>11} {:>10} {:>16} {:>10}",
        "tenth", "executions", "seconds", "executions/s", "RSS MiB"
    );
}

/// One row: where the run stands, and the rate since the previous row.
fn print_row(tenth: usize, sample: &Sample, previous: &Sample) {
    let seconds = (sample.elapsed - previous.elapsed).as_secs_f64();
    let rate = (sample.done - previous.done) as f64 / seconds.max(f64::EPSILON);
    let rss = sample
        .rss_kib
        .map_or_else(|| "n/a".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
    println!(
        "{:>6} {:>11} {:>10.2} {:>16.0} {:>10}",
        tenth,
        sample.done,
        sample.elapsed.as_secs_f64(),
        rate,
        rss
    );
}
