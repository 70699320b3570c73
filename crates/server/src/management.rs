//! The management endpoints on their own port: `/health` and `/metrics` (Prometheus text),
//! protected by `endpoints.all.basic-auth` when it is set (credentials compared in constant
//! time). They show counters and states, never a value of a flow. `/metrics` joins the text
//! of every source it was given: the engine's counters, and a distributed service's own
//! (`saker_cluster::metrics`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use saker_engine::metrics::MetricsSource;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// `endpoints.all.basic-auth`: the one user of the management port.
pub struct ManagementAuth {
    pub username: String,
    pub password: Zeroizing<String>,
}

#[derive(Clone)]
struct Management {
    sources: Arc<[Arc<dyn MetricsSource>]>,
    auth: Option<Arc<ManagementAuth>>,
}

/// The management routes; `/metrics` shows the text of every source, in order.
pub fn management_router(
    sources: Vec<Arc<dyn MetricsSource>>,
    auth: Option<ManagementAuth>,
) -> Router {
    let state = Management {
        sources: sources.into(),
        auth: auth.map(Arc::new),
    };
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({ "status": "UP" })) }),
        )
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn metrics(State(m): State<Management>) -> Response {
    // A source may read the database (the queue depth): off the async runtime.
    let sources = m.sources.clone();
    let text = tokio::task::spawn_blocking(move || {
        sources
            .iter()
            .map(|source| source.prometheus())
            .collect::<String>()
    })
    .await;
    match text {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({ "message": "the metrics could not be read" })),
        )
            .into_response(),
    }
}

async fn guard(State(m): State<Management>, request: Request, next: Next) -> Response {
    let Some(auth) = &m.auth else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .map(Zeroizing::new);
    let expected = Zeroizing::new(format!("{}:{}", auth.username, auth.password.as_str()));
    let ok = presented.is_some_and(|p| bool::from(p.as_slice().ct_eq(expected.as_bytes())));
    if ok {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({ "message": "authentication required" })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"saker-management\""),
    );
    response
}
