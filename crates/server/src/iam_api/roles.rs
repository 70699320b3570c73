//! Roles: a name, a description and Kestra's permission map (bindings, in `bindings`, give
//! them to users).
//!
//! | endpoint | needs |
//! |---|---|
//! | `GET …/roles`, `GET …/roles/{name}` | ROLE READ |
//! | `POST …/roles` | ROLE CREATE |
//! | `PUT …/roles/{name}` | ROLE UPDATE |
//! | `DELETE …/roles/{name}` | ROLE DELETE; refused (409) while bound |
//!
//! `admin` (every permission) is built in and `security.default-role` belongs to the
//! configuration: creating, changing or deleting either answers 409.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use saker_auth::permission::parse_permissions;
use saker_auth::{Action, Permission, Permissions, Role};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::{Fields, actor, allowed, auth_error, blocking, gate};
use crate::doc::{NoUsers, Unauthorized};
use crate::openapi::ApiRouter;
use crate::request::body_rejected;
use crate::routes::MaybeCaller;
use crate::schema::ErrorBody;
use crate::{ApiError, AppState};

pub(super) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
}

/// Kestra's `{"FLOW": ["CREATE", "READ"], ...}`.
pub(super) fn permissions_view(permissions: &Permissions) -> BTreeMap<String, Vec<String>> {
    permissions
        .iter()
        .map(|(p, actions)| {
            (
                p.as_str().to_owned(),
                actions.iter().map(|a| a.as_str().to_owned()).collect(),
            )
        })
        .collect()
}

/// A role of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub name: String,
    pub description: String,
    /// Permission (FLOW, EXECUTION, NAMESPACE, SECRET, AUDITLOG, USER, ROLE, BINDING,
    /// INVITATION, TENANT) to actions (CREATE, READ, UPDATE, DELETE; AUDITLOG: READ only).
    pub permissions: BTreeMap<String, Vec<String>>,
}

impl From<&Role> for RoleView {
    fn from(r: &Role) -> Self {
        RoleView {
            name: r.name().to_owned(),
            description: r.description().to_owned(),
            permissions: permissions_view(r.permissions()),
        }
    }
}

/// A page of roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolePage {
    pub results: Vec<RoleView>,
    pub total: u64,
}

/// The body of `POST …/roles` and `PUT …/roles/{name}`.
#[derive(Debug, ToSchema)]
pub struct RoleBody {
    /// Required to create; on PUT, if given, it must be the path's. 1 to 128 letters,
    /// digits, spaces, `_`, `-`, `.` and `@`, not starting or ending with a space.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9_.@-](?:[A-Za-z0-9 _.@-]*[A-Za-z0-9_.@-])?$"
    )]
    name: Option<String>,
    /// Free text; empty when omitted.
    description: Option<String>,
    /// Permission to actions, e.g. {"FLOW": ["CREATE", "READ"], "SECRET": ["READ"]}.
    #[schema(value_type = BTreeMap<String, Vec<String>>)]
    permissions: Value,
}

const ROLE_EXAMPLE: &str =
    r#"{"name": "developer", "description": "...", "permissions": {"FLOW": ["CREATE", "READ"]}}"#;

impl RoleBody {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut fields = Fields::parse(body, ROLE_EXAMPLE, false)?;
        let parsed = RoleBody {
            name: fields.string("name")?,
            description: fields.string("description")?,
            permissions: fields
                .value("permissions")
                .ok_or_else(|| fields.wrong("permissions", "given"))?,
        };
        fields.done("name, description, permissions")?;
        Ok(parsed)
    }

    /// The role, named `name`.
    fn role(self, name: String) -> Result<Role, ApiError> {
        let permissions = parse_permissions(&self.permissions).map_err(|reason| ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("'permissions' {reason}"),
        })?;
        Role::new(name, self.description.unwrap_or_default(), permissions).map_err(auth_error)
    }
}

fn role_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("role {name} not found"))
}

/// The roles of the tenant.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/roles",
    tag = "Roles",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Roles, by name", body = RolePage),
        Unauthorized,
        (status = 403, description = "ROLE READ not granted on the tenant", body = ErrorBody),
        NoUsers,
    )
)]
async fn list_roles(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
) -> Result<Json<RolePage>, ApiError> {
    allowed(&who, &tenant, Permission::Role, Action::Read)?;
    let roles = blocking(gate(&state)?, actor(&who), move |service| {
        service.list_roles(&tenant).map_err(auth_error)
    })
    .await?;
    let results: Vec<RoleView> = roles.iter().map(RoleView::from).collect();
    Ok(Json(RolePage {
        total: results.len() as u64,
        results,
    }))
}

/// Creates a role.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/roles",
    tag = "Roles",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body(content = RoleBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The new role", body = RoleView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "ROLE CREATE not granted on the tenant", body = ErrorBody),
        (status = 409, description = "A role of that name exists, or the name is admin or the configured default role", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "Invalid name, unknown permission or action", body = ErrorBody),
        NoUsers,
    )
)]
async fn create_role(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RoleView>, ApiError> {
    allowed(&who, &tenant, Permission::Role, Action::Create)?;
    let mut body = RoleBody::parse(&body.map_err(body_rejected)?)?;
    let name = body
        .name
        .take()
        .ok_or_else(|| ApiError::bad_request(format!("'name' is required: {ROLE_EXAMPLE}")))?;
    let role = body.role(name)?;
    let view = RoleView::from(&role);
    blocking(gate(&state)?, actor(&who), move |service| {
        service.create_role(&tenant, &role).map_err(auth_error)
    })
    .await?;
    Ok(Json(view))
}

/// One role.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/roles/{name}",
    tag = "Roles",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("name" = String, Path, description = "Role name"),
    ),
    responses(
        (status = 200, description = "The role", body = RoleView),
        Unauthorized,
        (status = 403, description = "ROLE READ not granted on the tenant", body = ErrorBody),
        (status = 404, description = "No such role in this tenant", body = ErrorBody),
        NoUsers,
    )
)]
async fn get_role(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<Json<RoleView>, ApiError> {
    allowed(&who, &tenant, Permission::Role, Action::Read)?;
    let role = blocking(gate(&state)?, actor(&who), move |service| {
        service
            .get_role(&tenant, &name)
            .map_err(auth_error)?
            .ok_or_else(|| role_not_found(&name))
    })
    .await?;
    Ok(Json(RoleView::from(&role)))
}

/// Replaces a role's description and permissions; its bindings now give the new ones.
#[utoipa::path(
    put,
    path = "/api/v1/{tenant}/roles/{name}",
    tag = "Roles",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("name" = String, Path, description = "Role name"),
    ),
    request_body(content = RoleBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The role as changed", body = RoleView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "ROLE UPDATE not granted on the tenant", body = ErrorBody),
        (status = 404, description = "No such role in this tenant", body = ErrorBody),
        (status = 409, description = "admin or the configured default role", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "The body names another role, or an unknown permission or action", body = ErrorBody),
        NoUsers,
    )
)]
async fn update_role(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, name)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RoleView>, ApiError> {
    allowed(&who, &tenant, Permission::Role, Action::Update)?;
    let mut body = RoleBody::parse(&body.map_err(body_rejected)?)?;
    if body.name.take().is_some_and(|n| n != name) {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!(
                "the body names another role than {name}: a role cannot be renamed; create the \
                 new one and move the bindings"
            ),
        });
    }
    let role = body.role(name)?;
    let view = RoleView::from(&role);
    blocking(gate(&state)?, actor(&who), move |service| {
        service.update_role(&tenant, &role).map_err(auth_error)
    })
    .await?;
    Ok(Json(view))
}

/// Deletes a role nobody is bound to.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/roles/{name}",
    tag = "Roles",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("name" = String, Path, description = "Role name"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        (status = 403, description = "ROLE DELETE not granted on the tenant", body = ErrorBody),
        (status = 404, description = "No such role in this tenant", body = ErrorBody),
        (status = 409, description = "Still bound (delete its bindings first), or admin or the configured default role", body = ErrorBody),
        NoUsers,
    )
)]
async fn delete_role(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    allowed(&who, &tenant, Permission::Role, Action::Delete)?;
    blocking(gate(&state)?, actor(&who), move |service| {
        if service
            .delete_unbound_role(&tenant, &name)
            .map_err(auth_error)?
        {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(role_not_found(&name))
        }
    })
    .await
}
