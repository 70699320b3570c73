//! The HTTP server: Kestra-shaped REST endpoints under `/api/v1/{tenant}/…` over a running
//! [`saker_engine::Engine`], and `GET /health`.
//!
//! Each resource has its module (`flows_api`, `executions_api`, ...) whose routes carry their
//! OpenAPI description ([`openapi`]): the route table and the document served at
//! `/api/v1/openapi.json` are one thing. With `server.basic-auth` configured every request
//! but `/health` and the open URLs must authenticate ([`authn`]), and each handler checks
//! the caller's roles and bindings for the namespace it touches ([`access`]).
//! Values that are sealed (SECRET inputs and outputs, secret-derived outputs) are shown as
//! `****`: no endpoint returns a secret value.
//!
//! Every request but `/health` reaches the store through [`StoreGate`]: on a blocking
//! thread, a bounded number at a time, 503 when the database stays busy.
//!
//! This crate knows nothing of task internals or of how the store is implemented.

mod access;
mod audit_api;
mod authn;
mod debug_api;
mod doc;
mod error;
mod executions_api;
mod executions_control_api;
mod files_api;
mod flows_api;
mod flows_deploy_api;
mod follow;
mod follow_execution;
mod iam_api;
mod inputs_body;
mod kv_api;
mod logs_api;
mod management;
mod namespace_files_api;
mod namespaces_api;
mod open_urls;
mod openapi;
mod paging;
mod plugins_api;
mod request;
mod routes;
pub mod schema;
mod secret_manager_api;
mod secrets_api;
mod secrets_lifecycle_api;
mod services_api;
mod store_gate;
mod tenantless;
mod triggers_api;
mod webhook_api;

use std::sync::Arc;

use saker_engine::Engine;

pub use authn::{AuthGate, Caller};
pub use debug_api::{DEBUG_EXPRESSION_ACTION, DebugLimits, configure_debug_expressions};
pub use error::ApiError;
pub use management::{ManagementAuth, management_router};
pub use openapi::openapi;
pub use routes::{MAX_BODY_BYTES, router};
pub use store_gate::StoreGate;
pub use webhook_api::webhook_miss_throttle;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// `None` when the server has no users configured: every request is let through.
    pub auth: Option<Arc<AuthGate>>,
    /// The secret service as WEBSERVER (writes and metadata; never resolves a value).
    pub secrets: Option<saker_secrets::SecretService>,
    /// Resolves the secrets a Webhook trigger's `key` names, as the SCHEDULER (audited);
    /// `None`: such keys cannot be rendered and their webhooks answer 404.
    pub trigger_secrets: Option<Arc<dyn saker_engine::trigger::TriggerSecrets>>,
    /// Webhook calls that matched nothing, per client address ([`webhook_miss_throttle`]).
    pub webhook_misses: Arc<saker_auth::LoginThrottle>,
    /// Every request's way to the store: off the runtime's workers, bounded, 503 past the
    /// wait ([`StoreGate`]).
    pub store_gate: StoreGate,
    /// The tenant of Kestra's tenant-less paths (`/api/v1/executions/…`): `main` unless
    /// `server.default-tenant` says otherwise.
    pub default_tenant: String,
    /// The service instances `/api/v1/instance/services` lists.
    pub services: Arc<dyn saker_store::services::InstanceRegistry>,
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves the management endpoints (see [`management_router`]) on `listener` until
/// `shutdown` resolves; `/metrics` shows the text of every one of `sources`.
pub async fn serve_management(
    listener: tokio::net::TcpListener,
    sources: Vec<Arc<dyn saker_engine::metrics::MetricsSource>>,
    auth: Option<ManagementAuth>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, management_router(sources, auth))
        .with_graceful_shutdown(shutdown)
        .await
}
