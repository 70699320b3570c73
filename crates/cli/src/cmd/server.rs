//! `saker server local`: every role in one process on the embedded store.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use saker_engine::Engine;
use saker_engine::metrics::MetricsSource;
use saker_engine::scheduler::{Scheduler, SchedulerConfig};
use saker_engine::trigger::{TriggerRequester, TriggerSecrets};
use saker_server::AppState;
use zeroize::Zeroizing;

use crate::app::{Globals, runtime};

/// Where the API listens.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// The HTTP port [default: server.port from the configuration, else 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// Serve `/health` and `/metrics` on this port too [default: endpoints.all.port;
    /// none when neither is set].
    #[arg(long)]
    pub management_port: Option<u16>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// API, executor, worker and scheduler in one process (SQLite by default; on PostgreSQL
    /// one standalone server per database).
    #[command(visible_alias = "local")]
    Standalone {
        #[command(flatten)]
        http: HttpArgs,
    },
    /// The executor alone (distributed mode, PostgreSQL): advances executions, hands their
    /// tasks to the workers through the database. Several may run: one is active, the
    /// others take over when it stops.
    Executor {
        /// Serve `/health` and `/metrics` on this port.
        #[arg(long)]
        management_port: Option<u16>,
    },
    /// A worker (distributed mode, PostgreSQL): runs the tasks the executor queues. Run as
    /// many as needed, on as many machines.
    Worker {
        /// Task attempts run at once [default: worker.concurrency, else 16].
        #[arg(long)]
        thread: Option<usize>,
        /// Run only the tasks of this worker group (`workerGroup: {key: …}`); without it, the
        /// tasks that name no group.
        #[arg(long)]
        worker_group: Option<String>,
        /// Serve `/health` and `/metrics` on this port.
        #[arg(long)]
        management_port: Option<u16>,
    },
    /// The API and web UI alone (distributed mode, PostgreSQL): never runs a task nor
    /// resolves a secret for one.
    Webserver {
        #[command(flatten)]
        http: HttpArgs,
    },
    /// The scheduler alone (distributed mode, PostgreSQL): fires Schedule and HTTP
    /// triggers. Several may run: one is active, the others take over when it stops.
    Scheduler {
        /// Serve `/health` and `/metrics` on this port.
        #[arg(long)]
        management_port: Option<u16>,
    },
}

pub fn run(globals: &Globals, command: ServerCommand) -> anyhow::Result<ExitCode> {
    match command {
        ServerCommand::Standalone { http } => standalone(globals, http),
        ServerCommand::Executor { management_port } => {
            super::server_services::executor(globals, management_port)
        }
        ServerCommand::Worker {
            thread,
            worker_group,
            management_port,
        } => super::server_services::worker(globals, thread, worker_group, management_port),
        ServerCommand::Webserver { http } => super::server_services::webserver(globals, http),
        ServerCommand::Scheduler { management_port } => {
            super::server_services::scheduler(globals, management_port)
        }
    }
}

/// Every role in one process.
fn standalone(globals: &Globals, http: HttpArgs) -> anyhow::Result<ExitCode> {
    let HttpArgs {
        port,
        host,
        management_port,
    } = http;
    let app = globals.app()?;
    delete_config_files_if_asked(&app, globals)?;
    let port = match port {
        Some(p) => p,
        None => app.config.server_port()?,
    };
    let _lock = app.lock()?;
    let liveness = crate::services::liveness_settings(&app.config)?;
    let store = app.open_store_to_run()?;
    let auth = auth_gate(&app, store.clone())?;
    // One secret service (one cache) for every role of this process.
    let secrets = crate::secret_service::open_secret_service(
        &app,
        store.clone(),
        saker_secrets::Service::Webserver,
    )?;
    let trigger_secrets: Arc<dyn TriggerSecrets> = Arc::new(SchedulerSecrets {
        service: secrets.for_service(saker_secrets::Service::Scheduler),
    });
    let parts = app.engine_parts_with(store.clone(), secrets.clone(), globals.config.as_deref())?;
    let rt = runtime()?;
    rt.block_on(async move {
        // Handlers for Ctrl-C and SIGTERM exist before anything can be asked of the server:
        // installed lazily (when the shutdown future is first polled), a signal sent as soon
        // as /health answered would still find the default action and kill the process.
        let stop = StopSignals::install()?;
        let engine = Arc::new(Engine::start(parts));
        // On PostgreSQL this process is a STANDALONE service instance, heartbeating.
        let presence = crate::services::Presence::start(
            &app,
            saker_store::services::ServiceType::Standalone,
            liveness,
        )?;
        let _retention = crate::retention::spawn(&app.config, store)?;
        let resumed = engine
            .recover()
            .context("resuming interrupted executions")?;
        if resumed > 0 {
            eprintln!("resumed {resumed} execution(s) interrupted by the last stop");
        }
        // The scheduler fires Schedule triggers; this process holds the executor claim, so it
        // is the only scheduler on this database.
        let (stop_scheduler, scheduler_stopped) = tokio::sync::oneshot::channel::<()>();
        let scheduler = Arc::new(Scheduler::new(engine.clone(), SchedulerConfig::default()));
        let scheduler = tokio::spawn(scheduler.run(async move {
            let _ = scheduler_stopped.await;
        }));
        // HTTP triggers are polled beside it, each at its own interval (checked every second).
        let (stop_http_triggers, http_triggers_stopped) = tokio::sync::oneshot::channel::<()>();
        let http_triggers = Arc::new(saker_engine::http_trigger::HttpTriggers::new(
            engine.clone(),
            Some(trigger_secrets.clone()),
        ));
        let http_triggers = tokio::spawn(http_triggers.run(
            std::time::Duration::from_secs(1),
            async move {
                let _ = http_triggers_stopped.await;
            },
        ));
        let shutdown = async move {
            stop.received().await;
            eprintln!("shutting down");
        };
        serve_api(
            &app,
            ApiParts {
                engine,
                auth,
                secrets: Some(secrets),
                trigger_secrets: Some(trigger_secrets),
                service_metrics: presence
                    .as_ref()
                    .map(|p| p.metrics() as Arc<dyn MetricsSource>),
            },
            SocketAddr::new(host, port),
            management_port,
            shutdown,
        )
        .await?;
        let _ = stop_scheduler.send(());
        let _ = stop_http_triggers.send(());
        let _ = scheduler.await;
        let _ = http_triggers.await;
        if let Some(presence) = presence {
            tokio::task::spawn_blocking(move || presence.stop()).await?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// What the API serves beside the store.
pub(super) struct ApiParts {
    pub engine: Arc<Engine>,
    /// Users and roles, when `server.basic-auth` is set.
    pub auth: Option<Arc<saker_server::AuthGate>>,
    /// The secret service of the secrets API (values written, never read back).
    pub secrets: Option<saker_secrets::SecretService>,
    /// Resolves the secrets webhook keys name.
    pub trigger_secrets: Option<Arc<dyn TriggerSecrets>>,
    /// The service instance's own metrics (on PostgreSQL), shown on `/metrics` after the
    /// engine's.
    pub service_metrics: Option<Arc<dyn MetricsSource>>,
}

/// Serves the API on `addr` (and the management endpoints on `management_port`, else
/// `endpoints.all.port`) until `shutdown` resolves.
pub(super) async fn serve_api(
    app: &crate::app::App,
    api: ApiParts,
    addr: SocketAddr,
    management_port: Option<u16>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let ApiParts {
        engine,
        auth,
        secrets,
        trigger_secrets,
        service_metrics,
    } = api;
    let host = addr.ip();
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is another server using the port? try --port)")
    })?;
    let bound = listener.local_addr()?;
    eprintln!(
        "Saker server listening on http://{bound} (data in {})",
        app.data_dir.display()
    );
    let management = match management_port.or(app
        .config
        .get("endpoints.all.port")
        .and_then(|v| v.as_u64())
        .and_then(|n| u16::try_from(n).ok()))
    {
        None => None,
        Some(mport) => {
            let mut sources: Vec<Arc<dyn MetricsSource>> = vec![engine.clone()];
            sources.extend(service_metrics);
            Some(Management::serve(app, sources, SocketAddr::new(host, mport)).await?)
        }
    };
    saker_server::configure_debug_expressions(debug_limits(app)?);
    saker_server::serve(
        listener,
        AppState {
            engine,
            auth,
            secrets,
            trigger_secrets,
            webhook_misses: Arc::new(saker_server::webhook_miss_throttle()),
            store_gate: app.store_gate()?,
            default_tenant: default_tenant(app)?,
            services: crate::services::registry(app)?,
        },
        shutdown,
    )
    .await?;
    if let Some(management) = management {
        management.stop().await;
    }
    Ok(())
}

/// The management endpoints (`/health`, and `/metrics` with the text of every source) of a
/// server process, until [`Management::stop`].
pub(super) struct Management {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Management {
    /// Listens on `addr` (behind `endpoints.all.basic-auth` when set) and serves there.
    pub(super) async fn serve(
        app: &crate::app::App,
        sources: Vec<Arc<dyn MetricsSource>>,
        addr: SocketAddr,
    ) -> anyhow::Result<Management> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for the management endpoints"))?;
        eprintln!(
            "management endpoints (/health, /metrics) on http://{}",
            listener.local_addr()?
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(saker_server::serve_management(
            listener,
            sources,
            management_auth(app)?,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Management { stop, task })
    }

    /// Stops serving, and waits until it has.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Secrets named by trigger properties (a webhook's `key: "{{ secret('…') }}"`), resolved
/// as the SCHEDULER, the service triggers belong to: isolation applies to it, and each read
/// is audited with the trigger as actor (`trigger:<id>`) and its flow.
pub(super) struct SchedulerSecrets {
    pub(super) service: saker_secrets::SecretService,
}

impl TriggerSecrets for SchedulerSecrets {
    fn resolve(
        &self,
        requester: &TriggerRequester,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, String> {
        let flow_namespace =
            saker_secrets::Namespace::parse(&requester.namespace).map_err(|e| e.to_string())?;
        let requested = namespace
            .map(saker_secrets::Namespace::parse)
            .transpose()
            .map_err(|e| format!("secret('{key}', namespace=...): {e}"))?;
        let who = saker_secrets::Accessor {
            actor: format!("trigger:{}", requester.trigger_id),
            flow_id: Some(requester.flow_id.clone()),
            ..saker_secrets::Accessor::default()
        };
        let resolution = self
            .service
            .resolve(
                &requester.tenant_id,
                &flow_namespace,
                key,
                requested.as_ref(),
                &who,
            )
            .map_err(|e| e.to_string())?;
        Ok(Zeroizing::new(resolution.value.expose().to_owned()))
    }
}

/// Users for the API when `server.basic-auth` is configured (its user is created as the
/// admin on first start); `None` leaves the API open, as Kestra does without it.
pub(super) fn auth_gate(
    app: &crate::app::App,
    store: Arc<dyn saker_store::Database>,
) -> anyhow::Result<Option<Arc<saker_server::AuthGate>>> {
    let null = serde_json::Value::Null;
    let basic = app.config.get("server.basic-auth").unwrap_or(&null);
    let Some(admin) = saker_auth::BootstrapAdmin::from_value(basic)? else {
        return Ok(None);
    };
    let security =
        saker_auth::SecurityConfig::from_value(app.config.get("security").unwrap_or(&null))?;
    let service =
        saker_auth::AuthService::new(store, security, saker_auth::ServiceOptions::default())?;
    service.bootstrap(&admin)?;
    let open_urls = match basic.get("open-urls") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    anyhow::anyhow!("server.basic-auth.open-urls must be a list of path prefixes")
                })
            })
            .collect::<anyhow::Result<_>>()?,
        Some(_) => anyhow::bail!("server.basic-auth.open-urls must be a list of path prefixes"),
    };
    Ok(Some(Arc::new(saker_server::AuthGate {
        service,
        open_urls,
    })))
}

/// `configurations.delete-files-on-start: true` (seed 001): the configuration file is read,
/// then deleted, so that tasks cannot read the secrets it holds from disk later.
pub(super) fn delete_config_files_if_asked(
    app: &crate::app::App,
    globals: &Globals,
) -> anyhow::Result<()> {
    let asked = matches!(
        app.config.get("configurations.delete-files-on-start"),
        Some(serde_json::Value::Bool(true))
    );
    if let (true, Some(file)) = (asked, &globals.config) {
        std::fs::remove_file(file).with_context(|| {
            format!(
                "configurations.delete-files-on-start: cannot delete {}",
                file.display()
            )
        })?;
        eprintln!(
            "deleted the configuration file {} (configurations.delete-files-on-start)",
            file.display()
        );
    }
    Ok(())
}

/// `server.debug-expression.timeout` (a duration, `5s` by default) and
/// `server.debug-expression.concurrency` (renders at once, half the CPUs by default) bound
/// the debug expression of the API.
/// `server.default-tenant`: the tenant Kestra's tenant-less paths (`/api/v1/executions/…`)
/// answer for; `main` by default.
pub(super) fn default_tenant(app: &crate::app::App) -> anyhow::Result<String> {
    let Some(tenant) = app.config.get_str("server.default-tenant") else {
        return Ok(saker_model::DEFAULT_TENANT.to_owned());
    };
    let valid = tenant.len() <= 64
        && tenant.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && tenant
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        anyhow::bail!(
            "server.default-tenant '{tenant}' is not a tenant id: use lower-case letters, \
             digits, '-' and '_' (at most 64, starting with a letter or digit)"
        );
    }
    Ok(tenant)
}

pub(super) fn debug_limits(app: &crate::app::App) -> anyhow::Result<saker_server::DebugLimits> {
    let mut limits = saker_server::DebugLimits::default();
    if let Some(text) = app.config.get_str("server.debug-expression.timeout") {
        limits.timeout = saker_model::duration::parse(&text)
            .ok()
            .filter(|d| (Duration::from_millis(100)..=Duration::from_secs(600)).contains(d))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "server.debug-expression.timeout must be a duration from 100ms to 10m \
                     (such as 5s or PT5S)"
                )
            })?;
    }
    if let Some(value) = app.config.get("server.debug-expression.concurrency") {
        limits.concurrent = value
            .as_u64()
            .filter(|n| (1..=1024).contains(n))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "server.debug-expression.concurrency must be a number from 1 to 1024"
                )
            })? as usize;
    }
    Ok(limits)
}

/// `endpoints.all.basic-auth`, when set, protects the management endpoints.
pub(super) fn management_auth(
    app: &crate::app::App,
) -> anyhow::Result<Option<saker_server::ManagementAuth>> {
    let user = app.config.get_str("endpoints.all.basic-auth.username");
    let password = app.config.get_str("endpoints.all.basic-auth.password");
    match (user, password) {
        (None, None) => Ok(None),
        (Some(username), Some(password)) => Ok(Some(saker_server::ManagementAuth {
            username,
            password: zeroize::Zeroizing::new(password),
        })),
        _ => {
            anyhow::bail!("endpoints.all.basic-auth needs both username and password (or neither)")
        }
    }
}

/// Ctrl-C (SIGINT) or, on Unix, SIGTERM as sent by service managers, listened for from the
/// moment [`StopSignals::install`] returns.
pub(super) struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Registers the handlers now (inside the runtime).
    pub(super) fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves when either signal arrives.
    pub(super) async fn received(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
