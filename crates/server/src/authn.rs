//! Authentication of API requests, when the server has users (`server.basic-auth` is set).
//! Every request needs HTTP Basic credentials of a user or a bearer API token (scheme names
//! case-insensitive, RFC 7235), except `/health`, the webhook routes an open URL covers
//! ([`crate::open_urls`]), and accepting an invitation (its code is the credential, see
//! `iam_api::is_open`). A refusal is a `401` JSON body that never says which part was wrong;
//! too many failures answer `429`. Passwords and tokens are never logged.
//!
//! A request let through without credentials carries no [`Caller`]; handlers read the caller
//! through [`crate::routes::MaybeCaller`], which answers 401 for such a request unless the
//! handler is one of the open ones. So no handler can mistake "no credentials" for "no users
//! configured".
//!
//! Authorization per namespace (roles and bindings, `saker_auth::authorize`) is decided by
//! the handlers; see ARCHITECTURE.md for what is wired.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use saker_auth::{AuthError, AuthService, Password, Subject};

use crate::ApiError;

/// Who may call the API.
pub struct AuthGate {
    pub service: AuthService,
    /// `server.basic-auth.open-urls`: path prefixes under which the webhook trigger routes
    /// need no credentials (see [`crate::open_urls`] for the rule).
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
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    if path == "/health"
        || crate::open_urls::is_open(&gate.open_urls, template, path)
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
        Err(AuthError::Store(store @ saker_store::StoreError::Busy { .. })) => {
            ApiError::from(store).into_response()
        }
        Err(_) => unauthorized(),
    }
}

/// The one 401 answer, with the challenge.
pub(crate) fn unauthorized() -> Response {
    let mut response = ApiError {
        status: StatusCode::UNAUTHORIZED,
        message: "authentication required: HTTP Basic credentials or a bearer API token".to_owned(),
    }
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"saker\""),
    );
    response
}

/// The credentials of an `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
enum Credentials<'a> {
    Bearer(&'a str),
    /// The base64 text after `Basic`.
    Basic(&'a str),
}

/// Splits `Authorization` into its scheme, compared without regard to case as RFC 7235
/// §2.1 says (`basic`, `BEARER` ...), and its credentials.
fn credentials(header: &str) -> Option<Credentials<'_>> {
    let (scheme, rest) = header.trim_start().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(Credentials::Bearer(rest))
    } else if scheme.eq_ignore_ascii_case("basic") {
        Some(Credentials::Basic(rest))
    } else {
        None
    }
}

fn check(
    service: &AuthService,
    header: Option<&str>,
    address: Option<&str>,
) -> Result<Subject, AuthError> {
    let header = header.ok_or(AuthError::InvalidCredentials)?;
    let encoded = match credentials(header).ok_or(AuthError::InvalidCredentials)? {
        Credentials::Bearer(token) => return service.authenticate_token(token),
        Credentials::Basic(encoded) => encoded,
    };
    let decoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| AuthError::InvalidCredentials)?,
    );
    let text = std::str::from_utf8(&decoded).map_err(|_| AuthError::InvalidCredentials)?;
    let (user, password) = text.split_once(':').ok_or(AuthError::InvalidCredentials)?;
    service.authenticate_basic(user, &Password::new(password.to_owned()), address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names_are_case_insensitive() {
        for header in ["Bearer abc", "bearer abc", "BEARER  abc ", " BeArEr abc"] {
            assert_eq!(
                credentials(header),
                Some(Credentials::Bearer("abc")),
                "{header}"
            );
        }
        for header in ["Basic eDp5", "basic eDp5", "BASIC eDp5"] {
            assert_eq!(
                credentials(header),
                Some(Credentials::Basic("eDp5")),
                "{header}"
            );
        }
        for header in ["Digest abc", "Bearerabc", "Bearer", ""] {
            assert_eq!(credentials(header), None, "{header}");
        }
    }
}
