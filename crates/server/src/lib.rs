//! The HTTP server: Kestra-shaped REST endpoints under `/api/v1/{tenant}/…` over a running
//! [`saker_engine::Engine`], and `GET /health`.
//!
//! This first cut serves what is needed to deploy a flow, start an execution and read it and
//! its logs, and the debug expression. With `server.basic-auth` configured every request
//! but `/health` and the open URLs must authenticate ([`authn`]); per-namespace RBAC,
//! secrets, webhooks and OpenAPI come with the API issue.
//! Values that are sealed (SECRET inputs and outputs, secret-derived outputs) are shown as
//! `****`: no endpoint returns a secret value.
//!
//! This crate knows nothing of task internals or of how the store is implemented.

mod access;
mod audit_api;
mod authn;
mod error;
mod follow;
mod management;
mod routes;
mod secrets_api;

use std::sync::Arc;

use saker_engine::Engine;

pub use authn::{AuthGate, Caller};
pub use error::ApiError;
pub use management::{ManagementAuth, management_router};
pub use routes::router;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// `None` when the server has no users configured: every request is let through.
    pub auth: Option<Arc<AuthGate>>,
    /// The secret service as WEBSERVER (writes and metadata; never resolves a value).
    pub secrets: Option<saker_secrets::SecretService>,
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
/// `shutdown` resolves.
pub async fn serve_management(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    auth: Option<ManagementAuth>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, management_router(engine, auth))
        .with_graceful_shutdown(shutdown)
        .await
}
