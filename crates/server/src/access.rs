//! Authorization of each request against the caller's roles and bindings
//! ([`saker_auth::authorize`]). Without users configured there is no caller and every
//! request is allowed; with users, a handler always has a caller (`routes::MaybeCaller`
//! answers 401 before the handler runs otherwise), so `None` here never stands for "no
//! credentials". A refusal on something the caller may not even see answers exactly
//! as a missing item does (404, same message), so a sibling team cannot probe for names.

use axum::http::StatusCode;
use saker_auth::{Action, Decision, Permission, Visibility, authorize, visible_namespaces};

use crate::{ApiError, Caller};

/// Allows or refuses `action` on `permission` at (`tenant`, `namespace`). `missing` is the
/// message a missing item gets, used verbatim when the caller may not see the item.
pub fn check(
    caller: Option<&Caller>,
    tenant: &str,
    namespace: Option<&str>,
    permission: Permission,
    action: Action,
    missing: impl FnOnce() -> String,
) -> Result<(), ApiError> {
    let Some(Caller(subject)) = caller else {
        return Ok(());
    };
    match authorize(subject, tenant, namespace, permission, action) {
        Decision::Allow => Ok(()),
        Decision::Unauthenticated => Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "authentication required".into(),
        }),
        Decision::Hidden => Err(ApiError::not_found(missing())),
        Decision::Forbidden => Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "forbidden: {} {} is not granted to you here",
                permission.as_str(),
                action.as_str()
            ),
        }),
    }
}

/// Like [`check`] for creating something the caller names: a namespace it may not see is
/// refused with 403, since the caller already knows the name it sent.
pub fn check_create(
    caller: Option<&Caller>,
    tenant: &str,
    namespace: &str,
    permission: Permission,
    action: Action,
) -> Result<(), ApiError> {
    check(
        caller,
        tenant,
        Some(namespace),
        permission,
        action,
        String::new,
    )
    .map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            ApiError {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "forbidden: {} {} is not granted to you in {namespace}",
                    permission.as_str(),
                    action.as_str()
                ),
            }
        } else {
            e
        }
    })
}

/// Whether listings may include things of `namespace`.
pub fn visible(
    caller: Option<&Caller>,
    tenant: &str,
    permission: Permission,
) -> impl Fn(&str) -> bool + use<> {
    let visibility = caller.map(|Caller(subject)| visible_namespaces(subject, tenant, permission));
    move |namespace: &str| match &visibility {
        None | Some(Visibility::All) => true,
        Some(v) => v.contains(namespace),
    }
}

/// The namespaces (with their children) the caller may see for `permission`, for filtering
/// in the store before paging; `None` when the caller sees every namespace.
pub fn scopes(
    caller: Option<&Caller>,
    tenant: &str,
    permission: Permission,
) -> Option<Vec<String>> {
    match caller.map(|Caller(subject)| visible_namespaces(subject, tenant, permission)) {
        None | Some(Visibility::All) => None,
        Some(Visibility::Namespaces(scopes)) => Some(scopes),
    }
}
