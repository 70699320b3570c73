//! `saker bench`: runs many executions of a two-task Log flow on a fresh embedded store and
//! reports throughput and orchestration overhead, measured from the recorded state
//! histories (so the figures are what the store says happened, not what a timer guessed).
//! `saker bench --soak` is the long-run check instead (see `soak`), `saker bench --flowables`
//! the cost per iteration of `ForEach` and `Parallel` (see `flowables`). `saker bench
//! --config pg.yml` runs the same flow on distributed mode's services, as separate processes
//! on PostgreSQL, and adds what an idle cluster costs the database (see `distributed`).

mod distributed;
mod flowables;
mod services;
mod soak;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_store::SqliteStore;
use serde_json::Map;
use tokio::sync::{Semaphore, mpsc};

use crate::app::{Globals, runtime};

const FLOW: &str = r#"
id: bench
namespace: saker.bench
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: "first task of {{ execution.id }}"
  - id: second
    type: io.kestra.plugin.core.log.Log
    message: "second task of {{ flow.id }}"
"#;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How many executions to run.
    #[arg(long, default_value_t = 10_000)]
    executions: usize,
    /// How many executions may be in flight at once.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Run the soak benchmark instead: every execution logs a value derived from a stored
    /// secret, and throughput and memory are printed for each tenth of the run.
    #[arg(long)]
    soak: bool,
    /// Run the flowable benchmark instead: a ForEach over 1,000 values (concurrencyLimit 1
    /// and 0) and a Parallel of 100 branches, each iteration one Return task; prints total
    /// time and orchestration overhead per iteration (total minus the tasks' attempt time,
    /// from the recorded state histories), medians of --runs executions.
    #[arg(long, conflicts_with = "soak")]
    flowables: bool,
    /// With --flowables: how many executions of each case to run.
    #[arg(long, default_value_t = 5, requires = "flowables")]
    runs: usize,
    /// With --config (the distributed bench): how long each idle measure lasts, in seconds.
    #[arg(long, default_value_t = 10.0)]
    idle_seconds: f64,
}

pub fn run(globals: &Globals, args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.soak {
        return soak::run(globals, args.executions, args.in_flight);
    }
    if args.flowables {
        return flowables::run(args.runs);
    }
    if let Some(config) = &globals.config {
        let idle = std::time::Duration::try_from_secs_f64(args.idle_seconds)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| anyhow::anyhow!("--idle-seconds must be a number of seconds above 0"))?;
        return distributed::run(
            globals,
            distributed::Request {
                config,
                executions: args.executions,
                in_flight: args.in_flight,
                idle,
            },
        );
    }
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.db"))?);
    let rt = runtime()?;
    let executions = rt.block_on(async {
        let engine = Arc::new(Engine::start(EngineParts::new(store.clone())));
        let (ended_tx, mut ended) = mpsc::unbounded_channel();
        let started = Instant::now();
        run_executions(engine, FLOW, args.executions, args.in_flight, ended_tx).await?;
        let mut done = Vec::with_capacity(args.executions);
        while let Some(execution) = ended.recv().await {
            done.extend(execution);
        }
        let elapsed = started.elapsed();
        anyhow::Ok((done, elapsed))
    })?;
    let (done, elapsed) = executions;
    report(&done, elapsed.as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// Deploys `source` and runs `count` executions of it, at most `in_flight` at once, sending
/// each to `ended` as it ends (`None` for one that vanished).
async fn run_executions(
    engine: Arc<Engine>,
    source: &str,
    count: usize,
    in_flight: usize,
    ended: mpsc::UnboundedSender<Option<Execution>>,
) -> anyhow::Result<()> {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source)?;
    let slots = Arc::new(Semaphore::new(in_flight.max(1)));
    for _ in 0..count {
        let permit = slots.clone().acquire_owned().await?;
        let execution = engine.create_execution(
            DEFAULT_TENANT,
            flow.clone(),
            saved.flow.revision,
            Map::new(),
        )?;
        let engine = engine.clone();
        let ended = ended.clone();
        tokio::spawn(async move {
            let done = engine.wait(&execution.id).await;
            drop(permit);
            // The receiver only goes away when the bench itself stopped.
            let _ = ended.send(done);
        });
    }
    Ok(())
}

fn report(executions: &[Execution], seconds: f64) {
    let succeeded = executions
        .iter()
        .filter(|e| e.state.current == StateType::Success)
        .count();
    let mut to_first = Vec::new();
    let mut between = Vec::new();
    for e in executions {
        let (Some(created), Some(first), Some(second)) = (
            e.state.start_date(),
            e.task_run("first").and_then(|r| r.attempts.first()),
            e.task_run("second").and_then(|r| r.attempts.first()),
        ) else {
            continue;
        };
        // Attempt histories come from the worker's clock (RUNNING when the task really
        // started, then its end), so these gaps are orchestration only.
        if let Some(first_start) = first.state.start_date() {
            to_first.push(micros(first_start - created));
        }
        if let (Some(first_end), Some(second_start)) =
            (first.state.end_date(), second.state.start_date())
        {
            between.push(micros(second_start - first_end));
        }
    }
    println!(
        "executions:        {} ({} SUCCESS)",
        executions.len(),
        succeeded
    );
    println!("wall time:         {seconds:.2} s");
    println!(
        "throughput:        {:.0} executions/s",
        executions.len() as f64 / seconds
    );
    print_percentiles("creation → first task start", &mut to_first);
    print_percentiles("task end → next task start", &mut between);
}

fn micros(d: chrono::TimeDelta) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

fn print_percentiles(label: &str, values: &mut [i64]) {
    if values.is_empty() {
        println!("{label}: no data");
        return;
    }
    values.sort_unstable();
    let p = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    println!(
        "{label}: p50 {:.3} ms, p99 {:.3} ms (n={})",
        p(0.50),
        p(0.99),
        values.len()
    );
}
