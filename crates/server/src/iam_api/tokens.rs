//! API tokens of a user: listed (never the token itself), created (the token is in that
//! one response; only its SHA-256 is stored), revoked (refused at once).
//!
//! | endpoint | needs |
//! |---|---|
//! | `GET …/users/{id}/api-tokens` | the user themself, or USER READ |
//! | `POST …/users/{id}/api-tokens`, `DELETE …/api-tokens/{tokenId}` | the user themself, or USER UPDATE (here and in every other tenant the user is bound in) |

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use saker_auth::{Action, AuthError, Permission, TokenInfo};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::users::{is_self, user_in_tenant};
use super::{Fields, actor, allowed, auth_error, blocking, gate};
use crate::doc::{NoUsers, Unauthorized};
use crate::openapi::ApiRouter;
use crate::request::body_rejected;
use crate::routes::{MaybeCaller, caller};
use crate::schema::ErrorBody;
use crate::{ApiError, AppState};

pub(super) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
}

/// An API token, without the token itself.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Null: never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> Self {
        TokenView {
            id: t.id,
            user_id: t.user_id,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
        }
    }
}

/// A page of API tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPage {
    pub results: Vec<TokenView>,
    pub total: u64,
}

/// A new API token, with its text: shown in this response only.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedTokenView {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The token, for `Authorization: Bearer …`. Shown once: only its SHA-256 is stored.
    pub token: String,
}

/// The body of `POST …/api-tokens`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TokenCreateBody {
    /// A name to recognise the token by (1 to 256 characters).
    #[schema(min_length = 1, max_length = 256)]
    name: String,
    /// When it stops working (RFC 3339). At most one of `expiresAt` and `expiresIn`; neither:
    /// never.
    expires_at: Option<DateTime<Utc>>,
    /// How long it works from now, as an ISO-8601 duration such as P30D or PT12H.
    expires_in: Option<String>,
}

const TOKEN_EXAMPLE: &str = r#"{"name": "ci", "expiresIn": "P30D"}"#;

impl TokenCreateBody {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut fields = Fields::parse(body, TOKEN_EXAMPLE, false)?;
        let name = fields.required_string("name")?;
        let expires_at = match fields.string("expiresAt")? {
            None => None,
            Some(text) => Some(
                DateTime::parse_from_rfc3339(&text)
                    .map_err(|_| {
                        ApiError::bad_request(
                            "'expiresAt' must be an RFC 3339 date-time such as \
                             2026-12-31T00:00:00Z",
                        )
                    })?
                    .with_timezone(&Utc),
            ),
        };
        let expires_in = fields.string("expiresIn")?;
        fields.done("name, expiresAt, expiresIn")?;
        if expires_at.is_some() && expires_in.is_some() {
            return Err(ApiError::bad_request(
                "send at most one of 'expiresAt' and 'expiresIn'",
            ));
        }
        Ok(TokenCreateBody {
            name,
            expires_at,
            expires_in,
        })
    }

    /// The expiry, `now` plus `expiresIn` when given that way.
    fn expiry(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiError> {
        match &self.expires_in {
            None => Ok(self.expires_at),
            Some(text) => saker_auth::parse_iso_duration(text)
                .and_then(|span| now.checked_add_signed(span))
                .map(Some)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "'expiresIn' must be a positive ISO-8601 duration such as P30D or PT12H",
                    )
                }),
        }
    }
}

/// A user may manage its own tokens; anyone else needs USER `action` on the tenant (and, to
/// change them, in the user's other tenants). Returns whether the caller is the user.
fn token_access(
    who: &MaybeCaller,
    tenant: &str,
    id: &str,
    action: Action,
) -> Result<bool, ApiError> {
    if is_self(who, id) {
        return Ok(true);
    }
    allowed(who, tenant, Permission::User, action)?;
    Ok(false)
}

/// A user's API tokens (never the tokens themselves).
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/users/{id}/api-tokens",
    tag = "Users",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 200, description = "The tokens, by id", body = TokenPage),
        Unauthorized,
        (status = 403, description = "Not the caller's own tokens, and USER READ not granted on the tenant", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
        NoUsers,
    )
)]
async fn list_tokens(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<TokenPage>, ApiError> {
    let own = token_access(&who, &tenant, &id, Action::Read)?;
    let tokens = blocking(gate(&state)?, actor(&who), move |service| {
        if !own {
            user_in_tenant(service, None, &tenant, &id, None)?;
        }
        service.list_tokens(&id).map_err(auth_error)
    })
    .await?;
    let results: Vec<TokenView> = tokens.into_iter().map(TokenView::from).collect();
    Ok(Json(TokenPage {
        total: results.len() as u64,
        results,
    }))
}

/// Creates an API token for a user. The token is in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/users/{id}/api-tokens",
    tag = "Users",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "User id"),
    ),
    request_body(content = TokenCreateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The token, shown once", body = CreatedTokenView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "Not the caller's own tokens, and USER UPDATE not granted here or in another tenant the user is bound in", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "Invalid name, or an expiry in the past", body = ErrorBody),
        NoUsers,
    )
)]
async fn create_token(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CreatedTokenView>, ApiError> {
    let own = token_access(&who, &tenant, &id, Action::Update)?;
    let body = TokenCreateBody::parse(&body.map_err(body_rejected)?)?;
    let expires_at = body.expiry(Utc::now())?;
    let caller = caller(&who).cloned();
    let (info, secret) = blocking(gate(&state)?, actor(&who), move |service| {
        if !own {
            user_in_tenant(service, caller.as_ref(), &tenant, &id, Some(Action::Update))?;
        }
        service
            .create_token(&id, &body.name, expires_at)
            .map_err(|e| match e {
                AuthError::Expired { .. } => ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    message: "the expiry is in the past".into(),
                },
                other => auth_error(other),
            })
    })
    .await?;
    Ok(Json(CreatedTokenView {
        id: info.id,
        user_id: info.user_id,
        name: info.name,
        created_at: info.created_at,
        expires_at: info.expires_at,
        token: secret.reveal(),
    }))
}

/// Revokes one of a user's API tokens: it stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/users/{id}/api-tokens/{tokenId}",
    tag = "Users",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "User id"),
        ("tokenId" = String, Path, description = "Token id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        Unauthorized,
        (status = 403, description = "Not the caller's own tokens, and USER UPDATE not granted here or in another tenant the user is bound in", body = ErrorBody),
        (status = 404, description = "No such user in this tenant, or no such token of the user", body = ErrorBody),
        NoUsers,
    )
)]
async fn delete_token(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id, token_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let own = token_access(&who, &tenant, &id, Action::Update)?;
    let caller = caller(&who).cloned();
    blocking(gate(&state)?, actor(&who), move |service| {
        if !own {
            user_in_tenant(service, caller.as_ref(), &tenant, &id, Some(Action::Update))?;
        }
        if service
            .revoke_user_token(&id, &token_id)
            .map_err(auth_error)?
        {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::not_found(format!(
                "API token {token_id} of user {id} not found"
            )))
        }
    })
    .await
}
