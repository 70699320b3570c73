//! Invitations: a code, shown once, that lets one person create their user. It expires
//! after `security.invitations.expire-after` (P7D by default) and works once; the new user
//! gets `security.default-role`, as every new user, and the bindings the invitation carries
//! (roles of this tenant, tenant-wide or on a namespace), all in one transaction.
//!
//! | endpoint | needs |
//! |---|---|
//! | `GET …/invitations` | INVITATION READ |
//! | `POST …/invitations` | INVITATION CREATE, and BINDING CREATE when it carries bindings |
//! | `DELETE …/invitations/{id}` | INVITATION DELETE |
//! | `POST …/invitations/{id}/accept` | nothing: the code in the body is the credential |
//!
//! Accepting with a wrong, used or withdrawn code, or one of another invitation or tenant,
//! answers one 404 that does not say which; an expired code answers 410.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use saker_auth::{
    Action, AuthError, Invitation, InvitationBinding, Password, Permission, invitation_id,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::users::UserView;
use super::{Fields, actor, allowed, auth_error, blocking, gate};
use crate::doc::{NoUsers, Unauthorized};
use crate::openapi::ApiRouter;
use crate::request::body_rejected;
use crate::routes::MaybeCaller;
use crate::schema::ErrorBody;
use crate::{ApiError, AppState};

pub(super) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(delete_invitation))
        .routes(routes!(accept_invitation))
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum InvitationStatusView {
    /// Can be accepted.
    Pending,
    /// Used.
    Accepted,
    /// Not used in time.
    Expired,
}

impl From<saker_auth::InvitationStatus> for InvitationStatusView {
    fn from(s: saker_auth::InvitationStatus) -> Self {
        match s {
            saker_auth::InvitationStatus::Pending => InvitationStatusView::Pending,
            saker_auth::InvitationStatus::Accepted => InvitationStatusView::Accepted,
            saker_auth::InvitationStatus::Expired => InvitationStatusView::Expired,
        }
    }
}

/// A role the invited user gets in this tenant on acceptance.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationBindingView {
    /// A role of this tenant.
    pub role: String,
    /// Null: the whole tenant.
    pub namespace: Option<String>,
}

fn binding_views(bindings: Vec<InvitationBinding>) -> Vec<InvitationBindingView> {
    bindings
        .into_iter()
        .map(|b| InvitationBindingView {
            role: b.role,
            namespace: b.namespace,
        })
        .collect()
}

/// An invitation, without its code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub status: InvitationStatusView,
    /// What the invited user gets in this tenant on acceptance, besides the default role.
    pub bindings: Vec<InvitationBindingView>,
}

impl InvitationView {
    fn of(i: Invitation, status: saker_auth::InvitationStatus) -> Self {
        InvitationView {
            id: i.id,
            email: i.email,
            created_at: i.created_at,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
            status: status.into(),
            bindings: binding_views(i.bindings),
        }
    }
}

/// A page of invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationPage {
    pub results: Vec<InvitationView>,
    pub total: u64,
}

/// A new invitation with its code: shown in this response only.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedInvitationView {
    pub id: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// What the invited user gets in this tenant on acceptance, besides the default role.
    pub bindings: Vec<InvitationBindingView>,
    /// The code to send to the invited person, for `POST …/invitations/{id}/accept`. Shown
    /// once: only its SHA-256 is stored.
    pub token: String,
}

/// A role to give the invited user in this tenant on acceptance.
#[allow(dead_code)] // documents the body, which `invitation_bindings` reads by hand
#[derive(Debug, ToSchema)]
pub struct InvitationBindingBody {
    /// A role of this tenant (`admin` is created when first bound).
    role: String,
    /// Limits the role to this namespace and its children: only FLOW, EXECUTION, NAMESPACE
    /// and SECRET then apply. Omitted or null: the whole tenant.
    #[schema(pattern = r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")]
    namespace: Option<String>,
}

/// The body of `POST …/invitations`.
#[allow(dead_code)] // documents the body, which `create_invitation` reads by hand
#[derive(Debug, ToSchema)]
pub struct InvitationBody {
    /// Who is invited; also the default username when they accept.
    #[schema(format = Email, max_length = 320)]
    email: String,
    /// Roles the invited user gets in this tenant on acceptance, besides
    /// `security.default-role`; each role must exist here, none listed twice. Needs BINDING
    /// CREATE on the tenant besides INVITATION CREATE: an inviter hands out only what they
    /// could bind themselves. Omitted, null or empty: none.
    #[schema(max_items = 100)]
    bindings: Option<Vec<InvitationBindingBody>>,
}

const INVITE_EXAMPLE: &str = r#"{"email": "ann@example.com", "bindings": [{"role": "viewer", "namespace": "company.team"}]}"#;

/// The `bindings` of an invitation body: a list of `{"role", "namespace"}` objects.
fn invitation_bindings(fields: &mut Fields) -> Result<Vec<InvitationBinding>, ApiError> {
    let what = "a list of {\"role\": string, \"namespace\": string or null} objects";
    let Some(value) = fields.value("bindings") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(fields.wrong("bindings", what));
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(mut map) = item else {
                return Err(fields.wrong("bindings", what));
            };
            let role = match map.remove("role") {
                Some(Value::String(role)) => role,
                _ => return Err(fields.wrong("bindings", what)),
            };
            let namespace = match map.remove("namespace") {
                None | Some(Value::Null) => None,
                Some(Value::String(ns)) => Some(ns),
                Some(_) => return Err(fields.wrong("bindings", what)),
            };
            crate::request::no_other_fields(&map, "role, namespace (in 'bindings')")?;
            Ok(InvitationBinding { role, namespace })
        })
        .collect()
}

/// The body of `POST …/invitations/{id}/accept`.
#[derive(Debug, ToSchema)]
pub struct AcceptBody {
    /// The invitation code, as created.
    #[schema(value_type = String, format = Password, pattern = r"^sakinv_[0-9a-f]{16}_[0-9a-f]{64}$")]
    token: Password,
    /// The new user's name; the invited email address when omitted.
    username: Option<String>,
    /// The new user's password (checked against `security.basic-auth.password-regexp`).
    #[schema(value_type = String, format = Password)]
    password: Password,
}

const ACCEPT_EXAMPLE: &str = r#"{"token": "sakinv_...", "username": "ann", "password": "..."}"#;

impl AcceptBody {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut fields = Fields::parse(body, ACCEPT_EXAMPLE, false)?;
        let token = fields
            .password("token")?
            .ok_or_else(|| fields.wrong("token", "given, as a string"))?;
        let username = fields.string("username")?;
        let password = fields
            .password("password")?
            .ok_or_else(|| fields.wrong("password", "given, as a string"))?;
        fields.done("token, username, password")?;
        Ok(AcceptBody {
            token,
            username,
            password,
        })
    }
}

fn invitation_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("invitation {id} not found"))
}

/// The invitations of the tenant, every status included.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/invitations",
    tag = "Invitations",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Invitations, by id", body = InvitationPage),
        Unauthorized,
        (status = 403, description = "INVITATION READ not granted on the tenant", body = ErrorBody),
        NoUsers,
    )
)]
async fn list_invitations(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
) -> Result<Json<InvitationPage>, ApiError> {
    allowed(&who, &tenant, Permission::Invitation, Action::Read)?;
    let results = blocking(gate(&state)?, actor(&who), move |service| {
        Ok(service
            .list_invitations(&tenant)
            .map_err(auth_error)?
            .into_iter()
            .map(|i| {
                let status = service.invitation_status(&i);
                InvitationView::of(i, status)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(InvitationPage {
        total: results.len() as u64,
        results,
    }))
}

/// Invites someone to create their user. The code is in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/invitations",
    tag = "Invitations",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body(content = InvitationBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The invitation and its code, shown once", body = CreatedInvitationView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "INVITATION CREATE not granted on the tenant, or BINDING CREATE not granted there for an invitation with bindings", body = ErrorBody),
        (status = 404, description = "A role of `bindings` does not exist in this tenant", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "Not an email address, an invalid namespace, a binding listed twice, or more than 100 bindings", body = ErrorBody),
        NoUsers,
    )
)]
async fn create_invitation(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CreatedInvitationView>, ApiError> {
    allowed(&who, &tenant, Permission::Invitation, Action::Create)?;
    let mut fields = Fields::parse(&body.map_err(body_rejected)?, INVITE_EXAMPLE, false)?;
    let email = fields.required_string("email")?;
    let bindings = invitation_bindings(&mut fields)?;
    fields.done("email, bindings")?;
    if !bindings.is_empty() {
        // An inviter hands out only what they could bind directly.
        allowed(&who, &tenant, Permission::Binding, Action::Create).map_err(|e| {
            if e.status == StatusCode::FORBIDDEN {
                ApiError {
                    status: StatusCode::FORBIDDEN,
                    message: "forbidden: an invitation with bindings also needs BINDING CREATE \
                              on the tenant, which is not granted to you here"
                        .into(),
                }
            } else {
                e
            }
        })?;
    }
    let (invitation, code) = blocking(gate(&state)?, actor(&who), move |service| {
        service
            .invite(&tenant, &email, &bindings)
            .map_err(auth_error)
    })
    .await?;
    Ok(Json(CreatedInvitationView {
        id: invitation.id,
        email: invitation.email,
        created_at: invitation.created_at,
        expires_at: invitation.expires_at,
        bindings: binding_views(invitation.bindings),
        token: code.reveal(),
    }))
}

/// Withdraws an invitation: its code stops working.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/invitations/{id}",
    tag = "Invitations",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Invitation id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        (status = 403, description = "INVITATION DELETE not granted on the tenant", body = ErrorBody),
        (status = 404, description = "No such invitation in this tenant", body = ErrorBody),
        NoUsers,
    )
)]
async fn delete_invitation(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    allowed(&who, &tenant, Permission::Invitation, Action::Delete)?;
    blocking(gate(&state)?, actor(&who), move |service| {
        if service
            .delete_invitation(&tenant, &id)
            .map_err(auth_error)?
        {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(invitation_not_found(&id))
        }
    })
    .await
}

/// Accepts an invitation: creates the user with the code from the invitation. Needs no
/// credentials.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/invitations/{id}/accept",
    tag = "Invitations",
    security(()),
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Invitation id"),
    ),
    request_body(content = AcceptBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The new user", body = UserView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 404, description = "No pending invitation with this id and code in this tenant", body = ErrorBody),
        (status = 409, description = "A user of that name exists, or a role the invitation gives no longer exists in this tenant", body = ErrorBody),
        (status = 410, description = "The invitation has expired", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "Invalid username, or the password does not satisfy the password policy", body = ErrorBody),
        NoUsers,
    )
)]
async fn accept_invitation(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UserView>, ApiError> {
    let body = AcceptBody::parse(&body.map_err(body_rejected)?)?;
    let gate = gate(&state)?;
    if invitation_id(body.token.expose()) != Some(id.as_str()) {
        return Err(invitation_not_found(&id));
    }
    let user = blocking(gate, "invitation".to_owned(), move |service| {
        service
            .accept_invitation(
                &tenant,
                body.token.expose(),
                body.username.as_deref(),
                &body.password,
            )
            .map(|(_, user)| user)
            .map_err(|e| match e {
                AuthError::InvalidCredentials => invitation_not_found(&id),
                other => auth_error(other),
            })
    })
    .await?;
    Ok(Json(user.into()))
}
