//! Authentication of API requests, when the server has users (`server.basic-auth` is set).
//! Every request needs HTTP Basic credentials of a user or a bearer API token, except
//! `/health`, the path prefixes in `server.basic-auth.open-urls` (such as the webhook
//! path of seed 001), and accepting an invitation (its code is the credential, see
//! `iam_api::is_open`). A refusal is a `401` JSON body that never says which part was wrong;
//! too many failures answer `429`. Passwords and tokens are never logged.
//!
//! Authorization per namespace (roles and bindings, `saker_auth::authorize`) is decided by
//! the handlers; see ARCHITECTURE.md for what is wired.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use saker_auth::{AuthError, AuthService, Password, Subject};

use crate::ApiError;

/// Who may call the API.
pub struct AuthGate {
    pub service: AuthService,
    /// Path prefixes that need no credentials.
    pub open_urls: Vec<String>,
}

/// The authenticated caller, in the request's extensions.
#[derive(Clone)]
pub struct Caller(pub Arc<Subject>);

/// The middleware: lets the request through with a [`Caller`], or answers 401/429.
pub async fn authenticate(
    State(gate): State<Option<Arc<AuthGate>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(gate) = gate else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if path == "/health"
        || gate.open_urls.iter().any(|p| path.starts_with(p.as_str()))
        || crate::iam_api::is_open(request.method(), path)
    {
        return next.run(request).await;
    }
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let gate2 = gate.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        check(&gate2.service, header.as_deref(), address.as_deref())
    })
    .await
    .unwrap_or(Err(AuthError::InvalidCredentials));
    match outcome {
        Ok(subject) => {
            request.extensions_mut().insert(Caller(Arc::new(subject)));
            next.run(request).await
        }
        Err(AuthError::Throttled { retry_after_secs }) => {
            let mut response = ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!("too many failed logins; retry in {retry_after_secs} s"),
            }
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Err(_) => {
            let mut response = ApiError {
                status: StatusCode::UNAUTHORIZED,
                message: "authentication required: HTTP Basic credentials or a bearer API token"
                    .to_owned(),
            }
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"saker\""),
            );
            response
        }
    }
}

fn check(
    service: &AuthService,
    header: Option<&str>,
    address: Option<&str>,
) -> Result<Subject, AuthError> {
    let header = header.ok_or(AuthError::InvalidCredentials)?;
    if let Some(token) = header.strip_prefix("Bearer ") {
        return service.authenticate_token(token.trim());
    }
    let encoded = header
        .strip_prefix("Basic ")
        .ok_or(AuthError::InvalidCredentials)?;
    let decoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| AuthError::InvalidCredentials)?,
    );
    let text = std::str::from_utf8(&decoded).map_err(|_| AuthError::InvalidCredentials)?;
    let (user, password) = text.split_once(':').ok_or(AuthError::InvalidCredentials)?;
    service.authenticate_basic(user, &Password::new(password.to_owned()), address)
}
