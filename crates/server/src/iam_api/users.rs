//! Users and `GET …/me`; their API tokens are in `tokens`.
//!
//! | endpoint | needs |
//! |---|---|
//! | `GET …/users` | USER READ |
//! | `POST …/users` | USER CREATE |
//! | `GET …/users/{id}` | USER READ |
//! | `PUT …/users/{id}` | USER UPDATE (here and in every other tenant the user is bound in) |
//! | `DELETE …/users/{id}` | USER DELETE (idem) |
//! | `GET …/me` | any authenticated caller |

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use saker_auth::{Action, AuthService, Password, Permission, Subject, User};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::{Fields, actor, allowed, auth_error, blocking, gate, principal};
use crate::access::check;
use crate::doc::{NoUsers, Unauthorized};
use crate::openapi::ApiRouter;
use crate::request::body_rejected;
use crate::routes::{MaybeCaller, caller};
use crate::schema::ErrorBody;
use crate::{ApiError, AppState, Caller};

pub(super) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(me))
}

/// A user. There is no field for a password or its hash.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub created_at: DateTime<Utc>,
    /// A disabled user can neither log in nor use its API tokens.
    pub disabled: bool,
    /// False for a user who can only use API tokens.
    pub has_password: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            created_at: u.created_at,
            disabled: u.disabled,
            has_password: u.has_password,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub results: Vec<UserView>,
    pub total: u64,
}

/// The body of `POST …/users`.
#[derive(Debug, ToSchema)]
pub struct UserCreateBody {
    /// 1 to 256 characters, no `:`, no surrounding spaces; unique.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^:\s](?:[^:]*[^:\s])?$"
    )]
    username: String,
    /// Must satisfy `security.basic-auth.password-regexp`. Omitted or null: the user can
    /// only use API tokens. Never returned.
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Password>,
}

const CREATE_EXAMPLE: &str = r#"{"username": "ann", "password": "..."}"#;

impl UserCreateBody {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut fields = Fields::parse(body, CREATE_EXAMPLE, false)?;
        let parsed = UserCreateBody {
            username: fields.required_string("username")?,
            password: fields.password("password")?,
        };
        fields.done("username, password")?;
        Ok(parsed)
    }
}

/// The body of `PUT …/users/{id}`: what to change; at least one field.
#[derive(Debug, ToSchema)]
pub struct UserUpdateBody {
    /// A new password (checked against `security.basic-auth.password-regexp`).
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Password>,
    /// True to disable the user (its logins and API tokens stop working), false to enable.
    disabled: Option<bool>,
}

const UPDATE_EXAMPLE: &str = r#"{"password": "...", "disabled": false}"#;

impl UserUpdateBody {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut fields = Fields::parse(body, UPDATE_EXAMPLE, false)?;
        let parsed = UserUpdateBody {
            password: fields.password("password")?,
            disabled: fields.bool("disabled")?,
        };
        fields.done("password, disabled")?;
        if parsed.password.is_none() && parsed.disabled.is_none() {
            return Err(ApiError::bad_request(format!(
                "nothing to change: send password and/or disabled, e.g. {UPDATE_EXAMPLE}"
            )));
        }
        Ok(parsed)
    }
}

/// One role the caller holds, where.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyBindingView {
    pub role: String,
    /// The namespace it is limited to (with its children); null for the whole tenant.
    pub namespace: Option<String>,
    /// Kestra's map of permission to actions, e.g. {"FLOW": ["CREATE", "READ"]}.
    pub permissions: BTreeMap<String, Vec<String>>,
}

/// Who the caller is, and what it holds in this tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    pub user_id: String,
    pub username: String,
    /// True for the configured `security.super-admin`.
    pub super_admin: bool,
    pub tenant: String,
    pub bindings: Vec<MyBindingView>,
}

fn user_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("user {id} not found"))
}

/// The user `id` as `tenant` sees it: 404 unless it is bound in the tenant or nowhere. With
/// `action`, also checks that the caller holds USER `action` in every other tenant the user
/// is bound in (403 naming the tenant otherwise).
pub(super) fn user_in_tenant(
    service: &AuthService,
    who: Option<&Caller>,
    tenant: &str,
    id: &str,
    action: Option<Action>,
) -> Result<User, ApiError> {
    let user = service
        .get_user(id)
        .map_err(auth_error)?
        .ok_or_else(|| user_not_found(id))?;
    let tenants = service.tenants_of_user(id).map_err(auth_error)?;
    if !tenants.is_empty() && !tenants.contains(tenant) {
        return Err(user_not_found(id));
    }
    if let Some(action) = action {
        for other in tenants.iter().filter(|t| t.as_str() != tenant) {
            check(who, other, None, Permission::User, action, String::new).map_err(|_| {
                ApiError {
                    status: StatusCode::FORBIDDEN,
                    message: format!(
                        "forbidden: user {} is also bound in tenant {other}, where USER {} is \
                         not granted to you",
                        user.username,
                        action.as_str()
                    ),
                }
            })?;
        }
    }
    Ok(user)
}

pub(super) fn is_self(who: &MaybeCaller, id: &str) -> bool {
    principal(who).is_some_and(|p| p.user_id == id)
}

/// The users this tenant manages: those bound in it, and those bound nowhere.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/users",
    tag = "Users",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Users, by username", body = UserPage),
        Unauthorized,
        (status = 403, description = "USER READ not granted on the tenant", body = ErrorBody),
        NoUsers,
    )
)]
async fn list_users(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
) -> Result<Json<UserPage>, ApiError> {
    allowed(&who, &tenant, Permission::User, Action::Read)?;
    let users = blocking(gate(&state)?, actor(&who), move |service| {
        service.users_of_tenant(&tenant).map_err(auth_error)
    })
    .await?;
    let results: Vec<UserView> = users.into_iter().map(UserView::from).collect();
    Ok(Json(UserPage {
        total: results.len() as u64,
        results,
    }))
}

/// Creates a user (the configured `security.default-role` is bound to it).
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/users",
    tag = "Users",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body(content = UserCreateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The new user", body = UserView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "USER CREATE not granted on the tenant", body = ErrorBody),
        (status = 409, description = "A user of that name exists", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "Invalid username, or the password does not satisfy the password policy", body = ErrorBody),
        NoUsers,
    )
)]
async fn create_user(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UserView>, ApiError> {
    allowed(&who, &tenant, Permission::User, Action::Create)?;
    let body = UserCreateBody::parse(&body.map_err(body_rejected)?)?;
    let user = blocking(gate(&state)?, actor(&who), move |service| {
        service
            .create_user(&body.username, body.password.as_ref())
            .map_err(auth_error)
    })
    .await?;
    Ok(Json(user.into()))
}

/// One user.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/users/{id}",
    tag = "Users",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 200, description = "The user", body = UserView),
        Unauthorized,
        (status = 403, description = "USER READ not granted on the tenant", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
        NoUsers,
    )
)]
async fn get_user(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<UserView>, ApiError> {
    allowed(&who, &tenant, Permission::User, Action::Read)?;
    let user = blocking(gate(&state)?, actor(&who), move |service| {
        user_in_tenant(service, None, &tenant, &id, None)
    })
    .await?;
    Ok(Json(user.into()))
}

/// Sets a user's password and/or disables or enables it. A caller cannot disable itself.
#[utoipa::path(
    put,
    path = "/api/v1/{tenant}/users/{id}",
    tag = "Users",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "User id"),
    ),
    request_body(content = UserUpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 400, description = "Malformed body, or nothing to change", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "USER UPDATE not granted here or in another tenant the user is bound in", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
        (status = 409, description = "The caller tried to disable itself", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "The password does not satisfy the password policy", body = ErrorBody),
        NoUsers,
    )
)]
async fn update_user(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UserView>, ApiError> {
    allowed(&who, &tenant, Permission::User, Action::Update)?;
    let body = UserUpdateBody::parse(&body.map_err(body_rejected)?)?;
    if body.disabled == Some(true) && is_self(&who, &id) {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: "you cannot disable yourself".into(),
        });
    }
    let caller = caller(&who).cloned();
    let user = blocking(gate(&state)?, actor(&who), move |service| {
        let user = user_in_tenant(service, caller.as_ref(), &tenant, &id, Some(Action::Update))?;
        if let Some(password) = &body.password {
            service
                .set_password(&user.id, password)
                .map_err(auth_error)?;
        }
        if let Some(disabled) = body.disabled {
            service
                .set_disabled(&user.id, disabled)
                .map_err(auth_error)?;
        }
        service
            .get_user(&user.id)
            .map_err(auth_error)?
            .ok_or_else(|| user_not_found(&id))
    })
    .await?;
    Ok(Json(user.into()))
}

/// Deletes a user with its bindings and API tokens. A caller cannot delete itself.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/users/{id}",
    tag = "Users",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        (status = 403, description = "USER DELETE not granted here or in another tenant the user is bound in", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
        (status = 409, description = "The caller tried to delete itself", body = ErrorBody),
        NoUsers,
    )
)]
async fn delete_user(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    allowed(&who, &tenant, Permission::User, Action::Delete)?;
    if is_self(&who, &id) {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: "you cannot delete yourself".into(),
        });
    }
    let caller = caller(&who).cloned();
    blocking(gate(&state)?, actor(&who), move |service| {
        let user = user_in_tenant(service, caller.as_ref(), &tenant, &id, Some(Action::Delete))?;
        if service.delete_user(&user.id).map_err(auth_error)? {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(user_not_found(&id))
        }
    })
    .await
}

/// Who the caller is, and the roles it holds in this tenant.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/me",
    tag = "Users",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The caller", body = MeView),
        Unauthorized,
        NoUsers,
    )
)]
async fn me(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
) -> Result<Json<MeView>, ApiError> {
    gate(&state)?;
    let Some(Caller(subject)) = caller(&who) else {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "authentication required".into(),
        });
    };
    let Subject::User(p) = subject.as_ref() else {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "authentication required".into(),
        });
    };
    let bindings = p
        .grants
        .iter()
        .filter(|g| g.tenant == tenant)
        .map(|g| MyBindingView {
            role: g.role.name().to_owned(),
            namespace: g.namespace.clone(),
            permissions: super::roles::permissions_view(g.role.permissions()),
        })
        .collect();
    Ok(Json(MeView {
        user_id: p.user_id.clone(),
        username: p.username.clone(),
        super_admin: p.super_admin,
        tenant,
        bindings,
    }))
}
