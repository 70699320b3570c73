//! `saker bench --config pg.yml`: the bench's two-task flow run by distributed mode's
//! services as separate processes on the configured PostgreSQL database: one executor and
//! two workers (this binary started again, see `services`). The bench creates the
//! executions itself as the webserver does (a client engine: the execution row, then a
//! start command for the executor), at most `--in-flight` at once, and prints
//!
//! - executions per second, from the first creation to the last execution seen ended;
//! - the orchestration overhead from the recorded state histories, as the embedded bench
//!   computes it (creation → first task start, first task end → second task start);
//! - the database transactions one execution costs (`pg_stat_database`, the bench's own
//!   reads subtracted, its creation by the bench included): fewer when the services batch
//!   more, so it moves with the load too;
//! - what an idle cluster costs the database: the transactions per second PostgreSQL
//!   counts for the database (`pg_stat_database`: commits + rollbacks) over `--idle-seconds`
//!   with nothing to do, the bench's own reads subtracted. It is measured with every
//!   service up, then again after stopping one worker, then the other, so that each
//!   service's share is the difference.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use saker_cluster::commands::CommandsOut;
use saker_engine::{Engine, NoSecrets};
use saker_model::DEFAULT_TENANT;
use serde_json::Map;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::services::{Services, Setup};
use crate::app::{App, Globals, runtime};

/// How many workers the bench starts.
const WORKERS: usize = 2;

/// How often the bench looks for executions that ended.
const WATCH_EVERY: Duration = Duration::from_millis(5);

/// How long the run may go without any execution ending before the bench gives up.
const STALL: Duration = Duration::from_secs(60);

/// How long the services are left alone after the run (and after a worker stops) before the
/// idle rate is measured. A PostgreSQL session that was busy reports its counts up to 10 s
/// after it went idle (PGSTAT_IDLE_INTERVAL): a shorter pause would count the run's last
/// transactions as idle ones.
const SETTLE: Duration = Duration::from_secs(11);

/// What the distributed bench is asked to do.
pub struct Request<'a> {
    pub config: &'a Path,
    pub executions: usize,
    pub in_flight: usize,
    pub idle: Duration,
}

pub fn run(globals: &Globals, request: Request<'_>) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    check_config(&app)?;
    if request.executions == 0 {
        bail!("--executions must be at least 1");
    }
    let config = std::fs::canonicalize(request.config)
        .with_context(|| format!("cannot read {}", request.config.display()))?;
    app.ensure_data_dir()?;
    let store = app.open_store()?;
    let mut parts = app.engine_parts(store.clone(), Some(&config))?;
    // The bench creates executions as the webserver does; it never runs a task.
    parts.secrets = Arc::new(NoSecrets);
    let db = saker_cluster::keep(
        crate::services::postgres_store(&app, 8)?
            .context("the distributed bench needs repository.type: postgres")?,
    );
    let engine = Arc::new(Engine::client(parts, Arc::new(CommandsOut::new(db))));
    let stats_url = crate::datasource::postgres_url(&app.config)?;
    let logs = tempfile::Builder::new()
        .prefix("saker-bench-logs-")
        .tempdir()?;
    let mut services = Services::start(
        &Setup {
            config: &config,
            data_dir: &app.data_dir,
            logs: logs.path(),
        },
        WORKERS,
    )?;
    println!(
        "distributed: 1 executor, {WORKERS} workers, {} executions, {} in flight",
        request.executions, request.in_flight
    );
    let rt = runtime()?;
    let watcher = Watcher::connect(&stats_url)?;
    let mut stats = Watcher::connect(&stats_url)?;
    let before = stats.transactions()?;
    let (ended, elapsed, watch_reads) = rt
        .block_on(run_load(
            engine,
            request.executions,
            request.in_flight,
            watcher,
        ))
        .with_context(|| format!("services' logs: {}", services.logs()))?;
    if let Some(dead) = services.any_dead() {
        bail!("{dead}");
    }
    // The database's count of the run waits until the services' sessions reported it.
    std::thread::sleep(SETTLE);
    let run_transactions = stats.transactions()? - before - watch_reads - 1;
    let idle = measure_idle(&mut stats, &mut services, request.idle)?;
    drop(services);
    // Read only now, so that these reads are in neither count.
    let mut done = Vec::with_capacity(ended.len());
    for id in &ended {
        done.extend(store.get_execution(id)?);
    }
    super::report(&done, elapsed.as_secs_f64());
    println!(
        "database:          {:.1} transactions per execution (its creation included, the \
         bench's own reads not)",
        run_transactions as f64 / request.executions as f64
    );
    println!("{idle}");
    Ok(ExitCode::SUCCESS)
}

/// Refuses a configuration that does not name PostgreSQL, saying why.
fn check_config(app: &App) -> anyhow::Result<()> {
    if app.config.get_str("repository.type").as_deref() != Some("postgres") {
        bail!(
            "saker bench --config runs distributed mode's services as separate processes on \
             a shared PostgreSQL database: the configuration must set repository.type: \
             postgres and datasources.postgres.url (without --config, saker bench measures \
             the embedded engine on a temporary SQLite database)"
        );
    }
    match app.config.get_str("queue.type").as_deref() {
        None | Some("postgres") => Ok(()),
        Some(other) => bail!(
            "queue.type `{other}` is not available: distributed mode queues its work in the \
             PostgreSQL database (queue.type: postgres)"
        ),
    }
}

/// Creates `count` executions of the bench's flow, at most `in_flight` at once (several
/// created in parallel, as concurrent API requests would be), and waits until all ended.
/// Returns the ids of the executions in the order they were seen ended, the time from the
/// first creation to the last end seen, and how many reads the bench made meanwhile.
async fn run_load(
    engine: Arc<Engine>,
    count: usize,
    in_flight: usize,
    watcher: Watcher,
) -> anyhow::Result<(Vec<String>, Duration, i64)> {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, super::FLOW)?;
    let (created_tx, created_rx) = mpsc::channel();
    let started = Instant::now();
    let watching = std::thread::Builder::new()
        .name("saker-bench-watch".into())
        .spawn(move || watcher.watch(created_rx))?;
    let slots = Arc::new(Semaphore::new(in_flight.max(1)));
    let mut creating = tokio::task::JoinSet::new();
    for _ in 0..count {
        let permit = slots.clone().acquire_owned().await?;
        let engine = engine.clone();
        let flow = flow.clone();
        let created = created_tx.clone();
        let revision = saved.flow.revision;
        creating.spawn_blocking(move || {
            let execution = engine.create_execution(DEFAULT_TENANT, flow, revision, Map::new())?;
            // The watcher only goes away when it gave up; its error is the one reported.
            let _ = created.send((execution.id, permit));
            anyhow::Ok(())
        });
        // Creation errors stop the run at once rather than after every slot filled up.
        while let Some(finished) = creating.try_join_next() {
            finished??;
        }
    }
    drop(created_tx);
    while let Some(finished) = creating.join_next().await {
        finished??;
    }
    let (ended, reads) = tokio::task::spawn_blocking(move || watching.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the bench's watcher thread panicked"))??;
    Ok((ended, started.elapsed(), reads))
}

/// The bench's own session on the database: which executions ended, and the transaction
/// counter of the idle measure. Its reads run on a thread of their own (the synchronous
/// client must not run on a tokio thread).
struct Watcher {
    client: postgres::Client,
}

impl Watcher {
    fn connect(url: &str) -> anyhow::Result<Watcher> {
        let client = postgres::Client::connect(url, postgres::NoTls).context(
            "the bench reads the database on a session of its own, without TLS: use a \
             datasources.postgres.url it can reach that way (e.g. a local server)",
        )?;
        Ok(Watcher { client })
    }

    /// Takes each created execution (with its in-flight slot) from `created` and releases
    /// the slot once the execution has ended; returns when every execution ended and no
    /// more are coming, with how many reads it made. Gives up after [`STALL`] without any
    /// execution ending.
    fn watch(
        mut self,
        created: mpsc::Receiver<(String, OwnedSemaphorePermit)>,
    ) -> anyhow::Result<(Vec<String>, i64)> {
        let mut reads = 0;
        let mut pending: HashMap<String, OwnedSemaphorePermit> = HashMap::new();
        let mut ended = Vec::new();
        let mut more = true;
        let mut last_progress = Instant::now();
        loop {
            while more {
                match created.try_recv() {
                    Ok((id, permit)) => {
                        pending.insert(id, permit);
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => more = false,
                }
            }
            if pending.is_empty() && !more {
                return Ok((ended, reads));
            }
            if !pending.is_empty() {
                let ids: Vec<&str> = pending.keys().map(String::as_str).collect();
                let rows = self.client.query(
                    "SELECT id FROM executions WHERE id = ANY($1) AND ended_at IS NOT NULL",
                    &[&ids],
                )?;
                reads += 1;
                for row in rows {
                    let id: String = row.try_get(0)?;
                    pending.remove(&id);
                    ended.push(id);
                    last_progress = Instant::now();
                }
            }
            if !pending.is_empty() && last_progress.elapsed() >= STALL {
                bail!(
                    "no execution ended within {}s ({} still running)",
                    STALL.as_secs(),
                    pending.len()
                );
            }
            std::thread::sleep(WATCH_EVERY);
        }
    }

    /// The database's transactions so far (commits and rollbacks), as the statistics
    /// collector counts them.
    fn transactions(&mut self) -> anyhow::Result<i64> {
        let row = self.client.query_one(
            "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
             WHERE datname = current_database()",
            &[],
        )?;
        Ok(row.try_get(0)?)
    }

    /// Transactions per second over `window`, the bench's own read subtracted.
    fn rate(&mut self, window: Duration) -> anyhow::Result<f64> {
        let before = self.transactions()?;
        std::thread::sleep(window);
        let after = self.transactions()?;
        // The first read is a transaction of its own, counted between the two reads.
        let others = (after - before - 1).max(0);
        Ok(others as f64 / window.as_secs_f64())
    }
}

/// The idle rates: every service up, then one worker fewer at a time; each service's share
/// is the difference its stopping made. Returns them as printable lines.
fn measure_idle(
    stats: &mut Watcher,
    services: &mut Services,
    window: Duration,
) -> anyhow::Result<String> {
    let mut lines = vec![format!(
        "idle cluster ({}s windows, pg_stat_database commits + rollbacks, the bench's own \
         reads subtracted):",
        window.as_secs_f64()
    )];
    let mut rates = Vec::new();
    for workers in (0..=WORKERS).rev() {
        if workers < WORKERS {
            std::thread::sleep(SETTLE);
        }
        let rate = stats.rate(window)?;
        lines.push(format!(
            "  executor + {workers} worker(s): {rate:.2} transactions/s"
        ));
        rates.push(rate);
        if workers > 0 {
            services.stop_last();
        }
    }
    // rates[0]: every service; rates[WORKERS]: the executor alone.
    let executor = rates[WORKERS];
    let mut shares = format!("  per service: executor {executor:.2}/s");
    for n in 1..=WORKERS {
        let share = rates[WORKERS - n] - rates[WORKERS - n + 1];
        shares.push_str(&format!(", worker-{n} {share:.2}/s"));
    }
    lines.push(shares);
    Ok(lines.join("\n"))
}
