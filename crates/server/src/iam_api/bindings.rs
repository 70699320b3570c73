//! Bindings: a role given to a user on the tenant, or on a namespace and its children (then
//! only its FLOW, EXECUTION, NAMESPACE and SECRET permissions apply there).
//!
//! | endpoint | needs |
//! |---|---|
//! | `GET …/bindings` | BINDING READ |
//! | `POST …/bindings` | BINDING CREATE |
//! | `DELETE …/bindings/{id}` | BINDING DELETE |

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use saker_auth::{Action, Binding, Permission};
use serde::Serialize;
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
        .routes(routes!(list_bindings, create_binding))
        .routes(routes!(delete_binding))
}

/// A role given to a user on the tenant or on a namespace and its children.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingView {
    pub id: String,
    pub user_id: String,
    /// Null if the user cannot be read any more.
    pub username: Option<String>,
    pub role: String,
    /// Null: the whole tenant.
    pub namespace: Option<String>,
}

impl BindingView {
    fn of(b: Binding, username: Option<String>) -> Self {
        BindingView {
            id: b.id,
            user_id: b.user_id,
            username,
            role: b.role,
            namespace: b.namespace,
        }
    }
}

/// A page of bindings.
#[derive(Debug, Serialize, ToSchema)]
pub struct BindingPage {
    pub results: Vec<BindingView>,
    pub total: u64,
}

/// The body of `POST …/bindings`: the user by id or by name.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct BindingBody {
    /// The user's id; or give `username`.
    user_id: Option<String>,
    /// The user's name; or give `userId`.
    username: Option<String>,
    /// A role of this tenant (`admin` is created when first bound).
    role: String,
    /// Limits the role to this namespace and its children: only FLOW, EXECUTION, NAMESPACE
    /// and SECRET then apply. Omitted or null: the whole tenant.
    #[schema(pattern = r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")]
    namespace: Option<String>,
}

const BINDING_EXAMPLE: &str =
    r#"{"username": "ann", "role": "developer", "namespace": "company.team"}"#;

impl BindingBody {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut fields = Fields::parse(body, BINDING_EXAMPLE, false)?;
        let parsed = BindingBody {
            user_id: fields.string("userId")?,
            username: fields.string("username")?,
            role: fields.required_string("role")?,
            namespace: fields.string("namespace")?,
        };
        fields.done("userId, username, role, namespace")?;
        if parsed.user_id.is_some() == parsed.username.is_some() {
            return Err(ApiError::bad_request(format!(
                "give the user as exactly one of 'userId' and 'username': {BINDING_EXAMPLE}"
            )));
        }
        Ok(parsed)
    }
}

/// The bindings of the tenant.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/bindings",
    tag = "Bindings",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Bindings, by id", body = BindingPage),
        Unauthorized,
        (status = 403, description = "BINDING READ not granted on the tenant", body = ErrorBody),
        NoUsers,
    )
)]
async fn list_bindings(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
) -> Result<Json<BindingPage>, ApiError> {
    allowed(&who, &tenant, Permission::Binding, Action::Read)?;
    let results = blocking(gate(&state)?, actor(&who), move |service| {
        let names: BTreeMap<String, String> = service
            .list_users()
            .map_err(auth_error)?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
        Ok(service
            .list_bindings(&tenant)
            .map_err(auth_error)?
            .into_iter()
            .map(|b| {
                let username = names.get(&b.user_id).cloned();
                BindingView::of(b, username)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(BindingPage {
        total: results.len() as u64,
        results,
    }))
}

/// Gives a user a role on the tenant, or on a namespace and its children.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/bindings",
    tag = "Bindings",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body(content = BindingBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The new binding", body = BindingView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "BINDING CREATE not granted on the tenant", body = ErrorBody),
        (status = 404, description = "No such user, or no such role in this tenant", body = ErrorBody),
        (status = 409, description = "The user already has this role there", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "Invalid namespace", body = ErrorBody),
        NoUsers,
    )
)]
async fn create_binding(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BindingView>, ApiError> {
    allowed(&who, &tenant, Permission::Binding, Action::Create)?;
    let body = BindingBody::parse(&body.map_err(body_rejected)?)?;
    let view = blocking(gate(&state)?, actor(&who), move |service| {
        let user = match (&body.user_id, &body.username) {
            (Some(id), _) => service.get_user(id),
            (None, Some(name)) => service.find_user(name),
            (None, None) => Ok(None),
        }
        .map_err(auth_error)?
        .ok_or_else(|| {
            let who = body.user_id.as_ref().or(body.username.as_ref());
            ApiError::not_found(format!("user {} not found", who.map_or("", |s| s)))
        })?;
        let binding = service
            .bind(&tenant, &user.id, &body.role, body.namespace.as_deref())
            .map_err(auth_error)?;
        Ok(BindingView::of(binding, Some(user.username)))
    })
    .await?;
    Ok(Json(view))
}

/// Removes a binding: the user loses that role there at once. The tenant's last tenant-wide
/// admin binding is refused (409), so no one locks the tenant out of its own management.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/bindings/{id}",
    tag = "Bindings",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Binding id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        (status = 403, description = "BINDING DELETE not granted on the tenant", body = ErrorBody),
        (status = 404, description = "No such binding in this tenant", body = ErrorBody),
        (status = 409, description = "The tenant's last tenant-wide admin binding: bind another admin first", body = ErrorBody),
        NoUsers,
    )
)]
async fn delete_binding(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    allowed(&who, &tenant, Permission::Binding, Action::Delete)?;
    blocking(gate(&state)?, actor(&who), move |service| {
        if service.unbind_in(&tenant, &id).map_err(auth_error)? {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::not_found(format!("binding {id} not found")))
        }
    })
    .await
}
