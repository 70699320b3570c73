//! The server's router: the documented API routes ([`crate::openapi::api_routes`]), the
//! OpenAPI document itself, and the layers every request passes (body size limit,
//! authentication).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use axum::{Json, Router};
use serde_json::Value;
use utoipa_axum::routes;

use crate::openapi::{ApiRouter, api_routes};
use crate::schema::HealthView;
use crate::tenantless::TenantlessAliases;
use crate::{AppState, Caller};

/// The caller, as every handler but the open ones reads it: `None` means the server has no
/// users (`server.basic-auth` unset), and only that. When the server has users and the
/// request came without credentials (an open URL let it through), extracting it answers 401,
/// so a handler cannot take "no credentials" for "no users configured".
pub(crate) struct MaybeCaller(Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match (parts.extensions.get::<Caller>(), &state.auth) {
            (Some(found), _) => Ok(MaybeCaller(Some(found.clone()))),
            (None, None) => Ok(MaybeCaller(None)),
            (None, Some(_)) => Err(crate::authn::unauthorized()),
        }
    }
}

#[cfg(test)]
impl MaybeCaller {
    /// The caller of a server without users, for tests that call a handler directly.
    pub(crate) fn no_users() -> Self {
        MaybeCaller(None)
    }
}

pub(crate) fn caller(c: &MaybeCaller) -> Option<&Caller> {
    c.0.as_ref()
}

/// The caller of a route an open URL may open ([`crate::open_urls::OPENABLE`]): `None` when
/// the request came without credentials, through an open URL or to a server without users.
/// Such a handler must name what stands in for credentials (a webhook's key).
pub(crate) struct OpenCaller(pub Option<Caller>);

impl<S: Send + Sync> FromRequestParts<S> for OpenCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(OpenCaller(parts.extensions.get::<Caller>().cloned()))
    }
}

/// Largest request body accepted (flows, inputs, secret values); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let document = crate::openapi::with_busy_answers(document);
    let mut document = serde_json::to_value(&document).unwrap_or(Value::Null);
    let aliases = TenantlessAliases::from_document(&document, &state.default_tenant);
    crate::tenantless::document_aliases(&mut document, &state.default_tenant);
    let document = std::sync::Arc::new(document);
    let tenant_routes = api
        .route(
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
        // Outside authentication, which reads the store too.
        .layer(axum::middleware::from_fn_with_state(
            state.store_gate.clone(),
            crate::store_gate::gate,
        ))
        .layer(axum::middleware::map_response(hardening_headers))
        .with_state(state);
    // Before routing: a tenant-less alias becomes its tenant form, and then is that route.
    Router::new().fallback_service(tower::service_fn(
        move |mut request: axum::extract::Request| {
            if let Some(rewritten) = request
                .uri()
                .path_and_query()
                .and_then(|p| aliases.rewrite(p.as_str()))
                .and_then(|p| p.parse::<axum::http::Uri>().ok())
            {
                *request.uri_mut() = rewritten;
            }
            tower::ServiceExt::oneshot(tenant_routes.clone(), request)
        },
    ))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::{Request, StatusCode};
    use saker_auth::{AuthService, HashCost, Principal, SecurityConfig, ServiceOptions, Subject};
    use saker_engine::{Engine, EngineParts};
    use saker_store::SqliteStore;

    use super::*;
    use crate::AuthGate;

    struct NoInstances;

    impl saker_store::services::InstanceRegistry for NoInstances {
        fn list_instances(
            &self,
        ) -> Result<Vec<saker_store::services::ServiceInstance>, saker_store::StoreError> {
            Ok(Vec::new())
        }
    }

    fn state(users: bool) -> AppState {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let auth = users.then(|| {
            let options = ServiceOptions {
                hash_cost: HashCost {
                    memory_kib: 64,
                    iterations: 1,
                    parallelism: 1,
                },
                ..ServiceOptions::default()
            };
            let service =
                AuthService::new(store.clone(), SecurityConfig::default(), options).unwrap();
            Arc::new(AuthGate {
                service,
                open_urls: vec!["/".into()],
            })
        });
        AppState {
            engine: Arc::new(Engine::start(EngineParts::new(store))),
            auth,
            secrets: None,
            trigger_secrets: None,
            webhook_misses: Arc::new(crate::webhook_miss_throttle()),
            store_gate: crate::StoreGate::default(),
            default_tenant: saker_model::DEFAULT_TENANT.to_owned(),
            services: Arc::new(NoInstances),
        }
    }

    /// What a handler gets for a request that came with `caller` (none: no credentials).
    async fn extract(state: &AppState, caller: Option<Caller>) -> Result<Option<Caller>, Response> {
        let (mut parts, ()) = Request::new(()).into_parts();
        if let Some(caller) = caller {
            parts.extensions.insert(caller);
        }
        MaybeCaller::from_request_parts(&mut parts, state)
            .await
            .map(|who| who.0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn without_credentials_a_server_with_users_gives_no_caller_but_a_401() {
        let with_users = state(true);
        let refused = extract(&with_users, None).await.err().unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let authenticated = Caller(Arc::new(Subject::User(Principal {
            user_id: "u1".into(),
            username: "alice".into(),
            super_admin: false,
            grants: Vec::new(),
        })));
        assert!(
            extract(&with_users, Some(authenticated))
                .await
                .unwrap()
                .is_some()
        );
        // Only a server without users lets a handler run without a caller.
        assert!(extract(&state(false), None).await.unwrap().is_none());
    }
}
