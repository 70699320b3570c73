//! `saker server executor | worker | webserver | scheduler`: the roles of `saker server
//! standalone` as separate processes sharing one PostgreSQL database (distributed mode;
//! `docs/deploy.md`). They meet only through the database: jobs, results, controls and
//! commands (`saker_cluster`), and the service instance table (`crate::services`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use saker_cluster::commands::{CommandsOut, run_command_pump};
use saker_cluster::controls::{ControlsIn, ControlsOut};
use saker_cluster::jobs::{ClaimBook, Claimer, JobsIn, JobsOut};
use saker_cluster::results::{ResultsIn, ResultsOut};
use saker_engine::metrics::MetricsSource;
use saker_engine::scheduler::{Scheduler, SchedulerConfig};
use saker_engine::trigger::TriggerSecrets;
use saker_engine::{Engine, NoSecrets, WorkerQueues, WorkerService};
use saker_store::services::{ServiceState, ServiceType};

use super::server::{
    ApiParts, HttpArgs, Management, SchedulerSecrets, StopSignals, delete_config_files_if_asked,
    serve_api,
};
use crate::app::{App, Globals, runtime};
use crate::services::Presence;

/// How often a process that waits for its turn (a standby executor or scheduler) tries.
const STANDBY_POLL: Duration = Duration::from_secs(1);

/// The configuration of a distributed service, checked: PostgreSQL as repository (and as
/// queue, when `queue.type` is set).
fn distributed_app(globals: &Globals, role: &str) -> anyhow::Result<App> {
    let app = globals.app()?;
    delete_config_files_if_asked(&app, globals)?;
    if app.config.get_str("repository.type").as_deref() != Some("postgres") {
        bail!(
            "saker server {role} runs beside other Saker services on a shared PostgreSQL \
             database: set repository.type: postgres and datasources.postgres.url (on one \
             machine, `saker server standalone` runs every role in one process)"
        );
    }
    match app.config.get_str("queue.type").as_deref() {
        None | Some("postgres") => {}
        Some(other) => bail!(
            "queue.type `{other}` is not available: distributed mode queues its work in the \
             PostgreSQL database (queue.type: postgres)"
        ),
    }
    app.ensure_data_dir()?;
    Ok(app)
}

/// The PostgreSQL store of this process's distributed-mode threads, kept for its life.
fn cluster_db(app: &App, connections: u32) -> anyhow::Result<saker_cluster::Db> {
    let store = crate::services::postgres_store(app, connections)?
        .context("distributed mode needs repository.type: postgres")?;
    Ok(saker_cluster::keep(store))
}

/// The management endpoints of a distributed service on `port` (local address only), when
/// one is given.
async fn management(
    app: &App,
    sources: Vec<Arc<dyn MetricsSource>>,
    port: Option<u16>,
) -> anyhow::Result<Option<Management>> {
    let Some(port) = port else { return Ok(None) };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    Management::serve(app, sources, addr).await.map(Some)
}

/// Waits for this process's turn as the active `role` (one executor, one scheduler at a
/// time: their locks are released by PostgreSQL when the holder's session ends): `claim`
/// is tried now and every [`STANDBY_POLL`], on a blocking thread, saying once that this one
/// stands by. `None` when `stop` comes first.
async fn wait_for_turn<T: Send + 'static>(
    role: &str,
    stop: &mut (impl std::future::Future<Output = ()> + Unpin),
    claim: impl Fn() -> anyhow::Result<Option<T>> + Clone + Send + 'static,
) -> anyhow::Result<Option<T>> {
    let mut announced = false;
    loop {
        let attempt = claim.clone();
        if let Some(held) = tokio::task::spawn_blocking(attempt).await?? {
            return Ok(Some(held));
        }
        if !announced {
            announced = true;
            eprintln!("another {role} is active; this one stands by to take over");
        }
        tokio::select! {
            _ = &mut *stop => return Ok(None),
            _ = tokio::time::sleep(STANDBY_POLL) => {}
        }
    }
}

/// `saker server executor`.
pub fn executor(globals: &Globals, management_port: Option<u16>) -> anyhow::Result<ExitCode> {
    let app = distributed_app(globals, "executor")?;
    let liveness = crate::services::liveness_settings(&app.config)?;
    let patience = liveness.timeout;
    // One store for the engine and the queues: the executor's claim fences every write it
    // makes through either (a process that lost the claim writes nothing).
    let pg = Arc::new(
        crate::services::postgres_store(&app, u32::MAX)?
            .context("distributed mode needs repository.type: postgres")?,
    );
    let db = saker_cluster::keep_shared(pg.clone());
    let store: Arc<dyn saker_store::Database> = pg;
    // The executor resolves secrets only to render flow outputs, as the EXECUTOR service
    // (`secret.isolation.denied-services` applies to it by that name).
    let secrets = crate::secret_service::open_secret_service(
        &app,
        store.clone(),
        saker_secrets::Service::Executor,
    )?;
    let mut parts =
        app.engine_parts_with(store.clone(), secrets.clone(), globals.config.as_deref())?;
    parts.secrets = Arc::new(crate::engine_secrets::ServiceSecrets { service: secrets });
    let rt = runtime()?;
    rt.block_on(async move {
        let stop = StopSignals::install()?;
        let presence = tokio::task::spawn_blocking(move || {
            Presence::start_on(db, ServiceType::Executor, None, liveness)
        })
        .await??;
        eprintln!("Saker executor {} started", presence.id());
        // One executor at a time advances executions; the others wait for its lock, which
        // PostgreSQL releases when its session ends (a stop, a crash, a cut connection).
        let mut stop = Box::pin(stop.received());
        let claim_store = store.clone();
        let turn = wait_for_turn("executor", &mut stop, move || {
            let claimed = claim_store
                .claim_executor()
                .context("cannot claim the right to run executions")?;
            Ok(claimed.then_some(()))
        })
        .await?;
        if turn.is_none() {
            tokio::task::spawn_blocking(move || presence.stop()).await?;
            return Ok(ExitCode::SUCCESS);
        }
        let results = Arc::new(ResultsIn::new(db));
        let engine = Arc::new(Engine::start_executor(
            parts,
            WorkerQueues {
                jobs: Arc::new(JobsOut::new(db)),
                results: results.clone(),
                controls: Arc::new(ControlsOut::new(db)),
            },
        ));
        let recovering = engine.clone();
        let resumed = tokio::task::spawn_blocking(move || {
            recovering.recover_with(&|run| saker_cluster::recovery::attempt_fate(db, run))
        })
        .await?
        .context("taking over the executions in progress")?;
        if resumed > 0 {
            eprintln!("took over {resumed} execution(s) in progress");
        }
        // Results and commands are read only now: none reaches the executor before the
        // execution it belongs to.
        results.start();
        run_command_pump(db, engine.clone());
        let _retention = crate::retention::spawn(&app.config, store.clone())?;
        let sources: Vec<Arc<dyn MetricsSource>> = vec![engine.clone(), presence.metrics()];
        let management = management(&app, sources, management_port).await?;
        eprintln!("Saker executor {} is the active executor", presence.id());
        // Losing the lock (the database restarted, the connection was cut) means another
        // executor may take over: this one stops at once rather than advance executions
        // beside it.
        // The database being unreachable for a while (a restart) is waited out for as long
        // as the liveness timeout: the lock comes back with the session if nobody took it.
        let lost = async {
            let mut unreachable_since: Option<Instant> = None;
            loop {
                tokio::time::sleep(STANDBY_POLL).await;
                let check = store.clone();
                match tokio::task::spawn_blocking(move || check.claim_executor()).await {
                    Ok(Ok(true)) => unreachable_since = None,
                    Ok(Ok(false)) => return,
                    Ok(Err(error)) => {
                        let since = *unreachable_since.get_or_insert_with(Instant::now);
                        tracing::warn!(%error, "cannot check this executor's hold on the database");
                        if since.elapsed() >= patience {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        };
        let code = tokio::select! {
            _ = &mut stop => ExitCode::SUCCESS,
            _ = lost => {
                eprintln!("error: this executor lost its hold on the database; stopping so that another takes over");
                ExitCode::FAILURE
            }
        };
        eprintln!("shutting down");
        if let Some(management) = management {
            management.stop().await;
        }
        tokio::task::spawn_blocking(move || presence.stop()).await?;
        Ok(code)
    })
}

/// `saker server worker`.
pub fn worker(
    globals: &Globals,
    thread: Option<usize>,
    worker_group: Option<String>,
    management_port: Option<u16>,
) -> anyhow::Result<ExitCode> {
    let app = distributed_app(globals, "worker")?;
    let liveness = crate::services::liveness_settings(&app.config)?;
    let store = app.open_store()?;
    let mut parts = app.engine_parts(store, globals.config.as_deref())?;
    if let Some(n) = thread {
        if !(1..=10_000).contains(&n) {
            bail!("--thread must be a number from 1 to 10000");
        }
        parts.worker_concurrency = n;
    }
    let worker_group = worker_group
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty());
    // Claims, results, controls, the heartbeat.
    let db = cluster_db(&app, 6)?;
    let grace = liveness.termination_grace_period;
    let lease = liveness.job_lease();
    // With liveness disabled nobody is ever declared gone, so silence stops nothing either.
    let liveness_timeout = liveness.enabled.then_some(liveness.timeout);
    let rt = runtime()?;
    rt.block_on(async move {
        let stop = StopSignals::install()?;
        let group = worker_group.clone();
        let mut presence = tokio::task::spawn_blocking(move || {
            Presence::start_on(db, ServiceType::Worker, group, liveness)
        })
        .await??;
        let instance = presence.id().to_owned();
        let book = ClaimBook::default();
        let jobs = JobsIn::new(
            db,
            Claimer {
                instance: instance.clone(),
                worker_group: worker_group.clone(),
                lease,
                metrics: presence.metrics(),
            },
            book.clone(),
        );
        let stopping = jobs.stopping();
        let controls = tokio::task::spawn_blocking(move || ControlsIn::new(db)).await??;
        let worker = WorkerService::start(
            &parts,
            WorkerQueues {
                jobs: Arc::new(jobs),
                results: Arc::new(ResultsOut::new(db, instance.clone(), book.clone())),
                controls: Arc::new(controls),
            },
        );
        eprintln!(
            "Saker worker {instance} started ({} task attempts at once, worker group {})",
            parts.worker_concurrency,
            worker_group.as_deref().unwrap_or("default")
        );
        let management = management(&app, vec![presence.metrics()], management_port).await?;
        let gone = presence.gone();
        let silence = presence.silence();
        let timeout = liveness_timeout;
        // Declared gone, or unable to heartbeat for longer than the liveness timeout (a cut
        // network: the coordinator has likely declared it gone without it hearing so).
        let declared_gone = async {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if gone.load(Ordering::Acquire) || timeout.is_some_and(|t| silence() > t) {
                    return;
                }
            }
        };
        tokio::select! {
            _ = stop.received() => {}
            _ = declared_gone => {
                // Another worker owns these jobs now, and their results would be refused.
                stopping.store(true, Ordering::Release);
                worker.cancel_all();
                eprintln!(
                    "error: this worker was declared gone by the liveness coordinator, or could \
                     not heartbeat for longer than server.liveness.timeout; its tasks were \
                     stopped (other workers run them, as the restart strategy says) and it \
                     exits, to be started again as a new instance"
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        eprintln!(
            "shutting down: finishing the running tasks (at most server.termination-grace-period, {}s)",
            grace.as_secs()
        );
        stopping.store(true, Ordering::Release);
        presence = tokio::task::spawn_blocking(move || {
            presence.terminating();
            presence
        })
        .await?;
        let deadline = Instant::now() + grace;
        while (worker.running() > 0 || !book.is_empty()) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let end = if worker.running() == 0 && book.is_empty() {
            ServiceState::TerminatedGracefully
        } else {
            // The grace period ran out: what still runs is stopped, and the coordinator
            // hands its jobs on as the restart strategy says.
            worker.cancel_all();
            ServiceState::TerminatedForced
        };
        if let Some(management) = management {
            management.stop().await;
        }
        tokio::task::spawn_blocking(move || presence.stop_as(end)).await?;
        Ok(if end == ServiceState::TerminatedGracefully {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// An engine without executor or worker, handing its requests to the executor through the
/// database; it never resolves a secret for a task.
fn client_engine(
    app: &App,
    globals: &Globals,
    store: Arc<dyn saker_store::Database>,
    secrets: saker_secrets::SecretService,
    db: saker_cluster::Db,
) -> anyhow::Result<Engine> {
    let mut parts = app.engine_parts_with(store, secrets, globals.config.as_deref())?;
    parts.secrets = Arc::new(NoSecrets);
    Ok(Engine::client(parts, Arc::new(CommandsOut::new(db))))
}

/// `saker server webserver`.
pub fn webserver(globals: &Globals, http: HttpArgs) -> anyhow::Result<ExitCode> {
    let app = distributed_app(globals, "webserver")?;
    let liveness = crate::services::liveness_settings(&app.config)?;
    let port = match http.port {
        Some(p) => p,
        None => app.config.server_port()?,
    };
    let store = app.open_store()?;
    let auth = super::server::auth_gate(&app, store.clone())?;
    let secrets = crate::secret_service::open_secret_service(
        &app,
        store.clone(),
        saker_secrets::Service::Webserver,
    )?;
    // Webhook keys are the scheduler's to resolve, as in one process.
    let trigger_secrets: Arc<dyn TriggerSecrets> = Arc::new(SchedulerSecrets {
        service: secrets.for_service(saker_secrets::Service::Scheduler),
    });
    let db = cluster_db(&app, 4)?;
    let engine = client_engine(&app, globals, store, secrets.clone(), db)?;
    let rt = runtime()?;
    rt.block_on(async move {
        let stop = StopSignals::install()?;
        let presence = tokio::task::spawn_blocking(move || {
            Presence::start_on(db, ServiceType::Webserver, None, liveness)
        })
        .await??;
        let shutdown = async move {
            stop.received().await;
            eprintln!("shutting down");
        };
        let served = serve_api(
            &app,
            ApiParts {
                engine: Arc::new(engine),
                auth,
                secrets: Some(secrets),
                trigger_secrets: Some(trigger_secrets),
                service_metrics: Some(presence.metrics()),
            },
            SocketAddr::new(http.host, port),
            http.management_port,
            shutdown,
        )
        .await;
        // Ended either way: a webserver that could not listen is not left RUNNING.
        tokio::task::spawn_blocking(move || presence.stop()).await?;
        served?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `saker server scheduler`.
pub fn scheduler(globals: &Globals, management_port: Option<u16>) -> anyhow::Result<ExitCode> {
    let app = distributed_app(globals, "scheduler")?;
    let liveness = crate::services::liveness_settings(&app.config)?;
    let store = app.open_store()?;
    let secrets = crate::secret_service::open_secret_service(
        &app,
        store.clone(),
        saker_secrets::Service::Scheduler,
    )?;
    let trigger_secrets: Arc<dyn TriggerSecrets> = Arc::new(SchedulerSecrets {
        service: secrets.clone(),
    });
    let db = cluster_db(&app, 4)?;
    let engine = Arc::new(client_engine(&app, globals, store, secrets, db)?);
    let rt = runtime()?;
    rt.block_on(async move {
        let stop = StopSignals::install()?;
        let presence = tokio::task::spawn_blocking(move || {
            Presence::start_on(db, ServiceType::Scheduler, None, liveness)
        })
        .await??;
        eprintln!("Saker scheduler {} started", presence.id());
        let mut stop = Box::pin(stop.received());
        // One scheduler at a time fires triggers, so that each fires once.
        let turn = wait_for_turn("scheduler", &mut stop, move || {
            db.claim_scheduler()
                .context("cannot claim the scheduler's lock")
        })
        .await?;
        let Some(lock) = turn else {
            tokio::task::spawn_blocking(move || presence.stop()).await?;
            return Ok(ExitCode::SUCCESS);
        };
        let sources: Vec<Arc<dyn MetricsSource>> = vec![engine.clone(), presence.metrics()];
        let management = management(&app, sources, management_port).await?;
        let (stop_scheduler, scheduler_stopped) = tokio::sync::oneshot::channel::<()>();
        let schedules = Arc::new(Scheduler::new(engine.clone(), SchedulerConfig::default()));
        let schedules = tokio::spawn(schedules.run(async move {
            let _ = scheduler_stopped.await;
        }));
        let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
        let http_triggers = Arc::new(saker_engine::http_trigger::HttpTriggers::new(
            engine.clone(),
            Some(trigger_secrets),
        ));
        let http_triggers = tokio::spawn(http_triggers.run(Duration::from_secs(1), async move {
            let _ = http_stopped.await;
        }));
        eprintln!("Saker scheduler {} is the active scheduler", presence.id());
        let lost = async {
            loop {
                tokio::time::sleep(STANDBY_POLL).await;
                if !lock.is_held() {
                    return;
                }
            }
        };
        let code = tokio::select! {
            _ = &mut stop => ExitCode::SUCCESS,
            _ = lost => {
                eprintln!("error: this scheduler lost its hold on the database; stopping so that another takes over");
                ExitCode::FAILURE
            }
        };
        eprintln!("shutting down");
        let _ = stop_scheduler.send(());
        let _ = stop_http.send(());
        let _ = schedules.await;
        let _ = http_triggers.await;
        if let Some(management) = management {
            management.stop().await;
        }
        drop(lock);
        tokio::task::spawn_blocking(move || presence.stop()).await?;
        Ok(code)
    })
}
