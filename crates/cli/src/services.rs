//! This process as a service instance of distributed mode (see
//! ARCHITECTURE.md, "Distributed mode"): the liveness settings read and checked from the
//! configuration, and, on PostgreSQL, the instance row of `saker server local` (STANDALONE):
//! registered at start, heartbeating on a thread of its own, running the coordinator's
//! rounds and the purge of old rows, and TERMINATED_GRACEFULLY when the server stops. On
//! SQLite there is no instance table: one process is the whole deployment.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use saker_cluster::metrics::ServiceMetrics;
use saker_store::PgStore;
use saker_store::StoreError;
use saker_store::services::settings::LivenessSettings;
use saker_store::services::{
    InstanceRegistry, NewInstance, ServiceInstance, ServiceState, ServiceType,
};

use crate::app::App;
use crate::config::Config;

/// The liveness settings of `config` (`server.liveness.*`, `server.worker-task-restart-strategy`,
/// `server.termination-grace-period`, `server.service.purge.retention`, Kestra's older
/// `heartbeat.*`), checked.
pub fn liveness_settings(config: &Config) -> anyhow::Result<LivenessSettings> {
    Ok(LivenessSettings::from_lookup(|key| config.get_str(key))?)
}

/// The PostgreSQL store of `app`, for the service instance commands; `None` on SQLite.
pub fn postgres_store(app: &App, pool_size: u32) -> anyhow::Result<Option<PgStore>> {
    if app.config.get_str("repository.type").as_deref() != Some("postgres") {
        return Ok(None);
    }
    let url = crate::datasource::postgres_url(&app.config)?;
    let mut pool = crate::datasource::pool_settings(&app.config)?;
    pool.max_size = pool.max_size.min(pool_size);
    Ok(Some(
        PgStore::connect_with(&url, pool).context("cannot open the PostgreSQL store")?,
    ))
}

/// How often the purge of old instance rows runs.
const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);

/// A registered instance and its heartbeat thread; [`Presence::stop`] ends both.
pub struct Presence {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
    id: String,
    db: saker_cluster::Db,
    terminating: bool,
    /// Set by the heartbeat thread when the coordinator declared this instance gone.
    gone: Arc<AtomicBool>,
    /// When the last heartbeat was recorded (or the instance registered).
    last_recorded: Arc<std::sync::Mutex<Instant>>,
    metrics: Arc<ServiceMetrics>,
}

impl Presence {
    /// Registers this process as `service_type` and starts heartbeating; `None` on SQLite.
    pub fn start(
        app: &App,
        service_type: ServiceType,
        settings: LivenessSettings,
    ) -> anyhow::Result<Option<Presence>> {
        let Some(store) = postgres_store(app, 2)? else {
            return Ok(None);
        };
        Self::start_on(saker_cluster::keep(store), service_type, None, settings).map(Some)
    }

    /// Registers this process as `service_type` (of `worker_group`, for a worker) on `db`
    /// and starts heartbeating. Executors and standalone servers also run the liveness
    /// coordinator's rounds (one of them at a time acts) and the purge of old rows.
    pub fn start_on(
        db: saker_cluster::Db,
        service_type: ServiceType,
        worker_group: Option<String>,
        settings: LivenessSettings,
    ) -> anyhow::Result<Presence> {
        let id = saker_model::execution::new_id();
        let instance = NewInstance {
            id: id.clone(),
            service_type,
            host: host_name(),
            worker_group,
            config: serde_json::json!({
                "pid": std::process::id(),
                "version": env!("CARGO_PKG_VERSION"),
            }),
        };
        let now = Utc::now();
        db.register_instance(&instance, now)
            .context("cannot register this process as a service instance")?;
        db.set_instance_state(&id, ServiceState::Running, now)
            .context("cannot mark this service instance RUNNING")?;
        let (stop, stopped) = mpsc::channel();
        let thread_id = id.clone();
        let gone = Arc::new(AtomicBool::new(false));
        let beat_gone = gone.clone();
        let last_recorded = Arc::new(std::sync::Mutex::new(Instant::now()));
        let beat_recorded = last_recorded.clone();
        // Executors queue jobs and workers take them: both show the queue's depth.
        let queue =
            matches!(service_type, ServiceType::Executor | ServiceType::Worker).then_some(db);
        let metrics = Arc::new(ServiceMetrics::new(service_type, &id, queue));
        let beat_metrics = metrics.clone();
        let coordinates = matches!(
            service_type,
            ServiceType::Executor | ServiceType::Standalone
        );
        let thread = std::thread::Builder::new()
            .name("saker-heartbeat".into())
            .spawn(move || {
                let this = Beating {
                    id: &thread_id,
                    settings: &settings,
                    coordinates,
                    gone: &beat_gone,
                    recorded: &beat_recorded,
                    metrics: &beat_metrics,
                };
                beat(db, &this, &stopped)
            })
            .context("cannot start the heartbeat thread")?;
        Ok(Presence {
            stop,
            thread,
            id,
            db,
            terminating: false,
            gone,
            last_recorded,
            metrics,
        })
    }

    /// What this instance measures, for its `/metrics` endpoint.
    pub fn metrics(&self) -> Arc<ServiceMetrics> {
        self.metrics.clone()
    }

    /// This instance's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True once the coordinator declared this instance gone (DISCONNECTED or later): its
    /// jobs belong to others now.
    pub fn gone(&self) -> Arc<AtomicBool> {
        self.gone.clone()
    }

    /// How long ago this instance's last heartbeat was recorded (since it registered, before
    /// the first): read it while the heartbeat thread may hang on a cut connection. Past
    /// `server.liveness.timeout` the coordinator may have declared the instance gone without
    /// the instance being able to hear it.
    pub fn silence(&self) -> impl Fn() -> Duration + Send + 'static {
        let recorded = self.last_recorded.clone();
        move || {
            recorded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .elapsed()
        }
    }

    /// Records TERMINATING (a stop was asked): a worker claims nothing more, and heartbeats
    /// go on while its tasks finish.
    pub fn terminating(&mut self) {
        if self.terminating {
            return;
        }
        self.terminating = true;
        if let Err(error) =
            self.db
                .set_instance_state(&self.id, ServiceState::Terminating, Utc::now())
        {
            tracing::warn!(%error, instance = %self.id, "cannot record TERMINATING");
        }
    }

    /// Stops heartbeating and records a graceful end: TERMINATING, then
    /// TERMINATED_GRACEFULLY (the caller has let what ran finish).
    pub fn stop(self) {
        self.stop_as(ServiceState::TerminatedGracefully);
    }

    /// Stops heartbeating and records `end` (TERMINATED_GRACEFULLY, or TERMINATED_FORCED when
    /// tasks were still running at the end of the grace period), TERMINATING first.
    pub fn stop_as(mut self, end: ServiceState) {
        self.terminating();
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            tracing::warn!("the heartbeat thread panicked");
        }
        if let Err(error) = self.db.set_instance_state(&self.id, end, Utc::now()) {
            tracing::warn!(%error, instance = %self.id, "cannot record the service's end");
        }
    }
}

/// The instance a heartbeat loop beats for.
struct Beating<'a> {
    id: &'a str,
    settings: &'a LivenessSettings,
    /// Whether it runs the liveness coordinator's rounds.
    coordinates: bool,
    gone: &'a AtomicBool,
    recorded: &'a std::sync::Mutex<Instant>,
    metrics: &'a ServiceMetrics,
}

/// The heartbeat loop: a heartbeat every `heartbeat_interval`, a coordinator round every
/// `interval` (when `coordinates`), a purge every hour, until `stopped` says so. Failures
/// are logged and tried again at the next beat (the database may be restarting). A failed
/// heartbeat, or one recorded later than the interval and its margin after the previous
/// one, counts as missed in the metrics.
fn beat(store: &PgStore, this: &Beating<'_>, stopped: &mpsc::Receiver<()>) {
    let Beating {
        id,
        settings,
        coordinates,
        gone,
        recorded,
        metrics,
    } = *this;
    let late_after = settings.heartbeat_interval
        + saker_cluster::metrics::late_margin(settings.heartbeat_interval);
    let mut last_round = Instant::now();
    let mut last_purge: Option<Instant> = None;
    // The previous heartbeat recorded; `None` after a failed one (counted as missed once).
    let mut last_beat = Some(Instant::now());
    loop {
        match stopped.recv_timeout(settings.heartbeat_interval) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let now = Utc::now();
        let beaten = store.heartbeat(id, now, settings.job_lease());
        match &beaten {
            Ok(state) => {
                metrics.heartbeat(last_beat.is_some_and(|at| at.elapsed() > late_after));
                last_beat = Some(Instant::now());
                if state.is_alive() {
                    *recorded
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
                }
            }
            Err(_) => {
                metrics.heartbeat_failed();
                last_beat = None;
            }
        }
        match beaten {
            Ok(state) if !state.is_alive() && !gone.load(Ordering::Acquire) => {
                gone.store(true, Ordering::Release);
                tracing::warn!(
                    instance = %id,
                    %state,
                    "this service instance was declared gone by the liveness coordinator \
                     (no heartbeat within server.liveness.timeout)"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "heartbeat failed"),
        }
        if !coordinates {
            continue;
        }
        if last_round.elapsed() >= settings.interval {
            last_round = Instant::now();
            match store.coordinate(settings, now) {
                Ok(decisions) => metrics.coordinated(&decisions),
                Err(error) => tracing::warn!(%error, "liveness coordinator round failed"),
            }
        }
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            last_purge = Some(Instant::now());
            if let Err(error) = store.purge_instances(settings.purge_retention, now) {
                tracing::warn!(%error, "purge of old service instances failed");
            }
            let before = chrono::TimeDelta::from_std(settings.purge_retention)
                .ok()
                .and_then(|keep| now.checked_sub_signed(keep));
            if let Some(before) = before
                && let Err(error) = store.purge_finished_jobs(before)
            {
                tracing::warn!(%error, "purge of finished worker jobs failed");
            }
        }
    }
}

/// This machine's name, as the kernel knows it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What `/api/v1/instance/services` lists: the `service_instances` table on PostgreSQL,
/// else this process alone, as the STANDALONE instance it is (RUNNING, its heartbeat now).
pub fn registry(app: &App) -> anyhow::Result<std::sync::Arc<dyn InstanceRegistry>> {
    Ok(match postgres_store(app, 2)? {
        Some(store) => std::sync::Arc::new(store),
        None => std::sync::Arc::new(ThisProcess::new()),
    })
}

/// This process as the whole deployment (the embedded store keeps no instance table).
struct ThisProcess {
    instance: ServiceInstance,
}

impl ThisProcess {
    fn new() -> Self {
        let now = Utc::now();
        Self {
            instance: ServiceInstance {
                id: saker_model::execution::new_id(),
                service_type: ServiceType::Standalone,
                state: ServiceState::Running,
                host: host_name(),
                started_at: now,
                last_heartbeat: now,
                state_changed_at: now,
                worker_group: None,
                config: serde_json::json!({}),
                jobs: Vec::new(),
            },
        }
    }
}

impl InstanceRegistry for ThisProcess {
    fn list_instances(&self) -> Result<Vec<ServiceInstance>, StoreError> {
        Ok(vec![ServiceInstance {
            last_heartbeat: Utc::now(),
            ..self.instance.clone()
        }])
    }
}
