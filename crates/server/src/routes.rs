//! The server's router: the documented API routes ([`crate::openapi::api_routes`]), the
//! OpenAPI document itself, and the layers every request passes (body size limit,
//! authentication).

use axum::{Extension, Json, Router};
use serde_json::Value;
use utoipa_axum::routes;

use crate::openapi::{ApiRouter, api_routes};
use crate::schema::HealthView;
use crate::{AppState, Caller};

/// The authenticated caller, when the server has users.
pub(crate) type MaybeCaller = Option<Extension<Caller>>;

pub(crate) fn caller(c: &MaybeCaller) -> Option<&Caller> {
    c.as_ref().map(|Extension(c)| c)
}

/// Largest request body accepted (flows, inputs, secret values); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let document = std::sync::Arc::new(serde_json::to_value(&document).unwrap_or(Value::Null));
    api.route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let document = document.clone();
            async move { Json(document.as_ref().clone()) }
        }),
    )
    .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
    .layer(axum::middleware::map_response(crate::error::json_errors))
    .layer(axum::middleware::from_fn_with_state(
        state.auth.clone(),
        crate::authn::authenticate,
    ))
    .layer(axum::middleware::map_response(hardening_headers))
    .with_state(state)
}

/// Headers on every answer, 401s and errors included: nothing the API says is to be
/// cached by a browser or proxy (it may be a token just created, or who may see what), nor
/// sniffed into another content type, nor framed.
async fn hardening_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Routes that belong to no resource.
pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(health))
}

/// Whether the server answers. Needs no credentials.
#[utoipa::path(
    get,
    path = "/health",
    tag = "Health",
    security(()),
    responses((status = 200, description = "The server is up", body = HealthView))
)]
async fn health() -> Json<HealthView> {
    Json(HealthView {
        status: "UP".into(),
    })
}
