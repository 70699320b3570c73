//! Identity and access through the API, Kestra-shaped: users, roles, bindings, invitations,
//! API tokens and `GET …/me`, all under `/api/v1/{tenant}/…` and all tenant-wide: each
//! endpoint needs USER, ROLE, BINDING or INVITATION with the action it performs on the
//! tenant (a namespace binding never grants these), refused with 403 (see
//! `saker_auth::authz`). What the server has no users for (`server.basic-auth` unset)
//! answers 503.
//!
//! Users are global; bindings put them in tenants. A tenant sees and manages the users bound
//! in it and those bound nowhere (so they can be given a role); a user bound only elsewhere
//! answers 404 there. Changing a user who is also bound in other tenants (password, disabled,
//! delete, their API tokens) needs the same USER action in each of those tenants too, so that
//! the administrator of one tenant cannot take over an account another tenant relies on.
//!
//! Passwords, API tokens and invitation codes go in and never come back: a new token or
//! invitation code is in the one response that creates it, and is stored hashed. Bodies that
//! hold a password are parsed by hand (see `secrets_api`): serde's messages quote what they
//! could not read. Every change is logged by `saker_auth` inside a span naming the caller,
//! never with a password or token.
//!
//! Accepting an invitation (`POST …/invitations/{id}/accept`) needs no credentials: the code
//! in its body is the credential. [`is_open`] tells the authentication middleware so.
//!
//! One submodule per resource, each with its table of permissions: `users` (and `/me`),
//! `tokens`, `roles`, `bindings`, `invitations`.

mod bindings;
mod invitations;
mod roles;
mod tokens;
mod users;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use saker_auth::{Action, AuthError, AuthService, Password, Permission, Principal, Subject};
use serde_json::{Map, Value};

use crate::access::check;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::{ApiError, AppState, AuthGate, Caller};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .merge(users::routes())
        .merge(tokens::routes())
        .merge(roles::routes())
        .merge(bindings::routes())
        .merge(invitations::routes())
}

/// True for the requests that need no credentials: `POST /api/v1/{tenant}/invitations/{id}/accept`.
pub(crate) fn is_open(method: &Method, path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    *method == Method::POST
        && matches!(
            segments.as_slice(),
            ["", "api", "v1", tenant, "invitations", id, "accept"]
                if !tenant.is_empty() && !id.is_empty()
        )
}

/// The server's users, or 503 when it has none.
fn gate(state: &AppState) -> Result<Arc<AuthGate>, ApiError> {
    state.auth.clone().ok_or_else(|| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "this server has no users: set server.basic-auth to manage users, roles, \
                  bindings, invitations and API tokens"
            .into(),
    })
}

/// The caller as an authenticated user, if any.
fn principal(who: &MaybeCaller) -> Option<&Principal> {
    match caller(who) {
        Some(Caller(subject)) => match subject.as_ref() {
            Subject::User(p) => Some(p),
            Subject::Anonymous => None,
        },
        None => None,
    }
}

/// The caller's username for logs, `anonymous` without one.
fn actor(who: &MaybeCaller) -> String {
    principal(who).map_or_else(|| "anonymous".to_owned(), |p| p.username.clone())
}

/// `permission` `action` on the whole tenant: 403 when not granted.
fn allowed(
    who: &MaybeCaller,
    tenant: &str,
    permission: Permission,
    action: Action,
) -> Result<(), ApiError> {
    check(caller(who), tenant, None, permission, action, String::new)
}

/// Runs `work` on the auth service on a blocking thread (Argon2 and the store block), in a
/// span naming the caller, so the service's log lines say who did it.
async fn blocking<T, F>(gate: Arc<AuthGate>, actor: String, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&AuthService) -> Result<T, ApiError> + Send + 'static,
{
    let span = tracing::info_span!("api", caller = %actor);
    tokio::task::spawn_blocking(move || span.in_scope(|| work(&gate.service)))
        .await
        .map_err(|_| {
            ApiError::internal("an identity and access request failed: its worker stopped")
        })?
}

/// The status and message of an [`AuthError`]. Its messages never hold a password or token.
fn auth_error(e: AuthError) -> ApiError {
    if let AuthError::Store(store @ saker_store::StoreError::Busy { .. }) = e {
        return store.into();
    }
    let status = match &e {
        AuthError::WeakPassword { .. }
        | AuthError::InvalidRole { .. }
        | AuthError::InvalidName { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AuthError::NotFound { .. } => StatusCode::NOT_FOUND,
        AuthError::AlreadyExists { .. }
        | AuthError::Conflict { .. }
        | AuthError::Disabled { .. } => StatusCode::CONFLICT,
        AuthError::Expired { .. } => StatusCode::GONE,
        AuthError::InvalidCredentials => StatusCode::UNAUTHORIZED,
        AuthError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        AuthError::Config { .. } | AuthError::Hash(_) | AuthError::Random | AuthError::Store(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    // A 500's message goes to the log only, under a correlation id (`ApiError`'s answer).
    ApiError {
        status,
        message: e.to_string(),
    }
}

/// A JSON body's fields, read one by one so that no parser message quotes a value.
struct Fields {
    map: Map<String, Value>,
    example: &'static str,
}

impl Fields {
    /// The object of `body`; an empty body is an empty object when `optional`.
    fn parse(body: &[u8], example: &'static str, optional: bool) -> Result<Self, ApiError> {
        Ok(Fields {
            map: crate::request::object_body(body, example, optional)?,
            example,
        })
    }

    fn wrong(&self, name: &str, what: &str) -> ApiError {
        ApiError::bad_request(format!("'{name}' must be {what}: {}", self.example))
    }

    /// A string field; absent and null are `None`.
    fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(name, "a string")),
        }
    }

    fn required_string(&mut self, name: &str) -> Result<String, ApiError> {
        self.string(name)?
            .ok_or_else(|| self.wrong(name, "given, as a string"))
    }

    /// A password field, straight into a [`Password`] (never echoed).
    fn password(&mut self, name: &str) -> Result<Option<Password>, ApiError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(Password::new(s))),
            Some(_) => Err(self.wrong(name, "a string")),
        }
    }

    fn bool(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(self.wrong(name, "true or false")),
        }
    }

    /// Any JSON value.
    fn value(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    /// Refuses a field left unread.
    fn done(self, expected: &str) -> Result<(), ApiError> {
        crate::request::no_other_fields(&self.map, expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_accepting_an_invitation_is_open() {
        assert!(is_open(
            &Method::POST,
            "/api/v1/main/invitations/0123456789abcdef/accept"
        ));
        for (method, path) in [
            (
                Method::GET,
                "/api/v1/main/invitations/0123456789abcdef/accept",
            ),
            (Method::POST, "/api/v1/main/invitations/0123456789abcdef"),
            (Method::POST, "/api/v1/main/invitations"),
            (Method::POST, "/api/v1//invitations/x/accept"),
            (Method::POST, "/api/v1/main/invitations//accept"),
            (Method::POST, "/api/v1/main/invitations/x/accept/more"),
            (Method::POST, "/api/v1/main/users/x/accept"),
            (Method::POST, "/api/v1/main/x/invitations/y/accept"),
        ] {
            assert!(!is_open(&method, path), "{method} {path}");
        }
    }

    #[tokio::test]
    async fn internal_errors_say_nothing_of_their_cause() {
        use axum::response::IntoResponse;
        let e = auth_error(AuthError::Hash("argon2 params xyz".into()));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(e.into_response().into_body(), 4096)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains("argon2 params xyz"), "{body}");
        assert!(body.contains("correlation id"), "{body}");
        let e = auth_error(AuthError::WeakPassword {
            rule: "it must match .{12,}".into(),
        });
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn fields_never_quote_what_they_could_not_read() {
        let mut fields = Fields::parse(
            br#"{"password": 123456789, "disabled": "Hunter-22-secret"}"#,
            "{}",
            false,
        )
        .unwrap();
        let e = fields.password("password").err().unwrap();
        assert!(!e.message.contains("123456789"), "{}", e.message);
        let e = fields.bool("disabled").err().unwrap();
        assert!(!e.message.contains("Hunter"), "{}", e.message);
        let e = Fields::parse(br#"{"password": "Hunter-22-secret""#, "{}", false)
            .err()
            .unwrap();
        assert!(!e.message.contains("Hunter"), "{}", e.message);
    }
}
