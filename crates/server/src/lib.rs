//! The HTTP server: Kestra-shaped REST endpoints under `/api/v1/{tenant}/…` over a running
//! [`saker_engine::Engine`], and `GET /health`.
//!
//! This first cut serves what is needed to deploy a flow, start an execution and read it and
//! its logs; authentication, RBAC, secrets, webhooks and OpenAPI come with the API issue.
//! Values that are sealed (SECRET inputs and outputs, secret-derived outputs) are shown as
//! `****`: no endpoint returns a secret value.
//!
//! This crate knows nothing of task internals or of how the store is implemented.

mod error;
mod routes;

use std::sync::Arc;

use saker_engine::Engine;

pub use error::ApiError;
pub use routes::router;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
